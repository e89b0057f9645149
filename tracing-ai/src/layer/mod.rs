//! `AiLayer`: cost and attribution on every AI span, whoever created it.
//!
//! The route of a call's tokens to an exported cost:
//!
//! 1. [`callsite`]: when a callsite registers, what each of its fields means is decided once
//!    (an AI span declares `gen_ai.operation.name`; attribution keys such as `tenant.id`).
//! 2. [`fields`]: as values are recorded (the `#[ai_span]` expansion records the usage its
//!    function returned), the layer reads them into the span's extensions; [`attribution`]
//!    keeps the ids a span carries.
//! 3. When an AI span closes, the call is priced (`crate::pricing`), its attribution resolved
//!    from its ancestors and the OpenTelemetry baggage, its totals added to its request's local
//!    root ([`rollup`]), and its metrics recorded ([`metrics`]).
//! 4. [`write`] puts cost, source and ids on the span: straight onto the OpenTelemetry span
//!    when composed with it, or as `tracing` fields for every layer. What was settled stays
//!    in the span's extensions (`fields::Settled`) for the console.
//!
//! Writing at close means a tenant id recorded on the request's span after an AI span was
//! created still reaches it, and a self-hosted call can be priced by its duration. It also
//! means the layer must see a span close before the OpenTelemetry layer exports it:
//! [`layer`] and [`AiLayer::with_tracer`] compose the two in that order.

mod access;
mod attribution;
mod builder;
mod call;
mod callsite;
mod carry;
pub(crate) mod fields;
mod metrics;
pub(crate) mod rollup;
mod settle;
mod span_events;
mod watched;
mod write;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::{Context, Layer, Layered};
use tracing_subscriber::registry::LookupSpan;

use crate::budget::{
    Budget, BudgetExceeded, BudgetsHandle, CallScope, LiveBudgets, Passed, Reserved, Reserving,
    Scope, WaitBy,
};
use crate::capture::ContentSettings;
use crate::estimate::Estimator;
pub(crate) use crate::money::round_money;
use crate::pricing::{LivePrices, PriceSources, PricesHandle, Pricing};
use access::{BookStep, SpanAccess};
pub(crate) use attribution::Attribution;
use attribution::AttributionKeys;
pub(crate) use attribution::CleanId;
pub use builder::AiLayerBuilder;
use call::ClosedCall;
use callsite::Callsites;
use fields::{AiSpanData, FieldVisitor};
use metrics::Metrics;
pub use metrics::{MetricConventions, OTEL_SEMCONV_STABILITY_OPT_IN};
use rollup::RequestTotals;
pub(crate) use settle::ReservedBy;
pub use span_events::OpenTelemetrySpans;
use write::Writer;

/// [`AiLayer`] composed with tracing-opentelemetry's layer, in the order that works: the AI
/// layer writes cost and attribution before the OpenTelemetry layer exports the span.
///
/// This is a type alias of tracing-subscriber's `Layered` over tracing-opentelemetry's
/// `OpenTelemetryLayer` (in [`OpenTelemetrySpans`], which decides what becomes of `tracing`
/// events), so those crates' versions are part of this crate's API: this release works with
/// tracing-opentelemetry 0.34 and tracing-subscriber 0.3.
pub type AiOpenTelemetryLayer<S, T> = Layered<OpenTelemetrySpans<S, T>, AiLayer, S>;

/// The default layer: [`AiLayer`] with default settings, composed with tracing-opentelemetry's
/// layer over `tracer`.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_ai::layer(provider.tracer("my-service")));
/// # let _ = subscriber;
/// ```
///
/// Prices come from the genai-prices data bundled with this release, decoded here (about
/// 30 ms). Use [`AiLayer::builder`] to set prices, a reporting currency or attribution keys.
pub fn layer<S, T>(tracer: T) -> AiOpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    AiLayer::new().with_tracer(tracer)
}

