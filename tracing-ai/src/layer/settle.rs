//! Settling a closed call: its price, what the layer keeps of it, and what it writes.

use std::sync::PoisonError;
use std::time::Duration;

use tracing::span::Id;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::fields::{AiSpanData, CallFields, Settled};
use super::rollup::RequestTotals;
use super::write::{Writer, Written};
use super::AiLayer;
use crate::attr;
use crate::estimate::Estimate;
use crate::facts::{TokenCounts, TokenKind};
use crate::pricing::{is_valid_amount, Call, CostSource, Priced, Pricing, UnpricedReason};

/// What a budget reservation was estimated from: `ai.budget.reserved_by` on the call's span,
/// so that a reservation far from the call's cost says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReservedBy {
    /// The input's tokens and the request's `max_tokens` of output.
    MaxTokens,
    /// The budget's `per_call` amount: the request set no output limit.
    PerCall,
    /// The input's tokens and all the output the model's context window leaves room for: the
    /// request set no output limit and the budget no `per_call`.
    ContextWindow,
    /// The input's tokens alone: no output limit, no `per_call` and no context window known.
    /// The call can cost more than it reserved by all of its output.
    Input,
    /// Nothing: the input could not be counted (no estimator, no `input = ...`) and the budget
    /// has no `per_call`.
    Nothing,
}

impl ReservedBy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReservedBy::MaxTokens => "max_tokens",
            ReservedBy::PerCall => "per_call",
            ReservedBy::ContextWindow => "context_window",
            ReservedBy::Input => "input",
            ReservedBy::Nothing => "nothing",
        }
    }
}

/// How many unpriced models and callsites are warned about, at most.
const MAX_WARNED: usize = 1_000;

pub(super) fn price(prices: &Pricing, fields: &CallFields, duration: Option<Duration>) -> Priced {
    match fields.recorded_cost {
        // NaN, infinite or negative: not money, and it must not poison the request's sum.
        Some(cost) if !is_valid_amount(cost) => {
            let model = fields
                .response_model
                .as_ref()
                .or(fields.request_model.as_ref());
            return Priced::Unpriced {
                model: model.map(|model| model.to_string()).unwrap_or_default(),
                reason: format!(
                    "the recorded `gen_ai.usage.cost` is {cost}, not an amount of money"
                )
                .into(),
                code: UnpricedReason::NotMoney,
            };
        }
        Some(_) => return Priced::Nothing,
        None => {}
    }
    prices.price(&call_of(fields, duration))
}

/// What `fields` are priced from, the call lasting `duration`.
pub(super) fn call_of(fields: &CallFields, duration: Option<Duration>) -> Call<'_> {
    Call {
        provider: fields.provider.as_deref(),
        request_model: fields.request_model.as_deref(),
        response_model: fields.response_model.as_deref(),
        served: fields.served(),
        tool_name: fields.tool_name.as_deref(),
        tokens: fields.tokens(),
        duration: duration.unwrap_or(Duration::ZERO),
        failed: fields.failed,
        stream: fields.stream,
        cancelled: fields.cancelled,
    }
}

/// The call as priced, in USD and in the reporting currency.
pub(super) fn settle(prices: &Pricing, fields: &CallFields, priced: &Priced) -> Settled {
    let usd = match priced {
        Priced::Cost { usd, .. } => Some(*usd),
        Priced::Unpriced { .. } | Priced::NoUsage { .. } => None,
        // A provider-reported cost was recorded with its source by whoever recorded it.
        Priced::Nothing => fields.recorded_cost,
    };
    let reported = usd
        .and_then(|usd| prices.currencies.report(usd))
        .filter(|(_, amount)| amount.is_finite())
        .map(|(code, amount)| (code.clone(), amount));
    Settled {
        usd,
        reported,
        unpriced: matches!(priced, Priced::Unpriced { .. } | Priced::NoUsage { .. }),
        estimated: None,
        budget: None,
        computed: None,
    }
}

