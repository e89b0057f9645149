//! The Responses API: a response reports its usage, with its web search calls; the events of a
//! streamed one report the same from the last, which carries the whole response.

use std::borrow::Cow;

use async_openai::types::responses::{OutputItem, Response, ResponseStreamEvent};

use super::api_name;
use crate::stream::StreamChunk;
use crate::{ReportsUsage, Usage};

/// A response of the Responses API: input tokens include the cached ones, output tokens the
/// reasoning ones; each `web_search_call` it output is a web search, billed per call.
impl ReportsUsage for Response {
    fn usage(&self) -> Option<Usage> {
        let usage = self.usage.as_ref()?;
        let mut counted = Usage::new(usage.input_tokens.into(), usage.output_tokens.into())
            .with_cache_read(usage.input_tokens_details.cached_tokens.into())
            .with_reasoning(usage.output_tokens_details.reasoning_tokens.into())
            .with_response_model(self.model.clone())
            .with_response_id(self.id.clone());
        if let Some(tier) = self.service_tier.as_ref().and_then(api_name) {
            counted = counted.with_service_tier(tier);
        }
        if let Some(written) = usage
            .input_tokens_details
            .cache_write_tokens
            .and_then(|tokens| u64::try_from(tokens).ok())
        {
            counted = counted.with_cache_creation(written);
        }
        let searches = self
            .output
            .iter()
            .filter(|item| matches!(item, OutputItem::WebSearchCall(_)))
            .count();
        if searches > 0 {
            counted = counted.with_web_searches(searches as u64);
        }
        Some(counted)
    }
}

/// The events of a streamed Responses API answer. The last one (`response.completed`, or
/// `response.incomplete`, `response.failed`) carries the whole response: its usage and its web
/// search calls, read as [`Response`]'s are. The text arrives in `response.output_text.delta`
/// events.
impl StreamChunk for ResponseStreamEvent {
    fn usage(&self) -> Option<Usage> {
        match self {
            ResponseStreamEvent::ResponseCompleted(event) => event.response.usage(),
            ResponseStreamEvent::ResponseIncomplete(event) => event.response.usage(),
            ResponseStreamEvent::ResponseFailed(event) => event.response.usage(),
            _ => None,
        }
    }

    fn response_model(&self) -> Option<Cow<'_, str>> {
        let response = streamed_response(self)?;
        Some(Cow::Borrowed(response.model.as_str())).filter(|model| !model.is_empty())
    }

    fn response_id(&self) -> Option<Cow<'_, str>> {
        let response = streamed_response(self)?;
        Some(Cow::Borrowed(response.id.as_str())).filter(|id| !id.is_empty())
    }

    /// `stop` for a completed answer; for an incomplete one, its reason (`length` for the
    /// output limit, as chat completions say it).
    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        match self {
            ResponseStreamEvent::ResponseCompleted(_) => Some(Cow::Borrowed("stop")),
            ResponseStreamEvent::ResponseIncomplete(event) => {
                let reason = event.response.incomplete_details.as_ref()?.reason.as_str();
                Some(Cow::Borrowed(match reason {
                    "max_output_tokens" => "length",
                    other => other,
                }))
            }
            _ => None,
        }
    }

    /// A failed response says its error code (`rate_limit_exceeded`, `server_error`, ...); an
    /// `error` event its code, else `stream_error`, as a broken stream does.
    fn failure(&self) -> Option<(Cow<'static, str>, Option<String>)> {
        match self {
            ResponseStreamEvent::ResponseFailed(event) => {
                let error = event.response.error.as_ref();
                let code = error
                    .and_then(|error| api_name(&error.code))
                    .map_or(Cow::Borrowed("response_failed"), Cow::Owned);
                Some((code, error.map(|error| error.message.clone())))
            }
            ResponseStreamEvent::ResponseError(event) => {
                let code = event
                    .code
                    .clone()
                    .filter(|code| !code.is_empty())
                    .map_or(Cow::Borrowed("stream_error"), Cow::Owned);
                Some((code, Some(event.message.clone())))
            }
            _ => None,
        }
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        match self {
            ResponseStreamEvent::ResponseOutputTextDelta(event) => {
                Some(Cow::Borrowed(event.delta.as_str()))
            }
            _ => None,
        }
    }
}

/// The response an event of a streamed answer carries, for those that carry one.
fn streamed_response(event: &ResponseStreamEvent) -> Option<&Response> {
    match event {
        ResponseStreamEvent::ResponseCreated(event) => Some(&event.response),
        ResponseStreamEvent::ResponseInProgress(event) => Some(&event.response),
        ResponseStreamEvent::ResponseCompleted(event) => Some(&event.response),
        ResponseStreamEvent::ResponseIncomplete(event) => Some(&event.response),
        ResponseStreamEvent::ResponseFailed(event) => Some(&event.response),
        _ => None,
    }
}
