//! Every way the docs show to put the AI layer under OpenTelemetry exports the same attributes
//! for the same calls: `tracing_ai::layer`, `AiLayer::with_tracer`, the builder's
//! `with_tracer` (with `tracing` fields on or off), and an `AiLayer` built alone under a
//! tracing-opentelemetry layer the application made itself.

use std::collections::BTreeMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_ai::content::ContentCapture;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::Overloaded;
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(
    kind = "llm",
    model = "gpt-4o-mini",
    provider = "openai",
    input = "hello"
)]
fn chat(fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        return Err(Overloaded);
    }
    Ok(Usage::new(1_200, 300)
        .with_cache_read(1_000)
        .with_response_model("gpt-4o-mini-2024-07-18"))
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
fn local() -> Usage {
    Usage::new(500, 50)
}

/// A cost the provider reported, with float noise in it.
#[ai_span(kind = "llm", model = "claude-sonnet-4-5", provider = "anthropic")]
fn reported() -> Usage {
    Usage::new(10, 5)
        .with_cost(0.1 + 0.2)
        .with_response_id("msg_1")
        .with_cache_hit(tracing_ai::CacheHit::Prefix)
}

#[ai_span(kind = "tool")]
fn get_weather() -> &'static str {
    tracing_ai::record_cache_hit(tracing_ai::CacheHit::Semantic);
    "sunny"
}

#[ai_span(kind = "agent")]
fn assistant() -> &'static str {
    let _ = get_weather();
    let _ = chat(false);
    "done"
}

/// Two requests: one with a tenant and feature, through an agent, a priced and an overridden
/// call and a failed one; one with no attribution at all.
fn program() {
    tracing::info_span!("request", tenant.id = "acme", feature.id = "search").in_scope(|| {
        let _ = assistant();
        let _ = local();
        let _ = reported();
        let _ = chat(true);
    });
    tracing::info_span!("request").in_scope(|| {
        let _ = chat(false);
    });
}

fn builder() -> tracing_ai::AiLayerBuilder {
    AiLayer::builder()
        .with_model_price("llama-3.1-8b-fp8", ModelPrice::per_million_tokens(0.1, 0.2))
        .with_reporting_currency("EUR", 0.9)
        .with_content_capture(ContentCapture::SpanOnly)
}

/// Each span's attributes, by span name and order of ending, as text; what differs between
/// two runs of the same code (thread ids) left out.
type Attributes = Vec<(String, Vec<(String, String)>)>;

fn run<S>(
    subscriber: S,
    exporter: &InMemorySpanExporter,
    provider: &SdkTracerProvider,
) -> Attributes
where
    S: Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::with_default(subscriber, program);
    provider.force_flush().expect("spans flush");
    let spans = exporter.get_finished_spans().expect("finished spans");
    spans
        .into_iter()
        .map(|span| {
            let attributes: BTreeMap<String, String> = span
                .attributes
                .iter()
                .filter(|kv| !kv.key.as_str().starts_with("thread."))
                .map(|kv| (kv.key.to_string(), text(&kv.value)))
                .collect();
            (
                format!("{} {:?} {:?}", span.name, span.span_kind, span.status),
                attributes.into_iter().collect(),
            )
        })
        .collect()
}

/// A value as text with its type, whatever the string's representation (owned, shared or
/// static).
fn text(value: &opentelemetry::Value) -> String {
    match value {
        opentelemetry::Value::String(text) => format!("string {:?}", text.as_str()),
        other => format!("{other:?}"),
    }
}

fn tracer() -> (InMemorySpanExporter, SdkTracerProvider, SdkTracer) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("construction");
    (exporter, provider, tracer)
}

#[test]
fn every_documented_construction_exports_the_same_attributes() {
    // The one way to configure the layer and compose it: build, then `with_tracer`.
    let with_builder = {
        let (exporter, provider, tracer) = tracer();
        let layer = builder().build().expect("valid").with_tracer(tracer);
        run(
            tracing_subscriber::registry().with(layer),
            &exporter,
            &provider,
        )
    };
    assert!(with_builder.len() >= 8, "{with_builder:#?}");

    let with_tracing_fields = {
        let (exporter, provider, tracer) = tracer();
        let layer = builder()
            .with_tracing_fields(true)
            .build()
            .expect("valid")
            .with_tracer(tracer);
        run(
            tracing_subscriber::registry().with(layer),
            &exporter,
            &provider,
        )
    };
    assert_eq!(
        with_tracing_fields, with_builder,
        "with_tracing_fields(true)"
    );

    // The application's own tracing-opentelemetry layer, over an AI layer built alone: what
    // the AI layer writes is the same; what tracing-opentelemetry adds of `tracing`'s own
    // metadata is the application's choice, made here as `with_tracer` makes it.
    let hand_composed = {
        let (exporter, provider, tracer) = tracer();
        let opentelemetry = tracing_opentelemetry::layer()
            .with_tracked_inactivity(false)
            .with_location(false)
            .with_target(false)
            .with_tracer(tracer);
        let subscriber = tracing_subscriber::registry()
            .with(builder().build().expect("valid"))
            .with(opentelemetry);
        run(subscriber, &exporter, &provider)
    };
    assert_eq!(
        hand_composed, with_builder,
        "registry().with(build()?).with(otel)"
    );
}

#[test]
fn the_default_layer_and_with_tracer_agree() {
    let default_layer = {
        let (exporter, provider, tracer) = tracer();
        let subscriber = tracing_subscriber::registry().with(tracing_ai::layer(tracer));
        run(subscriber, &exporter, &provider)
    };
    let new_with_tracer = {
        let (exporter, provider, tracer) = tracer();
        let subscriber = tracing_subscriber::registry().with(AiLayer::new().with_tracer(tracer));
        run(subscriber, &exporter, &provider)
    };
    assert!(default_layer.len() >= 8, "{default_layer:#?}");
    assert_eq!(new_with_tracer, default_layer);
}
