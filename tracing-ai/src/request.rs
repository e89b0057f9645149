//! What a call asked of the model besides its messages: the request parameters the GenAI
//! conventions name (`gen_ai.request.temperature`, `max_tokens`, ...).

use opentelemetry::{Array, KeyValue, StringValue, Value};

use crate::attr;

/// The parameters of a model request, as the GenAI conventions name them; what the request
/// did not set is left out.
///
/// An `#[ai_span]` call records them from its `input = ...` when that value implements
/// [`ReportsParameters`] (async-openai's `CreateChatCompletionRequest` and ollama-rs'
/// `ChatMessageRequest` do, with their features), whether message content is captured or not: parameters are not
/// content.
///
/// ```
/// use tracing_ai::{ReportsParameters, RequestParameters};
///
/// struct MyRequest { temperature: f64, max_tokens: u64 }
///
/// impl ReportsParameters for MyRequest {
///     fn request_parameters(&self) -> RequestParameters {
///         RequestParameters::default()
///             .with_temperature(self.temperature)
///             .with_max_tokens(self.max_tokens)
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestParameters {
    /// `gen_ai.request.temperature`.
    pub temperature: Option<f64>,
    /// `gen_ai.request.max_tokens`: the most tokens the model may return.
    pub max_tokens: Option<u64>,
    /// `gen_ai.request.top_p`.
    pub top_p: Option<f64>,
    /// `gen_ai.request.top_k`.
    pub top_k: Option<f64>,
    /// `gen_ai.request.stop_sequences`.
    pub stop_sequences: Vec<String>,
    /// `gen_ai.request.seed`.
    pub seed: Option<i64>,
    /// `gen_ai.request.choice.count`: how many candidate answers were asked for.
    pub choice_count: Option<u64>,
    /// `gen_ai.request.frequency_penalty`.
    pub frequency_penalty: Option<f64>,
    /// `gen_ai.request.presence_penalty`.
    pub presence_penalty: Option<f64>,
    /// `openai.request.service_tier`: the tier the request asked to be served at (`auto`,
    /// `default`, `flex`, `priority`...). The call is priced at it when the response does not
    /// say which tier served it.
    pub service_tier: Option<String>,
    /// `ai.request.batch`: the request was made through the provider's Batch API. The call is
    /// priced at the batch price.
    pub batch: bool,
    /// Other keys of the genai-prices price context the call is priced with, beside the
    /// service tier and the batch (Perplexity's `search_type`, OpenRouter's `route`).
    pub price_context: Vec<(String, String)>,
}

