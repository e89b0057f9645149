//! async-openai 0.43: chat completions, their stream chunks, embeddings, responses and the
//! events of a streamed response report their usage; `OpenAIError` says what kind of failure
//! it is; [`AttemptLayer`] makes each HTTP attempt under its retry layer a span of its own.

use std::borrow::Cow;

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    CompletionUsage, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse, FinishReason, ServiceTier,
};
use async_openai::types::embeddings::CreateEmbeddingResponse;

use crate::stream::StreamChunk;
use crate::{ErrorType, ReportsUsage, Usage};

mod content;
mod responses;

/// A chat completion's usage: cached prompt tokens are part of the prompt tokens, reasoning
/// tokens part of the completion tokens, as in the OpenTelemetry conventions.
fn completion_usage(usage: &CompletionUsage) -> Usage {
    let mut counted = Usage::new(usage.prompt_tokens.into(), usage.completion_tokens.into());
    if let Some(cached) = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|details| details.cached_tokens)
    {
        counted = counted.with_cache_read(cached.into());
    }
    if let Some(reasoning) = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|details| details.reasoning_tokens)
    {
        counted = counted.with_reasoning(reasoning.into());
    }
    // OpenAI counts cached audio among both the cached and the audio tokens without saying
    // how many: audio is priced as audio up to what the cache left, never counted twice.
    if let Some(audio) = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|details| details.audio_tokens)
        .filter(|audio| *audio > 0)
    {
        let cached = counted.cache_read_tokens.unwrap_or(0);
        let uncached = counted.input_tokens.saturating_sub(cached);
        counted = counted.with_audio_input(u64::from(audio).min(uncached));
    }
    if let Some(audio) = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|details| details.audio_tokens)
        .filter(|audio| *audio > 0)
    {
        counted = counted.with_audio_output(audio.into());
    }
    counted
}

impl crate::ReportsParameters for CreateChatCompletionRequest {
    // `max_tokens` and `seed` are deprecated by OpenAI, but still sent by the callers that set
    // them: what was sent is what is recorded.
    #[allow(deprecated)]
    fn request_parameters(&self) -> crate::RequestParameters {
        use async_openai::types::chat::StopConfiguration;
        crate::RequestParameters {
            temperature: self.temperature.map(f64::from),
            // `max_tokens` is deprecated in favour of `max_completion_tokens`.
            max_tokens: self
                .max_completion_tokens
                .or(self.max_tokens)
                .map(u64::from),
            top_p: self.top_p.map(f64::from),
            stop_sequences: match &self.stop {
                Some(StopConfiguration::String(stop)) => vec![stop.clone()],
                Some(StopConfiguration::StringArray(stops)) => stops.clone(),
                None => Vec::new(),
            },
            seed: self.seed,
            choice_count: self.n.map(u64::from),
            frequency_penalty: self.frequency_penalty.map(f64::from),
            presence_penalty: self.presence_penalty.map(f64::from),
            service_tier: self.service_tier.as_ref().and_then(api_name),
            ..Default::default()
        }
    }
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::FunctionCall => "function_call",
    }
}

/// A value as the API names it (a service tier: `flex`, `priority`; an error code:
/// `rate_limit_exceeded`): its serde name, so that a variant added to the enum is named without
/// a change here.
fn api_name<T: serde::Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

/// The usage a completion (whole or its last chunk) reports, with its model, id and the
/// service tier that served it.
fn reported(
    usage: Option<&CompletionUsage>,
    model: &str,
    id: &str,
    tier: Option<&ServiceTier>,
) -> Option<Usage> {
    let usage = completion_usage(usage?)
        .with_response_model(model)
        .with_response_id(id);
    Some(match tier.and_then(api_name) {
        Some(tier) => usage.with_service_tier(tier),
        None => usage,
    })
}

impl ReportsUsage for CreateChatCompletionResponse {
    fn usage(&self) -> Option<Usage> {
        reported(
            self.usage.as_ref(),
            &self.model,
            &self.id,
            self.service_tier.as_ref(),
        )
    }
}

/// The chunk that reports usage is the last one, sent when the request asks for it with
/// `stream_options: { include_usage: true }`.
impl StreamChunk for CreateChatCompletionStreamResponse {
    fn usage(&self) -> Option<Usage> {
        reported(
            self.usage.as_ref(),
            &self.model,
            &self.id,
            self.service_tier.as_ref(),
        )
    }

