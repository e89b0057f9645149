//! A local server that speaks the documented wire formats of OpenAI and of Ollama, for the real
//! client crates to call: `POST /v1/chat/completions` (a JSON body, or server-sent events with
//! the usage in the last chunk when `stream_options.include_usage` is set),
//! `POST /v1/embeddings`, `POST /v1/responses` (with web search calls when asked; as
//! server-sent events, the whole response last, when `stream` is set), and errors; Ollama's
//! `POST /api/chat` and `POST /api/generate`
//! (`prompt_eval_count` and `eval_count` on the final answer, after a pause of
//! [`OLLAMA_LATENCY`], as a self-hosted model takes).
//!
//! What the OpenAI endpoints answer depends on the request's `model`:
//!
//! | model | answer |
//! | --- | --- |
//! | `rate-limited` | 429 with `{"error": {"code": "rate_limit_exceeded", ...}}` |
//! | `broken` | 500 with `{"error": {"type": "server_error", ...}}` |
//! | `cut-midway` | a stream of two chunks whose connection then closes, without `[DONE]` |
//! | `flaky-...` | 429 for the first [`FLAKY_FAILURES`] requests naming that model, then the completion |
//! | anything else | the completion: 1,850 prompt tokens of which 1,536 cached, 120 completion tokens |
//!
//! A completion says which service tier served it when the request names one: that one, or
//! `default` for `auto`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};

/// The prompt tokens of every completion.
pub const PROMPT_TOKENS: u64 = 1_850;
/// The cached prompt tokens of every completion.
pub const CACHED_TOKENS: u64 = 1_536;
/// The completion tokens of every completion.
pub const COMPLETION_TOKENS: u64 = 120;
/// The prompt tokens of every embedding.
pub const EMBEDDING_TOKENS: u64 = 8;
/// The chunks of a stream before the usage chunk, and the time between them.
pub const STREAM_CHUNKS: usize = 4;
/// The time between two chunks of a stream.
pub const CHUNK_INTERVAL: Duration = Duration::from_millis(25);

/// How many requests a `flaky-...` model refuses before it answers.
pub const FLAKY_FAILURES: u32 = 2;

/// The requests each `flaky-...` model has had.
static FLAKY: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());

/// Whether this request of `model`, a flaky one, is refused.
fn refuses(model: &str) -> bool {
    let mut seen = FLAKY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let count = match seen.iter_mut().find(|(known, _)| known == model) {
        Some((_, count)) => count,
        None => {
            seen.push((model.to_owned(), 0));
            &mut seen.last_mut().expect("just pushed").1
        }
    };
    *count += 1;
    *count <= FLAKY_FAILURES
}

/// The prompt tokens of every Ollama answer.
pub const OLLAMA_PROMPT_TOKENS: u64 = 26;
/// The generated tokens of every Ollama answer.
pub const OLLAMA_EVAL_TOKENS: u64 = 298;
/// How long an Ollama answer takes.
pub const OLLAMA_LATENCY: Duration = Duration::from_millis(60);

/// The server, on a free port of 127.0.0.1, stopped when dropped.
pub struct ModelServer {
    /// Where it listens.
    pub address: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for ModelServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelServer")
            .field("address", &self.address)
            .finish()
    }
}

impl ModelServer {
    /// Starts the server on its own runtime.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        let address = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            let address = listener.local_addr().expect("an address");
            let app = axum::Router::new()
                .route("/v1/chat/completions", post(chat))
                .route("/v1/embeddings", post(embeddings))
                .route("/v1/responses", post(responses))
                .route("/api/chat", post(ollama_chat))
                .route("/api/generate", post(ollama_generate))
                // Every request counted: a call refused before it was made never arrives.
                .layer(axum::middleware::from_fn(
                    move |request: axum::extract::Request, next: axum::middleware::Next| {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        next.run(request)
                    },
                ));
            tokio::spawn(async move { axum::serve(listener, app).await });
            address
        });
        Self {
            address,
            runtime: Some(runtime),
            requests,
        }
    }

    /// How many requests it has received.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ollama's host and port, as `ollama_rs::Ollama::new` takes them.
    pub fn ollama(&self) -> (String, u16) {
        ("http://127.0.0.1".to_owned(), self.address.port())
    }

    /// The API base a client is configured with: `http://127.0.0.1:<port>/v1`.
    pub fn api_base(&self) -> String {
        format!("http://{}/v1", self.address)
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({
        "error": { "message": message, "type": kind, "param": null, "code": code }
    });
    (status, Json(body)).into_response()
}

