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

    /// `id` will have work for the layer when it closes. Called once per span, before it can
    /// close: the span's creation, or a roll-up into it, happens before its close, so the
    /// close sees the count (relaxed is enough for that).
    pub(crate) fn watch(&self, id: &Id) {
        self.slot(id).fetch_add(1, Ordering::Relaxed);
    }

    /// Whether `id` may have been watched; `false` means it was not.
    pub(crate) fn may_be_watched(&self, id: &Id) -> bool {
        self.slot(id).load(Ordering::Relaxed) != 0
    }

    /// `id`, watched, has closed.
    pub(crate) fn closed(&self, id: &Id) {
        let _ = self
            .slot(id)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                open.checked_sub(1)
            });
    }
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
}
