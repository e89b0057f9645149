//! Streamed calls: a stream that keeps its call's span open until it ends, and records what
//! its chunks report.
//!
//! A chat product streams: the call is not over when the function that sends the request
//! returns, but when its stream has yielded its last chunk. [`instrument_stream`] wraps the
//! stream so that the call's span
//!
//! - lives until the stream ends, fails or is dropped, and is entered on every poll
//!   (tracing-opentelemetry ends a span at its last exit: without this, a 94 ms stream was
//!   exported as a 1.4 ms call);
//! - records `gen_ai.request.stream = true`, `gen_ai.response.time_to_first_chunk` (seconds
//!   from the request to the first chunk) and `ai.stream.chunks`;
//! - records the usage of the chunk that reports it (the last one, with OpenAI's
//!   `stream_options.include_usage`), and the finish reasons;
//! - records an error chunk as the call's error;
//! - marks a stream dropped before its end with `ai.stream.cancelled = true`: its call is
//!   priced from the usage reported so far or, when none was, exported with
//!   `ai.cost.unpriced` saying it was cancelled before the provider reported usage (never as
//!   free), and keeps the response model and id its chunks carried
//!   ([`StreamChunk::response_model`], [`StreamChunk::response_id`]).
//!
//! The span must declare those fields, as every `#[ai_span]` span does; a span written by
//! hand declares them `Empty`:
//!
//! ```
//! use std::borrow::Cow;
//! use tracing::field::Empty;
//! use tracing_ai::stream::{instrument_stream, StreamChunk};
//! use tracing_ai::Usage;
//!
//! /// One server-sent event of a chat stream.
//! struct Delta {
//!     text: String,
//!     usage: Option<Usage>,
//!     finish_reason: Option<String>,
//! }
//!
//! impl StreamChunk for Delta {
//!     fn usage(&self) -> Option<Usage> {
//!         self.usage.clone()
//!     }
//!     fn finish_reason(&self) -> Option<Cow<'_, str>> {
//!         self.finish_reason.as_deref().map(Cow::Borrowed)
//!     }
//! }
//!
//! fn chat_stream(
//!     deltas: impl futures_core::Stream<Item = Delta>,
//! ) -> impl futures_core::Stream<Item = Delta> {
//!     let span = tracing::info_span!(
//!         "chat gpt-4o-mini",
//!         gen_ai.operation.name = "chat",
//!         gen_ai.provider.name = "openai",
//!         gen_ai.request.model = "gpt-4o-mini",
//!         gen_ai.request.stream = Empty,
//!         gen_ai.response.time_to_first_chunk = Empty,
//!         gen_ai.usage.input_tokens = Empty,
//!         gen_ai.usage.output_tokens = Empty,
//!         ai.stream.chunks = Empty,
//!         ai.stream.cancelled = Empty,
//!     );
//!     instrument_stream(deltas, span)
//! }
//! # let _ = chat_stream(EmptyStream);
//! # struct EmptyStream;
//! # impl futures_core::Stream for EmptyStream {
//! #     type Item = Delta;
//! #     fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>)
//! #         -> std::task::Poll<Option<Delta>> { std::task::Poll::Ready(None) }
//! # }
//! ```
//!
//! `gen_ai.response.finish_reasons` is written straight onto the OpenTelemetry span, as the
//! string array the conventions say it is (a `tracing` field holds no list); it needs no
//! field.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Span;

/// The `Stream` trait of `futures-core`, which every async runtime's streams implement.
pub use futures_core::Stream;

use crate::attr;
use crate::error_type::ErrorType;
use crate::usage::Usage;

