//! Evaluations and feedback: a score on the call it judges, as the GenAI conventions'
//! `gen_ai.evaluation.result` event.
//!
//! An [`Evaluation`] recorded while the call's span is open becomes an event on that span:
//!
//! ```
//! use tracing_ai::evaluation::Evaluation;
//!
//! # fn judge(_: &str) -> f64 { 0.9 }
//! # let answer = "";
//! // Inside the span of the call evaluated (an `#[ai_span]` function, or in its scope).
//! Evaluation::new("relevance")
//!     .with_score(judge(answer))
//!     .with_label("relevant")
//!     .record();
//! ```
//!
//! Feedback that arrives after the request ended (a user's thumbs-down, a judge run in a
//! queue) needs the span it scores, which is gone: keep a [`FeedbackHandle`] of it while the
//! request runs (its text form can go to the browser and come back), and record on the handle
//! later. The evaluation is then exported as a short span, a child of the span scored, that
//! carries the same event:
//!
//! ```
//! use tracing_ai::evaluation::{Evaluation, FeedbackHandle};
//!
//! // While the request runs: `None` when the span is not exported through OpenTelemetry.
//! let handle: Option<FeedbackHandle> = FeedbackHandle::current();
//! let sent_to_the_browser = handle.map(|handle| handle.to_string());
//!
//! // Minutes later, in another request.
//! if let Some(text) = sent_to_the_browser {
//!     let handle: FeedbackHandle = text.parse()?;
//!     handle.record(&Evaluation::new("user_feedback").with_label("thumbs_down"));
//! }
//! # Ok::<(), tracing_ai::evaluation::ParseHandleError>(())
//! ```
//!
//! A late evaluation is always exported, even under tail sampling: its span is kept for the
//! reason `evaluation`. When the trace it scores was not kept, it arrives alone, parented to a
//! span the backend never received; [`Evaluation::with_response_id`] lets the backend find the
//! call anyway. A handle is the trace and span id in the W3C `traceparent` form, not a secret
//! and not signed: a caller who sends one back can attach a score to any trace whose ids it
//! knows. Sign it, or keep it on the server, where that matters.
//!
//! The explanation goes through the same redaction as error messages (API keys, bearer
//! tokens, credentials in URLs) before it leaves the process.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{KeyValue, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::attr;

/// The target of the events and spans this module records: filter on it to keep or silence
/// them (`RUST_LOG=tracing_ai::evaluation=info`).
pub const TARGET: &str = "tracing_ai::evaluation";

/// The result of evaluating a call's output: a `gen_ai.evaluation.result` event.
///
/// A name is required; a score, a label and an explanation are each optional, though an
/// evaluation with none of them says nothing.
///
/// ```
/// use tracing_ai::evaluation::Evaluation;
///
/// let evaluation = Evaluation::new("faithfulness")
///     .with_score(0.42)
///     .with_label("unfaithful")
///     .with_explanation("the answer cites a document that was not retrieved");
/// # let _ = evaluation;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an evaluation is exported only once it is recorded"]
pub struct Evaluation {
    name: String,
    score: Option<f64>,
    label: Option<String>,
    explanation: Option<String>,
    response_id: Option<String>,
    error_type: Option<String>,
}

