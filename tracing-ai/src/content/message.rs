//! Messages as the GenAI conventions' JSON schemas describe them (`gen_ai.input.messages`,
//! `gen_ai.output.messages`, `gen_ai.system_instructions`), and the traits through which a
//! request or a response says what its messages were.

use serde_json::{json, Map, Value};

/// One message of a conversation with a model: a role and its parts.
///
/// ```
/// use tracing_ai::content::{Message, Part};
///
/// let question = Message::user("What is the weather in Paris?");
/// let answer = Message::assistant([Part::tool_call(
///     Some("call_1"),
///     "get_weather",
///     r#"{"city": "Paris"}"#,
/// )])
/// .with_finish_reason("tool_calls");
/// # let _ = (question, answer);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    role: String,
    parts: Vec<Part>,
    name: Option<String>,
    finish_reason: Option<String>,
}

impl Message {
    /// A message from `role` (`system`, `user`, `assistant`, `tool`, or a provider's own).
    pub fn new(role: impl Into<String>, parts: impl IntoIterator<Item = Part>) -> Self {
        Self {
            role: role.into(),
            parts: parts.into_iter().collect(),
            name: None,
            finish_reason: None,
        }
    }

    /// A user's message of one text part.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new("user", [Part::text(text)])
    }

    /// A system message of one text part (instructions sent as a message).
    pub fn system(text: impl Into<String>) -> Self {
        Self::new("system", [Part::text(text)])
    }

    /// The model's message.
    pub fn assistant(parts: impl IntoIterator<Item = Part>) -> Self {
        Self::new("assistant", parts)
    }

    /// A tool's result sent back to the model.
    pub fn tool_response(id: Option<&str>, response: &str) -> Self {
        Self::new("tool", [Part::tool_call_response(id, response)])
    }

    /// The participant's name (`name`).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Why the model stopped (`finish_reason`, required on output messages): `stop`,
    /// `length`, `tool_calls`, `content_filter`, ...
    #[must_use]
    pub fn with_finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }

    /// The message as the schema's JSON object; `output` adds the `finish_reason` it requires
    /// (`"unknown"` when the model's was not given).
    /// Its parts.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub(crate) fn to_json(&self, output: bool) -> Value {
        let mut object = Map::new();
        object.insert("role".into(), Value::String(self.role.clone()));
        object.insert(
            "parts".into(),
            Value::Array(self.parts.iter().map(Part::to_json).collect()),
        );
        if let Some(name) = &self.name {
            object.insert("name".into(), Value::String(name.clone()));
        }
        if output {
            let reason = self.finish_reason.as_deref().unwrap_or("unknown");
            object.insert("finish_reason".into(), Value::String(reason.into()));
        }
        Value::Object(object)
    }
}

/// A part of a message: text, a tool call and its response, or the model's reasoning.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Part {
    /// Text sent to or received from the model.
    Text(String),
    /// The model asks for a tool to be called. `arguments` is JSON text; text that is not
    /// JSON is exported as a JSON string.
    ToolCall {
        /// The call's id, which its response repeats.
        id: Option<String>,
        /// The tool's name.
        name: String,
        /// The arguments, as JSON text.
        arguments: Option<String>,
    },
    /// A tool's response sent back to the model, as JSON text (or text).
    ToolCallResponse {
        /// The id of the call answered.
        id: Option<String>,
        /// The response.
        response: String,
    },
    /// Reasoning (thinking) content received from the model.
    Reasoning(String),
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text(text.into())
    }

    /// A tool call the model asks for, with its arguments as JSON text.
    pub fn tool_call(id: Option<&str>, name: impl Into<String>, arguments: &str) -> Self {
        Part::ToolCall {
            id: id.map(str::to_owned),
            name: name.into(),
            arguments: Some(arguments.to_owned()),
        }
    }

    /// A tool's response, as JSON text (or text).
    pub fn tool_call_response(id: Option<&str>, response: &str) -> Self {
        Part::ToolCallResponse {
            id: id.map(str::to_owned),
            response: response.to_owned(),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Part::Text(content) => json!({ "type": "text", "content": content }),
            Part::Reasoning(content) => json!({ "type": "reasoning", "content": content }),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                let mut object = Map::new();
                object.insert("type".into(), "tool_call".into());
                if let Some(id) = id {
                    object.insert("id".into(), Value::String(id.clone()));
                }
                object.insert("name".into(), Value::String(name.clone()));
                if let Some(arguments) = arguments {
                    object.insert("arguments".into(), json_or_text(arguments));
                }
                Value::Object(object)
            }
            Part::ToolCallResponse { id, response } => {
                let mut object = Map::new();
                object.insert("type".into(), "tool_call_response".into());
                if let Some(id) = id {
                    object.insert("id".into(), Value::String(id.clone()));
                }
                object.insert("response".into(), json_or_text(response));
                Value::Object(object)
            }
        }
    }
}

