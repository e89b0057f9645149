use tracing_ai::{ai_span, Usage};

/// An error type tracing-ai cannot classify, as a client crate's is without its feature.
#[derive(Debug)]
struct ForeignError;

impl std::fmt::Display for ForeignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat() -> std::pin::Pin<Box<dyn tracing_ai::stream::Stream<Item = Result<Usage, ForeignError>> + Send>> {
    unimplemented!()
}

fn main() {}
