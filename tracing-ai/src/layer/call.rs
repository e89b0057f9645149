//! A closed call, passed through plain functions: price, roll up, count, store, write.
//!
//! When an AI span closes, [`ClosedCall::take`] settles what the span recorded where it was
//! recorded, in the span's extensions, locked until the call is stored; every step after it
//! reads the one value it builds. What must lock another span's extensions (its ancestors',
//! looked up upward only, as every walk of the layer does) runs under that lock; what reads
//! this span's own (the walk to the root, the OpenTelemetry span) runs before it. The call is
//! marked settled for the layers over this one (the console) before anything is written: a
//! layer that sees the write sees the settled call.

use std::sync::Arc;
use std::time::Duration;

use tracing::span::Id;
use tracing::Dispatch;
use tracing_subscriber::registry::{ExtensionsMut, LookupSpan, SpanRef};

use super::fields::{AiSpanData, CallFields, Carried, Settled};
use super::ids::{self, Attribution, AttributionKeys, Resolved};
use super::metrics::CallMetrics;
use super::rollup::{self, Addition, AgentTotals, RequestTotals};
use super::write::{Name, Writer, Written};
use super::{settle, AiLayer};
use crate::attr;
use crate::budget::{CallScope, Measure, Scope};
use crate::estimate::Estimate;
use crate::facts::TokenKind;
use crate::pricing::{CostSource, Priced, Pricing};
use crate::value_set::saturating_i64;

/// Everything the layer knows of a call when its span closes.
///
/// The call's facts stay where they were recorded, in its span's extensions, which stay
/// locked while it closes: they are large, and moving them out and back showed in the
/// instructions every call costs.
pub(super) struct ClosedCall<'d> {
    /// The call's data, in its span's extensions.
    data: &'d mut AiSpanData,
    /// From the span's creation to its close, when the clock was read.
    pub(super) duration: Option<Duration>,
    /// The nearest value of each attribution key, from the span, its ancestors and the
    /// trusted baggage.
    pub(super) attribution: Resolved,
    pub(super) priced: Priced,
    /// The prices it was priced with.
    pub(super) prices: Arc<Pricing>,
    /// The usage it was priced by, when it reported none and the layer estimated it.
    pub(super) estimate: Option<Estimate>,
    pub(super) settled: Settled,
    /// The span is its request's local root: it carries the request's totals.
    pub(super) is_root: bool,
    /// Set when model calls nested in this one carry its cost: it is then not priced,
    /// counted, rolled up nor debited (see [`super::carry`]).
    pub(super) carried: Option<Carried>,
    /// The enclosing call carried by this one holds a reservation, which settles with this
    /// call's cost: this call is not debited on its own.
    pub(super) settled_above: bool,
}

impl<'d> ClosedCall<'d> {
    /// Settles the open AI call whose span holds `extensions` (locked until the call is
    /// stored), attributed by `attribution`; `None` for a span that is not an open AI call.
    pub(super) fn take(
        layer: &AiLayer,
        extensions: &'d mut ExtensionsMut<'_>,
        attribution: Resolved,
        is_root: bool,
    ) -> Option<Self> {
        // An agent that named no provider runs on the one its model calls used, when they
        // all used one: the conventions require the provider on its span and metrics.
        let agent_provider = if layer.agents_seen() {
            extensions
                .get_mut::<AgentTotals>()
                .and_then(|totals| totals.single_provider().cloned())
        } else {
            None
        };
        let data = extensions
            .get_mut::<AiSpanData>()
            .filter(|data| data.settled.is_none())?;
        if data.attempts > 0 {
            let attempts = i64::from(data.attempts);
            data.at_close
                .push(opentelemetry::KeyValue::new(attr::AI_ATTEMPTS, attempts));
        }
        if let Some(provider) = agent_provider
            .filter(|_| data.fields.provider.is_none() && rollup::is_agent(&data.fields))
        {
            data.at_close.push(opentelemetry::KeyValue::new(
                attr::GEN_AI_PROVIDER_NAME,
                opentelemetry::StringValue::from(provider.clone()),
            ));
            data.fields.provider = Some(provider);
        }
        let estimate_input = data.estimate_input.take();
        let mut call = Self {
            // Read once: the same duration prices a self-hosted call and goes into the
            // metrics.
            duration: data.created.map(|created| created.elapsed()),
            carried: data.carried.take(),
            data,
            attribution,
            priced: Priced::Nothing,
            // One price table for the whole call, whatever a reload swaps meanwhile.
            prices: layer.shared.prices.now(),
            estimate: None,
            settled: Settled::default(),
            is_root,
            settled_above: false,
        };
        call.price(layer, estimate_input);
        Some(call)
    }

    /// What the call's span recorded.
    pub(super) fn fields(&self) -> &CallFields {
        &self.data.fields
    }

