//! What a span's fields mean to the layer, decided once per callsite rather than on every
//! span: whether it is an AI span, whether it carries attribution, and which fact each of its
//! fields holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tracing::callsite::Identifier;
use tracing::Metadata;

use super::ids::AttributionKeys;
use crate::facts::{self, Slot};
use crate::hash::FastHash;

/// What field `name` holds: a fact of the call, else an attribution key, else nothing.
fn slot_of(name: &str, keys: &AttributionKeys) -> Slot {
    match facts::slot_of(name) {
        Slot::Ignored => keys.index_of(name).map_or(Slot::Ignored, Slot::Attribution),
        slot => slot,
    }
}

/// What one callsite's spans mean to the layer.
#[derive(Debug)]
pub(crate) struct Callsite {
    /// It declares `gen_ai.operation.name`: an AI span, whoever created it.
    pub(crate) ai: bool,
    /// It declares an attribution key.
    pub(crate) attribution: bool,
    slots: Box<[Slot]>,
    /// The provider, request model and response model last seen here, shared with the spans
    /// that name them again: a callsite's calls name the same ones, so a call copies none.
    names: [RwLock<Option<Arc<str>>>; 3],
}

impl Callsite {
    fn new(metadata: &Metadata<'_>, keys: &AttributionKeys) -> Self {
        let slots: Box<[Slot]> = metadata
            .fields()
            .iter()
            .map(|field| slot_of(field.name(), keys))
            .collect();
        Self {
            ai: slots.contains(&Slot::Operation),
            attribution: slots
                .iter()
                .any(|slot| matches!(slot, Slot::Attribution(_))),
            slots,
            names: Default::default(),
        }
    }

    /// `value` of a provider or model slot, shared with the last span of this callsite that
    /// had the same one.
    pub(crate) fn name(&self, slot: Slot, value: &str) -> Arc<str> {
        let index = match slot {
            Slot::Provider => 0,
            Slot::RequestModel => 1,
            _ => 2,
        };
        let last = &self.names[index];
        if let Some(same) = last
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|last| &***last == value)
        {
            return same.clone();
        }
        let name: Arc<str> = value.into();
        *last.write().unwrap_or_else(PoisonError::into_inner) = Some(name.clone());
        name
    }

    /// Whether the layer has anything to do with these spans.
    fn is_relevant(&self) -> bool {
        self.ai || self.attribution
    }

    pub(crate) fn slot(&self, field: &tracing::field::Field) -> Slot {
        self.slots
            .get(field.index())
            .copied()
            .unwrap_or(Slot::Ignored)
    }
}

/// Slots of the cache of callsites the layer has nothing to do with.
const IGNORED_SLOTS: usize = 256;

/// The callsites seen, each decided once (in `register_callsite`, or at its first span).
#[derive(Debug)]
pub(crate) struct Callsites {
    known: RwLock<HashMap<Identifier, Arc<Callsite>, FastHash>>,
    /// The addresses of callsites' metadata decided of no interest, by a hash of the address:
    /// most spans are of such a callsite, and an equal address tells it without the lock and
    /// the map. Two callsites in one slot overwrite each other, which only costs the lookup.
    ignored: Box<[AtomicUsize]>,
}

impl Default for Callsites {
    fn default() -> Self {
        Self {
            known: RwLock::default(),
            ignored: (0..IGNORED_SLOTS).map(|_| AtomicUsize::new(0)).collect(),
        }
    }
}

impl Callsites {
    /// What the callsite of `metadata` means, when the layer has anything to do with its
    /// spans; `None` (without touching a reference count) for every other span.
    pub(crate) fn relevant(
        &self,
        metadata: &'static Metadata<'static>,
        keys: &AttributionKeys,
    ) -> Option<Arc<Callsite>> {
        let (ignored, address) = self.ignored_slot(metadata);
        if ignored.load(Ordering::Relaxed) == address {
            return None;
        }
        let id = metadata.callsite();
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        let relevant = match known.get(&id) {
            Some(callsite) => callsite.is_relevant().then(|| callsite.clone()),
            None => {
                drop(known);
                Some(self.register(metadata, keys)).filter(|callsite| callsite.is_relevant())
            }
        };
        if relevant.is_none() {
            ignored.store(address, Ordering::Relaxed);
        }
        relevant
    }

    /// The slot of `metadata`'s callsite in the cache of ignored ones, and the value that
    /// says it is there: its metadata's address, `'static` and one per callsite.
    fn ignored_slot(&self, metadata: &'static Metadata<'static>) -> (&AtomicUsize, usize) {
        let address = std::ptr::from_ref(metadata) as usize;
        let hash = (address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (hash >> (64 - IGNORED_SLOTS.trailing_zeros())) as usize;
        (&self.ignored[slot], address)
    }

    pub(crate) fn register(
        &self,
        metadata: &Metadata<'_>,
        keys: &AttributionKeys,
    ) -> Arc<Callsite> {
        let callsite = Arc::new(Callsite::new(metadata, keys));
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(metadata.callsite())
            .or_insert(callsite)
            .clone()
    }
}
