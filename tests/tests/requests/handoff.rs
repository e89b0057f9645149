//! Work a request hands off (issue 21, item 6): a task spawned by the request, and a job
//! serialised through a queue, run their AI calls outside the request's span. With the ids
//! captured in the request, their AI spans carry its tenant, feature and request ids, and the
//! span they run in links to the request's, in a trace of its own.

use tracing::Instrument as _;
use tracing_ai::attribution::{self, RequestIds};
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::{export_with, str_attr, Exported};

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn summarize() -> Usage {
    Usage::new(500, 50)
}

/// The request: it answers, hands the summary off as `handoff` says, and ends first.
fn run(handoff: impl FnOnce(RequestIds) -> RequestIds) -> Exported {
    let ((), exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let request = tracing::info_span!(
                "request",
                tenant.id = "acme",
                feature.id = "support-bot",
                request.id = "req-7"
            );
            let ids = async { attribution::current() }.instrument(request).await;
            // The request span is closed by now: the job runs after it, on its own.
            let ids = handoff(ids);
            let job = ids.in_span(tracing::info_span!(parent: None, "summary.job"));
            tokio::spawn(summarize().instrument(job))
                .await
                .expect("the task runs");
        });
    });
    exported
}

fn check(exported: &Exported) {
    let call = exported.span("chat gpt-4o-mini");
    for (name, value) in [
        ("tenant.id", "acme"),
        ("feature.id", "support-bot"),
        ("request.id", "req-7"),
    ] {
        assert_eq!(str_attr(call, name).as_deref(), Some(value), "{name}");
    }
    let request = exported.span("request");
    let job = exported.span("summary.job");
    // A trace of its own, linked to the request's span.
    assert_ne!(job.span_context.trace_id(), request.span_context.trace_id());
    let links: Vec<_> = job
        .links
        .iter()
        .map(|link| link.span_context.clone())
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].trace_id(), request.span_context.trace_id());
    assert_eq!(links[0].span_id(), request.span_context.span_id());
    // The call is the job's child, priced as any call is.
    assert_eq!(call.parent_span_id, job.span_context.span_id());
    assert!(tracing_ai_tests::otel::f64_attr(call, "gen_ai.usage.cost") > 0.0);
}

#[test]
fn a_spawned_task_carries_the_requests_ids_and_links_to_it() {
    let exported = run(|ids| ids);
    check(&exported);
}

#[test]
fn a_job_serialised_through_a_queue_carries_the_requests_ids_and_links_to_it() {
    let exported = run(|ids| {
        let message = serde_json::to_string(&ids).expect("serialises");
        assert!(message.contains("\"tenant.id\""), "{message}");
        serde_json::from_str(&message).expect("deserialises")
    });
    check(&exported);
}

#[test]
fn without_captured_ids_a_job_is_attributed_to_no_one() {
    let ((), exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let job = RequestIds::default().in_span(tracing::info_span!(parent: None, "job"));
            summarize().instrument(job).await;
        });
    });
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(str_attr(call, "tenant.id"), None);
    assert!(exported.span("job").links.is_empty());
}
