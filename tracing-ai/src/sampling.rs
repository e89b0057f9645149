//! Tail sampling: few traces, every failure.
//!
//! Head sampling decides when a request starts, before anyone knows it will fail. The
//! [`TailSamplingProcessor`] decides when it ends: it holds the spans of each local trace (the
//! spans under one local root, a span with no parent or a remote one) until that root ends,
//! then hands the whole trace to the next processor (usually the batch processor of an OTLP
//! exporter) or drops it. A trace is kept when
//!
//! - `error`: one of its spans has error status (every failed `#[ai_span]` call does);
//! - `cost`: its model calls cost more than a threshold, in USD (`gen_ai.usage.cost`);
//! - `fallback`: a call was served by a fallback model (`ai.fallback`);
//! - `parent`: the service that called this one sampled the trace (the sampled flag of the
//!   incoming `traceparent`);
//! - `ratio`: its trace id falls under the sample ratio, the way OpenTelemetry's
//!   `TraceIdRatioBased` sampler decides, so every service configured with the same ratio keeps
//!   the same traces.
//!
//! The local root of a kept trace says why, in `ai.sampling.reason` (the first that applies,
//! in the order above).
//!
//! Memory is bounded by [`TailSamplingBuilder::max_held_spans`]: a trace whose span would go
//! over it is kept at once (what it held is handed on, and its later spans pass straight
//! through), and [`SamplingStats`] counts it, with the dropped traces.
//!
//! The unit of decision is the local trace, so each request should be a root span (or
//! continue a remote parent), as an HTTP server span is: a span that stays open over many
//! requests (one around `main`, say) makes them a single trace, which is held until it
//! overflows the bound and then exported whole.
//!
//! Every span must be recorded for this to work, so the tracer provider's sampler is
//! [`TailSampling::sampler`]: it records every span and sets the sampled flag that services
//! downstream see to what `parent` or `ratio` say. [`builder`](crate::builder) sets both up:
//!
//! ```
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
//! use tracing_ai::sampling::TailSampling;
//!
//! let sampling = TailSampling::builder()
//!     .sample_ratio(0.05)
//!     .keep_errors(true)
//!     .keep_cost_above(0.50)
//!     .build()?;
//! let exporter = InMemorySpanExporter::default();
//! let processor = sampling.processor(SimpleSpanProcessor::new(exporter));
//! let stats = processor.stats();
//! let provider = SdkTracerProvider::builder()
//!     .with_sampler(sampling.sampler())
//!     .with_span_processor(processor)
//!     .build();
//! # let _ = (provider, stats);
//! # Ok::<(), tracing_ai::ConfigError>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceId,
    TraceState,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanProcessor,
};
use opentelemetry_sdk::Resource;

use crate::attr;
use crate::error::ConfigError;

/// The environment variable that sets the sample ratio, over what the code sets: operators
/// tune sampling without a rebuild.
pub const SAMPLE_RATIO_ENV: &str = "TRACING_AI_SAMPLE_RATIO";

/// The default bound on held spans: about 50 MiB of AI spans, at 2.5 KiB each (measured by
/// the `export` bench).
const DEFAULT_MAX_HELD_SPANS: usize = 20_000;

/// How many decisions are remembered for spans that end after their trace was decided.
const REMEMBERED_DECISIONS: usize = 4_096;

/// A checked tail-sampling configuration; made by [`TailSampling::builder`].
///
/// It makes the two halves that work together: the [`sampler`](Self::sampler) of the tracer
/// provider and the [`processor`](Self::processor) that decides.
#[derive(Clone, Debug)]
pub struct TailSampling {
    policy: Policy,
    max_held_spans: usize,
}

/// Configures [`TailSampling`]; made by [`TailSampling::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct TailSamplingBuilder {
    ratio: f64,
    keep_errors: bool,
    keep_fallbacks: bool,
    keep_cost_above: Option<f64>,
    max_held_spans: usize,
}

