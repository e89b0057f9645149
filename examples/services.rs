//! The seed's RAG request as three services, each its own process: a gateway that
//! authenticates the tenant and calls the others over HTTP, an embedding service, and an LLM
//! service (the self-hosted model, priced by GPU time, falling back to a hosted one). One
//! trace per request across the three, with the tenant, feature and request ids on every AI
//! span of every service.
//!
//! Run all three with `cargo run --example services`, then
//! `curl -H 'authorization: Bearer acme-key' 'http://127.0.0.1:3000/ask?q=What+is+a+span'`
//! (`globex-key` is the other tenant; `&fail=true` makes both models fail). With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set the three export there (Jaeger: `http://127.0.0.1:4318`, OTLP over HTTP);
//! without, each prints its own part of each request on stderr.
//!
//! `--port P` is the gateway's port (0 for any free one). `--role gateway|embedding|llm` runs
//! one service (what the launcher does for each: `--embedding URL --llm URL` tell a gateway
//! where the others listen); `--lifeline` stops a service when its standard input closes, so
//! that the launcher's children stop with it.
//!
//! `--budget USD` gives each tenant a daily budget that the embedding and LLM services check
//! before every model call (a refused call is answered 429 and never made); with
//! `--budget-redis redis://127.0.0.1:6379/` the budget is kept in Redis and shared by every
//! replica, `--budget-fail open|closed` says what a call does when Redis does not answer, and
//! `--budget-per-call USD` what a call holds while it runs (the self-hosted model is priced by
//! its GPU time, which no token count foretells). With `--budget-dir DIR` (and no Redis) each
//! service keeps its budget's spend in `DIR/<role>.redb` as well, so that a restart does not
//! start the day again from zero.
//! `--budget-rpm N` limits each tenant to N model calls a minute, across the embedding and
//! LLM services (and, with `--budget-redis`, every replica): a call past it is answered 429
//! with `Retry-After`, which the gateway passes on.
//!
//! How the trace crosses the processes: the gateway's HTTP client ([`PropagateContext`])
//! sends `traceparent` and the request's ids as `baggage`; the two services continue the
//! trace ([`ServerSpan`]) and trust that baggage, for the keys they were told to. The gateway
//! trusts none: its callers are outside.

use std::collections::HashMap;
use std::error::Error;
use std::hash::{BuildHasher as _, RandomState};
use std::process::Stdio;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tracing_ai::budget::{Budget, LocalBudgets, OnStoreFailure, RedisBudgets, Scope, Window};
use tracing_ai::propagation::{PropagateContext, ServerSpan};
use tracing_ai::sampling::TailSampling;

/// The ids the gateway hands on as baggage, which the services behind it trust.
const HANDED_ON: [&str; 3] = ["tenant.id", "feature.id", "request.id"];

/// The API keys the gateway knows, and the tenant each authenticates.
const TENANTS: [(&str, &str); 2] = [("acme-key", "acme"), ("globex-key", "globex")];

#[derive(Serialize, Deserialize)]
struct EmbedRequest {
    text: String,
}

#[derive(Serialize, Deserialize)]
struct EmbedResponse {
    vector: Vec<f32>,
    tokens: u64,
}

#[derive(Serialize, Deserialize)]
struct GenerateRequest {
    prompt: String,
    fail: bool,
}

#[derive(Serialize, Deserialize)]
struct GenerateResponse {
    text: String,
}

async fn embed(Json(request): Json<EmbedRequest>) -> Response {
    match tracing_ai_examples::embed(&request.text).await {
        Ok(embedding) => Json(EmbedResponse {
            vector: embedding.vector().to_vec(),
            tokens: embedding.prompt_tokens(),
        })
        .into_response(),
        Err(error) => model_error(&error),
    }
}

async fn generate(Json(request): Json<GenerateRequest>) -> Response {
    match tracing_ai_examples::generate(&request.prompt, request.fail).await {
        Ok(completion) => Json(GenerateResponse {
            text: completion.text().to_owned(),
        })
        .into_response(),
        Err(error) => model_error(&error),
    }
}

/// A model call's failure as an answer: a call a budget or a rate limit refused is the
/// caller's 429 (it was not made), with `Retry-After` when the refusal says when the call
/// would fit; any other the model's 502.
fn model_error(error: &tracing_ai_examples::ModelError) -> Response {
    let (status, retry_after) = match error {
        tracing_ai_examples::ModelError::OverBudget(refused) => {
            (StatusCode::TOO_MANY_REQUESTS, refused.retry_after())
        }
        _ => (StatusCode::BAD_GATEWAY, None),
    };
    let mut response = (status, error.to_string()).into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, wait.as_secs().into());
    }
    response
}

/// Where the gateway finds the other two, and the client it calls them with.
#[derive(Clone)]
struct Upstreams {
    client: ClientWithMiddleware,
    embedding: String,
    llm: String,
}

