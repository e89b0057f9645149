use tracing_ai::ai_span;

#[ai_span(kind = "tool", level = "verbose")]
fn tool() {}

fn main() {}
