//! [`budget::reserve`](crate::budget::reserve) and
//! [`budget::reserve_async`](crate::budget::reserve_async): a call's reservation, asked for
//! from its span.
//!
//! Over the layer, as the other helpers that act on a span are: the budgets and their stores
//! are a leaf the layer calls, and this module reaches them through the span's
//! [`AiSpanExt`](crate::layer::AiSpanExt) door.

use crate::attr;
use crate::budget::{BudgetExceeded, Passed, WaitBy};
use crate::layer::AiSpanExt as _;
use crate::money::decimal;

/// Reserves the estimated cost of the AI call `span` in every budget of its layer that covers
/// it, before the call is made, for a span written by hand (`#[ai_span(..., budget)]` does it
/// itself); the layer settles the reservation when the span closes. On `Err`, do not make the
/// call: the span already records `error.type = budget_exceeded`.
///
/// Under no [`AiLayer`](crate::AiLayer), or with no budget covering the call, it reserves
/// nothing and returns `Ok`.
///
/// ```
/// use tracing_ai::budget::{self, Budget, Window};
///
/// let span = tracing::info_span!(
///     "chat gpt-4o-mini",
///     gen_ai.operation.name = "chat",
///     gen_ai.request.model = "gpt-4o-mini",
///     gen_ai.usage.input_tokens = tracing::field::Empty,
///     gen_ai.usage.output_tokens = tracing::field::Empty,
///     error.type = tracing::field::Empty,
/// );
/// match budget::reserve(&span) {
///     Ok(()) => { /* make the call, record its usage on `span` */ }
///     Err(refused) => eprintln!("{refused}"),
/// }
/// ```
pub fn reserve(span: &tracing::Span) -> Result<(), BudgetExceeded> {
    let Some((reserving, reserved_by)) = span.begin_reservation(WaitBy::Blocking) else {
        return Ok(());
    };
    let reserved = reserving.wait_blocking();
    reserved_on(span, span.finish_reservation(reserved, reserved_by))
}

/// [`reserve`] for an `async fn` (`#[ai_span(..., budget)]` on one does it itself): with the
/// budgets in Redis, the reservation is awaited, so that a stalled Redis parks the call's task
/// for at most the store's timeout, and the thread runs the service's other tasks meanwhile.
/// In process, it is [`reserve`].
///
/// ```
/// use tracing_ai::budget;
///
/// async fn chat() -> Result<(), budget::BudgetExceeded> {
///     let span = tracing::info_span!(
///         "chat gpt-4o-mini",
///         gen_ai.operation.name = "chat",
///         gen_ai.request.model = "gpt-4o-mini",
///         error.type = tracing::field::Empty,
///     );
///     budget::reserve_async(&span).await?;
///     // make the call, record its usage on `span`
///     Ok(())
/// }
/// # let _ = chat();
/// ```
pub async fn reserve_async(span: &tracing::Span) -> Result<(), BudgetExceeded> {
    let Some((reserving, reserved_by)) = span.begin_reservation(WaitBy::Awaiting) else {
        return Ok(());
    };
    let reserved = reserving.wait().await;
    reserved_on(span, span.finish_reservation(reserved, reserved_by))
}

/// Records a refusal on the call's span, or an event for each `warn` budget it went past.
fn reserved_on(
    span: &tracing::Span,
    reserved: Result<Vec<Passed>, BudgetExceeded>,
) -> Result<(), BudgetExceeded> {
    let passed = match reserved {
        Ok(passed) => passed,
        Err(refused) => {
            crate::record::record_error(span, refused.error_type(), Some(&refused), None);
            // Which budget or rate limit, for a query or a dashboard to group refusals by.
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            span.set_attribute(attr::AI_BUDGET_NAME, refused.budget().to_owned());
            return Err(refused);
        }
    };
    for Passed { over, waited } in passed {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        if let Some(waited) = waited {
            // Why the call took longer: it waited for room, then was made.
            span.add_event(
                attr::AI_BUDGET_WAITED,
                vec![
                    opentelemetry::KeyValue::new(attr::AI_BUDGET_NAME, over.budget().to_owned()),
                    opentelemetry::KeyValue::new(attr::AI_BUDGET_WAIT, waited.as_secs_f64()),
                ],
            );
            continue;
        }
        // On the call's span, with its own attributes only (a `tracing` event would add
        // `level` and `target`, which Weaver's live-check reports); and a line for the logs,
        // outside the trace as the library's other warnings.
        span.add_event(
            attr::AI_BUDGET_EXCEEDED,
            vec![
                opentelemetry::KeyValue::new(attr::AI_BUDGET_NAME, over.budget().to_owned()),
                opentelemetry::KeyValue::new(attr::AI_BUDGET_LIMIT, over.limit()),
                opentelemetry::KeyValue::new(attr::AI_BUDGET_SPENT, over.spent()),
            ],
        );
        tracing::event!(
            target: "tracing_ai",
            parent: None,
            tracing::Level::WARN,
            { attr::AI_BUDGET_NAME } = over.budget(),
            { attr::AI_BUDGET_LIMIT } = over.limit(),
            { attr::AI_BUDGET_SPENT } = over.spent(),
            "a call went past budget {:?} ({} of {} {} spent or reserved); it warns, so the \
             call was made",
            over.budget(),
            decimal(over.spent()),
            decimal(over.limit()),
            over.currency(),
        );
    }
    Ok(())
}
