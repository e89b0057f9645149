use tracing_ai::{ai_span, Usage};

// Independent mistakes are all reported at once.
#[ai_span(kind = "embedding", fields(gen_ai.request.model = "x"))]
fn embed() -> Usage {
    Usage::new(1, 0)
}

fn main() {}
