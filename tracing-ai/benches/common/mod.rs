//! What the benches share: the hand-written baseline, the annotated functions and the two
//! subscriber stacks they run under. `overhead.rs` times them with criterion;
//! `instructions.rs` runs them under callgrind.

// Each bench uses part of it.
#![allow(dead_code)]

use std::cell::Cell;
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

/// Keeps every span, for the smoke run's check that two stacks export the same thing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collect(pub(crate) std::sync::Arc<std::sync::Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().expect("not poisoned").extend(batch);
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

/// The ids of a request, as a hand-written service passes them down to its calls.
pub(crate) struct RequestIds {
    pub(crate) tenant: &'static str,
    pub(crate) feature: &'static str,
    pub(crate) request: &'static str,
}

/// A request's totals, as a hand-written service adds them up.
#[derive(Default)]
pub(crate) struct RequestTotals {
    usd: Cell<f64>,
    input: Cell<u64>,
    output: Cell<u64>,
    calls: Cell<u64>,
}

/// What [`annotated`] exports, written by hand: the usage, the cost with its source and its
/// prices, and the request's ids on the call; added to the request's totals, which
/// [`in_request_by_hand`] writes on the request's span. No price table, no metrics, no
/// budgets: the prices are constants, as in [`baseline`].
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
        ai.cost.prices = Empty,
        tenant.id = Empty,
        feature.id = Empty,
        request.id = Empty,
    )
)]
pub(crate) fn same_output_by_hand(input: u64, ids: &RequestIds, totals: &RequestTotals) -> Usage {
    let usage = Usage::new(black_box(input), 200);
    let span = tracing::Span::current();
    span.record("gen_ai.usage.input_tokens", usage.input_tokens as i64);
    span.record("gen_ai.usage.output_tokens", usage.output_tokens as i64);
    let cost = usage.input_tokens as f64 * INPUT_PRICE + usage.output_tokens as f64 * OUTPUT_PRICE;
    let cost = (cost * 1e12).round() / 1e12;
    span.record("gen_ai.usage.cost", cost);
    span.record("ai.cost.source", "genai-prices");
    span.record("ai.cost.prices", "genai-prices 0.2.1");
    span.record("tenant.id", ids.tenant);
    span.record("feature.id", ids.feature);
    span.record("request.id", ids.request);
    totals.usd.set(totals.usd.get() + cost);
    totals.input.set(totals.input.get() + usage.input_tokens);
    totals.output.set(totals.output.get() + usage.output_tokens);
    totals.calls.set(totals.calls.get() + 1);
    usage
}

/// [`in_request`], with the request's totals written on its span by hand when it ends.
pub(crate) fn in_request_by_hand<T>(f: impl FnOnce(&RequestIds, &RequestTotals) -> T) -> T {
    let ids = RequestIds {
        tenant: "acme",
        feature: "search",
        request: "7",
    };
    let totals = RequestTotals::default();
    let root = tracing::info_span!(
        "rag.query",
        tenant.id = ids.tenant,
        feature.id = ids.feature,
        request.id = 7_i64,
        ai.request.ai_calls = Empty,
        ai.request.cost = Empty,
        ai.request.cost_estimated = Empty,
        ai.request.input_tokens = Empty,
        ai.request.output_tokens = Empty,
        ai.request.unpriced_calls = Empty,
    );
    let out = root.in_scope(|| f(&ids, &totals));
    root.record("ai.request.ai_calls", totals.calls.get() as i64);
    root.record("ai.request.cost", totals.usd.get());
    root.record("ai.request.cost_estimated", 0.0);
    root.record("ai.request.input_tokens", totals.input.get() as i64);
    root.record("ai.request.output_tokens", totals.output.get() as i64);
    root.record("ai.request.unpriced_calls", 0_i64);
    out
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
    in_request_numbered(7, f)
}

/// [`in_request`], for request `id`: a service's tenants and features come back from one
/// request to the next, its request ids do not.
pub(crate) fn in_request_numbered<T>(id: i64, f: impl FnOnce() -> T) -> T {
    tracing::info_span!(
        "rag.query",
        tenant.id = "acme",
        feature.id = "search",
        request.id = id
    )
    .in_scope(f)
}

/// tracing-opentelemetry's layer configured as `tracing_ai::layer` configures it: without the
/// attributes taken from `tracing`'s own metadata (busy and idle time, target, source
/// location, thread), which neither stack's calls are about.
fn opentelemetry_as_configured<S>(
    tracer: opentelemetry_sdk::trace::SdkTracer,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracked_inactivity(false)
        .with_location(false)
        .with_target(false)
        .with_threads(false)
        .with_tracer(tracer)
}

pub(crate) fn stacks() -> (Dispatch, Dispatch) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    let otel_only = Dispatch::new(
        tracing_subscriber::registry().with(opentelemetry_as_configured(provider.tracer("bench"))),
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
        .build()
        .expect("a valid budget")
        .with_tracer(provider.tracer("bench"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// The AI stack of [`stacks`], with a rate limit per tenant that is never reached: every
/// call reserves one request in it and settles.
pub(crate) fn rate_limit_stack() -> Dispatch {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    let layer = tracing_ai::AiLayer::builder()
        .with_budget(Budget::requests_per_minute("tenant-rpm", u64::MAX / 2).per(Scope::Tenant))
        .build()
        .expect("a valid limit")
        .with_tracer(provider.tracer("bench"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// What a request's spans export: each span's name with its attributes, sorted, as text.
pub(crate) fn exported(request: impl Fn(), ai: bool) -> Vec<(String, Vec<(String, String)>)> {
    let collect = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collect.clone())
        .build();
    let dispatch = if ai {
        Dispatch::new(
            tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench"))),
        )
    } else {
        Dispatch::new(
            tracing_subscriber::registry()
                .with(opentelemetry_as_configured(provider.tracer("bench"))),
        )
    };
    tracing::dispatcher::with_default(&dispatch, request);
    let spans = std::mem::take(&mut *collect.0.lock().expect("not poisoned"));
    spans
        .into_iter()
        .map(|span| {
            let mut attributes: Vec<(String, String)> = span
                .attributes
                .iter()
                .map(|kv| {
                    let kind = match &kv.value {
                        opentelemetry::Value::I64(_) => "i64",
                        opentelemetry::Value::F64(_) => "f64",
                        opentelemetry::Value::Bool(_) => "bool",
                        opentelemetry::Value::String(_) => "string",
                        _ => "array",
                    };
                    (kv.key.to_string(), format!("{kind} {}", kv.value))
                })
                .collect();
            attributes.sort();
            (format!("{} {:?}", span.name, span.span_kind), attributes)
        })
        .collect()
}