    fn response_model(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.model.as_str())).filter(|model| !model.is_empty())
    }

    fn response_id(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.id.as_str())).filter(|id| !id.is_empty())
    }

    fn finish_reason(&self) -> Option<Cow<'_, str>> {
        self.choices
            .iter()
            .find_map(|choice| choice.finish_reason)
            .map(|reason| Cow::Borrowed(finish_reason(reason)))
    }

    fn text_delta(&self) -> Option<Cow<'_, str>> {
        let mut deltas = self
            .choices
            .iter()
            .filter_map(|choice| choice.delta.content.as_deref());
        let first = deltas.next()?;
        match deltas.next() {
            None => Some(Cow::Borrowed(first)),
            // Several choices in one chunk: their texts, in order.
            Some(second) => Some(Cow::Owned(
                [first, second].into_iter().chain(deltas).collect(),
            )),
        }
    }
}

impl ReportsUsage for CreateEmbeddingResponse {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.usage.prompt_tokens.into(), 0).with_response_model(self.model.clone()))
    }
}

/// The API's error code (`rate_limit_exceeded`, `context_length_exceeded`, ...) or type
/// (`invalid_request_error`, ...), else the HTTP status; `timeout`, `connection_error`,
/// `invalid_response` and `stream_error` for failures before an answer.
impl ErrorType for OpenAIError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            OpenAIError::ApiError(response) => {
                let error = &response.api_error;
                match (&error.code, &error.r#type) {
                    (Some(code), _) if !code.is_empty() => code.clone().into(),
                    (_, Some(kind)) if !kind.is_empty() => kind.clone().into(),
                    _ => response.status_code.as_u16().to_string().into(),
                }
            }
            OpenAIError::Reqwest(error) if error.is_timeout() => "timeout".into(),
            OpenAIError::Reqwest(error) if error.is_connect() => "connection_error".into(),
            OpenAIError::Reqwest(error) => match error.status() {
                Some(status) => status.as_u16().to_string().into(),
                None => "http_error".into(),
            },
            OpenAIError::JSONDeserialize(..) => "invalid_response".into(),
            OpenAIError::StreamError(_) => "stream_error".into(),
            OpenAIError::InvalidArgument(_) => "invalid_argument".into(),
            #[allow(unreachable_patterns)]
            _ => "openai_error".into(),
        }
    }
}

/// A Tower layer for async-openai's HTTP stack (its `middleware` feature): under its retry
/// layer, every HTTP attempt of a call becomes a child span of the call's, with its number, its
/// status, its `error.type` and the wait before it, and the call's span counts them
/// (`ai.attempts`). See [`retry`](crate::retry).
///
/// ```
/// use async_openai::config::OpenAIConfig;
/// use async_openai::middleware::{retry::OpenAIRetryLayer, ReqwestService};
/// use tower_layer::Layer as _; // or tower's `ServiceBuilder`
/// use tracing_ai::integrations::async_openai::AttemptLayer;
///
/// // The retry layer over the attempt layer: each HTTP attempt passes through the latter.
/// let service = OpenAIRetryLayer::default()
///     .layer(AttemptLayer.layer(ReqwestService::new(reqwest::Client::new())));
/// let client = async_openai::Client::with_config(OpenAIConfig::default()).with_http_service(service);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AttemptLayer;

impl<S> tower_layer::Layer<S> for AttemptLayer {
    type Service = Attempts<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Attempts(inner)
    }
}

/// The service [`AttemptLayer`] makes.
#[derive(Clone, Debug)]
pub struct Attempts<S>(S);

impl<S> tower_service::Service<async_openai::middleware::HttpRequestFactory> for Attempts<S>
where
    S: tower_service::Service<
        async_openai::middleware::HttpRequestFactory,
        Response = reqwest::Response,
        Error = OpenAIError,
    >,
    S::Future: Send + 'static,
{
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<reqwest::Response, OpenAIError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: async_openai::middleware::HttpRequestFactory) -> Self::Future {
        use tracing::Instrument as _;
        // Called within the call's span: the `#[ai_span]` future is what polls the client.
        let attempt = crate::retry::Attempt::of(tracing::Span::current());
        let future = self.0.call(request).instrument(attempt.span().clone());
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) => attempt.responded(response.status().as_u16()),
                Err(error) => attempt.failed(&error.error_type()),
            }
            result
        })
    }
}
