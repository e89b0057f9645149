//! An agent with a tool: `invoke_agent trip_assistant` asks the model, the model asks for the
//! `get_weather` tool, the agent runs it and asks the model again. An LLM judge scores each
//! answer during the request; after all requests, a user's feedback scores one of them through
//! the `FeedbackHandle` kept for it.
//!
//! Run with `cargo run --example agent`. The model and the tool are simulated: deterministic,
//! offline. With no OTLP endpoint set, each request's tree is printed on stderr (the agent's
//! totals on its line); with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the traces go to that backend.
//! Messages, tool arguments and results are exported only with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY` (or another capturing mode).
//!
//! Flags: `--requests N` (default 2).

use serde::Serialize;
use tracing::Instrument as _;
use tracing_ai::content::{Message, Part, ReportsContent};
use tracing_ai::evaluation::{Evaluation, FeedbackHandle};
use tracing_ai::{ai_span, ReportsUsage, Usage};

const CITIES: [&str; 3] = ["Paris", "Oslo", "Lisbon"];

/// What the model answered: a text, or a request to call a tool.
#[derive(Debug)]
struct Reply {
    text: Option<String>,
    tool_call: Option<(String, WeatherQuery)>,
    input_tokens: u64,
    output_tokens: u64,
}

impl ReportsUsage for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(
            Usage::new(self.input_tokens, self.output_tokens)
                .with_response_model("gpt-4o-mini-2024-07-18"),
        )
    }
}

impl ReportsContent for Reply {
    fn output_messages(&self) -> Vec<Message> {
        let mut parts: Vec<Part> = self
            .text
            .iter()
            .map(|text| Part::text(text.clone()))
            .collect();
        let mut finish_reason = "stop";
        if let Some((id, query)) = &self.tool_call {
            let arguments = serde_json::to_string(query).unwrap_or_default();
            parts.push(Part::tool_call(Some(id), "get_weather", &arguments));
            finish_reason = "tool_calls";
        }
        vec![Message::assistant(parts).with_finish_reason(finish_reason)]
    }
}

#[derive(Clone, Debug, Serialize)]
struct WeatherQuery {
    city: String,
}

#[derive(Debug, Serialize)]
struct Weather {
    city: String,
    celsius: f64,
    sky: &'static str,
}

/// The model: asks for the weather first, answers once the tool has replied.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = messages)]
async fn chat(messages: &[Message]) -> Result<Reply, std::io::Error> {
    let words: u64 = messages
        .iter()
        .map(|message| format!("{message:?}").split_whitespace().count() as u64)
        .sum();
    let tool_result = messages.iter().rev().find_map(|message| {
        let json = format!("{message:?}");
        json.contains("ToolCallResponse").then_some(json)
    });
    let reply = match tool_result {
        None => {
            let city = CITIES
                .iter()
                .find(|city| format!("{messages:?}").contains(*city))
                .unwrap_or(&"Paris");
            Reply {
                text: None,
                tool_call: Some((
                    format!("call_{}", city.to_lowercase()),
                    WeatherQuery {
                        city: (*city).to_owned(),
                    },
                )),
                input_tokens: 40 + words,
                output_tokens: 18,
            }
        }
        Some(result) => Reply {
            text: Some(if result.contains("rain") {
                "Take a raincoat and an umbrella.".to_owned()
            } else {
                "A light jacket will do.".to_owned()
            }),
            tool_call: None,
            input_tokens: 60 + words,
            output_tokens: 12,
        },
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    Ok(reply)
}

/// The tool.
#[ai_span(
    kind = "tool",
    tool = "get_weather",
    arguments = query,
    fields(gen_ai.tool.call.id = call_id, gen_ai.tool.type = "function")
)]
async fn get_weather(call_id: &str, query: &WeatherQuery) -> Result<Weather, std::io::Error> {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let rainy = query.city != "Lisbon";
    Ok(Weather {
        city: query.city.clone(),
        celsius: if rainy { 11.5 } else { 19.0 },
        sky: if rainy { "rain" } else { "clear" },
    })
}

/// The agent: the model, the tool it asks for, the model again; the judge's score on the
/// answer; and a handle of its span for the user's feedback later.
#[ai_span(
    kind = "agent",
    agent = "trip_assistant",
    fields(gen_ai.agent.id = "asst_trip_7", gen_ai.agent.description = "Says what to wear")
)]
async fn assistant(question: &str) -> Result<(String, Option<FeedbackHandle>), std::io::Error> {
    let mut messages = vec![
        Message::system("You help travellers dress for the weather."),
        Message::user(question),
    ];
    let first = chat(&messages).await?;
    messages.extend(first.output_messages());
    if let Some((call_id, query)) = &first.tool_call {
        let weather = get_weather(call_id, query).await?;
        let result = serde_json::to_string(&weather).map_err(std::io::Error::other)?;
        messages.push(Message::tool_response(Some(call_id), &result));
    }
    let answer = chat(&messages).await?.text.unwrap_or_default();
    // An LLM judge's verdict, recorded on the agent's span while it runs.
    Evaluation::new("relevance")
        .with_score(0.9)
        .with_label("relevant")
        .with_explanation("answers what to wear, from the forecast")
        .record();
    Ok((answer, FeedbackHandle::current()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("agent: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn requests() -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    let mut requests = 2;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--requests" => {
                requests = args
                    .next()
                    .ok_or("--requests needs a value")?
                    .parse()
                    .map_err(|e| format!("--requests: {e}"))?;
            }
            other => return Err(format!("unknown flag `{other}`; the flag is --requests N")),
        }
    }
    Ok(requests)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let requests = requests()?;
    let _guard = tracing_ai::builder()
        .with_service_name("agent")
        .try_init()?;
    let mut handles = Vec::new();
    for n in 0..requests {
        let city = CITIES[n % CITIES.len()];
        let question = format!("What should I wear in {city} today?");
        let root = tracing::info_span!(
            "trip.question",
            tenant.id = "acme",
            feature.id = "trip-assistant",
            request.id = %format_args!("req-{n:04}"),
        );
        let (answer, handle) = assistant(&question).instrument(root).await?;
        println!("{question} {answer}");
        handles.extend(handle);
    }
    // Later, in another request: the first user found the answer useful. The handle travels
    // as text (to the browser and back).
    if handles.is_empty() {
        println!("no feedback handle: the traces are not exported through OpenTelemetry");
    }
    if let Some(handle) = handles.first() {
        let sent_back: FeedbackHandle = handle.to_string().parse()?;
        sent_back.record(
            &Evaluation::new("user_feedback")
                .with_label("thumbs_up")
                .with_score(1.0),
        );
        println!("feedback recorded for {sent_back}");
    }
    Ok(())
}
