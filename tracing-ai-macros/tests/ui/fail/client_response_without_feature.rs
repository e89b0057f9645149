//! async-openai's embedding response, with tracing-ai's `async-openai` feature off: the error
//! must name the feature, not ask for an impl the orphan rule forbids.
use async_openai::types::embeddings::CreateEmbeddingResponse;
use tracing_ai::ai_span;

#[ai_span(kind = "embedding", model = "text-embedding-3-small", provider = "openai")]
async fn embed() -> Result<CreateEmbeddingResponse, std::io::Error> {
    unimplemented!()
}

fn main() {}
