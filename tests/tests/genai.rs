//! The real genai client (0.7) with its own `otel` feature, against the local server speaking
//! OpenAI's wire format: the `chat` spans genai emits by itself are priced and attributed by
//! the layer with no annotation at all, and a `ChatResponse` reports its usage (issue 11).

use genai::adapter::AdapterKind;
use genai::chat::{ChatRequest, ChatResponse};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{Client, ModelIden, ServiceTarget};
use tracing::Instrument as _;
use tracing_ai::{AiLayer, ReportsUsage};
use tracing_ai_tests::model_server::{
    ModelServer, CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS,
};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

fn client(server: &ModelServer) -> Client {
    let base = format!("{}/", server.api_base());
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            let ServiceTarget { model, .. } = target;
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(base.clone()),
                auth: AuthData::from_single("sk-local"),
                model: ModelIden::new(AdapterKind::OpenAI, model.model_name),
            })
        },
    );
    Client::builder()
        .with_service_target_resolver(resolver)
        .build()
        .expect("a client")
}

#[test]
fn genai_spans_are_priced_and_attributed_without_an_annotation() {
    let server = ModelServer::start();
    let (response, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(
            async {
                client(&server)
                    .exec_chat(
                        "gpt-4o-mini",
                        ChatRequest::from_user("What is a span?"),
                        None,
                    )
                    .await
                    .expect("an answer")
            }
            .instrument(tracing::info_span!("ask", tenant.id = "acme")),
        )
    });
    let response: ChatResponse = response;
    let usage = response.usage().expect("the response reports its usage");
    assert_eq!(usage.input_tokens, PROMPT_TOKENS);
    assert_eq!(usage.cache_read_tokens, Some(CACHED_TOKENS));
    assert_eq!(usage.output_tokens, COMPLETION_TOKENS);

    let span = exported
        .spans
        .iter()
        .find(|span| attr(span, "gen_ai.operation.name").is_some())
        .unwrap_or_else(|| panic!("genai's span: {:#?}", exported.spans));
    assert!(
        (f64_attr(span, "gen_ai.usage.cost") - 0.0002343).abs() < 1e-12,
        "{:#?}",
        span.attributes
    );
    assert_eq!(str_attr(span, "tenant.id").as_deref(), Some("acme"));
}

/// genai's request and response as message content: the trait mappings, on the real client's
/// answer (the capture itself is tested in `content.rs`).
#[test]
fn a_chats_request_and_answer_map_to_the_conventions_messages() {
    use tracing_ai::content::{InputContent, ReportsContent};

    let server = ModelServer::start();
    let request = ChatRequest::from_system("Be brief.")
        .append_message(genai::chat::ChatMessage::user("What is a span?"));
    let response = tracing_ai_tests::block_on(async {
        client(&server)
            .exec_chat("gpt-4o-mini", request.clone(), None)
            .await
            .expect("an answer")
    });
    let json = |messages: Vec<tracing_ai::content::Message>| -> serde_json::Value {
        let (_, exported) = export_with(
            AiLayer::builder().with_content_capture(tracing_ai::content::ContentCapture::SpanOnly),
            || {
                tracing::info_span!("chat", gen_ai.operation.name = "chat").in_scope(|| {
                    tracing_ai::content::record_output_messages(&messages);
                })
            },
        );
        serde_json::from_str(
            &str_attr(&exported.spans[0], "gen_ai.output.messages").expect("captured"),
        )
        .expect("JSON")
    };
    assert_eq!(
        json(request.input_messages()),
        serde_json::json!([{
            "role": "user",
            "parts": [{"type": "text", "content": "What is a span?"}],
            "finish_reason": "unknown",
        }])
    );
    assert_eq!(request.system_instructions().len(), 1);
    assert_eq!(
        json(response.output_messages()),
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "A span is a unit of work."}],
            "finish_reason": "stop",
        }])
    );
}
