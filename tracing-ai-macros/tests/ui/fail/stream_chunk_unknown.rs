use tracing_ai::ai_span;

/// A chunk type tracing-ai cannot read, as a client crate's is without its feature.
struct ForeignChunk;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat() -> std::pin::Pin<Box<dyn tracing_ai::stream::Stream<Item = ForeignChunk> + Send>> {
    unimplemented!()
}

fn main() {}