/// A [`Layer`] that prices every AI span and attributes it to a tenant, feature and request.
///
/// Use [`layer`] for the usual set-up with OpenTelemetry, or [`AiLayer::builder`] to configure
/// it. On its own, without an OpenTelemetry layer, it still records cost and attribution on the
/// spans that declare those fields (every `#[ai_span]` does), for `fmt` and any other layer.
///
/// It must be added before (under) any layer that should see what it writes:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_ai::AiLayer::new())
///     .with(tracing_subscriber::fmt::layer());
/// # let _ = subscriber;
/// ```
pub struct AiLayer {
    shared: Arc<Shared>,
    dispatch: OnceLock<WeakDispatch>,
    /// Whether what the layer writes also goes out as `tracing` fields; see
    /// [`AiLayerBuilder::with_tracing_fields`].
    tracing_fields: bool,
    /// Set by the builder; otherwise decided by how the layer is composed.
    tracing_fields_set: bool,
    /// Whether tracing-opentelemetry's layer, when this one composes it, exports `tracing`'s
    /// own metadata; see [`AiLayerBuilder::with_span_metadata`].
    span_metadata: bool,
    /// Whether `tracing` events go onto the exported spans when this layer composes
    /// tracing-opentelemetry's; see [`AiLayerBuilder::with_span_events`].
    span_events: bool,
    /// The spans of the subscriber this layer was layered onto, for code outside the `Layer`
    /// impl; set in `on_layer`.
    access: Option<SpanAccess>,
}

struct Shared {
    prices: Arc<LivePrices>,
    keys: AttributionKeys,
    metrics: Option<Metrics>,
    callsites: Callsites,
    /// Whether an error's (redacted) message is exported, or only its type.
    describe_errors: bool,
    /// Models already warned about as unpriced: once per model, not once per call.
    warned: Mutex<HashSet<String>>,
    /// What message content is captured, and how; `None` when none is.
    content: Option<Arc<ContentSettings>>,
    /// Counts the tokens of a call that reported no usage, when the application gave one.
    estimator: Option<Estimator>,
    /// Whether an agent's span was ever created: until then a model call looks for no agent
    /// above it, so that applications without agents pay nothing for their totals.
    agents_seen: AtomicBool,
    /// The budgets calls reserve in and debit, and their ledger.
    budgets: Arc<LiveBudgets>,
    /// The budget scope each attribution key is, by the key's index.
    budget_scopes: Box<[Option<Scope>]>,
    /// The spans with work at close (calls, roots with totals), so the rest are not looked up.
    watched: watched::Watched,
}

impl std::fmt::Debug for AiLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiLayer")
            .field("attribution", &self.shared.keys.exported())
            .finish_non_exhaustive()
    }
}

impl Default for AiLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl AiLayer {
    /// A handle on this layer's prices, to read them again without a restart: see
    /// [`PricesHandle`].
    pub fn prices(&self) -> PricesHandle {
        PricesHandle(self.shared.prices.clone())
    }

    /// A handle on this layer's [budgets](crate::budget), to change them without a restart
    /// and read what a scope spent: see [`BudgetsHandle`].
    pub fn budgets(&self) -> BudgetsHandle {
        BudgetsHandle {
            budgets: self.shared.budgets.clone(),
            reporting: self.shared.prices.now().currencies.reporting_code().into(),
        }
    }

