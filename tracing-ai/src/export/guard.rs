//! The guard `init()` returns: it flushes and shuts down what `init()` built when dropped.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::stats::ExportStats;
use crate::budget::BudgetsHandle;
use crate::sampling::SamplingStats;
use crate::PricesHandle;

/// Flushes and shuts the exporter down when dropped; returned by [`init`](crate::init).
///
/// Keep it alive for as long as the program runs (`let _guard = tracing_ai::try_init()?;`, not
/// `let _ = ...`, which drops it at once).
#[must_use = "dropping the guard shuts the exporter down: keep it alive while the program runs"]
pub struct OtelGuard {
    pub(crate) provider: Option<SdkTracerProvider>,
    pub(crate) meters: Option<SdkMeterProvider>,
    #[cfg(feature = "opentelemetry-appender-tracing")]
    pub(crate) loggers: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) sampling: Option<SamplingStats>,
    pub(crate) export: Option<ExportStats>,
    pub(crate) spans_failing: Arc<AtomicBool>,
    pub(crate) metrics_failing: Arc<AtomicBool>,
    #[cfg(feature = "opentelemetry-appender-tracing")]
    pub(crate) logs_failing: Arc<AtomicBool>,
    pub(crate) shutdown_timeout: Duration,
    /// The AI layer's prices and budgets, set once the layer is built (before `init` returns).
    pub(crate) handles: Option<(PricesHandle, BudgetsHandle)>,
}

impl fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelGuard")
            .field("exporting", &self.provider.is_some())
            .finish_non_exhaustive()
    }
}

impl OtelGuard {
    /// What the tail sampler kept and dropped, when [sampling](crate::ExportBuilder::with_sampling)
    /// is on and spans are exported.
    pub fn sampling_stats(&self) -> Option<&SamplingStats> {
        self.sampling.as_ref()
    }

    /// How many spans were exported and how many were not, and why, when spans are exported.
    ///
    /// ```no_run
    /// let guard = tracing_ai::try_init()?;
    /// // ... the application
    /// if let Some(stats) = guard.export_stats() {
    ///     assert_eq!(stats.dropped_spans(), 0, "the backend kept up");
    /// }
    /// # Ok::<(), tracing_ai::InitError>(())
    /// ```
    pub fn export_stats(&self) -> Option<&ExportStats> {
        self.export.as_ref()
    }

    /// A handle on the prices of the layer `init()` installed, to read them again without a
    /// restart: see [`PricesHandle`].
    ///
    /// ```no_run
    /// let guard = tracing_ai::builder()
    ///     .with_layer(tracing_ai::AiLayer::builder().with_prices_file("prices.toml"))
    ///     .try_init()?;
    /// // On SIGHUP, say:
    /// guard.prices().reload()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prices(&self) -> PricesHandle {
        match &self.handles {
            Some((prices, _)) => prices.clone(),
            // Every guard `init` returns has them: this is a guard of nothing.
            None => PricesHandle::none(),
        }
    }

    /// A handle on the budgets of the layer `init()` installed, to change them without a
    /// restart and read what a scope spent: see [`BudgetsHandle`].
    ///
    /// ```no_run
    /// use tracing_ai::budget::{Budget, Scope, Window};
    ///
    /// let guard = tracing_ai::builder()
    ///     .with_layer(
    ///         tracing_ai::AiLayer::builder()
    ///             .with_budget(Budget::new("tenant-daily", 25.0, Window::Day).per(Scope::Tenant)),
    ///     )
    ///     .try_init()?;
    /// let spent = guard.budgets().spent("tenant-daily", &[(Scope::Tenant, "acme")]);
    /// # let _ = spent;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn budgets(&self) -> BudgetsHandle {
        match &self.handles {
            Some((_, budgets)) => budgets.clone(),
            None => BudgetsHandle::none(),
        }
    }
}

