//! Evaluations on the call they judge: the `gen_ai.evaluation.result` event as the GenAI
//! conventions define it (names, types, requirement levels), recorded during the request on
//! the call's span, or after it through a `FeedbackHandle` as a child of that span.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tracing_ai::evaluation::{Evaluation, FeedbackHandle};
use tracing_ai::{ai_span, attr, Usage};
use tracing_ai_tests::otel::{export, Exported};

/// What the call returns: its usage, and a handle of its span for feedback later.
struct Answer {
    handle: Option<FeedbackHandle>,
}

impl tracing_ai::ReportsUsage for Answer {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(800, 120))
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn answer(evaluation: Option<&Evaluation>) -> Answer {
    if let Some(evaluation) = evaluation {
        evaluation.record();
    }
    Answer {
        handle: FeedbackHandle::current(),
    }
}

fn request(evaluation: Option<&Evaluation>) -> Option<FeedbackHandle> {
    tracing::info_span!("request", tenant.id = "acme").in_scope(|| answer(evaluation).handle)
}

/// The attributes of the only `gen_ai.evaluation.result` event of `span`.
fn evaluation_event(span: &SpanData) -> &[opentelemetry::KeyValue] {
    let events: Vec<_> = span
        .events
        .iter()
        .filter(|event| event.name == attr::GEN_AI_EVALUATION_RESULT)
        .collect();
    assert_eq!(events.len(), 1, "one evaluation event on `{}`", span.name);
    &events[0].attributes
}

fn value<'a>(attributes: &'a [opentelemetry::KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[test]
fn an_evaluation_is_an_event_on_the_span_it_judges_with_the_conventions_types() {
    let evaluation = Evaluation::new("relevance")
        .with_score(0.75)
        .with_label("relevant")
        .with_explanation("cites the right document; key sk-proj-abcdefghijklmnopqrstuvwx leaked");
    let (_, exported) = export(|| request(Some(&evaluation)));
    let call = exported.span("chat gpt-4o-mini");
    let event = evaluation_event(call);
    // Required: the name, a string.
    assert_eq!(
        value(event, attr::GEN_AI_EVALUATION_NAME),
        Some(&Value::from("relevance"))
    );
    // Conditionally required when there is one: the score, a double, and the label, a string.
    assert_eq!(
        value(event, attr::GEN_AI_EVALUATION_SCORE_VALUE),
        Some(&Value::F64(0.75))
    );
    assert_eq!(
        value(event, attr::GEN_AI_EVALUATION_SCORE_LABEL),
        Some(&Value::from("relevant"))
    );
    // Recommended: the explanation, redacted.
    let explanation = value(event, attr::GEN_AI_EVALUATION_EXPLANATION)
        .expect("an explanation")
        .as_str();
    assert_eq!(
        explanation,
        "cites the right document; key [REDACTED] leaked"
    );
    // Not given, not exported; and nothing the conventions do not define: a `tracing` event
    // would add its `level` and `target`.
    let mut names: Vec<&str> = event.iter().map(|kv| kv.key.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            attr::GEN_AI_EVALUATION_EXPLANATION,
            attr::GEN_AI_EVALUATION_NAME,
            attr::GEN_AI_EVALUATION_SCORE_LABEL,
            attr::GEN_AI_EVALUATION_SCORE_VALUE,
        ]
    );
    // On the call's span only, and the call is still priced.
    assert!(exported.span("request").events.is_empty());
    assert!(tracing_ai_tests::otel::f64_attr(call, attr::GEN_AI_USAGE_COST) > 0.0);
}

#[test]
fn a_score_that_is_not_a_number_is_not_exported_the_rest_is() {
    for score in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let evaluation = Evaluation::new("judge")
            .with_score(score)
            .with_response_id("chatcmpl-42")
            .with_error_type("timeout");
        let (_, exported) = export(|| request(Some(&evaluation)));
        let event = evaluation_event(exported.span("chat gpt-4o-mini"));
        assert_eq!(value(event, attr::GEN_AI_EVALUATION_SCORE_VALUE), None);
        assert_eq!(
            value(event, attr::GEN_AI_RESPONSE_ID),
            Some(&Value::from("chatcmpl-42"))
        );
        assert_eq!(
            value(event, attr::ERROR_TYPE),
            Some(&Value::from("timeout"))
        );
    }
}

#[test]
fn nothing_is_recorded_without_an_evaluation() {
    let (_, exported) = export(|| request(None));
    assert!(exported.spans.iter().all(|span| span.events.is_empty()));
    assert!(exported.spans_named("evaluation user_feedback").is_empty());
}

