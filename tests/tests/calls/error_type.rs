//! `error.type` says what kind of failure a call was, low-cardinality: from `error_type = ...`,
//! the error's `ErrorType`, or what the body recorded itself; the type name only as the last
//! resort (issue 11).

use std::borrow::Cow;

use tracing_ai::{ai_span, AiLayer, ErrorType, Usage};
use tracing_ai_tests::otel::{export_with, str_attr};

#[derive(Debug)]
enum ClientError {
    RateLimited,
    Status(u16),
}

impl ErrorType for ClientError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            ClientError::RateLimited => "rate_limit_exceeded".into(),
            ClientError::Status(status) => status.to_string().into(),
        }
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn rate_limited() -> Result<Usage, ClientError> {
    Err(ClientError::RateLimited)
}

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
fn server_error() -> Result<Usage, ClientError> {
    Err(ClientError::Status(500))
}

#[derive(Debug)]
struct HttpError {
    status: u16,
}

#[ai_span(
    kind = "llm",
    model = "gpt-4.1",
    provider = "openai",
    error_type = if err.status == 408 { "timeout".to_owned() } else { err.status.to_string() }
)]
fn timed_out() -> Result<Usage, HttpError> {
    Err(HttpError { status: 408 })
}

#[ai_span(kind = "llm", model = "gpt-4.1-mini", provider = "openai")]
fn classified_in_the_body() -> Result<Usage, HttpError> {
    tracing::Span::current().record("error.type", "invalid_request_error");
    Err(HttpError { status: 400 })
}

#[test]
fn the_error_says_what_kind_of_failure_it_is() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        let _ = rate_limited();
        let _ = server_error();
        let _ = timed_out();
        let _ = classified_in_the_body();
    });
    let error_type = |name: &str| {
        str_attr(exported.span(name), "error.type")
            .map(Cow::into_owned)
            .unwrap_or_else(|| panic!("`{name}` has an error.type"))
    };
    assert_eq!(error_type("chat gpt-4o-mini"), "rate_limit_exceeded");
    assert_eq!(error_type("chat gpt-4o"), "500");
    assert_eq!(error_type("chat gpt-4.1"), "timeout");
    assert_eq!(
        error_type("chat gpt-4.1-mini"),
        "invalid_request_error",
        "what the body recorded is kept, not overwritten by the type name"
    );
}
