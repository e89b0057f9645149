//! Which traces are kept, and why.

use opentelemetry::trace::{Status, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use super::head::Ratio;
use crate::attr;

/// What keeps a trace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub(crate) ratio: Ratio,
    pub(crate) keep_errors: bool,
    pub(crate) keep_fallbacks: bool,
    pub(crate) keep_cost_above: Option<f64>,
    /// The calling service's sampled flag keeps a trace.
    pub(crate) follow_parent: bool,
}

/// Why a trace was kept: the value of `ai.sampling.reason` on its local root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A span has error status.
    Error,
    /// Its calls cost more than the threshold.
    Cost,
    /// A fallback model served a call.
    Fallback,
    /// It is a late evaluation of a call ([`FeedbackHandle::record`]): a score someone sent
    /// is exported.
    ///
    /// [`FeedbackHandle::record`]: crate::evaluation::FeedbackHandle::record
    Evaluation,
    /// The calling service sampled it.
    Parent,
    /// Its trace id falls under the sample ratio.
    Ratio,
    /// Kept early, because holding it would have gone over the bound of held spans.
    Overflow,
}

/// What the tail sampler decided for a trace; see
/// [`SamplingStats::decision`](super::SamplingStats::decision).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Exported, for this reason.
    Kept(Reason),
    /// Not exported.
    Dropped,
}

impl Reason {
    /// The value of `ai.sampling.reason`: `error`, `cost`, `fallback`, `evaluation`, `parent`,
    /// `ratio` or `overflow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Error => "error",
            Reason::Cost => "cost",
            Reason::Fallback => "fallback",
            Reason::Evaluation => "evaluation",
            Reason::Parent => "parent",
            Reason::Ratio => "ratio",
            Reason::Overflow => "overflow",
        }
    }
}

/// What is known of a trace so far, from its spans.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) error: bool,
    pub(crate) fallback: bool,
    /// A span is a late evaluation (it carries `gen_ai.evaluation.name` itself).
    pub(crate) evaluation: bool,
    pub(crate) cost: f64,
    pub(crate) parent_sampled: bool,
}

impl Facts {
    pub(crate) fn observe(&mut self, span: &SpanData) {
        self.error |= matches!(span.status, Status::Error { .. });
        for attribute in &span.attributes {
            match (attribute.key.as_str(), &attribute.value) {
                (attr::AI_FALLBACK_USED, Value::Bool(true)) => self.fallback = true,
                (attr::GEN_AI_EVALUATION_NAME, _) => self.evaluation = true,
                (attr::GEN_AI_USAGE_COST, Value::F64(usd)) if usd.is_finite() => self.cost += usd,
                _ => {}
            }
        }
    }
}

impl Policy {
    pub(crate) fn decide(&self, trace_id: TraceId, facts: &Facts) -> Option<Reason> {
        if self.keep_errors && facts.error {
            Some(Reason::Error)
        } else if self.keep_cost_above.is_some_and(|usd| facts.cost > usd) {
            Some(Reason::Cost)
        } else if self.keep_fallbacks && facts.fallback {
            Some(Reason::Fallback)
        } else if facts.evaluation {
            Some(Reason::Evaluation)
        } else if self.follow_parent && facts.parent_sampled {
            Some(Reason::Parent)
        } else if self.ratio.keeps(trace_id) {
            Some(Reason::Ratio)
        } else {
            None
        }
    }
}
