//! Message content: off by default (nothing of it is exported), captured only as the layer's
//! builder says, in the conventions' JSON message schema, redacted and bounded.

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use tracing_ai::content::{ContentCapture, InputContent, Message, Part, ReportsContent};
use tracing_ai::{ai_span, attr, AiLayer, AiLayerBuilder, ReportsUsage, Usage};
use tracing_ai_tests::otel::{attr as otel_attr, export_with, json_attr};

/// A request as an application holds it.
struct Chat {
    system: String,
    messages: Vec<Message>,
}

impl InputContent for Chat {
    fn input_messages(&self) -> Vec<Message> {
        self.messages.clone()
    }

    fn system_instructions(&self) -> Vec<Part> {
        vec![Part::text(self.system.clone())]
    }
}

struct Completion {
    text: String,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(120, 40))
    }
}

impl ReportsContent for Completion {
    fn output_messages(&self) -> Vec<Message> {
        vec![Message::assistant([Part::text(self.text.clone())]).with_finish_reason("stop")]
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = chat)]
fn complete(chat: &Chat, answer: &str) -> Result<Completion, std::io::Error> {
    Ok(Completion {
        text: answer.to_owned(),
    })
}

fn chat(question: &str) -> Chat {
    Chat {
        system: "You answer questions about the weather.".to_owned(),
        messages: vec![Message::user(question)],
    }
}

fn run(builder: AiLayerBuilder, question: &str, answer: &str) -> SpanData {
    let (_, exported) = export_with(builder, || {
        complete(&chat(question), answer).expect("the call succeeds")
    });
    exported.span("chat gpt-4o-mini").clone()
}

const CONTENT: [&str; 3] = [
    attr::GEN_AI_INPUT_MESSAGES,
    attr::GEN_AI_OUTPUT_MESSAGES,
    attr::GEN_AI_SYSTEM_INSTRUCTIONS,
];

#[test]
fn nothing_is_captured_by_default() {
    for builder in [
        AiLayer::builder(),
        AiLayer::builder().with_content_capture(ContentCapture::NoContent),
    ] {
        let span = run(builder, "Is it raining in Paris?", "Yes.");
        for key in CONTENT {
            assert_eq!(otel_attr(&span, key), None, "{key}");
        }
        assert!(span.events.is_empty());
        // The call itself is recorded as always.
        assert_eq!(
            otel_attr(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
            Some(&Value::I64(120))
        );
    }
}

#[test]
fn span_only_writes_the_conventions_message_schema_as_attributes() {
    let span = run(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        "Is it raining in Paris?",
        "Yes, light rain.",
    );
    assert_eq!(
        json_attr(&span, attr::GEN_AI_INPUT_MESSAGES),
        json!([{"role": "user", "parts": [{"type": "text", "content": "Is it raining in Paris?"}]}])
    );
    assert_eq!(
        json_attr(&span, attr::GEN_AI_SYSTEM_INSTRUCTIONS),
        json!([{"type": "text", "content": "You answer questions about the weather."}])
    );
    assert_eq!(
        json_attr(&span, attr::GEN_AI_OUTPUT_MESSAGES),
        json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "Yes, light rain."}],
            "finish_reason": "stop",
        }])
    );
    assert!(span.events.is_empty(), "no event in SPAN_ONLY");
    assert_eq!(otel_attr(&span, attr::AI_CONTENT_TRUNCATED), None);
}

fn details_events(span: &SpanData) -> Vec<&opentelemetry::trace::Event> {
    span.events
        .iter()
        .filter(|event| event.name == tracing_ai::content::OPERATION_DETAILS_EVENT)
        .collect()
}

#[test]
fn event_only_writes_an_event_and_no_attribute_span_and_event_both() {
    let span = run(
        AiLayer::builder().with_content_capture(ContentCapture::EventOnly),
        "Is it raining in Paris?",
        "Yes.",
    );
    for key in CONTENT {
        assert_eq!(otel_attr(&span, key), None, "{key}");
    }
    let events = details_events(&span);
    let keys: Vec<Vec<&str>> = events
        .iter()
        .map(|event| event.attributes.iter().map(|kv| kv.key.as_str()).collect())
        .collect();
    // One event per call, as the conventions define it: the operation, what was sent and
    // what came back.
    assert_eq!(
        keys,
        [vec![
            attr::GEN_AI_OPERATION_NAME,
            attr::GEN_AI_INPUT_MESSAGES,
            attr::GEN_AI_SYSTEM_INSTRUCTIONS,
            attr::GEN_AI_OUTPUT_MESSAGES,
        ]]
    );
    assert_eq!(
        events[0].attributes[0].value,
        opentelemetry::Value::from("chat")
    );

    let span = run(
        AiLayer::builder().with_content_capture(ContentCapture::SpanAndEvent),
        "Is it raining in Paris?",
        "Yes.",
    );
    for key in CONTENT {
        json_attr(&span, key);
    }
    assert_eq!(details_events(&span).len(), 1);
}

