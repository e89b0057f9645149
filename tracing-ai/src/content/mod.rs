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
mod redaction;
mod settings;

pub(crate) use bounded::{to_bounded_json, TRUNCATED};
pub(crate) use message::json_or_text;
pub use message::{InputContent, Message, Part, ReportsContent};
pub(crate) use redaction::Redactor;
pub(crate) use settings::{is_ever_on, ContentSettings};
pub use settings::{
    ContentCapture, ParseCaptureError, CAPTURE_MESSAGE_CONTENT, DEFAULT_MAX_BYTES,
    OPERATION_DETAILS_EVENT,
};

pub use crate::record::content::{
    is_captured, record_input_messages, record_output_messages, record_system_instructions,
    record_tool_call_arguments, record_tool_call_result,
};
