//! genai (jeremychone) 0.7: a `ChatResponse` reports its usage. With genai's own `otel`
//! feature, its `chat` spans carry `gen_ai.*` fields: the layer prices and attributes them with
//! no annotation at all.

use genai::chat::ChatResponse;

use crate::{ReportsUsage, Usage};

fn count(tokens: Option<i32>) -> Option<u64> {
    tokens.and_then(|tokens| u64::try_from(tokens).ok())
}

/// Prompt tokens include the cached ones, completion tokens the reasoning ones, as genai
/// normalizes every provider's counts.
impl ReportsUsage for ChatResponse {
    fn usage(&self) -> Option<Usage> {
        let usage = &self.usage;
        let input = count(usage.prompt_tokens);
        let output = count(usage.completion_tokens);
        if input.is_none() && output.is_none() {
            return None;
        }
        let mut counted = Usage::new(input.unwrap_or(0), output.unwrap_or(0))
            .with_response_model(self.provider_model_iden.model_name.to_string());
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
}

mod content {
    //! What a chat sent and answered, as message content (captured only when content capture
    //! is on: see [`crate::content`]). Binary parts (images, files) are left out.

    use genai::chat::{
        ChatMessage, ChatRequest, ChatResponse, ChatRole, MessageContent, StopReason,
    };

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
