//! How a call was served, said on `#[ai_span]` and priced by the user's own prices too (issue
//! 37, item 1): `service_tier = ...` and `batch` select the genai-prices variant as a request's
//! parameters do, and a `ModelPrice` or a prices file has its own prices for a tier and for the
//! Batch API. gpt-5 in the genai-prices data, as OpenAI's table gives it: $1.25 in and $10 out
//! per million; flex and batch half of it, priority twice.

use opentelemetry::Value;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

/// 1,000,000 tokens in, 100,000 out: $2.25 at gpt-5's standard price.
fn usage() -> Usage {
    Usage::new(1_000_000, 100_000)
}

#[ai_span(
    kind = "llm",
    model = "gpt-5",
    provider = "openai",
    service_tier = "flex"
)]
fn flex() -> Usage {
    usage()
}

/// The tier as the application's request holds it, `None` when it asks for none.
#[ai_span(kind = "llm", model = "gpt-5", provider = "openai", service_tier = tier)]
fn at_tier(tier: Option<String>) -> Usage {
    let _ = tier;
    usage()
}

#[ai_span(kind = "llm", model = "gpt-5", provider = "openai", batch)]
fn batched() -> Usage {
    usage()
}

#[ai_span(kind = "llm", model = "gpt-5", provider = "openai", batch = batch)]
fn maybe_batched(batch: bool) -> Usage {
    let _ = batch;
    usage()
}

/// The request says batch, and so does the usage its results report.
#[ai_span(kind = "llm", model = "gpt-5", provider = "openai", batch)]
fn batched_twice() -> Usage {
    usage().with_batch()
}

/// Asked for flex, served at priority: the response's tier prices it.
#[ai_span(
    kind = "llm",
    model = "gpt-5",
    provider = "openai",
    service_tier = "flex"
)]
fn asked_flex_served_priority() -> Usage {
    usage().with_service_tier("priority")
}

/// The span of `call`, with its layer writing onto the OpenTelemetry span or reading
/// `tracing` fields.
fn exported(
    builder: tracing_ai::AiLayerBuilder,
    tracing_fields: bool,
    name: &str,
    call: impl FnOnce(),
) -> opentelemetry_sdk::trace::SpanData {
    let (_, exported) = export_with(builder.with_tracing_fields(tracing_fields), call);
    exported.span(name).clone()
}

#[track_caller]
fn assert_priced(
    span: &opentelemetry_sdk::trace::SpanData,
    usd: f64,
    source: &str,
    context: Option<&str>,
) {
    let cost = f64_attr(span, "gen_ai.usage.cost");
    assert!((cost - usd).abs() < 1e-12, "{cost} != {usd}");
    assert_eq!(str_attr(span, "ai.cost.source").as_deref(), Some(source));
    assert_eq!(
        str_attr(span, "ai.cost.price_context").as_deref(),
        context,
        "{span:#?}"
    );
}

fn count_of(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> usize {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .count()
}

#[test]
fn a_service_tier_on_the_macro_selects_the_genai_prices_variant() {
    for tracing_fields in [false, true] {
        let span = exported(AiLayer::builder(), tracing_fields, "chat gpt-5", || {
            drop(flex())
        });
        assert_priced(&span, 1.125, "genai-prices", Some("service_tier=flex"));
        assert_eq!(
            str_attr(&span, "openai.request.service_tier").as_deref(),
            Some("flex")
        );

        let span = exported(AiLayer::builder(), tracing_fields, "chat gpt-5", || {
            drop(at_tier(Some("priority".to_owned())))
        });
        assert_priced(&span, 4.5, "genai-prices", Some("service_tier=priority"));

        // No tier asked for: the standard price, and no tier on the span.
        let span = exported(AiLayer::builder(), tracing_fields, "chat gpt-5", || {
            drop(at_tier(None))
        });
        assert_priced(&span, 2.25, "genai-prices", None);
        assert_eq!(attr(&span, "openai.request.service_tier"), None);

        // The response's tier wins over the one asked for.
        let span = exported(AiLayer::builder(), tracing_fields, "chat gpt-5", || {
            drop(asked_flex_served_priority())
        });
        assert_priced(&span, 4.5, "genai-prices", Some("service_tier=priority"));
        assert_eq!(
            str_attr(&span, "openai.response.service_tier").as_deref(),
            Some("priority")
        );
    }
}

#[test]
fn batch_on_the_macro_selects_the_batch_price_and_is_written_once() {
    for tracing_fields in [false, true] {
        for (call, usd, context) in [
            (batched as fn() -> Usage, 1.125, Some("processing=batch")),
            (|| maybe_batched(true), 1.125, Some("processing=batch")),
            (|| maybe_batched(false), 2.25, None),
            (batched_twice, 1.125, Some("processing=batch")),
        ] {
            let span = exported(AiLayer::builder(), tracing_fields, "chat gpt-5", || {
                drop(call())
            });
            assert_priced(&span, usd, "genai-prices", context);
            let written = usize::from(context.is_some());
            assert_eq!(
                count_of(&span, "ai.request.batch"),
                written,
                "{:#?}",
                span.attributes
            );
            if written == 1 {
                assert_eq!(attr(&span, "ai.request.batch"), Some(&Value::Bool(true)));
            }
        }
    }
}

/// A negotiated gpt-5 price with its own flex and batch prices.
fn negotiated() -> ModelPrice {
    ModelPrice::per_million_tokens(1.0, 8.0)
        .with_service_tier("flex", ModelPrice::per_million_tokens(0.4, 3.0))
        .with_batch(ModelPrice::per_million_tokens(0.3, 2.0))
}

#[ai_span(
    kind = "llm",
    model = "gpt-5",
    provider = "openai",
    service_tier = "flex",
    batch
)]
fn flex_batch() -> Usage {
    usage()
}

