//! The tracer provider's sampler: every span recorded, the sampled flag set for the services
//! downstream.

use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// A trace-id ratio decision, computed as OpenTelemetry's `TraceIdRatioBased` computes it, so
/// that services using either keep the same traces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ratio {
    pub(crate) ratio: f64,
    bound: u64,
}

impl Ratio {
    pub(crate) fn new(ratio: f64) -> Self {
        Self {
            ratio,
            // Casts saturate: a ratio of 1 keeps every id, see `keeps`.
            bound: (ratio.max(0.0) * (1_u64 << 63) as f64) as u64,
        }
    }

    pub(crate) fn keeps(self, trace_id: TraceId) -> bool {
        if self.ratio >= 1.0 {
            return true;
        }
        let bytes = trace_id.to_bytes();
        let mut low = [0; 8];
        low.copy_from_slice(&bytes[8..]);
        (u64::from_be_bytes(low) >> 1) < self.bound
    }
}

/// The sampler that goes with [`TailSamplingProcessor`](super::TailSamplingProcessor); made by
/// [`TailSampling::sampler`](super::TailSampling::sampler).
///
/// Every span is recorded (`RecordOnly` or `RecordAndSample`), so that the processor can keep
/// any trace. The sampled flag, which a `traceparent` carries to the services this one calls,
/// is set when the parent's is (a remote parent's only when the calling service is followed,
/// see [`with_parent_sampled`](super::TailSamplingBuilder::with_parent_sampled)), and when
/// the ratio keeps its trace id.
#[derive(Clone, Debug)]
pub struct HeadSampler {
    pub(crate) ratio: Ratio,
    pub(crate) follow_parent: bool,
}

impl ShouldSample for HeadSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().clone());
        let sampled = match &parent {
            Some(parent) if !parent.is_remote() => parent.is_sampled(),
            Some(parent) => {
                (self.follow_parent && parent.is_sampled()) || self.ratio.keeps(trace_id)
            }
            None => self.ratio.keeps(trace_id),
        };
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::RecordOnly
            },
            attributes: Vec::new(),
            trace_state: parent
                .map_or_else(TraceState::default, |parent| parent.trace_state().clone()),
        }
    }
}
