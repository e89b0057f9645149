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
