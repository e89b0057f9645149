//! A new user's service on the genai client, as the README sets it up: an axum service whose
//! `GET /chat` answers a question and `GET /chat/stream` streams the answer, each tenant with a
//! daily budget. The glue is the annotation on each model call and the mapping of its error to
//! an HTTP answer: genai's responses, stream events and errors need nothing else with
//! tracing-ai's `genai` feature, and genai's own `otel` spans under them are priced once.
//!
//! Run with `cargo run --example genai_service`, then
//! `curl -H 'x-tenant-id: acme' 'http://127.0.0.1:3000/chat/stream?q=What+is+a+span'`.
//! It talks to a local server that speaks OpenAI's wire format (the one the tests use), so it
//! needs no key and no network. `--port P` listens elsewhere (0 for any free port);
//! `--self-test N` sends itself N requests, chat and stream in turn, and exits. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set the traces go to that backend; without, each request's
//! tree is printed on stderr.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use genai::adapter::AdapterKind;
use genai::chat::{ChatOptions, ChatRequest, ChatResponse, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{Client, ModelIden, ServiceTarget};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_stream::StreamExt as _;
use tracing_ai::ai_span;
use tracing_ai::budget::{Budget, BudgetExceeded, Scope, Window};
use tracing_ai::estimate::Tiktoken;
use tracing_ai::propagation::ServerSpan;
use tracing_ai::stream::Stream;
use tracing_ai_tests::model_server::ModelServer;

/// What a model call fails with, as the service answers it: the error mapping.
#[derive(Debug)]
enum ChatError {
    /// The tenant's budget is spent: the model was not called.
    OverBudget(BudgetExceeded),
    Model(genai::Error),
}

impl From<BudgetExceeded> for ChatError {
    fn from(refused: BudgetExceeded) -> Self {
        ChatError::OverBudget(refused)
    }
}

impl From<genai::Error> for ChatError {
    fn from(error: genai::Error) -> Self {
        ChatError::Model(error)
    }
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::OverBudget(refused) => refused.fmt(f),
            ChatError::Model(error) => write!(f, "the model failed: {error}"),
        }
    }
}

impl IntoResponse for ChatError {
    fn into_response(self) -> Response {
        let status = match &self {
            ChatError::OverBudget(_) => StatusCode::TOO_MANY_REQUESTS,
            ChatError::Model(_) => StatusCode::BAD_GATEWAY,
        };
        (status, self.to_string()).into_response()
    }
}

/// The request's options: genai keeps `max_tokens` here, apart from the messages, which is
/// what the budget reserves for the answer.
fn options() -> ChatOptions {
    ChatOptions::default()
        .with_max_tokens(300)
        .with_capture_usage(true)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = request,
          parameters = options, budget)]
async fn chat(
    client: &Client,
    request: ChatRequest,
    options: &ChatOptions,
) -> Result<ChatResponse, ChatError> {
    Ok(client
        .exec_chat("gpt-4o-mini", request.clone(), Some(options))
        .await?)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = request,
          parameters = options, budget, stream)]
async fn chat_stream(
    client: &Client,
    request: ChatRequest,
    options: &ChatOptions,
) -> Result<impl Stream<Item = genai::Result<ChatStreamEvent>>, ChatError> {
    let response = client
        .exec_chat_stream("gpt-4o-mini", request.clone(), Some(options))
        .await?;
    Ok(response.stream)
}

#[derive(serde::Deserialize)]
struct Ask {
    q: String,
}

/// Who the request is for, on the server span every AI span below inherits from.
fn attribute(headers: &HeaderMap) {
    let span = tracing::Span::current();
    if let Some(tenant) = headers.get("x-tenant-id").and_then(|v| v.to_str().ok()) {
        span.record("tenant.id", tenant);
    }
    span.record("feature.id", "chat");
}

async fn answer(
    State(client): State<Client>,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Result<String, ChatError> {
    attribute(&headers);
    let response = chat(&client, ChatRequest::from_user(ask.q), &options()).await?;
    Ok(response.first_text().unwrap_or_default().to_owned())
}

async fn stream(
    State(client): State<Client>,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Result<Body, ChatError> {
    attribute(&headers);
    let events = chat_stream(&client, ChatRequest::from_user(ask.q), &options()).await?;
    // The answer's text as it comes; the span ends when the body is sent.
    let text = events.filter_map(|event| match event {
        Ok(ChatStreamEvent::Chunk(chunk)) => Some(Ok::<_, std::io::Error>(chunk.content)),
        Ok(_) => None,
        Err(error) => Some(Err(std::io::Error::other(error.to_string()))),
    });
    Ok(Body::from_stream(text))
}

/// A genai client whose every model is served by `base` with OpenAI's wire format.
fn client(base: String) -> Result<Client, genai::Error> {
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(base.clone()),
                auth: AuthData::from_single("sk-local"),
                model: ModelIden::new(AdapterKind::OpenAI, target.model.model_name),
            })
        },
    );
    Client::builder()
        .with_service_target_resolver(resolver)
        .build()
}

/// Sends `GET path` to `address` as `tenant`; the status code and the body.
async fn send_get(
    address: std::net::SocketAddr,
    path: &str,
    tenant: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {address}\r\nx-tenant-id: {tenant}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, response))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The model server runs on a runtime of its own, started outside the service's.
    let model_server = ModelServer::start();
    let api_base = format!("{}/", model_server.api_base());
    tokio::runtime::Runtime::new()?.block_on(serve(api_base))
}

async fn serve(api_base: String) -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 3000_u16;
    let mut self_test = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse()?,
            "--self-test" => self_test = Some(value.parse::<usize>()?),
            other => {
                return Err(format!(
                    "unknown flag `{other}`; the flags are --port P, --self-test N"
                )
                .into())
            }
        }
    }
    let layer = tracing_ai::AiLayer::builder()
        .with_token_estimator(Tiktoken)
        .with_budget(Budget::new("tenant-daily", 5.0, Window::Day).per(Scope::Tenant));
    let _guard = tracing_ai::builder()
        .with_service_name("chat-service")
        .with_layer(layer)
        .try_init()?;

    let app = Router::new()
        .route("/chat", get(answer))
        .route("/chat/stream", get(stream))
        .with_state(client(api_base)?)
        .layer(ServerSpan::layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let Some(requests) = self_test else {
        eprintln!(
            "listening on http://{address}; try: curl -H 'x-tenant-id: acme' \
             'http://{address}/chat/stream?q=What+is+a+span'"
        );
        tracing_ai_examples::shutdown_signal().await;
        server.abort();
        return Ok(());
    };
    for n in 0..requests {
        let tenant = ["acme", "globex"][n % 2];
        let path = ["/chat?q=What+is+a+span", "/chat/stream?q=What+is+a+span"][n % 2];
        let (status, _) = send_get(address, path, tenant).await?;
        println!("request {n} ({tenant}, {path}): {status}");
    }
    server.abort();
    Ok(())
}
