//! Reading the fields of AI spans as they are recorded, whoever created the span: the one
//! reader of a call's facts, which pricing, the roll-up, metrics and the console all take
//! from.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::{Field, Visit};

use super::callsite::Callsite;
use super::ids::{Attribution, AttributionKeys};
use crate::clean_id::bounded;
use crate::facts::{RecordedCounts, Slot, TokenCounts, TokenKind};
use crate::usage::Usage;

/// What an AI span has recorded so far, in its extensions; when it closes, what the layer
/// settled is added for the layers over it (the console).
#[derive(Debug)]
pub(crate) struct AiSpanData {
    /// What its fields mean, for the values recorded later.
    pub(crate) callsite: Arc<Callsite>,
    /// Read only when some model is priced by GPU time, or metrics are on: the clock is not
    /// free.
    pub(crate) created: Option<Instant>,
    pub(crate) fields: CallFields,
    /// Set when the span closed.
    pub(crate) settled: Option<Settled>,
    /// The layer's setting, for the `#[ai_span]` expansion when the call fails.
    pub(crate) describe_errors: bool,
    /// The captured content of the call's one `gen_ai.client.inference.operation.details`
    /// event, gathered as it is recorded (input first, output last) and added at close.
    pub(crate) details: Vec<opentelemetry::KeyValue>,
    /// Attributes recorded during the call for the layer to write at close, with the cost
    /// (the request's parameters).
    pub(crate) at_close: Vec<opentelemetry::KeyValue>,
    /// The text of the call's input, kept when the layer has a token estimator, for the
    /// estimate of a call that ends without usage.
    pub(crate) estimate_input: Option<String>,
    /// How many attempts the call made (see `crate::retry`), and when the last one ended.
    pub(crate) attempts: u32,
    pub(crate) last_attempt_end: Option<Instant>,
    /// The most output tokens the request allows (`gen_ai.request.max_tokens`), for what a
    /// budget reserves.
    pub(crate) max_output_tokens: Option<u64>,
    /// What the call holds in its budgets until it settles.
    pub(crate) reservation: Option<crate::budget::Reservation>,
    /// Its reservation was sent to the budget store, which has not answered yet.
    pub(crate) reserving: bool,
    /// The model calls nested in this one that carry its cost, when two spans describe one
    /// call (see [`super::carry`]).
    pub(crate) carried: Option<Carried>,
}

impl AiSpanData {
    /// Takes what `usage` reports, as the field reader would from the fields
    /// `record_usage` records.
    pub(crate) fn add_usage(&mut self, usage: &Usage) {
        let call = &mut self.fields;
        for kind in TokenKind::ALL {
            if let Some(count) = kind.of_usage(usage) {
                call.tokens.set(kind, count);
            }
        }
        if let Some(model) = &usage.response_model {
            call.response_model = Some(self.callsite.name(Slot::ResponseModel, model));
        }
        if let Some(id) = &usage.response_id {
            call.response_id = Some(id.as_str().into());
        }
        if let Some(tier) = &usage.service_tier {
            call.response_service_tier = Some(tier.as_str().into());
        }
        call.batch |= usage.batch;
        // A provider's cost that is not a real amount is dropped, and the call priced from
        // tables, as `record_usage` does.
        if let Some(cost) = usage
            .cost
            .filter(|usd| crate::pricing::is_valid_amount(*usd))
        {
            call.recorded_cost = Some(cost);
        }
        if let Some(hit) = usage.cache_hit {
            call.cache_hit = Some(hit.as_str().into());
        }
        call.usage_direct = true;
    }
}

/// What the layer settled for a call when its span closed.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    /// In USD: priced by the layer, or recorded by the caller.
    pub(crate) usd: Option<f64>,
    /// The cost in the reporting currency, when that is not USD.
    pub(crate) reported: Option<(Arc<str>, f64)>,
    /// No cost could be computed.
    pub(crate) unpriced: bool,
    /// The input and output tokens an estimated cost was priced by.
    pub(crate) estimated: Option<(u64, u64)>,
    /// The most spent of the budgets it reserved in, once it settled there.
    pub(crate) budget: Option<crate::budget::BudgetState>,
    /// Beside a cost the provider reported, what the layer's prices give the call, in USD.
    pub(crate) computed: Option<f64>,
}

