//! A Messages API response, as Anthropic documents it, for the price tests: its usage the
//! conventions' way (`input_tokens` there leaves out the cached tokens; here they are part of
//! the input), with the one-hour cache writes and the web searches it reports.

use serde::Deserialize;
use tracing_ai::{ReportsUsage, Usage};

#[derive(Deserialize)]
pub struct Message {
    model: String,
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
    /// The cache writes by how long they are kept.
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    /// The server tools the model ran (web search).
    #[serde(default)]
    server_tool_use: Option<ServerToolUse>,
}

#[derive(Deserialize)]
struct CacheCreation {
    ephemeral_1h_input_tokens: u64,
}

#[derive(Deserialize)]
struct ServerToolUse {
    web_search_requests: u64,
}

impl Message {
    /// The response in `body`, a Messages API response's JSON.
    pub fn parse(body: &str) -> Self {
        serde_json::from_str(body).expect("an Anthropic body")
    }
}

impl ReportsUsage for Message {
    fn usage(&self) -> Option<Usage> {
        let usage = &self.usage;
        let input =
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
        let mut counted = Usage::new(input, usage.output_tokens)
            .with_cache_read(usage.cache_read_input_tokens)
            .with_cache_creation(usage.cache_creation_input_tokens)
            .with_response_model(self.model.clone());
        if let Some(writes) = &usage.cache_creation {
            counted = counted.with_cache_write_1h(writes.ephemeral_1h_input_tokens);
        }
        if let Some(tools) = &usage.server_tool_use {
            counted = counted.with_web_searches(tools.web_search_requests);
        }
        Some(counted)
    }
}
