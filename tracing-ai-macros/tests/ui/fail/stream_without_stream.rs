use tracing_ai::ai_span;

struct Chunk;

/// A function that returns a stream, annotated without `stream`: the note says to add it.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn chat() -> std::pin::Pin<Box<dyn tracing_ai::stream::Stream<Item = Chunk> + Send>> {
    unimplemented!()
}

fn main() {}