/// Why a request through the gateway failed.
#[derive(Debug)]
enum GatewayError {
    Unauthenticated,
    Upstream(String),
    /// A service behind refused the request's model call: its budget is spent, or a rate
    /// limit reached (then with the seconds it said to wait).
    OverBudget(String, Option<String>),
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        match self {
            GatewayError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "send `authorization: Bearer acme-key` (or globex-key)",
            )
                .into_response(),
            GatewayError::Upstream(why) => (StatusCode::BAD_GATEWAY, why).into_response(),
            GatewayError::OverBudget(why, retry_after) => {
                let mut response = (StatusCode::TOO_MANY_REQUESTS, why).into_response();
                // Passed on: the caller waits what the service that refused said.
                if let Some(value) =
                    retry_after.and_then(|seconds| axum::http::HeaderValue::from_str(&seconds).ok())
                {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

/// A request id the caller sent, if it is a plausible one, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req-{:016x}", RandomState::new().hash_one(0_u8)))
}

async fn call<Req: Serialize, Resp: for<'de> Deserialize<'de>>(
    client: &ClientWithMiddleware,
    url: &str,
    body: &Req,
) -> Result<Resp, GatewayError> {
    let body = serde_json::to_vec(body).map_err(|e| GatewayError::Upstream(e.to_string()))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| GatewayError::Upstream(format!("{url}: {e}")))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| GatewayError::Upstream(format!("{url}: {e}")))?;
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(GatewayError::OverBudget(
            String::from_utf8_lossy(&bytes).into_owned(),
            retry_after,
        ));
    }
    if !status.is_success() {
        return Err(GatewayError::Upstream(format!(
            "{url}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| GatewayError::Upstream(format!("{url}: {e}")))
}

async fn ask(
    State(upstreams): State<Upstreams>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<String, GatewayError> {
    let tenant = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|key| TENANTS.iter().find(|(known, _)| *known == key))
        .map(|(_, tenant)| *tenant)
        .ok_or(GatewayError::Unauthenticated)?;
    // On the server span: every AI span below inherits them, here and, as baggage, in the
    // services called.
    let span = tracing::Span::current();
    span.record("tenant.id", tenant);
    span.record("feature.id", "ask");
    span.record("request.id", request_id(&headers));

    let question = params
        .get("q")
        .map(String::as_str)
        .unwrap_or("What is a span?");
    let fail = params.get("fail").is_some_and(|v| v == "true");
    let embedded: EmbedResponse = call(
        &upstreams.client,
        &format!("{}/embed", upstreams.embedding),
        &EmbedRequest {
            text: question.to_owned(),
        },
    )
    .await?;
    let embedding = tracing_ai_examples::Embedding::new(embedded.vector, embedded.tokens);
    let chunks = tracing_ai_examples::retrieve(&embedding, 10, false).await;
    let generated: GenerateResponse = call(
        &upstreams.client,
        &format!("{}/generate", upstreams.llm),
        &GenerateRequest {
            prompt: tracing_ai_examples::prompt(question, &chunks),
            fail,
        },
    )
    .await?;
    Ok(generated.text)
}

/// One service's command line.
struct Options {
    role: Option<String>,
    port: u16,
    embedding: Option<String>,
    llm: Option<String>,
    lifeline: bool,
    /// The budget flags, as given: the launcher hands them to the services that call models.
    budget_flags: Vec<String>,
    /// Each tenant's daily budget in USD, its rate limit in requests a minute, and where they
    /// are kept.
    budget: Option<f64>,
    budget_rpm: Option<u64>,
    budget_redis: Option<String>,
    budget_dir: Option<std::path::PathBuf>,
    budget_per_call: Option<f64>,
    budget_fail_closed: bool,
}

fn options() -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        role: None,
        port: 3000,
        embedding: None,
        llm: None,
        lifeline: false,
        budget_flags: Vec::new(),
        budget: None,
        budget_rpm: None,
        budget_redis: None,
        budget_dir: None,
        budget_per_call: None,
        budget_fail_closed: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--lifeline" {
            options.lifeline = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if flag.starts_with("--budget") {
            options.budget_flags.extend([flag.clone(), value.clone()]);
        }
        match flag.as_str() {
            "--budget" => options.budget = Some(number(&flag, &value)?),
            "--budget-rpm" => options.budget_rpm = Some(number(&flag, &value)?),
            "--budget-redis" => options.budget_redis = Some(value),
            "--budget-dir" => options.budget_dir = Some(value.into()),
            "--budget-per-call" => options.budget_per_call = Some(number(&flag, &value)?),
            "--budget-fail" => {
                options.budget_fail_closed = match value.as_str() {
                    "open" => false,
                    "closed" => true,
                    other => {
                        return Err(format!("--budget-fail is open or closed, not `{other}`").into())
                    }
                }
            }
            "--role" => options.role = Some(value),
            "--port" => options.port = number(&flag, &value)?,
            "--embedding" => options.embedding = Some(value),
            "--llm" => options.llm = Some(value),
            other => {
                return Err(format!(
                    "unknown flag `{other}`; the flags are --port P, --role gateway|embedding|llm, \
                     --embedding URL, --llm URL, --lifeline, --budget USD, --budget-rpm N, \
                     --budget-redis URL, --budget-dir DIR, --budget-per-call USD, \
                     --budget-fail open|closed"
                )
                .into())
            }
        }
    }
    Ok(options)
}

/// `value`, the number `flag` takes; an error that says which flag and what it takes.
fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number (`{flag} 60`), not `{value}`"))
}

