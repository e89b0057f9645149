//! Recording per-call facts on AI spans: usage, errors, cache hits and fallbacks.

pub(crate) mod content;

use std::fmt;

use std::sync::OnceLock;
use tracing::field::{Field, Value};
use tracing::span::{Id, Record};

use tracing::{Dispatch, Metadata, Span};
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::attr;
use crate::facts::is_ai_span;
use crate::facts::TokenKind;
use crate::layer::AiSpanExt as _;
use crate::pricing::CostSource;
use crate::usage::{CacheHit, Usage};
use crate::value_set::{opt, record_span, saturating_i64, with_fields, with_value_set};

/// Records that the application's own cache served (or missed) the current AI call.
///
/// The value goes to the innermost enclosing AI span, `ai.cache_hit`: the current span if it
/// is one, else its closest ancestor that is (a span is an AI span when it carries
/// `gen_ai.operation.name`, as every [`#[ai_span]`](crate::ai_span) does). Outside of an AI
/// span, or when that span did not declare `ai.cache_hit`, nothing is recorded.
///
/// ```
/// use tracing_ai::{ai_span, record_cache_hit, CacheHit};
///
/// #[ai_span(kind = "retrieval")]
/// fn retrieve(query: &str) -> Vec<String> {
///     record_cache_hit(CacheHit::Semantic);
///     vec![format!("cached answer for {query}")]
/// }
/// # retrieve("q");
/// ```
///
/// Ancestors are looked up through the [`AiLayer`](crate::AiLayer) of the current subscriber,
/// whatever subscriber it is layered onto; without an `AiLayer`, through a
/// [`tracing_subscriber::Registry`] if the subscriber is built on one, and otherwise only the
/// current span is considered.
pub fn record_cache_hit(hit: CacheHit) {
    record_on_innermost_ai_span([(attr::AI_CACHE_HIT, Some(&hit.as_str() as &dyn Value))]);
}

/// Records that a fallback served the current AI call after `from_model` failed.
///
/// Sets `ai.fallback.used = true` and `ai.fallback.from = from_model` on the innermost enclosing AI
/// span, found as [`record_cache_hit`] finds it.
///
/// ```
/// use tracing_ai::{ai_span, record_fallback, Usage};
///
/// #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
/// fn generate_hosted(prompt: &str) -> Usage {
///     record_fallback("llama-3.1-8b-fp8");
///     Usage::new(prompt.len() as u64, 20)
/// }
/// # generate_hosted("q");
/// ```
pub fn record_fallback(from_model: &str) {
    record_on_innermost_ai_span([
        (attr::AI_FALLBACK_USED, Some(&true as &dyn Value)),
        (attr::AI_FALLBACK_FROM, Some(&from_model as &dyn Value)),
    ]);
}

fn record_on_innermost_ai_span<const N: usize>(entries: [(&str, Option<&dyn Value>); N]) {
    tracing::dispatcher::get_default(|dispatch| {
        if let Some((id, metadata)) = innermost_ai_span(dispatch) {
            let fieldset = metadata.fields();
            with_value_set(metadata, entries, |values| {
                dispatch.record(&id, &Record::new(&fieldset.value_set(values)));
            });
        }
    });
}

/// The current span if it is an AI span, else its closest AI ancestor.
fn innermost_ai_span(dispatch: &Dispatch) -> Option<(Id, &'static Metadata<'static>)> {
    let (id, metadata) = dispatch.current_span().into_inner()?;
    if is_ai_span(metadata) {
        return Some((id, metadata));
    }
    if let Some(found) = crate::layer::innermost_ai_span(dispatch, &id) {
        return found;
    }
    // No AI layer to walk the ancestors through: a registry can still be asked directly.
    let registry = dispatch.downcast_ref::<Registry>()?;
    let span = registry.span(&id)?;
    // The span reference is dropped before anything is recorded: recording dispatches to the
    // layers, which look spans up again.
    let ancestor = span
        .scope()
        .skip(1)
        .find(|span| is_ai_span(span.metadata()))?;
    Some((ancestor.id(), ancestor.metadata()))
}

/// The facts of a [`Usage`] besides its token counts, in the order of [`record_usage`]'s
/// values.
const USAGE_OTHER_FIELDS: [&str; 7] = [
    attr::GEN_AI_RESPONSE_MODEL,
    attr::GEN_AI_RESPONSE_ID,
    attr::OPENAI_RESPONSE_SERVICE_TIER,
    attr::AI_REQUEST_BATCH,
    attr::GEN_AI_USAGE_COST,
    attr::AI_COST_SOURCE,
    attr::AI_CACHE_HIT,
];

/// How many values [`record_usage`] records.
const USAGE_VALUES: usize = TokenKind::COUNT + USAGE_OTHER_FIELDS.len();