impl Evaluation {
    /// An evaluation named `name` (`gen_ai.evaluation.name`), e.g. `relevance`,
    /// `user_feedback`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            score: None,
            label: None,
            explanation: None,
            response_id: None,
            error_type: None,
        }
    }

    /// The score the evaluator returned (`gen_ai.evaluation.score.value`). A score that is
    /// not a finite number (NaN, infinite) is not exported.
    pub fn with_score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }

    /// The score as a label of few possible values (`gen_ai.evaluation.score.label`), e.g.
    /// `relevant`, `pass`, `thumbs_down`.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Why the evaluator gave the score (`gen_ai.evaluation.explanation`); secrets in it are
    /// redacted before export.
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// The id the provider gave the response evaluated (`gen_ai.response.id`): how a backend
    /// finds the call when the span it scores was not exported.
    pub fn with_response_id(mut self, response_id: impl Into<String>) -> Self {
        self.response_id = Some(response_id.into());
        self
    }

    /// The evaluation itself failed (the judge timed out, say), for this reason
    /// (`error.type`): exported so that a missing score is told apart from a good one.
    pub fn with_error_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// The name given to [`Evaluation::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records this evaluation on the current span, the call it evaluates.
    pub fn record(&self) {
        self.record_on(&tracing::Span::current());
    }

    /// Records this evaluation on `span`, the call it evaluates. Nothing is recorded on a
    /// disabled span, nor when [`TARGET`] is filtered out at `INFO`.
    ///
    /// Under an OpenTelemetry layer the event is written onto the exported span as the
    /// conventions define it, with their attributes only; a `tracing` event would carry
    /// `level` and `target` too, which no convention defines (Weaver's live-check reports
    /// them). Without one, it is a `tracing` event your other layers see.
    pub fn record_on(&self, span: &tracing::Span) {
        if span.is_disabled() || !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            return;
        }
        let explanation = self.explanation.as_deref().map(crate::secrets::redact);
        if span.context().span().span_context().is_valid() {
            let mut attributes = vec![KeyValue::new(
                attr::GEN_AI_EVALUATION_NAME,
                self.name.clone(),
            )];
            let optional = [
                (
                    attr::GEN_AI_EVALUATION_SCORE_VALUE,
                    self.finite_score().map(Value::F64),
                ),
                (
                    attr::GEN_AI_EVALUATION_SCORE_LABEL,
                    self.label.clone().map(Value::from),
                ),
                (
                    attr::GEN_AI_EVALUATION_EXPLANATION,
                    explanation
                        .as_deref()
                        .map(|text| Value::from(text.to_owned())),
                ),
                (
                    attr::GEN_AI_RESPONSE_ID,
                    self.response_id.clone().map(Value::from),
                ),
                (attr::ERROR_TYPE, self.error_type.clone().map(Value::from)),
            ];
            attributes.extend(
                optional
                    .into_iter()
                    .filter_map(|(name, value)| Some(KeyValue::new(name, value?))),
            );
            span.add_event(attr::GEN_AI_EVALUATION_RESULT, attributes);
            return;
        }
        tracing::event!(
            target: TARGET,
            parent: span,
            tracing::Level::INFO,
            { attr::GEN_AI_EVALUATION_NAME } = self.name.as_str(),
            { attr::GEN_AI_EVALUATION_SCORE_VALUE } = self.finite_score(),
            { attr::GEN_AI_EVALUATION_SCORE_LABEL } = self.label.as_deref(),
            { attr::GEN_AI_EVALUATION_EXPLANATION } = explanation.as_deref(),
            { attr::GEN_AI_RESPONSE_ID } = self.response_id.as_deref(),
            { attr::ERROR_TYPE } = self.error_type.as_deref(),
            "{}",
            attr::GEN_AI_EVALUATION_RESULT,
        );
    }

    fn finite_score(&self) -> Option<f64> {
        self.score.filter(|score| score.is_finite())
    }
}

/// What a late evaluation needs of the span it scores: its trace and span ids. Its text form
/// (`Display`, `FromStr`) is that of a W3C `traceparent` header, 55 characters.
///
/// ```
/// use tracing_ai::evaluation::FeedbackHandle;
///
/// let handle: FeedbackHandle = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert_eq!(handle.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), tracing_ai::evaluation::ParseHandleError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeedbackHandle {
    trace_id: TraceId,
    span_id: SpanId,
}

impl FeedbackHandle {
    /// A handle of the current span; `None` when it has no OpenTelemetry context (no
    /// tracing-opentelemetry layer, or a disabled span).
    pub fn current() -> Option<Self> {
        Self::of(&tracing::Span::current())
    }

