//! `kind` sets the operation, the span name and the span kind.

use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::{capture, s};

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
fn llm() -> Usage {
    Usage::new(1, 1)
}

#[ai_span(kind = "chat", model = "gpt-4o")]
fn chat() -> Usage {
    Usage::new(1, 1)
}

#[ai_span(kind = "completion", model = "gpt-3.5-turbo-instruct")]
fn completion() -> Usage {
    Usage::new(1, 1)
}

#[ai_span(kind = "embedding", model = "text-embedding-3-small")]
fn embed() -> Usage {
    Usage::new(1, 0)
}

#[ai_span(kind = "retrieval")]
fn search_chunks() -> Vec<u32> {
    vec![1, 2]
}

#[ai_span(kind = "tool")]
fn get_weather() -> &'static str {
    "sunny"
}

#[ai_span(kind = "agent")]
fn planner() {}

#[ai_span(kind = "workflow")]
fn rag_pipeline() {}

#[ai_span(kind = "rerank", model = "rerank-v3.5")]
fn rerank() {}

#[ai_span(kind = "guardrail")]
fn check_policy() -> bool {
    true
}

#[test]
fn each_kind_exports_its_operation_and_name() {
    let (_, captured) = capture(|| {
        llm();
        chat();
        completion();
        embed();
        search_chunks();
        get_weather();
        planner();
        rag_pipeline();
        rerank();
        check_policy();
    });
    let expected = [
        ("chat gpt-4o", "chat", 2),
        (
            "text_completion gpt-3.5-turbo-instruct",
            "text_completion",
            1,
        ),
        ("embeddings text-embedding-3-small", "embeddings", 1),
        ("retrieval search_chunks", "retrieval", 1),
        ("execute_tool get_weather", "execute_tool", 1),
        ("invoke_agent planner", "invoke_agent", 1),
        ("invoke_workflow rag_pipeline", "invoke_workflow", 1),
        ("rerank rerank-v3.5", "rerank", 1),
        ("guardrail check_policy", "guardrail", 1),
    ];
    for (name, operation, count) in expected {
        let spans = captured.spans_named(name);
        assert_eq!(spans.len(), count, "spans named `{name}`");
        for span in spans {
            assert_eq!(span.field("gen_ai.operation.name"), &s(operation), "{name}");
        }
    }
    assert_eq!(captured.spans.len(), 10, "one span per call, nothing else");
}

#[test]
fn model_calls_and_retrievals_are_client_spans_and_other_kinds_are_not() {
    let (_, captured) = capture(|| {
        llm();
        embed();
        search_chunks();
        get_weather();
        rerank();
    });
    assert_eq!(
        captured.span("chat gpt-4o").field("otel.kind"),
        &s("client")
    );
    assert_eq!(
        captured
            .span("embeddings text-embedding-3-small")
            .field("otel.kind"),
        &s("client")
    );
    // A retrieval queries a vector store or search service: a client span too.
    assert_eq!(
        captured.span("retrieval search_chunks").field("otel.kind"),
        &s("client")
    );
    for name in ["execute_tool get_weather", "rerank rerank-v3.5"] {
        assert_eq!(captured.span(name).get("otel.kind"), None, "{name}");
    }
}

#[test]
fn model_and_provider_are_recorded_at_creation() {
    let (_, captured) = capture(llm);
    let span = captured.span("chat gpt-4o");
    assert_eq!(span.field("gen_ai.request.model"), &s("gpt-4o"));
    assert_eq!(span.field("gen_ai.provider.name"), &s("openai"));
    let (_, captured) = capture(search_chunks);
    let span = captured.span("retrieval search_chunks");
    assert_eq!(span.get("gen_ai.request.model"), None);
    assert_eq!(span.get("gen_ai.provider.name"), None);
}

#[test]
fn every_attribute_the_layer_fills_is_declared_empty() {
    let (_, captured) = capture(search_chunks);
    let span = captured.span("retrieval search_chunks");
    for name in [
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "error.type",
        "gen_ai.usage.cost",
        "ai.cost.amount",
        "ai.cost.currency",
        "ai.cost.source",
        "ai.cost.unpriced",
        "ai.cache_hit",
        "ai.fallback.used",
        "ai.fallback.from",
        "tenant.id",
        "feature.id",
        "request.id",
        "user.id",
        "session.id",
        "otel.status_code",
        "otel.status_description",
    ] {
        assert!(span.declared.contains(&name), "`{name}` is not declared");
        assert_eq!(span.get(name), None, "`{name}` has a value at creation");
    }
    // What only a stream's wrapper records is declared by `stream` functions only; the finish
    // reasons, a list, go straight onto the OpenTelemetry span.
    for name in [
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.request.stream",
        "ai.stream.chunks",
        "ai.stream.cancelled",
        "gen_ai.response.finish_reasons",
    ] {
        assert!(!span.declared.contains(&name), "`{name}` is declared");
    }
}

#[test]
fn level_and_target_default_to_info_and_the_module_path() {
    let (_, captured) = capture(llm);
    let span = captured.span("chat gpt-4o");
    assert_eq!(span.level, tracing::Level::INFO);
    assert_eq!(span.target, "calls::kind");
}
