//! Late scores through what `tracing_ai::builder()` sets up: tail sampling at a ratio of 0
//! (only failed requests are kept) and OTLP/gRPC to a receiver in this process. A score sent
//! after the request ended arrives, parented to the span it scores, whether that request was
//! kept (it failed) or dropped; the dropped request's own spans still do not arrive.
//!
//! One test in this file: `init()` installs the global subscriber.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_ai::evaluation::{Evaluation, FeedbackHandle};
use tracing_ai::sampling::TailSampling;
use tracing_ai::{ai_span, attr, Protocol, Usage};
use tracing_ai_tests::receiver::{ReceivedSpan, Receiver};
use tracing_ai_tests::Overloaded;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        Err(Overloaded)
    } else {
        Ok(Usage::new(800, 120))
    }
}

/// Runs a request and returns the handle of its model call.
fn request(n: i64, fail: bool) -> FeedbackHandle {
    let root = tracing::info_span!(
        "request",
        request.id = n,
        otel.status_code = tracing::field::Empty
    );
    root.in_scope(|| {
        let call = tracing::info_span!("answer");
        let _ = call.in_scope(|| generate(fail));
        if fail {
            tracing::Span::current().record("otel.status_code", "ERROR");
        }
        FeedbackHandle::of(&call).expect("an OpenTelemetry context")
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn evaluation_of<'a>(spans: &'a [ReceivedSpan], handle: &FeedbackHandle) -> &'a ReceivedSpan {
    let late: Vec<_> = spans
        .iter()
        .filter(|span| span.span.name == "evaluation user_feedback")
        .filter(|span| hex(&span.span.parent_span_id) == handle.span_id().to_string())
        .collect();
    assert_eq!(late.len(), 1, "one evaluation of {handle}");
    late[0]
}

#[test]
fn late_scores_arrive_parented_whether_their_request_was_kept_or_not() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_console(false)
        .with_sampling(TailSampling::builder().with_sample_ratio(0.0))
        .try_init()
        .expect("tracing is set up");

    let failed = request(1, true);
    let dropped = request(2, false);
    // Later, in another request: feedback on both.
    tracing::info_span!("feedback endpoint").in_scope(|| {
        for handle in [failed, dropped] {
            let handle: FeedbackHandle = handle.to_string().parse().expect("reads back");
            handle.record(
                &Evaluation::new("user_feedback")
                    .with_label("thumbs_down")
                    .with_score(0.0)
                    .with_explanation("wrong answer"),
            );
        }
    });
    drop(guard);

    let spans = receiver.spans();
    for handle in [failed, dropped] {
        let late = evaluation_of(&spans, &handle);
        assert_eq!(hex(&late.span.trace_id), handle.trace_id().to_string());
        assert_eq!(late.str_attr("ai.sampling.reason"), Some("evaluation"));
        assert_eq!(
            late.str_attr(attr::GEN_AI_EVALUATION_NAME),
            Some("user_feedback")
        );
        let event = late
            .span
            .events
            .iter()
            .find(|event| event.name == attr::GEN_AI_EVALUATION_RESULT)
            .expect("the evaluation event");
        let label = event
            .attributes
            .iter()
            .find(|kv| kv.key == attr::GEN_AI_EVALUATION_SCORE_LABEL)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref());
        assert_eq!(label, Some(&Value::StringValue("thumbs_down".into())));
    }
    // The failed request arrived whole, the scored call among it; the other one did not.
    let of_trace = |handle: &FeedbackHandle| -> Vec<&str> {
        let mut names: Vec<&str> = spans
            .iter()
            .filter(|span| hex(&span.span.trace_id) == handle.trace_id().to_string())
            .map(|span| span.span.name.as_str())
            .collect();
        names.sort_unstable();
        names
    };
    assert_eq!(
        of_trace(&failed),
        [
            "answer",
            "chat gpt-4o-mini",
            "evaluation user_feedback",
            "request"
        ]
    );
    assert_eq!(of_trace(&dropped), ["evaluation user_feedback"]);
    let scored = spans
        .iter()
        .find(|span| hex(&span.span.span_id) == failed.span_id().to_string())
        .expect("the scored span of the failed request");
    assert_eq!(scored.span.name, "answer");
    // The feedback endpoint's own request was not kept: nothing happened in it.
    assert!(spans
        .iter()
        .all(|span| span.span.name != "feedback endpoint"));
}
