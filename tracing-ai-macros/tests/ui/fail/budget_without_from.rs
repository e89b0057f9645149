use tracing_ai::{ai_span, Usage};

#[derive(Debug)]
struct MyError;

// The error type cannot hold a refusal: the call could not return it.
#[ai_span(kind = "llm", model = "gpt-4o-mini", budget)]
fn chat() -> Result<Usage, MyError> {
    Ok(Usage::new(1, 1))
}

// No `Result` at all to return a refusal in.
#[ai_span(kind = "llm", model = "gpt-4o-mini", budget)]
fn chat_usage() -> Usage {
    Usage::new(1, 1)
}

// A retrieval calls no model: nothing to budget.
#[ai_span(kind = "retrieval", budget)]
fn retrieve() -> Result<Vec<String>, std::io::Error> {
    Ok(Vec::new())
}

fn main() {
    let _ = chat();
    let _ = chat_usage();
    let _ = retrieve();
}
