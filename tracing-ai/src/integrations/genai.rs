//! genai (jeremychone) 0.7: a `ChatResponse` reports its usage, a `ChatStream`'s events are
//! chunks `#[ai_span(..., stream)]` reads (usage and finish reason from the end event), and
//! `genai::Error` says what kind of failure it is. With genai's own `otel` feature, its `chat`
//! spans carry `gen_ai.*` fields: the layer prices and attributes them with no annotation at
//! all, and under an `#[ai_span]` the call is priced once (see `ai.cost.carried_by`).

use std::borrow::Cow;

use genai::chat::{ChatResponse, ChatStreamEvent, StopReason};

use crate::stream::StreamChunk;
use crate::{ErrorType, ReportsUsage, Usage};

fn count(tokens: Option<i32>) -> Option<u64> {
    tokens.and_then(|tokens| u64::try_from(tokens).ok())
}

/// Prompt tokens include the cached ones, completion tokens the reasoning ones, as genai
/// normalizes every provider's counts.
fn counted(usage: &genai::chat::Usage) -> Option<Usage> {
    let input = count(usage.prompt_tokens);
    let output = count(usage.completion_tokens);
    if input.is_none() && output.is_none() {
        return None;
    }
    let mut counted = Usage::new(input.unwrap_or(0), output.unwrap_or(0));
    if let Some(details) = &usage.prompt_tokens_details {
        if let Some(cached) = count(details.cached_tokens) {
            counted = counted.with_cache_read(cached);
        }
        if let Some(written) = count(details.cache_creation_tokens) {
            counted = counted.with_cache_creation(written);
        }
    }
    if let Some(reasoning) = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|details| count(details.reasoning_tokens))
    {
        counted = counted.with_reasoning(reasoning);
    }
    Some(counted)
}

impl ReportsUsage for ChatResponse {
    fn usage(&self) -> Option<Usage> {
        Some(
            counted(&self.usage)?
                .with_response_model(self.provider_model_iden.model_name.to_string()),
        )
    }
}

/// A chat's options hold its parameters (genai keeps them apart from the `ChatRequest`):
/// name them with `#[ai_span(..., input = request, parameters = options)]`, so that the span
/// says them and a budget reserves the request's `max_tokens` of output.
impl crate::ReportsParameters for genai::chat::ChatOptions {
    fn request_parameters(&self) -> crate::RequestParameters {
        crate::RequestParameters {
            temperature: self.temperature,
            max_tokens: self.max_tokens.map(u64::from),
            top_p: self.top_p,
            stop_sequences: self.stop_sequences.clone(),
            ..Default::default()
        }
    }
}

/// The conventions' finish reason for genai's normalized stop reason.
fn finish_reason(reason: &StopReason) -> &str {
    match reason {
        StopReason::Completed(_) => "stop",
        StopReason::MaxTokens(_) => "length",
        StopReason::ToolCall(_) => "tool_calls",
        StopReason::ContentFilter(_) => "content_filter",
        StopReason::StopSequence(_) => "stop",
        StopReason::Other(raw) => raw,
    }
}

/// The events of a `ChatStream` (`Client::exec_chat_stream`). The usage is on the end event,
/// when the request asks for it (`ChatOptions::with_capture_usage(true)`); only the answer's
/// own events (text, reasoning, tool calls) count as chunks and start the time to the first
/// chunk: genai's `Start` event comes before the model has said anything, and `End` and
/// heartbeats carry no answer.
impl StreamChunk for ChatStreamEvent {
    fn usage(&self) -> Option<Usage> {
        match self {
            ChatStreamEvent::End(end) => counted(end.captured_usage.as_ref()?),
            _ => None,
        }
    }

    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        match self {
            ChatStreamEvent::End(end) => end
                .captured_stop_reason
                .as_ref()
                .map(|reason| Cow::Borrowed(finish_reason(reason))),
            _ => None,
        }
    }

    fn response_id(&self) -> Option<Cow<'_, str>> {
        match self {
            ChatStreamEvent::End(end) => end.captured_response_id.as_deref().map(Cow::Borrowed),
            _ => None,
        }
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        match self {
            ChatStreamEvent::Chunk(chunk) => Some(Cow::Borrowed(chunk.content.as_str())),
            _ => None,
        }
    }

    fn is_content(&self) -> bool {
        matches!(
            self,
            ChatStreamEvent::Chunk(_)
                | ChatStreamEvent::ReasoningChunk(_)
                | ChatStreamEvent::ToolCallChunk(_)
        )
    }
}

