//! Reading the fields of AI spans as they are recorded, whoever created the span.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::{Field, Visit};

use super::attribution::{Attribution, AttributionKeys};
use crate::attr;
use crate::pricing::TokenCounts;

/// What an AI span has recorded so far, kept in its extensions until it closes.
#[derive(Debug)]
pub(crate) struct AiSpanData {
    /// Read only when some model is priced by GPU time, or metrics are on: the clock is not
    /// free.
    pub(crate) created: Option<Instant>,
    pub(crate) fields: CallFields,
}

/// The facts of one call that pricing, export and metrics need. Texts are shared, so that
/// metrics take them without copying.
#[derive(Debug, Default)]
pub(crate) struct CallFields {
    pub(crate) operation: Option<Cow<'static, str>>,
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) request_model: Option<Arc<str>>,
    pub(crate) response_model: Option<Arc<str>>,
    pub(crate) input: Option<u64>,
    pub(crate) output: Option<u64>,
    pub(crate) cache_read: Option<u64>,
    pub(crate) cache_write: Option<u64>,
    pub(crate) reasoning: Option<u64>,
    /// A cost someone already recorded (the provider's, through `Usage::with_cost`).
    pub(crate) recorded_cost: Option<f64>,
    pub(crate) failed: bool,
    pub(crate) error_type: Option<Arc<str>>,
}

impl CallFields {
    /// Takes every value `newer` has; a failure is never forgotten.
    pub(crate) fn update(&mut self, newer: CallFields) {
        let CallFields {
            operation,
            provider,
            request_model,
            response_model,
            input,
            output,
            cache_read,
            cache_write,
            reasoning,
            recorded_cost,
            failed,
            error_type,
        } = newer;
        macro_rules! take {
            ($($field:ident),*) => { $( if $field.is_some() { self.$field = $field; } )* };
        }
        take!(
            operation,
            provider,
            request_model,
            response_model,
            input,
            output,
            cache_read,
            cache_write,
            reasoning,
            recorded_cost,
            error_type
        );
        self.failed |= failed;
    }

    /// The token counts, when the call recorded usage.
    pub(crate) fn tokens(&self) -> Option<TokenCounts> {
        if self.input.is_none() && self.output.is_none() {
            return None;
        }
        Some(TokenCounts {
            input: self.input.unwrap_or(0),
            output: self.output.unwrap_or(0),
            cache_read: self.cache_read.unwrap_or(0),
            cache_write: self.cache_write.unwrap_or(0),
            reasoning: self.reasoning.unwrap_or(0),
        })
    }
}

/// Visits recorded values into the call's fields and the span's own attribution.
pub(crate) struct FieldVisitor<'a> {
    pub(crate) keys: &'a AttributionKeys,
    pub(crate) call: CallFields,
    pub(crate) attribution: Option<Attribution>,
}

impl<'a> FieldVisitor<'a> {
    pub(crate) fn new(keys: &'a AttributionKeys) -> Self {
        Self {
            keys,
            call: CallFields::default(),
            attribution: None,
        }
    }

    fn text(&mut self, field: &Field, value: &str) {
        match field.name() {
            attr::GEN_AI_PROVIDER_NAME => self.call.provider = Some(value.into()),
            attr::GEN_AI_REQUEST_MODEL => self.call.request_model = Some(value.into()),
            attr::GEN_AI_RESPONSE_MODEL => self.call.response_model = Some(value.into()),
            attr::GEN_AI_OPERATION_NAME => self.call.operation = Some(operation_name(value)),
            attr::ERROR_TYPE => {
                self.call.failed = true;
                self.call.error_type = Some(value.into());
            }
            attr::OTEL_STATUS_CODE => self.call.failed |= value.eq_ignore_ascii_case("error"),
            name => {
                if let Some(index) = self.keys.index_of(name) {
                    self.attribution
                        .get_or_insert_with(Attribution::default)
                        .set(index, value.into());
                }
            }
        }
    }

    fn count(&mut self, field: &Field, value: u64) {
        let slot = match field.name() {
            attr::GEN_AI_USAGE_INPUT_TOKENS => &mut self.call.input,
            attr::GEN_AI_USAGE_OUTPUT_TOKENS => &mut self.call.output,
            attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS => &mut self.call.cache_read,
            attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS => &mut self.call.cache_write,
            attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS => &mut self.call.reasoning,
            _ => return self.text(field, &value.to_string()),
        };
        *slot = Some(value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        // A negative count is not a count: it is left out rather than priced.
        match u64::try_from(value) {
            Ok(value) => self.count(field, value),
            Err(_) if is_count(field) => {}
            Err(_) => self.text(field, &value.to_string()),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.count(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == attr::GEN_AI_USAGE_COST {
            self.call.recorded_cost = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name.starts_with("gen_ai.")
            || name == attr::ERROR_TYPE
            || name == attr::OTEL_STATUS_CODE
            || self.keys.index_of(name).is_some()
        {
            self.text(field, &format!("{value:?}"));
        }
    }
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

fn is_count(field: &Field) -> bool {
    field.name().starts_with("gen_ai.usage.")
}
