//! The provider's own figure (issue 37, item 3): a response that says what the call cost
//! (OpenRouter's `usage.cost`) is the call's cost, with `ai.cost.source = provider`; what the
//! layer's prices give the same call is beside it (`ai.cost.computed`), and the difference is
//! summed in `ai.client.cost.drift`, by model and provider, so that a stale table shows.

use opentelemetry::metrics::MeterProvider as _;
use serde::Deserialize;
use tracing_ai::{ai_span, AiLayer, ReportsUsage, Usage};
use tracing_ai_tests::metrics::{attrs, points};
use tracing_ai_tests::otel::{export_with, f64_attr, str_attr};

/// An OpenRouter chat completion's body, as its API documents it: OpenAI's shape, with the
/// call's cost in credits (USD) in `usage.cost`.
const OPENROUTER_BODY: &str = r#"{
  "id": "gen-1764000000-abc",
  "provider": "OpenAI",
  "model": "openai/gpt-4o-mini",
  "object": "chat.completion",
  "created": 1764000000,
  "choices": [{"index": 0, "finish_reason": "stop",
    "message": {"role": "assistant", "content": "A span is a unit of work."}}],
  "usage": {
    "prompt_tokens": 1000,
    "completion_tokens": 200,
    "total_tokens": 1200,
    "cost": 0.000285,
    "is_byok": false,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0}
  }
}"#;

/// The application's own type for the body, read with serde: its usage is the hook that
/// hands the provider's figure to the layer.
#[derive(Deserialize)]
struct Completion {
    id: String,
    model: String,
    usage: OpenRouterUsage,
}

#[derive(Deserialize)]
struct OpenRouterUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    cost: Option<f64>,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        let usage = Usage::new(self.usage.prompt_tokens, self.usage.completion_tokens)
            .with_response_model(self.model.clone())
            .with_response_id(self.id.clone());
        Some(match self.usage.cost {
            Some(usd) => usage.with_cost(usd),
            None => usage,
        })
    }
}

#[ai_span(kind = "llm", model = "openai/gpt-4o-mini", provider = "openrouter")]
fn ask(body: &str) -> Completion {
    serde_json::from_str(body).expect("an OpenRouter body")
}

/// OpenRouter charged $0.000285 for a call the genai-prices table prices at $0.00027
/// (1,000 input tokens at $0.15 and 200 output at $0.60 per million): the bill's figure is
/// the cost, the table's is beside it, and the $0.000015 between them is the drift, exactly.
#[test]
fn a_reported_cost_is_the_calls_cost_with_the_tables_price_beside_it() {
    for tracing_fields in [false, true] {
        let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
        let builder = AiLayer::builder()
            .with_meter(meters.meter("tracing-ai"))
            .with_tracing_fields(tracing_fields);
        let (_, exported) = export_with(builder, || {
            let _ = ask(OPENROUTER_BODY);
            let _ = ask(OPENROUTER_BODY);
        });
        meters.force_flush().expect("metrics flush");
        let spans: Vec<_> = exported
            .spans
            .iter()
            .filter(|span| span.name == "chat openai/gpt-4o-mini")
            .collect();
        assert_eq!(spans.len(), 2);
        for span in spans {
            assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.000285);
            assert_eq!(
                str_attr(span, "ai.cost.source").as_deref(),
                Some("provider")
            );
            assert_eq!(f64_attr(span, "ai.cost.computed"), 0.00027);
        }
        let drift = points(&metrics, "ai.client.cost.drift");
        let key = attrs(&[
            ("gen_ai.provider.name", "openrouter"),
            ("gen_ai.request.model", "openai/gpt-4o-mini"),
        ]);
        assert_eq!(
            drift.get(&key).map(|(usd, _)| *usd),
            Some(0.00003),
            "{drift:?}"
        );
    }
}

/// A call priced from the tables has nothing to drift from: no `ai.cost.computed`, no drift.
#[test]
fn a_call_without_a_reported_cost_has_no_drift() {
    let body = OPENROUTER_BODY.replace("\"cost\": 0.000285,", "");
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let builder = AiLayer::builder().with_meter(meters.meter("tracing-ai"));
    let (_, exported) = export_with(builder, || drop(ask(&body)));
    meters.force_flush().expect("metrics flush");
    let span = exported.span("chat openai/gpt-4o-mini");
    assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.00027);
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("genai-prices")
    );
    assert_eq!(tracing_ai_tests::otel::attr(span, "ai.cost.computed"), None);
    assert!(points(&metrics, "ai.client.cost.drift").is_empty());
}
