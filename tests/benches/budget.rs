//! What a budget adds to a call, in time: the same annotated call under a layer with no
//! budget, with an in-process budget, and with the budget kept in Redis on 127.0.0.1 (one
//! round trip to reserve, on the store's thread; the settlement goes through its queue); and
//! the same with a rate limit (requests per minute per tenant) instead of a budget. Each
//! as a sync function (the thread waits for Redis) and as an `async fn` on a current-thread
//! tokio runtime (the task awaits Redis). Same run, same machine: compare the ratios.
//!
//! `cargo bench -p tracing-ai-tests --bench budget` (Redis: Debian's `redis-server`, which
//! `scripts/test.sh` installs; without it the Redis case is left out).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_ai::budget::{Budget, BudgetExceeded, RedisBudgets, Scope, Window};
use tracing_ai::{ai_span, AiLayer, AiLayerBuilder, Usage};
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
fn chat(input: u64) -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(black_box(input), 200))
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
async fn chat_async(input: u64) -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(black_box(input), 200))
}

fn request() {
    let _ = black_box(tracing::info_span!("request", tenant.id = "acme").in_scope(|| chat(1_000)));
}

async fn request_async() {
    use tracing::Instrument as _;
    let _ = black_box(
        chat_async(1_000)
            .instrument(tracing::info_span!("request", tenant.id = "acme"))
            .await,
    );
}

/// A rate limit that is never reached.
fn rate_limit() -> Budget {
    Budget::requests_per_minute("tenant-rpm", u64::MAX / 2).per(Scope::Tenant)
}

/// A budget that never runs out.
fn budget() -> Budget {
    Budget::new("tenant-daily", 1e9, Window::Day)
        .per(Scope::Tenant)
        .per_call(0.01)
}

fn stack(builder: AiLayerBuilder) -> Dispatch {
    // Spans go nowhere: the figure is the layer's and the budget's, not an exporter's.
    let provider = SdkTracerProvider::builder().build();
    let layer = builder
        .build()
        .expect("a valid layer")
        .with_tracer(provider.tracer("bench"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

fn budgets(c: &mut Criterion) {
    let redis = tracing_ai_tests::redis::Redis::start();
    let mut stacks = vec![
        ("no_budget", stack(AiLayer::builder())),
        (
            "in_process",
            stack(AiLayer::builder().with_budget(budget())),
        ),
        (
            "rate_limit_in_process",
            stack(AiLayer::builder().with_budget(rate_limit())),
        ),
    ];
    if let Some(redis) = &redis {
        let store = RedisBudgets::new(&redis.url)
            .expect("a Redis URL")
            .with_prefix("bench")
            .with_timeout(Duration::from_secs(1));
        stacks.push((
            "redis_loopback",
            stack(
                AiLayer::builder()
                    .with_budget(budget())
                    .with_budget_store(store.clone()),
            ),
        ));
        stacks.push((
            "rate_limit_redis_loopback",
            stack(
                AiLayer::builder()
                    .with_budget(rate_limit())
                    .with_budget_store(store.with_prefix("bench-limit")),
            ),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("budget");
    for (name, dispatch) in &stacks {
        group.bench_function(*name, |b| {
            tracing::dispatcher::with_default(dispatch, || b.iter(request));
        });
        group.bench_function(format!("{name}_async"), |b| {
            tracing::dispatcher::with_default(dispatch, || {
                b.iter(|| runtime.block_on(request_async()));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, budgets);
criterion_main!(benches);
