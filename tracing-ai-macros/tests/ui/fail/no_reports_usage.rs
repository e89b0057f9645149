use tracing_ai::ai_span;

struct Completion {
    text: String,
}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn generate() -> Result<Completion, std::io::Error> {
    Ok(Completion { text: String::new() })
}

fn main() {}
