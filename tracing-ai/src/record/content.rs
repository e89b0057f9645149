//! Message content recorded on a call's span: redacted, bounded, and written where the
//! layer's capture mode says (see [`crate::content`]).

use std::sync::Arc;

use opentelemetry::KeyValue;
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::attr;
use crate::content::{
    to_bounded_json, ContentSettings, Message, Part, Redactor, OPERATION_DETAILS_EVENT,
};
use crate::layer::AiSpanExt as _;

/// The content settings of the AI layer `span` is recorded by, when it captures content.
pub(crate) fn settings_of(span: &tracing::Span) -> Option<Arc<ContentSettings>> {
    if !crate::content::is_ever_on() || span.is_disabled() {
        return None;
    }
    span.content_settings()
}

/// Whether content recorded on the current span would be exported: build messages only
/// when it is.
///
/// ```
/// use tracing_ai::content::{self, Message};
///
/// if content::is_captured() {
///     content::record_input_messages(&[Message::user("What is the capital of France?")]);
/// }
/// ```
pub fn is_captured() -> bool {
    settings_of(&tracing::Span::current()).is_some()
}

/// Records the messages sent to the model (`gen_ai.input.messages`) on the current span.
pub fn record_input_messages(messages: &[Message]) {
    let span = tracing::Span::current();
    if let Some(settings) = settings_of(&span) {
        record_input(&settings, &span, messages);
    }
}

/// Records the instructions sent apart from the messages (`gen_ai.system_instructions`) on
/// the current span.
pub fn record_system_instructions(parts: &[Part]) {
    let span = tracing::Span::current();
    if let Some(settings) = settings_of(&span) {
        record_instructions(&settings, &span, parts);
    }
}

/// Records the messages the model returned (`gen_ai.output.messages`) on the current span.
pub fn record_output_messages(messages: &[Message]) {
    let span = tracing::Span::current();
    if let Some(settings) = settings_of(&span) {
        record_output(&settings, &span, messages);
    }
}

/// Records a tool call's arguments, as JSON text, on the current span
/// (`gen_ai.tool.call.arguments`).
pub fn record_tool_call_arguments(json: &str) {
    let span = tracing::Span::current();
    if let Some(settings) = settings_of(&span) {
        record_tool_json(&settings, &span, attr::GEN_AI_TOOL_CALL_ARGUMENTS, json);
    }
}

/// Records a tool call's result, as JSON text, on the current span
/// (`gen_ai.tool.call.result`).
pub fn record_tool_call_result(json: &str) {
    let span = tracing::Span::current();
    if let Some(settings) = settings_of(&span) {
        record_tool_json(&settings, &span, attr::GEN_AI_TOOL_CALL_RESULT, json);
    }
}

pub(crate) fn record_input(settings: &ContentSettings, span: &tracing::Span, messages: &[Message]) {
    let value = Value::Array(messages.iter().map(|m| m.to_json(false)).collect());
    write(settings, span, &[(attr::GEN_AI_INPUT_MESSAGES, value)]);
}

pub(crate) fn record_instructions(
    settings: &ContentSettings,
    span: &tracing::Span,
    parts: &[Part],
) {
    if parts.is_empty() {
        return;
    }
    let value = Value::Array(parts.iter().map(Part::to_json).collect());
    write(settings, span, &[(attr::GEN_AI_SYSTEM_INSTRUCTIONS, value)]);
}

pub(crate) fn record_output(
    settings: &ContentSettings,
    span: &tracing::Span,
    messages: &[Message],
) {
    let value = Value::Array(messages.iter().map(|m| m.to_json(true)).collect());
    write(settings, span, &[(attr::GEN_AI_OUTPUT_MESSAGES, value)]);
}

pub(crate) fn record_tool_json(
    settings: &ContentSettings,
    span: &tracing::Span,
    name: &'static str,
    json: &str,
) {
    let mut value = crate::content::json_or_text(json);
    redact_leaves(&settings.redactor, &mut value);
    let (text, truncated) = to_bounded_json(value, settings.max_bytes);
    span.set_attribute(name, text);
    if truncated {
        span.set_attribute(attr::AI_CONTENT_TRUNCATED, true);
    }
}

/// Redacts, bounds and writes `values` where the mode says.
fn write(settings: &ContentSettings, span: &tracing::Span, values: &[(&'static str, Value)]) {
    let mut attributes = Vec::with_capacity(values.len());
    let mut truncated = false;
    for (name, value) in values {
        let mut value = value.clone();
        redact_leaves(&settings.redactor, &mut value);
        let (text, cut) = to_bounded_json(value, settings.max_bytes);
        truncated |= cut;
        attributes.push(KeyValue::new(*name, text));
    }
    if truncated {
        span.set_attribute(attr::AI_CONTENT_TRUNCATED, true);
    }
    if settings.capture.on_span() {
        for attribute in &attributes {
            span.set_attribute(attribute.key.clone(), attribute.value.clone());
        }
    }
    // One event per call, added when it ends with its operation, as the conventions define
    // it; a span that is no AI call of the layer gets its event now.
    if settings.capture.as_event() && !span.add_to_details_event(&attributes) {
        span.add_event(OPERATION_DETAILS_EVENT, attributes);
    }
}

/// Redacts every text of `value` but the structural ones (a part's type, a message's role,
/// a finish reason, an id).
fn redact_leaves(redactor: &Redactor, value: &mut Value) {
    match value {
        Value::String(text) => redactor.redact(text),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_leaves(redactor, item)),
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if !matches!(key.as_str(), "type" | "role" | "finish_reason" | "id") {
                    redact_leaves(redactor, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_texts_are_not_redacted_the_content_is() {
        let mut value = serde_json::json!([{
            "role": "user",
            "parts": [{"type": "text", "content": "mail me at a.b@example.com"}],
        }]);
        redact_leaves(&Redactor::default(), &mut value);
        assert_eq!(value[0]["role"], "user");
        assert_eq!(value[0]["parts"][0]["type"], "text");
        assert_eq!(value[0]["parts"][0]["content"], "mail me at [REDACTED]");
    }
}
