//! The seed's RAG request behind an HTTP endpoint: an axum service whose handler embeds,
//! retrieves and generates, under an HTTP server span that is the root of each request's trace
//! (or continues the caller's trace, from its `traceparent` header).
//!
//! Run with `cargo run --example axum_service`, then
//! `curl -H 'x-tenant-id: acme' 'http://127.0.0.1:3000/ask?q=What+is+a+span'`.
//! `--port P` listens elsewhere (0 for any free port); `--self-test N` sends itself N requests
//! and exits, for the tests; `--edge` serves as the edge of the system, whose callers are
//! outside: their sampled flag is ignored. With `OTEL_EXPORTER_OTLP_ENDPOINT` set the traces go to that
//! backend; without, each request's tree is printed on stderr.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing_ai::propagation::ServerSpan;
use tracing_ai::sampling::TailSampling;

async fn ask(
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    // The server span, made by `ServerSpan`, continues the caller's trace. The tenant is the
    // one the gateway in front authenticated; ids the caller did not send are left out,
    // rather than exported empty.
    let span = tracing::Span::current();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    if let Some(tenant) = header("x-tenant-id") {
        span.record("tenant.id", tenant);
    }
    if let Some(request_id) = header("x-request-id") {
        span.record("request.id", request_id);
    }
    span.record("feature.id", "ask");
    let question = params
        .get("q")
        .map(String::as_str)
        .unwrap_or("What is a span?");
    let fail = params.get("fail").is_some_and(|v| v == "true");
    match tracing_ai_examples::rag_query(question, false, fail).await {
        Ok(answer) => (StatusCode::OK, answer),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()),
    }
}

/// The caller's trace that the self-test's first request continues.
const CALLER_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Sends `GET /ask` to `address` over a plain connection and returns the status code.
async fn get_ask(
    address: SocketAddr,
    query: &str,
    tenant: &str,
    extra_header: &str,
) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "GET /ask?{query} HTTP/1.1\r\nhost: {address}\r\nx-tenant-id: {tenant}\r\n{extra_header}connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 3000_u16;
    let mut self_test = None;
    let mut edge = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--edge" {
            edge = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse()?,
            "--self-test" => self_test = Some(value.parse::<usize>()?),
            other => {
                return Err(format!(
                    "unknown flag `{other}`; the flags are --port P, --self-test N, --edge"
                )
                .into())
            }
        }
    }
    let mut tracing = tracing_ai::builder()
        .with_service_name("rag-service")
        .with_layer(tracing_ai_examples::layer());
    if edge {
        // Anyone can send a sampled `traceparent`: here it keeps nothing by itself. The ratio
        // is TRACING_AI_SAMPLE_RATIO's (every trace when unset).
        tracing = tracing.with_sampling(TailSampling::builder().with_parent_sampled(false));
    }
    let _guard = tracing.try_init()?;

    let app = Router::new()
        .route("/ask", get(ask))
        .layer(ServerSpan::layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let Some(requests) = self_test else {
        eprintln!("listening on http://{address}; try: curl -H 'x-tenant-id: acme' 'http://{address}/ask?q=What+is+a+span'");
        // On Ctrl-C or SIGTERM, stop and return, so that the guard exports the last spans.
        tracing_ai_examples::shutdown_signal().await;
        server.abort();
        return Ok(());
    };
    for n in 0..requests {
        let tenant = ["acme", "globex"][n % 2];
        let query = if n % 3 == 2 {
            "q=Why+did+my+request+fail&fail=true"
        } else {
            "q=What+is+a+span"
        };
        let traceparent = if n == 0 {
            format!("traceparent: {CALLER_TRACEPARENT}\r\n")
        } else {
            String::new()
        };
        let status = get_ask(address, query, tenant, &traceparent).await?;
        println!("request {n} ({tenant}): {status}");
    }
    server.abort();
    Ok(())
}
