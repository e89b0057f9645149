//! `ExportBuilder::with_logs` over OTLP/HTTP: log records go to the base URL's `/v1/logs`, in
//! the trace they were logged in.
//!
//! One test in this file: `init()` installs the global subscriber.

use tracing_ai::Protocol;
use tracing_ai_tests::receiver::Receiver;

#[test]
fn log_records_go_to_v1_logs_of_the_base_url() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.http))
        .with_protocol(Protocol::HttpProtobuf)
        .with_console(false)
        .with_metrics(false)
        .with_filter("info")
        .with_logs(true)
        .try_init()
        .expect("tracing is set up");
    tracing::info_span!("request").in_scope(|| tracing::warn!(attempt = 2, "retrying"));
    let stats = guard.export_stats().cloned().expect("spans are exported");
    drop(guard);

    let spans = receiver.spans();
    let logs = receiver.logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0].body(), Some("retrying"));
    assert_eq!(logs[0].record.severity_text, "WARN");
    assert_eq!(spans.len(), 1);
    assert_eq!(logs[0].record.trace_id, spans[0].span.trace_id);
    assert_eq!(logs[0].record.span_id, spans[0].span.span_id);
    assert_eq!(stats.exported_logs(), 1);
    assert_eq!(stats.dropped_logs(), 0);
}
