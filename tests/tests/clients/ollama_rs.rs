//! The real ollama-rs client (0.3) against a local server that speaks Ollama's API: the
//! self-hosted path, priced by GPU time, with the counts Ollama reports (issue 11).

use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, ChatMessageResponse};
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::generation::completion::GenerationResponse;
use ollama_rs::Ollama;
use opentelemetry_sdk::trace::SpanData;
use tracing_ai::{ai_span, AiLayer, ModelPrice};
use tracing_ai_tests::model_server::{
    ModelServer, OLLAMA_EVAL_TOKENS, OLLAMA_LATENCY, OLLAMA_PROMPT_TOKENS,
};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, json_attr, str_attr};

fn ollama(server: &ModelServer) -> Ollama {
    let (host, port) = server.ollama();
    Ollama::builder().host(host).port(port).build()
}

#[ai_span(kind = "llm", model = model, provider = "ollama")]
async fn chat(client: &Ollama, model: &str) -> Result<ChatMessageResponse, OllamaError> {
    let request = ChatMessageRequest::new(
        model.to_owned(),
        vec![ChatMessage::user("What is a span?".to_owned())],
    );
    client.send_chat_messages(request).await
}

/// A chat whose request is recorded as content (when capture is on).
#[ai_span(kind = "llm", model = request.model_name.as_str(), provider = "ollama", input = request)]
async fn chat_request(
    client: &Ollama,
    request: ChatMessageRequest,
) -> Result<ChatMessageResponse, OllamaError> {
    client.send_chat_messages(request).await
}

#[ai_span(kind = "completion", model = model, provider = "ollama")]
async fn generate(client: &Ollama, model: &str) -> Result<GenerationResponse, OllamaError> {
    client
        .generate(GenerationRequest::new(model.to_owned(), "What is a span?"))
        .await
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(opentelemetry::Value::I64(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}", span.name),
    }
}

fn seconds(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .expect("ends after it starts")
        .as_secs_f64()
}

#[test]
fn a_self_hosted_call_reports_its_counts_and_is_priced_by_gpu_time() {
    let server = ModelServer::start();
    // $1.85 an hour for the GPU the model runs on.
    let layer = AiLayer::builder().with_model_price("llama3.1:8b", ModelPrice::per_gpu_hour(1.85));
    let (_, exported) = export_with(layer, || {
        tracing_ai_tests::block_on(async {
            let client = ollama(&server);
            chat(&client, "llama3.1:8b").await.expect("an answer");
            generate(&client, "llama3.1:8b").await.expect("an answer");
        })
    });
    for name in ["chat llama3.1:8b", "text_completion llama3.1:8b"] {
        let span = exported.span(name);
        assert_eq!(
            int(span, "gen_ai.usage.input_tokens"),
            OLLAMA_PROMPT_TOKENS as i64
        );
        assert_eq!(
            int(span, "gen_ai.usage.output_tokens"),
            OLLAMA_EVAL_TOKENS as i64
        );
        assert_eq!(
            str_attr(span, "ai.cost.source").as_deref(),
            Some("self-hosted")
        );
        // The call's time on the GPU, at $1.85 an hour: at least the server's latency, and
        // what the exported span lasted give or take 5 ms: the layer times the call with its
        // own monotonic clock, OpenTelemetry with the system clock, and a loaded machine can
        // deschedule the thread between the two layers' callbacks.
        let cost = f64_attr(span, "gen_ai.usage.cost");
        let at_least = OLLAMA_LATENCY.as_secs_f64() * 1.85 / 3600.0;
        let at_most = (seconds(span) + 0.005) * 1.85 / 3600.0;
        assert!(
            (at_least..=at_most).contains(&cost),
            "{cost} not in {at_least}..={at_most}"
        );
    }
}

#[test]
fn a_chats_messages_are_content_when_captured() {
    let server = ModelServer::start();
    let request = ChatMessageRequest::new(
        "llama3.1:8b".to_owned(),
        vec![
            ChatMessage::system("Be brief.".to_owned()),
            ChatMessage::user("What is a span? Key: sk-abcdefghijklmnopqrstuvwx".to_owned()),
        ],
    );
    let (answer, exported) = export_with(
        AiLayer::builder().with_content_capture(tracing_ai::content::ContentCapture::SpanOnly),
        || {
            tracing_ai_tests::block_on(async {
                chat_request(&ollama(&server), request)
                    .await
                    .expect("an answer")
            })
        },
    );
    let span = exported.span("chat llama3.1:8b");
    assert_eq!(
        json_attr(span, "gen_ai.input.messages"),
        serde_json::json!([
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "What is a span? Key: [REDACTED]"}]},
        ])
    );
    assert_eq!(
        json_attr(span, "gen_ai.output.messages"),
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": answer.message.content}],
            "finish_reason": "stop",
        }])
    );
}