/// `text` as the JSON it holds, or as a JSON string when it holds none (or was cut).
pub(crate) fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// What a call's request sent the model: its messages and, apart from them, its system
/// instructions. Implemented for a list of [`Message`]s, for a prompt as text, and for the
/// request types of the client crates behind their features; the `input = ...` argument of
/// `#[ai_span]` takes any of them.
///
/// ```
/// use tracing_ai::content::{InputContent, Message, Part};
///
/// struct Prompt { system: String, question: String }
///
/// impl InputContent for Prompt {
///     fn input_messages(&self) -> Vec<Message> {
///         vec![Message::user(self.question.clone())]
///     }
///     fn system_instructions(&self) -> Vec<Part> {
///         vec![Part::text(self.system.clone())]
///     }
/// }
/// ```
pub trait InputContent {
    /// The messages sent (`gen_ai.input.messages`).
    fn input_messages(&self) -> Vec<Message>;

    /// Instructions sent apart from the messages (`gen_ai.system_instructions`); none by
    /// default.
    fn system_instructions(&self) -> Vec<Part> {
        Vec::new()
    }
}

impl InputContent for [Message] {
    fn input_messages(&self) -> Vec<Message> {
        self.to_vec()
    }
}

impl InputContent for Vec<Message> {
    fn input_messages(&self) -> Vec<Message> {
        self.clone()
    }
}

impl InputContent for str {
    fn input_messages(&self) -> Vec<Message> {
        vec![Message::user(self)]
    }
}

impl InputContent for String {
    fn input_messages(&self) -> Vec<Message> {
        vec![Message::user(self.as_str())]
    }
}

impl<T: InputContent + ?Sized> InputContent for &T {
    fn input_messages(&self) -> Vec<Message> {
        (**self).input_messages()
    }

    fn system_instructions(&self) -> Vec<Part> {
        (**self).system_instructions()
    }
}

/// What a call's response said: the model's messages (`gen_ai.output.messages`).
/// `#[ai_span]` records it from the function's return value (or its `Ok` value) when content
/// capture is on; implemented for the response types of the client crates behind their
/// features.
///
/// ```
/// use tracing_ai::content::{Message, Part, ReportsContent};
///
/// struct Completion { text: String }
///
/// impl ReportsContent for Completion {
///     fn output_messages(&self) -> Vec<Message> {
///         vec![Message::assistant([Part::text(self.text.clone())]).with_finish_reason("stop")]
///     }
/// }
/// ```
pub trait ReportsContent {
    /// The messages the model returned.
    fn output_messages(&self) -> Vec<Message>;
}

impl<T: ReportsContent + ?Sized> ReportsContent for &T {
    fn output_messages(&self) -> Vec<Message> {
        (**self).output_messages()
    }
}

impl<T: ReportsContent, E> ReportsContent for Result<T, E> {
    fn output_messages(&self) -> Vec<Message> {
        self.as_ref()
            .map(ReportsContent::output_messages)
            .unwrap_or_default()
    }
}
