//! A crate that forbids `unsafe` can annotate async functions: the expansion pins with
//! `core::pin::pin!`, whose `unsafe` is internal to `core` (issue #3).
#![forbid(unsafe_code)]
#![deny(warnings)]

use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", model = "gpt-4o")]
pub async fn generate(prompt: &str) -> Result<Usage, std::io::Error> {
    Ok(Usage::new(prompt.len() as u64, 1))
}

fn main() {}
