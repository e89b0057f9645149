//! Async functions and methods: the span covers every poll, parents survive `.await`, usage is
//! recorded when the future completes.

use std::future::Future;
use std::time::Duration;

use tracing::Instrument as _;
use tracing_ai::{ai_span, ReportsUsage, Usage};
use tracing_ai_tests::{capture_async, s, FieldValue};

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(query: &str) -> Result<Usage, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(Usage::new(query.split_whitespace().count() as u64, 0))
}

#[ai_span(kind = "retrieval")]
async fn retrieve(k: usize) -> Vec<usize> {
    tokio::task::yield_now().await;
    (0..k).collect()
}

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
async fn generate(prompt: &str) -> Result<Usage, std::io::Error> {
    tokio::task::yield_now().await;
    tracing::info_span!("http.request").in_scope(|| ());
    Ok(Usage::new(prompt.len() as u64, 42))
}

async fn rag_query(query: &str) -> Result<(), std::io::Error> {
    embed(query).await?;
    let chunks = retrieve(10).await;
    assert_eq!(chunks.len(), 10);
    generate(query).await?;
    Ok(())
}

#[test]
fn a_request_is_one_tree_across_awaits() {
    let root = || tracing::info_span!("rag.query", tenant.id = "acme");
    let (ret, captured) =
        capture_async(async { rag_query("what is a span").instrument(root()).await });
    ret.expect("the request succeeds");
    let root = captured.span("rag.query");
    for name in [
        "embeddings text-embedding-3-small",
        "retrieval retrieve",
        "chat gpt-4o",
    ] {
        let span = captured.span(name);
        assert_eq!(
            captured.parent_of(span).map(|p| p.name),
            Some(root.name),
            "{name}"
        );
        assert!(span.closed, "{name} closed");
    }
    let http = captured.span("http.request");
    assert_eq!(
        captured.parent_of(http).map(|p| p.name),
        Some("chat gpt-4o")
    );
    assert_eq!(
        captured
            .span("embeddings text-embedding-3-small")
            .field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(4)
    );
    assert_eq!(
        captured
            .span("chat gpt-4o")
            .field("gen_ai.usage.output_tokens"),
        &FieldValue::I64(42)
    );
}

#[test]
fn concurrent_calls_keep_their_own_spans() {
    let (_, captured) = capture_async(async {
        let (a, b) = tokio::join!(generate("one"), generate("three"));
        (a.is_ok(), b.is_ok())
    });
    let mut inputs: Vec<_> = captured
        .spans_named("chat gpt-4o")
        .iter()
        .map(|span| span.field("gen_ai.usage.input_tokens").clone())
        .collect();
    inputs.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(inputs, [FieldValue::I64(3), FieldValue::I64(5)]);
}

struct Client {
    model: String,
    provider: &'static str,
}

impl Client {
    #[ai_span(kind = "llm", model = self.model.as_str(), provider = self.provider)]
    async fn complete(&self, prompt: &str) -> Result<Usage, std::io::Error> {
        tokio::task::yield_now().await;
        Ok(Usage::new(prompt.len() as u64, 1))
    }

    #[ai_span(kind = "llm", model = &self.model)]
    async fn complete_mut(&mut self) -> Usage {
        self.provider = "changed";
        Usage::new(2, 2)
    }

    #[ai_span(kind = "llm", model = self.model.clone())]
    async fn complete_owned(self) -> Usage {
        drop(self);
        Usage::new(3, 3)
    }
}

#[test]
fn async_methods_take_the_model_from_self() {
    let (_, captured) = capture_async(async {
        let mut client = Client {
            model: "claude-haiku-4-5".into(),
            provider: "anthropic",
        };
        client.complete("hello").await.expect("ok");
        client.complete_mut().await;
        client.complete_owned().await;
    });
    let spans = captured.spans_named("chat");
    assert_eq!(
        spans.len(),
        3,
        "the tracing name of a runtime model is the operation"
    );
    for span in &spans {
        assert_eq!(span.field("gen_ai.request.model"), &s("claude-haiku-4-5"));
        assert_eq!(
            span.field("otel.name").as_text(),
            Some("chat claude-haiku-4-5"),
            "the OpenTelemetry name carries the model"
        );
    }
    assert_eq!(spans[0].field("gen_ai.provider.name"), &s("anthropic"));
    assert_eq!(
        spans[2].field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(3)
    );
}

trait Generator {
    fn generate(&self, prompt: &str) -> impl Future<Output = Usage> + Send;
}

struct Local;

impl Generator for Local {
    #[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
    async fn generate(&self, prompt: &str) -> Usage {
        tokio::task::yield_now().await;
        Usage::new(prompt.len() as u64, 8)
    }
}

#[test]
fn async_fn_in_a_trait_impl() {
    let (_, captured) = capture_async(Local.generate("abc"));
    let span = captured.span("chat llama-3.1-8b-fp8");
    assert_eq!(span.field("gen_ai.usage.input_tokens"), &FieldValue::I64(3));
    assert_eq!(span.field("gen_ai.provider.name"), &s("self-hosted"));
}

#[ai_span(kind = "llm", model = "gpt-4o-mini")]
fn returns_a_future(tokens: u64) -> impl Future<Output = Usage> {
    async move {
        tokio::task::yield_now().await;
        tracing::info_span!("inside").in_scope(|| ());
        Usage::new(tokens, 1)
    }
}

#[test]
fn a_fn_returning_an_async_block_instruments_the_future() {
    let (_, captured) = capture_async(async {
        let fut = returns_a_future(11);
        // Nothing has run yet: the span belongs to the future, not to building it.
        tokio::task::yield_now().await;
        fut.await
    });
    let span = captured.span("chat gpt-4o-mini");
    assert_eq!(
        span.field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(11)
    );
    let inside = captured.span("inside");
    assert_eq!(
        captured.parent_of(inside).map(|p| p.name),
        Some("chat gpt-4o-mini")
    );
}

struct Completion(u64);

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.0, self.0))
    }
}

#[ai_span(kind = "llm", model = "gpt-4o")]
async fn spawned(n: u64) -> Completion {
    Completion(n)
}

#[test]
fn futures_are_send_and_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let fut = spawned(1);
    assert_send(&fut);
    let fut = embed("x");
    assert_send(&fut);
    drop(fut);
    let (_, captured) = capture_async(async {
        let handle = tokio::spawn(spawned(5).in_current_span());
        handle.await.expect("task completes").0
    });
    assert_eq!(
        captured
            .span("chat gpt-4o")
            .field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(5)
    );
}