    /// An `AiLayer` with default settings: genai-prices prices, costs in USD, the default
    /// attribution keys.
    pub fn new() -> Self {
        Self::from_parts(
            Arc::new(LivePrices::new(
                Pricing::with_defaults(),
                PriceSources::default(),
            )),
            AttributionKeys::default(),
            None,
            None,
            true,
            None,
            None,
            Arc::new(LiveBudgets::default()),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        prices: Arc<LivePrices>,
        keys: AttributionKeys,
        metrics: Option<Metrics>,
        tracing_fields: Option<bool>,
        describe_errors: bool,
        content: Option<Arc<ContentSettings>>,
        estimator: Option<Estimator>,
        budgets: Arc<LiveBudgets>,
    ) -> Self {
        if estimator.is_some() {
            crate::estimate::set_ever_on();
        }
        let budget_scopes = keys
            .exported()
            .iter()
            .map(|name| Scope::of_attribute(name))
            .collect();
        Self {
            shared: Arc::new(Shared {
                prices,
                keys,
                metrics,
                callsites: Callsites::default(),
                describe_errors,
                warned: Mutex::new(HashSet::new()),
                content,
                estimator,
                agents_seen: AtomicBool::new(false),
                budgets,
                budget_scopes,
                watched: watched::Watched::default(),
            }),
            dispatch: OnceLock::new(),
            tracing_fields: tracing_fields.unwrap_or(true),
            tracing_fields_set: tracing_fields.is_some(),
            span_metadata: false,
            span_events: false,
            access: None,
        }
    }

    /// This layer, under tracing-opentelemetry's: unless the builder said otherwise, what it
    /// writes goes straight onto the OpenTelemetry span.
    pub(crate) fn for_opentelemetry(self) -> Self {
        Self {
            tracing_fields: self.tracing_fields && self.tracing_fields_set,
            ..self
        }
    }

    /// Configures an `AiLayer`.
    pub fn builder() -> AiLayerBuilder {
        AiLayerBuilder::default()
    }

    /// Composes this layer with tracing-opentelemetry's layer over `tracer`, in the order that
    /// lets this layer write before the span is exported.
    ///
    /// tracing-opentelemetry's layer is made without the attributes it adds by default from
    /// `tracing`'s own metadata (`busy_ns`, `idle_ns`, `target`, `code.*`, `thread.*`), which no convention
    /// names; [`AiLayerBuilder::with_span_metadata`] puts them back. `tracing` events are not
    /// put on the spans as span events (an `ERROR` event still marks its span failed);
    /// [`AiLayerBuilder::with_span_events`] puts them back.
    pub fn with_tracer<S, T>(self, tracer: T) -> AiOpenTelemetryLayer<S, T>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        T: opentelemetry::trace::Tracer + 'static,
        T::Span: Send + Sync,
    {
        // What tracing-opentelemetry adds of `tracing`'s metadata is no convention's, and
        // costs every span: off unless the builder asked for it.
        let metadata = self.span_metadata;
        let opentelemetry = OpenTelemetryLayer::new(tracer)
            .with_tracked_inactivity(metadata)
            .with_location(metadata)
            .with_target(metadata)
            .with_threads(metadata);
        let span_events = self.span_events;
        self.for_opentelemetry()
            .and_then(OpenTelemetrySpans::new(opentelemetry, span_events))
    }

    /// What message content this layer captures, when it captures any.
    pub(crate) fn content_settings(&self) -> Option<&Arc<ContentSettings>> {
        self.shared.content.as_ref()
    }

    /// Whether an agent's span was ever created: until then a model call looks for no agent
    /// above it.
    fn agents_seen(&self) -> bool {
        self.shared.agents_seen.load(Ordering::Relaxed)
    }

    /// The dispatcher this layer is part of.
    fn dispatch(&self) -> Option<Dispatch> {
        crate::dispatch::of_layer(&self.dispatch, self)
    }
}

/// Marks each of `ancestors` as active until now: tracing-opentelemetry ends a span at its last
/// exit, so a request span whose handler returned before its stream was drained would end
/// before the stream in the export, while the console (which ends it at its close) showed it
/// lasting as long. An enter and an exit through the whole subscriber is the one way its
/// public API offers; the span stack is as it was after.
fn extend_to_now(dispatch: &Dispatch, ancestors: &[Id]) {
    for ancestor in ancestors {
        dispatch.enter(ancestor);
        dispatch.exit(ancestor);
    }
}

/// How the `#[ai_span]` expansion records a failed call on a span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorRecording {
    /// An `error.type` was already recorded (by the function's own body): it is kept.
    pub(crate) type_recorded: bool,
    /// The error's message is exported (redacted) as `otel.status_description`.
    pub(crate) describe: bool,
}

/// The [`AiLayer`] of `dispatch`, with access to its subscriber's spans.
fn layer_of(dispatch: &Dispatch) -> Option<(&AiLayer, SpanAccess)> {
    let layer = dispatch.downcast_ref::<AiLayer>()?;
    Some((layer, layer.access?))
}

