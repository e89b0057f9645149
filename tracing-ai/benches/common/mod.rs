//! What the benches share: the hand-written baseline, the annotated functions and the two
//! subscriber stacks they run under. `overhead.rs` times them with criterion;
//! `instructions.rs` runs them under callgrind.

// Each bench uses part of it.
#![allow(dead_code)]

use std::hint::black_box;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing::field::Empty;
use tracing::Dispatch;
use tracing_ai::budget::{Budget, BudgetExceeded, Scope, Window};
use tracing_ai::{ai_span, Usage};
use tracing_subscriber::layer::SubscriberExt as _;

/// Receives every span and drops it: the export itself is not what is measured.
#[derive(Debug)]
pub(crate) struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

/// The price a hand-written baseline would hard-code: gpt-4o-mini, USD per token.
const INPUT_PRICE: f64 = 0.15 / 1e6;
const OUTPUT_PRICE: f64 = 0.60 / 1e6;

#[tracing::instrument(
    name = "chat gpt-4o-mini",
    skip_all,
    fields(
        gen_ai.operation.name = "chat",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.provider.name = "openai",
        otel.kind = "client",
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cost = Empty,
        ai.cost.source = Empty,
        tenant.id = Empty,
    )
)]
pub(crate) fn baseline(input: u64, tenant: &str) -> Usage {
    let usage = Usage::new(black_box(input), 200);
    let span = tracing::Span::current();
    span.record("gen_ai.usage.input_tokens", usage.input_tokens as i64);
    span.record("gen_ai.usage.output_tokens", usage.output_tokens as i64);
    let cost = usage.input_tokens as f64 * INPUT_PRICE + usage.output_tokens as f64 * OUTPUT_PRICE;
    span.record("gen_ai.usage.cost", cost);
    span.record("ai.cost.source", "hand-written");
    span.record("tenant.id", tenant);
    usage
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
pub(crate) fn annotated(input: u64) -> Usage {
    Usage::new(black_box(input), 200)
}

/// [`annotated`], reserving its cost in the layer's budgets before it runs.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
pub(crate) fn annotated_with_budget(input: u64) -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(black_box(input), 200))
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
pub(crate) fn embed(input: u64) -> Usage {
    Usage::new(black_box(input), 0)
}

#[ai_span(kind = "retrieval")]
pub(crate) fn retrieve(k: usize) -> usize {
    black_box(k)
}

pub(crate) fn in_request<T>(f: impl FnOnce() -> T) -> T {
    tracing::info_span!(
        "rag.query",
        tenant.id = "acme",
        feature.id = "search",
        request.id = 7_i64
    )
    .in_scope(f)
}

pub(crate) fn stacks() -> (Dispatch, Dispatch) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    // Configured as `tracing_ai::layer` configures it: without the attributes taken from
    // `tracing`'s own metadata (busy and idle time, target, source location), which neither
    // stack's calls are about.
    let otel_only = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_opentelemetry::layer()
                .with_tracked_inactivity(false)
                .with_location(false)
                .with_target(false)
                .with_tracer(provider.tracer("bench")),
        ),
    );
    let with_ai = Dispatch::new(
        tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench"))),
    );
    (otel_only, with_ai)
}

/// The AI stack of [`stacks`], with a budget per tenant that never runs out: every call
/// reserves in it and settles.
pub(crate) fn budget_stack() -> Dispatch {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    let layer = tracing_ai::AiLayer::builder()
        .with_budget(
            Budget::new("tenant-daily", 1e9, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .with_tracer(provider.tracer("bench"))
        .expect("a valid budget");
    Dispatch::new(tracing_subscriber::registry().with(layer))
}
