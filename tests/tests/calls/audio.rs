//! Audio tokens: exported as counts of their own, and priced at the model's audio rates (the
//! genai-prices data's, or the user's), each token once.

use opentelemetry::Value;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

/// 1,000 tokens in, 400 of them audio; 100 out.
#[ai_span(kind = "llm", model = "gemini-2.5-flash", provider = "gcp.gemini")]
fn listen() -> Usage {
    Usage::new(1_000, 100).with_audio_input(400)
}

/// 1,000 tokens in (300 audio, 200 cached), 100 out (40 audio).
#[ai_span(kind = "llm", model = "my-voice-model", provider = "self-hosted")]
fn speak() -> Usage {
    Usage::new(1_000, 100)
        .with_cache_read(200)
        .with_audio_input(300)
        .with_audio_output(40)
}

/// More audio and cached tokens than input tokens: the provider's way of counting, not ours.
#[ai_span(kind = "llm", model = "my-voice-model", provider = "self-hosted")]
fn miscounted() -> Usage {
    Usage::new(1_000, 100)
        .with_cache_read(800)
        .with_audio_input(300)
}

#[test]
fn audio_input_is_priced_at_the_published_audio_rate() {
    let (_, exported) = export_with(AiLayer::builder(), listen);
    let span = exported.span("chat gemini-2.5-flash");
    assert_eq!(
        attr(span, "ai.usage.audio.input_tokens"),
        Some(&Value::I64(400))
    );
    assert_eq!(attr(span, "ai.usage.audio.output_tokens"), None);
    // Google's published prices for gemini-2.5-flash, per million tokens: text input $0.30,
    // audio input $1.00, output $2.50.
    let expected = 600.0 * 0.30e-6 + 400.0 * 1.00e-6 + 100.0 * 2.50e-6;
    assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.00083);
    assert!((expected - 0.00083_f64).abs() < 1e-15, "{expected}");
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("genai-prices")
    );
}

#[test]
fn a_price_override_prices_audio_at_its_own_rates_and_cached_tokens_at_theirs() {
    let builder = AiLayer::builder().with_model_price(
        "my-voice-model",
        ModelPrice::per_million_tokens(1.0, 2.0)
            .with_cache_read(0.1)
            .with_audio_input(10.0)
            .with_audio_output(20.0),
    );
    let (_, exported) = export_with(builder, speak);
    let span = exported.span("chat my-voice-model");
    // Per million: 500 text in at $1, 200 cached at $0.10, 300 audio in at $10 (3,520); 60
    // text out at $2, 40 audio out at $20 (920): $0.00444.
    assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.00444);
    assert_eq!(
        attr(span, "ai.usage.audio.output_tokens"),
        Some(&Value::I64(40))
    );
}

#[test]
fn a_prices_file_sets_audio_rates_too() {
    let builder = AiLayer::builder().with_prices_toml(
        "[models.\"my-voice-model\"]\ninput = 1.0\noutput = 2.0\ncache_read = 0.1\naudio_input = 10.0\naudio_output = 20.0\n",
    );
    let (_, exported) = export_with(builder, speak);
    let span = exported.span("chat my-voice-model");
    assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.00444);
}

#[test]
fn parts_of_the_input_beyond_it_are_unpriced_not_counted_twice() {
    let builder = AiLayer::builder().with_model_price(
        "my-voice-model",
        ModelPrice::per_million_tokens(1.0, 2.0).with_audio_input(10.0),
    );
    let (_, exported) = export_with(builder, miscounted);
    let span = exported.span("chat my-voice-model");
    assert_eq!(attr(span, "gen_ai.usage.cost"), None);
    let reason = str_attr(span, "ai.cost.unpriced").expect("a reason");
    assert!(
        reason.contains(
            "`gen_ai.usage.cache_read.input_tokens` 800 + `ai.usage.audio.input_tokens` 300 \
             (1100) exceed gen_ai.usage.input_tokens (1000)"
        ),
        "{reason}"
    );
}