fn usage() -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": { "cached_tokens": CACHED_TOKENS, "audio_tokens": 0 },
        "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0 }
    })
}

fn chunk(model: &str, delta: Value, finish_reason: Value, usage: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-stream-1",
        "object": "chat.completion.chunk",
        "created": 1_764_000_000,
        "model": model,
        "choices": if usage.is_null() {
            json!([{ "index": 0, "delta": delta, "finish_reason": finish_reason }])
        } else {
            json!([])
        },
        "usage": usage
    });
    format!("data: {chunk}\n\n")
}

async fn chat(Json(request): Json<Value>) -> Response {
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    match model.as_str() {
        "rate-limited" => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests",
            )
        }
        flaky if flaky.starts_with("flaky-") && refuses(flaky) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests",
            )
        }
        "broken" => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
                "The server had an error while processing your request",
            )
        }
        _ => {}
    }
    // As OpenAI does: a request that names a service tier is told which one served it, `auto`
    // being served at `default`.
    let served = match request["service_tier"].as_str() {
        Some("auto") => json!("default"),
        Some(tier) => json!(tier),
        None => Value::Null,
    };
    if request["stream"].as_bool() != Some(true) {
        let mut body = json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": format!("{model}-2024-07-18"),
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": "A span is a unit of work." },
                "finish_reason": "stop",
                "logprobs": null
            }],
            "usage": usage()
        });
        if !served.is_null() {
            body["service_tier"] = served;
        }
        return Json(body).into_response();
    }
    let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
    let cut = model == "cut-midway";
    let events = async_stream_of(model, include_usage, cut, served);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(events))
        .expect("a response")
}

