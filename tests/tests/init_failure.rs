//! A failing `init()` installs nothing: no global subscriber, no global tracer provider, and
//! it shuts down what it built. Its own process, since it sets globals.

use std::error::Error as _;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use tracing_ai::{AiLayer, Protocol};

/// Whether OpenTelemetry's global tracer provider is still the no-op one: a no-op tracer's
/// span carries its parent's context, where an SDK tracer (even one shut down) makes its own.
fn global_provider_is_noop() -> bool {
    let parent = SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(parent.clone());
    let tracer = opentelemetry::global::tracer_provider().tracer("probe");
    let span = tracer.start_with_context("probe", &cx);
    opentelemetry::trace::Span::span_context(&span) == &parent
}

fn exporting() -> tracing_ai::ExportBuilder {
    tracing_ai::builder()
        .with_endpoint("http://127.0.0.1:9")
        .with_protocol(Protocol::HttpProtobuf)
        .with_console(false)
        .with_metrics(true)
}

#[test]
fn a_failing_init_installs_nothing_and_keeps_its_cause() {
    assert!(global_provider_is_noop(), "nothing installed yet");

    // A prices file with a mistake: the layer cannot be built.
    let error = exporting()
        .with_layer(
            AiLayer::builder().with_prices_toml("[models.\"m\"]\ninput = -1.0\noutput = 1.0\n"),
        )
        .try_init()
        .expect_err("a bad price");
    assert!(error.to_string().contains("models.\"m\".input"), "{error}");
    assert!(error.source().is_some(), "the cause is kept");
    assert!(
        global_provider_is_noop(),
        "a failed init left a tracer provider installed"
    );
    assert!(
        !tracing::dispatcher::has_been_set(),
        "a failed init left a subscriber installed"
    );

    // A subscriber is already installed: init cannot install its own.
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("the first global subscriber");
    let error = exporting()
        .try_init()
        .expect_err("a subscriber is installed");
    assert!(error.to_string().contains("already installed"), "{error}");
    assert!(
        error
            .source()
            .is_some_and(|source| source.is::<tracing::dispatcher::SetGlobalDefaultError>()),
        "the cause is tracing's own error: {:?}",
        error.source()
    );
    assert!(
        global_provider_is_noop(),
        "a failed init left a tracer provider installed"
    );

    // `init` panics where `try_init` returns, with the same message, and installs nothing.
    let panic = std::panic::catch_unwind(|| exporting().init()).expect_err("init panics");
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        message.starts_with("tracing-ai could not be set up: ")
            && message.contains("already installed"),
        "{message:?}"
    );
    assert!(
        global_provider_is_noop(),
        "a failed init left a tracer provider installed"
    );
}
