//! The builder's options of one group: content.

use super::AiLayerBuilder;
use crate::content::ContentCapture;

/// # Content
///
/// Whether prompts and answers are captured, and how they are redacted and bounded.
impl AiLayerBuilder {
    /// Captures message content (prompts, answers, tool arguments and results) as `capture`
    /// says. By default nothing is captured. See [`content`](crate::content).
    ///
    /// ```
    /// use tracing_ai::content::ContentCapture;
    ///
    /// // As the standard variable says, for a layer set up by hand (`init()` reads it itself).
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_capture(ContentCapture::from_env()?)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_capture(mut self, capture: ContentCapture) -> Self {
        self.content.capture = capture;
        self.content_capture_set = true;
        self
    }

    /// The mode `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` asks for, unless the code
    /// set one.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn with_content_capture_from_env(mut self, capture: ContentCapture) -> Self {
        if !self.content_capture_set {
            self.content.capture = capture;
        }
        self
    }

    /// Also redacts what matches `pattern` (a regular expression, `regex` crate syntax) in
    /// captured content, after the built-in patterns (API keys, bearer tokens, credentials
    /// in URLs, e-mail addresses, card numbers). An invalid pattern is an error of
    /// [`build`](Self::build). By default only the built-in patterns redact.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_redaction(r"\bEMP-\d{6}\b")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_redaction(mut self, pattern: &str) -> Self {
        if let Err(problem) = self.content.redactor.add_pattern(pattern) {
            self.content_errors.push(problem);
        }
        self
    }

    /// Passes every captured text through `redact` last, after the built-in and the
    /// pattern redaction: for what only the application can recognise. By default there is
    /// none.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_redactor(|text: &mut String| {
    ///         *text = text.replace("Project Falcon", "[CODENAME]");
    ///     })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_redactor(
        mut self,
        redact: impl Fn(&mut String) + Send + Sync + 'static,
    ) -> Self {
        self.content
            .redactor
            .set_callback(std::sync::Arc::new(redact));
        self
    }

    /// The most bytes one captured value (the JSON text of `gen_ai.input.messages`, say) may
    /// take; 8 KiB by default. Longer content is cut so that its JSON stays valid and says it
    /// was cut. `init()` keeps it within the export's attribute value limit, past which the
    /// export would cut the JSON anywhere.
    pub fn with_content_max_bytes(mut self, max_bytes: usize) -> Self {
        self.content.max_bytes = max_bytes;
        self
    }

    /// Keeps the content cap within `limit`, the export's attribute value limit.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn with_content_max_bytes_within(mut self, limit: usize) -> Self {
        self.content.max_bytes = self.content.max_bytes.min(limit);
        self
    }
}