/// What a chunk of a streamed response says about its call. Every method has a default that
/// says nothing, so a chunk type implements only what it carries.
// The first hint names only the features that are off: a feature that is on already reads its
// crate's chunks, and a chunk of another crate cannot be given an impl (the orphan rule).
#[cfg_attr(
    all(feature = "async-openai", feature = "genai"),
    diagnostic::on_unimplemented(
        message = "`{Self}` is not a chunk `#[ai_span(..., stream)]` can read",
        label = "the stream yields this",
        note = "if `{Self}` is your own type, implement `tracing_ai::stream::StreamChunk` for it: \
                its usage, finish reason and response model, each optional",
        note = "if it is another crate's, map the stream's items into a newtype of yours that \
                implements it (guide: `tracing_ai::guides::streams`)"
    )
)]
#[cfg_attr(
    all(feature = "async-openai", not(feature = "genai")),
    diagnostic::on_unimplemented(
        message = "`{Self}` is not a chunk `#[ai_span(..., stream)]` can read",
        label = "the stream yields this",
        note = "if `{Self}` is genai's `ChatStreamEvent`, enable tracing-ai's cargo feature `genai`",
        note = "if it is your own type, implement `tracing_ai::stream::StreamChunk` for it; if it \
                is another crate's, map the stream's items into a newtype of yours that \
                implements it (guide: `tracing_ai::guides::streams`)"
    )
)]
#[cfg_attr(
    all(not(feature = "async-openai"), feature = "genai"),
    diagnostic::on_unimplemented(
        message = "`{Self}` is not a chunk `#[ai_span(..., stream)]` can read",
        label = "the stream yields this",
        note = "if `{Self}` is async-openai's `CreateChatCompletionStreamResponse`, enable \
                tracing-ai's cargo feature `async-openai`",
        note = "if it is your own type, implement `tracing_ai::stream::StreamChunk` for it; if it \
                is another crate's, map the stream's items into a newtype of yours that \
                implements it (guide: `tracing_ai::guides::streams`)"
    )
)]
#[cfg_attr(
    not(any(feature = "async-openai", feature = "genai")),
    diagnostic::on_unimplemented(
        message = "`{Self}` is not a chunk `#[ai_span(..., stream)]` can read",
        label = "the stream yields this",
        note = "if `{Self}` is a stream chunk of async-openai or genai, enable tracing-ai's cargo \
                feature of that name: `tracing-ai = {{ version = \"0.1\", features = \
                [\"genai\"] }}`",
        note = "if it is your own type, implement `tracing_ai::stream::StreamChunk` for it; if it \
                is another crate's, map the stream's items into a newtype of yours that \
                implements it (guide: `tracing_ai::guides::streams`)"
    )
)]
pub trait StreamChunk {
    /// The call's token usage, on the chunk that reports it (usually the last). When several
    /// chunks report usage, the last one wins.
    fn usage(&self) -> Option<Usage> {
        None
    }

    /// Why the model stopped, on the chunk that says so.
    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// The call failed: this chunk is the error, as `(error.type, message)`.
    fn failure(&self) -> Option<(Cow<'static, str>, Option<String>)> {
        None
    }

