use tracing_ai::{ai_span, Usage};

// `tool` names what a tool span executes: not an argument of a model call.
#[ai_span(kind = "llm", model = "gpt-4o", tool = "search")]
fn generate() -> Usage {
    Usage::new(1, 1)
}

// Nor `agent` of a tool span.
#[ai_span(kind = "tool", agent = "planner")]
fn search() {}

// The tool's name is the macro's to record.
#[ai_span(kind = "tool", fields(gen_ai.tool.name = "other"))]
fn lookup() {}

// A tool's arguments are a tool's: a model call's request is its `input`.
#[ai_span(kind = "llm", model = "gpt-4o", arguments = prompt)]
fn ask(prompt: &str) -> Usage {
    let _ = prompt;
    Usage::new(1, 1)
}

// `remote` is an agent's: a model call is a client span already.
#[ai_span(kind = "llm", model = "gpt-4o", remote)]
fn remote_call() -> Usage {
    Usage::new(1, 1)
}

// The request's parameters are a model call's.
#[ai_span(kind = "retrieval", parameters = options)]
fn retrieve(options: &str) {
    let _ = options;
}

fn main() {}