    /// A handle of `span`; `None` when it has no OpenTelemetry context.
    pub fn of(span: &tracing::Span) -> Option<Self> {
        if span.is_disabled() {
            return None;
        }
        let context = span.context();
        let span = context.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| Self {
            trace_id: span_context.trace_id(),
            span_id: span_context.span_id(),
        })
    }

    /// The trace the scored span belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The scored span.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Records `evaluation` as a child of the span this handle was taken from: a short span
    /// named `evaluation {name}` carrying the evaluation's attributes and its
    /// `gen_ai.evaluation.result` event.
    pub fn record(&self, evaluation: &Evaluation) {
        let span = tracing::info_span!(
            target: TARGET,
            parent: None,
            "evaluation",
            otel.name = display(format_args!("evaluation {}", evaluation.name)),
            { attr::GEN_AI_EVALUATION_NAME } = evaluation.name.as_str(),
            { attr::GEN_AI_EVALUATION_SCORE_VALUE } = evaluation.finite_score(),
            { attr::GEN_AI_EVALUATION_SCORE_LABEL } = evaluation.label.as_deref(),
            { attr::GEN_AI_RESPONSE_ID } = evaluation.response_id.as_deref(),
            { attr::ERROR_TYPE } = evaluation.error_type.as_deref(),
        );
        if span.is_disabled() {
            return;
        }
        // Sampled, whatever the scored span's flag was: a score someone sent is exported.
        let parent = SpanContext::new(
            self.trace_id,
            self.span_id,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let parent = opentelemetry::Context::new().with_remote_span_context(parent);
        if span.set_parent(parent).is_err() {
            // No OpenTelemetry layer: the evaluation goes where the span goes, unparented.
        }
        evaluation.record_on(&span);
    }
}

impl fmt::Display for FeedbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// A feedback handle's text that is not one: [`FeedbackHandle`]'s `FromStr` error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseHandleError {
    problem: &'static str,
}

impl fmt::Display for ParseHandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a feedback handle ({}): expected the text FeedbackHandle's Display wrote, \
             `00-<32 hex digits>-<16 hex digits>-<2 hex digits>`",
            self.problem
        )
    }
}

impl std::error::Error for ParseHandleError {}

impl FromStr for FeedbackHandle {
    type Err = ParseHandleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |problem| ParseHandleError { problem };
        if text.len() != 55 {
            return Err(error("it is not 55 characters long"));
        }
        let mut parts = text.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(error("it is not four parts separated by `-`"));
        };
        let is_hex = |part: &str, len| {
            part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !is_hex(version, 2) || version == "ff" {
            return Err(error(
                "its version is not two lowercase hex digits other than ff",
            ));
        }
        if !is_hex(trace, 32) || !is_hex(span, 16) || !is_hex(flags, 2) {
            return Err(error(
                "its ids are not lowercase hex digits of the right length",
            ));
        }
        let trace_id = TraceId::from_hex(trace).map_err(|_| error("its trace id is not hex"))?;
        let span_id = SpanId::from_hex(span).map_err(|_| error("its span id is not hex"))?;
        if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
            return Err(error("its trace id or span id is all zeros"));
        }
        Ok(Self { trace_id, span_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_reads_back_what_it_wrote() {
        let handle = FeedbackHandle {
            trace_id: TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
            span_id: SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        };
        let text = handle.to_string();
        assert_eq!(
            text,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(text.parse::<FeedbackHandle>(), Ok(handle));
    }

    #[test]
    fn garbage_is_an_error_that_says_what_a_handle_looks_like() {
        for garbage in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e4736--00f067aa0ba902b701",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            let error = garbage
                .parse::<FeedbackHandle>()
                .expect_err("garbage is no handle");
            assert!(
                error.to_string().contains("00-<32 hex digits>"),
                "{garbage:?}: {error}"
            );
        }
    }
}