#[test]
fn a_chats_options_are_its_request_parameters() {
    let server = ModelServer::start();
    let request = ChatMessageRequest::new(
        "llama3.1:8b".to_owned(),
        vec![ChatMessage::user("What is a span?".to_owned())],
    )
    .options(
        ollama_rs::models::ModelOptions::default()
            .temperature(0.5)
            .top_k(40)
            .seed(7)
            .num_predict(64)
            .stop(vec!["END".to_owned()]),
    );
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            chat_request(&ollama(&server), request)
                .await
                .expect("an answer")
        })
    });
    let span = exported.span("chat llama3.1:8b");
    assert_eq!(f64_attr(span, "gen_ai.request.temperature"), 0.5);
    assert_eq!(f64_attr(span, "gen_ai.request.top_k"), 40.0);
    assert_eq!(int(span, "gen_ai.request.seed"), 7);
    assert_eq!(int(span, "gen_ai.request.max_tokens"), 64);
    assert_eq!(
        attr(span, "gen_ai.request.stop_sequences"),
        Some(&opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["END".into()]
        )))
    );
    assert_eq!(attr(span, "gen_ai.request.top_p"), None);
}

#[test]
fn a_failed_call_says_so_and_is_never_free() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            assert!(chat(&ollama(&server), "missing").await.is_err());
        })
    });
    let span = exported.span("chat missing");
    assert_eq!(
        str_attr(span, "error.type").as_deref(),
        Some("request_failed")
    );
    assert_eq!(attr(span, "gen_ai.usage.cost"), None);
    assert!(str_attr(span, "ai.cost.unpriced").is_some());
}

/// ollama-rs' chat stream, returned as the stream of chunks it is: no newtype for its `()`
/// error (issue 33, item 6).
#[ai_span(kind = "llm", model = model, provider = "ollama", stream)]
async fn chat_stream(
    client: &Ollama,
    model: &str,
) -> Result<ollama_rs::generation::chat::ChatMessageResponseStream, OllamaError> {
    let request = ChatMessageRequest::new(
        model.to_owned(),
        vec![ChatMessage::user("What is a span?".to_owned())],
    );
    client.send_chat_messages_stream(request).await
}

#[test]
fn a_streamed_chat_reports_the_counts_of_its_last_chunk_and_counts_its_text_chunks() {
    use tokio_stream::StreamExt as _;
    use tracing_ai_tests::model_server::STREAM_CHUNKS;

    let server = ModelServer::start();
    let layer = AiLayer::builder().with_model_price("llama3.1:8b", ModelPrice::per_gpu_hour(1.85));
    let (text, exported) = export_with(layer, || {
        tracing_ai_tests::block_on(async {
            let stream = chat_stream(&ollama(&server), "llama3.1:8b")
                .await
                .expect("a stream");
            stream
                .filter_map(|chunk| chunk.ok().map(|chunk| chunk.message.content))
                .collect::<String>()
                .await
        })
    });
    assert_eq!(text, "word0 word1 word2 word3 ");
    let span = exported.span("chat llama3.1:8b");
    assert_eq!(
        int(span, "gen_ai.usage.input_tokens"),
        OLLAMA_PROMPT_TOKENS as i64
    );
    assert_eq!(
        int(span, "gen_ai.usage.output_tokens"),
        OLLAMA_EVAL_TOKENS as i64
    );
    // The four chunks with text; the last, with the counts and no text, is not one.
    assert_eq!(int(span, "ai.stream.chunks"), STREAM_CHUNKS as i64);
    assert_eq!(
        str_attr(span, "gen_ai.response.model").as_deref(),
        Some("llama3.1:8b")
    );
    assert!(
        f64_attr(span, "gen_ai.usage.cost") > 0.0,
        "priced by its GPU time"
    );
    assert_eq!(attr(span, "error.type"), None);
}
