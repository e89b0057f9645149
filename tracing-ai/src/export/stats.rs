//! What became of the spans handed to the export queue, and of the log records handed to the
//! log pipeline: exported, or dropped and why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why spans were not exported; the `reason` attribute of `ai.export.dropped_spans`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Loss {
    QueueFull,
    ExportFailed,
    Shutdown,
}

impl Loss {
    fn as_str(self) -> &'static str {
        match self {
            Loss::QueueFull => "queue_full",
            Loss::ExportFailed => "export_failed",
            Loss::Shutdown => "shutdown",
        }
    }
}

/// What became of the spans handed to the exporter; readable while the program runs (from
/// [`OtelGuard::export_stats`](crate::OtelGuard::export_stats)) and exported as metrics.
///
/// ```no_run
/// let guard = tracing_ai::try_init()?;
/// // ... the application
/// if let Some(stats) = guard.export_stats() {
///     eprintln!(
///         "{} spans exported, {} dropped ({} for a full queue)",
///         stats.exported_spans(),
///         stats.dropped_spans(),
///         stats.dropped_for_queue_full(),
///     );
/// }
/// # Ok::<(), tracing_ai::InitError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExportStats(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    shutdown: AtomicU64,
    /// Whether the first drop for want of room was said on stderr.
    said_full: AtomicBool,
    logs: LogCounts,
}

/// The log records' counts. OpenTelemetry's batch log processor drops a record for a full
/// queue without telling, so what was neither exported nor failed is known at shutdown only:
/// the records handed on, less those the backend took or refused.
#[derive(Debug, Default)]
struct LogCounts {
    /// Whether log records are exported at all: their metrics are reported only then.
    on: AtomicBool,
    #[cfg(feature = "opentelemetry-appender-tracing")]
    handed: AtomicU64,
    exported: AtomicU64,
    export_failed: AtomicU64,
    /// Set at shutdown: handed on, and neither exported nor refused by then.
    unconfirmed: AtomicU64,
}

impl ExportStats {
    /// Spans the backend accepted.
    pub fn exported_spans(&self) -> u64 {
        self.0.exported.load(Ordering::Relaxed)
    }

    /// Spans not exported, for any reason: the sum of the three counts below.
    pub fn dropped_spans(&self) -> u64 {
        self.dropped_for_queue_full()
            + self.dropped_for_export_failed()
            + self.dropped_at_shutdown()
    }

    /// Spans dropped because the queue had no room for their trace.
    pub fn dropped_for_queue_full(&self) -> u64 {
        self.0.queue_full.load(Ordering::Relaxed)
    }

    /// Spans of exports that failed (backend down, refused, timed out).
    pub fn dropped_for_export_failed(&self) -> u64 {
        self.0.export_failed.load(Ordering::Relaxed)
    }

    /// Spans still waiting, or not confirmed exported, when the shutdown deadline passed.
    pub fn dropped_at_shutdown(&self) -> u64 {
        self.0.shutdown.load(Ordering::Relaxed)
    }

    /// Log records the backend accepted, when `tracing` events are exported as logs
    /// (`ExportBuilder::with_logs`, with the feature `opentelemetry-appender-tracing`; 0
    /// otherwise).
    pub fn exported_logs(&self) -> u64 {
        self.0.logs.exported.load(Ordering::Relaxed)
    }

    /// Log records not exported: those of failed exports as they fail, and, once the guard
    /// has shut the export down, those dropped by OpenTelemetry's batch log processor for a
    /// full queue or left at the shutdown deadline (the processor does not say which, nor
    /// when, so they are known only then).
    ///
    /// ```no_run
    /// let guard = tracing_ai::try_init()?; // OTEL_LOGS_EXPORTER=otlp turns log records on
    /// let stats = guard.export_stats().cloned();
    /// // ... the application
    /// drop(guard);
    /// if let Some(stats) = stats {
    ///     assert_eq!(stats.dropped_logs(), 0, "every log line reached the backend");
    /// }
    /// # Ok::<(), tracing_ai::InitError>(())
    /// ```
    pub fn dropped_logs(&self) -> u64 {
        self.dropped_logs_for_export_failed() + self.0.logs.unconfirmed.load(Ordering::Relaxed)
    }

    /// Log records of exports that failed (backend down, refused, timed out).
    pub fn dropped_logs_for_export_failed(&self) -> u64 {
        self.0.logs.export_failed.load(Ordering::Relaxed)
    }

