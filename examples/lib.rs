//! What the examples share: the seed's RAG request, with its model calls simulated
//! (deterministic, offline, token counts that depend on the text), and the prices they use.
//!
//! Run an example with `cargo run --example <name>` from the workspace root.

use std::fmt;
use std::time::Duration;

use tracing_ai::{
    ai_span, record_cache_hit, record_fallback, AiLayer, AiLayerBuilder, CacheHit, ModelPrice,
    ReportsUsage, Usage,
};

/// The AI layer's configuration of the examples: the self-hosted model runs on a GPU rented
/// by the hour, paid in GBP, and finance reports in GBP.
pub fn layer() -> AiLayerBuilder {
    AiLayer::builder()
        .with_model_price(
            "llama-3.1-8b-fp8",
            ModelPrice::per_gpu_hour(1.85).in_currency("GBP"),
        )
        .with_reporting_currency("GBP", 0.79)
}

/// An embedding, as a client library would return it.
#[derive(Debug)]
pub struct Embedding {
    vector: Vec<f32>,
    prompt_tokens: u64,
}

impl Embedding {
    /// An embedding received from another service.
    pub fn new(vector: Vec<f32>, prompt_tokens: u64) -> Self {
        Self {
            vector,
            prompt_tokens,
        }
    }

    /// Its vector.
    pub fn vector(&self) -> &[f32] {
        &self.vector
    }

    /// The tokens it was billed for.
    pub fn prompt_tokens(&self) -> u64 {
        self.prompt_tokens
    }
}

impl ReportsUsage for Embedding {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.prompt_tokens, 0))
    }
}

/// A chat completion, as a client library would return it.
#[derive(Debug)]
pub struct Completion {
    text: String,
    usage: Usage,
}

impl Completion {
    /// The generated text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(self.usage.clone())
    }
}

/// Why a simulated model call failed.
#[derive(Debug)]
pub enum ModelError {
    /// The self-hosted GPU ran out of memory on a long prompt.
    OutOfMemory {
        /// The prompt that did not fit.
        prompt_tokens: u64,
    },
    /// The hosted API refused the request.
    RateLimited,
    /// A budget refused the call before it was made.
    OverBudget(tracing_ai::budget::BudgetExceeded),
}

impl From<tracing_ai::budget::BudgetExceeded> for ModelError {
    fn from(refused: tracing_ai::budget::BudgetExceeded) -> Self {
        ModelError::OverBudget(refused)
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::OutOfMemory { prompt_tokens } => {
                write!(f, "GPU out of memory on a {prompt_tokens}-token prompt")
            }
            ModelError::RateLimited => f.write_str("rate limited (429), retries exhausted"),
            ModelError::OverBudget(refused) => refused.fmt(f),
        }
    }
}

impl std::error::Error for ModelError {}

/// About four characters a token, as for English text.
fn tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// Embeds `query` (simulated: a few milliseconds, a token per four characters).
#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai",
    budget
)]
pub async fn embed(query: &str) -> Result<Embedding, ModelError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let vector = query.bytes().map(|b| f32::from(b) / 255.0).collect();
    Ok(Embedding {
        vector,
        prompt_tokens: tokens(query),
    })
}

/// The `k` chunks nearest to `embedding` in the vector store (simulated); `seen_before` makes
/// it a semantic-cache hit.
#[ai_span(kind = "retrieval", fields(k))]
pub async fn retrieve(embedding: &Embedding, k: usize, seen_before: bool) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    // The semantic cache answers questions close to earlier ones.
    record_cache_hit(if seen_before && !embedding.vector.is_empty() {
        CacheHit::Semantic
    } else {
        CacheHit::Miss
    });
    (0..k)
        .map(|i| format!("chunk {i}: spans nest across await points in tracing."))
        .collect()
}

#[ai_span(
    kind = "llm",
    model = "llama-3.1-8b-fp8",
    provider = "self-hosted",
    budget
)]
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

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
async fn generate_hosted(
    prompt: &str,
    failed_model: &str,
    fail: bool,
) -> Result<Completion, ModelError> {
    record_fallback(failed_model);
    tokio::time::sleep(Duration::from_millis(12)).await;
    if fail {
        return Err(ModelError::RateLimited);
    }
    let text = "A hosted answer, after the self-hosted model failed.".to_owned();
    let usage =
        Usage::new(tokens(prompt), tokens(&text)).with_response_model("gpt-4o-mini-2024-07-18");
    Ok(Completion { text, usage })
}

/// The self-hosted model first; the hosted API when it fails. `fail` makes both fail.
pub async fn generate(prompt: &str, fail: bool) -> Result<Completion, ModelError> {
    let prompt = if fail {
        prompt.repeat(4)
    } else {
        prompt.to_owned()
    };
    match generate_self_hosted(&prompt).await {
        Ok(completion) => Ok(completion),
        // Over budget is over budget on any model: no fallback.
        Err(ModelError::OverBudget(refused)) => Err(ModelError::OverBudget(refused)),
        Err(error) => {
            // A log line of the request: with `OTEL_LOGS_EXPORTER=otlp`, a log record in its
            // trace (the feature `opentelemetry-appender-tracing`).
            tracing::warn!(
                "the self-hosted model failed ({error}); falling back to the hosted API"
            );
            generate_hosted(&prompt, "llama-3.1-8b-fp8", fail).await
        }
    }
}

/// The request: embed the question, retrieve chunks, generate an answer (self-hosted first,
/// hosted on failure). `fail` makes the generation fail for good.
pub async fn rag_query(
    question: &str,
    seen_before: bool,
    fail: bool,
) -> Result<String, ModelError> {
    let embedding = embed(question).await?;
    let chunks = retrieve(&embedding, 10, seen_before).await;
    Ok(generate(&prompt(question, &chunks), fail).await?.text)
}

/// The prompt for `question` from the chunks retrieved: a long question takes them all (and
/// gets too long for the self-hosted model), a short one the first three.
pub fn prompt(question: &str, chunks: &[String]) -> String {
    let context_len = if question.len() > 40 {
        chunks.len()
    } else {
        chunks.len().min(3)
    };
    format!(
        "{}\n\nQuestion: {question}",
        chunks[..context_len].join("\n")
    )
}

/// The questions the simulated users ask.
pub const QUESTIONS: &[&str] = &[
    "What is a span?",
    "How do spans nest across await points in an async Rust service?",
    "Why did my request fail?",
    "Which tenant spent the most on embeddings this week?",
    "What does a semantic cache hit save?",
];

/// SplitMix64: a small, deterministic generator, so that a seed replays the same requests.
#[derive(Debug)]
pub struct Random(pub u64);

impl Random {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there are signals: when a service should stop and
/// return, so that its export guard sends the last spans.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}