/// The facts of one call that pricing, export and metrics need. Texts are shared, so that
/// metrics take them without copying.
#[derive(Debug, Default)]
pub(crate) struct CallFields {
    pub(crate) operation: Option<Cow<'static, str>>,
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) request_model: Option<Arc<str>>,
    pub(crate) response_model: Option<Arc<str>>,
    /// Kept only when the usage was recorded straight into the call ([`AiSpanData::add_usage`]),
    /// for the layer to write at close.
    pub(crate) response_id: Option<Arc<str>>,
    /// The tool a tool call ran, for a price set for its name.
    pub(crate) tool_name: Option<Arc<str>>,
    /// The service tier asked for, and the one that served the call (the response's).
    pub(crate) request_service_tier: Option<Arc<str>>,
    pub(crate) response_service_tier: Option<Arc<str>>,
    /// Made through a provider's Batch API (`ai.request.batch`), as its usage says.
    pub(crate) batch: bool,
    /// Made through a provider's Batch API, as its request parameters say: written at close
    /// unless the usage said it too.
    pub(crate) request_batch: bool,
    /// The other keys of the price context its request parameters gave. Boxed, a pointer
    /// where a `Vec` is three: rarely set, and every call's fields are moved at its close.
    #[allow(clippy::box_collection)]
    pub(crate) price_context: Option<Box<Vec<(String, String)>>>,
    /// The usage was recorded straight into the call, not as fields: the layer writes it.
    pub(crate) usage_direct: bool,
    /// The token counts recorded, by [`TokenKind::index`].
    pub(crate) tokens: RecordedCounts,
    /// A cost someone already recorded (the provider's, through `Usage::with_cost`).
    pub(crate) recorded_cost: Option<f64>,
    pub(crate) failed: bool,
    pub(crate) error_type: Option<Arc<str>>,
    /// The error's message (`otel.status_description`), for the console.
    pub(crate) description: Option<Arc<str>>,
    pub(crate) cache_hit: Option<Arc<str>>,
    pub(crate) fallback: bool,
    pub(crate) fallback_from: Option<Arc<str>>,
    /// `gen_ai.request.stream`.
    pub(crate) stream: bool,
    /// `ai.stream.cancelled`: the stream was dropped before its end.
    pub(crate) cancelled: bool,
    /// Seconds to a streamed call's first chunk.
    pub(crate) time_to_first_chunk: Option<f64>,
    /// How many chunks its stream yielded.
    pub(crate) chunks: Option<u64>,
    /// The server called (`server.address`, `server.port`).
    pub(crate) server_address: Option<Arc<str>>,
    pub(crate) server_port: Option<u64>,
}

impl CallFields {
    /// How the call was served, for its price: the service tier that served it, as the
    /// response says, else the one the request asked for; and whether it was a batch's.
    pub(crate) fn served(&self) -> crate::pricing::ServedAs<'_> {
        crate::pricing::ServedAs {
            service_tier: self
                .response_service_tier
                .as_deref()
                .or(self.request_service_tier.as_deref()),
            batch: self.batch || self.request_batch,
            other: self.price_context.as_deref().map_or(&[], Vec::as_slice),
        }
    }

    /// Takes every value `newer` has; a failure is never forgotten.
    pub(crate) fn update(&mut self, newer: CallFields) {
        let CallFields {
            operation,
            provider,
            request_model,
            response_model,
            response_id,
            tool_name,
            request_service_tier,
            response_service_tier,
            batch,
            request_batch,
            price_context,
            usage_direct,
            tokens,
            recorded_cost,
            failed,
            error_type,
            description,
            cache_hit,
            fallback,
            fallback_from,
            stream,
            cancelled,
            time_to_first_chunk,
            chunks,
            server_address,
            server_port,
        } = newer;
        macro_rules! take {
            ($($field:ident),*) => { $( if $field.is_some() { self.$field = $field; } )* };
        }
        take!(
            operation,
            provider,
            request_model,
            response_model,
            response_id,
            tool_name,
            request_service_tier,
            response_service_tier,
            price_context,
            recorded_cost,
            error_type,
            description,
            cache_hit,
            fallback_from,
            time_to_first_chunk,
            chunks,
            server_address,
            server_port
        );
        self.tokens.update(tokens);
        self.failed |= failed;
        self.usage_direct |= usage_direct;
        self.fallback |= fallback;
        self.batch |= batch;
        self.request_batch |= request_batch;
        self.stream |= stream;
        self.cancelled |= cancelled;
    }

    /// The token counts, when the call recorded usage.
    pub(crate) fn tokens(&self) -> Option<TokenCounts> {
        self.tokens.tokens()
    }
}

/// Visits recorded values into the call's fields and the span's own attribution, by what
/// each field means at its callsite: the one reader of a call's fields.
pub(crate) struct FieldVisitor<'a> {
    callsite: &'a Callsite,
    keys: &'a AttributionKeys,
    pub(crate) call: CallFields,
    pub(crate) attribution: Option<Attribution>,
}

impl<'a> FieldVisitor<'a> {
    pub(crate) fn new(callsite: &'a Callsite, keys: &'a AttributionKeys) -> Self {
        Self {
            callsite,
            keys,
            call: CallFields::default(),
            attribution: None,
        }
    }

