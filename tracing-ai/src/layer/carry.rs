//! One model call, one price.
//!
//! Two spans can describe one model call: a client's own GenAI span (genai's `otel` feature,
//! rig's spans) under an `#[ai_span]` function that calls it, or an `#[ai_span]` under a
//! hand-written span carrying the conventions' attributes. Priced both, the call would count
//! twice in the cost, the metrics, the request's totals and the budgets.
//!
//! The rule: **the innermost model-call span that has usage carries the cost.** It is the
//! span nearest the wire, one per billed request, so that a function making two requests (a
//! retry, a second step) counts both. When it closes, it tells the nearest model-call span
//! above it that is still open; that span is then neither priced, nor counted in the metrics,
//! nor added to its request's or agent's totals, nor debited: it exports
//! `ai.cost.carried_by` (the span ids of the calls that carry its cost), and settles what it
//! reserved in its budgets with what they cost. Two spans describe one call when they have the
//! same operation and, where both name one, the same requested model: an embedding inside a
//! chat function is a call of its own. An agent, tool or workflow span between the two breaks
//! the chain: an agent's calls are its own.

use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::call::ClosedCall;
use super::fields::{AiSpanData, CallFields, Carried};

/// The span ids kept on `ai.cost.carried_by`, at most: a loop of calls under one span must
/// not grow it without bound.
const MAX_CARRIERS: usize = 16;

/// Whether `fields` describe a call to a model (the operations a provider bills by tokens).
fn is_model_operation(fields: &CallFields) -> bool {
    matches!(
        fields.operation.as_deref(),
        Some("chat" | "text_completion" | "embeddings" | "generate_content")
    )
}

/// Whether `outer` and `inner` describe one call: the same operation, and the same requested
/// model where both name one.
fn same_call(outer: &CallFields, inner: &CallFields) -> bool {
    is_model_operation(outer)
        && outer.operation == inner.operation
        && match (&outer.request_model, &inner.request_model) {
            (Some(outer), Some(inner)) => outer == inner,
            _ => true,
        }
}

/// Hands the cost of `call` to the open model call `enclosing` (the nearest AI call above
/// it, found on its walk to the root), when both describe one call and `call` has usage.
/// Returns whether that enclosing call holds a budget reservation: it then settles with
/// `call`'s cost, and `call` is not debited on its own.
pub(super) fn hand_up<'a, R: LookupSpan<'a>>(
    enclosing: Option<SpanRef<'a, R>>,
    call: &ClosedCall<'_>,
    span_id: impl FnOnce() -> String,
) -> bool {
    let has_usage = call.fields().tokens().is_some() || call.fields().recorded_cost.is_some();
    let Some(enclosing) = enclosing.filter(|_| has_usage && is_model_operation(call.fields()))
    else {
        return false;
    };
    let mut extensions = enclosing.extensions_mut();
    let Some(data) = extensions.get_mut::<AiSpanData>() else {
        return false;
    };
    if data.settled.is_some() || !same_call(&data.fields, call.fields()) {
        // An agent's or a tool's calls are its own, and so are an embedding inside a chat
        // or a call to another model; a closed call took its price already.
        return false;
    }
    let carried = data.carried.get_or_insert_with(Carried::default);
    if carried.by.len() < MAX_CARRIERS {
        carried.by.push(span_id());
    }
    // A carrier with a reservation of its own settles it itself.
    if !call.has_reservation() {
        if let Some(usd) = call.settled.usd {
            *carried.usd.get_or_insert(0.0) += usd;
        }
        if let Some((code, amount)) = &call.settled.reported {
            match &mut carried.reported {
                Some((_, total)) => *total += amount,
                None => carried.reported = Some((code.clone(), *amount)),
            }
        }
    }
    data.reservation.is_some()
}
