//! What a layer captures of message content, and how: the mode, the redaction, the size cap.
//!
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Redactor;

use crate::error::ConfigError;

/// The variable that turns capture on: `NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`,
/// `SPAN_AND_EVENT`, or `true` (`SPAN_ONLY`) / `false`; any case.
pub const CAPTURE_MESSAGE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// The name of the event that carries content in the event modes.
pub const OPERATION_DETAILS_EVENT: &str = "gen_ai.client.inference.operation.details";

/// The default size cap of one captured value, in bytes: the export's default limit of an
/// attribute value, past which the export queue would cut the JSON.
pub const DEFAULT_MAX_BYTES: usize = crate::value_set::DEFAULT_VALUE_BYTES;

/// Set once any layer captures content: until then a call does not even look for settings.
static CAPTURE_EVER_ON: AtomicBool = AtomicBool::new(false);

/// Whether, and where, message content is captured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentCapture {
    /// Nothing is captured (the default).
    #[default]
    NoContent,
    /// As attributes of the call's span.
    SpanOnly,
    /// As a `gen_ai.client.inference.operation.details` event on the call's span.
    EventOnly,
    /// Both.
    SpanAndEvent,
}

impl ContentCapture {
    /// The mode [`CAPTURE_MESSAGE_CONTENT`] asks for: [`ContentCapture::NoContent`] when it is
    /// not set, an error that names it and the values it takes when it holds another.
    ///
    /// ```
    /// let capture = tracing_ai::content::ContentCapture::from_env()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(CAPTURE_MESSAGE_CONTENT) {
            Ok(value) => value.parse().map_err(|error: ParseCaptureError| {
                ConfigError::invalid_content_setting(format!("{CAPTURE_MESSAGE_CONTENT}: {error}"))
            }),
            Err(_) => Ok(Self::NoContent),
        }
    }

    /// Whether anything is captured.
    pub fn is_on(self) -> bool {
        self != Self::NoContent
    }

    pub(crate) fn on_span(self) -> bool {
        matches!(self, Self::SpanOnly | Self::SpanAndEvent)
    }

    pub(crate) fn as_event(self) -> bool {
        matches!(self, Self::EventOnly | Self::SpanAndEvent)
    }
}

/// A value of [`CAPTURE_MESSAGE_CONTENT`] that is not one: [`ContentCapture`]'s `FromStr`
/// error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseCaptureError(String);

impl fmt::Display for ParseCaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a content capture mode; use NO_CONTENT, SPAN_ONLY, EVENT_ONLY, \
             SPAN_AND_EVENT, true or false",
            self.0
        )
    }
}

impl std::error::Error for ParseCaptureError {}

impl FromStr for ContentCapture {
    type Err = ParseCaptureError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        Ok(match trimmed.to_ascii_uppercase().as_str() {
            "NO_CONTENT" | "FALSE" | "" => Self::NoContent,
            "SPAN_ONLY" | "TRUE" => Self::SpanOnly,
            "EVENT_ONLY" => Self::EventOnly,
            "SPAN_AND_EVENT" => Self::SpanAndEvent,
            _ => {
                // Said back bounded: the value may be anything an operator pasted.
                let shown: String = trimmed.chars().take(40).collect();
                return Err(ParseCaptureError(shown));
            }
        })
    }
}

/// What a layer captures and how: its mode, its redaction and its size cap.
#[derive(Clone, Debug)]
pub(crate) struct ContentSettings {
    pub(crate) capture: ContentCapture,
    pub(crate) redactor: Redactor,
    pub(crate) max_bytes: usize,
}

impl Default for ContentSettings {
    fn default() -> Self {
        Self {
            capture: ContentCapture::NoContent,
            redactor: Redactor::default(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl ContentSettings {
    /// The settings a layer keeps: `None` when it captures nothing.
    pub(crate) fn into_shared(self) -> Option<Arc<Self>> {
        self.capture.is_on().then(|| {
            CAPTURE_EVER_ON.store(true, Ordering::Relaxed);
            Arc::new(self)
        })
    }
}

/// Whether any layer ever captured content: until then a call does not even look for
/// settings.
pub(crate) fn is_ever_on() -> bool {
    CAPTURE_EVER_ON.load(Ordering::Relaxed)
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
}