    /// Whether the call holds a reservation in its budgets, not settled yet.
    pub(super) fn has_reservation(&self) -> bool {
        self.data.reservation.is_some()
    }

    /// Prices the call (unless it was refused before it was made, or the calls under it
    /// carry its cost), estimating its usage from `estimate_input` when it reported none.
    fn price(&mut self, layer: &AiLayer, estimate_input: Option<String>) {
        let (prices, fields, duration) = (&self.prices, &mut self.data.fields, self.duration);
        if self.carried.is_some() {
            // Its cost is on the calls that carry it, recorded or priced.
            fields.recorded_cost = None;
        }
        let priced = if crate::budget::refused_before_the_call(fields.error_type.as_deref())
            || self.carried.is_some()
        {
            // Refused before it was made: nothing was billed, nothing is left out. Or carried
            // by the calls under it, which are priced.
            Priced::Nothing
        } else {
            settle::price(prices, fields, duration)
        };
        let (priced, estimate) = match estimate_input.filter(|_| self.carried.is_none()) {
            Some(input) => settle::estimate(layer, prices, priced, fields, duration, &input),
            None => (priced, None),
        };
        self.settled = settle::settle(prices, fields, &priced);
        self.settled.estimated = estimate.as_ref().map(|e| (e.input, e.output));
        if matches!(priced, Priced::Nothing) && self.carried.is_none() {
            self.settled.computed = settle::computed_beside_reported(prices, fields, duration);
        }
        self.priced = priced;
        self.estimate = estimate;
    }

    /// Adds the call to its request's totals (on its local root, whoever's thread the call
    /// ran on) and, when some agent exists, to every agent above it. A call that is its
    /// request's root is added to its own totals when it is stored (its extensions are held).
    pub(super) fn roll_up<'a, R: LookupSpan<'a>>(
        &self,
        layer: &AiLayer,
        span: &SpanRef<'a, R>,
        root: Option<&SpanRef<'a, R>>,
    ) {
        if self.carried.is_some() {
            // The calls that carry it were added.
            return;
        }
        if let Some(root) = root.filter(|_| !self.is_root) {
            let addition = Addition::of(self.fields(), &self.priced);
            rollup::add_to_request(root, &addition, |extensions, totals| {
                layer
                    .shared
                    .watched
                    .hold_totals(&root.id(), extensions, totals);
            });
        }
        if layer.agents_seen() {
            rollup::add_to_agents(span, self.fields(), &self.priced);
        }
    }

    /// Fills what the span and its ancestors left missing from the trusted baggage.
    pub(super) fn fill_from_baggage(&mut self, layer: &AiLayer, cx: &opentelemetry::Context) {
        ids::fill_from_baggage(&layer.shared.keys, &mut self.attribution, cx);
    }

    /// Counts the call in the metrics, when they are on.
    pub(super) fn count(&self, layer: &AiLayer) {
        if self.carried.is_some() {
            // Counted as the calls that carry it.
            return;
        }
        if crate::budget::refused_before_the_call(self.fields().error_type.as_deref()) {
            // Refused before any model was called: a budget event (`ai.budget.calls`), not a
            // failed inference that would skew every error rate of the model's metrics.
            return;
        }
        if let Some(metrics) = &layer.shared.metrics {
            let source = match &self.priced {
                Priced::Cost { source, .. } => *source,
                // A cost recorded by the caller is the provider's.
                _ => CostSource::Provider,
            };
            metrics.record(&CallMetrics {
                fields: self.fields(),
                duration: self.duration,
                cost: self.settled.usd.map(|usd| (usd, source.as_str())),
                computed: self.settled.computed,
                unpriced: self.priced.unpriced_reason(),
                attribution: &self.attribution,
            });
        }
    }

