use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", model = "gpt-4o", model = "gpt-4o-mini")]
fn generate() -> Usage {
    Usage::new(1, 1)
}

fn main() {}
