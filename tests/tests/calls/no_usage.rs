//! No call to a model is exported as free: one that ends without usage and without a provider
//! cost carries `ai.cost.unpriced` with the likely cause, counts in its request's
//! `ai.request.unpriced_calls`, and is warned about once per callsite (issue 11).

use opentelemetry_sdk::trace::SpanData;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, export_with_layer, f64_attr, str_attr, Exported};
use tracing_ai_tests::WarnCounter;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn no_usage() -> Option<Usage> {
    None
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn failed() -> Result<Usage, String> {
    Err("429 Too Many Requests".to_owned())
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn provider_cost_only() -> Usage {
    Usage::default().with_cost(0.25)
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
fn self_hosted() -> Option<Usage> {
    None
}

#[ai_span(kind = "retrieval")]
fn retrieve() -> Vec<u8> {
    Vec::new()
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(opentelemetry::Value::I64(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}", span.name),
    }
}

fn unpriced_reason(exported: &Exported, name: &str) -> String {
    let span = exported.span(name);
    assert_eq!(
        attr(span, "gen_ai.usage.cost"),
        None,
        "`{name}` must not cost 0"
    );
    str_attr(span, "ai.cost.unpriced")
        .unwrap_or_else(|| panic!("`{name}` says why it has no cost: {:#?}", span.attributes))
        .into_owned()
}

#[test]
fn a_call_without_usage_is_unpriced_counted_and_warned_about_once() {
    let warnings = WarnCounter::default();
    let (_, exported) = export_with_layer(AiLayer::builder(), warnings.clone(), || {
        tracing::info_span!("request").in_scope(|| {
            for _ in 0..3 {
                no_usage();
            }
        });
    });
    for call in exported.spans_named("chat gpt-4o-mini") {
        let reason = str_attr(call, "ai.cost.unpriced").expect("unpriced");
        assert!(reason.contains("reported no token usage"), "{reason}");
        assert!(reason.contains("ReportsUsage"), "{reason}");
        assert_eq!(attr(call, "gen_ai.usage.cost"), None);
    }
    let root = exported.span("request");
    assert_eq!(int(root, "ai.request.ai_calls"), 3);
    assert_eq!(int(root, "ai.request.unpriced_calls"), 3);
    assert_eq!(warnings.count(), 1, "one warning for the callsite");
}

#[test]
fn a_failed_call_without_usage_says_it_failed() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        let _ = failed();
    });
    let reason = unpriced_reason(&exported, "chat gpt-4o-mini");
    assert!(reason.contains("failed before it reported"), "{reason}");
}

#[test]
fn a_stream_without_usage_points_at_include_usage() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing::info_span!(
            "chat gpt-4o-mini",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = "gpt-4o-mini",
            gen_ai.request.stream = true,
        )
        .in_scope(|| ());
    });
    let reason = unpriced_reason(&exported, "chat gpt-4o-mini");
    assert!(reason.contains("include_usage"), "{reason}");
}

#[test]
fn a_provider_cost_or_a_gpu_price_is_enough() {
    let (_, exported) = export_with(
        AiLayer::builder().with_model_price("llama-3.1-8b-fp8", ModelPrice::per_gpu_hour(1.0)),
        || {
            provider_cost_only();
            self_hosted();
            retrieve();
        },
    );
    let hosted = exported.span("chat gpt-4o-mini");
    assert_eq!(f64_attr(hosted, "gen_ai.usage.cost"), 0.25);
    assert_eq!(attr(hosted, "ai.cost.unpriced"), None);
    let local = exported.span("chat llama-3.1-8b-fp8");
    assert!(f64_attr(local, "gen_ai.usage.cost") >= 0.0);
    assert_eq!(attr(local, "ai.cost.unpriced"), None);
    // Not a call to a model: neither a cost nor "unpriced".
    let retrieval = exported.span("retrieval retrieve");
    assert_eq!(attr(retrieval, "gen_ai.usage.cost"), None);
    assert_eq!(attr(retrieval, "ai.cost.unpriced"), None);
}
