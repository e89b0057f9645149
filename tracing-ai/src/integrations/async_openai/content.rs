//! What a chat completion request sent and its response said, as message content (captured
//! only when content capture is on: see [`crate::content`]).

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestAssistantMessageContentPart, ChatCompletionRequestDeveloperMessageContent,
    ChatCompletionRequestDeveloperMessageContentPart, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestSystemMessageContentPart,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestToolMessageContentPart,
    ChatCompletionRequestUserMessageContent, ChatCompletionRequestUserMessageContentPart,
    CreateChatCompletionRequest, CreateChatCompletionResponse,
};

use super::finish_reason;
use crate::content::{InputContent, Message, Part, ReportsContent};

fn text(text: &str) -> Vec<Part> {
    vec![Part::text(text)]
}

fn tool_calls(calls: &[ChatCompletionMessageToolCalls]) -> impl Iterator<Item = Part> + '_ {
    calls.iter().map(|call| match call {
        ChatCompletionMessageToolCalls::Function(call) => Part::tool_call(
            Some(&call.id),
            call.function.name.clone(),
            &call.function.arguments,
        ),
        ChatCompletionMessageToolCalls::Custom(call) => Part::tool_call(
            Some(&call.id),
            call.custom_tool.name.clone(),
            &call.custom_tool.input,
        ),
    })
}

/// A request message as the conventions' message. Images, audio and files are left out:
/// the parts kept are text, refusals (as text), tool calls and tool responses.
fn message(message: &ChatCompletionRequestMessage) -> Message {
    match message {
        ChatCompletionRequestMessage::Developer(message) => {
            let parts = match &message.content {
                ChatCompletionRequestDeveloperMessageContent::Text(content) => text(content),
                ChatCompletionRequestDeveloperMessageContent::Array(parts) => parts
                    .iter()
                    .map(
                        |ChatCompletionRequestDeveloperMessageContentPart::Text(part)| {
                            Part::text(part.text.clone())
                        },
                    )
                    .collect(),
            };
            Message::new("developer", parts)
        }
        ChatCompletionRequestMessage::System(message) => {
            let parts = match &message.content {
                ChatCompletionRequestSystemMessageContent::Text(content) => text(content),
                ChatCompletionRequestSystemMessageContent::Array(parts) => parts
                    .iter()
                    .map(
                        |ChatCompletionRequestSystemMessageContentPart::Text(part)| {
                            Part::text(part.text.clone())
                        },
                    )
                    .collect(),
            };
            Message::new("system", parts)
        }
        ChatCompletionRequestMessage::User(message) => {
            let parts = match &message.content {
                ChatCompletionRequestUserMessageContent::Text(content) => text(content),
                ChatCompletionRequestUserMessageContent::Array(parts) => parts
                    .iter()
                    .filter_map(|part| match part {
                        ChatCompletionRequestUserMessageContentPart::Text(part) => {
                            Some(Part::text(part.text.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
            };
            Message::new("user", parts)
        }
        ChatCompletionRequestMessage::Assistant(message) => {
            let mut parts = match &message.content {
                Some(ChatCompletionRequestAssistantMessageContent::Text(content)) => text(content),
                Some(ChatCompletionRequestAssistantMessageContent::Array(parts)) => parts
                    .iter()
                    .map(|part| match part {
                        ChatCompletionRequestAssistantMessageContentPart::Text(part) => {
                            Part::text(part.text.clone())
                        }
                        ChatCompletionRequestAssistantMessageContentPart::Refusal(part) => {
                            Part::text(part.refusal.clone())
                        }
                    })
                    .collect(),
                None => Vec::new(),
            };
            parts.extend(tool_calls(
                message.tool_calls.as_deref().unwrap_or_default(),
            ));
            Message::assistant(parts)
        }
        ChatCompletionRequestMessage::Tool(message) => {
            let response = match &message.content {
                ChatCompletionRequestToolMessageContent::Text(content) => content.clone(),
                ChatCompletionRequestToolMessageContent::Array(parts) => parts
                    .iter()
                    .map(|ChatCompletionRequestToolMessageContentPart::Text(part)| {
                        part.text.as_str()
                    })
                    .collect::<Vec<_>>()
                    .join(""),
            };
            Message::tool_response(Some(&message.tool_call_id), &response)
        }
        ChatCompletionRequestMessage::Function(message) => Message::new(
            "tool",
            [Part::tool_call_response(
                None,
                message.content.as_deref().unwrap_or_default(),
            )],
        )
        .with_name(message.name.clone()),
    }
}

impl InputContent for CreateChatCompletionRequest {
    fn input_messages(&self) -> Vec<Message> {
        self.messages.iter().map(message).collect()
    }
}

impl ReportsContent for CreateChatCompletionResponse {
    fn output_messages(&self) -> Vec<Message> {
        self.choices
            .iter()
            .map(|choice| {
                let reply = &choice.message;
                let mut parts: Vec<Part> = reply
                    .content
                    .iter()
                    .chain(&reply.refusal)
                    .map(|content| Part::text(content.clone()))
                    .collect();
                parts.extend(tool_calls(reply.tool_calls.as_deref().unwrap_or_default()));
                let message = Message::assistant(parts);
                match choice.finish_reason {
                    Some(reason) => message.with_finish_reason(finish_reason(reason)),
                    None => message,
                }
            })
            .collect()
    }
}