#[test]
fn secrets_in_content_are_redacted_before_export() {
    let span = run(
        AiLayer::builder()
            .with_content_capture(ContentCapture::SpanOnly)
            .with_content_redaction(r"\bEMP-\d{6}\b")
            .with_content_redactor(|text: &mut String| {
                *text = text.replace("Project Falcon", "[CODENAME]");
            }),
        "I am jane@example.com, card 4111-1111-1111-1111, key sk-live-abcdefghijklmnopqrstu, \
         header Bearer abc.def.ghi, employee EMP-123456 on Project Falcon",
        "Noted, jane@example.com.",
    );
    let input = json_attr(&span, attr::GEN_AI_INPUT_MESSAGES);
    assert_eq!(
        input[0]["parts"][0]["content"],
        "I am [REDACTED], card [REDACTED], key [REDACTED], header Bearer [REDACTED], \
         employee [REDACTED] on [CODENAME]"
    );
    let output = json_attr(&span, attr::GEN_AI_OUTPUT_MESSAGES);
    assert_eq!(output[0]["parts"][0]["content"], "Noted, [REDACTED].");
    // The structure is not redacted.
    assert_eq!(input[0]["role"], "user");
}

#[test]
fn content_over_the_cap_is_cut_as_valid_json_that_says_so() {
    let long = "word ".repeat(10_000);
    let span = run(
        AiLayer::builder()
            .with_content_capture(ContentCapture::SpanOnly)
            .with_content_max_bytes(2_000),
        &long,
        "short answer",
    );
    let text = match otel_attr(&span, attr::GEN_AI_INPUT_MESSAGES) {
        Some(Value::String(text)) => text.as_str().to_owned(),
        other => panic!("{other:?}"),
    };
    assert!(text.len() <= 2_000, "{}", text.len());
    let input: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
    let content = input[0]["parts"][0]["content"].as_str().expect("text");
    assert!(content.ends_with("…[truncated]"), "{content}");
    assert_eq!(
        otel_attr(&span, attr::AI_CONTENT_TRUNCATED),
        Some(&Value::Bool(true))
    );
    // What fits is whole.
    assert_eq!(
        json_attr(&span, attr::GEN_AI_OUTPUT_MESSAGES)[0]["parts"][0]["content"],
        "short answer"
    );
}

#[test]
fn an_invalid_redaction_pattern_is_a_build_error_that_names_it() {
    let error = AiLayer::builder()
        .with_content_redaction("(unclosed")
        .build()
        .expect_err("not a regular expression");
    assert!(error.to_string().contains("`(unclosed`"), "{error}");
}

#[derive(serde::Serialize)]
struct WeatherQuery {
    city: String,
    unit: &'static str,
}

#[derive(serde::Serialize)]
struct Weather {
    celsius: f64,
    sky: &'static str,
}

#[ai_span(kind = "tool", tool = "get_weather", arguments = query)]
fn get_weather(query: &WeatherQuery) -> Result<Weather, std::io::Error> {
    let _ = &query.city;
    Ok(Weather {
        celsius: 14.5,
        sky: "rain",
    })
}

#[test]
fn a_tool_calls_arguments_and_result_are_json_through_serde() {
    let query = WeatherQuery {
        city: "Paris".to_owned(),
        unit: "celsius",
    };
    let (_, exported) = export_with(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        || get_weather(&query).expect("the tool answers"),
    );
    let span = exported.span("execute_tool get_weather");
    assert_eq!(
        json_attr(span, attr::GEN_AI_TOOL_CALL_ARGUMENTS),
        json!({"city": "Paris", "unit": "celsius"})
    );
    assert_eq!(
        json_attr(span, attr::GEN_AI_TOOL_CALL_RESULT),
        json!({"celsius": 14.5, "sky": "rain"})
    );

    let (_, exported) = export_with(AiLayer::builder(), || {
        get_weather(&query).expect("the tool answers")
    });
    let span = exported.span("execute_tool get_weather");
    assert_eq!(otel_attr(span, attr::GEN_AI_TOOL_CALL_ARGUMENTS), None);
    assert_eq!(otel_attr(span, attr::GEN_AI_TOOL_CALL_RESULT), None);
}

#[test]
fn recorded_by_hand_on_the_current_span() {
    let (_, exported) = export_with(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        || {
            let span = tracing::info_span!(
                "chat my-model",
                { attr::GEN_AI_OPERATION_NAME } = "chat",
                { attr::GEN_AI_REQUEST_MODEL } = "my-model",
            );
            span.in_scope(|| {
                assert!(tracing_ai::content::is_captured());
                tracing_ai::content::record_input_messages(&[
                    Message::system("be brief"),
                    Message::user("hi"),
                ]);
                tracing_ai::content::record_output_messages(&[Message::assistant([
                    Part::tool_call(Some("call_1"), "get_weather", r#"{"city":"Paris"}"#),
                ])
                .with_finish_reason("tool_calls")]);
            });
        },
    );
    let span = exported.span("chat my-model");
    assert_eq!(
        json_attr(span, attr::GEN_AI_OUTPUT_MESSAGES),
        json!([{
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
            "finish_reason": "tool_calls",
        }])
    );
    assert_eq!(
        json_attr(span, attr::GEN_AI_INPUT_MESSAGES)[0]["role"],
        "system"
    );
    // Without capture, nothing, and `is_captured` says so.
    let (_, exported) = export_with(AiLayer::builder(), || {
        assert!(!tracing_ai::content::is_captured());
        tracing_ai::content::record_input_messages(&[Message::user("hi")]);
    });
    assert!(exported
        .spans
        .iter()
        .all(|span| otel_attr(span, attr::GEN_AI_INPUT_MESSAGES).is_none()));
}
