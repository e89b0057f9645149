//! What became of the spans handed to the export queue: exported, or dropped and why.

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
/// let guard = tracing_ai::init()?;
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

    /// Reports these counts as metrics of `meter`, read at each collection:
    /// `ai.export.exported_spans` and `ai.export.dropped_spans` (counters, the second by
    /// [`ai.export.drop.reason`](crate::attr::AI_EXPORT_DROP_REASON): `queue_full`,
    /// `export_failed` or `shutdown`). [`init`](crate::init) does this
    /// when it exports metrics.
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

    /// One line on stderr for what was not exported, or nothing when all of it was.
    pub(crate) fn summary(&self) -> Option<String> {
        let dropped = self.dropped_spans();
        (dropped > 0).then(|| {
            format!(
                "{dropped} spans were not exported ({} for a full queue, {} in failed exports, \
                 {} at the shutdown deadline); the counts are the metric \
                 ai.export.dropped_spans",
                self.dropped_for_queue_full(),
                self.dropped_for_export_failed(),
                self.dropped_at_shutdown()
            )
        })
    }
}