    /// Settles what the call reserved in its budgets with what it cost, or debits the budgets
    /// that cover it when it reserved nothing.
    pub(super) fn spend(&mut self, layer: &AiLayer) {
        let live = &layer.shared.budgets;
        let reservation = self.data.reservation.take();
        let fields = &self.data.fields;
        // A call carried by the calls under it spends what they cost (they were not debited
        // on their own); one whose enclosing call settles with its cost is not debited.
        let (usd, reported) = match &self.carried {
            Some(carried) => (carried.usd, &carried.reported),
            None => (self.settled.usd, &self.settled.reported),
        };
        // A rate limit counts a call without a cost too (its tokens, the request); a refused
        // call was not made.
        if reservation.is_none()
            && (!live.any()
                || crate::budget::refused_before_the_call(fields.error_type.as_deref())
                || (usd.is_none() && !live.any_rate_limit())
                || self.carried.is_some()
                || self.settled_above)
        {
            return;
        }
        let tokens = fields.tokens();
        let cost = |unit: &str| match Measure::of_unit(unit) {
            Measure::Money => match reported {
                Some((code, amount)) if &**code == unit => Some(*amount),
                _ if unit == "USD" => usd,
                _ => None,
            },
            // What the call used: none recorded is none used (a failed call).
            Measure::Tokens => {
                Some(tokens.map_or(0, |t| t.input().saturating_add(t.output())) as f64)
            }
            Measure::InputTokens => Some(tokens.map_or(0, |t| t.input()) as f64),
            Measure::OutputTokens => Some(tokens.map_or(0, |t| t.output()) as f64),
            Measure::Requests => Some(1.0),
            // Given back, nothing spent.
            Measure::InFlight => Some(0.0),
        };
        match reservation {
            Some(reservation) => {
                let state = reservation.settle(&cost, live.time());
                self.settled.budget = state;
                live.room_made();
            }
            None => {
                let mut scope = CallScope::default();
                for (scope_of_key, value) in
                    layer.shared.budget_scopes.iter().zip(&self.attribution)
                {
                    if let (Some(scope_of_key), Some(value)) = (scope_of_key, value) {
                        scope.set_scope(*scope_of_key, value);
                    }
                }
                if let Some(model) = &fields.request_model {
                    scope.set_scope(Scope::Model, model);
                }
                live.debit(&scope, &cost);
            }
        }
    }

    /// Collects what is written on the span of `metadata` (usage, cost, ids), and leaves the
    /// call settled in its extensions, for the layers over this one (the console).
    pub(super) fn store(
        self,
        layer: &AiLayer,
        metadata: &'static tracing::Metadata<'static>,
        writer: Option<&mut Writer>,
    ) -> Stored {
        let data = self.data;
        let fields = &data.fields;
        if let Some(writer) = writer {
            if fields.usage_direct {
                write_usage(fields, writer);
            }
            // Not on a span that declares the old name itself (another instrumentation's).
            let old_name = attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS;
            if layer.shared.previous_names && metadata.fields().field(old_name).is_none() {
                if let Some(written) = fields.tokens.get(TokenKind::CacheWrite) {
                    writer.push(old_name, Written::I64(saturating_i64(written)));
                }
            }
            writer.extend(std::mem::take(&mut data.at_close));
            // The request said it was a batch's; its usage, which writes it, did not.
            if fields.request_batch && !fields.batch {
                writer.push(attr::AI_REQUEST_BATCH, Written::Bool(true));
            }
            if !data.details.is_empty() {
                let operation = fields.operation.clone().unwrap_or_default();
                let mut details = std::mem::take(&mut data.details);
                details.insert(
                    0,
                    opentelemetry::KeyValue::new(attr::GEN_AI_OPERATION_NAME, operation),
                );
                writer.event(crate::content::OPERATION_DETAILS_EVENT, details);
            }
            settle::write_cost(&self.prices, &self.settled, &self.priced, writer);
            if let Some(computed) = self.settled.computed {
                writer.push(attr::AI_COST_COMPUTED, Written::money(computed));
            }
            // What selected the price: the context genai-prices was given, or the variant of
            // the user's price that applied.
            let context = match &self.priced {
                Priced::Cost {
                    source: CostSource::GenaiPrices,
                    ..
                } => fields.served().describe(),
                Priced::Cost {
                    source: CostSource::Override | CostSource::SelfHosted,
                    ..
                } => self
                    .prices
                    .override_context(&settle::call_of(fields, self.duration)),
                _ => None,
            };
            if let Some(context) = context {
                writer.push(attr::AI_COST_PRICE_CONTEXT, Written::Str(context.into()));
            }
            if let Some(carried) = &self.carried {
                writer.push(
                    attr::AI_COST_CARRIED_BY,
                    Written::Str(carried.carriers().into()),
                );
            }
            if let Some(estimate) = &self.estimate {
                let counts = [
                    (attr::AI_USAGE_ESTIMATED_INPUT_TOKENS, estimate.input),
                    (attr::AI_USAGE_ESTIMATED_OUTPUT_TOKENS, estimate.output),
                ];
                for (name, count) in counts {
                    writer.push(name, Written::I64(saturating_i64(count)));
                }
                writer.push(
                    attr::AI_COST_ESTIMATED_BECAUSE,
                    Written::Static(estimate.reason),
                );
            }
            let keys = layer.shared.keys.exported();
            for (name, value) in keys.iter().zip(&self.attribution) {
                if let Some(value) = value {
                    writer.push_named(Name::Shared(name), Written::Str(value.clone()));
                }
            }
        }
        let added_to_own =
            (self.is_root && self.carried.is_none()).then(|| Addition::of(fields, &self.priced));
        data.settled = Some(self.settled);
        Stored {
            priced: self.priced,
            prices: self.prices,
            is_root: self.is_root,
            added_to_own,
        }
    }
}

