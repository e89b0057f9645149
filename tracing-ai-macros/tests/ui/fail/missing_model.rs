use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", provider = "openai")]
fn generate() -> Usage {
    Usage::new(1, 1)
}

fn main() {}