/// The provider's HTTP status (`429`, `500`, ...) when it answered with one; else `timeout`,
/// `connection_error`, `stream_error`, `invalid_response`, `auth_error`, `invalid_request` or
/// `unsupported`, and `genai_error` for the rest.
impl ErrorType for genai::Error {
    fn error_type(&self) -> Cow<'static, str> {
        use genai::Error;
        if let Some(status) = self.status() {
            return status.as_u16().to_string().into();
        }
        match self {
            Error::WebModelCall { webc_error, .. } | Error::WebAdapterCall { webc_error, .. } => {
                match webc_error {
                    genai::webc::Error::Reqwest(error) if error.is_timeout() => "timeout".into(),
                    genai::webc::Error::Reqwest(error) if error.is_connect() => {
                        "connection_error".into()
                    }
                    genai::webc::Error::Reqwest(_) => "http_error".into(),
                    _ => "invalid_response".into(),
                }
            }
            Error::StreamParse { .. } | Error::WebStream { .. } | Error::ChatResponse { .. } => {
                "stream_error".into()
            }
            Error::NoChatResponse { .. }
            | Error::InvalidJsonResponseElement { .. }
            | Error::ChatResponseGeneration { .. }
            | Error::SerdeJson(_)
            | Error::JsonValueExt(_) => "invalid_response".into(),
            Error::RequiresApiKey { .. }
            | Error::NoAuthResolver { .. }
            | Error::NoAuthData { .. } => "auth_error".into(),
            Error::ChatReqHasNoMessages { .. }
            | Error::LastChatMessageIsNotUser { .. }
            | Error::MessageRoleNotSupported { .. }
            | Error::MessageContentTypeNotSupported { .. }
            | Error::JsonModeWithoutInstruction => "invalid_request".into(),
            Error::AdapterNotSupported { .. } => "unsupported".into(),
            _ => "genai_error".into(),
        }
    }
}

mod content {
    //! What a chat sent and answered, as message content (captured only when content capture
    //! is on: see [`crate::content`]). Binary parts (images, files) are left out.

    use genai::chat::{ChatMessage, ChatRequest, ChatResponse, ChatRole, MessageContent};

    use super::finish_reason;
    use crate::content::{InputContent, Message, Part, ReportsContent};

    fn parts(content: &MessageContent) -> Vec<Part> {
        let mut parts: Vec<Part> = content
            .texts()
            .into_iter()
            .map(|text| Part::text(text.to_owned()))
            .collect();
        parts.extend(content.tool_calls().into_iter().map(|call| {
            Part::tool_call(
                Some(&call.call_id),
                call.fn_name.clone(),
                &call.fn_arguments.to_string(),
            )
        }));
        parts.extend(
            content.tool_responses().into_iter().map(|response| {
                Part::tool_call_response(Some(&response.call_id), &response.content)
            }),
        );
        parts
    }

    fn message(message: &ChatMessage) -> Message {
        let role = match message.role {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        };
        Message::new(role, parts(&message.content))
    }

    impl InputContent for ChatRequest {
        fn input_messages(&self) -> Vec<Message> {
            self.messages.iter().map(message).collect()
        }

        fn system_instructions(&self) -> Vec<Part> {
            self.system
                .iter()
                .map(|system| Part::text(system.clone()))
                .collect()
        }
    }

    impl ReportsContent for ChatResponse {
        fn output_messages(&self) -> Vec<Message> {
            let mut parts = Vec::new();
            if let Some(reasoning) = self.reasoning_content.as_ref().filter(|r| !r.is_empty()) {
                parts.push(Part::Reasoning(reasoning.clone()));
            }
            parts.extend(super::content::parts(&self.content));
            let message = Message::assistant(parts);
            match &self.stop_reason {
                Some(reason) => vec![message.with_finish_reason(finish_reason(reason))],
                None => vec![message],
            }
        }
    }
}
