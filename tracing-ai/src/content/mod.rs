//! Message content: what was sent to a model and what it answered, off by default.
//!
//! Prompts and answers hold what users typed, and often what they should not have: nothing of
//! them is exported unless the application says so, with the variable other languages'
//! instrumentations read, or with the layer's builder:
//!
//! ```sh
//! OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY   # or EVENT_ONLY, SPAN_AND_EVENT,
//!                                                              # NO_CONTENT, true, false
//! ```
//!
//! ```
//! use tracing_ai::content::ContentCapture;
//! use tracing_ai::AiLayer;
//!
//! let layer = AiLayer::builder()
//!     .with_content_capture(ContentCapture::SpanOnly)
//!     .with_content_redaction(r"\bEMP-\d{6}\b") // the company's employee ids
//!     .with_content_max_bytes(4_096)
//!     .build()?;
//! # Ok::<(), tracing_ai::ConfigError>(())
//! ```
//!
//! When it is on, an `#[ai_span]` call records `gen_ai.input.messages` and
//! `gen_ai.system_instructions` from its `input = ...` argument (anything that implements
//! [`InputContent`]: a list of [`Message`]s, a prompt as text, a client crate's request), and
//! `gen_ai.output.messages` from its return value when it implements [`ReportsContent`]; a
//! `kind = "tool"` call records `gen_ai.tool.call.arguments` from its `arguments = ...`
//! argument and `gen_ai.tool.call.result` from its return value, both through `serde`. The
//! functions of this module record the same by hand on the current span.
//!
//! Each value is JSON text in the conventions' message schema. Before it leaves the process
//! it is redacted (API keys, bearer tokens, credentials in URLs, e-mail addresses, card
//! numbers, then the application's own patterns and callback) and bounded (8 KiB by default:
//! the longest texts are cut first, each marked `…[truncated]`, then the oldest messages; the
//! JSON stays valid, and the span gets `ai.content.truncated = true`).
//!
//! `SPAN_ONLY` writes the values as attributes of the call's span; `EVENT_ONLY` as a
//! `gen_ai.client.inference.operation.details` event on it (one per call, added when the call
//! ends, with its `gen_ai.operation.name`, the input and the output); `SPAN_AND_EVENT` both. Tool arguments and results, for which the conventions
//! define no event, are span attributes in every mode that captures. Content is written
//! straight onto the OpenTelemetry span: other layers (`fmt`, the console) do not see it.

mod bounded;
mod message;

use std::sync::Arc;

use opentelemetry::KeyValue;
use serde_json::Value;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

pub use crate::capture::{
    ContentCapture, ParseCaptureError, CAPTURE_MESSAGE_CONTENT, DEFAULT_MAX_BYTES,
    OPERATION_DETAILS_EVENT,
};
pub(crate) use crate::capture::{ContentSettings, Redactor};
pub(crate) use bounded::TRUNCATED;
pub use message::{InputContent, Message, Part, ReportsContent};

use crate::attr;

/// The content settings of the AI layer `span` is recorded by, when it captures content.
pub(crate) fn settings_of(span: &tracing::Span) -> Option<Arc<ContentSettings>> {
    if !crate::capture::is_ever_on() || span.is_disabled() {
        return None;
    }
    span.with_subscriber(|(_, dispatch)| {
        dispatch
            .downcast_ref::<crate::AiLayer>()
            .and_then(|layer| layer.content_settings().cloned())
    })
    .flatten()
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
    let mut value = message::json_or_text(json);
    redact_leaves(&settings.redactor, &mut value);
    let (text, truncated) = bounded::to_bounded_json(value, settings.max_bytes);
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
        let (text, cut) = bounded::to_bounded_json(value, settings.max_bytes);
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
    if settings.capture.as_event() && !crate::layer::add_to_details_event(span, &attributes) {
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
    fn the_variables_values_in_any_case() {
        for (value, expected) in [
            ("NO_CONTENT", ContentCapture::NoContent),
            ("false", ContentCapture::NoContent),
            ("", ContentCapture::NoContent),
            ("span_only", ContentCapture::SpanOnly),
            ("True", ContentCapture::SpanOnly),
            ("EVENT_ONLY", ContentCapture::EventOnly),
            (" SPAN_AND_EVENT ", ContentCapture::SpanAndEvent),
        ] {
            assert_eq!(value.parse::<ContentCapture>(), Ok(expected), "{value:?}");
        }
        let error = "yes please"
            .parse::<ContentCapture>()
            .expect_err("not a mode");
        assert!(error.to_string().contains("`yes please`"), "{error}");
        assert!(error.to_string().contains("SPAN_ONLY"), "{error}");
    }

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
