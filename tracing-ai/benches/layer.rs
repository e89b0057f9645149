//! What `AiLayer` adds to a call, against the same stack without it, and what pricing costs.
//!
//! `cargo bench -p tracing-ai --bench layer`. Every group measures its baseline in the same run:
//! compare the ids of a group, not figures across runs or machines.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing::Dispatch;
use tracing_ai::{ai_span, Usage};
use tracing_subscriber::layer::SubscriberExt as _;

/// Receives every span and drops it: the export itself is not what is measured.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

fn provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build()
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(input: u64) -> Usage {
    Usage::new(black_box(input), 200)
}

fn request(input: u64) -> Usage {
    let root = tracing::info_span!(
        "rag.query",
        tenant.id = "acme",
        feature.id = "search",
        request.id = 7
    );
    root.in_scope(|| generate(input))
}

fn layer(c: &mut Criterion) {
    let provider = provider();
    let otel_only = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    let with_ai = Dispatch::new(
        tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench"))),
    );
    let mut group = c.benchmark_group("layer");
    group.bench_function("call/otel_only", |b| {
        tracing::dispatcher::with_default(&otel_only, || b.iter(|| generate(1_000)))
    });
    group.bench_function("call/ai_layer", |b| {
        tracing::dispatcher::with_default(&with_ai, || b.iter(|| generate(1_000)))
    });
    group.bench_function("request/otel_only", |b| {
        tracing::dispatcher::with_default(&otel_only, || b.iter(|| request(1_000)))
    });
    group.bench_function("request/ai_layer", |b| {
        tracing::dispatcher::with_default(&with_ai, || b.iter(|| request(1_000)))
    });
    group.bench_function("plain_span/otel_only", |b| {
        tracing::dispatcher::with_default(&otel_only, || {
            b.iter(|| tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ()))
        })
    });
    group.bench_function("plain_span/ai_layer", |b| {
        tracing::dispatcher::with_default(&with_ai, || {
            b.iter(|| tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ()))
        })
    });
    group.finish();
}

fn pricing(c: &mut Criterion) {
    let probe = tracing_ai::__private::PricingProbe::default();
    let mut group = c.benchmark_group("pricing");
    group.bench_function("cached", |b| {
        probe.price("openai", "gpt-4o-mini", 1, 1);
        b.iter(|| {
            probe.price(
                black_box("openai"),
                black_box("gpt-4o-mini"),
                black_box(1_000),
                200,
            )
        })
    });
    group.bench_function("first_call", |b| {
        b.iter_batched(
            || probe.forget(),
            |()| probe.price("openai", "gpt-4o-mini", 1_000, 200),
            BatchSize::PerIteration,
        )
    });
    let usage = genai_prices::Usage::from([
        (genai_prices::UsageKey::INPUT_TOKENS, 1_000.0),
        (genai_prices::UsageKey::OUTPUT_TOKENS, 200.0),
    ]);
    let calculator = genai_prices::Calculator::bundled();
    group.bench_function("genai_prices", |b| {
        b.iter(|| {
            let request = genai_prices::PriceRequest::new(black_box("gpt-4o-mini"), &usage)
                .with_provider_id("openai");
            calculator
                .calculate(&request)
                .map(|price| price.total_price)
        })
    });
    group.finish();
}

criterion_group!(benches, layer, pricing);
criterion_main!(benches);