macro_rules! setters {
    ($($(#[doc = $doc:literal])* $setter:ident: $field:ident: $ty:ty),* $(,)?) => {
        impl RequestParameters {
            $(
                $(#[doc = $doc])*
                #[must_use]
                pub fn $setter(self, value: $ty) -> Self {
                    Self { $field: Some(value), ..self }
                }
            )*
        }
    };
}

setters! {
    /// Sets the temperature.
    with_temperature: temperature: f64,
    /// Sets the most tokens the model may return.
    with_max_tokens: max_tokens: u64,
    /// Sets top-p.
    with_top_p: top_p: f64,
    /// Sets top-k.
    with_top_k: top_k: f64,
    /// Sets the seed.
    with_seed: seed: i64,
    /// Sets how many candidate answers were asked for.
    with_choice_count: choice_count: u64,
    /// Sets the frequency penalty.
    with_frequency_penalty: frequency_penalty: f64,
    /// Sets the presence penalty.
    with_presence_penalty: presence_penalty: f64,
}

impl RequestParameters {
    /// Sets the service tier the request asks for (OpenAI's `service_tier`).
    ///
    /// ```
    /// use tracing_ai::RequestParameters;
    ///
    /// let parameters = RequestParameters::default().with_service_tier("flex");
    /// assert_eq!(parameters.service_tier.as_deref(), Some("flex"));
    /// ```
    #[must_use]
    pub fn with_service_tier(self, tier: impl Into<String>) -> Self {
        Self {
            service_tier: Some(tier.into()),
            ..self
        }
    }

    /// Says the request was made through the provider's Batch API (OpenAI's or Anthropic's
    /// batches): the call is exported with `ai.request.batch = true` and priced at the batch
    /// price.
    ///
    /// ```
    /// use tracing_ai::RequestParameters;
    ///
    /// let parameters = RequestParameters::default().with_batch();
    /// assert!(parameters.batch);
    /// ```
    #[must_use]
    pub fn with_batch(self) -> Self {
        Self {
            batch: true,
            ..self
        }
    }

    /// Adds `key = value` to the price context the call is priced with in the genai-prices
    /// data, which selects a model's price variant: the keys other than the service tier and
    /// the batch, such as Perplexity's `search_type` (`fast` searches cost less) or
    /// OpenRouter's `route`. `ai.cost.price_context` says them.
    ///
    /// ```
    /// use tracing_ai::RequestParameters;
    ///
    /// let parameters = RequestParameters::default().with_price_context("search_type", "fast");
    /// assert_eq!(parameters.price_context, [("search_type".to_owned(), "fast".to_owned())]);
    /// ```
    #[must_use]
    pub fn with_price_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self
            .price_context
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some((_, existing)) => *existing = value,
            None => self.price_context.push((key, value)),
        }
        self
    }

    /// Sets the sequences that stop the model.
    #[must_use]
    pub fn with_stop_sequences<S: Into<String>>(self, stop: impl IntoIterator<Item = S>) -> Self {
        Self {
            stop_sequences: stop.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// The attributes the parameters are exported as: a float that is not finite, or a count
    /// past `i64::MAX`, is left out rather than exported as a wrong number.
    pub(crate) fn to_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::new();
        let floats = [
            (attr::GEN_AI_REQUEST_TEMPERATURE, self.temperature),
            (attr::GEN_AI_REQUEST_TOP_P, self.top_p),
            (attr::GEN_AI_REQUEST_TOP_K, self.top_k),
            (
                attr::GEN_AI_REQUEST_FREQUENCY_PENALTY,
                self.frequency_penalty,
            ),
            (attr::GEN_AI_REQUEST_PRESENCE_PENALTY, self.presence_penalty),
        ];
        for (name, value) in floats {
            if let Some(value) = value.filter(|value| value.is_finite()) {
                attributes.push(KeyValue::new(name, value));
            }
        }
        let integers = [
            (
                attr::GEN_AI_REQUEST_MAX_TOKENS,
                self.max_tokens.and_then(|v| i64::try_from(v).ok()),
            ),
            (attr::GEN_AI_REQUEST_SEED, self.seed),
            (
                attr::GEN_AI_REQUEST_CHOICE_COUNT,
                self.choice_count.and_then(|v| i64::try_from(v).ok()),
            ),
        ];
        for (name, value) in integers {
            if let Some(value) = value {
                attributes.push(KeyValue::new(name, value));
            }
        }
        if let Some(tier) = &self.service_tier {
            attributes.push(KeyValue::new(
                attr::OPENAI_REQUEST_SERVICE_TIER,
                tier.clone(),
            ));
        }
        if !self.stop_sequences.is_empty() {
            let stop: Vec<StringValue> = self
                .stop_sequences
                .iter()
                .map(|stop| StringValue::from(stop.clone()))
                .collect();
            attributes.push(KeyValue::new(
                attr::GEN_AI_REQUEST_STOP_SEQUENCES,
                Value::Array(Array::String(stop)),
            ));
        }
        attributes
    }
}

/// A model request that says its [`RequestParameters`]: implement it for your client's
/// request type, and name the request with `#[ai_span(..., input = request)]`, or, when the
/// client keeps the parameters apart from the messages (genai's `ChatOptions`), name them with
/// `#[ai_span(..., input = request, parameters = options)]`.
pub trait ReportsParameters {
    /// The parameters of this request.
    fn request_parameters(&self) -> RequestParameters;
}

/// Parameters written out: `#[ai_span(parameters = RequestParameters::default()...)]`.
impl ReportsParameters for RequestParameters {
    fn request_parameters(&self) -> RequestParameters {
        self.clone()
    }
}

impl<T: ReportsParameters + ?Sized> ReportsParameters for &T {
    fn request_parameters(&self) -> RequestParameters {
        (**self).request_parameters()
    }
}

/// Options that may not be given (genai's `Option<&ChatOptions>`): none set nothing.
impl<T: ReportsParameters> ReportsParameters for Option<T> {
    fn request_parameters(&self) -> RequestParameters {
        self.as_ref()
            .map(ReportsParameters::request_parameters)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::Value;

    use super::RequestParameters;

    #[test]
    fn only_what_was_set_and_is_a_number_is_exported() {
        let attributes = RequestParameters::default()
            .with_temperature(f64::NAN)
            .with_top_p(0.9)
            .with_max_tokens(u64::MAX)
            .with_seed(-3)
            .to_attributes();
        let names: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(names, ["gen_ai.request.top_p", "gen_ai.request.seed"]);
        assert_eq!(attributes[1].value, Value::I64(-3));
        assert!(RequestParameters::default().to_attributes().is_empty());
    }
}
