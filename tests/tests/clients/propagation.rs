//! Crossing services over real HTTP (axum served on 127.0.0.1, reqwest calling it): the server
//! span continues the caller's trace, baggage feeds attribution only for trusted keys and
//! within bounds whatever a hostile caller sends, and the client middleware hands the trace
//! and the request's ids on.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get, post};
use axum::Router;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tracing_ai::propagation::{PropagateContext, ServerSpan};
use tracing_ai::AiLayer;
use tracing_ai_tests::otel::{attr, export_with, str_attr, Exported};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

/// The embedding service's handler: one AI span, under the server span.
async fn embed() -> &'static str {
    let span = tracing::info_span!(
        "embeddings text-embedding-3-small",
        gen_ai.operation.name = "embeddings",
        gen_ai.request.model = "text-embedding-3-small",
        gen_ai.usage.input_tokens = 1_000_i64,
        gen_ai.usage.output_tokens = 0_i64,
    );
    drop(span);
    "embedded"
}

/// What a service received: its `traceparent` and `baggage` headers, one per line.
async fn echo(headers: HeaderMap) -> String {
    ["traceparent", "baggage"]
        .iter()
        .map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn app() -> Router {
    Router::new()
        .route("/embed", post(embed))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/echo", any(echo))
        .layer(ServerSpan::layer())
}

/// Serves [`app`] on 127.0.0.1 under `layer`, runs `client` against its address, and returns
/// what `client` returned and every span exported.
fn serve<T>(
    layer: tracing_ai::AiLayerBuilder,
    client: impl AsyncFnOnce(String) -> T,
) -> (T, Exported) {
    export_with(layer, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            let address = format!("http://{}", listener.local_addr().expect("an address"));
            let server = tokio::spawn(async move { axum::serve(listener, app()).await });
            let value = client(address).await;
            server.abort();
            value
        })
    })
}

/// POSTs `/embed` with `headers`; the status.
async fn post_embed(address: &str, headers: &[(&str, String)]) -> u16 {
    let mut request = reqwest::Client::new().post(format!("{address}/embed"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
        .send()
        .await
        .expect("the service answers")
        .status()
        .as_u16()
}

fn trusting_tenant() -> tracing_ai::AiLayerBuilder {
    AiLayer::builder()
        .with_trusted_baggage("tenant.id")
        .with_trusted_baggage("request.id")
}

fn only<'a>(exported: &'a Exported, name: &str) -> &'a SpanData {
    exported.span(name)
}

