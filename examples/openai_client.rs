//! The real async-openai client, instrumented with no glue: a chat completion, a streamed one
//! and an embedding, under a request span that carries the tenant and feature they are
//! billed to.
//!
//! Run with `cargo run --example openai_client`. By default it calls a local server that
//! speaks OpenAI's wire format (the one the tests use), so it needs no key and no network;
//! with `OPENAI_API_BASE` and `OPENAI_API_KEY` set it calls that endpoint instead. With no OTLP
//! endpoint set, the request's tree is printed on stderr with each call's tokens and cost.
//!
//! `--abandon-stream` drops the streamed answer after its first chunk, as a client whose user
//! closed the page: the provider reported no usage, so the layer prices the call from an
//! estimate (its prompt's tokens as tiktoken counts them, one output token per chunk read),
//! marked `ai.cost.source = estimated`.

use async_openai::config::{Config as _, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, ChatCompletionResponseStream,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, CreateEmbeddingResponse};
use async_openai::Client;
use tokio_stream::StreamExt as _;
use tracing::Instrument as _;
use tracing_ai::ai_span;
use tracing_ai::estimate::Tiktoken;
use tracing_ai_tests::model_server::ModelServer;

// `endpoint` gives the spans and the duration metrics the server's address and port, as the
// conventions recommend.
#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai",
    endpoint = client.config().api_base()
)]
async fn embed(
    client: &Client<OpenAIConfig>,
    text: &str,
) -> Result<CreateEmbeddingResponse, OpenAIError> {
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(text)
        .build()?;
    client.embeddings().create(request).await
}

/// A chat completion: its request is its input, so that the span carries the parameters the
/// request set (`gen_ai.request.temperature`, `max_tokens`, ...).
#[ai_span(
    kind = "llm",
    model = request.model.as_str(),
    provider = "openai",
    endpoint = client.config().api_base(),
    input = request
)]
async fn answer(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    client.chat().create(request).await
}

/// A streamed answer: the span lasts until the last chunk, whose usage prices the call. Its
/// request is its input: what an estimate counts when the stream ends without usage.
#[ai_span(
    kind = "llm",
    model = request.model.as_str(),
    provider = "openai",
    endpoint = client.config().api_base(),
    stream,
    input = request
)]
async fn answer_streamed(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<ChatCompletionResponseStream, OpenAIError> {
    client.chat().create_stream(request).await
}

fn chat_request(question: &str, stream: bool) -> Result<CreateChatCompletionRequest, OpenAIError> {
    let mut request = CreateChatCompletionRequestArgs::default();
    request
        .model("gpt-4o-mini")
        .temperature(0.2)
        .max_completion_tokens(256_u32)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content(question)
            .build()?
            .into()]);
    if stream {
        // Without it the stream reports no usage, and the call is exported unpriced.
        request.stream_options(ChatCompletionStreamOptions {
            include_usage: Some(true),
            ..Default::default()
        });
    }
    request.build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let abandon_stream = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--abandon-stream") => true,
        Some(other) => {
            return Err(format!("unknown flag `{other}`; the flag is --abandon-stream").into())
        }
    };
    // A call that ends without usage (a dropped stream) is priced from an estimate.
    let layer = tracing_ai::AiLayer::builder().with_token_estimator(Tiktoken);
    let _guard = tracing_ai::builder().with_layer(layer).try_init()?;
    // A local stand-in for the API unless a real endpoint is configured; it runs its own
    // runtime, so it starts before this one.
    let (_server, api_base, api_key) = match std::env::var("OPENAI_API_BASE") {
        Ok(base) => (
            None,
            base,
            std::env::var("OPENAI_API_KEY").unwrap_or_default(),
        ),
        Err(_) => {
            let server = ModelServer::start();
            let base = server.api_base();
            (Some(server), base, "sk-local".to_owned())
        }
    };
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(api_base)
            .with_api_key(api_key),
    );
    tokio::runtime::Runtime::new()?.block_on(ask(&client, abandon_stream))?;
    Ok(())
}

async fn ask(client: &Client<OpenAIConfig>, abandon_stream: bool) -> Result<(), OpenAIError> {
    // The request's span carries who the calls are for: every AI span below inherits it.
    let request = tracing::info_span!(
        "ask",
        tenant.id = "acme",
        feature.id = "support-bot",
        request.id = "req-0001",
    );
    async {
        let question = "What is a span?";
        embed(client, question).await?;
        let answer = answer(client, chat_request(question, false)?).await?;
        let text = answer.choices[0]
            .message
            .content
            .clone()
            .unwrap_or_default();
        let mut chunks = answer_streamed(client, chat_request(&text, true)?).await?;
        while let Some(chunk) = chunks.next().await {
            chunk?;
            if abandon_stream {
                // Dropped here: the provider's last chunk, with the usage, never arrives.
                break;
            }
        }
        Ok(())
    }
    .instrument(request)
    .await
}
