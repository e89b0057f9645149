//! Retries (issue 21, item 3), from a loop of one's own marked with `tracing_ai::retry::attempt`
//! and from reqwest-retry's middleware over `AttemptMiddleware`: one child span per attempt
//! under the call's span, with its status and the wait before it; the call counts its attempts.

use std::time::Duration;

use opentelemetry::trace::Status;
use tracing::Instrument as _;
use tracing_ai::{ai_span, retry, AiLayer, Usage};
use tracing_ai_tests::otel::{assert_waits, attr, export_with, f64_attr, str_attr};
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
        assert_eq!(attr(attempt, "ai.attempt.number"), Some(&n.into()));
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

/// A model called over reqwest-middleware, as a user without a client crate writes it.
#[ai_span(kind = "llm", model = model, provider = "openai")]
async fn chat_over_http(
    client: &reqwest_middleware::ClientWithMiddleware,
    url: String,
    model: &str,
) -> Result<Usage, reqwest_middleware::Error> {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Hello"}],
    });
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?
        .error_for_status()?;
    let answer: serde_json::Value =
        serde_json::from_slice(&response.bytes().await?).expect("the server answers JSON");
    let count = |name: &str| answer["usage"][name].as_u64().expect("a token count");
    Ok(Usage::new(
        count("prompt_tokens"),
        count("completion_tokens"),
    ))
}

#[test]
fn reqwest_retry_attempts_are_spans_under_the_call_each_with_its_client_span() {
    use reqwest_retry::policies::ExponentialBackoff;
    use reqwest_retry::{Jitter, RetryTransientMiddleware};
    use tracing_ai::propagation::PropagateContext;
    use tracing_ai::retry::AttemptMiddleware;
    use tracing_ai_tests::model_server::{assert_retried_flaky_call, ModelServer, FLAKY_FAILURES};

    let server = ModelServer::start();
    // Waits of exactly 100 ms, then 200 ms: no jitter.
    let backoff = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(100), Duration::from_secs(1))
        .jitter(Jitter::None)
        .base(2)
        .build_with_max_retries(3);
    // The retry middleware runs what follows it once per attempt.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(backoff))
        .with(AttemptMiddleware)
        .with(PropagateContext::new())
        .build();
    let builder = AiLayer::builder().with_model_price(
        "flaky-reqwest-retry",
        tracing_ai::ModelPrice::per_million_tokens(1.0, 2.0),
    );
    let url = format!("{}/chat/completions", server.api_base());
    let (answer, exported) = export_with(builder, || {
        tracing_ai_tests::block_on(chat_over_http(&client, url, "flaky-reqwest-retry"))
    });
    answer.expect("the third attempt answers");
    assert_eq!(server.requests(), FLAKY_FAILURES as usize + 1);

    let attempts = assert_retried_flaky_call(&exported, "chat flaky-reqwest-retry");
    for (n, attempt) in (1..).zip(&attempts) {
        let status = if n <= FLAKY_FAILURES { 429_i64 } else { 200 };
        // Each attempt is its own HTTP request, with its own client span (and traceparent).
        let requests = exported.children_of(attempt);
        assert_eq!(requests.len(), 1, "{}", attempt.name);
        assert_eq!(requests[0].name, "POST");
        assert_eq!(
            attr(requests[0], "http.response.status_code"),
            Some(&status.into())
        );
    }
    // The waits are the policy's: 100 ms, then 200 ms.
    assert_waits(&attempts, &[0.1, 0.2], 0.1);
}

#[test]
fn a_call_that_fails_over_reqwest_says_which_status_failed_it() {
    use tracing_ai_tests::model_server::ModelServer;

    let server = ModelServer::start();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    // `rate-limited` always answers 429: no retry policy, one attempt, the status as the error.
    #[ai_span(kind = "llm", model = "rate-limited", provider = "openai")]
    async fn refused(
        client: &reqwest_middleware::ClientWithMiddleware,
        url: String,
    ) -> Result<Usage, reqwest_middleware::Error> {
        let body = serde_json::json!({"model": "rate-limited", "messages": []});
        client
            .post(url)
            .body(body.to_string())
            .header("content-type", "application/json")
            .send()
            .await?
            .error_for_status()?;
        Ok(Usage::new(0, 0))
    }
    let url = format!("{}/chat/completions", server.api_base());
    let (answer, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(refused(&client, url))
    });
    answer.expect_err("a 429");
    let call = exported.span("chat rate-limited");
    assert_eq!(str_attr(call, "error.type").as_deref(), Some("429"));
    assert!(matches!(call.status, Status::Error { .. }));
}

#[test]
fn attempts_are_counted_on_the_call_when_the_client_span_is_outside_the_retries() {
    use reqwest_retry::policies::ExponentialBackoff;
    use reqwest_retry::RetryTransientMiddleware;
    use tracing_ai::propagation::PropagateContext;
    use tracing_ai::retry::AttemptMiddleware;
    use tracing_ai_tests::model_server::{ModelServer, FLAKY_FAILURES};

    let server = ModelServer::start();
    let backoff = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(10))
        .build_with_max_retries(3);
    // One client span around all the attempts: the attempts are under it, not under the call.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(PropagateContext::new())
        .with(RetryTransientMiddleware::new_with_policy(backoff))
        .with(AttemptMiddleware)
        .build();
    let url = format!("{}/chat/completions", server.api_base());
    let (answer, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(chat_over_http(&client, url, "flaky-outside"))
    });
    answer.expect("the third attempt answers");
    let call = exported.span("chat flaky-outside");
    let request = exported.span("POST");
    assert_eq!(request.parent_span_id, call.span_context.span_id());
    assert_eq!(
        attr(call, "ai.attempts"),
        Some(&(i64::from(FLAKY_FAILURES) + 1).into())
    );
    for n in 1..=i64::from(FLAKY_FAILURES) + 1 {
        let attempt = exported.span(&format!("attempt {n}"));
        assert_eq!(attempt.parent_span_id, request.span_context.span_id());
        assert_eq!(attr(attempt, "ai.attempt.number"), Some(&n.into()));
    }
}
