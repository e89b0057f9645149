//! Streamed calls (issue 11): the span lasts as long as the stream, with time to first chunk,
//! the usage of the last chunk and its cost; a stream dropped early is marked and never free;
//! an error chunk fails the call.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use tokio_stream::StreamExt as _;
use tracing::field::Empty;
use tracing_ai::stream::{instrument_stream, StreamChunk};
use tracing_ai::{AiLayer, ErrorType, Usage};
use tracing_ai_tests::metrics::points;
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};
use tracing_ai_tests::Delta;

#[derive(Debug)]
struct RateLimited;

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("429 rate limit exceeded")
    }
}

impl ErrorType for RateLimited {
    fn error_type(&self) -> Cow<'static, str> {
        "rate_limit_exceeded".into()
    }
}

/// Yields its items one `delay` apart, as a model streams tokens.
struct Paced<T> {
    items: VecDeque<T>,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Paced<T> {
    fn new(items: impl IntoIterator<Item = T>, delay: Duration) -> Self {
        Self {
            items: items.into_iter().collect(),
            delay,
            sleep: None,
        }
    }
}

impl<T: Unpin> futures_core::Stream for Paced<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.items.is_empty() {
            return Poll::Ready(None);
        }
        let delay = self.delay;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        Poll::Ready(self.items.pop_front())
    }
}

fn call_span() -> tracing::Span {
    tracing::info_span!(
        "chat gpt-4o-mini",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.request.stream = Empty,
        gen_ai.response.time_to_first_chunk = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
        ai.stream.chunks = Empty,
        ai.stream.cancelled = Empty,
    )
}

/// Five chunks, 30 ms apart; the last reports the usage of the example.
fn deltas() -> Vec<Delta> {
    let mut deltas = vec![
        Delta {
            usage: None,
            finish_reason: None,
        };
        5
    ];
    deltas[4] = Delta {
        usage: Some(Usage::new(1_850, 120).with_cache_read(1_536)),
        finish_reason: Some("stop"),
    };
    deltas
}

fn seconds(span: &SpanData) -> f64 {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_else(|_| panic!("`{}` ends after it starts", span.name));
    duration.as_secs_f64()
}

#[test]
fn a_streamed_call_lasts_as_long_as_its_stream_and_is_priced_from_its_last_chunk() {
    let (meters, meters_out) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder().with_meter(meters.meter("test"));
    let (streamed, exported) = export_with(layer, || {
        tracing_ai_tests::block_on(async {
            let started = Instant::now();
            let mut stream =
                instrument_stream(Paced::new(deltas(), Duration::from_millis(30)), call_span());
            let mut chunks = 0;
            while stream.next().await.is_some() {
                chunks += 1;
            }
            assert_eq!(chunks, 5);
            let streamed = started.elapsed();
            // The consumer keeps the ended stream a while: the span must not wait for it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(stream);
            streamed
        })
    });
    meters.force_flush().expect("metrics flush");
    let call = exported.span("chat gpt-4o-mini");
    let (span, stream) = (seconds(call), streamed.as_secs_f64());
    assert!(
        (span - stream).abs() <= 0.05 * stream + 0.015,
        "the span lasted {span} s, the stream {stream} s"
    );
    let first = f64_attr(call, "gen_ai.response.time_to_first_chunk");
    assert!((0.025..stream / 2.0).contains(&first), "{first}");
    assert_eq!(attr(call, "gen_ai.request.stream"), Some(&true.into()));
    assert_eq!(attr(call, "ai.stream.chunks"), Some(&5_i64.into()));
    assert_eq!(attr(call, "ai.stream.cancelled"), None);
    assert_eq!(
        attr(call, "gen_ai.response.finish_reasons"),
        Some(&opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["stop".into()]
        )))
    );
    assert_eq!(
        attr(call, "gen_ai.usage.input_tokens"),
        Some(&1_850_i64.into())
    );
    assert_eq!(
        attr(call, "gen_ai.usage.cache_read.input_tokens"),
        Some(&1_536_i64.into())
    );
    // gpt-4o-mini: 314 uncached at $0.15 / M, 1,536 cached at $0.075 / M, 120 out at $0.60 / M.
    assert!((f64_attr(call, "gen_ai.usage.cost") - 0.0002343).abs() < 1e-12);

    let first_chunk = points(&meters_out, "gen_ai.client.inference.time_to_first_chunk");
    let (sum, count) = first_chunk.values().next().copied().expect("a point");
    assert_eq!(count, 1);
    assert!((sum - first).abs() < 1e-9);
    let per_chunk = points(&meters_out, "gen_ai.client.inference.time_per_output_chunk");
    let (per_chunk, count) = per_chunk.values().next().copied().expect("a point");
    assert_eq!(count, 1);
    assert!((0.02..0.06).contains(&per_chunk), "{per_chunk}");
}