/// The names [`record_usage`] writes, in the order of its values: every token count, then the
/// rest.
const USAGE_FIELDS: [&str; USAGE_VALUES] = {
    let mut names = [""; USAGE_VALUES];
    let mut index = 0;
    while index < USAGE_VALUES {
        names[index] = if index < TokenKind::COUNT {
            TokenKind::ALL[index].name()
        } else {
            USAGE_OTHER_FIELDS[index - TokenKind::COUNT]
        };
        index += 1;
    }
    names
};

/// The names [`record_error`] writes, in the order of its values.
const ERROR_FIELDS: [&str; 3] = [
    attr::ERROR_TYPE,
    attr::OTEL_STATUS_CODE,
    attr::OTEL_STATUS_DESCRIPTION,
];

/// The fields an `#[ai_span]` records on return, looked up by name once per callsite rather
/// than on every call: a span declares some thirty fields.
#[derive(Debug)]
pub struct CallsiteFields(OnceLock<Resolved>);

#[derive(Debug)]
struct Resolved {
    metadata: &'static Metadata<'static>,
    usage: [Option<Field>; USAGE_VALUES],
    error: [Option<Field>; 3],
}

impl CallsiteFields {
    /// Nothing resolved yet.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The fields of `metadata`, which must be the callsite's: a span of another callsite
    /// (there is none in an `#[ai_span]`, but nothing is assumed) gets `None`.
    fn resolve(&self, metadata: &'static Metadata<'static>) -> Option<&Resolved> {
        let resolved = self.0.get_or_init(|| {
            let fields = metadata.fields();
            Resolved {
                metadata,
                usage: USAGE_FIELDS.map(|name| fields.field(name)),
                error: ERROR_FIELDS.map(|name| fields.field(name)),
            }
        });
        std::ptr::eq(resolved.metadata, metadata).then_some(resolved)
    }
}

/// Records `usage` on `span`, in one dispatch; `callsite` spares looking its fields up.
pub(crate) fn record_usage(span: &Span, usage: &Usage, callsite: Option<&CallsiteFields>) {
    if span.record_usage_directly(usage) {
        return;
    }
    let tokens = TokenKind::ALL.map(|kind| kind.of_usage(usage).map(saturating_i64));
    let response_model = usage.response_model.as_deref();
    let response_id = usage.response_id.as_deref();
    let service_tier = usage.service_tier.as_deref();
    let batch = usage.batch.then_some(true);
    // A provider's cost that is not a real amount is dropped, and the call priced from tables.
    // Rounded as the layer writes every amount, so that both ways of recording usage export
    // the same number.
    let cost = usage
        .cost
        .filter(|usd| crate::pricing::is_valid_amount(*usd))
        .map(crate::money::round_money);
    let cost_source = cost.map(|_| CostSource::Provider.as_str());
    let cache_hit = usage.cache_hit.map(CacheHit::as_str);
    let others = [
        opt(&response_model),
        opt(&response_id),
        opt(&service_tier),
        opt(&batch),
        opt(&cost),
        opt(&cost_source),
        opt(&cache_hit),
    ];
    let values: [Option<&dyn Value>; USAGE_VALUES] =
        std::array::from_fn(|index| match index.checked_sub(TokenKind::COUNT) {
            None => opt(&tokens[index]),
            Some(other) => others[other],
        });
    record_fields(
        span,
        callsite,
        |resolved| &resolved.usage,
        USAGE_FIELDS,
        values,
    );
}

/// Records a failed call on `span`: its error type, and the error status OpenTelemetry
/// exports, with the error's message when it has one. An `error.type` the function's body
/// recorded itself is kept.
pub(crate) fn record_error(
    span: &Span,
    error_type: &str,
    description: Option<&dyn fmt::Display>,
    callsite: Option<&CallsiteFields>,
) {
    let recording = span.error_recording();
    // Formatted once, on the failure path only, so that no secret in it is exported.
    let description = description
        .filter(|_| recording.describe)
        .map(|description| crate::secrets::redact(&description.to_string()).into_owned());
    let description = description.as_deref().map(tracing::field::display);
    let values = [
        (!recording.type_recorded).then_some(&error_type as &dyn Value),
        Some(&"ERROR"),
        opt(&description),
    ];
    record_fields(
        span,
        callsite,
        |resolved| &resolved.error,
        ERROR_FIELDS,
        values,
    );
}

/// Records `values` on `span` in one dispatch, under the fields `callsite` resolved, or else
/// under `names` looked up now.
fn record_fields<const N: usize>(
    span: &Span,
    callsite: Option<&CallsiteFields>,
    resolved_fields: impl FnOnce(&Resolved) -> &[Option<Field>; N],
    names: [&str; N],
    values: [Option<&dyn Value>; N],
) {
    let Some(metadata) = span.metadata() else {
        return;
    };
    match callsite.and_then(|callsite| callsite.resolve(metadata)) {
        Some(resolved) => {
            let fields = resolved_fields(resolved);
            with_fields(metadata, fields, values, |entries| {
                span.record_all(&metadata.fields().value_set(entries));
            });
        }
        None => record_span::<N>(span, std::array::from_fn(|i| (names[i], values[i]))),
    }
}
