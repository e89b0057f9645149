//! The export queue: spans wait here for the exporter, whole traces at a time, and nothing
//! leaves it without being counted.
//!
//! It takes the place of OpenTelemetry's `BatchSpanProcessor`, which takes spans one at a time
//! into a channel and drops what does not fit: behind a backend slower than the application,
//! that lost parts of traces the tail sampler had kept for an error, and said nothing. Here a
//! trace enters whole or not at all; a trace kept for an error, a cost or a fallback may push
//! out traces kept only by the ratio; and every span dropped (queue full, export failed,
//! shutdown deadline) is counted in [`ExportStats`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::span_size::sized;
use super::stats::{ExportStats, Loss};
use crate::sampling::Reason;

/// How the queue is sized and drained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueConfig {
    /// The most spans waiting at once.
    pub(crate) capacity: usize,
    /// The most spans in one export.
    pub(crate) max_batch: usize,
    /// The most bytes (estimated) in one export: under the 4 MiB a gRPC server takes by
    /// default, so that one large span cannot make a whole batch too big to be received.
    pub(crate) max_batch_bytes: usize,
    /// How long a span may wait for a batch to fill.
    pub(crate) delay: Duration,
    /// The longest string attribute value exported, in bytes; longer ones are cut (on a
    /// character boundary), as OpenTelemetry's attribute value length limit says.
    pub(crate) max_value_bytes: usize,
    /// The attribution names (`tenant.id`, ...): their values are bounded as the AI layer
    /// bounds them, on every span, the application's own included.
    pub(crate) attribution_keys: Arc<[Arc<str>]>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        // OpenTelemetry's defaults for its batch processor (`OTEL_BSP_*`).
        Self {
            capacity: 2_048,
            max_batch: 512,
            max_batch_bytes: 3 << 20,
            delay: Duration::from_secs(5),
            max_value_bytes: crate::value_set::DEFAULT_VALUE_BYTES,
            attribution_keys: Arc::from([]),
        }
    }
}

/// Which traces are given up first when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Kept for what happened in it (an error, a cost, a fallback): pushes out routine traces.
    Urgent,
    /// Kept by the ratio, the caller's sampled flag, or exported unsampled.
    Routine,
}

/// Hands a trace the tail sampler kept to the queue, whole, with the priority of its reason.
pub(crate) fn admit_kept(queue: &ExportQueue, spans: Vec<SpanData>, reason: Reason) {
    let priority = match reason {
        Reason::Error | Reason::Cost | Reason::Fallback | Reason::Evaluation => Priority::Urgent,
        Reason::Parent | Reason::Ratio | Reason::Overflow => Priority::Routine,
        #[allow(unreachable_patterns)]
        _ => Priority::Routine,
    };
    queue.admit(spans, priority);
}

/// The [`SpanProcessor`] that queues spans for an exporter and exports them in batches from a
/// thread of its own.
pub(crate) struct ExportQueue {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signals the worker: spans, a flush, a resource or the shutdown.
    work: Condvar,
    /// Signals the waiting callers: a batch is done.
    done: Condvar,
    config: QueueConfig,
    stats: ExportStats,
}

/// The spans of one trace, each with its size on the wire (estimated before the lock is
/// taken, so that the worker only adds numbers while it holds it).
type Trace = Vec<(SpanData, usize)>;

#[derive(Default)]
struct State {
    urgent: VecDeque<Trace>,
    routine: VecDeque<Trace>,
    /// Spans in both queues.
    queued: usize,
    /// Spans handed to the exporter and not answered yet.
    in_flight: usize,
    flush: bool,
    shutdown: bool,
    /// The worker has shut the exporter down and returned.
    finished: bool,
    /// The shutdown deadline passed: what was queued or in flight then is counted as lost.
    abandoned: bool,
    resource: Option<Resource>,
}

impl fmt::Debug for ExportQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportQueue")
            .field("config", &self.shared.config)
            .field("stats", &self.shared.stats)
            .finish_non_exhaustive()
    }
}

