//! A retry loop of one's own, marked with `tracing_ai::retry::attempt` (issue 21, item 3): one
//! child span per attempt under the call's span, with its status and the wait before it; the
//! call counts its attempts.

use std::time::Duration;

use opentelemetry::trace::Status;
use tracing::Instrument as _;
use tracing_ai::{ai_span, retry, AiLayer, Usage};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};
use tracing_ai_tests::Overloaded;

async fn send(attempt: u32) -> Result<Usage, Overloaded> {
    if attempt < 3 {
        Err(Overloaded)
    } else {
        Ok(Usage::new(100, 10))
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn chat() -> Result<Usage, Overloaded> {
    let mut result = Err(Overloaded);
    for n in 1..=3 {
        let attempt = retry::attempt();
        result = send(n).instrument(attempt.span().clone()).await;
        match &result {
            Ok(_) => {
                attempt.succeeded();
                break;
            }
            Err(_) => attempt.failed("overloaded"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    result
}

#[test]
fn a_hand_written_retry_loop_is_one_span_per_attempt() {
    let (result, exported) = export_with(AiLayer::builder(), || tracing_ai_tests::block_on(chat()));
    result.expect("the third attempt succeeds");
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(attr(call, "ai.attempts"), Some(&3_i64.into()));
    assert!(f64_attr(call, "gen_ai.usage.cost") > 0.0);
    for n in 1..=3_i64 {
        let attempt = exported.span(&format!("attempt {n}"));
        assert_eq!(attempt.parent_span_id, call.span_context.span_id());
        assert_eq!(attr(attempt, "ai.attempt"), Some(&n.into()));
        let failed = n < 3;
        assert_eq!(
            str_attr(attempt, "error.type").as_deref(),
            failed.then_some("overloaded")
        );
        assert_eq!(matches!(attempt.status, Status::Error { .. }), failed);
        match n {
            1 => assert_eq!(attr(attempt, "ai.attempt.wait"), None),
            _ => assert!(f64_attr(attempt, "ai.attempt.wait") >= 0.02),
        }
    }
}
