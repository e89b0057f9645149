//! `AiLayer`: cost and attribution on every AI span, whoever created it.
//!
//! The route of a call's tokens to an exported cost:
//!
//! 1. [`callsite`]: when a callsite registers, what each of its fields means is decided once
//!    (an AI span declares `gen_ai.operation.name`; attribution keys such as `tenant.id`).
//! 2. [`fields`]: as values are recorded (the `#[ai_span]` expansion records the usage its
//!    function returned), the layer reads them into the span's extensions; [`ids`]
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
mod builder;
mod call;
mod callsite;
mod carry;
pub(crate) mod fields;
mod ids;
mod metrics;
pub(crate) mod rollup;
mod settle;
mod span_events;
mod span_ext;
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

use crate::budget::{BudgetsHandle, LiveBudgets, Scope};
use crate::content::ContentSettings;
use crate::estimate::Estimator;
use crate::pricing::{LivePrices, PriceSources, PricesHandle, Pricing};
use access::SpanAccess;
pub use builder::AiLayerBuilder;
use call::ClosedCall;
use callsite::Callsites;
use fields::{AiSpanData, FieldVisitor};
pub(crate) use ids::Attribution;
use ids::AttributionKeys;
use metrics::Metrics;
pub use metrics::{MetricConventions, OTEL_SEMCONV_STABILITY_OPT_IN};
pub use span_events::OpenTelemetrySpans;
pub(crate) use span_ext::{innermost_ai_span, AiSpanExt};
use write::{Output, Writer};

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
    /// Where what the layer settles is written; see [`Output`].
    output: Output,
    /// What the builder asked for ([`AiLayerBuilder::with_tracing_fields`]), which decides
    /// the output again when the layer is composed.
    fields_asked: Option<bool>,
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
    /// Whether the previous conventions' span names are written beside the current ones
    /// (`gen_ai.usage.cache_creation.input_tokens`), as the metrics' opt-in asks.
    previous_names: bool,
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
            MetricConventions::from_env(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        prices: Arc<LivePrices>,
        keys: AttributionKeys,
        metrics: Option<Metrics>,
        fields_asked: Option<bool>,
        describe_errors: bool,
        content: Option<Arc<ContentSettings>>,
        estimator: Option<Estimator>,
        budgets: Arc<LiveBudgets>,
        conventions: MetricConventions,
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
                previous_names: conventions.previous(),
            }),
            dispatch: OnceLock::new(),
            output: Output::alone(fields_asked),
            fields_asked,
            span_metadata: false,
            span_events: false,
            access: None,
        }
    }

    /// This layer, under tracing-opentelemetry's: unless the builder said otherwise, what it
    /// writes goes straight onto the OpenTelemetry span.
    pub(crate) fn for_opentelemetry(self) -> Self {
        Self {
            output: Output::composed(self.fields_asked),
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
    /// Whether usage, cost and ids go straight onto the OpenTelemetry span (composed with it,
    /// and not asked for `tracing` fields): an `#[ai_span]` span then declares fewer fields.
    pub(crate) fn writes_directly(&self) -> bool {
        self.output == Output::OpenTelemetry
    }

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
        let span = ctx.span(id).expect("Span not found, this is a bug");
        let mut extensions = span.extensions_mut();
        // A span whose ids are recorded later gets them in `on_record`.
        if let Some(attribution) = visitor.attribution.take() {
            extensions.replace(attribution);
        }
        if callsite.ai {
            if rollup::is_agent(&visitor.call) && !shared.agents_seen.load(Ordering::Relaxed) {
                shared.agents_seen.store(true, Ordering::Relaxed);
            }
            let created =
                (shared.prices.needs_duration() || shared.metrics.is_some()).then(Instant::now);
            let data = AiSpanData {
                callsite: callsite.clone(),
                created,
                fields: visitor.call,
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
            };
            shared.watched.hold_call(id, &mut extensions, data);
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
        let (is_call, has_totals) = self.shared.watched.close(&id, &span.extensions());
        if !is_call {
            // Not a model call: a request's root that is not one writes its totals.
            if has_totals && span.parent().is_none() {
                let metadata = span.metadata();
                drop(span);
                settle::write_totals(self, &id, metadata, &ctx);
            }
            return;
        }
        // Nearest value wins: the span's own, then its parent's, up to the root. Walked, and
        // the OpenTelemetry span looked up, before the span's extensions are locked below:
        // both read them.
        let ancestry = call::from_ancestors(&self.shared.keys, &span);
        let is_root = ancestry
            .root
            .as_ref()
            .is_none_or(|root| root.id() == span.id());
        let target = call::write_target(self, &id);
        let metadata = span.metadata();
        let mut writer = target.as_ref().map(|_| Writer::new(metadata, self.output));
        let mut ancestors = Vec::new();
        let stored = {
            let mut extensions = span.extensions_mut();
            let Some(mut call) =
                ClosedCall::take(self, &mut extensions, ancestry.resolved, is_root)
            else {
                return;
            };
            // One model call, one price: the innermost span with usage carries it.
            let enclosing = ancestry.nearest_call.as_ref().and_then(|id| ctx.span(id));
            call.settled_above = carry::hand_up(enclosing, &call, || {
                match target.as_ref().and_then(|(_, cx)| cx.as_ref()) {
                    Some(cx) => {
                        use opentelemetry::trace::TraceContextExt as _;
                        cx.span().span_context().span_id().to_string()
                    }
                    None => format!("{:016x}", id.into_u64()),
                }
            });
            call.roll_up(self, &span, ancestry.root.as_ref());
            if let Some(cx) = target.as_ref().and_then(|(_, cx)| cx.as_ref()) {
                call.fill_from_baggage(self, cx);
            }
            call.count(self);
            call.spend(self);
            // A stream can outlive the handler that returned it (axum drains a body after the
            // handler's future is done): its ancestors must not end before it does.
            if call.fields().stream {
                ancestors = span.scope().skip(1).map(|ancestor| ancestor.id()).collect();
            }
            let stored = call.store(self, metadata, writer.as_mut());
            stored.write_own_totals(self, &id, &mut extensions, writer.as_mut());
            stored
        };
        drop(ancestry.root);
        // Released before writing: writing dispatches to every layer, which look it up.
        drop(span);
        if let (Some(writer), Some((dispatch, otel))) = (writer, &target) {
            writer.finish(&id, dispatch, otel.as_ref());
        }
        if let Some((dispatch, _)) = &target {
            extend_to_now(dispatch, &ancestors);
        }
        let priced = stored.priced;
        settle::warn_if_unpriced(self, &priced, metadata);
    }
}
