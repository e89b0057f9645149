//! The seed's RAG request, annotated with `#[ai_span]`: a gateway span per request, then
//! embed, retrieve and generate, with a self-hosted model that falls back to a hosted one.
//!
//! Run with `cargo run --example quickstart`. Model calls are simulated: deterministic,
//! offline, with token counts that depend on the text.
//!
//! This version prints each span as it closes, with its fields, through
//! `tracing_subscriber::fmt`, under `tracing_ai::AiLayer`, which adds every call's cost (in
//! USD and GBP) and the tenant, feature, request and user it was for.

use std::fmt;
use std::time::Duration;

use tracing::Instrument as _;
use tracing_ai::{
    ai_span, record_cache_hit, record_fallback, AiLayer, CacheHit, ModelPrice, ReportsUsage, Usage,
};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// An embedding, as a client library would return it.
struct Embedding {
    vector: Vec<f32>,
    prompt_tokens: u64,
}

impl ReportsUsage for Embedding {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.prompt_tokens, 0))
    }
}

/// A chat completion, as a client library would return it.
struct Completion {
    text: String,
    usage: Usage,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(self.usage.clone())
    }
}

#[derive(Debug)]
enum ModelError {
    /// The self-hosted GPU ran out of memory on a long prompt.
    OutOfMemory { prompt_tokens: u64 },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::OutOfMemory { prompt_tokens } => {
                write!(f, "GPU out of memory on a {prompt_tokens}-token prompt")
            }
        }
    }
}

impl std::error::Error for ModelError {}

/// About four characters a token, as for English text.
fn tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(query: &str) -> Result<Embedding, ModelError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let vector = query.bytes().map(|b| f32::from(b) / 255.0).collect();
    Ok(Embedding {
        vector,
        prompt_tokens: tokens(query),
    })
}

#[ai_span(kind = "retrieval", fields(k))]
async fn retrieve(embedding: &Embedding, k: usize) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    // The vector store's own cache answers repeated questions.
    if embedding.vector.len() % 2 == 1 {
        record_cache_hit(CacheHit::Semantic);
    } else {
        record_cache_hit(CacheHit::Miss);
    }
    (0..k)
        .map(|i| format!("chunk {i}: spans nest across await points in tracing."))
        .collect()
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
async fn generate_self_hosted(prompt: &str) -> Result<Completion, ModelError> {
    tokio::time::sleep(Duration::from_millis(8)).await;
    let prompt_tokens = tokens(prompt);
    if prompt_tokens > 120 {
        return Err(ModelError::OutOfMemory { prompt_tokens });
    }
    let text = format!("Answer drawn from {prompt_tokens} tokens of context.");
    let usage = Usage::new(prompt_tokens, tokens(&text));
    Ok(Completion { text, usage })
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate_hosted(prompt: &str, failed_model: &str) -> Result<Completion, ModelError> {
    record_fallback(failed_model);
    tokio::time::sleep(Duration::from_millis(12)).await;
    let text = "A hosted answer, after the self-hosted model failed.".to_owned();
    let usage =
        Usage::new(tokens(prompt), tokens(&text)).with_response_model("gpt-4o-mini-2024-07-18");
    Ok(Completion { text, usage })
}

async fn generate(prompt: &str) -> Result<Completion, ModelError> {
    match generate_self_hosted(prompt).await {
        Ok(completion) => Ok(completion),
        Err(_) => generate_hosted(prompt, "llama-3.1-8b-fp8").await,
    }
}

async fn rag_query(question: &str) -> Result<String, ModelError> {
    let embedding = embed(question).await?;
    let chunks = retrieve(&embedding, 10).await;
    let context_len = if question.len() > 40 { chunks.len() } else { 3 };
    let prompt = format!(
        "{}\n\nQuestion: {question}",
        chunks[..context_len].join("\n")
    );
    Ok(generate(&prompt).await?.text)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), tracing_ai::ConfigError> {
    let ai = AiLayer::builder()
        // The self-hosted model runs on a GPU rented by the hour, paid in GBP.
        .with_model_price(
            "llama-3.1-8b-fp8",
            ModelPrice::per_gpu_hour(1.85).in_currency("GBP"),
        )
        // Finance reports in GBP: every cost is exported in USD and in GBP.
        .with_reporting_currency("GBP", 0.79)
        .build()?;
    tracing_subscriber::registry()
        // Before `fmt`, so that `fmt` prints what the AI layer adds when a span closes.
        .with(ai)
        .with(
            tracing_subscriber::fmt::layer()
                .with_span_events(FmtSpan::CLOSE)
                .with_target(false),
        )
        .init();

    let requests = [
        ("acme", "search", "What is a span?"),
        (
            "acme",
            "search",
            "How do spans nest across await points in an async Rust service?",
        ),
        ("globex", "support-bot", "Why did my request fail?"),
    ];
    for (n, (tenant, feature, question)) in requests.into_iter().enumerate() {
        let root = tracing::info_span!(
            "rag.query",
            tenant.id = tenant,
            feature.id = feature,
            request.id = %format_args!("req-{n:04}"),
            user.id = %format_args!("user-{}", n % 2),
        );
        match rag_query(question).instrument(root).await {
            Ok(answer) => tracing::info!(%answer, "request {n} answered"),
            Err(error) => tracing::error!(%error, "request {n} failed"),
        }
    }
    Ok(())
}