/// Resolves when the service should stop: a signal, or its launcher gone.
async fn stopped(lifeline: bool) {
    let closed = async {
        if !lifeline {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0_u8; 64];
        while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        () = tracing_ai_examples::shutdown_signal() => {}
        () = closed => {}
    }
}

/// Runs one service until it is stopped, then returns (the caller's guard exports the rest).
async fn serve(options: Options, role: &str) -> Result<(), Box<dyn Error>> {
    let (service_name, app) = match role {
        "embedding" => (
            "embedding-service",
            Router::new().route("/embed", post(embed)),
        ),
        "llm" => (
            "llm-service",
            Router::new().route("/generate", post(generate)),
        ),
        "gateway" => {
            let missing = |what: &str| format!("a gateway needs --{what} URL");
            let upstreams = Upstreams {
                client: ClientBuilder::new(reqwest::Client::new())
                    .with(PropagateContext::new().with_attribution_baggage())
                    .build(),
                embedding: options
                    .embedding
                    .clone()
                    .ok_or_else(|| missing("embedding"))?,
                llm: options.llm.clone().ok_or_else(|| missing("llm"))?,
            };
            (
                "gateway",
                Router::new().route("/ask", get(ask)).with_state(upstreams),
            )
        }
        other => {
            return Err(format!("unknown role `{other}`: gateway, embedding or llm").into());
        }
    };
    let mut layer = tracing_ai_examples::layer();
    let mut tracing = tracing_ai::builder().with_service_name(service_name);
    if role == "gateway" {
        // The edge: callers are outside, so their sampled flag keeps nothing by itself, and
        // their baggage is not read.
        tracing = tracing.with_sampling(TailSampling::builder().with_parent_sampled(false));
    } else {
        for key in HANDED_ON {
            layer = layer.with_trusted_baggage(key);
        }
        // The services that call models check each tenant's budget and rate limit before
        // every call.
        if let Some(limit) = options.budget {
            let mut budget = Budget::new("tenant-daily", limit, Window::Day).per(Scope::Tenant);
            if let Some(per_call) = options.budget_per_call {
                budget = budget.per_call(per_call);
            }
            layer = layer.with_budget(budget);
        }
        if let Some(requests) = options.budget_rpm {
            layer = layer.with_budget(
                Budget::requests_per_minute("tenant-rpm", requests).per(Scope::Tenant),
            );
        }
        if options.budget.is_some() || options.budget_rpm.is_some() {
            if let Some(url) = &options.budget_redis {
                let policy = if options.budget_fail_closed {
                    OnStoreFailure::Closed
                } else {
                    OnStoreFailure::Open
                };
                layer = layer.with_budget_store(RedisBudgets::new(url)?.on_failure(policy));
            } else if let Some(dir) = &options.budget_dir {
                layer =
                    layer.with_local_budgets(LocalBudgets::new(dir.join(format!("{role}.redb"))));
            }
        }
    }
    let _guard = tracing.with_layer(layer).try_init()?;

    let app = app.layer(ServerSpan::layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped(options.lifeline))
        .await?;
    Ok(())
}

/// A service of this example, started as a child process; its address is the first line it
/// writes, the rest of what it writes goes to this process's stderr.
async fn spawn(
    role: &str,
    port: u16,
    upstreams: &[&str],
) -> Result<(tokio::process::Child, String), Box<dyn Error>> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--role", role, "--port", &port.to_string(), "--lifeline"])
        .args(upstreams)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    stderr.read_line(&mut line).await?;
    let address = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .ok_or_else(|| format!("the {role} service did not start: {line}"))?
        .to_owned();
    tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await });
    Ok((child, address))
}

/// Starts the three services, then stops them (gateway first) when this process is stopped.
async fn launch(port: u16, budget: &[String]) -> Result<(), Box<dyn Error>> {
    let budget: Vec<&str> = budget.iter().map(String::as_str).collect();
    let (embedding, embedding_url) = spawn("embedding", 0, &budget).await?;
    let (llm, llm_url) = spawn("llm", 0, &budget).await?;
    let (gateway, gateway_url) = spawn(
        "gateway",
        port,
        &["--embedding", &embedding_url, "--llm", &llm_url],
    )
    .await?;
    eprintln!(
        "listening on {gateway_url} (the gateway; embedding at {embedding_url}, llm at {llm_url}); \
         try: curl -H 'authorization: Bearer acme-key' '{gateway_url}/ask?q=What+is+a+span'"
    );
    tracing_ai_examples::shutdown_signal().await;
    for mut child in [gateway, embedding, llm] {
        // Its lifeline: closing it stops the service, which exports its last spans.
        drop(child.stdin.take());
        child.wait().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let options = options()?;
    match options.role.clone() {
        Some(role) => serve(options, &role).await,
        None => launch(options.port, &options.budget_flags).await,
    }
}
