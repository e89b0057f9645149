//! User prices: per million tokens, per GPU-hour (the seed's self-hosted `llama-3.1-8b-fp8`),
//! in USD or GBP, and a reporting currency.

use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

#[ai_span(kind = "llm", model = "my-fine-tune", provider = "openai")]
fn fine_tune() -> Usage {
    Usage::new(50_000, 2_000)
        .with_cache_read(30_000)
        .with_cache_creation(10_000)
}

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
fn gpt_4o() -> Usage {
    Usage::new(1_000_000, 100_000)
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
fn self_hosted(busy: Duration, fail: bool) -> Result<Usage, String> {
    std::thread::sleep(busy);
    if fail {
        return Err("GPU out of memory".to_owned());
    }
    Ok(Usage::new(900, 300))
}

#[test]
fn a_token_price_override_prices_cached_tokens_at_their_own_rates() {
    let builder = AiLayer::builder().with_model_price(
        "my-fine-tune",
        ModelPrice::per_million_tokens(2.0, 8.0)
            .with_cache_read(0.5)
            .with_cache_write(2.5),
    );
    let (_, exported) = export_with(builder, fine_tune);
    let span = exported.span("chat my-fine-tune");
    // 10,000 uncached input at $2, 30,000 cache reads at $0.50, 10,000 cache writes at $2.50,
    // 2,000 output at $8, per million.
    let expected = (10_000.0 * 2.0 + 30_000.0 * 0.5 + 10_000.0 * 2.5 + 2_000.0 * 8.0) / 1e6;
    assert!((f64_attr(span, "gen_ai.usage.cost") - expected).abs() < 1e-15);
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("override")
    );
}

/// Another instrumentation's span that still names cache writes as semantic-conventions 1.42
/// did (`gen_ai.usage.cache_creation.input_tokens`) is priced as one that uses the current
/// name: the writes at the cache-write rate, not the input rate.
#[test]
fn cache_writes_under_the_previous_conventions_name_are_priced_as_cache_writes() {
    let builder = AiLayer::builder().with_model_price(
        "my-fine-tune",
        ModelPrice::per_million_tokens(2.0, 8.0).with_cache_write(2.5),
    );
    let (_, exported) = export_with(builder, || {
        let span = tracing::info_span!(
            "chat my-fine-tune",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = "my-fine-tune",
            gen_ai.usage.input_tokens = 50_000_i64,
            gen_ai.usage.output_tokens = 2_000_i64,
            gen_ai.usage.cache_creation.input_tokens = 10_000_i64,
        );
        drop(span);
    });
    let span = exported.span("chat my-fine-tune");
    // 40,000 input at $2, 10,000 cache writes at $2.50, 2,000 output at $8, per million:
    // $0.121, where writes priced as input would make $0.116.
    assert!((f64_attr(span, "gen_ai.usage.cost") - 0.121).abs() < 1e-12);
}

#[test]
fn an_override_wins_over_the_genai_prices_data() {
    let negotiated = ModelPrice::per_million_tokens(1.0, 4.0);
    let (_, exported) = export_with(
        AiLayer::builder().with_model_price("gpt-4o", negotiated),
        gpt_4o,
    );
    let span = exported.span("chat gpt-4o");
    assert!((f64_attr(span, "gen_ai.usage.cost") - (1.0 + 0.4)).abs() < 1e-12);
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("override")
    );
}

/// The exported span's own duration, in hours.
fn hours(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
        .as_secs_f64()
        / 3600.0
}

#[test]
fn a_gpu_hour_price_costs_the_call_its_duration() {
    let builder =
        AiLayer::builder().with_model_price("llama-3.1-8b-fp8", ModelPrice::per_gpu_hour(3.60));
    let (_, exported) = export_with(builder, || {
        self_hosted(Duration::from_millis(200), false).expect("served");
    });
    let span = exported.span("chat llama-3.1-8b-fp8");
    let cost = f64_attr(span, "gen_ai.usage.cost");
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("self-hosted")
    );
    // $3.60 an hour is $0.001 a second: 200 ms is $0.0002, give or take the few
    // microseconds between the span's clock and OpenTelemetry's.
    let by_duration = 3.60 * hours(span);
    assert!(
        (cost - by_duration).abs() < 3.60 * 0.005 / 3600.0,
        "{cost} vs {by_duration}"
    );
    assert!((0.0002..0.0003).contains(&cost), "{cost}");
}

