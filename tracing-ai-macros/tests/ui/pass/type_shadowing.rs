//! The expansion names no type a user could shadow (issue #3).
use tracing_ai::{ai_span, Usage};

#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Span;

#[ai_span(kind = "llm", model = "m")]
fn generate() -> Usage {
    Usage::new(1, 1)
}

fn main() {
    let _ = generate();
}
