//! Log lines as log records, not as events named after a source line.
//!
//! opentelemetry-appender-tracing gives every record the `tracing` event's name as its event
//! name. An event without `name:` is named by `tracing` after its place in the source
//! (`event src/handler.rs:42`), and a record with an event name is an OpenTelemetry *event*,
//! which backends group by that name and the conventions' checker looks up in the registry.
//! So such a record leaves here without one; an event named on purpose
//! (`tracing::info!(name: "payment.refused", ...)`) keeps its name.

use std::time::Duration;

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::Resource;

use super::stats::ExportStats;

/// A processor that drops the event name `tracing` made up from a source location, then
/// hands every record to `inner`, and counts it.
#[derive(Debug)]
pub(crate) struct PlainLogLines<P> {
    inner: P,
    /// A logger of a provider with no processor: the SDK's records can only be made by a
    /// logger, and a record's event name cannot be unset, only left out of a new one.
    blank: SdkLogger,
    stats: ExportStats,
}

impl<P> PlainLogLines<P> {
    pub(crate) fn new(inner: P, stats: ExportStats) -> Self {
        stats.count_logs();
        Self {
            inner,
            blank: SdkLoggerProvider::builder().build().logger("tracing-ai"),
            stats,
        }
    }

    /// `record` without its event name.
    fn without_event_name(&self, record: &SdkLogRecord) -> SdkLogRecord {
        let mut plain = self.blank.create_log_record();
        if let Some(target) = record.target() {
            plain.set_target(target.clone());
        }
        if let Some(timestamp) = record.timestamp() {
            plain.set_timestamp(timestamp);
        }
        if let Some(observed) = record.observed_timestamp() {
            plain.set_observed_timestamp(observed);
        }
        if let Some(context) = record.trace_context() {
            plain.set_trace_context(context.trace_id, context.span_id, context.trace_flags);
        }
        if let Some(text) = record.severity_text() {
            plain.set_severity_text(text);
        }
        if let Some(number) = record.severity_number() {
            plain.set_severity_number(number);
        }
        if let Some(body) = record.body() {
            plain.set_body(body.clone());
        }
        plain.add_attributes(
            record
                .attributes_iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        plain
    }
}

/// Whether `name` is the one `tracing`'s macros give an event that was not named:
/// `event <file>:<line>`.
fn is_source_location(name: &str) -> bool {
    name.strip_prefix("event ")
        .and_then(|place| place.rsplit_once(':'))
        .is_some_and(|(file, line)| {
            !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
        })
}

impl<P: LogProcessor> LogProcessor for PlainLogLines<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if record.event_name().is_some_and(is_source_location) {
            *record = self.without_event_name(record);
        }
        self.inner.emit(record, scope);
        self.stats.logs_handed_on(1);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::is_source_location;

    #[test]
    fn only_tracings_made_up_names_are_source_locations() {
        assert!(is_source_location("event src/handler.rs:42"));
        assert!(is_source_location("event C:\\app\\src\\main.rs:7"));
        assert!(!is_source_location("payment.refused"));
        assert!(!is_source_location("event src/handler.rs"));
        assert!(!is_source_location("event src/handler.rs:x"));
        assert!(!is_source_location("event :42"));
    }
}
