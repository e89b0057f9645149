//! Retries made visible: the span of a model call covers every attempt (as the conventions
//! ask), and each attempt is a child span of its own, with its number, its status, its
//! `error.type` and the wait before it; the call's span says how many attempts it took
//! (`ai.attempts`).
//!
//! async-openai's retries come through its `middleware` feature: put
//! [`AttemptLayer`](crate::integrations::async_openai::AttemptLayer) under its retry layer.
//! reqwest-middleware's (reqwest-retry's `RetryTransientMiddleware`, or any middleware that
//! runs the rest of the chain once per attempt): put `AttemptMiddleware` after it (feature
//! `reqwest-middleware`). A retry loop of your own marks each attempt with [`attempt`]:
//!
//! ```
//! use tracing::Instrument as _;
//! use tracing_ai::{ai_span, retry, Usage};
//!
//! # #[derive(Debug)] struct Overloaded;
//! # async fn send() -> Result<Usage, Overloaded> { Ok(Usage::new(10, 2)) }
//! #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
//! async fn chat() -> Result<Usage, Overloaded> {
//!     let mut result = Err(Overloaded);
//!     for _ in 0..3 {
//!         let attempt = retry::attempt();
//!         result = send().instrument(attempt.span().clone()).await;
//!         match &result {
//!             Ok(_) => { attempt.succeeded(); break; }
//!             Err(_) => attempt.failed("overloaded"),
//!         }
//!         // wait before the next attempt: it is recorded as the next attempt's `ai.attempt.wait`
//!     }
//!     result
//! }
//! ```

use crate::layer::AiSpanExt as _;
use tracing::field::Empty;

#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware;
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use reqwest_middleware::AttemptMiddleware;

/// One attempt of the current AI call, from [`attempt`]: instrument the attempt with
/// [`span`](Self::span), then say how it ended.
#[derive(Debug)]
#[must_use = "say how the attempt ended: `succeeded()` or `failed(...)`"]
pub struct Attempt {
    span: tracing::Span,
    call: tracing::Span,
}

/// The next attempt of the AI call the current span is (or is under): a child span
/// `attempt {n}` with `ai.attempt.number = n` and `ai.attempt.wait` (seconds since the previous
/// attempt ended, from the second on), counted in the call's `ai.attempts`.
pub fn attempt() -> Attempt {
    Attempt::of(tracing::Span::current())
}

impl Attempt {
    /// The next attempt of `call`.
    pub(crate) fn of(call: tracing::Span) -> Self {
        let (number, wait) = call.begin_attempt().unwrap_or((1, None));
        let span = tracing::info_span!(
            parent: &call,
            "attempt",
            otel.name = %format_args!("attempt {number}"),
            ai.attempt.number = i64::from(number),
            ai.attempt.wait = wait.map(|wait| wait.as_secs_f64()),
            http.response.status_code = Empty,
            error.type = Empty,
            otel.status_code = Empty,
        );
        Self { span, call }
    }

    /// The attempt's span, to instrument what it does.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the HTTP status the attempt got.
    pub fn record_status(&self, status: u16) {
        self.span
            .record("http.response.status_code", i64::from(status));
    }

    /// The attempt got an HTTP response with `status`, recorded: it succeeded below 400, and
    /// failed as its status code (`error.type` `429`, `503`, ...) from there.
    ///
    /// ```
    /// # let _span = tracing::info_span!("call").entered();
    /// let attempt = tracing_ai::retry::attempt();
    /// attempt.responded(503);
    /// ```
    pub fn responded(self, status: u16) {
        self.record_status(status);
        if status < 400 {
            self.succeeded();
        } else {
            self.failed(&status.to_string());
        }
    }

    /// The attempt succeeded.
    pub fn succeeded(self) {
        self.call.end_attempt();
    }

    /// The attempt failed, as `error_type` (`rate_limit_exceeded`, `500`, ...).
    pub fn failed(self, error_type: &str) {
        self.span.record("error.type", error_type);
        self.span.record("otel.status_code", "ERROR");
        self.call.end_attempt();
    }
}