#[test]
fn a_stream_dropped_early_is_marked_and_not_free() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let mut stream =
                instrument_stream(Paced::new(deltas(), Duration::from_millis(5)), call_span());
            stream.next().await;
            stream.next().await;
        })
    });
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(attr(call, "ai.stream.cancelled"), Some(&true.into()));
    assert_eq!(attr(call, "ai.stream.chunks"), Some(&2_i64.into()));
    assert_eq!(attr(call, "gen_ai.usage.cost"), None);
    let reason = str_attr(call, "ai.cost.unpriced").expect("unpriced, not free");
    assert!(
        reason.contains("cancelled before the provider reported usage"),
        "{reason}"
    );
}

#[test]
fn an_error_chunk_fails_the_call() {
    let chunks: Vec<Result<Delta, RateLimited>> = vec![
        Ok(Delta {
            usage: None,
            finish_reason: None,
        }),
        Err(RateLimited),
    ];
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let mut stream =
                instrument_stream(Paced::new(chunks, Duration::from_millis(1)), call_span());
            while stream.next().await.is_some() {}
        })
    });
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(
        str_attr(call, "error.type").as_deref(),
        Some("rate_limit_exceeded")
    );
    assert!(
        matches!(call.status, Status::Error { .. }),
        "{:?}",
        call.status
    );
}

// ===== `#[ai_span(stream)]` =====

type ChatStream = Pin<Box<dyn futures_core::Stream<Item = Result<Delta, RateLimited>> + Send>>;

/// The shape of async-openai's `create_stream`: a `Result` of a boxed stream of `Result`s.
#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn boxed_stream(fail: bool) -> Result<ChatStream, RateLimited> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    if fail {
        return Err(RateLimited);
    }
    let chunks = deltas().into_iter().map(Ok);
    Ok(Box::pin(Paced::new(chunks, Duration::from_millis(20))))
}

#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn opaque_stream() -> impl futures_core::Stream<Item = Delta> {
    Paced::new(deltas(), Duration::from_millis(20))
}

#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
fn sync_opaque_result() -> Result<impl futures_core::Stream<Item = Delta>, RateLimited> {
    Ok(Paced::new(deltas(), Duration::from_millis(20)))
}

async fn consume<S: futures_core::Stream + Unpin>(mut stream: S) -> Duration {
    let started = Instant::now();
    while stream.next().await.is_some() {}
    started.elapsed()
}

/// The call's span lasts its stream (within 5%: the span also covers sending the request),
/// and carries what the stream reported.
fn assert_streamed_call(span: &SpanData, streamed: Duration) {
    let (call, stream) = (seconds(span), streamed.as_secs_f64());
    assert!(
        (call - stream).abs() <= 0.05 * stream + 0.015,
        "`{}` lasted {call} s, its stream {stream} s",
        span.name,
    );
    assert_eq!(attr(span, "gen_ai.request.stream"), Some(&true.into()));
    assert_eq!(attr(span, "ai.stream.chunks"), Some(&5_i64.into()));
    assert!(f64_attr(span, "gen_ai.response.time_to_first_chunk") > 0.0);
    assert!((f64_attr(span, "gen_ai.usage.cost") - 0.0002343).abs() < 1e-12);
}

