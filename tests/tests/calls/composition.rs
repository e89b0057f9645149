//! The layer works however it is composed into a subscriber: inside an `Option`, under a
//! layer that panics, beside `fmt` when asked to record `tracing` fields.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::{f64_attr, str_attr};
use tracing_ai_tests::{CaptureLayer, FieldValue};
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate() -> Usage {
    Usage::new(1_000, 200)
}

fn request() {
    tracing::info_span!("rag.query", tenant.id = "acme").in_scope(generate);
}

/// tracing-subscriber 0.3 does not pass `on_register_dispatch` to the layer inside an
/// `Option`: the layer must still find its dispatcher, or it exports bare spans.
#[test]
fn an_optional_layer_still_prices_and_attributes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let enabled = true;
    let subscriber = tracing_subscriber::registry()
        .with(enabled.then(|| tracing_ai::layer(provider.tracer("test"))));
    tracing::subscriber::with_default(subscriber, request);
    provider.force_flush().expect("flushes");
    let spans = exporter.get_finished_spans().expect("spans");
    let call = spans
        .iter()
        .find(|span| span.name == "chat gpt-4o-mini")
        .expect("the call is exported");
    // $0.15 / M in, $0.60 / M out.
    assert!((f64_attr(call, "gen_ai.usage.cost") - 0.00027).abs() < 1e-12);
    assert_eq!(str_attr(call, "tenant.id").as_deref(), Some("acme"));
    let root = spans
        .iter()
        .find(|span| span.name == "rag.query")
        .expect("the root is exported");
    assert!((f64_attr(root, "ai.request.cost") - 0.00027).abs() < 1e-12);
}

/// A layer over the AI layer that panics the first time the AI layer writes a cost through
/// the dispatcher.
struct PanicsOnce(Arc<AtomicBool>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PanicsOnce {
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct HasCost(bool);
        impl tracing::field::Visit for HasCost {
            fn record_debug(&mut self, field: &tracing::field::Field, _: &dyn std::fmt::Debug) {
                self.0 |= field.name() == "gen_ai.usage.cost";
            }
        }
        let mut has_cost = HasCost(false);
        values.record(&mut has_cost);
        if has_cost.0 && !self.0.swap(true, Ordering::SeqCst) {
            panic!("a layer over the AI layer fails once");
        }
    }
}

/// The layer marks its own writes so that it does not read them back; a panic in a layer over
/// it must not leave that mark set, which would make it read nothing on this thread again.
#[test]
fn a_panicking_layer_over_it_does_not_switch_it_off() {
    let panicked = Arc::new(AtomicBool::new(false));
    let captured = CaptureLayer::new();
    let subscriber = tracing_subscriber::registry()
        .with(AiLayer::new())
        .with(PanicsOnce(panicked.clone()))
        .with(captured.clone());
    tracing::subscriber::with_default(subscriber, || {
        let first = std::panic::catch_unwind(request);
        assert!(first.is_err(), "the layer over it panicked");
        request();
    });
    assert!(panicked.load(Ordering::SeqCst));
    let captured = captured.captured();
    let calls = captured.spans_named("chat gpt-4o-mini");
    assert_eq!(calls.len(), 2);
    let second = calls[1];
    assert_eq!(
        second.get("gen_ai.usage.input_tokens"),
        Some(&FieldValue::I64(1_000))
    );
    match second.get("gen_ai.usage.cost") {
        Some(FieldValue::F64(usd)) => assert!((usd - 0.00027).abs() < 1e-12),
        other => panic!("the second call is priced: {other:?}"),
    }
}
