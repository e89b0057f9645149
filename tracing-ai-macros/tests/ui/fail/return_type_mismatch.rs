use tracing_ai::{ai_span, Usage};

// The user's own type error is reported against the user's signature, not the expansion.
#[ai_span(kind = "llm", model = "gpt-4o")]
async fn generate() -> Usage {
    "not usage"
}

fn main() {}