/// What the layer's prices give a call whose provider reported its cost, so that the two can
/// be compared: `None` for any other call, or when the tables cannot price it.
pub(super) fn computed_beside_reported(
    prices: &Pricing,
    fields: &CallFields,
    duration: Option<Duration>,
) -> Option<f64> {
    fields.recorded_cost.filter(|usd| is_valid_amount(*usd))?;
    let computed = prices.price(&call_of(fields, duration));
    match computed {
        Priced::Cost { usd, .. } => Some(usd),
        _ => None,
    }
}

/// The most the open call `data` should cost, in USD, for a budget to reserve, and what
/// its output part was read from: its input's tokens (counted by the layer's estimator)
/// and the request's `max_tokens` of output; without `max_tokens`, the output that fits in
/// the model's context window (from the genai-prices data), which no answer can exceed;
/// without either, the input alone (which a budget's `per_call` replaces). `None` when
/// the input cannot be counted or the model has no token price.
/// The tokens a rate limit reserves for a call before it is made: its input's (counted by
/// the layer's estimator) and the request's `max_tokens` of output (none without it: a rate
/// limit is settled with what the call used, and the context window would refuse every
/// call). `None` when the input cannot be counted.
pub(super) fn token_estimate(layer: &AiLayer, data: &AiSpanData) -> Option<(u64, u64)> {
    let estimator = layer.shared.estimator.as_ref()?;
    let model = data.fields.request_model.as_deref()?;
    let input = estimator
        .0
        .count_tokens(model, data.estimate_input.as_deref()?)?;
    Some((input, data.max_output_tokens.unwrap_or(0)))
}

pub(super) fn cost_ceiling(
    layer: &AiLayer,
    prices: &Pricing,
    data: &AiSpanData,
) -> Option<(f64, ReservedBy)> {
    let estimator = layer.shared.estimator.as_ref()?;
    let fields = &data.fields;
    let model = fields.request_model.as_deref()?;
    let input_tokens = estimator
        .0
        .count_tokens(model, data.estimate_input.as_deref()?)?;
    let (output_tokens, by) = match data.max_output_tokens {
        Some(max) => (max, ReservedBy::MaxTokens),
        None => match prices.context_window(fields.provider.as_deref(), model) {
            Some(window) => (
                window.saturating_sub(input_tokens),
                ReservedBy::ContextWindow,
            ),
            None => (0, ReservedBy::Input),
        },
    };
    match price_tokens(prices, fields, input_tokens, output_tokens, None) {
        Priced::Cost { usd, .. } => Some((usd, by)),
        _ => None,
    }
}

/// Prices `priced`, a call that ended without usage, from the usage the layer's estimator
/// counts in its `input` (and one output token per chunk its stream yielded), when the
/// estimator knows the model. A failed call is left unpriced: most failures are refused
/// before any work, and not billed.
pub(super) fn estimate(
    layer: &AiLayer,
    prices: &Pricing,
    priced: Priced,
    fields: &CallFields,
    duration: Option<Duration>,
    input: &str,
) -> (Priced, Option<Estimate>) {
    let (Priced::NoUsage { reason, code }, Some(estimator)) = (&priced, &layer.shared.estimator)
    else {
        return (priced, None);
    };
    if *code == UnpricedReason::Failed {
        return (priced, None);
    }
    let model = fields
        .request_model
        .as_deref()
        .or(fields.response_model.as_deref());
    let Some(input_tokens) = model.and_then(|model| estimator.0.count_tokens(model, input)) else {
        return (priced, None);
    };
    let output_tokens = fields.chunks.unwrap_or(0);
    let estimated = price_tokens(prices, fields, input_tokens, output_tokens, duration);
    match estimated {
        Priced::Cost { usd, data, .. } => {
            let estimate = Estimate {
                input: input_tokens,
                output: output_tokens,
                reason,
            };
            (
                Priced::Cost {
                    usd,
                    source: CostSource::Estimated,
                    data,
                },
                Some(estimate),
            )
        }
        // A model with no price stays unpriced, for the reason it has.
        _ => (priced, None),
    }
}

