//! genai (jeremychone) 0.7: a `ChatResponse` reports its usage. With genai's own `otel`
//! feature, its `chat` spans carry `gen_ai.*` fields: the layer prices and attributes them with
//! no annotation at all.

use genai::chat::ChatResponse;

use crate::{ReportsUsage, Usage};

fn count(tokens: Option<i32>) -> Option<u64> {
    tokens.and_then(|tokens| u64::try_from(tokens).ok())
}

/// Prompt tokens include the cached ones, completion tokens the reasoning ones, as genai
/// normalizes every provider's counts.
impl ReportsUsage for ChatResponse {
    fn usage(&self) -> Option<Usage> {
        let usage = &self.usage;
        let input = count(usage.prompt_tokens);
        let output = count(usage.completion_tokens);
        if input.is_none() && output.is_none() {
            return None;
        }
        let mut counted = Usage::new(input.unwrap_or(0), output.unwrap_or(0))
            .with_response_model(self.provider_model_iden.model_name.to_string());
        if let Some(details) = &usage.prompt_tokens_details {
            if let Some(cached) = count(details.cached_tokens) {
                counted = counted.with_cache_read(cached);
            }
            if let Some(written) = count(details.cache_creation_tokens) {
                counted = counted.with_cache_creation(written);
            }
        }
        if let Some(reasoning) = usage
            .completion_tokens_details
            .as_ref()
            .and_then(|details| count(details.reasoning_tokens))
        {
            counted = counted.with_reasoning(reasoning);
        }
        Some(counted)
    }
}
