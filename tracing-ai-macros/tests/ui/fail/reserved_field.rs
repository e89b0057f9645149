use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", model = "gpt-4o", fields(gen_ai.usage.input_tokens = 3))]
fn generate() -> Usage {
    Usage::new(1, 1)
}

fn main() {}
