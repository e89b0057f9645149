//! No secret leaves the process through an error (issue 12): a failed call's message is
//! exported redacted, or not at all when the layer says so; its `error.type` stays.

use opentelemetry::trace::Status;
use tracing_ai::{ai_span, AiLayer};
use tracing_ai_tests::otel::{export_with, str_attr};

#[derive(Debug)]
struct ProviderError(String);

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProviderError {}

const LEAKY: &str = "error sending request for url \
    (https://svc:hunter2@llm.internal/v1/chat?api_key=sk-live-0123456789abcdefXYZ): \
    401 Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwx, header Bearer eyJhbGci.x.y";

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn call() -> Result<tracing_ai::Usage, ProviderError> {
    Err(ProviderError(LEAKY.to_owned()))
}

fn description(status: &Status) -> &str {
    match status {
        Status::Error { description } => description,
        other => panic!("not an error status: {other:?}"),
    }
}

#[test]
fn an_error_message_is_exported_with_its_secrets_redacted() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        let _ = call();
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(
        description(&span.status),
        "error sending request for url (https://[REDACTED]@llm.internal/v1/chat?api_key=[REDACTED]): \
         401 Incorrect API key provided: [REDACTED], header Bearer [REDACTED]"
    );
    assert_eq!(
        str_attr(span, "error.type").as_deref(),
        Some("calls::secrets::ProviderError")
    );
}

#[test]
fn with_error_descriptions_off_only_the_type_is_exported() {
    let (_, exported) = export_with(AiLayer::builder().with_error_descriptions(false), || {
        let _ = call();
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(description(&span.status), "");
    assert_eq!(
        str_attr(span, "error.type").as_deref(),
        Some("calls::secrets::ProviderError")
    );
    assert!(span
        .attributes
        .iter()
        .all(|kv| !kv.value.as_str().contains("sk-")));
}