pub(super) fn write_cost(
    prices: &Pricing,
    settled: &Settled,
    priced: &Priced,
    writer: &mut Writer,
) {
    match priced {
        Priced::Cost { usd, source, data } => {
            writer.push(attr::GEN_AI_USAGE_COST, Written::money(*usd));
            writer.push(attr::AI_COST_SOURCE, Written::Static(source.as_str()));
            writer.push(attr::AI_COST_PRICES, Written::Str(data.clone()));
        }
        Priced::Unpriced { reason, .. } => {
            writer.push(attr::AI_COST_UNPRICED, Written::Str(reason.clone()));
        }
        Priced::NoUsage { reason, .. } => {
            writer.push(attr::AI_COST_UNPRICED, Written::Static(reason));
        }
        Priced::Nothing => {}
    }
    if let Some((code, amount)) = &settled.reported {
        writer.push(attr::AI_COST_AMOUNT, Written::money(*amount));
        writer.push(attr::AI_COST_CURRENCY, Written::Str(code.clone()));
        // The rate it was converted at, and its day: a finance team checks them later.
        if let Some((per_usd, date)) = prices.currencies.reporting_rate() {
            writer.push(attr::AI_COST_EXCHANGE_RATE, Written::F64(per_usd));
            if let Some(date) = date {
                writer.push(attr::AI_COST_EXCHANGE_RATE_DATE, Written::Str(date.clone()));
            }
        }
    }
}

/// Writes a request's totals on its root, which is not an AI span.
pub(super) fn write_totals<S>(
    layer: &AiLayer,
    id: &Id,
    metadata: &'static Metadata<'static>,
    ctx: &Context<'_, S>,
) where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(dispatch) = layer.dispatch() else {
        return;
    };
    let otel = tracing_opentelemetry::get_otel_context(id, &dispatch);
    let mut writer = Writer::new(metadata, layer.output);
    {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(totals) = extensions.get_mut::<RequestTotals>() else {
            return;
        };
        totals.write(&layer.shared.prices.now().currencies, &mut writer);
    }
    writer.finish(id, &dispatch, otel.as_ref());
}

/// Warns once per model that has no price, and once per callsite whose calls report no
/// usage, with the reason: the first such call, not every one.
pub(super) fn warn_if_unpriced(
    layer: &AiLayer,
    priced: &Priced,
    metadata: &'static Metadata<'static>,
) {
    let (key, what, reason): (String, &str, &str) = match priced {
        Priced::Unpriced { model, reason, .. } => {
            (format!("model {model}"), model.as_str(), reason)
        }
        Priced::NoUsage { reason, .. } => (
            format!("callsite {}::{}", metadata.target(), metadata.name()),
            metadata.name(),
            reason,
        ),
        Priced::Cost { .. } | Priced::Nothing => return,
    };
    let first = {
        let mut warned = layer
            .shared
            .warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Model names can come from requests: past the cap, no more are remembered (nor
        // warned about), so that they cannot grow memory without bound.
        warned.len() < MAX_WARNED && warned.insert(key)
    };
    // Outside any span: a warning about the configuration is no event of the request
    // that happened to meet it first, and must not be exported in its trace.
    if first {
        match priced {
            // The conventions' names for the fields, or none: exported as logs
            // (`ExportBuilder::with_logs`), they are checked as any attribute is.
            Priced::NoUsage { .. } => tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "calls of span {what} are exported without a cost: {reason}"
            ),
            _ => tracing::event!(
                target: "tracing_ai",
                parent: None,
                tracing::Level::WARN,
                { attr::GEN_AI_REQUEST_MODEL } = tracing::field::display(&what),
                "calls to this model are exported without a cost: {reason}"
            ),
        }
    }
}

/// What `input` and `output` tokens of the call `fields` cost, priced as its usage would be.
fn price_tokens(
    prices: &Pricing,
    fields: &CallFields,
    input: u64,
    output: u64,
    duration: Option<Duration>,
) -> Priced {
    let mut counts = TokenCounts::default();
    counts.0[TokenKind::Input.index()] = input;
    counts.0[TokenKind::Output.index()] = output;
    prices.price(&Call {
        tokens: Some(counts),
        failed: false,
        cancelled: false,
        ..call_of(fields, duration)
    })
}