/// How to record a failed call on `span`: known only through an [`AiLayer`]; without one,
/// the message is described (redacted) and no type was recorded.
pub(crate) fn error_recording(span: &tracing::Span) -> ErrorRecording {
    let mut recording = ErrorRecording {
        type_recorded: false,
        describe: true,
    };
    span.with_subscriber(|(id, dispatch)| {
        if let Some((_, access)) = layer_of(dispatch) {
            (access.with_call)(dispatch, id, &mut |data| {
                recording = ErrorRecording {
                    type_recorded: data.fields.error_type.is_some(),
                    describe: data.describe_errors,
                };
            });
        }
    });
    recording
}

/// The closest AI span among span `id` and its ancestors, through the [`AiLayer`] of
/// `dispatch`: `None` without one, `Some(None)` when there is no such span.
pub(crate) fn innermost_ai_span(
    dispatch: &Dispatch,
    id: &Id,
) -> Option<Option<(Id, &'static Metadata<'static>)>> {
    let (_, access) = layer_of(dispatch)?;
    Some((access.innermost_ai_span)(dispatch, id))
}

/// The attribution `span` inherits, nearest value of each exported name first found, as the
/// [`AiLayer`] keeps it; empty without one.
pub(crate) fn attribution_of(span: &tracing::Span) -> Vec<(Arc<str>, Arc<str>)> {
    span.with_subscriber(|(id, dispatch)| match layer_of(dispatch) {
        Some((_, access)) => (access.attribution)(dispatch, id),
        None => Vec::new(),
    })
    .unwrap_or_default()
}

/// Gives `span` the attribution `ids` (exported name, value), for every AI span below it, through
/// its [`AiLayer`]; nothing without one.
pub(crate) fn attribute(span: &tracing::Span, ids: &[(Arc<str>, Arc<str>)]) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some((layer, access)) = layer_of(dispatch) {
            (access.attribute)(dispatch, id, &layer.shared.keys, ids);
        }
    });
}

/// Keeps `attributes` for the layer to write onto the open AI call `span` at close, in the
/// same `set_attributes` as its cost; `false` when `span` is no open AI call of an
/// [`AiLayer`].
pub(crate) fn write_at_close(
    span: &tracing::Span,
    attributes: Vec<opentelemetry::KeyValue>,
    max_output_tokens: Option<u64>,
) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let Some((_, access)) = layer_of(dispatch) else {
            return false;
        };
        let mut attributes = Some(attributes);
        (access.with_call)(dispatch, id, &mut |data| {
            if data.settled.is_none() {
                data.at_close
                    .extend(attributes.take().into_iter().flatten());
                data.max_output_tokens = max_output_tokens;
            }
        });
        attributes.is_none()
    })
    .unwrap_or(false)
}

/// Counts one more attempt of the open AI call `span` is (or is under, as an HTTP client span
/// may be): its number, and the time since the previous attempt ended; `None` when there is
/// no open AI call of an [`AiLayer`] there.
pub(crate) fn begin_attempt(span: &tracing::Span) -> Option<(u32, Option<std::time::Duration>)> {
    span.with_subscriber(|(id, dispatch)| {
        let (_, access) = layer_of(dispatch)?;
        let (call, _) = (access.innermost_ai_span)(dispatch, id)?;
        let mut begun = None;
        (access.with_call)(dispatch, &call, &mut |data| {
            data.attempts = data.attempts.saturating_add(1);
            begun = Some((
                data.attempts,
                data.last_attempt_end.map(|end| end.elapsed()),
            ));
        });
        begun
    })
    .flatten()
}

/// Marks the current attempt of the open AI call `span` is (or is under) ended, now.
pub(crate) fn end_attempt(span: &tracing::Span) {
    span.with_subscriber(|(id, dispatch)| {
        let Some((_, access)) = layer_of(dispatch) else {
            return;
        };
        if let Some((call, _)) = (access.innermost_ai_span)(dispatch, id) {
            (access.with_call)(dispatch, &call, &mut |data| {
                data.last_attempt_end = Some(Instant::now());
            });
        }
    });
}

