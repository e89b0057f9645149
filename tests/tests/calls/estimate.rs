//! Calls whose usage never arrived (issue 20, item 2): with a token estimator, a stream
//! dropped before its last chunk is priced from its input's tokens and the chunks it yielded,
//! marked `estimated` on the span, in the request's roll-up and on the cost metric, and never
//! written as reported usage; without one, or for a failed call, it stays unpriced and counted.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio_stream::StreamExt as _;
use tracing_ai::estimate::{Tiktoken, TokenEstimator};
use tracing_ai::{ai_span, AiLayer, AiLayerBuilder, ModelPrice};
use tracing_ai_tests::metrics::{attrs, points};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr, Exported};
use tracing_ai_tests::{block_on, Delta, Overloaded};

const PROMPT: &str = "What did each tenant spend on model calls in the last hour?";

/// A stream that would report its usage on its last chunk.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream, input = prompt)]
async fn chat_stream(prompt: &str) -> impl futures_core::Stream<Item = Delta> {
    let _ = prompt;
    let content = Delta {
        usage: None,
        finish_reason: None,
    };
    tokio_stream::iter(vec![content.clone(), content.clone(), content])
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = prompt)]
fn failed(prompt: &str) -> Result<tracing_ai::Usage, Overloaded> {
    let _ = prompt;
    Err(Overloaded)
}

/// $1 per million input tokens, $2 per million output tokens: an estimate's cost is easy to
/// say.
fn builder(meter: &SdkMeterProvider) -> AiLayerBuilder {
    AiLayer::builder()
        .with_model_price("gpt-4o-mini", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_meter(meter.meter("tracing-ai"))
}

/// A request that reads two chunks of the stream and drops it, then makes a failed call.
fn request(builder: AiLayerBuilder) -> Exported {
    let ((), exported) = export_with(builder, || {
        tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
            block_on(async {
                let mut stream = chat_stream(PROMPT).await;
                stream.next().await;
                stream.next().await;
            });
            let _ = failed(PROMPT);
        })
    });
    exported
}

/// The streamed call's span (the failed call has the same name).
fn stream_span(exported: &Exported) -> &opentelemetry_sdk::trace::SpanData {
    exported
        .spans_named("chat gpt-4o-mini")
        .into_iter()
        .find(|span| attr(span, "ai.stream.cancelled").is_some())
        .expect("the streamed call")
}

#[test]
fn a_cancelled_stream_is_priced_from_its_estimated_usage_and_says_so() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let input = Tiktoken
        .count_tokens("gpt-4o-mini", PROMPT)
        .expect("gpt-4o-mini is o200k_base");
    assert!((10..20).contains(&input), "{input} tokens");
    let exported = request(builder(&meters).with_token_estimator(Tiktoken));

    let call = stream_span(&exported);
    assert_eq!(attr(call, "ai.stream.cancelled"), Some(&true.into()));
    // The input's tokens as tiktoken counts them, one output token per chunk read.
    assert_eq!(
        attr(call, "ai.usage.estimated.input_tokens"),
        Some(&(input as i64).into())
    );
    assert_eq!(
        attr(call, "ai.usage.estimated.output_tokens"),
        Some(&2_i64.into())
    );
    let usd = (input as f64 * 1.0 + 2.0 * 2.0) / 1e6;
    assert!((f64_attr(call, "gen_ai.usage.cost") - usd).abs() < 1e-15);
    assert_eq!(
        str_attr(call, "ai.cost.source").as_deref(),
        Some("estimated")
    );
    let because = str_attr(call, "ai.cost.estimated_because").expect("why estimated");
    assert!(
        because.contains("cancelled before the provider reported usage"),
        "{because}"
    );
    // Never written as what the provider reported, and not unpriced.
    for reported in [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "ai.cost.unpriced",
    ] {
        assert_eq!(attr(call, reported), None, "{reported}");
    }

    // The failed call is not estimated: it stays unpriced.
    let failed = exported
        .spans_named("chat gpt-4o-mini")
        .into_iter()
        .find(|span| attr(span, "error.type").is_some())
        .expect("the failed call");
    assert_eq!(attr(failed, "gen_ai.usage.cost"), None);
    assert_eq!(attr(failed, "ai.usage.estimated.input_tokens"), None);
    assert!(str_attr(failed, "ai.cost.unpriced").is_some());

    // The request says how much of its cost is estimated: all of it.
    let root = exported.span("request");
    assert!((f64_attr(root, "ai.request.cost") - usd).abs() < 1e-15);
    assert!((f64_attr(root, "ai.request.cost_estimated") - usd).abs() < 1e-15);
    assert_eq!(attr(root, "ai.request.unpriced_calls"), Some(&1_i64.into()));

    // The cost metric labels it estimated; only the failed call is counted unpriced.
    meters.force_flush().expect("metrics flush");
    let cost = points(&metrics, "ai.client.cost");
    let key = attrs(&[
        ("tenant.id", "acme"),
        ("gen_ai.request.model", "gpt-4o-mini"),
        ("gen_ai.provider.name", "openai"),
        ("ai.cost.source", "estimated"),
    ]);
    assert!((cost[&key].0 - usd).abs() < 1e-15, "{cost:#?}");
    let unpriced = points(&metrics, "ai.client.unpriced_calls");
    assert_eq!(unpriced.len(), 1, "{unpriced:#?}");
    assert!(unpriced
        .keys()
        .all(|key| key.contains(&("ai.unpriced.reason".to_owned(), "failed".to_owned()))));
}