#[test]
fn the_attribute_keeps_the_span_open_for_every_shape_of_stream() {
    let (streamed, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let boxed = boxed_stream(false).await.expect("a stream");
            let boxed = consume(boxed).await;
            let opaque = consume(Box::pin(opaque_stream().await)).await;
            let sync = consume(Box::pin(sync_opaque_result().expect("a stream"))).await;
            [boxed, opaque, sync]
        })
    });
    let calls = exported.spans_named("chat gpt-4o-mini");
    assert_eq!(calls.len(), 3);
    for (call, streamed) in calls.into_iter().zip(streamed) {
        // Five chunks 20 ms apart: the call lasts the whole stream.
        assert!(streamed >= Duration::from_millis(100), "{streamed:?}");
        assert_streamed_call(call, streamed);
    }
}

#[test]
fn the_attribute_records_a_stream_that_could_not_start_as_an_error() {
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            assert!(boxed_stream(true).await.is_err());
        })
    });
    let call = exported.span("chat gpt-4o-mini");
    assert_eq!(
        str_attr(call, "error.type").as_deref(),
        Some("rate_limit_exceeded")
    );
    assert!(matches!(call.status, Status::Error { .. }));
}

/// A text chunk of an answer, with the usage on the last one.
#[derive(Clone, Debug)]
struct Text {
    text: &'static str,
    last: bool,
}

impl StreamChunk for Text {
    fn usage(&self) -> Option<Usage> {
        self.last.then(|| Usage::new(20, 4))
    }

    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        self.last.then_some(Cow::Borrowed("stop"))
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.text))
    }
}

fn answer(texts: &[&'static str]) -> Vec<Text> {
    texts
        .iter()
        .enumerate()
        .map(|(index, text)| Text {
            text,
            last: index + 1 == texts.len(),
        })
        .collect()
}

fn stream_to_the_end(builder: tracing_ai::AiLayerBuilder, chunks: Vec<Text>) -> SpanData {
    let (_, exported) = export_with(builder, || {
        tracing_ai_tests::block_on(async {
            let mut stream =
                instrument_stream(Paced::new(chunks, Duration::from_millis(1)), call_span());
            while stream.next().await.is_some() {}
        })
    });
    exported.span("chat gpt-4o-mini").clone()
}

#[test]
fn a_streamed_answer_is_captured_whole_only_when_content_is_on() {
    use tracing_ai::content::ContentCapture;

    let chunks = answer(&["Spans ", "nest; ", "mail ops@example.com."]);
    let span = stream_to_the_end(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        chunks.clone(),
    );
    let output: serde_json::Value = serde_json::from_str(
        &str_attr(&span, "gen_ai.output.messages").expect("the answer, captured"),
    )
    .expect("JSON");
    assert_eq!(
        output,
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "Spans nest; mail [REDACTED]."}],
            "finish_reason": "stop",
        }])
    );
    assert_eq!(
        attr(&span, "gen_ai.usage.output_tokens"),
        Some(&4_i64.into())
    );

    let span = stream_to_the_end(AiLayer::builder(), chunks);
    assert_eq!(attr(&span, "gen_ai.output.messages"), None);
}

#[test]
fn a_streamed_answer_past_the_cap_is_kept_to_the_cap_and_marked() {
    use tracing_ai::content::ContentCapture;

    let long: &'static str = Box::leak("word ".repeat(400).into_boxed_str());
    let span = stream_to_the_end(
        AiLayer::builder()
            .with_content_capture(ContentCapture::SpanOnly)
            .with_content_max_bytes(1_000),
        answer(&[long, long, long]),
    );
    let text = str_attr(&span, "gen_ai.output.messages").expect("captured");
    assert!(text.len() <= 1_000, "{}", text.len());
    let output: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let content = output[0]["parts"][0]["content"].as_str().expect("text");
    assert!(content.starts_with("word word"), "{content}");
    assert!(content.ends_with("…[truncated]"), "{content}");
    assert_eq!(attr(&span, "ai.content.truncated"), Some(&true.into()));
}
