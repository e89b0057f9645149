//! A bounded set of label values: past its cap, new values are folded into [`OTHER`].

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use super::OTHER;

/// A set of at most `cap` distinct values: an id from a request cannot grow a metric's
/// attribute sets, and with them memory, without bound.
#[derive(Debug)]
pub(super) struct Bounded {
    cap: usize,
    seen: RwLock<HashSet<Arc<str>>>,
    other: Arc<str>,
}

impl Bounded {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            cap,
            seen: RwLock::new(HashSet::new()),
            other: OTHER.into(),
        }
    }

    /// `value` (shared with the set) if it was seen before or there is room for it, else
    /// [`OTHER`].
    pub(super) fn admit(&self, value: &str) -> Arc<str> {
        let known = self
            .seen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(value)
            .cloned();
        if let Some(known) = known {
            return known;
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = seen.get(value) {
            return known.clone();
        }
        if seen.len() < self.cap {
            let value: Arc<str> = value.into();
            seen.insert(value.clone());
            value
        } else {
            self.other.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_are_folded_into_other() {
        let bounded = Bounded::new(2);
        assert_eq!(&*bounded.admit("a"), "a");
        assert_eq!(&*bounded.admit("b"), "b");
        assert_eq!(&*bounded.admit("c"), OTHER);
        assert_eq!(
            &*bounded.admit("a"),
            "a",
            "a value seen before keeps its name"
        );
    }
}
