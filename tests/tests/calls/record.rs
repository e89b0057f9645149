//! `record_cache_hit` and `record_fallback` reach the innermost enclosing AI span.

use tracing_ai::{ai_span, record_cache_hit, record_fallback, CacheHit, Usage};
use tracing_ai_tests::{capture, capture_async, s, FieldValue};

#[ai_span(kind = "retrieval")]
fn retrieve(hit: CacheHit) -> Vec<u8> {
    // Deep inside a non-AI span of the retrieval: the fact still belongs to the retrieval.
    tracing::info_span!("vector_db.query").in_scope(|| {
        tracing::info_span!("decode").in_scope(|| record_cache_hit(hit));
    });
    vec![]
}

#[test]
fn cache_hit_goes_to_the_enclosing_ai_span_not_the_current_one() {
    let (_, captured) =
        capture(|| tracing::info_span!("rag.query").in_scope(|| retrieve(CacheHit::Semantic)));
    assert_eq!(
        captured.span("retrieval retrieve").field("ai.cache_hit"),
        &s("semantic")
    );
    for other in ["rag.query", "vector_db.query", "decode"] {
        assert_eq!(captured.span(other).get("ai.cache_hit"), None, "{other}");
    }
}

#[test]
fn each_cache_outcome_has_its_value() {
    let (_, captured) = capture(|| {
        retrieve(CacheHit::Prefix);
        retrieve(CacheHit::Miss);
    });
    let values: Vec<_> = captured
        .spans_named("retrieval retrieve")
        .iter()
        .map(|span| span.field("ai.cache_hit").clone())
        .collect();
    assert_eq!(values, [s("prefix"), s("miss")]);
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
async fn generate_local(fail: bool) -> Result<Usage, String> {
    tokio::task::yield_now().await;
    if fail {
        Err("GPU out of memory".to_owned())
    } else {
        Ok(Usage::new(10, 10))
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate_hosted() -> Result<Usage, String> {
    record_fallback("llama-3.1-8b-fp8");
    tokio::task::yield_now().await;
    Ok(Usage::new(10, 12))
}

#[ai_span(kind = "workflow")]
async fn generate(fail_local: bool) -> Result<Usage, String> {
    match generate_local(fail_local).await {
        Ok(usage) => Ok(usage),
        Err(_) => generate_hosted().await,
    }
}

#[test]
fn fallback_marks_the_call_that_served_and_names_the_model_that_failed() {
    let (_, captured) = capture_async(async {
        generate(true).await.expect("the fallback serves");
    });
    let hosted = captured.span("chat gpt-4o-mini");
    assert_eq!(hosted.field("ai.fallback.used"), &FieldValue::Bool(true));
    assert_eq!(hosted.field("ai.fallback.from"), &s("llama-3.1-8b-fp8"));
    let local = captured.span("chat llama-3.1-8b-fp8");
    assert_eq!(local.get("ai.fallback.used"), None);
    assert_eq!(local.field("otel.status_code"), &s("ERROR"));
    assert_eq!(
        captured
            .span("invoke_workflow generate")
            .get("ai.fallback.used"),
        None
    );
}

#[test]
fn no_fallback_no_mark() {
    let (_, captured) = capture_async(generate(false));
    assert_eq!(
        captured
            .span("chat llama-3.1-8b-fp8")
            .get("ai.fallback.used"),
        None
    );
    assert!(captured.spans_named("chat gpt-4o-mini").is_empty());
}

#[test]
fn outside_any_ai_span_nothing_is_recorded_and_nothing_breaks() {
    let (_, captured) = capture(|| {
        record_cache_hit(CacheHit::Miss);
        tracing::info_span!("plain").in_scope(|| record_fallback("x"));
    });
    let plain = captured.span("plain");
    assert!(plain.fields.is_empty(), "{:?}", plain.fields);
    // And with no subscriber at all.
    record_cache_hit(CacheHit::Prefix);
    record_fallback("y");
}

#[test]
fn a_hand_written_ai_span_receives_the_facts_it_declares() {
    let (_, captured) = capture(|| {
        let span = tracing::info_span!(
            "my.llm.call",
            { tracing_ai::attr::GEN_AI_OPERATION_NAME } = "chat",
            { tracing_ai::attr::AI_CACHE_HIT } = tracing::field::Empty,
        );
        span.in_scope(|| {
            record_cache_hit(CacheHit::Prefix);
            record_fallback("not declared, so not recorded");
        });
    });
    let span = captured.span("my.llm.call");
    assert_eq!(span.field("ai.cache_hit"), &s("prefix"));
    assert_eq!(span.get("ai.fallback.used"), None);
}