/// The events of a stream, one `CHUNK_INTERVAL` apart.
fn async_stream_of(
    model: String,
    include_usage: bool,
    cut: bool,
    served: Value,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> + Send {
    let mut events = Vec::new();
    for index in 0..STREAM_CHUNKS {
        let delta = json!({ "role": "assistant", "content": format!("word{index} ") });
        let finish = if index + 1 == STREAM_CHUNKS {
            json!("stop")
        } else {
            Value::Null
        };
        events.push(Ok(chunk(&model, delta, finish, Value::Null)));
    }
    if cut {
        // Two chunks, then the connection breaks.
        events.truncate(2);
        events.push(Err(std::io::Error::other("the connection broke")));
    } else {
        if include_usage {
            let mut last = chunk(&model, Value::Null, Value::Null, usage());
            if !served.is_null() {
                // OpenAI says the tier on every chunk; the last one, with the usage, is read.
                last = last.replacen('{', &format!("{{\"service_tier\":{served},"), 1);
            }
            events.push(Ok(last));
        }
        events.push(Ok("data: [DONE]\n\n".to_owned()));
    }
    tokio_stream::StreamExt::throttle(tokio_stream::iter(events), CHUNK_INTERVAL)
}

/// The usage of every Responses API answer: 12,000 tokens in (4,000 of them cached), 900 out
/// (500 of them reasoning).
pub const RESPONSES_USAGE: [u64; 4] = [12_000, 4_000, 900, 500];

/// How many web searches a Responses API answer made when the request gave the model the web
/// search tool: one `web_search_call` output item each, as OpenAI bills them.
pub const WEB_SEARCHES: usize = 2;

/// A Responses API answer (`POST /v1/responses`), as OpenAI documents it: the model's dated
/// name, its web search calls when the request gave it the tool, the tier that served it. With
/// `stream` set, its events: `response.created`, the text in [`STREAM_CHUNKS`]
/// `response.output_text.delta` events, then `response.completed` with the whole response.
async fn responses(Json(request): Json<Value>) -> Response {
    let model = request["model"].as_str().unwrap_or_default();
    let searches = request["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|tool| tool["type"] == "web_search"));
    let answer = responses_answer(model, searches);
    if request["stream"].as_bool() != Some(true) {
        return Json(answer).into_response();
    }
    let mut created = answer.clone();
    created["status"] = json!("in_progress");
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let event = |sequence: usize, kind: &str, mut body: Value| {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(sequence);
        Ok::<_, std::io::Error>(format!("event: {kind}\ndata: {body}\n\n"))
    };
    let mut events = vec![event(0, "response.created", json!({ "response": created }))];
    for index in 0..STREAM_CHUNKS {
        let delta = json!({
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": format!("word{index} "),
        });
        events.push(event(index + 1, "response.output_text.delta", delta));
    }
    events.push(event(
        STREAM_CHUNKS + 1,
        "response.completed",
        json!({ "response": answer }),
    ));
    let events = tokio_stream::StreamExt::throttle(tokio_stream::iter(events), CHUNK_INTERVAL);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(events))
        .expect("a response")
}

/// The whole Responses API answer to a request of `model`, with [`WEB_SEARCHES`] web search
/// calls when it gave the model the tool.
fn responses_answer(model: &str, searches: bool) -> Value {
    let mut output: Vec<Value> = (0..if searches { WEB_SEARCHES } else { 0 })
        .map(|index| {
            json!({
                "type": "web_search_call",
                "id": format!("ws_{index}"),
                "status": "completed",
                "action": { "type": "search", "query": "what is a span" }
            })
        })
        .collect();
    output.push(json!({
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{ "type": "output_text", "text": "A span is a unit of work.", "annotations": [] }]
    }));
    let [input, cached, output_tokens, reasoning] = RESPONSES_USAGE;
    json!({
        "id": "resp_1",
        "object": "response",
        "created_at": 1_764_000_000,
        "status": "completed",
        "model": format!("{model}-2025-08-07"),
        "output": output,
        "service_tier": "default",
        "usage": {
            "input_tokens": input,
            "input_tokens_details": { "cached_tokens": cached },
            "output_tokens": output_tokens,
            "output_tokens_details": { "reasoning_tokens": reasoning },
            "total_tokens": input + output_tokens
        }
    })
}

async fn embeddings(Json(request): Json<Value>) -> Response {
    let model = request["model"].as_str().unwrap_or_default();
    Json(json!({
        "object": "list",
        "model": model,
        "data": [{ "object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3] }],
        "usage": { "prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS }
    }))
    .into_response()
}

async fn ollama_chat(Json(request): Json<Value>) -> Response {
    tokio::time::sleep(OLLAMA_LATENCY).await;
    let model = request["model"].as_str().unwrap_or_default();
    if model == "missing" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "model 'missing' not found" })),
        )
            .into_response();
    }
    if request["stream"].as_bool() == Some(true) {
        return ollama_chat_stream(model.to_owned());
    }
    Json(json!({
        "model": model,
        "created_at": "2026-11-25T21:00:00Z",
        "message": { "role": "assistant", "content": "A span is a unit of work." },
        "done": true,
        "done_reason": "stop",
        "total_duration": 60_000_000_u64,
        "load_duration": 1_000_000_u64,
        "prompt_eval_count": OLLAMA_PROMPT_TOKENS,
        "prompt_eval_duration": 5_000_000_u64,
        "eval_count": OLLAMA_EVAL_TOKENS,
        "eval_duration": 50_000_000_u64
    }))
    .into_response()
}

