//! A request's local root carries the totals of its model calls, under names apart from the
//! per-call ones, whatever thread or task each call ran on.

use opentelemetry::Value;
use tracing::Instrument as _;
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::{attr, export, export_with, f64_attr, str_attr};

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(tokens: u64) -> Usage {
    tokio::task::yield_now().await;
    Usage::new(tokens, 0)
}

#[ai_span(kind = "retrieval")]
async fn retrieve() -> Vec<u8> {
    vec![]
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate(input: u64, output: u64) -> Usage {
    tokio::task::yield_now().await;
    Usage::new(input, output)
}

#[ai_span(kind = "llm", model = "my-unpriced-model", provider = "openai")]
fn unpriced() -> Usage {
    Usage::new(100, 10)
}

#[ai_span(kind = "agent")]
async fn agent() -> Usage {
    // The agent's own span reports nothing: its model calls are counted where they are made.
    generate(300, 30).await
}

fn int(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(value)) => *value,
        other => panic!(
            "`{key}` of `{}` is {other:?}: {:#?}",
            span.name, span.attributes
        ),
    }
}

fn sum_of_call_costs(exported: &tracing_ai_tests::otel::Exported) -> f64 {
    exported
        .spans
        .iter()
        .filter_map(|span| match attr(span, "gen_ai.usage.cost") {
            Some(Value::F64(cost)) => Some(*cost),
            _ => None,
        })
        .sum()
}

#[test]
fn the_root_carries_the_totals_of_its_calls_and_no_per_call_cost() {
    let (_, exported) = export(|| {
        let root = tracing::info_span!("rag.query", tenant.id = "acme");
        tracing_ai_tests::block_on(
            async {
                embed(500).await;
                retrieve().await;
                generate(1_000, 200).await;
                agent().await;
                unpriced();
            }
            .instrument(root),
        );
    });
    let root = exported.span("rag.query");
    let total = f64_attr(root, "ai.request.cost");
    let sum = sum_of_call_costs(&exported);
    assert!(
        (total - sum).abs() < 1e-15,
        "{total} is not the sum of the per-call costs, {sum}"
    );
    let expected = (500.0 * 0.02 + 1_300.0 * 0.15 + 230.0 * 0.60) / 1e6;
    assert!((total - expected).abs() < 1e-15, "{total} vs {expected}");
    assert_eq!(
        int(root, "ai.request.input_tokens"),
        500 + 1_000 + 300 + 100
    );
    assert_eq!(int(root, "ai.request.output_tokens"), 200 + 30 + 10);
    // embed, generate, the agent's generate and the unpriced call; not retrieval, not the agent.
    assert_eq!(int(root, "ai.request.ai_calls"), 4);
    assert_eq!(int(root, "ai.request.unpriced_calls"), 1);
    assert_eq!(
        attr(root, "gen_ai.usage.cost"),
        None,
        "no per-call name on the root"
    );
    assert_eq!(
        attr(root, "ai.request.cost_amount"),
        None,
        "reported in USD only"
    );
    for span in exported
        .spans
        .iter()
        .filter(|span| span.name != "rag.query")
    {
        assert_eq!(
            attr(span, "ai.request.cost"),
            None,
            "`{}` is not a root",
            span.name
        );
    }
}

#[test]
fn calls_on_other_threads_and_tasks_add_to_their_request() {
    let (_, exported) = export_with(
        AiLayer::builder().with_reporting_currency("GBP", 0.8),
        || {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let workers = dispatch.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(3)
                .on_thread_start(move || {
                    // The runtime's workers report to the test's subscriber for as long as they live.
                    std::mem::forget(tracing::dispatcher::set_default(&workers));
                })
                .build()
                .expect("a runtime");
            let requests: Vec<_> = (0..4_u64)
                .map(|n| {
                    let root = tracing::info_span!("request", request.id = n as i64);
                    // Calls on plain threads, with the request as their explicit parent.
                    std::thread::scope(|scope| {
                        for _ in 0..2 {
                            let dispatch = dispatch.clone();
                            let root = root.clone();
                            scope.spawn(move || {
                                tracing::dispatcher::with_default(&dispatch, || {
                                    let _entered = root.enter();
                                    tracing_ai_tests::block_on(generate(100 * (n + 1), 10));
                                })
                            });
                        }
                    });
                    (n, root)
                })
                .collect();
            runtime.block_on(async {
                let mut handles = Vec::new();
                for (n, root) in &requests {
                    for _ in 0..3 {
                        handles.push(tokio::spawn(
                            generate(1_000 * (n + 1), 100).instrument(root.clone()),
                        ));
                    }
                }
                for handle in handles {
                    handle.await.expect("the task completes");
                }
            });
            drop(requests);
            runtime.shutdown_background();
        },
    );
    let roots = exported.spans_named("request");
    assert_eq!(roots.len(), 4);
    for root in roots {
        let n = match attr(root, "request.id") {
            Some(Value::I64(n)) => *n,
            other => panic!("{other:?}"),
        };
        let input = 2 * 100 * (n + 1) + 3 * 1_000 * (n + 1);
        let output = 2 * 10 + 3 * 100;
        assert_eq!(int(root, "ai.request.ai_calls"), 5, "request {n}");
        assert_eq!(int(root, "ai.request.input_tokens"), input, "request {n}");
        assert_eq!(int(root, "ai.request.output_tokens"), output, "request {n}");
        let usd = (input as f64 * 0.15 + output as f64 * 0.60) / 1e6;
        assert!(
            (f64_attr(root, "ai.request.cost") - usd).abs() < 1e-15,
            "request {n}"
        );
        assert!((f64_attr(root, "ai.request.cost_amount") - usd * 0.8).abs() < 1e-15);
        assert_eq!(
            str_attr(root, "ai.request.cost_currency").as_deref(),
            Some("GBP")
        );
    }
}

#[test]
fn an_ai_call_that_is_its_own_root_carries_its_own_totals() {
    let (_, exported) = export(|| tracing_ai_tests::block_on(generate(1_000, 200)));
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(
        f64_attr(span, "ai.request.cost"),
        f64_attr(span, "gen_ai.usage.cost")
    );
    assert_eq!(int(span, "ai.request.ai_calls"), 1);
}