#[test]
fn without_an_estimator_or_a_known_tokenizer_a_cancelled_stream_stays_unpriced() {
    let closure = |model: &str, text: &str| {
        (model == "llama-3.1-8b-fp8").then(|| text.split_whitespace().count() as u64)
    };
    for with_estimator in [false, true] {
        let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
        let mut builder = builder(&meters);
        if with_estimator {
            // An estimator that knows another model only.
            builder = builder.with_token_estimator(closure);
        }
        let exported = request(builder);
        let call = stream_span(&exported);
        assert_eq!(attr(call, "gen_ai.usage.cost"), None);
        assert_eq!(attr(call, "ai.usage.estimated.input_tokens"), None);
        let reason = str_attr(call, "ai.cost.unpriced").expect("unpriced");
        assert!(reason.contains("cancelled"), "{reason}");
        meters.force_flush().expect("metrics flush");
        let unpriced = points(&metrics, "ai.client.unpriced_calls");
        let cancelled = attrs(&[
            ("ai.unpriced.reason", "cancelled"),
            ("gen_ai.request.model", "gpt-4o-mini"),
            ("gen_ai.provider.name", "openai"),
            ("tenant.id", "acme"),
        ]);
        assert_eq!(unpriced.get(&cancelled), Some(&(1.0, 1)), "{unpriced:#?}");
        assert!(points(&metrics, "ai.client.cost").is_empty());
    }
}

#[test]
fn the_console_shows_an_estimated_call_and_its_requests_estimated_share() {
    let (meters, _) = tracing_ai_tests::metrics::in_memory();
    let console = tracing_ai_tests::Buffer::default();
    tracing_ai_tests::otel::export_with_layer(
        builder(&meters).with_token_estimator(Tiktoken),
        tracing_ai::ConsoleLayer::to_writer(console.clone()),
        || {
            tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
                block_on(async {
                    let mut stream = chat_stream(PROMPT).await;
                    stream.next().await;
                    stream.next().await;
                });
            })
        },
    );
    let input = Tiktoken
        .count_tokens("gpt-4o-mini", PROMPT)
        .expect("gpt-4o-mini is o200k_base");
    let text = console.text();
    assert!(
        text.contains(&format!("~{input} in · ~2 out (estimated)")),
        "{text}"
    );
    let summary = text
        .lines()
        .find(|line| line.starts_with("= "))
        .expect("the request's summary");
    assert!(summary.contains(" estimated)"), "{summary}");
}
