//! A failed call records its error type and an error status, and no usage.

use std::fmt;

use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::{capture, capture_async, s};

#[derive(Debug)]
enum ClientError {
    RateLimited { retry_after_s: u32 },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::RateLimited { retry_after_s } => {
                write!(f, "rate limited, retry after {retry_after_s}s")
            }
        }
    }
}

impl std::error::Error for ClientError {}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn fails() -> Result<Usage, ClientError> {
    Err(ClientError::RateLimited { retry_after_s: 3 })
}

#[test]
fn err_records_error_type_and_status_and_no_usage() {
    let (ret, captured) = capture(fails);
    assert!(ret.is_err(), "the error is returned unchanged");
    let span = captured.span("chat gpt-4o");
    assert_eq!(span.field("error.type"), &s("calls::err::ClientError"));
    assert_eq!(span.field("otel.status_code"), &s("ERROR"));
    assert_eq!(
        span.field("otel.status_description").as_text(),
        Some("rate limited, retry after 3s")
    );
    assert_eq!(span.get("gen_ai.usage.input_tokens"), None);
    assert_eq!(span.get("gen_ai.usage.output_tokens"), None);
}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn ok() -> Result<Usage, ClientError> {
    Ok(Usage::new(3, 4))
}

#[test]
fn ok_records_usage_and_no_error() {
    let (_, captured) = capture(ok);
    let span = captured.span("chat gpt-4o");
    assert_eq!(span.get("error.type"), None);
    assert_eq!(span.get("otel.status_code"), None);
    assert!(span.get("gen_ai.usage.input_tokens").is_some());
}

fn parse(text: &str) -> Result<u64, std::num::ParseIntError> {
    text.parse()
}

#[ai_span(kind = "embedding", model = "text-embedding-3-small")]
fn question_mark(tokens: &str) -> Result<Usage, Box<dyn std::error::Error + Send + Sync>> {
    let input = parse(tokens)?;
    if input == 0 {
        return Err("empty input".into());
    }
    Ok(Usage::new(input, 0))
}

#[test]
fn question_mark_and_early_return_are_seen() {
    let (_, captured) = capture(|| {
        assert_eq!(question_mark("12").ok().map(|u| u.input_tokens), Some(12));
        assert!(question_mark("twelve").is_err());
        assert!(question_mark("0").is_err());
    });
    let spans = captured.spans_named("embeddings text-embedding-3-small");
    assert_eq!(spans.len(), 3);
    assert_eq!(
        spans[0].field("gen_ai.usage.input_tokens"),
        &tracing_ai_tests::FieldValue::I64(12)
    );
    let boxed =
        "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>";
    assert_eq!(spans[1].field("error.type"), &s(boxed));
    assert_eq!(
        spans[1].field("otel.status_description").as_text(),
        Some("invalid digit found in string")
    );
    assert_eq!(
        spans[2].field("otel.status_description").as_text(),
        Some("empty input")
    );
    assert_eq!(spans[2].get("gen_ai.usage.input_tokens"), None);
}

struct Opaque;

#[ai_span(kind = "tool")]
fn error_without_display() -> Result<u8, Opaque> {
    Err(Opaque)
}

#[test]
fn an_error_without_display_still_fails_the_span() {
    let (_, captured) = capture(|| error_without_display().is_err());
    let span = captured.span("execute_tool error_without_display");
    assert_eq!(span.field("error.type"), &s("calls::err::Opaque"));
    assert_eq!(span.field("otel.status_code"), &s("ERROR"));
    assert_eq!(span.get("otel.status_description"), None);
}

#[ai_span(kind = "retrieval")]
async fn async_fails() -> Result<Vec<String>, ClientError> {
    tokio::task::yield_now().await;
    Err(ClientError::RateLimited { retry_after_s: 1 })
}

#[test]
fn async_err_records_the_error() {
    let (_, captured) = capture_async(async_fails());
    let span = captured.span("retrieval async_fails");
    assert_eq!(span.field("error.type"), &s("calls::err::ClientError"));
    assert_eq!(span.field("otel.status_code"), &s("ERROR"));
}

type AppResult<T> = Result<T, ClientError>;

#[ai_span(kind = "llm", model = "gpt-4o-mini")]
fn through_an_alias() -> AppResult<Usage> {
    Err(ClientError::RateLimited { retry_after_s: 9 })
}

#[test]
fn a_result_behind_a_type_alias_is_still_a_result() {
    let (_, captured) = capture(|| through_an_alias().is_err());
    assert_eq!(
        captured.span("chat gpt-4o-mini").field("error.type"),
        &s("calls::err::ClientError")
    );
}
