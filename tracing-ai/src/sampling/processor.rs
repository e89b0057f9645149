//! The span processor that holds each local trace until its root ends.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanContext, SpanId, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::policy::{Decision, Facts, Policy, Reason};
use super::stats::SamplingStats;
use crate::attr;

/// A [`SpanProcessor`] that keeps or drops whole local traces when their root ends; made by
/// [`TailSampling::processor`](super::TailSampling::processor). See the [module](super) for
/// the rules.
pub struct TailSamplingProcessor<P> {
    next: P,
    /// How a kept trace is handed to `next`: span by span to any processor, whole to the
    /// export queue `init()` builds.
    forward: Forward<P>,
    policy: Policy,
    max_held_spans: usize,
    state: Mutex<State>,
    stats: SamplingStats,
}

/// Hands the spans of one kept trace, kept for one reason, to the next processor.
pub(crate) type Forward<P> = fn(&P, Vec<SpanData>, Reason);

/// The way to any [`SpanProcessor`]: one span at a time.
pub(crate) fn span_by_span<P: SpanProcessor>(next: &P, spans: Vec<SpanData>, _: Reason) {
    for span in spans {
        next.on_end(span);
    }
}

impl<P> TailSamplingProcessor<P> {
    pub(crate) fn new(next: P, forward: Forward<P>, policy: Policy, max_held_spans: usize) -> Self {
        Self {
            next,
            forward,
            policy,
            max_held_spans,
            state: Mutex::new(State::default()),
            stats: SamplingStats::default(),
        }
    }
}

impl<P: fmt::Debug> fmt::Debug for TailSamplingProcessor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TailSamplingProcessor")
            .field("next", &self.next)
            .field("sample_ratio", &self.policy.ratio.ratio)
            .field("max_held_spans", &self.max_held_spans)
            .field("stats", &self.stats)
            .finish()
    }
}

#[derive(Default)]
struct State {
    traces: HashMap<TraceId, Trace>,
    held: usize,
}

/// A local trace not decided yet.
#[derive(Default)]
struct Trace {
    /// Local roots started and not ended: a trace can enter a process more than once.
    open_roots: u32,
    spans: Vec<SpanData>,
    facts: Facts,
    /// Kept early: its spans are handed on as they end.
    overflowed: bool,
}

/// What to do with spans once the lock is released.
enum Outcome {
    Hold,
    Forward(Vec<SpanData>, Reason),
    Drop(usize),
}

