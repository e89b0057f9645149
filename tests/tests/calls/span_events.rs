//! A user's log lines inside a traced request: not span events by default (tracing-opentelemetry
//! would give each one `level` and `target` attributes, which no convention names), an `ERROR`
//! one still failing its span with its message; span events again when the builder asks.

use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::{export_with, Exported};

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn answer() -> Usage {
    tracing::info!(chunks = 3, "retrieved context");
    Usage::new(800, 120)
}

#[derive(Debug)]
struct StoreDown;

impl std::fmt::Display for StoreDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("vector store unreachable")
    }
}

impl std::error::Error for StoreDown {}

#[tracing::instrument(err)]
fn lookup() -> Result<(), StoreDown> {
    Err(StoreDown)
}

/// A request with a call that logs, a lookup that fails through `#[instrument(err)]`, a step
/// that logs its failure with `error!`, and one that only warns.
fn request() {
    tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
        answer();
        let _ = lookup();
        tracing::info_span!("rerank").in_scope(|| {
            tracing::error!(documents = 12, "reranker timed out");
        });
        tracing::info_span!("cache").in_scope(|| {
            tracing::warn!("cache cold");
        });
    });
}

fn run(builder: tracing_ai::AiLayerBuilder) -> Exported {
    export_with(builder, request).1
}

fn event_names(span: &SpanData) -> Vec<&str> {
    span.events.iter().map(|event| &*event.name).collect()
}

#[test]
fn log_lines_are_not_span_events_by_default() {
    let exported = run(AiLayer::builder());
    for span in &exported.spans {
        assert!(
            span.events.is_empty(),
            "`{}` has events {:?}",
            span.name,
            event_names(span)
        );
    }
    assert_eq!(
        exported.span("cache").status,
        Status::Unset,
        "a warning fails nothing"
    );
    assert_eq!(exported.span("request").status, Status::Unset);
    assert_eq!(exported.span("chat gpt-4o-mini").status, Status::Unset);
}

#[test]
fn an_error_event_still_fails_its_span_with_its_error_or_message() {
    let exported = run(AiLayer::builder());
    assert_eq!(
        exported.span("lookup").status,
        Status::error("vector store unreachable"),
        "#[instrument(err)] records the error in its `error` field"
    );
    assert_eq!(
        exported.span("rerank").status,
        Status::error("reranker timed out")
    );
}

#[test]
fn with_span_events_puts_them_back_as_tracing_opentelemetry_writes_them() {
    let exported = run(AiLayer::builder().with_span_events(true));
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(event_names(call), ["retrieved context"]);
    let keys: Vec<&str> = call.events[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys, ["level", "target", "chunks"]);
    assert_eq!(event_names(exported.span("cache")), ["cache cold"]);
    assert!(matches!(
        exported.span("rerank").status,
        Status::Error { .. }
    ));
    assert!(matches!(
        exported.span("lookup").status,
        Status::Error { .. }
    ));
}

#[test]
fn the_call_exports_the_same_attributes_either_way() {
    let without = run(AiLayer::builder());
    let with = run(AiLayer::builder().with_span_events(true));
    let attributes = |exported: &Exported| {
        let mut attributes: Vec<(String, String)> = exported
            .span("chat gpt-4o-mini")
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        attributes.sort();
        attributes
    };
    assert_eq!(attributes(&without), attributes(&with));
}
