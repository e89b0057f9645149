use tracing_ai::ai_span;

struct Response {
    tokens: u64,
}

#[ai_span(kind = "llm", model = "gpt-4o", usage = ret.tokens)]
fn generate() -> Response {
    Response { tokens: 3 }
}

fn main() {}