    /// Reports these counts as metrics of `meter`, read at each collection:
    /// `ai.export.exported_spans` and `ai.export.dropped_spans` (counters, the second by
    /// [`ai.export.drop.reason`](crate::attr::AI_EXPORT_DROP_REASON): `queue_full`,
    /// `export_failed` or `shutdown`); when log records are exported,
    /// `ai.export.exported_logs` and `ai.export.dropped_logs` (by the same attribute:
    /// `export_failed` while the program runs). [`init`](crate::init) does this when it
    /// exports metrics.
    pub fn report_to(&self, meter: &opentelemetry::metrics::Meter) {
        let stats = self.clone();
        meter
            .u64_observable_counter("ai.export.exported_spans")
            .with_description("Spans the backend accepted")
            .with_unit("{span}")
            .with_callback(move |observer| observer.observe(stats.exported_spans(), &[]))
            .build();
        let stats = self.clone();
        meter
            .u64_observable_counter("ai.export.dropped_spans")
            .with_description("Spans not exported, by reason")
            .with_unit("{span}")
            .with_callback(move |observer| {
                for loss in [Loss::QueueFull, Loss::ExportFailed, Loss::Shutdown] {
                    let reason = opentelemetry::KeyValue::new(
                        crate::attr::AI_EXPORT_DROP_REASON,
                        loss.as_str(),
                    );
                    observer.observe(stats.count(loss).load(Ordering::Relaxed), &[reason]);
                }
            })
            .build();
        // Observed only when log records are exported: a counter never observed exports no
        // point, and the logs may be set up after this.
        let stats = self.clone();
        meter
            .u64_observable_counter("ai.export.exported_logs")
            .with_description("Log records the backend accepted")
            .with_unit("{log_record}")
            .with_callback(move |observer| {
                if stats.counts_logs() {
                    observer.observe(stats.exported_logs(), &[]);
                }
            })
            .build();
        let stats = self.clone();
        meter
            .u64_observable_counter("ai.export.dropped_logs")
            .with_description("Log records not exported, by reason")
            .with_unit("{log_record}")
            .with_callback(move |observer| {
                if !stats.counts_logs() {
                    return;
                }
                let reason = opentelemetry::KeyValue::new(
                    crate::attr::AI_EXPORT_DROP_REASON,
                    Loss::ExportFailed.as_str(),
                );
                observer.observe(stats.dropped_logs_for_export_failed(), &[reason]);
            })
            .build();
    }

    fn count(&self, loss: Loss) -> &AtomicU64 {
        match loss {
            Loss::QueueFull => &self.0.queue_full,
            Loss::ExportFailed => &self.0.export_failed,
            Loss::Shutdown => &self.0.shutdown,
        }
    }

    pub(super) fn count_exported(&self, spans: usize) {
        self.0.exported.fetch_add(spans as u64, Ordering::Relaxed);
    }

    /// Whether the queue is full for the first time: said once on stderr, then counted only.
    pub(super) fn first_time_full(&self) -> bool {
        !self.0.said_full.swap(true, Ordering::Relaxed)
    }

    pub(super) fn drop_spans(&self, loss: Loss, spans: usize) {
        if spans > 0 {
            self.count(loss).fetch_add(spans as u64, Ordering::Relaxed);
        }
    }

    fn counts_logs(&self) -> bool {
        self.0.logs.on.load(Ordering::Relaxed)
    }

    /// A line on stderr for each signal not wholly exported, or none when all of it was.
    pub(crate) fn summary(&self) -> impl Iterator<Item = String> {
        let spans = self.dropped_spans();
        let spans = (spans > 0).then(|| {
            format!(
                "{spans} spans were not exported ({} for a full queue, {} in failed exports, \
                 {} at the shutdown deadline); the counts are the metric \
                 ai.export.dropped_spans",
                self.dropped_for_queue_full(),
                self.dropped_for_export_failed(),
                self.dropped_at_shutdown()
            )
        });
        let logs = self.dropped_logs();
        let logs = (logs > 0).then(|| {
            format!(
                "{logs} log records were not exported ({} in failed exports, {} dropped for a \
                 full queue or left at the shutdown deadline); the first count is the metric \
                 ai.export.dropped_logs",
                self.dropped_logs_for_export_failed(),
                self.0.logs.unconfirmed.load(Ordering::Relaxed),
            )
        });
        spans.into_iter().chain(logs)
    }
}

/// The log pipeline's counting (`log_lines.rs`, and the guard at shutdown).
#[cfg(feature = "opentelemetry-appender-tracing")]
impl ExportStats {
    /// Log records are exported: their metrics are reported.
    pub(super) fn count_logs(&self) {
        self.0.logs.on.store(true, Ordering::Relaxed);
    }

    pub(super) fn logs_handed_on(&self, records: usize) {
        self.0
            .logs
            .handed
            .fetch_add(records as u64, Ordering::Relaxed);
    }

    pub(super) fn logs_exported(&self, records: usize) {
        self.0
            .logs
            .exported
            .fetch_add(records as u64, Ordering::Relaxed);
    }

    pub(super) fn logs_failed(&self, records: usize) {
        self.0
            .logs
            .export_failed
            .fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Once the log pipeline is shut down (or its deadline passed): what was handed on and
    /// neither exported nor refused was dropped by the batch processor, or left in it.
    pub(super) fn settle_logs(&self) {
        let logs = &self.0.logs;
        let accounted =
            logs.exported.load(Ordering::Relaxed) + logs.export_failed.load(Ordering::Relaxed);
        let unconfirmed = logs
            .handed
            .load(Ordering::Relaxed)
            .saturating_sub(accounted);
        logs.unconfirmed.store(unconfirmed, Ordering::Relaxed);
    }
}
