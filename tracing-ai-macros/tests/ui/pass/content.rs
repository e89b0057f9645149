// Content arguments: `input` on a model call (anything `InputContent`), `arguments` on a tool
// (anything `serde::Serialize`), on sync and async functions; a return type that reports no
// content compiles as well as one that does.
use tracing_ai::content::{Message, Part, ReportsContent};
use tracing_ai::{ai_span, ReportsUsage, Usage};

struct Answer(String);

impl ReportsUsage for Answer {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(1, 1))
    }
}

impl ReportsContent for Answer {
    fn output_messages(&self) -> Vec<Message> {
        vec![Message::assistant([Part::text(self.0.clone())])]
    }
}

#[ai_span(kind = "llm", model = "gpt-4o", input = prompt)]
fn ask(prompt: &str) -> Answer {
    Answer(prompt.to_owned())
}

#[ai_span(kind = "llm", model = "gpt-4o", input = messages)]
async fn ask_async(messages: Vec<Message>) -> Result<Usage, std::io::Error> {
    drop(messages);
    Ok(Usage::new(1, 1))
}

#[ai_span(kind = "tool", arguments = (city, days))]
fn forecast(city: &str, days: u32) -> Vec<f64> {
    vec![city.len() as f64; days as usize]
}

struct Opaque;

#[ai_span(kind = "tool")]
fn opaque() -> Opaque {
    Opaque
}

fn main() {
    let _ = ask("hi");
    let _ = ask_async(Vec::new());
    let _ = forecast("Paris", 2);
    let _ = opaque();
}
