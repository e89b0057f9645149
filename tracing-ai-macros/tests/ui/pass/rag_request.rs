//! The seed's request: embed, retrieve and generate annotated as a user would (issue #3).
use tracing_ai::{ai_span, record_cache_hit, record_fallback, CacheHit, ReportsUsage, Usage};

pub struct Embedding(pub Vec<f32>);
pub struct Completion {
    pub text: String,
    pub usage: Usage,
}

impl ReportsUsage for Embedding {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.0.len() as u64, 0))
    }
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(self.usage.clone())
    }
}

#[derive(Debug)]
pub struct Error;

#[ai_span(kind = "embedding", model = "text-embedding-3-small", provider = "openai")]
pub async fn embed(query: &str) -> Result<Embedding, Error> {
    Ok(Embedding(vec![0.0; query.len()]))
}

#[ai_span(kind = "retrieval", fields(k))]
pub async fn retrieve(_embedding: &Embedding, k: usize) -> Vec<String> {
    record_cache_hit(CacheHit::Miss);
    vec![String::new(); k]
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
pub async fn generate(prompt: &str, _chunks: &[String]) -> Result<Completion, Error> {
    record_fallback("llama-3.1-8b-fp8");
    Ok(Completion { text: prompt.to_owned(), usage: Usage::new(10, 2) })
}

fn main() {}
