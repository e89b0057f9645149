//! Numbers that cannot be money are never exported as costs (issue 12): a price that overflows,
//! a recorded cost of NaN, counts at `u64::MAX`. Each call is flagged `ai.cost.unpriced`
//! instead, counted as unpriced, and the request's roll-up stays a finite sum.

use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

#[ai_span(kind = "llm", model = "huge", provider = "self-hosted")]
fn huge() -> Usage {
    Usage::new(2_000_000, 1_000_000)
}

/// A call whose cost another library recorded on its own span (`Usage::with_cost` drops a
/// bad amount before it is recorded).
fn reported(usd: f64) {
    let span = tracing::info_span!(
        "chat gpt-4o-mini",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.usage.cost = tracing::field::Empty,
    );
    span.record("gen_ai.usage.cost", usd);
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn normal() -> Usage {
    // $0.15 / M input, $0.60 / M output: $0.00021.
    Usage::new(1_000, 100)
}

#[ai_span(kind = "llm", model = "counted-out", provider = "self-hosted")]
fn at_the_limit() -> Usage {
    Usage::new(u64::MAX, u64::MAX)
        .with_cache_read(u64::MAX)
        .with_cache_creation(u64::MAX)
        .with_reasoning(u64::MAX)
}

fn unpriced(span: &opentelemetry_sdk::trace::SpanData) -> String {
    str_attr(span, "ai.cost.unpriced")
        .unwrap_or_else(|| panic!("`{}` is not flagged: {:#?}", span.name, span.attributes))
        .into_owned()
}

#[test]
fn a_price_that_overflows_is_flagged_not_infinite() {
    let layer =
        AiLayer::builder().with_model_price("huge", ModelPrice::per_million_tokens(1e308, 1e308));
    let (_, exported) = export_with(layer, || {
        let _request = tracing::info_span!("request").entered();
        huge();
        normal();
    });
    let span = exported.span("chat huge");
    assert_eq!(attr(span, "gen_ai.usage.cost"), None);
    assert!(unpriced(span).contains("not an amount of money"));
    let request = exported.span("request");
    assert!((f64_attr(request, "ai.request.cost") - 0.00021).abs() < 1e-12);
    assert_eq!(
        attr(request, "ai.request.unpriced_calls"),
        Some(&1_i64.into())
    );
}

#[test]
fn a_recorded_cost_that_is_not_a_number_is_flagged_and_left_out_of_the_sum() {
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        let (_, exported) = export_with(AiLayer::builder(), || {
            let _request = tracing::info_span!("request").entered();
            reported(bad);
            reported(0.5);
        });
        let spans = exported.spans_named("chat gpt-4o-mini");
        let flagged: Vec<_> = spans
            .iter()
            .filter(|span| attr(span, "ai.cost.unpriced").is_some())
            .collect();
        assert_eq!(flagged.len(), 1, "{bad}");
        assert!(unpriced(flagged[0]).contains("not an amount of money"));
        let request = exported.span("request");
        assert_eq!(f64_attr(request, "ai.request.cost"), 0.5, "{bad}");
        assert_eq!(
            attr(request, "ai.request.unpriced_calls"),
            Some(&1_i64.into())
        );
    }
}

#[test]
fn counts_at_the_limit_of_u64_neither_panic_nor_overflow() {
    let layer = AiLayer::builder().with_model_price(
        "counted-out",
        ModelPrice::per_million_tokens(1.0, 2.0)
            .with_cache_read(0.5)
            .with_cache_write(1.5),
    );
    let (_, exported) = export_with(layer, || {
        let _request = tracing::info_span!("request").entered();
        at_the_limit();
        at_the_limit();
    });
    let calls = exported.spans_named("chat counted-out");
    assert_eq!(calls.len(), 2);
    for span in calls {
        // Twice u64::MAX cached in u64::MAX input: the counts are not the conventions' way.
        assert!(
            unpriced(span).contains("exceed gen_ai.usage.input_tokens"),
            "{:#?}",
            span.attributes
        );
        assert_eq!(
            attr(span, "gen_ai.usage.input_tokens"),
            Some(&i64::MAX.into())
        );
    }
    let request = exported.span("request");
    assert_eq!(
        attr(request, "ai.request.input_tokens"),
        Some(&i64::MAX.into())
    );
}