#[test]
fn the_server_span_continues_the_callers_trace_under_its_route() {
    let (status, exported) = serve(AiLayer::builder(), async |address| {
        post_embed(&address, &[("traceparent", traceparent())]).await
    });
    assert_eq!(status, 200);
    let server = only(&exported, "POST /embed");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(server.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(server.parent_span_id.to_string(), CALLER_SPAN);
    assert_eq!(str_attr(server, "http.route").as_deref(), Some("/embed"));
    assert_eq!(
        str_attr(server, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    let ai = only(&exported, "embeddings text-embedding-3-small");
    assert_eq!(ai.parent_span_id, server.span_context.span_id());
    assert_eq!(ai.span_context.trace_id().to_string(), TRACE_ID);
}

#[test]
fn a_request_without_a_trace_starts_one_and_garbage_does_too() {
    let (_, exported) = serve(AiLayer::builder(), async |address| {
        post_embed(&address, &[]).await;
        post_embed(&address, &[("traceparent", "00-garbage-01".to_owned())]).await;
        post_embed(
            &address,
            &[(
                "traceparent",
                format!("00-{}-{CALLER_SPAN}-01", "0".repeat(32)),
            )],
        )
        .await;
    });
    let servers = exported.spans_named("POST /embed");
    assert_eq!(servers.len(), 3);
    for server in servers {
        assert!(server.span_context.is_valid());
        assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        assert_ne!(server.span_context.trace_id().to_string(), TRACE_ID);
    }
}

#[test]
fn server_errors_fail_the_span_and_client_errors_do_not() {
    let (_, exported) = serve(AiLayer::builder(), async |address| {
        for path in ["fail", "missing", "nowhere"] {
            reqwest::get(format!("{address}/{path}"))
                .await
                .expect("an answer");
        }
    });
    let failed = only(&exported, "GET /fail");
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "{:?}",
        failed.status
    );
    assert_eq!(str_attr(failed, "error.type").as_deref(), Some("500"));
    let missing = only(&exported, "GET /missing");
    assert_eq!(missing.status, Status::Unset);
    assert_eq!(
        attr(missing, "http.response.status_code"),
        Some(&Value::I64(404))
    );
    // No route matched: the method alone, never the path a caller chose.
    let unrouted = only(&exported, "GET");
    assert_eq!(str_attr(unrouted, "http.route"), None);
    assert_eq!(str_attr(unrouted, "url.path").as_deref(), Some("/nowhere"));
}

#[test]
fn an_invented_method_is_other() {
    let (_, exported) = serve(AiLayer::builder(), async |address| {
        reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(b"BREW").expect("a method"),
                format!("{address}/echo"),
            )
            .send()
            .await
            .expect("an answer");
    });
    let server = only(&exported, "_OTHER /echo");
    assert_eq!(
        str_attr(server, "http.request.method").as_deref(),
        Some("_OTHER")
    );
}

/// The tenant each baggage header gives the AI span, under a layer trusting `tenant.id`.
fn tenant_from_baggage(baggage: &str) -> Option<String> {
    let baggage = baggage.to_owned();
    let (_, exported) = serve(trusting_tenant(), async move |address| {
        post_embed(
            &address,
            &[("traceparent", traceparent()), ("baggage", baggage)],
        )
        .await
    });
    str_attr(
        only(&exported, "embeddings text-embedding-3-small"),
        "tenant.id",
    )
    .map(|tenant| tenant.into_owned())
}

#[test]
fn trusted_baggage_attributes_the_calls_of_the_service_behind() {
    assert_eq!(
        tenant_from_baggage("tenant.id=acme,request.id=req-7").as_deref(),
        Some("acme")
    );
    // Percent-encoded as W3C Baggage says, decoded.
    assert_eq!(
        tenant_from_baggage("tenant.id=Soci%C3%A9t%C3%A9%20G%C3%A9n%C3%A9rale").as_deref(),
        Some("Société Générale")
    );
}

#[test]
fn hostile_baggage_sets_no_tenant_even_where_baggage_is_trusted() {
    let long = "a".repeat(300);
    let padding = "x".repeat(9_000);
    let mut many: Vec<String> = (0..199).map(|n| format!("k{n}=v")).collect();
    many.push("tenant.id=mallory".to_owned());
    for hostile in [
        // Control characters, decoded from percent-encoding: a newline forging a log line,
        // an escape sequence, a right-to-left override.
        "tenant.id=acme%0Atenant.id%3Dglobex".to_owned(),
        "tenant.id=%1B%5B31macme".to_owned(),
        "tenant.id=%E2%80%AEemca".to_owned(),
        // Too long to be an id: dropped, not cut into someone else's.
        format!("tenant.id={long}"),
        // Over W3C's 8,192 bytes: the whole header is ignored.
        format!("tenant.id=acme,padding={padding}"),
        // Past W3C's entry limit.
        many.join(","),
        // Not baggage at all.
        "tenant.id".to_owned(),
        "=acme".to_owned(),
        "tenant.id=".to_owned(),
    ] {
        assert_eq!(tenant_from_baggage(&hostile), None, "{hostile:.80}");
    }
}

#[test]
fn untrusted_baggage_sets_nothing() {
    let (_, exported) = serve(AiLayer::builder(), async |address| {
        post_embed(
            &address,
            &[("baggage", "tenant.id=mallory,request.id=forged".to_owned())],
        )
        .await
    });
    let ai = only(&exported, "embeddings text-embedding-3-small");
    assert_eq!(str_attr(ai, "tenant.id"), None);
    assert_eq!(str_attr(ai, "request.id"), None);
}

/// Calls `/echo` through [`PropagateContext`] from under a request span for tenant `acme`;
/// the `traceparent` and `baggage` the service received.
fn echoed(middleware: PropagateContext, baggage_in: Option<&str>) -> ((String, String), Exported) {
    let baggage_in = baggage_in.map(str::to_owned);
    serve(AiLayer::builder(), async move |address| {
        use tracing::Instrument as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(middleware)
            .build();
        let request = tracing::info_span!(
            "handle request",
            tenant.id = "acme",
            feature.id = "ask",
            request.id = "req-1"
        );
        if let Some(baggage) = baggage_in {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert("baggage", baggage.parse().expect("a header"));
            headers.insert("traceparent", traceparent().parse().expect("a header"));
            let _ = request.set_parent(tracing_ai::propagation::extract(&headers));
        }
        let body = client
            .get(format!("{address}/echo"))
            .send()
            .instrument(request)
            .await
            .expect("the service answers")
            .text()
            .await
            .expect("a body");
        let (traceparent, baggage) = body.split_once('\n').expect("two lines");
        (traceparent.to_owned(), baggage.to_owned())
    })
}

fn baggage_map(header: &str) -> HashMap<String, String> {
    header
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_client_span_hands_the_trace_on() {
    let ((traceparent, baggage), exported) = echoed(PropagateContext::new(), None);
    let client = only(&exported, "GET");
    assert_eq!(client.span_kind, SpanKind::Client);
    let request = only(&exported, "handle request");
    assert_eq!(client.parent_span_id, request.span_context.span_id());
    // The service was called as a child of the client span...
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            client.span_context.trace_id(),
            client.span_context.span_id()
        )
    );
    // ... and its server span says so.
    let server = only(&exported, "GET /echo");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    // Without `with_attribution_baggage`, the ids stay in this service.
    assert_eq!(baggage, "");
    assert_eq!(
        attr(client, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(
        str_attr(client, "server.address").as_deref(),
        Some("127.0.0.1")
    );
}

#[test]
fn the_request_ids_go_out_as_baggage_over_what_the_caller_sent() {
    let ((_, baggage), _) = echoed(
        PropagateContext::new().with_attribution_baggage(),
        Some("tenant.id=mallory,session.id=s-9"),
    );
    let baggage = baggage_map(&baggage);
    assert_eq!(baggage["tenant.id"], "acme");
    assert_eq!(baggage["feature.id"], "ask");
    assert_eq!(baggage["request.id"], "req-1");
    // What the caller sent and this service did not override goes on, as W3C Baggage says.
    assert_eq!(baggage["session.id"], "s-9");
}

#[test]
fn the_client_span_exports_no_secret_of_the_url_and_fails_on_a_refused_connection() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("an address");
    let (result, exported) = serve(AiLayer::builder(), async move |address| {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(PropagateContext::new())
            .build();
        let with_secrets = address.replace("http://", "http://user:hunter2@");
        let status = client
            .post(format!("{with_secrets}/embed?api_key=sk-secret#frag"))
            .send()
            .await
            .expect("the service answers")
            .status();
        let refused = client.get(format!("http://{closed}/embed")).send().await;
        (status, refused.is_err())
    });
    assert_eq!(result, (reqwest::StatusCode::OK, true));
    let clients: Vec<&SpanData> = exported
        .spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2);
    let url = str_attr(clients[0], "url.full")
        .expect("url.full")
        .into_owned();
    assert!(
        url.ends_with("/embed") && url.starts_with("http://127.0.0.1:"),
        "{url}"
    );
    for span in &exported.spans {
        for kv in &span.attributes {
            let value = kv.value.as_str();
            assert!(
                !value.contains("hunter2") && !value.contains("sk-secret"),
                "`{}` exports {value}",
                kv.key
            );
        }
    }
    let refused = clients[1];
    assert!(matches!(refused.status, Status::Error { .. }));
    assert_eq!(str_attr(refused, "error.type").as_deref(), Some("connect"));
}
