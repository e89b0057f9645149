//! Long-context tiers priced as the providers bill them (issue 37, item 2): once a request's
//! input crosses the threshold, every token of the call is priced at the higher tier, not only
//! the tokens above it. gpt-5.4 in the genai-prices data, as OpenAI's table gives it: $2.50 in
//! and $15 out per million up to 272,000 input tokens, $5 and $22.50 past them; flex half. And
//! the Batch API's price (item 1).

use tracing_ai::{ai_span, AiLayer, RequestParameters, Usage};
use tracing_ai_tests::otel::{export_with, f64_attr, str_attr};

#[ai_span(kind = "llm", model = "gpt-5.4", provider = "openai")]
fn long_context(input: u64) -> Usage {
    Usage::new(input, 1_000)
}

/// The same call, answered by the flex tier.
#[ai_span(kind = "llm", model = "gpt-5.4", provider = "openai")]
fn long_context_flex(input: u64) -> Usage {
    Usage::new(input, 1_000).with_service_tier("flex")
}

struct FlexRequest;

impl tracing_ai::ReportsParameters for FlexRequest {
    fn request_parameters(&self) -> RequestParameters {
        RequestParameters::default().with_service_tier("flex")
    }
}

/// Asked for flex; the response does not say which tier served it.
#[ai_span(kind = "llm", model = "gpt-5.4", provider = "openai", parameters = request)]
fn long_context_asked_flex(request: &FlexRequest, input: u64) -> Usage {
    let _ = request;
    Usage::new(input, 1_000)
}

fn cost_of(call: impl FnOnce()) -> (f64, Option<String>) {
    let (_, exported) = export_with(AiLayer::builder(), call);
    let span = exported.span("chat gpt-5.4");
    (
        f64_attr(span, "gen_ai.usage.cost"),
        str_attr(span, "ai.cost.price_context").map(String::from),
    )
}

fn assert_cost(call: impl FnOnce(), expected: f64, context: Option<&str>) {
    let (cost, priced_by) = cost_of(call);
    assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");
    assert_eq!(priced_by.as_deref(), context);
}

#[test]
fn at_the_threshold_every_token_is_at_the_base_price() {
    // 272,000 × $2.50 + 1,000 × $15, per million.
    assert_cost(|| drop(long_context(272_000)), 0.695, None);
}

#[test]
fn one_token_past_it_every_token_is_at_the_higher_tier() {
    // 272,001 × $5 + 1,000 × $22.50, per million: not 272,000 × $2.50 + 1 × $5 + ...
    assert_cost(|| drop(long_context(272_001)), 1.382505, None);
}

#[test]
fn a_service_tier_and_a_context_tier_combine() {
    // Flex past the threshold: 272,001 × $2.50 + 1,000 × $11.25, per million.
    let flex = 0.6912525;
    assert_cost(
        || drop(long_context_flex(272_001)),
        flex,
        Some("service_tier=flex"),
    );
    // The tier asked for prices the call when the response does not say.
    assert_cost(
        || drop(long_context_asked_flex(&FlexRequest, 272_001)),
        flex,
        Some("service_tier=flex"),
    );
    // Under the threshold: 272,000 × $1.25 + 1,000 × $7.50.
    assert_cost(
        || drop(long_context_flex(272_000)),
        0.3475,
        Some("service_tier=flex"),
    );
}

/// A line of a Batch API's results: 1,000,000 tokens in and 100,000 out on gpt-5.
#[ai_span(kind = "llm", model = "gpt-5", provider = "openai")]
fn batch_result() -> Usage {
    Usage::new(1_000_000, 100_000).with_batch()
}

/// A call made through the Batch API is priced at the batch price (gpt-5: $0.625 in and $5 out
/// per million, half the standard $1.25 and $10), says so, and says what selected its price,
/// whether the layer writes onto the OpenTelemetry span or reads `tracing` fields.
#[test]
fn a_batch_call_is_priced_at_the_batch_price() {
    for tracing_fields in [false, true] {
        let builder = AiLayer::builder().with_tracing_fields(tracing_fields);
        let (_, exported) = export_with(builder, || drop(batch_result()));
        let span = exported.span("chat gpt-5");
        let cost = f64_attr(span, "gen_ai.usage.cost");
        assert!((cost - 1.125).abs() < 1e-12, "{cost}");
        assert_eq!(
            tracing_ai_tests::otel::attr(span, "ai.request.batch"),
            Some(&opentelemetry::Value::Bool(true))
        );
        assert_eq!(
            str_attr(span, "ai.cost.price_context").as_deref(),
            Some("processing=batch")
        );
    }
}
