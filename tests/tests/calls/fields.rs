//! Arguments are never recorded unless asked; `fields`, `name`, `level`, `target` and
//! `skip_all` work as in `#[instrument]`.

use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::{capture, s, FieldValue};

const SECRET: &str = "my password is hunter2";

#[ai_span(kind = "llm", model = "gpt-4o")]
fn generate(prompt: &str, temperature: f64, user: String) -> Usage {
    let _ = (temperature, user);
    Usage::new(prompt.len() as u64, 1)
}

#[test]
fn arguments_never_appear_on_the_span() {
    let (_, captured) = capture(|| generate(SECRET, 0.7, "alice@example.com".into()));
    let span = captured.span("chat gpt-4o");
    for name in ["prompt", "temperature", "user"] {
        assert!(
            !span.declared.contains(&name),
            "argument `{name}` became a field"
        );
    }
    for (name, value) in &span.fields {
        let text = format!("{value:?}");
        assert!(
            !text.contains("hunter2"),
            "`{name}` holds the prompt: {text}"
        );
        assert!(!text.contains("alice@"), "`{name}` holds the user: {text}");
    }
}

#[ai_span(
    kind = "llm",
    model = "gpt-4o",
    skip_all,
    fields(gen_ai.request.temperature = temperature, prompt.chars = prompt.len(), %user, app.later)
)]
fn with_fields(prompt: &str, temperature: f64, user: &str) -> Usage {
    tracing::Span::current().record("app.later", "filled in");
    Usage::new(1, 1)
}

#[test]
fn fields_are_recorded_as_named() {
    let (_, captured) = capture(|| with_fields(SECRET, 0.2, "bob"));
    let span = captured.span("chat gpt-4o");
    assert_eq!(
        span.field("gen_ai.request.temperature"),
        &FieldValue::F64(0.2)
    );
    assert_eq!(
        span.field("prompt.chars"),
        &FieldValue::U64(SECRET.len() as u64)
    );
    assert_eq!(span.field("user").as_text(), Some("bob"));
    assert_eq!(span.field("app.later"), &s("filled in"));
    assert_eq!(span.get("prompt"), None);
}

#[ai_span(
    kind = "llm",
    model = "gpt-4o",
    name = "generate.answer",
    level = "debug",
    target = "app::llm"
)]
fn overridden() -> Usage {
    Usage::new(1, 1)
}

#[ai_span(kind = "retrieval", level = tracing::Level::WARN)]
fn level_as_path() {}

#[ai_span(kind = "retrieval", level = 1)]
fn level_as_number() {}

#[test]
fn name_level_and_target_can_be_overridden() {
    let (_, captured) = capture(|| {
        overridden();
        level_as_path();
        level_as_number();
    });
    let span = captured.span("generate.answer");
    assert_eq!(span.level, tracing::Level::DEBUG);
    assert_eq!(span.target, "app::llm");
    assert_eq!(
        span.field("gen_ai.request.model"),
        &s("gpt-4o"),
        "the model is still recorded"
    );
    assert_eq!(
        captured.span("retrieval level_as_path").level,
        tracing::Level::WARN
    );
    assert_eq!(
        captured.span("retrieval level_as_number").level,
        tracing::Level::TRACE
    );
}

#[test]
fn a_level_filtered_out_creates_no_span_and_still_returns() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::Layer as _;
    let layer = tracing_ai_tests::CaptureLayer::new();
    let subscriber = tracing_subscriber::registry().with(
        layer
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let usage = tracing::subscriber::with_default(subscriber, overridden);
    assert_eq!(usage, Usage::new(1, 1));
    assert!(
        layer.captured().spans.is_empty(),
        "a DEBUG span passed an INFO filter"
    );
}