/// Keeps the text of the open AI call `span`'s input, for an estimate if it ends without
/// usage, when its layer has an estimator; `text` is only called then.
pub(crate) fn keep_for_estimate(span: &tracing::Span, text: impl FnOnce() -> String) {
    span.with_subscriber(|(id, dispatch)| {
        let Some((layer, access)) = layer_of(dispatch) else {
            return;
        };
        if layer.shared.estimator.is_none() {
            return;
        }
        let mut text = Some(text);
        (access.with_call)(dispatch, id, &mut |data| {
            if data.settled.is_none() {
                data.estimate_input = text.take().map(|text| text());
            }
        });
    });
}

/// Starts the reservation of the estimated cost of the open AI call `span` in every budget of
/// its layer that covers it (see [`crate::budget::reserve`]): the span's data is read under its
/// lock, and the store is asked after it is released, so that a slow store never holds a
/// span's lock. `None` when there is nothing to reserve: no layer, no budget, or the call
/// reserved already (a call reserves once).
pub(crate) fn begin_reservation(
    span: &tracing::Span,
    wait: WaitBy,
) -> Option<(Reserving, Option<ReservedBy>)> {
    span.with_subscriber(|(id, dispatch)| {
        let (layer, access) = layer_of(dispatch)?;
        let shared = &layer.shared;
        if !shared.budgets.any() {
            return None;
        }
        // Read only when a call's tokens can be priced, or an estimate converted.
        let mut prices = None;
        let mut ceiling = None;
        let mut scope = CallScope::default();
        let mut booked = false;
        // A service behind a gateway knows its tenant from the trusted baggage: read before
        // the span's data is locked (the OpenTelemetry layer reads its own).
        let baggage = shared
            .keys
            .trusts_baggage()
            .then(|| tracing_opentelemetry::get_otel_context(id, dispatch))
            .flatten();
        (access.book)(dispatch, id, &mut |step| {
            match step {
                BookStep::Plan(data) => {
                    if data.settled.is_some() || data.reservation.is_some() || data.reserving {
                        return false;
                    }
                    // After the spans' own values, which win.
                    if let Some(cx) = &baggage {
                        let baggage = opentelemetry::baggage::BaggageExt::baggage(cx);
                        for (name, index) in shared.keys.trusted_baggage() {
                            let value = baggage
                                .get(name)
                                .and_then(|value| attribution::from_baggage(value.as_str()));
                            if let (Some(Some(scope_of_key)), Some(value)) =
                                (shared.budget_scopes.get(index), value)
                            {
                                scope.set_scope(*scope_of_key, &value);
                            }
                        }
                    }
                    if shared.estimator.is_some() {
                        let prices = prices.get_or_insert_with(|| shared.prices.now());
                        ceiling = layer.cost_ceiling(prices, data);
                    }
                    if let Some(model) = &data.fields.request_model {
                        scope.set_scope(Scope::Model, model);
                    }
                }
                BookStep::Id(index, value) => {
                    if let Some(Some(scope_of_key)) = shared.budget_scopes.get(index) {
                        scope.set_scope(*scope_of_key, value);
                    }
                }
                BookStep::Book(data) => {
                    data.reserving = true;
                    booked = true;
                }
            }
            true
        });
        if !booked {
            return None;
        }
        // The request's own output limit first; else the budget's `per_call`; else all the
        // output the context window leaves room for; never nothing said.
        let mut reserved_by = None;
        let mut estimate = |budget: &Budget| {
            let usd = match (ceiling, budget.per_call_cost()) {
                (Some((usd, ReservedBy::MaxTokens)), _) => {
                    reserved_by = Some(ReservedBy::MaxTokens);
                    usd
                }
                (_, Some(per_call)) => {
                    reserved_by = Some(ReservedBy::PerCall);
                    return per_call;
                }
                (Some((usd, by)), None) => {
                    reserved_by = Some(by);
                    usd
                }
                (None, None) => {
                    reserved_by = Some(ReservedBy::Nothing);
                    return 0.0;
                }
            };
            if budget.currency() == "USD" {
                return usd;
            }
            prices
                .get_or_insert_with(|| shared.prices.now())
                .currencies
                .report(usd)
                .map_or(usd, |(_, amount)| amount)
        };
        let reserving = shared
            .budgets
            .begin_reservation(&scope, &mut estimate, wait);
        Some((reserving, reserved_by))
    })
    .flatten()
}