    /// The model that answers, when the chunk names it (OpenAI's chunks all do): kept from
    /// the first chunk that does, so that a stream dropped before its usage still says which
    /// model it was talking to.
    fn response_model(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// The provider's id of the response, when the chunk carries it; kept as the model is.
    fn response_id(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// The text this chunk adds to the model's answer. Read only when message content is
    /// captured ([`content`](crate::content)): the answer, put together, becomes
    /// `gen_ai.output.messages`.
    fn text_delta(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// Whether this chunk is part of the answer: only such chunks are counted in
    /// `ai.stream.chunks`, and the first of them sets the time to the first chunk. A client's
    /// protocol events (a stream's start before the model said anything, its end, a heartbeat)
    /// say `false`. By default, every chunk is.
    fn is_content(&self) -> bool {
        true
    }
}

/// A text chunk: it carries neither usage nor a finish reason.
impl StreamChunk for String {
    fn text_delta(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

/// A text chunk: it carries neither usage nor a finish reason.
impl StreamChunk for &str {
    fn text_delta(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

/// A chunk that is [`Usage`] itself.
impl StreamChunk for Usage {
    fn usage(&self) -> Option<Usage> {
        Some(self.clone())
    }
}

/// A stream of `Result`s, as client crates return them: an `Err` chunk is the call's error,
/// with the error's [`ErrorType`] as `error.type` and its message as the status description.
impl<T: StreamChunk, E: ErrorType + fmt::Display> StreamChunk for Result<T, E> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().ok().and_then(StreamChunk::usage)
    }

    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        self.as_ref().ok().and_then(StreamChunk::finish_reason)
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        self.as_ref().ok().and_then(StreamChunk::text_delta)
    }

    fn response_model(&self) -> Option<Cow<'_, str>> {
        self.as_ref().ok().and_then(StreamChunk::response_model)
    }

    fn response_id(&self) -> Option<Cow<'_, str>> {
        self.as_ref().ok().and_then(StreamChunk::response_id)
    }

    /// An `Err` chunk is no part of the answer.
    fn is_content(&self) -> bool {
        self.as_ref().is_ok_and(StreamChunk::is_content)
    }

    fn failure(&self) -> Option<(Cow<'static, str>, Option<String>)> {
        match self {
            Ok(chunk) => chunk.failure(),
            Err(error) => Some((error.error_type(), Some(error.to_string()))),
        }
    }
}

/// Wraps `stream` so that `span` stays open until the stream ends (or fails, or is dropped),
/// entered on every poll, and records what the chunks report; see the [module](self).
///
/// The time to the first chunk is counted from this call: call it as soon as the request is
/// sent, or set the start with [`InstrumentedStream::started_at`].
pub fn instrument_stream<S>(stream: S, span: Span) -> InstrumentedStream<S>
where
    S: Stream,
    S::Item: StreamChunk,
{
    span.record(attr::GEN_AI_REQUEST_STREAM, true);
    let answer = crate::record::content::settings_of(&span).map(|settings| Answer {
        settings,
        text: String::new(),
        cut: false,
    });
    InstrumentedStream {
        inner: stream,
        call: StreamedCall {
            span,
            started: Instant::now(),
            chunks: 0,
            usage: None,
            finish_reasons: Vec::new(),
            response_model: None,
            response_id: None,
            answer,
            ended: false,
        },
    }
}

pin_project_lite::pin_project! {
    /// A stream whose call's span stays open until it ends; made by [`instrument_stream`].
    pub struct InstrumentedStream<S> {
        #[pin]
        inner: S,
        call: StreamedCall,
    }
}

impl<S> fmt::Debug for InstrumentedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedStream")
            .field("span", &self.call.span)
            .field("chunks", &self.call.chunks)
            .field("ended", &self.call.ended)
            .finish_non_exhaustive()
    }
}

impl<S> InstrumentedStream<S> {
    /// Counts the time to the first chunk from `started` (when the request was sent) rather
    /// than from the wrapping.
    #[must_use]
    pub fn started_at(mut self, started: Instant) -> Self {
        self.call.started = started;
        self
    }

    /// The call's span.
    pub fn span(&self) -> &Span {
        &self.call.span
    }
}

impl<S> Stream for InstrumentedStream<S>
where
    S: Stream,
    S::Item: StreamChunk,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let call = this.call;
        if call.ended {
            return this.inner.poll_next(cx);
        }
        let polled = {
            let _entered = call.span.enter();
            this.inner.poll_next(cx)
        };
        match &polled {
            Poll::Ready(Some(chunk)) => call.observe(chunk),
            Poll::Ready(None) => call.end(false),
            Poll::Pending => {}
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// What a stream's chunks said so far; it ends the span when the stream ends or is dropped.
struct StreamedCall {
    span: Span,
    started: Instant,
    chunks: u64,
    usage: Option<Usage>,
    finish_reasons: Vec<String>,
    /// The response model and id the chunks named, first seen.
    response_model: Option<String>,
    response_id: Option<String>,
    /// The answer's text so far, when message content is captured.
    answer: Option<Answer>,
    ended: bool,
}

/// A streamed answer put together for content capture, no longer than its cap allows: the
/// text past it would be cut anyway, so it is not kept.
struct Answer {
    settings: std::sync::Arc<crate::content::ContentSettings>,
    text: String,
    cut: bool,
}

impl Answer {
    fn push(&mut self, delta: &str) {
        let room = self.settings.max_bytes.saturating_sub(self.text.len());
        if delta.len() <= room {
            self.text.push_str(delta);
            return;
        }
        let mut end = room;
        while !delta.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&delta[..end]);
        self.cut = true;
    }
}