impl Default for TailSamplingBuilder {
    fn default() -> Self {
        Self {
            ratio: 1.0,
            keep_errors: true,
            keep_fallbacks: true,
            keep_cost_above: None,
            max_held_spans: DEFAULT_MAX_HELD_SPANS,
        }
    }
}

impl TailSampling {
    /// Starts a configuration: every trace kept (ratio 1), errors and fallbacks kept, no cost
    /// threshold, at most 20,000 held spans.
    pub fn builder() -> TailSamplingBuilder {
        TailSamplingBuilder::default()
    }

    /// The sampler of the tracer provider: it records every span, so that the processor sees
    /// them all, and sets the sampled flag to what `parent` or `ratio` decide, so that the
    /// services this one calls can follow.
    pub fn sampler(&self) -> HeadSampler {
        HeadSampler {
            ratio: self.policy.ratio,
        }
    }

    /// The processor that holds each local trace until its root ends, then hands it to
    /// `next` or drops it.
    pub fn processor<P: SpanProcessor>(&self, next: P) -> TailSamplingProcessor<P> {
        TailSamplingProcessor {
            next,
            policy: self.policy,
            max_held_spans: self.max_held_spans,
            state: Mutex::new(State::default()),
            stats: SamplingStats::default(),
        }
    }

    /// The ratio of traces kept by trace id.
    pub fn sample_ratio(&self) -> f64 {
        self.policy.ratio.ratio
    }
}

impl TailSamplingBuilder {
    /// Keeps this share of the traces that no other rule keeps, chosen by trace id: `0.05`
    /// keeps one in twenty. [`SAMPLE_RATIO_ENV`] wins over it when set.
    pub fn sample_ratio(self, ratio: f64) -> Self {
        Self { ratio, ..self }
    }

    /// Keeps every trace with a span of error status. On by default.
    pub fn keep_errors(self, keep: bool) -> Self {
        Self {
            keep_errors: keep,
            ..self
        }
    }

    /// Keeps every trace where a fallback model served a call (`ai.fallback`). On by default.
    pub fn keep_fallbacks(self, keep: bool) -> Self {
        Self {
            keep_fallbacks: keep,
            ..self
        }
    }

    /// Keeps every trace whose model calls cost more than `usd` in all.
    pub fn keep_cost_above(self, usd: f64) -> Self {
        Self {
            keep_cost_above: Some(usd),
            ..self
        }
    }

    /// Holds at most this many spans across all undecided traces; a trace that would go over
    /// is kept at once. 20,000 by default: an AI span holds about 2.5 KiB, so about 50 MiB.
    pub fn max_held_spans(self, spans: usize) -> Self {
        Self {
            max_held_spans: spans,
            ..self
        }
    }

    /// Checks the configuration, with the ratio of [`SAMPLE_RATIO_ENV`] when it is set.
    ///
    /// # Errors
    ///
    /// A ratio outside 0..=1, a cost threshold that is not a finite amount of zero or more, or
    /// a bound of zero held spans; the message names the setting.
    pub fn build(self) -> Result<TailSampling, ConfigError> {
        let ratio = match std::env::var(SAMPLE_RATIO_ENV) {
            Ok(text) if !text.trim().is_empty() => text
                .trim()
                .parse::<f64>()
                .map_err(|_| ConfigError::invalid_sampling(SAMPLE_RATIO_ENV, text.clone()))?,
            _ => self.ratio,
        };
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ConfigError::invalid_sampling(
                "sample_ratio",
                ratio.to_string(),
            ));
        }
        if let Some(usd) = self.keep_cost_above {
            if !usd.is_finite() || usd < 0.0 {
                return Err(ConfigError::invalid_sampling(
                    "keep_cost_above",
                    usd.to_string(),
                ));
            }
        }
        if self.max_held_spans == 0 {
            return Err(ConfigError::invalid_sampling(
                "max_held_spans",
                "0".to_owned(),
            ));
        }
        Ok(TailSampling {
            policy: Policy {
                ratio: Ratio::new(ratio),
                keep_errors: self.keep_errors,
                keep_fallbacks: self.keep_fallbacks,
                keep_cost_above: self.keep_cost_above,
            },
            max_held_spans: self.max_held_spans,
        })
    }
}

