//! `#[ai_span]` on a function that never returns (`-> !`): it runs inside its span, which ends
//! as the function unwinds.

use tracing_ai::{ai_span, AiLayer};
use tracing_ai_tests::otel::{export_with, str_attr};

#[ai_span(kind = "agent", name = "supervise")]
fn supervise(rounds: u32) -> ! {
    for round in 0..rounds {
        tracing::info_span!("round", round).in_scope(|| ());
    }
    panic!("the supervisor gives up")
}

#[test]
fn a_function_that_never_returns_runs_in_its_span() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        let unwound = std::panic::catch_unwind(|| supervise(2));
        assert!(unwound.is_err());
    });
    let span = exported.span("supervise");
    assert_eq!(
        str_attr(span, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    let rounds = exported.spans_named("round");
    assert_eq!(rounds.len(), 2);
    assert!(rounds
        .iter()
        .all(|round| round.parent_span_id == span.span_context.span_id()));
}
