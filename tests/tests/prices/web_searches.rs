//! Web searches a model makes on the provider's side, billed per thousand beside the tokens
//! (issue 37, item 4): Anthropic's $10 per thousand searches, in the genai-prices data, or your
//! own price per thousand. claude-sonnet-4-5: $3 in and $15 out per million tokens.

use crate::anthropic::Message;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

/// A Messages API response of a call that used the web search tool, as Anthropic documents it.
const ANTHROPIC_BODY: &str = r#"{
  "id": "msg_01Aq9w938a90dw8q",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "opentelemetry genai conventions"}},
    {"type": "text", "text": "The conventions name the token counts..."}
  ],
  "stop_reason": "end_turn",
  "usage": {
    "input_tokens": 4000,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 600,
    "server_tool_use": {"web_search_requests": 3}
  }
}"#;

#[ai_span(kind = "llm", model = "claude-sonnet-4-5", provider = "anthropic")]
fn research() -> Message {
    Message::parse(ANTHROPIC_BODY)
}

#[ai_span(kind = "llm", model = "claude-sonnet-4-5", provider = "anthropic")]
fn answer() -> Usage {
    Usage::new(4_000, 600)
}

fn exported(
    builder: tracing_ai::AiLayerBuilder,
    tracing_fields: bool,
    call: impl FnOnce(),
) -> opentelemetry_sdk::trace::SpanData {
    let (_, exported) = export_with(builder.with_tracing_fields(tracing_fields), call);
    exported.span("chat claude-sonnet-4-5").clone()
}

#[track_caller]
fn assert_cost(span: &opentelemetry_sdk::trace::SpanData, usd: f64) {
    let cost = f64_attr(span, "gen_ai.usage.cost");
    assert!((cost - usd).abs() < 1e-12, "{cost} != {usd}");
}

/// 4,000 × $3 + 600 × $15 per million is $0.021; three searches add $0.03.
#[test]
fn web_searches_cost_what_the_provider_bills_beside_the_tokens() {
    for tracing_fields in [false, true] {
        let span = exported(AiLayer::builder(), tracing_fields, || drop(research()));
        assert_cost(&span, 0.051);
        assert_eq!(
            str_attr(&span, "ai.cost.source").as_deref(),
            Some("genai-prices")
        );
        assert_eq!(
            attr(&span, "ai.usage.web_searches"),
            Some(&opentelemetry::Value::I64(3))
        );
        // Not tokens: the input and output are what the model read and wrote.
        assert_eq!(
            attr(&span, "gen_ai.usage.input_tokens"),
            Some(&opentelemetry::Value::I64(4_000))
        );

        // Without searches, the tokens alone, and no count of them on the span.
        let span = exported(AiLayer::builder(), tracing_fields, || drop(answer()));
        assert_cost(&span, 0.021);
        assert_eq!(attr(&span, "ai.usage.web_searches"), None);
    }
}

/// Your own price per thousand searches: $2 and $10 per million tokens and $25 per thousand
/// searches is $0.014 + $0.075; without a search price, searches cost nothing.
#[test]
fn your_own_price_per_thousand_searches() {
    let negotiated = ModelPrice::per_million_tokens(2.0, 10.0);
    for (price, usd) in [
        (negotiated.clone().with_web_searches(25.0), 0.089),
        (negotiated, 0.014),
    ] {
        let builder = AiLayer::builder().with_model_price("claude-sonnet-4-5", price);
        let span = exported(builder, false, || drop(research()));
        assert_cost(&span, usd);
    }
    let file = r#"
[models."claude-sonnet-4-5"]
input = 2.0
output = 10.0
web_searches = 25.0
"#;
    let span = exported(AiLayer::builder().with_prices_toml(file), false, || {
        drop(research())
    });
    assert_cost(&span, 0.089);

    let negative = AiLayer::builder()
        .with_model_price(
            "claude-sonnet-4-5",
            ModelPrice::per_million_tokens(2.0, 10.0).with_web_searches(-25.0),
        )
        .build()
        .expect_err("a negative price is refused");
    assert_eq!(
        negative.to_string(),
        "the `web_searches` price of model `claude-sonnet-4-5` is -25; a price must be a \
         finite number, zero or more"
    );
}