/// A trace-id ratio decision, computed as OpenTelemetry's `TraceIdRatioBased` computes it, so
/// that services using either keep the same traces.
#[derive(Clone, Copy, Debug)]
struct Ratio {
    ratio: f64,
    bound: u64,
}

impl Ratio {
    fn new(ratio: f64) -> Self {
        Self {
            ratio,
            // Casts saturate: a ratio of 1 keeps every id, see `keeps`.
            bound: (ratio.max(0.0) * (1_u64 << 63) as f64) as u64,
        }
    }

    fn keeps(self, trace_id: TraceId) -> bool {
        if self.ratio >= 1.0 {
            return true;
        }
        let bytes = trace_id.to_bytes();
        let mut low = [0; 8];
        low.copy_from_slice(&bytes[8..]);
        (u64::from_be_bytes(low) >> 1) < self.bound
    }
}

/// The sampler that goes with [`TailSamplingProcessor`]; made by [`TailSampling::sampler`].
///
/// Every span is recorded (`RecordOnly` or `RecordAndSample`), so that the processor can keep
/// any trace. The sampled flag, which a `traceparent` carries to the services this one calls,
/// is set when the parent's is, and on a root when the ratio keeps its trace id.
#[derive(Clone, Debug)]
pub struct HeadSampler {
    ratio: Ratio,
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
            Some(parent) => parent.is_sampled() || self.ratio.keeps(trace_id),
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

/// What keeps a trace.
#[derive(Clone, Copy, Debug)]
struct Policy {
    ratio: Ratio,
    keep_errors: bool,
    keep_fallbacks: bool,
    keep_cost_above: Option<f64>,
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
    /// The calling service sampled it.
    Parent,
    /// Its trace id falls under the sample ratio.
    Ratio,
    /// Kept early, because holding it would have gone over the bound of held spans.
    Overflow,
}

/// What the tail sampler decided for a trace; see [`SamplingStats::decision`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Exported, for this reason.
    Kept(Reason),
    /// Not exported.
    Dropped,
}

impl Reason {
    /// The value of `ai.sampling.reason`: `error`, `cost`, `fallback`, `parent`, `ratio` or
    /// `overflow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Error => "error",
            Reason::Cost => "cost",
            Reason::Fallback => "fallback",
            Reason::Parent => "parent",
            Reason::Ratio => "ratio",
            Reason::Overflow => "overflow",
        }
    }
}

/// What is known of a trace so far, from its spans.
#[derive(Debug, Default)]
struct Facts {
    error: bool,
    fallback: bool,
    cost: f64,
    parent_sampled: bool,
}

impl Facts {
    fn observe(&mut self, span: &SpanData) {
        self.error |= matches!(span.status, Status::Error { .. });
        for attribute in &span.attributes {
            match (attribute.key.as_str(), &attribute.value) {
                (attr::AI_FALLBACK, Value::Bool(true)) => self.fallback = true,
                (attr::GEN_AI_USAGE_COST, Value::F64(usd)) if usd.is_finite() => self.cost += usd,
                _ => {}
            }
        }
    }
}

impl Policy {
    fn decide(&self, trace_id: TraceId, facts: &Facts) -> Option<Reason> {
        if self.keep_errors && facts.error {
            Some(Reason::Error)
        } else if self.keep_cost_above.is_some_and(|usd| facts.cost > usd) {
            Some(Reason::Cost)
        } else if self.keep_fallbacks && facts.fallback {
            Some(Reason::Fallback)
        } else if facts.parent_sampled {
            Some(Reason::Parent)
        } else if self.ratio.keeps(trace_id) {
            Some(Reason::Ratio)
        } else {
            None
        }
    }
}