/// The evaluation spans of `exported`, each with the span id of its parent.
fn late_span<'a>(exported: &'a Exported, name: &str) -> &'a SpanData {
    let span = exported.span(name);
    assert!(
        span.parent_span_is_remote,
        "its parent is the scored span, from a handle"
    );
    span
}

#[test]
fn a_late_score_is_a_child_of_the_span_it_scores_after_the_request_ended() {
    let (text, exported) = export(|| {
        let handle = request(None).expect("the call's span has an OpenTelemetry context");
        // The request has ended: its spans are exported. The handle travels as text.
        let text = handle.to_string();
        let back: FeedbackHandle = text.parse().expect("a handle reads back");
        back.record(
            &Evaluation::new("user_feedback")
                .with_label("thumbs_down")
                .with_score(0.0),
        );
        text
    });
    let call = exported.span("chat gpt-4o-mini");
    let late = late_span(&exported, "evaluation user_feedback");
    assert_eq!(late.span_context.trace_id(), call.span_context.trace_id());
    assert_eq!(late.parent_span_id, call.span_context.span_id());
    assert_eq!(
        text,
        format!(
            "00-{}-{}-01",
            call.span_context.trace_id(),
            call.span_context.span_id()
        )
    );
    // The request's spans ended before the evaluation began.
    assert!(late.start_time >= call.end_time);
    // The evaluation on the span itself, for backends that show attributes, and as the event.
    assert_eq!(
        tracing_ai_tests::otel::str_attr(late, attr::GEN_AI_EVALUATION_NAME).as_deref(),
        Some("user_feedback")
    );
    let event = evaluation_event(late);
    assert_eq!(
        value(event, attr::GEN_AI_EVALUATION_SCORE_LABEL),
        Some(&Value::from("thumbs_down"))
    );
    assert_eq!(
        value(event, attr::GEN_AI_EVALUATION_SCORE_VALUE),
        Some(&Value::F64(0.0))
    );
    // Not an AI call: nothing priced, nothing added to a request.
    assert_eq!(
        tracing_ai_tests::otel::attr(late, attr::GEN_AI_USAGE_COST),
        None
    );
}

#[test]
fn a_handle_made_by_hand_scores_the_span_it_names() {
    let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
    let span_id = SpanId::from(0x00f0_67aa_0ba9_02b7_u64);
    let (_, exported) = export(|| {
        let handle: FeedbackHandle = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
            .parse()
            .expect("a traceparent is a handle");
        handle.record(&Evaluation::new("accuracy").with_score(1.0));
    });
    let late = late_span(&exported, "evaluation accuracy");
    assert_eq!(late.span_context.trace_id(), trace_id);
    assert_eq!(late.parent_span_id, span_id);
    // Exported even though the handle's flags said the scored span was not sampled.
    assert!(late.span_context.is_sampled());
}

#[test]
fn no_handle_without_opentelemetry() {
    let handle = tracing_ai_tests::capture(|| request(None)).0;
    assert_eq!(handle, None);
    assert_eq!(request(None), None, "no subscriber at all");
}

/// The fields of every `tracing` event, as `name=value` text.
#[derive(Clone, Default)]
struct Events(std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(Vec<String>);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push(format!("{}={value:?}", field.name()));
            }
        }
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.0.lock().expect("not poisoned").push(fields.0);
    }
}

#[test]
fn without_opentelemetry_an_evaluation_is_a_tracing_event_other_layers_see() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    tracing::subscriber::with_default(subscriber, || {
        request(Some(&Evaluation::new("relevance").with_score(0.5)));
    });
    let events = events.0.lock().expect("not poisoned").clone();
    assert_eq!(
        events,
        [[
            "message=gen_ai.evaluation.result",
            "gen_ai.evaluation.name=\"relevance\"",
            "gen_ai.evaluation.score.value=0.5",
        ]]
    );
}

#[test]
fn an_evaluation_filtered_out_by_its_target_is_not_exported() {
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target(
            tracing_ai::evaluation::TARGET,
            tracing::level_filters::LevelFilter::OFF,
        );
    let (_, exported) =
        tracing_ai_tests::otel::export_with_layer(tracing_ai::AiLayer::builder(), filter, || {
            request(Some(&Evaluation::new("relevance").with_score(0.5)))
        });
    let call = exported.span("chat gpt-4o-mini");
    assert!(call.events.is_empty(), "{:?}", call.events);
}
