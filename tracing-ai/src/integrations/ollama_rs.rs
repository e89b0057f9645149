//! ollama-rs 0.3: chat and generation responses report their usage (`prompt_eval_count`,
//! `eval_count`), and so do the chunks of its chat stream; `OllamaError` says what kind of
//! failure it is. A self-hosted model is usually
//! priced by GPU time: give it a `ModelPrice::per_gpu_hour` on the layer.

use std::borrow::Cow;

use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::ChatMessageResponse;
use ollama_rs::generation::completion::GenerationResponse;

use crate::{ErrorType, ReportsUsage, Usage};

/// The final answer of a chat carries its counts; a streamed partial one does not.
impl ReportsUsage for ChatMessageResponse {
    fn usage(&self) -> Option<Usage> {
        let counts = self.final_data.as_ref()?;
        Some(
            Usage::new(counts.prompt_eval_count, counts.eval_count)
                .with_response_model(self.model.clone()),
        )
    }
}

impl ReportsUsage for GenerationResponse {
    fn usage(&self) -> Option<Usage> {
        if self.prompt_eval_count.is_none() && self.eval_count.is_none() {
            return None;
        }
        Some(
            Usage::new(
                self.prompt_eval_count.unwrap_or(0),
                self.eval_count.unwrap_or(0),
            )
            .with_response_model(self.model.clone()),
        )
    }
}

/// A chunk of ollama-rs' chat stream (`send_chat_messages_stream`, its `stream` feature):
/// the text of each partial message, and the counts and stop reason of the last (`done`). Its
/// error is `()`: ollama-rs says only that the stream broke, so the call's `error.type` is
/// `stream_error`. Only chunks with text count as chunks: the last one repeats nothing.
impl crate::stream::StreamChunk for Result<ChatMessageResponse, ()> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().ok()?.usage()
    }

    fn response_model(&self) -> Option<Cow<'_, str>> {
        let model = &self.as_ref().ok()?.model;
        (!model.is_empty()).then_some(Cow::Borrowed(model.as_str()))
    }

    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        // ollama-rs 0.3 keeps no `done_reason`: the last chunk stopped the answer.
        self.as_ref()
            .ok()
            .filter(|chunk| chunk.done)
            .map(|_| Cow::Borrowed("stop"))
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        let content = &self.as_ref().ok()?.message.content;
        (!content.is_empty()).then_some(Cow::Borrowed(content.as_str()))
    }

    fn is_content(&self) -> bool {
        self.as_ref()
            .is_ok_and(|chunk| !chunk.message.content.is_empty())
    }

    fn failure(&self) -> Option<(Cow<'static, str>, Option<String>)> {
        self.as_ref().err().map(|()| {
            (
                Cow::Borrowed("stream_error"),
                Some("the stream from Ollama broke".to_owned()),
            )
        })
    }
}

/// `timeout`, `connection_error` or the HTTP status for transport failures,
/// `invalid_response`, `ollama_error` for an error Ollama reported, `tool_call_error`, and
/// `request_failed` for an answer that was not a success (ollama-rs keeps only its text).
impl ErrorType for OllamaError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            OllamaError::ReqwestError(error) if error.is_timeout() => "timeout".into(),
            OllamaError::ReqwestError(error) if error.is_connect() => "connection_error".into(),
            OllamaError::ReqwestError(error) => match error.status() {
                Some(status) => status.as_u16().to_string().into(),
                None => "http_error".into(),
            },
            OllamaError::JsonError(_) => "invalid_response".into(),
            OllamaError::InternalError(_) => "ollama_error".into(),
            OllamaError::ToolCallError(_) => "tool_call_error".into(),
            OllamaError::Other(_) => "request_failed".into(),
        }
    }
}

/// A chat request's options as the request parameters the conventions name. Ollama's
/// options are read as they go on the wire (its `ModelOptions` has no getters):
/// `num_predict` is the most tokens the model may return.
impl crate::ReportsParameters for ollama_rs::generation::chat::request::ChatMessageRequest {
    fn request_parameters(&self) -> crate::RequestParameters {
        let Some(options) = self
            .options
            .as_ref()
            .and_then(|options| serde_json::to_value(options).ok())
        else {
            return crate::RequestParameters::default();
        };
        let float = |key: &str| options.get(key).and_then(serde_json::Value::as_f64);
        let integer = |key: &str| options.get(key).and_then(serde_json::Value::as_i64);
        crate::RequestParameters {
            temperature: float("temperature"),
            top_p: float("top_p"),
            top_k: float("top_k"),
            seed: integer("seed"),
            // Ollama's -1 (no limit) and -2 (fill the context) are no maximum.
            max_tokens: integer("num_predict").and_then(|n| u64::try_from(n).ok()),
            stop_sequences: options
                .get("stop")
                .and_then(serde_json::Value::as_array)
                .map(|stops| {
                    stops
                        .iter()
                        .filter_map(|stop| stop.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            ..Default::default()
        }
    }
}

mod content {
    //! What a chat sent and answered, as message content (captured only when content capture
    //! is on: see [`crate::content`]). Images are left out.

    use ollama_rs::generation::chat::request::ChatMessageRequest;
    use ollama_rs::generation::chat::{ChatMessage, ChatMessageResponse, MessageRole};

    use crate::content::{InputContent, Message, Part, ReportsContent};

    fn message(message: &ChatMessage) -> Message {
        let role = match message.role {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
            MessageRole::System => "system",
            MessageRole::Tool => "tool",
        };
        let mut parts = Vec::new();
        if let Some(thinking) = message.thinking.as_deref().filter(|t| !t.is_empty()) {
            parts.push(Part::Reasoning(thinking.to_owned()));
        }
        if !message.content.is_empty() {
            parts.push(match message.role {
                MessageRole::Tool => Part::tool_call_response(None, &message.content),
                _ => Part::text(message.content.clone()),
            });
        }
        parts.extend(message.tool_calls.iter().map(|call| {
            Part::tool_call(
                None,
                call.function.name.clone(),
                &call.function.arguments.to_string(),
            )
        }));
        Message::new(role, parts)
    }

    impl InputContent for ChatMessageRequest {
        fn input_messages(&self) -> Vec<Message> {
            self.messages.iter().map(message).collect()
        }
    }

    /// The final answer of a chat (a streamed partial one is one chunk of it).
    impl ReportsContent for ChatMessageResponse {
        fn output_messages(&self) -> Vec<Message> {
            let reason = if self.message.tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            vec![message(&self.message).with_finish_reason(reason)]
        }
    }
}
