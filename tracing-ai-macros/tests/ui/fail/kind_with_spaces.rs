use tracing_ai::ai_span;

#[ai_span(kind = "vector search")]
fn search() {}

fn main() {}
