use tracing_ai::ai_span;

#[ai_span(kind = "tool")]
const fn answer() -> u32 {
    42
}

fn main() {}
