//! The attribute on a trait's method declaration, which has no body to run in a span.

use tracing_ai::{ai_span, Usage};

trait Model {
    #[ai_span(kind = "llm", model = "gpt-4o")]
    fn complete(&self, prompt: &str) -> Usage;
}

fn main() {}
