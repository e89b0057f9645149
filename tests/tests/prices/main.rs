//! Prices: long-context and service tiers, the prices file, the genai-prices fixture and reloads.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod anthropic;
mod cache_writes;
mod context_tiers;
mod oracle;
mod per_call;
mod prices_file;
mod prices_fixture;
mod prices_reload;
mod provider_cost;
mod served;
mod web_searches;
