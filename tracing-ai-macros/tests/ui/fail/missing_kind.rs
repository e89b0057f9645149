use tracing_ai::{ai_span, Usage};

#[ai_span(model = "gpt-4o")]
fn generate() -> Usage {
    Usage::new(1, 1)
}

fn main() {}
