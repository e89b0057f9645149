use tracing_ai::ai_span;

// How a call is served selects a model's price; a tool calls no model.
#[ai_span(kind = "tool", tool = "search", service_tier = "flex", batch)]
fn search(query: &str) -> String {
    query.to_owned()
}

fn main() {}
