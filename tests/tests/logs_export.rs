//! `tracing` events exported as OTLP log records (`ExportBuilder::with_logs`), over gRPC to a
//! receiver in this process: each line in the trace and span it was logged in, with its
//! severity and fields, and none of them a span event.
//!
//! One test in this file: `init()` installs the global subscriber.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tracing_ai::{ai_span, Protocol, Usage};
use tracing_ai_tests::receiver::{ReceivedLog, ReceivedSpan, Receiver};

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn answer() -> Usage {
    tracing::info!(chunks = 3, "retrieved context");
    Usage::new(800, 120)
}

fn log<'a>(logs: &'a [ReceivedLog], body: &str) -> &'a ReceivedLog {
    let found: Vec<&ReceivedLog> = logs.iter().filter(|log| log.body() == Some(body)).collect();
    assert_eq!(found.len(), 1, "one `{body}` among {logs:#?}");
    found[0]
}

fn span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.span.name == name).collect();
    assert_eq!(found.len(), 1, "one `{name}` span");
    found[0]
}

#[test]
fn log_lines_are_log_records_in_the_trace_they_were_logged_in() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_service_name("logs-test")
        .with_console(false)
        .with_metrics(true)
        .with_filter("info")
        .with_logs(true)
        .try_init()
        .expect("tracing is set up");
    tracing::info!("service started");
    tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
        answer();
        tracing::info_span!("rerank").in_scope(|| {
            tracing::error!(documents = 12, "reranker timed out");
        });
        tracing::debug!("below the filter");
        tracing::warn!(name: "cache.miss", "cache cold");
    });
    let stats = guard.export_stats().cloned().expect("spans are exported");
    drop(guard);

    let spans = receiver.spans();
    let logs = receiver.logs();
    // Counted as the receiver counts them: every line that passed the filter, none lost.
    assert_eq!(stats.exported_logs(), logs.len() as u64);
    assert_eq!(stats.dropped_logs(), 0);
    // The metrics say so too (read at the last collection, which may precede the last export).
    let exported = receiver.sum_points("ai.export.exported_logs");
    assert!(
        exported
            .last()
            .is_some_and(|point| point.value <= logs.len() as f64),
        "{exported:?}"
    );
    let dropped = receiver.sum_points("ai.export.dropped_logs");
    let dropped = dropped.last().expect("a count of dropped log records");
    assert_eq!(dropped.value, 0.0);
    assert_eq!(
        dropped.attributes,
        [(
            "ai.export.drop.reason".to_owned(),
            "export_failed".to_owned()
        )]
    );
    let call = span(&spans, "chat gpt-4o-mini");
    let rerank = span(&spans, "rerank");

    let retrieved = log(&logs, "retrieved context");
    assert_eq!(retrieved.record.severity_text, "INFO");
    assert_eq!(retrieved.record.severity_number, 9, "SEVERITY_NUMBER_INFO");
    assert_eq!(retrieved.attr("chunks"), Some(&Value::IntValue(3)));
    assert_eq!(retrieved.record.trace_id, call.span.trace_id);
    assert_eq!(retrieved.record.span_id, call.span.span_id);
    assert!(
        retrieved.resource.iter().any(|kv| kv.key == "service.name"
            && kv.value.as_ref().and_then(|v| v.value.as_ref())
                == Some(&Value::StringValue("logs-test".into()))),
        "the spans' resource"
    );

    let timed_out = log(&logs, "reranker timed out");
    assert_eq!(timed_out.record.severity_text, "ERROR");
    assert_eq!(timed_out.attr("documents"), Some(&Value::IntValue(12)));
    assert_eq!(timed_out.record.span_id, rerank.span.span_id);
    let status = rerank.span.status.as_ref().expect("a status");
    assert_eq!(
        status.code,
        StatusCode::Error as i32,
        "the error still fails its span"
    );
    assert_eq!(status.message, "reranker timed out");

    // A line is no OpenTelemetry event unless it was named: not after its source line.
    assert_eq!(retrieved.record.event_name, "");
    assert_eq!(timed_out.record.event_name, "");
    assert_eq!(log(&logs, "cache cold").record.event_name, "cache.miss");

    let started = log(&logs, "service started");
    assert!(
        started.record.trace_id.is_empty(),
        "logged outside any span"
    );

    assert!(logs
        .iter()
        .all(|log| log.body() != Some("below the filter")));
    for span in &spans {
        assert!(
            span.span.events.is_empty(),
            "`{}` has events",
            span.span.name
        );
    }
}
