//! The console view: a request's tree, printed when it ends, with each call's model, tokens,
//! cost and marks, and the request's totals.

use tracing::Instrument as _;
use tracing_ai::{
    ai_span, record_cache_hit, record_fallback, AiLayer, CacheHit, ConsoleLayer, Usage,
};
use tracing_ai_tests::Buffer;
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed() -> Usage {
    Usage::new(16, 0)
}

#[ai_span(kind = "retrieval")]
async fn retrieve() -> Vec<u8> {
    record_cache_hit(CacheHit::Semantic);
    vec![]
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
async fn local() -> Result<Usage, String> {
    Err("GPU out of memory".to_owned())
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn hosted() -> Result<Usage, String> {
    record_fallback("llama-3.1-8b-fp8");
    Ok(Usage::new(1_000, 200))
}

async fn request() {
    embed().await;
    retrieve().await;
    if local().await.is_err() {
        hosted().await.expect("the fallback serves");
    }
}

fn console_output(requests: usize) -> String {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            AiLayer::builder()
                .with_reporting_currency("GBP", 0.8)
                .build()
                .expect("valid"),
        )
        .with(ConsoleLayer::to_writer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..requests {
            let root = tracing::info_span!("rag.query", tenant.id = "acme", request.id = n);
            tracing_ai_tests::block_on(request().instrument(root));
        }
    });
    buffer.text()
}

#[test]
fn a_request_prints_as_one_tree_with_costs_and_marks() {
    let output = console_output(1);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 7, "{output}");
    assert!(lines[0].starts_with("rag.query  "), "{output}");
    assert!(lines[0].ends_with("tenant acme · request 0"), "{output}");
    assert!(
        lines[1].starts_with("├─ embeddings text-embedding-3-small  "),
        "{output}"
    );
    // $0.02 / M: $0.00000032, £0.000000256.
    assert!(
        lines[1].ends_with("16 in · 0 out  $0.00000032 (0.00000026 GBP)"),
        "{output}"
    );
    assert!(
        lines[2].starts_with("├─ retrieval retrieve  ") && lines[2].ends_with("cache semantic"),
        "{output}"
    );
    assert!(
        lines[3].starts_with("├─ chat llama-3.1-8b-fp8  "),
        "{output}"
    );
    // A failed call with no usage and no GPU price is not free: it is unpriced (issue 11).
    assert!(
        lines[3].ends_with("FAILED GPU out of memory  unpriced"),
        "{output}"
    );
    assert!(lines[4].starts_with("└─ chat gpt-4o-mini  "), "{output}");
    // $0.15 / M in, $0.60 / M out: $0.00027, £0.000216.
    assert!(
        lines[4].ends_with(
            "1000 in · 200 out  fallback from llama-3.1-8b-fp8  $0.00027 (0.000216 GBP)"
        ),
        "{output}"
    );
    assert_eq!(
        lines[5],
        "= 3 AI calls · 1016 tokens in · 200 out · $0.00027032 (0.00021626 GBP) + 1 unpriced · tenant acme"
    );
    assert_eq!(lines[6], "");
}

#[test]
fn each_request_prints_its_own_tree() {
    let output = console_output(3);
    assert_eq!(output.matches("rag.query  ").count(), 3, "{output}");
    for n in 0..3 {
        assert!(output.contains(&format!("request {n}\n")), "{output}");
    }
}

#[ai_span(kind = "llm", model = "my-unknown-model", provider = "openai")]
fn unknown() -> Usage {
    Usage::new(10, 10)
}

#[test]
fn unpriced_calls_are_counted_not_summed_as_free() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(AiLayer::new())
        .with(ConsoleLayer::to_writer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("job").in_scope(unknown);
    });
    let output = buffer.text();
    assert!(output.contains("10 in · 10 out  unpriced\n"), "{output}");
    assert!(
        output.contains("= 1 AI call · 10 tokens in · 10 out · $0.00 + 1 unpriced\n"),
        "{output}"
    );
}

#[test]
fn a_huge_request_is_cut_and_says_how_much() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(ConsoleLayer::to_writer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("batch").in_scope(|| {
            for _ in 0..250 {
                tracing::info_span!("item").in_scope(|| ());
            }
        });
    });
    let output = buffer.text();
    assert_eq!(output.matches("item").count(), 200, "{output}");
    assert!(
        output.contains("└─ … 50 more spans not shown\n"),
        "{output}"
    );
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn cached() -> Usage {
    Usage::new(1_850, 120).with_cache_read(1_536)
}

#[test]
fn cached_tokens_are_shown_and_priced_at_their_rate() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(AiLayer::new())
        .with(ConsoleLayer::to_writer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("job").in_scope(cached);
    });
    let output = buffer.text();
    // 314 uncached at $0.15 / M, 1,536 cached at $0.075 / M, 120 out at $0.60 / M.
    assert!(
        output.contains("1850 in (1536 cached) · 120 out  $0.0002343\n"),
        "{output}"
    );
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn plain() -> Usage {
    Usage::new(1_000, 200)
}

/// A server span continues its caller's sampled trace after it is created (`set_parent`): the
/// console marks it as the exporter keeps it, for its parent, not `[not exported]`.
#[test]
fn a_request_continued_from_a_sampled_caller_is_marked_kept_for_it() {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
    use tracing_ai::sampling::TailSampling;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    let sampling = TailSampling::builder()
        .with_sample_ratio(0.0)
        .build()
        .expect("valid");
    let exporter = InMemorySpanExporter::default();
    let processor = sampling.processor(SimpleSpanProcessor::new(exporter.clone()));
    let stats = processor.stats();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampling.sampler())
        .with_span_processor(processor)
        .build();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_ai::layer(provider.tracer("console")))
        .with(ConsoleLayer::to_writer(buffer.clone()).with_sampling(stats));
    let caller: std::collections::HashMap<String, String> = [(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    )]
    .into();
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("GET /ask", tenant.id = "acme");
        root.set_parent(TraceContextPropagator::new().extract(&caller))
            .expect("the layer sees the span");
        tracing_ai_tests::block_on(plain().instrument(root));
        let alone = tracing::info_span!("GET /ask (own trace)", tenant.id = "acme");
        tracing_ai_tests::block_on(plain().instrument(alone));
    });
    let text = buffer.text();
    let first_lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("GET /ask"))
        .collect();
    assert_eq!(first_lines.len(), 2, "{text}");
    assert!(first_lines[0].ends_with("[kept: parent]"), "{text}");
    // Its own trace, at a ratio of 0 and with no failure, is not exported.
    assert!(first_lines[1].ends_with("[not exported]"), "{text}");
    let exported = exporter.get_finished_spans().expect("spans");
    assert!(exported.iter().any(|span| span.name == "GET /ask"));
    assert!(!exported
        .iter()
        .any(|span| span.name == "GET /ask (own trace)"));
}
