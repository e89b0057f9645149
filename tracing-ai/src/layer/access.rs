//! Reaching a span's data from outside the `Layer` impl, through the subscriber's own
//! `LookupSpan`, whatever the subscriber.
//!
//! A `Span` handle only gives a `Dispatch`. Downcasting it to `Registry` would work under a
//! registry only; instead, when the layer is layered onto its subscriber `S` (`on_layer`),
//! it keeps functions monomorphized for `S`, which downcast the dispatcher to `S` itself, as
//! tracing-opentelemetry's `get_otel_context` does. Any subscriber that implements
//! `LookupSpan` (a registry, a registry under filters, a subscriber of the user's own) works;
//! a layer never layered onto one (`Layer::with_subscriber` on a subscriber without
//! `LookupSpan` cannot be) simply has no access.

use std::sync::Arc;

use tracing::span::Id;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use super::fields::AiSpanData;
use super::ids::{Attribution, AttributionKeys};

/// A span, by id, and the metadata of its callsite.
pub(crate) type SpanOf = (Id, &'static Metadata<'static>);

/// Attribution values: (exported name, value).
pub(crate) type Ids = Vec<(Arc<str>, Arc<str>)>;

/// Gives a span, by id, attribution values (exported name, value) of its own.
pub(crate) type Attribute = fn(&Dispatch, &Id, &AttributionKeys, &[(Arc<str>, Arc<str>)]);

/// Runs a closure on the data of an AI span, by id; `false` when the id is no AI span's.
pub(crate) type WithCall = fn(&Dispatch, &Id, &mut dyn FnMut(&mut AiSpanData)) -> bool;

/// One step of booking a call in one lookup of its span (a reservation in its budgets): each
/// attribution value of it and its ancestors, nearest first (the key's index and the value),
/// then its data read (`Plan`: answer `false` to stop there) and written (`Book`).
pub(crate) enum BookStep<'a> {
    Plan(&'a mut AiSpanData),
    Id(usize, &'a Arc<str>),
    Book(&'a mut AiSpanData),
}

/// Books the AI span `id`: see [`BookStep`].
pub(crate) type Book = fn(&Dispatch, &Id, &mut dyn FnMut(BookStep<'_>) -> bool);

/// Functions over the spans of one subscriber type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpanAccess {
    /// Runs the closure on the AI span `id`'s data; `false` when `id` is no AI span.
    pub(crate) with_call: WithCall,
    /// The closest AI span among `id` and its ancestors.
    pub(crate) innermost_ai_span: fn(&Dispatch, &Id) -> Option<SpanOf>,
    /// The attribution `id` inherits: the nearest value of each exported name.
    pub(crate) attribution: fn(&Dispatch, &Id) -> Ids,
    /// Gives span `id` attribution values of its own, for the spans below it.
    pub(crate) attribute: Attribute,
    /// Plans and books a call's reservation: see [`Book`].
    pub(crate) book: Book,
}

impl SpanAccess {
    /// The functions for subscriber `S`.
    pub(crate) fn of<S>() -> Self
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        Self {
            with_call: with_call::<S>,
            innermost_ai_span: innermost_ai_span::<S>,
            attribution: attribution::<S>,
            attribute: attribute::<S>,
            book: book::<S>,
        }
    }
}

/// Span `id` of the subscriber `dispatch` is, when it is an `S`.
fn span_of<'a, S>(
    dispatch: &'a Dispatch,
    id: &Id,
) -> Option<tracing_subscriber::registry::SpanRef<'a, S>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    dispatch.downcast_ref::<S>()?.span(id)
}

fn with_call<S>(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut AiSpanData)) -> bool
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(span) = span_of::<S>(dispatch, id) else {
        return false;
    };
    let mut extensions = span.extensions_mut();
    match extensions.get_mut::<AiSpanData>() {
        Some(data) => {
            f(data);
            true
        }
        None => false,
    }
}

fn book<S>(dispatch: &Dispatch, id: &Id, step: &mut dyn FnMut(BookStep<'_>) -> bool)
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(span) = span_of::<S>(dispatch, id) else {
        return;
    };
    // The ancestors first, then the span's own data once, for the plan and the booking: the
    // ledger's lock may be taken under a span's, never the other way round.
    for ancestor in span.scope() {
        if let Some(values) = ancestor.extensions().get::<Attribution>() {
            for (index, _, value) in &values.values {
                step(BookStep::Id(*index, value));
            }
        }
    }
    let mut extensions = span.extensions_mut();
    if let Some(data) = extensions.get_mut::<AiSpanData>() {
        if step(BookStep::Plan(data)) {
            step(BookStep::Book(data));
        }
    }
}

fn innermost_ai_span<S>(dispatch: &Dispatch, id: &Id) -> Option<SpanOf>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let span = span_of::<S>(dispatch, id)?;
    // The span reference is dropped before anything is recorded: recording dispatches to the
    // layers, which look spans up again.
    let found = span
        .scope()
        .find(|span| crate::facts::is_ai_span(span.metadata()))?;
    Some((found.id(), found.metadata()))
}

fn attribution<S>(dispatch: &Dispatch, id: &Id) -> Ids
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut found: Ids = Vec::new();
    let Some(span) = span_of::<S>(dispatch, id) else {
        return found;
    };
    for ancestor in span.scope() {
        if let Some(values) = ancestor.extensions().get::<Attribution>() {
            for (_, name, value) in &values.values {
                if !found.iter().any(|(known, _)| known == name) {
                    found.push((name.clone(), value.clone()));
                }
            }
        }
    }
    found
}

fn attribute<S>(dispatch: &Dispatch, id: &Id, keys: &AttributionKeys, ids: &[(Arc<str>, Arc<str>)])
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(span) = dispatch
        .downcast_ref::<S>()
        .and_then(|subscriber| subscriber.span(id))
    else {
        return;
    };
    let mut extensions = span.extensions_mut();
    if extensions.get_mut::<Attribution>().is_none() {
        extensions.insert(Attribution::with_room_for(keys));
    }
    if let Some(attribution) = extensions.get_mut::<Attribution>() {
        for (name, value) in ids {
            // Only the names this layer attributes by; each bounded as a field's value is.
            if let Some(index) = keys.index_of_exported(name) {
                let exported = keys.exported()[index].clone();
                attribution.set(index, exported, crate::clean_id::bounded(value));
            }
        }
    }
}
