//! One-hour cache writes priced as Anthropic bills them (issue 37, item 1): writes kept an hour
//! cost more than the five-minute ones (claude-haiku-4-5: $2 against $1.25 per million), and a
//! call that did both is priced at each.

use crate::anthropic::Message;
use tracing_ai::{ai_span, AiLayer, ModelPrice};
use tracing_ai_tests::otel::{attr, export_with, f64_attr};

/// A Messages API response's body, as Anthropic documents it: `input_tokens` leaves out the
/// cached tokens, `cache_creation` splits the writes by how long they are kept.
const ANTHROPIC_BODY: &str = r#"{
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
  "type": "message",
  "role": "assistant",
  "model": "claude-haiku-4-5-20251001",
  "content": [{"type": "text", "text": "A span is a unit of work."}],
  "stop_reason": "end_turn",
  "usage": {
    "input_tokens": 2000,
    "cache_creation_input_tokens": 10000,
    "cache_read_input_tokens": 20000,
    "output_tokens": 500,
    "cache_creation": {"ephemeral_5m_input_tokens": 4000, "ephemeral_1h_input_tokens": 6000}
  }
}"#;

#[ai_span(kind = "llm", model = "claude-haiku-4-5", provider = "anthropic")]
fn ask() -> Message {
    Message::parse(ANTHROPIC_BODY)
}

/// 2,000 uncached input tokens at $1, 4,000 five-minute writes at $1.25, 6,000 one-hour writes
/// at $2, 20,000 cache reads at $0.10 and 500 output tokens at $5, per million: $0.0235, where
/// every write at the five-minute price would make $0.019.
#[test]
fn one_hour_cache_writes_cost_the_one_hour_price() {
    for tracing_fields in [false, true] {
        let builder = AiLayer::builder().with_tracing_fields(tracing_fields);
        let (_, exported) = export_with(builder, || drop(ask()));
        let span = exported.span("chat claude-haiku-4-5");
        let cost = f64_attr(span, "gen_ai.usage.cost");
        assert!((cost - 0.0235).abs() < 1e-12, "{cost}");
        assert_eq!(
            attr(span, "ai.usage.cache_write_1h.input_tokens"),
            Some(&opentelemetry::Value::I64(6_000))
        );
        assert_eq!(
            attr(span, "gen_ai.usage.cache_write.input_tokens"),
            Some(&opentelemetry::Value::I64(10_000))
        );
    }
}

/// Your own price for the one-hour writes; without one, they cost your cache-write price.
#[test]
fn a_price_of_your_own_sets_the_one_hour_writes_apart() {
    let negotiated = ModelPrice::per_million_tokens(0.8, 4.0)
        .with_cache_read(0.08)
        .with_cache_write(1.0);
    for (price, expected) in [
        // 2,000 × 0.8 + 4,000 × 1.0 + 6,000 × 1.6 + 20,000 × 0.08 + 500 × 4.
        (negotiated.clone().with_cache_write_1h(1.6), 0.0188),
        // The one-hour writes at the cache-write price: 6,000 × 1.0.
        (negotiated, 0.0152),
    ] {
        let builder = AiLayer::builder().with_model_price("claude-haiku-4-5", price);
        let (_, exported) = export_with(builder, || drop(ask()));
        let cost = f64_attr(exported.span("chat claude-haiku-4-5"), "gen_ai.usage.cost");
        assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");
    }
}