impl<P: SpanProcessor> TailSamplingProcessor<P> {
    /// The counts of kept, dropped and overflowed traces, and of held spans.
    pub fn stats(&self) -> SamplingStats {
        self.stats.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides what becomes of `span`, which has just ended.
    fn settle(&self, span: SpanData) -> Outcome {
        let trace_id = span.span_context.trace_id();
        let is_local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let mut state = self.lock();
        let State { traces, held } = &mut *state;
        let Some(trace) = traces.get_mut(&trace_id) else {
            drop(state);
            // Its trace was decided already, or its root was never seen: follow the decision,
            // or decide on this span alone.
            let decided = self.stats.decision(trace_id);
            let kept = match decided {
                Some(Decision::Kept(reason)) => Some(reason),
                Some(Decision::Dropped) => None,
                None => {
                    let mut facts = Facts {
                        parent_sampled: span.parent_span_is_remote
                            && span.span_context.is_sampled(),
                        ..Facts::default()
                    };
                    facts.observe(&span);
                    self.policy.decide(trace_id, &facts)
                }
            };
            return match kept {
                Some(reason) => Outcome::Forward(vec![span], reason),
                None => Outcome::Drop(1),
            };
        };
        trace.facts.observe(&span);
        if is_local_root {
            trace.open_roots = trace.open_roots.saturating_sub(1);
        }
        if trace.open_roots > 0 {
            if trace.overflowed {
                return Outcome::Forward(vec![span], Reason::Overflow);
            }
            if *held >= self.max_held_spans {
                // Holding it would go over the bound: the trace is kept, now.
                trace.overflowed = true;
                let mut spans = std::mem::take(&mut trace.spans);
                *held -= spans.len();
                self.stats.0.held_spans.store(*held, Ordering::Relaxed);
                self.stats
                    .0
                    .overflowed_traces
                    .fetch_add(1, Ordering::Relaxed);
                spans.push(span);
                return Outcome::Forward(spans, Reason::Overflow);
            }
            trace.spans.push(span);
            *held += 1;
            self.stats.0.held_spans.store(*held, Ordering::Relaxed);
            self.stats
                .0
                .peak_held_spans
                .fetch_max(*held, Ordering::Relaxed);
            return Outcome::Hold;
        }
        // The last local root has ended: the trace is complete here.
        let Some(mut trace) = traces.remove(&trace_id) else {
            return Outcome::Hold;
        };
        *held -= trace.spans.len();
        self.stats.0.held_spans.store(*held, Ordering::Relaxed);
        let reason = match self.policy.decide(trace_id, &trace.facts) {
            None if trace.overflowed => Some(Reason::Overflow),
            reason => reason,
        };
        // Remembered before the lock is released, so that a late span finds the decision.
        self.stats
            .decided()
            .remember(trace_id, reason.map_or(Decision::Dropped, Decision::Kept));
        drop(state);
        let mut root = span;
        match reason {
            Some(reason) => {
                root.attributes
                    .push(KeyValue::new(attr::AI_SAMPLING_REASON, reason.as_str()));
                trace.spans.push(root);
                self.stats.0.kept_traces.fetch_add(1, Ordering::Relaxed);
                Outcome::Forward(trace.spans, reason)
            }
            None => {
                self.stats.0.dropped_traces.fetch_add(1, Ordering::Relaxed);
                Outcome::Drop(trace.spans.len() + 1)
            }
        }
    }

    fn apply(&self, outcome: Outcome) {
        match outcome {
            Outcome::Hold => {}
            Outcome::Forward(spans, reason) => {
                let spans = spans.into_iter().map(sampled).collect();
                (self.forward)(&self.next, spans, reason);
            }
            Outcome::Drop(spans) => {
                self.stats
                    .0
                    .dropped_spans
                    .fetch_add(spans as u64, Ordering::Relaxed);
            }
        }
    }

    /// Decides every trace still held, on what is known of it: at shutdown nothing is held
    /// back, and nothing kept is lost.
    fn decide_all(&self) {
        let traces: Vec<(TraceId, Trace)> = {
            let mut state = self.lock();
            state.held = 0;
            self.stats.0.held_spans.store(0, Ordering::Relaxed);
            state.traces.drain().collect()
        };
        for (trace_id, trace) in traces {
            let outcome = match self.policy.decide(trace_id, &trace.facts) {
                _ if trace.spans.is_empty() => continue,
                Some(reason) => {
                    self.stats.0.kept_traces.fetch_add(1, Ordering::Relaxed);
                    Outcome::Forward(trace.spans, reason)
                }
                None => {
                    self.stats.0.dropped_traces.fetch_add(1, Ordering::Relaxed);
                    Outcome::Drop(trace.spans.len())
                }
            };
            self.apply(outcome);
        }
    }
}

/// A kept span is exported as sampled, whatever its flag said when it started.
fn sampled(mut span: SpanData) -> SpanData {
    if !span.span_context.is_sampled() {
        let context = &span.span_context;
        span.span_context = SpanContext::new(
            context.trace_id(),
            context.span_id(),
            context.trace_flags().with_sampled(true),
            context.is_remote(),
            context.trace_state().clone(),
        );
    }
    span
}

impl<P: SpanProcessor> SpanProcessor for TailSamplingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let parent = cx.span();
        let parent = parent.span_context();
        if !parent.is_valid() || parent.is_remote() {
            let trace_id = span.span_context().trace_id();
            let mut state = self.lock();
            let trace = state.traces.entry(trace_id).or_default();
            trace.open_roots += 1;
            trace.facts.parent_sampled |= parent.is_valid() && parent.is_sampled();
        }
        self.next.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let outcome = self.settle(span);
        self.apply(outcome);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.decide_all();
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.next.set_resource(resource);
    }
}