/// Keeps what the store answered for `span`'s reservation on its data (settled when the call
/// ends), or gives it back at once when the call ended meanwhile; counts the budgets passed or
/// refusing.
pub(crate) fn finish_reservation(
    span: &tracing::Span,
    reserved: Reserved,
    reserved_by: Option<ReservedBy>,
) -> Result<Vec<Passed>, BudgetExceeded> {
    let mut reserved = Some(reserved);
    let finished = span
        .with_subscriber(|(id, dispatch)| {
            let (layer, access) = layer_of(dispatch)?;
            let budgets = &layer.shared.budgets;
            let mut kept = None;
            let outcome = match reserved.take()? {
                Ok((reservation, passed)) => {
                    for passed in &passed {
                        budgets.counted(&passed.over, false);
                    }
                    kept = reservation;
                    Ok(passed)
                }
                Err(refused) => {
                    budgets.counted(&refused, true);
                    Err(refused)
                }
            };
            (access.with_call)(dispatch, id, &mut |data| {
                data.reserving = false;
                if let Some(by) = reserved_by {
                    data.at_close.push(opentelemetry::KeyValue::new(
                        crate::attr::AI_BUDGET_RESERVED_BY,
                        by.as_str(),
                    ));
                }
                if data.settled.is_none() {
                    data.reservation = kept.take();
                }
            });
            // The call ended while its store answered: nothing will settle what it holds.
            if let Some(reservation) = kept {
                reservation.settle(&|_| None, budgets.time());
            }
            Some(outcome)
        })
        .flatten();
    finished.unwrap_or_else(|| {
        reserved.map_or(Ok(Vec::new()), |reserved| {
            reserved.map(|(_, passed)| passed)
        })
    })
}

/// Adds captured content to the one details event of the open AI call `span`, which the
/// layer adds when the call ends, with its operation; `false` when `span` is no open AI call
/// of an [`AiLayer`] (add the event now, then).
pub(crate) fn add_to_details_event(
    span: &tracing::Span,
    attributes: &[opentelemetry::KeyValue],
) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let Some((_, access)) = layer_of(dispatch) else {
            return false;
        };
        let mut added = false;
        (access.with_call)(dispatch, id, &mut |data| {
            if data.settled.is_none() {
                data.details.extend_from_slice(attributes);
                added = true;
            }
        });
        added
    })
    .unwrap_or(false)
}

/// Records `usage` straight into the call's facts, when `span`'s [`AiLayer`] writes onto the
/// OpenTelemetry span rather than as `tracing` fields: no trip through the dispatcher, and
/// the layer writes the usage at close with the cost. `false` when it did not (no such
/// layer, or one that other layers read fields from): record it as fields then.
pub(crate) fn record_usage_directly(span: &tracing::Span, usage: &crate::Usage) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let Some((layer, access)) = layer_of(dispatch) else {
            return false;
        };
        !layer.tracing_fields && (access.with_call)(dispatch, id, &mut |data| data.add_usage(usage))
    })
    .unwrap_or(false)
}