impl ExportQueue {
    /// Starts the thread that exports to `exporter`.
    pub(crate) fn new<E: SpanExporter + 'static>(
        exporter: E,
        config: QueueConfig,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            work: Condvar::new(),
            done: Condvar::new(),
            config,
            stats: ExportStats::default(),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tracing-ai-export".into())
                .spawn(move || shared.run(exporter))?
        };
        Ok(Self {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    pub(crate) fn stats(&self) -> ExportStats {
        self.shared.stats.clone()
    }

    /// Queues the spans of one trace, all or none.
    pub(crate) fn admit(&self, spans: Vec<SpanData>, priority: Priority) {
        let config = &self.shared.config;
        let trace = spans
            .into_iter()
            .map(|span| sized(span, config.max_value_bytes, &config.attribution_keys))
            .collect();
        self.admit_trace(trace, priority);
    }

    fn admit_trace(&self, spans: Trace, priority: Priority) {
        let shared = &*self.shared;
        let count = spans.len();
        if count == 0 {
            return;
        }
        let mut state = shared.lock();
        if state.shutdown {
            drop(state);
            shared.stats.drop_spans(Loss::Shutdown, count);
            return;
        }
        let capacity = shared.config.capacity;
        if priority == Priority::Urgent {
            // The newest routine traces go first: the older ones are closer to their export.
            while state.queued + count > capacity {
                let Some(pushed_out) = state.routine.pop_back() else {
                    break;
                };
                state.queued -= pushed_out.len();
                shared.stats.drop_spans(Loss::QueueFull, pushed_out.len());
            }
        }
        if state.queued + count > capacity {
            drop(state);
            shared.stats.drop_spans(Loss::QueueFull, count);
            shared.say_full();
            return;
        }
        state.queued += count;
        match priority {
            Priority::Urgent => state.urgent.push_back(spans),
            Priority::Routine => state.routine.push_back(spans),
        }
        let full_batch = state.queued >= shared.config.max_batch;
        drop(state);
        if full_batch {
            shared.work.notify_one();
        }
    }

    /// Waits until what is queued now has been exported, or `timeout` has passed.
    fn wait_until_drained(&self, timeout: Duration) -> OTelSdkResult {
        let shared = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut state = shared.lock();
        state.flush = true;
        shared.work.notify_one();
        while state.queued + state.in_flight > 0 && !state.finished {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Err(OTelSdkError::Timeout(timeout));
            };
            state = shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn say_full(&self) {
        if self.stats.first_time_full() {
            eprintln!(
                "[tracing-ai] the export queue is full ({} spans): the backend is slower than \
                 the application, and traces are being dropped, those kept for an error last; \
                 the count is the metric ai.export.dropped_spans and is printed at exit",
                self.config.capacity
            );
        }
    }

    /// The worker: waits for a full batch, the delay, a flush or the shutdown, and exports.
    fn run<E: SpanExporter>(&self, mut exporter: E) {
        // The export's own spans (an instrumented HTTP client) must not come back here.
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        let mut last_export = Instant::now();
        loop {
            let (batch, resource, shutdown) = {
                let mut state = self.lock();
                loop {
                    let waited = last_export.elapsed();
                    let due = state.queued > 0 && waited >= self.config.delay;
                    if state.shutdown
                        || state.flush
                        || state.resource.is_some()
                        || state.queued >= self.config.max_batch
                        || due
                    {
                        break;
                    }
                    let left = self.config.delay.saturating_sub(waited);
                    state = self
                        .work
                        .wait_timeout(state, left.max(Duration::from_millis(1)))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                let batch = self.take_batch(&mut state);
                state.in_flight = batch.len();
                if batch.is_empty() {
                    state.flush = false;
                }
                (batch, state.resource.take(), state.shutdown)
            };
            if let Some(resource) = resource {
                exporter.set_resource(&resource);
            }
            if !batch.is_empty() {
                last_export = Instant::now();
                let count = batch.len();
                let result = futures_executor::block_on(exporter.export(batch));
                let mut state = self.lock();
                // Past the shutdown deadline these spans were counted as lost already.
                if !state.abandoned {
                    match result {
                        Ok(()) => self.stats.count_exported(count),
                        Err(_) => self.stats.drop_spans(Loss::ExportFailed, count),
                    }
                }
                state.in_flight = 0;
                drop(state);
                self.done.notify_all();
            } else if shutdown {
                let _ = exporter.shutdown();
                self.lock().finished = true;
                self.done.notify_all();
                return;
            } else {
                self.done.notify_all();
            }
        }
    }

    /// The next batch: whole traces, urgent ones first, up to the span and byte limits; a
    /// trace larger than a batch is split.
    fn take_batch(&self, state: &mut State) -> Vec<SpanData> {
        let mut batch: Vec<SpanData> = Vec::new();
        let mut bytes = 0;
        loop {
            let queue = if state.urgent.is_empty() {
                &mut state.routine
            } else {
                &mut state.urgent
            };
            let Some(mut trace) = queue.pop_front() else {
                break;
            };
            let room = self.config.max_batch - batch.len();
            let mut taken = 0;
            for (_, size) in &trace {
                // The first span of a batch goes in whatever its size: alone, it fails alone.
                let first = batch.is_empty() && taken == 0;
                if taken == room || (!first && bytes + size > self.config.max_batch_bytes) {
                    break;
                }
                bytes += size;
                taken += 1;
            }
            if taken < trace.len() {
                let rest = trace.split_off(taken);
                queue.push_front(rest);
            }
            state.queued -= trace.len();
            batch.extend(trace.into_iter().map(|(span, _)| span));
            if taken == 0 || batch.len() == self.config.max_batch {
                break;
            }
        }
        batch
    }
}

impl SpanProcessor for ExportQueue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            let config = &self.shared.config;
            let span = sized(span, config.max_value_bytes, &config.attribution_keys);
            self.admit_trace(vec![span], Priority::Routine);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.wait_until_drained(Duration::from_secs(5))
    }

    /// Exports what is queued until `timeout`; what is left then is counted as dropped.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let shared = &*self.shared;
        let deadline = Instant::now() + timeout;
        {
            let mut state = shared.lock();
            if state.shutdown {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.shutdown = true;
        }
        shared.work.notify_one();
        let mut state = shared.lock();
        while !state.finished {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state = shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if state.finished {
            drop(state);
            if let Some(worker) = self
                .worker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                let _ = worker.join();
            }
            return Ok(());
        }
        // The backend did not answer in time: what is still here is lost. The worker is left
        // to finish on its own; the queue is emptied so that it stops after its export.
        let lost = state.queued + state.in_flight;
        state.abandoned = true;
        state.urgent.clear();
        state.routine.clear();
        state.queued = 0;
        drop(state);
        shared.stats.drop_spans(Loss::Shutdown, lost);
        Err(OTelSdkError::Timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.shared.lock().resource = Some(resource.clone());
        self.shared.work.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    use opentelemetry::KeyValue;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::testing::trace::new_test_export_span_data;
    use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor as _};

    use super::{ExportQueue, Priority, QueueConfig};

    /// An exporter that records the names in each batch, and holds every export until its
    /// gate opens.
    #[derive(Clone, Debug, Default)]
    struct Gated {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Gated {
        fn open(&self) {
            *self.gate.0.lock().expect("not poisoned") = true;
            self.gate.1.notify_all();
        }

        fn batches(&self) -> Vec<Vec<String>> {
            self.batches.lock().expect("not poisoned").clone()
        }
    }

    impl SpanExporter for Gated {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            let mut open = self.gate.0.lock().expect("not poisoned");
            while !*open {
                open = self.gate.1.wait(open).expect("not poisoned");
            }
            let names = batch.iter().map(|span| span.name.to_string()).collect();
            self.batches.lock().expect("not poisoned").push(names);
            std::future::ready(Ok(()))
        }
    }

    fn trace(name: &str, spans: usize) -> Vec<SpanData> {
        (0..spans)
            .map(|_| {
                let mut span = new_test_export_span_data();
                span.name = name.to_owned().into();
                span
            })
            .collect()
    }

    /// A queue whose worker exports when `max_batch` spans wait, or when flushed.
    fn queue(exporter: &Gated, capacity: usize, max_batch: usize) -> ExportQueue {
        let config = QueueConfig {
            capacity,
            max_batch,
            max_batch_bytes: 4_000,
            delay: Duration::from_secs(60),
            max_value_bytes: 1_000,
            ..QueueConfig::default()
        };
        ExportQueue::new(exporter.clone(), config).expect("a thread")
    }

    #[test]
    fn a_trace_enters_whole_or_not_at_all() {
        let exporter = Gated::default();
        let queue = queue(&exporter, 10, 100);
        queue.admit(trace("first", 6), Priority::Routine);
        queue.admit(trace("second", 6), Priority::Routine);
        let stats = queue.stats();
        assert_eq!(stats.dropped_for_queue_full(), 6);
        exporter.open();
        queue.force_flush().expect("flushed");
        let exported: Vec<String> = exporter.batches().concat();
        assert_eq!(exported, vec!["first"; 6]);
        assert_eq!(stats.exported_spans(), 6);
    }

    #[test]
    fn a_trace_kept_for_an_error_pushes_out_the_newest_kept_by_the_ratio_and_goes_first() {
        let exporter = Gated::default();
        // Batches larger than the queue: nothing leaves it before the flush.
        let queue = queue(&exporter, 10, 100);
        queue.admit(trace("old ratio", 3), Priority::Routine);
        queue.admit(trace("new ratio", 3), Priority::Routine);
        queue.admit(trace("error", 6), Priority::Urgent);
        // Room for the error only without the newest ratio trace.
        assert_eq!(queue.stats().dropped_for_queue_full(), 3);
        // Another error pushes out the last one kept by the ratio...
        queue.admit(trace("second error", 2), Priority::Urgent);
        assert_eq!(queue.stats().dropped_for_queue_full(), 6);
        // ...and with none left, an urgent trace that does not fit is dropped, whole.
        queue.admit(trace("third error", 3), Priority::Urgent);
        assert_eq!(queue.stats().dropped_for_queue_full(), 9);
        exporter.open();
        queue.force_flush().expect("flushed");
        let batches = exporter.batches();
        let exported: Vec<&str> = batches.iter().flatten().map(String::as_str).collect();
        assert_eq!(
            exported,
            [["error"; 6].as_slice(), &["second error"; 2]].concat()
        );
    }

    #[test]
    fn a_trace_larger_than_a_batch_is_split_across_batches_in_order() {
        let exporter = Gated::default();
        exporter.open();
        let queue = queue(&exporter, 100, 4);
        queue.admit(trace("a", 3), Priority::Routine);
        queue.admit(trace("b", 6), Priority::Routine);
        queue.force_flush().expect("flushed");
        let batches = exporter.batches();
        assert!(batches.iter().all(|batch| batch.len() <= 4), "{batches:?}");
        let exported: Vec<&str> = batches.iter().flatten().map(String::as_str).collect();
        assert_eq!(exported, [["a"; 3].as_slice(), &["b"; 6]].concat());
    }

    #[test]
    fn a_span_too_big_for_a_batch_goes_alone() {
        let exporter = Gated::default();
        exporter.open();
        let queue = queue(&exporter, 10, 100);
        let mut spans = trace("small", 3);
        spans[1].name = "huge".into();
        // Under the value limit, over the batch's bytes.
        for key in ["a", "b", "c", "d", "e"] {
            spans[1]
                .attributes
                .push(KeyValue::new(key, "x".repeat(1_000)));
        }
        queue.admit(spans, Priority::Routine);
        queue.force_flush().expect("flushed");
        assert_eq!(
            exporter.batches(),
            [vec!["small"], vec!["huge"], vec!["small"]]
        );
    }

    #[test]
    fn what_the_shutdown_deadline_leaves_is_counted_once() {
        let exporter = Gated::default();
        let queue = queue(&exporter, 100, 4);
        queue.admit(trace("waiting", 7), Priority::Routine);
        let result = queue.shutdown_with_timeout(Duration::from_millis(200));
        assert!(result.is_err());
        let stats = queue.stats();
        assert_eq!(stats.dropped_at_shutdown(), 7);
        // The backend answers at last: the spans it takes were counted lost already.
        exporter.open();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(stats.exported_spans(), 0);
        assert_eq!(stats.dropped_spans(), 7);
        // A trace after the shutdown is counted too.
        queue.admit(trace("late", 2), Priority::Urgent);
        assert_eq!(stats.dropped_at_shutdown(), 9);
    }
}
