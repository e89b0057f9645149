//! Many requests at once, on threads and on a multi-threaded tokio runtime, each with its own
//! tenant: no id ever reaches another request's spans. This file installs the global
//! subscriber, so it is its own test binary.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument as _;
use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::otel::str_attr;
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(n: u64) -> Usage {
    tokio::task::yield_now().await;
    Usage::new(n, 0)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate(n: u64) -> Usage {
    tokio::task::yield_now().await;
    // Work moved to another task still belongs to the request.
    tokio::spawn(embed(n).in_current_span())
        .await
        .expect("the task completes");
    Usage::new(n, n)
}

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
fn generate_sync(n: u64) -> Usage {
    Usage::new(n, 1)
}

fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    &EXPORTER
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let subscriber = tracing_subscriber::registry()
                .with(tracing_ai::layer(provider.tracer("concurrency")));
            tracing::subscriber::set_global_default(subscriber).expect("the only global default");
            (exporter, provider)
        })
        .0
}

#[test]
fn ids_never_leak_between_concurrent_requests() {
    let exporter = exporter();
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 40;
    const TASKS: u64 = 200;

    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for n in 0..PER_THREAD {
                    let request = thread * 1_000 + n;
                    let root = tracing::info_span!(
                        "request",
                        tenant.id = %format_args!("tenant-{}", request % 7),
                        request.id = request,
                    );
                    root.in_scope(|| {
                        tracing::info_span!("db.query").in_scope(|| ());
                        generate_sync(request)
                    });
                }
            });
        }
        scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|n| {
                        let request = 100_000 + n;
                        let root = tracing::info_span!(
                            "request",
                            tenant.id = %format_args!("tenant-{}", request % 7),
                            request.id = request,
                        );
                        tokio::spawn(generate(request).instrument(root))
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("the task completes");
                }
            });
        });
    });

    let spans = exporter.get_finished_spans().expect("spans");
    // Every request's root closes with its totals, whichever thread its calls closed on.
    let roots: Vec<_> = spans.iter().filter(|span| span.name == "request").collect();
    assert_eq!(roots.len() as u64, THREADS * PER_THREAD + TASKS);
    for root in roots {
        let request: u64 = str_attr(root, "request.id")
            .expect("a request id")
            .parse()
            .expect("a number");
        let calls = if request >= 100_000 { 2 } else { 1 };
        assert_eq!(
            tracing_ai_tests::otel::attr(root, "ai.request.ai_calls"),
            Some(&opentelemetry::Value::I64(calls)),
            "request {request}"
        );
    }
    // A span inside a request is no root: no totals.
    assert!(spans
        .iter()
        .filter(|span| span.name == "db.query")
        .all(|span| span
            .attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("ai."))));
    let mut checked: HashMap<&str, u64> = HashMap::new();
    for span in spans
        .iter()
        .filter(|span| span.name != "request" && span.name != "db.query")
    {
        let request: u64 = str_attr(span, "request.id")
            .unwrap_or_else(|| panic!("`{}` has no request id", span.name))
            .parse()
            .expect("a number");
        let tenant = str_attr(span, "tenant.id").expect("a tenant");
        assert_eq!(
            tenant,
            format!("tenant-{}", request % 7),
            "span `{}`",
            span.name
        );
        *checked.entry(span.name.as_ref()).or_default() += 1;
    }
    assert_eq!(checked.get("chat gpt-4o"), Some(&(THREADS * PER_THREAD)));
    assert_eq!(checked.get("chat gpt-4o-mini"), Some(&TASKS));
    assert_eq!(
        checked.get("embeddings text-embedding-3-small"),
        Some(&TASKS)
    );
}
