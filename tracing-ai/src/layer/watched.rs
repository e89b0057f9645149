//! Which closing spans the layer must look at, told without looking them up.
//!
//! The layer has work at close only for a model call or a request's root with totals, and
//! most spans of a service are neither (HTTP, database, queue spans). Looking each closing span
//! up in the registry to find that out cost more than the rest of the layer's work on a plain
//! span. So the layer counts the spans it will have work for, by a hash of their id, in a
//! fixed table: a closing span whose count is zero is none of them, and is not looked up. A
//! count above zero may be another span's (two ids in one slot): that span is looked up, as
//! every span was before. Nothing is ever missed, and the table does not grow.

use std::sync::atomic::{AtomicU32, Ordering};

use tracing::span::Id;
use tracing_subscriber::registry::{Extensions, ExtensionsMut};

use super::fields::AiSpanData;
use super::rollup::RequestTotals;

/// 4,096 slots (16 KiB): with a hundred calls open at once, a plain span is looked up for
/// nothing about once in forty closes.
const SLOTS: usize = 1 << 12;

/// How many watched spans are open, by slot.
#[derive(Debug)]
pub(crate) struct Watched {
    open: Box<[AtomicU32]>,
}

impl Default for Watched {
    fn default() -> Self {
        Self {
            open: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Watched {
    fn slot(&self, id: &Id) -> &AtomicU32 {
        // Fibonacci hashing: the registry's ids differ in their low bits.
        let hash = id.into_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.open[(hash >> (64 - SLOTS.trailing_zeros())) as usize]
    }

    /// Puts a new call's data in the extensions of span `id`, just created, and watches it.
    /// With [`hold_totals`](Self::hold_totals), the only ways work goes into a span, so that
    /// [`close`](Self::close) pairs with them: a span is watched once, whatever it holds.
    pub(crate) fn hold_call(&self, id: &Id, extensions: &mut ExtensionsMut<'_>, call: AiSpanData) {
        // A span just created holds nothing yet: no lookup on the hot path but in debug builds.
        debug_assert!(
            !holds_work(
                extensions.get_mut::<AiSpanData>().is_some(),
                extensions.get_mut::<RequestTotals>().is_some()
            ),
            "a new span already held work"
        );
        extensions.replace(call);
        self.watch(id);
    }

    /// Puts the first totals of a request in the extensions of its root `id`, and watches the
    /// root unless it is a call, watched already.
    pub(crate) fn hold_totals(
        &self,
        id: &Id,
        extensions: &mut ExtensionsMut<'_>,
        totals: RequestTotals,
    ) {
        let watched = extensions.get_mut::<AiSpanData>().is_some();
        debug_assert!(extensions.get_mut::<RequestTotals>().is_none());
        extensions.insert(totals);
        if !watched {
            self.watch(id);
        }
    }

    /// At the close of span `id`: whether it holds a call's data, and, when it does not, a
    /// request's totals; the span is no longer watched if it was.
    pub(crate) fn close(&self, id: &Id, extensions: &Extensions<'_>) -> (bool, bool) {
        let call = extensions.get::<AiSpanData>().is_some();
        // A call's own totals are the call's work: not looked up for it.
        let totals = !call && extensions.get::<RequestTotals>().is_some();
        if holds_work(call, totals) {
            debug_assert!(
                self.may_be_watched(id),
                "a span holding work was never watched: work went in past `hold_call`/`hold_totals`"
            );
            self.closed(id);
        }
        (call, totals)
    }

    /// `id` will have work for the layer when it closes. Called once per span, before it can
    /// close: the span's creation, or a roll-up into it, happens before its close, so the
    /// close sees the count (relaxed is enough for that).
    fn watch(&self, id: &Id) {
        self.slot(id).fetch_add(1, Ordering::Relaxed);
    }

    /// Whether `id` may have been watched; `false` means it was not.
    pub(crate) fn may_be_watched(&self, id: &Id) -> bool {
        self.slot(id).load(Ordering::Relaxed) != 0
    }

    /// `id`, watched, has closed.
    fn closed(&self, id: &Id) {
        let _ = self
            .slot(id)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                open.checked_sub(1)
            });
    }
}

/// Whether a span that holds a call's data (`call`) or a request's totals (`totals`) is one
/// the layer has work for at its close.
fn holds_work(call: bool, totals: bool) -> bool {
    call || totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_watched_until_it_closes_and_a_shared_slot_only_costs_a_lookup() {
        let watched = Watched::default();
        let ids: Vec<Id> = (1..=10_000).map(Id::from_u64).collect();
        assert!(ids.iter().all(|id| !watched.may_be_watched(id)));
        watched.watch(&ids[7]);
        watched.watch(&ids[8]);
        assert!(watched.may_be_watched(&ids[7]));
        assert!(watched.may_be_watched(&ids[8]));
        // Few of the others share a slot with the two.
        let shared = ids.iter().filter(|id| watched.may_be_watched(id)).count();
        assert!(shared <= 2 + 2 * 10_000 / SLOTS + 2, "{shared}");
        watched.closed(&ids[7]);
        assert!(!watched.may_be_watched(&ids[7]) || watched.may_be_watched(&ids[8]));
        watched.closed(&ids[8]);
        assert!(ids.iter().all(|id| !watched.may_be_watched(id)));
        // A close without a watch (never happens) leaves the count at zero, not wrapped.
        watched.closed(&ids[9]);
        assert!(!watched.may_be_watched(&ids[9]));
    }

    #[test]
    fn a_root_with_totals_is_watched_and_unwatched_at_its_close() {
        use tracing_subscriber::registry::{LookupSpan as _, Registry};

        let dispatch = tracing::Dispatch::new(Registry::default());
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("rag.query");
            let id = span.id().expect("enabled");
            let registry = dispatch.downcast_ref::<Registry>().expect("a registry");
            let span_ref = registry.span(&id).expect("open");
            let watched = Watched::default();
            watched.hold_totals(
                &id,
                &mut span_ref.extensions_mut(),
                RequestTotals::default(),
            );
            assert_eq!(watched.slot(&id).load(Ordering::Relaxed), 1);
            assert_eq!(watched.close(&id, &span_ref.extensions()), (false, true));
            assert!(!watched.may_be_watched(&id));
        });
    }
}
