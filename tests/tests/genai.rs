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