/// Ollama's streamed chat: a JSON object a line, `STREAM_CHUNKS` partial messages
/// `CHUNK_INTERVAL` apart, then the last with no text, `done` and the counts.
fn ollama_chat_stream(model: String) -> Response {
    let mut lines: Vec<Result<String, std::io::Error>> = (0..STREAM_CHUNKS)
        .map(|index| {
            Ok(format!(
                "{}\n",
                json!({
                    "model": model,
                    "created_at": "2026-11-25T21:00:00Z",
                    "message": { "role": "assistant", "content": format!("word{index} ") },
                    "done": false
                })
            ))
        })
        .collect();
    lines.push(Ok(format!(
        "{}\n",
        json!({
            "model": model,
            "created_at": "2026-11-25T21:00:00Z",
            "message": { "role": "assistant", "content": "" },
            "done": true,
            "done_reason": "stop",
            "total_duration": 60_000_000_u64,
            "load_duration": 1_000_000_u64,
            "prompt_eval_count": OLLAMA_PROMPT_TOKENS,
            "prompt_eval_duration": 5_000_000_u64,
            "eval_count": OLLAMA_EVAL_TOKENS,
            "eval_duration": 50_000_000_u64
        })
    )));
    let lines = tokio_stream::StreamExt::throttle(tokio_stream::iter(lines), CHUNK_INTERVAL);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(lines))
        .expect("a response")
}

async fn ollama_generate(Json(request): Json<Value>) -> Response {
    tokio::time::sleep(OLLAMA_LATENCY).await;
    let model = request["model"].as_str().unwrap_or_default();
    Json(json!({
        "model": model,
        "created_at": "2026-11-25T21:00:00Z",
        "response": "A span is a unit of work.",
        "done": true,
        "total_duration": 60_000_000_u64,
        "prompt_eval_count": OLLAMA_PROMPT_TOKENS,
        "eval_count": OLLAMA_EVAL_TOKENS
    }))
    .into_response()
}

/// The call `call_name` of a `flaky-...` model priced at $1 / $2 per million tokens, retried
/// until it answered: it took one attempt per refusal plus one, each a child span `attempt n`
/// (429 and an error, then 200), and was billed once, for the answer. Returns the attempts, in
/// order.
#[track_caller]
pub fn assert_retried_flaky_call<'a>(
    exported: &'a crate::otel::Exported,
    call_name: &str,
) -> Vec<&'a opentelemetry_sdk::trace::SpanData> {
    use crate::otel::{attr, f64_attr, str_attr};
    use opentelemetry::trace::Status;

    let call = exported.span(call_name);
    let tries = i64::from(FLAKY_FAILURES) + 1;
    assert_eq!(attr(call, "ai.attempts"), Some(&tries.into()));
    // Billed once, for the answer: the 429s cost nothing.
    let usd = (PROMPT_TOKENS as f64 * 1.0 + COMPLETION_TOKENS as f64 * 2.0) / 1e6;
    assert!((f64_attr(call, "gen_ai.usage.cost") - usd).abs() < 1e-12);
    assert_eq!(call.status, Status::Unset);

    let attempts = exported.children_of(call);
    let names: Vec<String> = attempts.iter().map(|span| span.name.to_string()).collect();
    let expected: Vec<String> = (1..=tries).map(|n| format!("attempt {n}")).collect();
    assert_eq!(names, expected);
    for (n, attempt) in (1..).zip(&attempts) {
        let refused = n < tries;
        let status = if refused { 429_i64 } else { 200 };
        assert_eq!(attr(attempt, "ai.attempt.number"), Some(&n.into()));
        assert_eq!(
            attr(attempt, "http.response.status_code"),
            Some(&status.into()),
            "attempt {n}"
        );
        assert_eq!(
            str_attr(attempt, "error.type").as_deref(),
            refused.then_some("429"),
            "attempt {n}"
        );
        assert_eq!(
            matches!(attempt.status, Status::Error { .. }),
            refused,
            "attempt {n}"
        );
    }
    attempts
}
