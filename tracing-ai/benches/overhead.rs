//! What an annotated call costs, against what a Rust user writes by hand, in the same run.
//!
//! `cargo bench -p tracing-ai --bench overhead`. Each group measures its baseline in the same
//! run: compare the ids of a group, not figures across runs or machines.
//!
//! - `llm_call/baseline`: `#[tracing::instrument]` declaring the attributes our spans export,
//!   filled by hand with `Span::record` (tokens as i64, the cost from a constant price, the
//!   tenant copied from the request); `llm_call/ai_span`: `#[ai_span]` under the default
//!   `tracing_ai::layer` with genai-prices pricing. Both under a registry, tracing-opentelemetry
//!   and an SDK tracer provider whose exporter drops the spans, and both inside a request span.
//! - `no_subscriber/*`: the same two functions with no subscriber at all.
//! - `pricing/cached`: a known model after warm-up; `pricing/genai_prices`: genai-prices'
//!   `calculate` called directly, the floor without caching; `pricing/first_call`.
//! - `request/ai_span`: the quickstart's whole request tree (root, embed, retrieve, llm).
//! - `plain_span/*`: a span that is not an AI span, with and without the AI layer.
//! - `sampling/*`: the request tree of `request/ai_span` again, exported by a simple processor
//!   (`export_all`), and through the tail sampler at a ratio of 0.05 in front of it
//!   (`tail_0.05`): the difference, over the tree's four spans, is what the sampler adds.

mod common;

use std::hint::black_box;

use common::{annotated, baseline, embed, in_request, retrieve, stacks, Discard};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

fn llm_call(c: &mut Criterion) {
    let (otel_only, with_ai) = stacks();
    let mut group = c.benchmark_group("llm_call");
    group.bench_function("baseline", |b| {
        tracing::dispatcher::with_default(&otel_only, || {
            b.iter(|| in_request(|| baseline(1_000, "acme")))
        })
    });
    group.bench_function("ai_span", |b| {
        tracing::dispatcher::with_default(&with_ai, || b.iter(|| in_request(|| annotated(1_000))))
    });
    group.finish();

    let mut group = c.benchmark_group("no_subscriber");
    group.bench_function("instrument", |b| b.iter(|| baseline(1_000, "acme")));
    group.bench_function("ai_span", |b| b.iter(|| annotated(1_000)));
    group.finish();

    let mut group = c.benchmark_group("request");
    group.bench_function("ai_span", |b| {
        tracing::dispatcher::with_default(&with_ai, || {
            b.iter(|| {
                in_request(|| {
                    embed(12);
                    retrieve(10);
                    annotated(1_000)
                })
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("plain_span");
    group.bench_function("otel_only", |b| {
        tracing::dispatcher::with_default(&otel_only, || {
            b.iter(|| tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ()))
        })
    });
    group.bench_function("ai_layer", |b| {
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
    group.bench_function("first_call", |b| {
        b.iter_batched(
            || probe.forget(),
            |()| probe.price("openai", "gpt-4o-mini", 1_000, 200),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn sampling(c: &mut Criterion) {
    let (_, export_all) = stacks();
    let sampling = tracing_ai::sampling::TailSampling::builder()
        .with_sample_ratio(0.05)
        .build()
        .expect("a valid ratio");
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampling.sampler())
        .with_span_processor(sampling.processor(SimpleSpanProcessor::new(Discard)))
        .build();
    let tail = Dispatch::new(
        tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench"))),
    );
    let request = || {
        in_request(|| {
            embed(12);
            retrieve(10);
            annotated(1_000)
        })
    };
    let mut group = c.benchmark_group("sampling");
    group.bench_function("export_all", |b| {
        tracing::dispatcher::with_default(&export_all, || b.iter(request))
    });
    group.bench_function("tail_0.05", |b| {
        tracing::dispatcher::with_default(&tail, || b.iter(request))
    });
    group.finish();
}

criterion_group!(benches, llm_call, pricing, sampling);
criterion_main!(benches);