impl<S> Layer<S> for AiLayer
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_layer(&mut self, _: &mut S) {
        self.access = Some(SpanAccess::of::<S>());
    }

    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    /// Decides once what the callsite's fields mean to the layer. The interest is the default
    /// one (this layer filters nothing): every span and event stays enabled for every layer.
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_span() {
            self.shared.callsites.register(metadata, &self.shared.keys);
        }
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let shared = &*self.shared;
        let Some(callsite) = shared.callsites.relevant(attrs.metadata(), &shared.keys) else {
            return;
        };
        let mut visitor = FieldVisitor::new(&callsite, &shared.keys);
        attrs.record(&mut visitor);
        let FieldVisitor {
            call, attribution, ..
        } = visitor;
        let span = ctx.span(id).expect("Span not found, this is a bug");
        let mut extensions = span.extensions_mut();
        // A span whose ids are recorded later gets them in `on_record`.
        if let Some(attribution) = attribution {
            extensions.replace(attribution);
        }
        if callsite.ai {
            if rollup::is_agent(&call) && !shared.agents_seen.load(Ordering::Relaxed) {
                shared.agents_seen.store(true, Ordering::Relaxed);
            }
            let created =
                (shared.prices.needs_duration() || shared.metrics.is_some()).then(Instant::now);
            shared.watched.watch(id);
            extensions.replace(AiSpanData {
                callsite: callsite.clone(),
                created,
                fields: call,
                settled: None,
                describe_errors: shared.describe_errors,
                details: Vec::new(),
                at_close: Vec::new(),
                estimate_input: None,
                attempts: 0,
                last_attempt_end: None,
                max_output_tokens: None,
                reservation: None,
                reserving: false,
                carried: None,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if write::is_writing() {
            // What this layer writes back when a span closes: nothing to read.
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let shared = &*self.shared;
        let known = span
            .extensions()
            .get::<AiSpanData>()
            .map(|data| data.callsite.clone());
        let Some(callsite) =
            known.or_else(|| shared.callsites.relevant(span.metadata(), &shared.keys))
        else {
            return;
        };
        // Visit before locking: the values may format themselves, and call back into tracing.
        let mut visitor = FieldVisitor::new(&callsite, &shared.keys);
        values.record(&mut visitor);
        let mut extensions = span.extensions_mut();
        if let Some(recorded) = visitor.attribution {
            match extensions.get_mut::<Attribution>() {
                Some(attribution) => attribution.update(recorded),
                None => extensions.insert(recorded),
            }
        }
        if let Some(data) = extensions.get_mut::<AiSpanData>() {
            data.fields.update(visitor.call);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Most spans are neither a call nor a root with totals: told without a lookup.
        if !self.shared.watched.may_be_watched(&id) {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        let (is_call, has_totals) = {
            let extensions = span.extensions();
            (
                extensions.get::<AiSpanData>().is_some(),
                extensions.get::<RequestTotals>().is_some(),
            )
        };
        if is_call || has_totals {
            self.shared.watched.closed(&id);
        }
        if !is_call {
            // Not a model call: a request's root that is not one writes its totals.
            if has_totals && span.parent().is_none() {
                let metadata = span.metadata();
                drop(span);
                self.write_totals(&id, metadata, &ctx);
            }
            return;
        }
        let Some((mut call, root)) = ClosedCall::take(self, &span) else {
            return;
        };
        let target = call::write_target(self, &id);
        // One model call, one price: the innermost span with usage carries it.
        let enclosing = call.nearest_call.as_ref().and_then(|id| ctx.span(id));
        call.settled_above = carry::hand_up(enclosing, &call, || {
            match target.as_ref().and_then(|(_, cx)| cx.as_ref()) {
                Some(cx) => {
                    use opentelemetry::trace::TraceContextExt as _;
                    cx.span().span_context().span_id().to_string()
                }
                None => format!("{:016x}", id.into_u64()),
            }
        });
        call.roll_up(self, &span, root.as_ref());
        drop(root);
        if let Some(cx) = target.as_ref().and_then(|(_, cx)| cx.as_ref()) {
            call.fill_from_baggage(self, cx);
        }
        call.count(self);
        call.spend(self);
        // A stream can outlive the handler that returned it (axum drains a body after the
        // handler's future is done): its ancestors must not end before it does.
        let ancestors: Vec<Id> = if call.fields.stream {
            span.scope().skip(1).map(|ancestor| ancestor.id()).collect()
        } else {
            Vec::new()
        };
        let metadata = span.metadata();
        let mut writer = target
            .as_ref()
            .map(|_| Writer::new(metadata, self.tracing_fields));
        let priced = call.store(self, &span, writer.as_mut());
        // Released before writing: writing dispatches to every layer, which look it up.
        drop(span);
        if let (Some(writer), Some((dispatch, otel))) = (writer, &target) {
            writer.finish(&id, dispatch, otel.as_ref());
        }
        if let Some((dispatch, _)) = &target {
            extend_to_now(dispatch, &ancestors);
        }
        self.warn_if_unpriced(&priced, metadata);
    }
}