impl StreamedCall {
    fn observe(&mut self, chunk: &impl StreamChunk) {
        if chunk.is_content() {
            self.chunks += 1;
        }
        if self.chunks == 1 && chunk.is_content() {
            let seconds = self.started.elapsed().as_secs_f64();
            self.span
                .record(attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, seconds);
        }
        if let Some(usage) = chunk.usage() {
            self.usage = Some(usage);
        }
        if let Some(reason) = chunk.finish_reason() {
            self.finish_reasons.push(reason.into_owned());
        }
        if self.response_model.is_none() {
            self.response_model = chunk.response_model().map(Cow::into_owned);
        }
        if self.response_id.is_none() {
            self.response_id = chunk.response_id().map(Cow::into_owned);
        }
        if let Some(answer) = self.answer.as_mut().filter(|answer| !answer.cut) {
            if let Some(delta) = chunk.text_delta() {
                answer.push(&delta);
            }
        }
        if let Some((error_type, message)) = chunk.failure() {
            let message = message.as_ref().map(|m| m as &dyn fmt::Display);
            crate::record::record_error(&self.span, &error_type, message, None);
        }
    }

    /// Records what the stream reported, and closes the span (unless a clone of it lives on).
    fn end(&mut self, cancelled: bool) {
        if self.ended {
            return;
        }
        self.ended = true;
        let span = std::mem::replace(&mut self.span, Span::none());
        span.record(
            attr::AI_STREAM_CHUNKS,
            crate::value_set::saturating_i64(self.chunks),
        );
        if cancelled {
            span.record(attr::AI_STREAM_CANCELLED, true);
        }
        if !self.finish_reasons.is_empty() {
            record_finish_reasons(&span, &self.finish_reasons);
        }
        match self.usage.take() {
            Some(mut usage) => {
                // What the chunks said fills what the usage's chunk left out.
                if usage.response_model.is_none() {
                    usage.response_model = self.response_model.take();
                }
                if usage.response_id.is_none() {
                    usage.response_id = self.response_id.take();
                }
                crate::record::record_usage(&span, &usage, None);
            }
            // No usage (a stream cancelled before its last chunk): what the chunks said of
            // the response is still the call's.
            None => {
                if let Some(model) = &self.response_model {
                    span.record(attr::GEN_AI_RESPONSE_MODEL, model.as_str());
                }
                if let Some(id) = &self.response_id {
                    span.record(attr::GEN_AI_RESPONSE_ID, id.as_str());
                }
            }
        }
        if let Some(answer) = self.answer.take() {
            answer.record(&span, self.finish_reasons.last().map(String::as_str));
        }
    }
}

/// Writes `reasons` onto the call's OpenTelemetry span as the string array the conventions
/// say `gen_ai.response.finish_reasons` is (a `tracing` field holds no list).
fn record_finish_reasons(span: &Span, reasons: &[String]) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let reasons = reasons
        .iter()
        .map(|reason| opentelemetry::StringValue::from(reason.clone()))
        .collect();
    span.set_attribute(
        attr::GEN_AI_RESPONSE_FINISH_REASONS,
        opentelemetry::Value::Array(opentelemetry::Array::String(reasons)),
    );
}

impl Answer {
    /// Records the answer as the call's output message.
    fn record(mut self, span: &Span, finish_reason: Option<&str>) {
        if self.cut {
            self.text.push_str(crate::content::TRUNCATED);
        }
        let mut message =
            crate::content::Message::assistant([crate::content::Part::text(self.text)]);
        if let Some(reason) = finish_reason {
            message = message.with_finish_reason(reason);
        }
        crate::record::content::record_output(&self.settings, span, &[message]);
        if self.cut {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            span.set_attribute(attr::AI_CONTENT_TRUNCATED, true);
        }
    }
}

impl Drop for StreamedCall {
    fn drop(&mut self) {
        // Dropped before its end: what was reported is recorded, and the call marked.
        self.end(true);
    }
}