/// What is left of a call once it is stored: the totals its own span carries.
pub(super) struct Stored {
    pub(super) priced: Priced,
    prices: Arc<Pricing>,
    is_root: bool,
    /// What it adds to its own request's totals, when it is the request's root (and not
    /// carried by the calls under it, which were added).
    added_to_own: Option<Addition>,
}

impl Stored {
    /// Adds the call to its own request's totals when it is the request's root, and writes
    /// the totals its span carries (its request's, an agent's), in `extensions`, its span's.
    pub(super) fn write_own_totals(
        &self,
        layer: &AiLayer,
        id: &Id,
        extensions: &mut ExtensionsMut<'_>,
        writer: Option<&mut Writer>,
    ) {
        if let Some(addition) = &self.added_to_own {
            rollup::add_to_totals(extensions, addition, |extensions, totals| {
                layer.shared.watched.hold_totals(id, extensions, totals);
            });
        }
        let Some(writer) = writer else { return };
        let currencies = &self.prices.currencies;
        if self.is_root {
            if let Some(totals) = extensions.get_mut::<RequestTotals>() {
                totals.write(currencies, writer);
            }
        }
        if let Some(totals) = extensions.get_mut::<AgentTotals>() {
            totals.write(currencies, writer);
        }
    }
}

/// Writes the usage recorded straight into the call, as `record_usage` records it as fields.
fn write_usage(fields: &CallFields, writer: &mut Writer) {
    for kind in TokenKind::ALL {
        if let Some(count) = fields.tokens.get(kind) {
            writer.push(kind.name(), Written::I64(saturating_i64(count)));
        }
    }
    let texts = [
        (attr::GEN_AI_RESPONSE_MODEL, &fields.response_model),
        (attr::GEN_AI_RESPONSE_ID, &fields.response_id),
        (
            attr::OPENAI_RESPONSE_SERVICE_TIER,
            &fields.response_service_tier,
        ),
        (attr::AI_CACHE_HIT, &fields.cache_hit),
    ];
    for (name, text) in texts {
        if let Some(text) = text {
            writer.push(name, Written::Str(text.clone()));
        }
    }
    if fields.batch {
        writer.push(attr::AI_REQUEST_BATCH, Written::Bool(true));
    }
    if let Some(usd) = fields.recorded_cost {
        writer.push(attr::GEN_AI_USAGE_COST, Written::money(usd));
        writer.push(
            attr::AI_COST_SOURCE,
            Written::Static(CostSource::Provider.as_str()),
        );
    }
}

/// The dispatcher to write through and the OpenTelemetry context of span `id`, when the layer
/// is in a dispatcher (and, for the context, composed with OpenTelemetry).
pub(super) fn write_target(
    layer: &AiLayer,
    id: &Id,
) -> Option<(Dispatch, Option<opentelemetry::Context>)> {
    let dispatch = layer.dispatch()?;
    let otel = tracing_opentelemetry::get_otel_context(id, &dispatch);
    Some((dispatch, otel))
}

/// The values `span` and its ancestors carry, nearest first; the local root of the walk
/// (`span` itself when it has no parent); and the nearest ancestor that is an AI call, which
/// may be the same call described twice (see `carry`). One walk, which the close needs anyway.
pub(crate) fn from_ancestors<'a, R>(
    keys: &AttributionKeys,
    span: &tracing_subscriber::registry::SpanRef<'a, R>,
) -> Ancestry<'a, R>
where
    R: tracing_subscriber::registry::LookupSpan<'a>,
{
    let mut resolved: Resolved = vec![None; keys.exported().len()];
    let mut root = None;
    let mut nearest_call = None;
    for ancestor in span.scope() {
        let is_call = {
            let extensions = ancestor.extensions();
            if let Some(values) = extensions.get::<Attribution>() {
                for (index, _, value) in &values.values {
                    resolved[*index].get_or_insert_with(|| value.clone());
                }
            }
            nearest_call.is_none()
                && ancestor.id() != span.id()
                && extensions.get::<AiSpanData>().is_some()
        };
        if is_call {
            nearest_call = Some(ancestor.id());
        }
        root = Some(ancestor);
    }
    Ancestry {
        resolved,
        root,
        nearest_call,
    }
}

/// What a closing call's walk to its root found.
pub(crate) struct Ancestry<'a, R: tracing_subscriber::registry::LookupSpan<'a>> {
    pub(crate) resolved: Resolved,
    pub(crate) root: Option<tracing_subscriber::registry::SpanRef<'a, R>>,
    /// The nearest ancestor with an AI call's data, if any.
    pub(crate) nearest_call: Option<tracing::span::Id>,
}
