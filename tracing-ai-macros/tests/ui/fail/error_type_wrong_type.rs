use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", model = "gpt-4o", error_type = err.0)]
fn generate() -> Result<Usage, (u16,)> {
    Err((429,))
}

fn main() {}
