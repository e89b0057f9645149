//! Export failures, said once on stderr rather than once per batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// An exporter that reports a failing export once, not once per batch, and again when it
/// works again.
#[derive(Debug)]
pub(crate) struct Reporting<E> {
    inner: E,
    what: &'static str,
    endpoint: String,
    /// Shared with the guard, which says nothing more at shutdown of what was reported.
    pub(crate) failing: Arc<AtomicBool>,
    /// Where the records of each batch of logs are counted, exported or failed.
    #[cfg(feature = "opentelemetry-appender-tracing")]
    log_counts: Option<super::stats::ExportStats>,
}

impl<E> Reporting<E> {
    pub(crate) fn new(inner: E, what: &'static str, endpoint: &str) -> Self {
        Self {
            inner,
            what,
            endpoint: endpoint.to_owned(),
            failing: Arc::default(),
            #[cfg(feature = "opentelemetry-appender-tracing")]
            log_counts: None,
        }
    }

    /// Counts the records of each batch of logs in `stats`, as exported or failed.
    #[cfg(feature = "opentelemetry-appender-tracing")]
    pub(crate) fn counting_logs_in(self, stats: super::stats::ExportStats) -> Self {
        Self {
            log_counts: Some(stats),
            ..self
        }
    }

    fn observe(&self, result: &OTelSdkResult) {
        let what = self.what;
        match result {
            Err(error) if !self.failing.swap(true, Ordering::Relaxed) => {
                // An HTTP client's error names the URL, credentials and all.
                let error = crate::secrets::redact(&error.to_string()).into_owned();
                let hint = if what == "metrics" {
                    " (if the backend takes no metrics, set OTEL_METRICS_EXPORTER=none)"
                } else {
                    ""
                };
                eprintln!(
                    "[tracing-ai] could not export {what} to {}: {error}{hint}; the application \
                     goes on, and this is reported again only once exporting works again",
                    self.endpoint
                )
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                eprintln!(
                    "[tracing-ai] exporting {what} to {} works again",
                    self.endpoint
                )
            }
            _ => {}
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.observe(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reporting<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.observe(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(feature = "opentelemetry-appender-tracing")]
impl<E: opentelemetry_sdk::logs::LogExporter> opentelemetry_sdk::logs::LogExporter
    for Reporting<E>
{
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        let records = batch.iter().count();
        let result = self.inner.export(batch).await;
        self.observe(&result);
        if let Some(stats) = &self.log_counts {
            match result {
                Ok(()) => stats.logs_exported(records),
                Err(_) => stats.logs_failed(records),
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