/// Counts of what the tail sampler did; shared with the processor, so it stays readable after
/// the processor moved into the tracer provider.
#[derive(Clone, Debug, Default)]
pub struct SamplingStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    decided: Mutex<Decided>,
    kept_traces: AtomicU64,
    dropped_traces: AtomicU64,
    dropped_spans: AtomicU64,
    overflowed_traces: AtomicU64,
    /// A copy of the processor's count, kept under its lock, readable without it.
    held_spans: AtomicUsize,
    peak_held_spans: AtomicUsize,
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
        let counters: [(&str, &str, Read); 4] = [
            (
                "ai.sampling.kept_traces",
                "Traces the tail sampler exported",
                SamplingStats::kept_traces,
            ),
            (
                "ai.sampling.dropped_traces",
                "Traces the tail sampler dropped",
                SamplingStats::dropped_traces,
            ),
            (
                "ai.sampling.dropped_spans",
                "Spans of the traces the tail sampler dropped",
                SamplingStats::dropped_spans,
            ),
            (
                "ai.sampling.overflowed_traces",
                "Traces exported early because holding them would have gone over the bound",
                SamplingStats::overflowed_traces,
            ),
        ];
        for (name, description, read) in counters {
            let stats = self.clone();
            meter
                .u64_observable_counter(name)
                .with_description(description)
                .with_callback(move |observer| observer.observe(read(&stats), &[]))
                .build();
        }
        let stats = self.clone();
        meter
            .u64_observable_gauge("ai.sampling.held_spans")
            .with_description("Spans held by the tail sampler, waiting for their trace's decision")
            .with_callback(move |observer| observer.observe(stats.held_spans() as u64, &[]))
            .build();
    }

    fn decided(&self) -> MutexGuard<'_, Decided> {
        self.0
            .decided
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`SpanProcessor`] that keeps or drops whole local traces when their root ends; made by
/// [`TailSampling::processor`]. See the [module](self) for the rules.
pub struct TailSamplingProcessor<P> {
    next: P,
    policy: Policy,
    max_held_spans: usize,
    state: Mutex<State>,
    stats: SamplingStats,
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

/// The last decisions, for spans that end after their trace was decided.
#[derive(Debug, Default)]
struct Decided {
    kept: HashMap<TraceId, Decision>,
    order: VecDeque<TraceId>,
}

impl Decided {
    fn remember(&mut self, trace_id: TraceId, decision: Decision) {
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

/// What to do with spans once the lock is released.
enum Outcome {
    Hold,
    Forward(Vec<SpanData>),
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
            let keep = match decided {
                Some(decision) => decision != Decision::Dropped,
                None => {
                    let mut facts = Facts {
                        parent_sampled: span.parent_span_is_remote
                            && span.span_context.is_sampled(),
                        ..Facts::default()
                    };
                    facts.observe(&span);
                    self.policy.decide(trace_id, &facts).is_some()
                }
            };
            return if keep {
                Outcome::Forward(vec![span])
            } else {
                Outcome::Drop(1)
            };
        };
        trace.facts.observe(&span);
        if is_local_root {
            trace.open_roots = trace.open_roots.saturating_sub(1);
        }
        if trace.open_roots > 0 {
            if trace.overflowed {
                return Outcome::Forward(vec![span]);
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
                return Outcome::Forward(spans);
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
                Outcome::Forward(trace.spans)
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
            Outcome::Forward(spans) => {
                for span in spans {
                    self.next.on_end(sampled(span));
                }
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
                Some(_) => {
                    self.stats.0.kept_traces.fetch_add(1, Ordering::Relaxed);
                    Outcome::Forward(trace.spans)
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
