//! The guard `init()` returns: it flushes and shuts down what `init()` built when dropped.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::sampling::SamplingStats;

/// Flushes and shuts the exporter down when dropped; returned by [`init`](crate::init).
///
/// Keep it alive for as long as the program runs (`let _guard = tracing_ai::init()?;`, not
/// `let _ = ...`, which drops it at once).
#[must_use = "dropping the guard shuts the exporter down: keep it alive while the program runs"]
pub struct OtelGuard {
    pub(crate) provider: Option<SdkTracerProvider>,
    pub(crate) meters: Option<SdkMeterProvider>,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) sampling: Option<SamplingStats>,
    pub(crate) spans_failing: Arc<AtomicBool>,
    pub(crate) metrics_failing: Arc<AtomicBool>,
    pub(crate) shutdown_timeout: Duration,
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
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let result = provider.shutdown_with_timeout(self.shutdown_timeout);
            report_shutdown("spans", result, &self.spans_failing);
        }
        if let Some(meters) = self.meters.take() {
            let result = meters.shutdown_with_timeout(self.shutdown_timeout);
            report_shutdown("metrics", result, &self.metrics_failing);
        }
        #[cfg(feature = "otlp-grpc")]
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so the guard may be dropped inside an async runtime.
            runtime.shutdown_background();
        }
    }
}

/// Says that the last spans or metrics may be lost, unless their export was already reported
/// failing.
fn report_shutdown(what: &str, result: OTelSdkResult, failing: &AtomicBool) {
    if let Err(error) = result {
        if !failing.load(Ordering::Relaxed) {
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
            runtime: None,
            sampling: None,
            spans_failing: Arc::default(),
            metrics_failing: Arc::default(),
            shutdown_timeout,
        }
    }
}

/// The runtime the gRPC exporter runs on.
#[cfg(feature = "otlp-grpc")]
pub(crate) type Runtime = tokio::runtime::Runtime;

/// Without gRPC no runtime is made.
#[cfg(not(feature = "otlp-grpc"))]
pub(crate) type Runtime = std::convert::Infallible;