impl Drop for OtelGuard {
    /// Writes the budget settlements still queued for the budget store (Redis), within the
    /// shutdown timeout: what it cannot write is counted in `ai.budget.store_failures` and
    /// logged with what its calls cost. Then flushes and shuts down spans, metrics and logs side
    /// by side, within one deadline (the shutdown timeout again), and says on stderr how many
    /// spans and log records were not exported, if any.
    fn drop(&mut self) {
        let timeout = self.shutdown_timeout;
        if let Some((_, budgets)) = &self.handles {
            if let Err(unflushed) = budgets.flush(timeout) {
                budgets.budgets.give_up();
                eprintln!("tracing-ai: {unflushed}");
            }
        }
        let deadline = Instant::now() + timeout;
        // Metrics and logs shut down on threads of their own, so that a backend that never
        // answers costs the timeout once, not once per signal.
        let metrics = self
            .meters
            .take()
            .and_then(|meters| on_thread(move || meters.shutdown_with_timeout(timeout)));
        #[cfg(feature = "opentelemetry-appender-tracing")]
        let logs_exported = self.loggers.is_some();
        #[cfg(feature = "opentelemetry-appender-tracing")]
        let logs = self
            .loggers
            .take()
            .and_then(|loggers| on_thread(move || loggers.shutdown_with_timeout(timeout)));
        if let Some(provider) = self.provider.take() {
            let result = provider.shutdown_with_timeout(timeout);
            report_shutdown("spans", result, &self.spans_failing);
        }
        let wait_until_deadline = |wait: mpsc::Receiver<OTelSdkResult>| {
            let left = deadline.saturating_duration_since(Instant::now());
            wait.recv_timeout(left)
                .unwrap_or(Err(OTelSdkError::Timeout(timeout)))
        };
        if let Some(wait) = metrics {
            report_shutdown("metrics", wait_until_deadline(wait), &self.metrics_failing);
        }
        #[cfg(feature = "opentelemetry-appender-tracing")]
        if let Some(wait) = logs {
            report_shutdown("logs", wait_until_deadline(wait), &self.logs_failing);
        }
        #[cfg(feature = "opentelemetry-appender-tracing")]
        if let (true, Some(stats)) = (logs_exported, &self.export) {
            stats.settle_logs();
        }
        for summary in self.export.iter().flat_map(ExportStats::summary) {
            eprintln!("[tracing-ai] {summary}");
        }
        #[cfg(feature = "otlp-grpc")]
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so the guard may be dropped inside an async runtime.
            runtime.shutdown_background();
        }
    }
}

/// Runs a shutdown on a thread of its own; `None` if no thread could be started (the
/// provider is then dropped, which shuts it down on this one).
fn on_thread(
    shutdown: impl FnOnce() -> OTelSdkResult + Send + 'static,
) -> Option<mpsc::Receiver<OTelSdkResult>> {
    let (done, wait) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("tracing-ai-shutdown".into())
        .spawn(move || {
            let _ = done.send(shutdown());
        })
        .ok()
        .map(|_| wait)
}

/// Says that the last spans or metrics may be lost, unless their export was already reported
/// failing.
fn report_shutdown(what: &str, result: OTelSdkResult, failing: &AtomicBool) {
    if let Err(error) = result {
        if !failing.load(Ordering::Relaxed) {
            let error = crate::secrets::redact(&error.to_string()).into_owned();
            eprintln!("[tracing-ai] the last {what} may not have been exported: {error}");
        }
    }
}

impl OtelGuard {
    /// A guard of nothing yet, with the timeout its drop will wait.
    pub(crate) fn new(shutdown_timeout: Duration) -> Self {
        Self {
            provider: None,
            meters: None,
            #[cfg(feature = "opentelemetry-appender-tracing")]
            loggers: None,
            runtime: None,
            sampling: None,
            export: None,
            spans_failing: Arc::default(),
            metrics_failing: Arc::default(),
            #[cfg(feature = "opentelemetry-appender-tracing")]
            logs_failing: Arc::default(),
            shutdown_timeout,
            handles: None,
        }
    }
}

/// The runtime the gRPC exporter runs on.
#[cfg(feature = "otlp-grpc")]
pub(crate) type Runtime = tokio::runtime::Runtime;

/// Without gRPC no runtime is made.
#[cfg(not(feature = "otlp-grpc"))]
pub(crate) type Runtime = std::convert::Infallible;
