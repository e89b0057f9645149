//! What the tail sampler did, readable while it runs and exported as metrics.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use opentelemetry::trace::TraceId;

use super::policy::Decision;

/// How many decisions are remembered for spans that end after their trace was decided.
const REMEMBERED_DECISIONS: usize = 4_096;

/// Counts of what the tail sampler did; shared with the processor, so it stays readable after
/// the processor moved into the tracer provider.
#[derive(Clone, Debug, Default)]
pub struct SamplingStats(pub(crate) Arc<Counters>);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    decided: Mutex<Decided>,
    pub(crate) kept_traces: AtomicU64,
    pub(crate) dropped_traces: AtomicU64,
    pub(crate) dropped_spans: AtomicU64,
    pub(crate) overflowed_traces: AtomicU64,
    /// A copy of the processor's count, kept under its lock, readable without it.
    pub(crate) held_spans: AtomicUsize,
    pub(crate) peak_held_spans: AtomicUsize,
}

impl SamplingStats {
    /// Traces handed on to the next processor.
    pub fn kept_traces(&self) -> u64 {
        self.0.kept_traces.load(Ordering::Relaxed)
    }

    /// Traces dropped: no rule kept them.
    pub fn dropped_traces(&self) -> u64 {
        self.0.dropped_traces.load(Ordering::Relaxed)
    }

    /// Spans of the dropped traces.
    pub fn dropped_spans(&self) -> u64 {
        self.0.dropped_spans.load(Ordering::Relaxed)
    }

    /// Traces kept early because holding them would have gone over the bound of held spans.
    pub fn overflowed_traces(&self) -> u64 {
        self.0.overflowed_traces.load(Ordering::Relaxed)
    }

    /// Spans held now, waiting for their trace's decision.
    pub fn held_spans(&self) -> usize {
        self.0.held_spans.load(Ordering::Relaxed)
    }

    /// The most spans held at any time.
    pub fn peak_held_spans(&self) -> usize {
        self.0.peak_held_spans.load(Ordering::Relaxed)
    }

    /// What was decided for the trace `trace_id`, once its local root has ended; the last
    /// 4,096 decisions are remembered.
    pub fn decision(&self, trace_id: TraceId) -> Option<Decision> {
        self.decided().kept.get(&trace_id).copied()
    }

    /// Reports these counts as metrics of `meter`, read at each collection:
    /// `ai.sampling.kept_traces`, `ai.sampling.dropped_traces`, `ai.sampling.dropped_spans`,
    /// `ai.sampling.overflowed_traces` (counters) and `ai.sampling.held_spans` (a gauge).
    /// [`init`](crate::init) does this when it exports metrics.
    pub fn report_to(&self, meter: &opentelemetry::metrics::Meter) {
        type Read = fn(&SamplingStats) -> u64;
        let counters: [(&str, &str, &str, Read); 4] = [
            (
                "ai.sampling.kept_traces",
                "{trace}",
                "Traces the tail sampler exported",
                SamplingStats::kept_traces,
            ),
            (
                "ai.sampling.dropped_traces",
                "{trace}",
                "Traces the tail sampler dropped",
                SamplingStats::dropped_traces,
            ),
            (
                "ai.sampling.dropped_spans",
                "{span}",
                "Spans of the traces the tail sampler dropped",
                SamplingStats::dropped_spans,
            ),
            (
                "ai.sampling.overflowed_traces",
                "{trace}",
                "Traces exported early because holding them would have gone over the bound",
                SamplingStats::overflowed_traces,
            ),
        ];
        for (name, unit, description, read) in counters {
            let stats = self.clone();
            meter
                .u64_observable_counter(name)
                .with_unit(unit)
                .with_description(description)
                .with_callback(move |observer| observer.observe(read(&stats), &[]))
                .build();
        }
        let stats = self.clone();
        meter
            .u64_observable_gauge("ai.sampling.held_spans")
            .with_unit("{span}")
            .with_description("Spans held by the tail sampler, waiting for their trace's decision")
            .with_callback(move |observer| observer.observe(stats.held_spans() as u64, &[]))
            .build();
    }

    pub(crate) fn decided(&self) -> MutexGuard<'_, Decided> {
        self.0
            .decided
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last decisions, for spans that end after their trace was decided.
#[derive(Debug, Default)]
pub(crate) struct Decided {
    kept: HashMap<TraceId, Decision>,
    order: VecDeque<TraceId>,
}

impl Decided {
    pub(crate) fn remember(&mut self, trace_id: TraceId, decision: Decision) {
        if self.kept.insert(trace_id, decision).is_none() {
            self.order.push_back(trace_id);
            if self.order.len() > REMEMBERED_DECISIONS {
                if let Some(oldest) = self.order.pop_front() {
                    self.kept.remove(&oldest);
                }
            }
        }
    }
}