    fn text(&mut self, slot: Slot, value: &str) {
        match slot {
            Slot::Provider => self.call.provider = Some(self.callsite.name(slot, value)),
            Slot::RequestModel => self.call.request_model = Some(self.callsite.name(slot, value)),
            Slot::ResponseModel => {
                self.call.response_model = Some(self.callsite.name(slot, value));
            }
            Slot::ToolName => self.call.tool_name = Some(self.callsite.name(slot, value)),
            Slot::RequestServiceTier => self.call.request_service_tier = Some(value.into()),
            Slot::ResponseServiceTier => self.call.response_service_tier = Some(value.into()),
            Slot::Operation => self.call.operation = Some(operation_name(value)),
            Slot::ErrorType => {
                self.call.failed = true;
                self.call.error_type = Some(value.into());
            }
            Slot::StatusCode => self.call.failed |= value.eq_ignore_ascii_case("error"),
            Slot::StatusDescription => self.call.description = Some(value.into()),
            Slot::CacheHit => self.call.cache_hit = Some(value.into()),
            Slot::Fallback => self.call.fallback |= value == "true",
            Slot::Batch => self.call.batch |= value == "true",
            Slot::Stream => self.call.stream |= value == "true",
            Slot::StreamCancelled => self.call.cancelled |= value == "true",
            Slot::FallbackFrom => self.call.fallback_from = Some(value.into()),
            Slot::ServerAddress => self.call.server_address = Some(value.into()),
            Slot::Attribution(index) => self
                .attribution
                .get_or_insert_with(|| Attribution::with_room_for(self.keys))
                .set(index, self.keys.exported()[index].clone(), bounded(value)),
            _ => {}
        }
    }

    fn count(&mut self, slot: Slot, value: u64) {
        let count = match slot {
            Slot::Tokens(kind) => return self.call.tokens.set(kind, value),
            Slot::StreamChunks => &mut self.call.chunks,
            Slot::ServerPort => &mut self.call.server_port,
            Slot::Ignored | Slot::Cost | Slot::TimeToFirstChunk => return,
            // An id recorded as a number (`request.id = 7`): written without a `String`.
            _ => return self.text(slot, decimal(value, &mut [0; 20])),
        };
        *count = Some(value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        let slot = self.callsite.slot(field);
        // A negative count is not a count: it is left out rather than priced.
        match u64::try_from(value) {
            Ok(value) => self.count(slot, value),
            Err(_) if slot.is_count() || slot == Slot::Ignored => {}
            Err(_) => self.text(slot, &value.to_string()),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.count(self.callsite.slot(field), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match self.callsite.slot(field) {
            Slot::Fallback => self.call.fallback |= value,
            Slot::Batch => self.call.batch |= value,
            Slot::Stream => self.call.stream |= value,
            Slot::StreamCancelled => self.call.cancelled |= value,
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match self.callsite.slot(field) {
            Slot::Cost => self.call.recorded_cost = Some(value),
            Slot::TimeToFirstChunk if value.is_finite() && value >= 0.0 => {
                self.call.time_to_first_chunk = Some(value);
            }
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(self.callsite.slot(field), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match self.callsite.slot(field) {
            Slot::Ignored => {}
            slot => self.text(slot, &format!("{value:?}")),
        }
    }
}

/// `value` in decimal, written into `buffer`.
fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).unwrap_or_default()
}

/// The operation names of the GenAI conventions need no copy; others are kept as given.
fn operation_name(value: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 9] = [
        "chat",
        "text_completion",
        "embeddings",
        "retrieval",
        "execute_tool",
        "invoke_agent",
        "invoke_workflow",
        "create_agent",
        "generate_content",
    ];
    match KNOWN.into_iter().find(|known| *known == value) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(value.to_owned()),
    }
}

/// What the model calls nested in an open call carried for it.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    /// The span ids (hex) of the carriers, the first `carry::MAX_CARRIERS` of them.
    pub(crate) by: Vec<String>,
    /// What the carriers that did not settle a reservation of their own cost, in USD and in
    /// the reporting currency: what the enclosing call's reservation settles with.
    pub(crate) usd: Option<f64>,
    pub(crate) reported: Option<(Arc<str>, f64)>,
}

impl Carried {
    /// `ai.cost.carried_by`: the carriers' span ids, comma-separated.
    pub(crate) fn carriers(&self) -> String {
        self.by.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn numbers_are_written_in_decimal() {
        for value in [0, 7, 10, 1_234_567, u64::MAX] {
            assert_eq!(decimal(value, &mut [0; 20]), value.to_string());
        }
    }
}