#[test]
fn your_own_prices_have_prices_for_a_tier_and_for_batches() {
    let builder = || AiLayer::builder().with_model_price("gpt-5", negotiated());
    for tracing_fields in [false, true] {
        // Standard: $1.00 + $0.80.
        let span = exported(builder(), tracing_fields, "chat gpt-5", || {
            drop(at_tier(None))
        });
        assert_priced(&span, 1.8, "override", None);
        // Flex: $0.40 + $0.30.
        let span = exported(builder(), tracing_fields, "chat gpt-5", || drop(flex()));
        assert_priced(&span, 0.7, "override", Some("service_tier=flex"));
        // A tier without a price of its own: the model's price, and nothing selected it.
        let span = exported(builder(), tracing_fields, "chat gpt-5", || {
            drop(at_tier(Some("priority".to_owned())))
        });
        assert_priced(&span, 1.8, "override", None);
        // Batch: $0.30 + $0.20, before any tier's.
        for call in [batched as fn() -> Usage, flex_batch] {
            let span = exported(builder(), tracing_fields, "chat gpt-5", || drop(call()));
            assert_priced(&span, 0.5, "override", Some("processing=batch"));
        }
    }
}

const PRICES: &str = r#"
[models."gpt-5"]
input = 1.00
output = 8.00
currency = "EUR"

[models."gpt-5".service_tier.flex]
input = 0.40
output = 3.00

[models."gpt-5".service_tier.priority]
input = 2.00
output = 16.00
currency = "USD"

[models."gpt-5".batch]
input = 0.30
output = 2.00
"#;

/// The same prices from a file: a variant is in its model's currency unless it says otherwise.
#[test]
fn a_prices_file_has_prices_for_a_tier_and_for_batches() {
    // 0.8 EUR to the USD: 1 EUR is $1.25.
    let builder = || {
        AiLayer::builder()
            .with_exchange_rate("EUR", 0.8)
            .with_prices_toml(PRICES)
    };
    for (call, usd, context) in [
        ((|| at_tier(None)) as fn() -> Usage, 1.8 * 1.25, None),
        (flex, 0.7 * 1.25, Some("service_tier=flex")),
        (
            || at_tier(Some("priority".to_owned())),
            3.6,
            Some("service_tier=priority"),
        ),
        (batched, 0.5 * 1.25, Some("processing=batch")),
    ] {
        let span = exported(builder(), false, "chat gpt-5", || drop(call()));
        assert_priced(&span, usd, "override", context);
    }
}

#[test]
fn a_wrong_variant_in_a_prices_file_says_where() {
    let nested = r#"
[models."gpt-5"]
input = 1.00
output = 8.00

[models."gpt-5".batch]
input = 0.30
output = 2.00

[models."gpt-5".batch.service_tier.flex]
input = 0.10
output = 1.00
"#;
    let error = AiLayer::builder()
        .with_prices_toml(nested)
        .build()
        .expect_err("a variant's variant is refused");
    let file = error.prices_file().expect("a prices file error");
    assert_eq!(
        file.field(),
        Some("models.\"gpt-5\".batch.service_tier.flex")
    );
    assert_eq!(file.line(), Some(10));

    let missing = r#"
[models."gpt-5"]
input = 1.00
output = 8.00

[models."gpt-5".service_tier.flex]
input = 0.40
"#;
    let error = AiLayer::builder()
        .with_prices_toml(missing)
        .build()
        .expect_err("a variant needs its output price");
    let file = error.prices_file().expect("a prices file error");
    assert_eq!(
        file.field(),
        Some("models.\"gpt-5\".service_tier.flex.output")
    );
    assert!(
        error
            .to_string()
            .contains("needs both `input` and `output`"),
        "{error}"
    );

    let negative = AiLayer::builder()
        .with_model_price(
            "gpt-5",
            ModelPrice::per_million_tokens(1.0, 8.0)
                .with_batch(ModelPrice::per_million_tokens(-0.3, 2.0)),
        )
        .build()
        .expect_err("a negative price is refused");
    assert_eq!(
        negative.to_string(),
        "the `input` price of model `gpt-5` at `batch` is -0.3; a price must be a finite \
         number, zero or more"
    );
}

/// A search of Perplexity's `fast` type: 1,000 tokens in at $0.25 per million and 100 out at
/// $2.50, and 3 searches at $1 per thousand, not the $2.50 of the standard type.
#[ai_span(
    kind = "llm",
    model = "perplexity/sonar",
    provider = "perplexity",
    parameters = tracing_ai::RequestParameters::default().with_price_context("search_type", "fast"),
)]
fn fast_search() -> Usage {
    Usage::new(1_000, 100).with_web_searches(3)
}

#[test]
fn other_keys_of_the_price_context_select_their_variant() {
    for tracing_fields in [false, true] {
        let span = exported(
            AiLayer::builder(),
            tracing_fields,
            "chat perplexity/sonar",
            || drop(fast_search()),
        );
        assert_priced(&span, 0.0035, "genai-prices", Some("search_type=fast"));
    }
}
