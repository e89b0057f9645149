//! ollama-rs 0.3: chat and generation responses report their usage (`prompt_eval_count`,
//! `eval_count`); `OllamaError` says what kind of failure it is. A self-hosted model is usually
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