#[test]
fn a_failed_self_hosted_call_still_cost_its_gpu_time() {
    let builder =
        AiLayer::builder().with_model_price("llama-3.1-8b-fp8", ModelPrice::per_gpu_hour(3.60));
    let (_, exported) = export_with(builder, || {
        let _ = self_hosted(Duration::from_millis(50), true);
    });
    let span = exported.span("chat llama-3.1-8b-fp8");
    assert!(f64_attr(span, "gen_ai.usage.cost") >= 3.60 * 0.05 / 3600.0);
    assert_eq!(
        str_attr(span, "error.type").as_deref(),
        Some("alloc::string::String")
    );
}

#[test]
fn a_reporting_currency_exports_the_amount_beside_usd() {
    let builder = AiLayer::builder().with_reporting_currency("GBP", 0.79);
    let (_, exported) = export_with(builder, gpt_4o);
    let span = exported.span("chat gpt-4o");
    // gpt-4o: $2.50 / M input, $10 / M output.
    let usd = 2.5 + 1.0;
    assert!((f64_attr(span, "gen_ai.usage.cost") - usd).abs() < 1e-12);
    assert!((f64_attr(span, "ai.cost.amount") - usd * 0.79).abs() < 1e-12);
    assert_eq!(str_attr(span, "ai.cost.currency").as_deref(), Some("GBP"));
}

#[test]
fn a_gpu_price_in_gbp_converts_to_usd() {
    let builder = AiLayer::builder()
        .with_model_price(
            "llama-3.1-8b-fp8",
            ModelPrice::per_gpu_hour(1.58).in_currency("GBP"),
        )
        .with_reporting_currency("GBP", 0.79);
    let (_, exported) = export_with(builder, || {
        self_hosted(Duration::from_millis(100), false).expect("served");
    });
    let span = exported.span("chat llama-3.1-8b-fp8");
    let gbp = f64_attr(span, "ai.cost.amount");
    let usd = f64_attr(span, "gen_ai.usage.cost");
    // £1.58 an hour is $2.00 an hour at 0.79 GBP per USD.
    assert!((usd - gbp / 0.79).abs() < 1e-15);
    assert!(
        (gbp - 1.58 * hours(span)).abs() < 1.58 * 0.005 / 3600.0,
        "{gbp}"
    );
    assert_eq!(str_attr(span, "ai.cost.currency").as_deref(), Some("GBP"));
}

#[test]
fn usd_reporting_adds_no_amount() {
    let (_, exported) = export_with(AiLayer::builder(), gpt_4o);
    let span = exported.span("chat gpt-4o");
    assert_eq!(attr(span, "ai.cost.amount"), None);
    assert_eq!(attr(span, "ai.cost.currency"), None);
}

#[test]
fn invalid_configuration_is_an_error_that_says_what_to_change() {
    let message = |builder: tracing_ai::AiLayerBuilder| {
        builder
            .build()
            .expect_err("the configuration is invalid")
            .to_string()
    };
    let negative = message(
        AiLayer::builder().with_model_price("m", ModelPrice::per_million_tokens(1.0, -2.0)),
    );
    assert_eq!(
        negative,
        "the `output` price of model `m` is -2; a price must be a finite number, zero or more"
    );
    let nan = message(AiLayer::builder().with_model_price("m", ModelPrice::per_gpu_hour(f64::NAN)));
    assert!(
        nan.contains("`gpu_hour` price of model `m` is NaN"),
        "{nan}"
    );
    let no_rate = message(
        AiLayer::builder().with_model_price("m", ModelPrice::per_gpu_hour(1.0).in_currency("EUR")),
    );
    assert!(no_rate.contains("no exchange rate for EUR"), "{no_rate}");
    assert!(no_rate.contains(".with_exchange_rate(\"EUR\""), "{no_rate}");
    let bad_code = message(AiLayer::builder().with_reporting_currency("pounds", 0.79));
    assert!(
        bad_code.contains("`pounds` is not a currency code"),
        "{bad_code}"
    );
    let bad_rate = message(AiLayer::builder().with_reporting_currency("GBP", 0.0));
    assert!(bad_rate.contains("exchange rate of GBP is 0"), "{bad_rate}");
    // With the rate, EUR prices work.
    assert!(AiLayer::builder()
        .with_model_price("m", ModelPrice::per_gpu_hour(1.0).in_currency("EUR"))
        .with_exchange_rate("EUR", 0.92)
        .build()
        .is_ok());
}
