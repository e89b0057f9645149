//! The seed's RAG request, annotated with `#[ai_span]`: a gateway span per request, then
//! embed, retrieve and generate, with a self-hosted model that falls back to a hosted one.
//!
//! Run with `cargo run --example quickstart`. Model calls are simulated: deterministic,
//! offline, with token counts that depend on the text.
//!
//! With no OTLP endpoint set, each request's tree is printed on stderr with every call's
//! tokens and cost (USD and GBP). With `OTEL_EXPORTER_OTLP_ENDPOINT` set (and
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` or `http/protobuf`), one trace per request goes to that
//! backend instead.
//!
//! Flags: `--requests N` (default 6, two tenants), `--error-rate F` (the fraction of requests
//! whose generation fails for good, default 0), `--seed S` (default 7).

use std::fmt;
use std::time::Duration;

use tracing::Instrument as _;
use tracing_ai::{
    ai_span, record_cache_hit, record_fallback, AiLayer, CacheHit, ModelPrice, ReportsUsage, Usage,
};

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
    /// The hosted API refused the request.
    RateLimited,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::OutOfMemory { prompt_tokens } => {
                write!(f, "GPU out of memory on a {prompt_tokens}-token prompt")
            }
            ModelError::RateLimited => f.write_str("rate limited (429), retries exhausted"),
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
async fn retrieve(embedding: &Embedding, k: usize, seen_before: bool) -> Vec<String> {
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
async fn generate(prompt: &str, fail: bool) -> Result<Completion, ModelError> {
    let prompt = if fail {
        prompt.repeat(4)
    } else {
        prompt.to_owned()
    };
    match generate_self_hosted(&prompt).await {
        Ok(completion) => Ok(completion),
        Err(_) => generate_hosted(&prompt, "llama-3.1-8b-fp8", fail).await,
    }
}

async fn rag_query(question: &str, seen_before: bool, fail: bool) -> Result<String, ModelError> {
    let embedding = embed(question).await?;
    let chunks = retrieve(&embedding, 10, seen_before).await;
    let context_len = if question.len() > 40 { chunks.len() } else { 3 };
    let prompt = format!(
        "{}\n\nQuestion: {question}",
        chunks[..context_len].join("\n")
    );
    Ok(generate(&prompt, fail).await?.text)
}

const QUESTIONS: &[&str] = &[
    "What is a span?",
    "How do spans nest across await points in an async Rust service?",
    "Why did my request fail?",
    "Which tenant spent the most on embeddings this week?",
    "What does a semantic cache hit save?",
];

/// The example's flags.
struct Flags {
    requests: usize,
    error_rate: f64,
    seed: u64,
}

impl Flags {
    fn parse() -> Result<Self, String> {
        let mut flags = Flags {
            requests: 6,
            error_rate: 0.0,
            seed: 7,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match flag.as_str() {
                "--requests" => {
                    flags.requests = value("--requests")?
                        .parse()
                        .map_err(|e| format!("--requests: {e}"))?
                }
                "--error-rate" => {
                    flags.error_rate = value("--error-rate")?
                        .parse()
                        .map_err(|e| format!("--error-rate: {e}"))?;
                    if !(0.0..=1.0).contains(&flags.error_rate) {
                        return Err("--error-rate must be between 0 and 1".to_owned());
                    }
                }
                "--seed" => {
                    flags.seed = value("--seed")?
                        .parse()
                        .map_err(|e| format!("--seed: {e}"))?
                }
                other => {
                    return Err(format!(
                    "unknown flag `{other}`; the flags are --requests N, --error-rate F, --seed S"
                ))
                }
            }
        }
        Ok(flags)
    }
}

/// SplitMix64: a small, deterministic generator, so that a seed replays the same requests.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse()?;
    let _guard = tracing_ai::builder()
        .with_service_name("quickstart")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        .with_layer(
            AiLayer::builder()
                // The self-hosted model runs on a GPU rented by the hour, paid in GBP.
                .with_model_price(
                    "llama-3.1-8b-fp8",
                    ModelPrice::per_gpu_hour(1.85).in_currency("GBP"),
                )
                // Finance reports in GBP: every cost is exported in USD and in GBP.
                .with_reporting_currency("GBP", 0.79),
        )
        .init()?;

    let mut random = Random(flags.seed);
    let tenants = [("acme", "search"), ("globex", "support-bot")];
    let mut seen = std::collections::HashSet::new();
    for n in 0..flags.requests {
        let (tenant, feature) = tenants[n % tenants.len()];
        let question = QUESTIONS[(random.next() % QUESTIONS.len() as u64) as usize];
        let fail = random.unit() < flags.error_rate;
        let seen_before = !seen.insert((tenant, question));
        let root = tracing::info_span!(
            "rag.query",
            tenant.id = tenant,
            feature.id = feature,
            request.id = %format_args!("req-{n:04}"),
            user.id = %format_args!("user-{}", random.next() % 5),
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
        );
        let answer = rag_query(question, seen_before, fail)
            .instrument(root.clone())
            .await;
        if let Err(error) = answer {
            // The request failed for good: its root span says so, for the backend's error view.
            root.record("otel.status_code", "ERROR");
            root.record("otel.status_description", error.to_string());
        }
    }
    Ok(())
}
