//! A stream that outlives the handler that returned it (issue 21, item 1): axum drains a
//! response body after the handler's future is done, so the request span's last exit comes
//! before the stream's end. The exported request must still end after its stream, as the
//! console shows it.

use std::time::{Duration, SystemTime};

use tokio_stream::StreamExt as _;
use tracing::Instrument as _;
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::export_with;
use tracing_ai_tests::{block_on, Delta};

/// Five chunks 40 ms apart, the last with the usage: about 200 ms.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat() -> impl futures_core::Stream<Item = Delta> {
    let chunk = |usage: Option<Usage>| Delta {
        usage,
        finish_reason: None,
    };
    let mut chunks = vec![chunk(None); 4];
    chunks.push(chunk(Some(Usage::new(40, 8))));
    tokio_stream::iter(chunks).throttle(Duration::from_millis(40))
}

fn ends(span: &opentelemetry_sdk::trace::SpanData) -> (SystemTime, SystemTime) {
    (span.start_time, span.end_time)
}

#[test]
fn a_request_whose_stream_is_drained_after_its_handler_ends_after_its_stream() {
    let ((), exported) = export_with(AiLayer::builder(), || {
        block_on(async {
            // The handler: it returns the stream, and its span is exited for good.
            let stream = async { chat().await }
                .instrument(tracing::info_span!("req", tenant.id = "acme"))
                .await;
            // The server drains the body outside the handler's span.
            let chunks = Box::pin(stream).collect::<Vec<_>>().await;
            assert_eq!(chunks.len(), 5);
        });
    });
    let (req_start, req_end) = ends(exported.span("req"));
    let (chat_start, chat_end) = ends(exported.span("chat gpt-4o-mini"));
    let chat = chat_end.duration_since(chat_start).expect("ordered");
    assert!(
        chat >= Duration::from_millis(150),
        "the stream lasted {chat:?}"
    );
    assert!(chat_start >= req_start);
    assert!(
        req_end >= chat_end,
        "the request ends {:?} before its stream",
        chat_end.duration_since(req_end).unwrap_or_default()
    );
    // And not later than a moment after it.
    let after = req_end.duration_since(chat_end).expect("ordered");
    assert!(
        after < Duration::from_millis(5),
        "{after:?} after its stream"
    );
}

#[test]
fn the_console_and_the_export_give_a_streaming_request_the_same_duration() {
    let console = tracing_ai_tests::Buffer::default();
    let ((), exported) = tracing_ai_tests::otel::export_with_layer(
        AiLayer::builder(),
        tracing_ai::ConsoleLayer::to_writer(console.clone()),
        || {
            block_on(async {
                let stream = async { chat().await }
                    .instrument(tracing::info_span!("req", tenant.id = "acme"))
                    .await;
                Box::pin(stream).collect::<Vec<_>>().await;
            });
        },
    );
    let text = console.text();
    let shown: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("req  "))
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("the request's line in {text}"));
    let (start, end) = ends(exported.span("req"));
    let exported_ms = end.duration_since(start).expect("ordered").as_secs_f64() * 1_000.0;
    assert!(shown >= 150.0, "{text}");
    assert!(
        (shown - exported_ms).abs() < 5.0,
        "the console shows {shown} ms, the export {exported_ms} ms"
    );
}

#[test]
fn a_dropped_stream_ends_its_request_when_it_is_dropped() {
    let ((), exported) = export_with(AiLayer::builder(), || {
        block_on(async {
            let stream = async { chat().await }
                .instrument(tracing::info_span!("req", tenant.id = "acme"))
                .await;
            let mut stream = Box::pin(stream);
            stream.next().await;
            stream.next().await;
            // The client went away: the body is dropped mid-way.
        });
    });
    let (_, req_end) = ends(exported.span("req"));
    let (_, chat_end) = ends(exported.span("chat gpt-4o-mini"));
    assert!(req_end >= chat_end);
    assert!(req_end.duration_since(chat_end).expect("ordered") < Duration::from_millis(5));
}

/// Serves `app` on 127.0.0.1, GETs `/chat` and reads its body to the end; every span exported.
fn serve_and_read(app: axum::Router) -> tracing_ai_tests::otel::Exported {
    let ((), exported) = export_with(AiLayer::builder(), || {
        block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            let address = listener.local_addr().expect("an address");
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let body = reqwest::get(format!("http://{address}/chat"))
                .await
                .expect("the service answers")
                .text()
                .await
                .expect("the whole body");
            assert_eq!(body.lines().count(), 5, "{body}");
            server.abort();
        });
    });
    exported
}

/// The handler's response: the chat's chunks as lines of the body, drained by axum after the
/// handler returned.
fn streamed_body(
    stream: impl futures_core::Stream<Item = Delta> + Send + 'static,
) -> axum::body::Body {
    axum::body::Body::from_stream(
        stream.map(|_| Ok::<_, std::convert::Infallible>("chunk\n".to_owned())),
    )
}

#[test]
fn an_axum_handler_under_a_plain_request_span_ends_after_the_body_it_streamed() {
    // The README's earlier pattern: a request span entered by `.instrument` around the handler.
    let app = axum::Router::new().route(
        "/chat",
        axum::routing::get(|| {
            async { streamed_body(chat().await) }
                .instrument(tracing::info_span!("req", tenant.id = "acme"))
        }),
    );
    let exported = serve_and_read(app);
    let (_, req_end) = ends(exported.span("req"));
    let (_, chat_end) = ends(exported.span("chat gpt-4o-mini"));
    assert!(req_end >= chat_end, "the request ends before its stream");
    assert!(req_end.duration_since(chat_end).expect("ordered") < Duration::from_millis(5));
}

#[test]
fn an_axum_handler_under_the_server_span_ends_after_the_body_it_streamed() {
    let app = axum::Router::new()
        .route(
            "/chat",
            axum::routing::get(|| async { streamed_body(chat().await) }),
        )
        .layer(tracing_ai::propagation::ServerSpan::layer());
    let exported = serve_and_read(app);
    let (_, server_end) = ends(exported.span("GET /chat"));
    let (_, chat_end) = ends(exported.span("chat gpt-4o-mini"));
    assert!(
        server_end >= chat_end,
        "the server span ends before its stream"
    );
    assert!(server_end.duration_since(chat_end).expect("ordered") < Duration::from_millis(5));
}
