//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` read by `init()`: a bad value is an
//! error that names the variable; `SPAN_ONLY` captures content, exported over OTLP/gRPC to a
//! receiver in this process, bounded by the export's attribute value limit.
//!
//! One test in this file: it sets process-wide variables, and `init()` installs the global
//! subscriber.

use tracing_ai::content::{Message, CAPTURE_MESSAGE_CONTENT};
use tracing_ai::{ai_span, attr, Protocol, Usage};
use tracing_ai_tests::receiver::Receiver;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = messages)]
fn ask(messages: &[Message]) -> Usage {
    let _ = messages;
    Usage::new(10, 2)
}

#[test]
fn the_standard_variable_turns_capture_on_and_a_bad_value_is_an_error() {
    let receiver = Receiver::start();
    let builder = || {
        tracing_ai::builder()
            .with_endpoint(format!("http://{}", receiver.grpc))
            .with_protocol(Protocol::Grpc)
            .with_console(false)
    };

    std::env::set_var(CAPTURE_MESSAGE_CONTENT, "everything");
    let error = builder().try_init().expect_err("not a capture mode");
    let message = error.to_string();
    assert!(message.contains(CAPTURE_MESSAGE_CONTENT), "{message}");
    assert!(message.contains("SPAN_ONLY"), "{message}");

    std::env::set_var(CAPTURE_MESSAGE_CONTENT, "span_only");
    // The export's value limit is lower than the content cap: the cap follows it.
    std::env::set_var("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000");
    let guard = builder().try_init().expect("tracing is set up");
    ask(&[Message::user("Is it raining in Paris?")]);
    ask(&[Message::user("x".repeat(5_000))]);
    drop(guard);

    let spans = receiver.spans();
    let inputs: Vec<&str> = spans
        .iter()
        .filter_map(|span| span.str_attr(attr::GEN_AI_INPUT_MESSAGES))
        .collect();
    assert_eq!(inputs.len(), 2, "both calls captured");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(inputs[0]).expect("JSON"),
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "Is it raining in Paris?"}]}])
    );
    assert!(inputs[1].len() <= 1_000, "{}", inputs[1].len());
    let long: serde_json::Value = serde_json::from_str(inputs[1]).expect("still JSON");
    assert!(long[0]["parts"][0]["content"]
        .as_str()
        .expect("text")
        .ends_with("…[truncated]"));
}
