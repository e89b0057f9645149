//! rig-core's own GenAI spans (0.44, the last release that builds on Rust 1.95), made and
//! recorded by rig's telemetry code exactly as its providers do: the layer prices and
//! attributes them with no annotation (issue 11). rig names the fields the GenAI conventions'
//! way (input tokens include the cached ones), except `gen_ai.usage.reasoning_tokens`, which
//! the layer reads too.

use rig_core::completion::Usage;
use rig_core::telemetry::{GenAiOperation, SpanBuilder, SpanCombinator as _};
use tracing_ai::{AiLayer, ModelPrice};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

/// What a rig provider does around one request: its span, then the response recorded on it.
fn rig_call(provider: &str, model: &str, response_model: &str, usage: Usage) {
    let span = SpanBuilder::new(provider, model, GenAiOperation::Chat).build();
    span.record_response(Some("chatcmpl-rig"), Some(response_model), &usage);
}

#[test]
fn rig_spans_are_priced_and_attributed_without_an_annotation() {
    let (_, exported) = export_with(
        AiLayer::builder().with_model_price(
            "claude-sonnet-4-5",
            ModelPrice::per_million_tokens(3.0, 15.0)
                .with_cache_read(0.30)
                .with_cache_write(3.75),
        ),
        || {
            let request = tracing::info_span!("ask", tenant.id = "acme", feature.id = "chat");
            let _entered = request.enter();
            // gpt-4o-mini: 1,850 input tokens of which 1,536 cached, 120 output.
            rig_call(
                "openai",
                "gpt-4o-mini",
                "gpt-4o-mini-2024-07-18",
                Usage::new()
                    .input_tokens(1_850)
                    .cached_input_tokens(1_536)
                    .output_tokens(120)
                    .reasoning_tokens(0),
            );
            // 10,000 input tokens, of which 2,000 read from the cache and 4,000 written to it;
            // 500 output, 200 of them reasoning.
            rig_call(
                "anthropic",
                "claude-sonnet-4-5",
                "claude-sonnet-4-5",
                Usage::new()
                    .input_tokens(10_000)
                    .cached_input_tokens(2_000)
                    .cache_creation_input_tokens(4_000)
                    .output_tokens(500)
                    .reasoning_tokens(200),
            );
        },
    );
    let chats = exported.spans_named("chat");
    assert_eq!(chats.len(), 2, "{:#?}", exported.spans);
    let by_provider = |provider: &str| {
        *chats
            .iter()
            .find(|span| str_attr(span, "gen_ai.provider.name").as_deref() == Some(provider))
            .unwrap_or_else(|| panic!("rig's {provider} span"))
    };
    let openai = by_provider("openai");
    assert!(
        (f64_attr(openai, "gen_ai.usage.cost") - 0.0002343).abs() < 1e-12,
        "{:#?}",
        openai.attributes
    );
    let anthropic = by_provider("anthropic");
    // 4,000 uncached x $3 + 2,000 read x $0.30 + 4,000 written x $3.75 + 500 out x $15, per M.
    let expected = (4_000.0 * 3.0 + 2_000.0 * 0.30 + 4_000.0 * 3.75 + 500.0 * 15.0) / 1e6;
    assert!(
        (f64_attr(anthropic, "gen_ai.usage.cost") - expected).abs() < 1e-12,
        "{:#?}",
        anthropic.attributes
    );
    assert_eq!(
        str_attr(anthropic, "ai.cost.source").as_deref(),
        Some("override")
    );
    for span in [openai, anthropic] {
        assert_eq!(str_attr(span, "tenant.id").as_deref(), Some("acme"));
        assert_eq!(str_attr(span, "feature.id").as_deref(), Some("chat"));
        assert_eq!(attr(span, "ai.cost.unpriced"), None);
    }
    let ask = exported.span("ask");
    assert!(
        (f64_attr(ask, "ai.request.cost") - (0.0002343 + expected)).abs() < 1e-12,
        "{:#?}",
        ask.attributes
    );
    assert_eq!(attr(ask, "ai.request.ai_calls"), Some(&2_i64.into()));
}

#[test]
fn a_rig_call_that_reports_no_usage_is_flagged_not_free() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        rig_call("openai", "gpt-4o-mini", "gpt-4o-mini", Usage::new());
    });
    let span = exported.span("chat");
    assert_eq!(attr(span, "gen_ai.usage.cost"), None);
    assert!(str_attr(span, "ai.cost.unpriced").is_some());
}
