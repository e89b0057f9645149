//! Work a request hands off: a summary written after the answer, a batch embedding job. Its AI
//! calls run in a task or a queue consumer, outside the request's span, and would be priced
//! but attributed to no one.
//!
//! [`current`] captures the ids the current span is attributed with (tenant, feature,
//! request, ...) and a link to it, as a value that can be sent to a task or serialised into a
//! job (`serde`); [`RequestIds::in_span`] gives them to the span the work runs in, so that its
//! AI spans carry the request's ids, and links that span to the request. A link, not a child:
//! the job may run long after the request's trace was exported.
//!
//! ```
//! use tracing::Instrument as _;
//!
//! # async fn summarize() {}
//! # async fn handler() {
//! // In the request:
//! let ids = tracing_ai::attribution::current();
//! tokio::spawn(async move {
//!     // Later, elsewhere: a trace of its own, with the request's ids.
//!     let job = ids.in_span(tracing::info_span!(parent: None, "summary.job"));
//!     summarize().instrument(job).await;
//! });
//! # }
//! ```

use std::sync::Arc;

use crate::layer::AiSpanExt as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A request's attribution ids and the span to link to, captured by [`current`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestIds {
    /// (exported name, value), as the layer attributes spans: `tenant.id`, `feature.id`, ...
    ids: Vec<(String, String)>,
    /// The span captured from, as W3C hex ids: the link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    span_id: Option<String>,
}

/// The ids the current span is attributed with, and a link to it.
pub fn current() -> RequestIds {
    RequestIds::of(&tracing::Span::current())
}

impl RequestIds {
    /// The ids `span` is attributed with (its own and its ancestors', nearest first), and a
    /// link to it when it is exported through OpenTelemetry; empty without an
    /// [`AiLayer`](crate::AiLayer).
    pub fn of(span: &tracing::Span) -> Self {
        let ids = span
            .inherited_ids()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let context = span.context();
        let linked = context.span().span_context().clone();
        let (trace_id, span_id) = if linked.is_valid() {
            (
                Some(linked.trace_id().to_string()),
                Some(linked.span_id().to_string()),
            )
        } else {
            (None, None)
        };
        Self {
            ids,
            trace_id,
            span_id,
        }
    }

    /// The value of attribution id `name` (`tenant.id`, say).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.ids
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.as_str())
    }

    /// Gives `span` these ids, for every AI span under it (their own values still win), and a
    /// link to the request's span; returns it. Make it a root (`parent: None`) for work that
    /// outlives the request. Ids of names the layer does not attribute by are ignored; values
    /// are bounded as a field's are (a job's payload is input too).
    pub fn in_span(&self, span: tracing::Span) -> tracing::Span {
        let ids: Vec<(Arc<str>, Arc<str>)> = self
            .ids
            .iter()
            .map(|(name, value)| (Arc::from(name.as_str()), Arc::from(value.as_str())))
            .collect();
        span.attribute(&ids);
        if let Some(linked) = self.link() {
            span.add_link(linked);
        }
        span
    }

    /// The request's span, as a link target; `None` when none was captured or its ids do not
    /// parse (a job from elsewhere).
    fn link(&self) -> Option<SpanContext> {
        let trace_id = TraceId::from_hex(self.trace_id.as_deref()?).ok()?;
        let span_id = SpanId::from_hex(self.span_id.as_deref()?).ok()?;
        let context = SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        context.is_valid().then_some(context)
    }
}
