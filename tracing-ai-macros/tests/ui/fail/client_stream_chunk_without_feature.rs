//! async-openai's stream chunk, with tracing-ai's `async-openai` feature off: the error must
//! name the feature.
use async_openai::types::chat::CreateChatCompletionStreamResponse;
use tracing_ai::ai_span;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat() -> std::pin::Pin<
    Box<
        dyn tracing_ai::stream::Stream<Item = Result<CreateChatCompletionStreamResponse, std::io::Error>>
            + Send,
    >,
> {
    unimplemented!()
}

fn main() {}
