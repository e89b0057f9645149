//! What a span's fields mean to the layer, decided once per callsite rather than on every
//! span: whether it is an AI span, whether it carries attribution, and which fact each of its
//! fields holds.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use tracing::callsite::Identifier;
use tracing::Metadata;

use super::attribution::AttributionKeys;
use crate::attr;
use crate::hash::FastHash;

/// rig-core's name (0.44) for the reasoning part of the output tokens, which the GenAI
/// conventions call `gen_ai.usage.reasoning.output_tokens`.
const RIG_REASONING_TOKENS: &str = "gen_ai.usage.reasoning_tokens";

/// The fact a field holds, by the field's index in its callsite's field set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Operation,
    Provider,
    RequestModel,
    ResponseModel,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    Cost,
    ErrorType,
    StatusCode,
    StatusDescription,
    CacheHit,
    Fallback,
    FallbackFrom,
    Stream,
    TimeToFirstChunk,
    StreamChunks,
    /// An attribution key, by the index of its exported name.
    Attribution(usize),
    /// Nothing the layer reads.
    Ignored,
}

impl Slot {
    fn of(name: &str, keys: &AttributionKeys) -> Self {
        match name {
            attr::GEN_AI_OPERATION_NAME => Slot::Operation,
            attr::GEN_AI_PROVIDER_NAME => Slot::Provider,
            attr::GEN_AI_REQUEST_MODEL => Slot::RequestModel,
            attr::GEN_AI_RESPONSE_MODEL => Slot::ResponseModel,
            attr::GEN_AI_USAGE_INPUT_TOKENS => Slot::InputTokens,
            attr::GEN_AI_USAGE_OUTPUT_TOKENS => Slot::OutputTokens,
            attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS => Slot::CacheReadTokens,
            attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS => Slot::CacheWriteTokens,
            attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS | RIG_REASONING_TOKENS => {
                Slot::ReasoningTokens
            }
            attr::GEN_AI_USAGE_COST => Slot::Cost,
            attr::ERROR_TYPE => Slot::ErrorType,
            attr::OTEL_STATUS_CODE => Slot::StatusCode,
            attr::OTEL_STATUS_DESCRIPTION => Slot::StatusDescription,
            attr::AI_CACHE_HIT => Slot::CacheHit,
            attr::AI_FALLBACK => Slot::Fallback,
            attr::AI_FALLBACK_FROM => Slot::FallbackFrom,
            attr::GEN_AI_REQUEST_STREAM => Slot::Stream,
            attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK => Slot::TimeToFirstChunk,
            attr::AI_STREAM_CHUNKS => Slot::StreamChunks,
            name => keys.index_of(name).map_or(Slot::Ignored, Slot::Attribution),
        }
    }

    /// Whether a count goes here: a negative value is then left out rather than priced.
    pub(crate) fn is_count(self) -> bool {
        matches!(
            self,
            Slot::InputTokens
                | Slot::OutputTokens
                | Slot::CacheReadTokens
                | Slot::CacheWriteTokens
                | Slot::ReasoningTokens
        )
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
            .map(|field| Slot::of(field.name(), keys))
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

/// The callsites seen, each decided once (in `register_callsite`, or at its first span).
#[derive(Debug, Default)]
pub(crate) struct Callsites {
    known: RwLock<HashMap<Identifier, Arc<Callsite>, FastHash>>,
}

impl Callsites {
    /// What the callsite of `metadata` means, when the layer has anything to do with its
    /// spans; `None` (without touching a reference count) for every other span.
    pub(crate) fn relevant(
        &self,
        metadata: &Metadata<'_>,
        keys: &AttributionKeys,
    ) -> Option<Arc<Callsite>> {
        let id = metadata.callsite();
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        match known.get(&id) {
            Some(callsite) if callsite.is_relevant() => Some(callsite.clone()),
            Some(_) => None,
            None => {
                drop(known);
                Some(self.register(metadata, keys)).filter(|callsite| callsite.is_relevant())
            }
        }
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
