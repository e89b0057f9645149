//! Token usage: what one model call consumed, and how a return value reports it.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

/// Generates [`Usage`] with a field for each token count of the facts table (the wholes as
/// `u64`, their parts as `Option<u64>` with a setter each), then the call's other facts.
macro_rules! usage {
    (
        wholes: [$(
            $(#[doc = $whole_doc:literal])*
            $whole:ident { attribute: $whole_attribute:ident, counted: $whole_counted:ident($whole_by:tt), usage: $whole_usage:ident $(,)? }
        ),* $(,)?],
        parts: [$(
            $(#[doc = $part_doc:literal])*
            $part:ident {
                attribute: $part_attribute:ident,
                $(part_of: $part_of:ident,)?
                counted: $part_counted:ident($part_by:tt),
                usage: $part_usage:ident,
                $(#[doc = $setter_doc:literal])*
                set_by: $setter:ident $(,)?
            }
        ),* $(,)?],
        $($other_facts:tt)*
    ) => {
        /// The token usage of one model call, as the provider reported it.
        ///
        /// Counts follow the OpenTelemetry GenAI conventions: `input_tokens` **includes** the
        /// cached tokens (`cache_read_tokens`, `cache_creation_tokens`) and `output_tokens`
        /// includes the reasoning tokens. Providers that report cached tokens apart from the
        /// input (Anthropic does) must be added up before they are put here, or the call is
        /// priced as if it had read fewer tokens than it did.
        ///
        /// ```
        /// use tracing_ai::Usage;
        ///
        /// let usage = Usage::new(1_200, 250)
        ///     .with_cache_read(1_000)
        ///     .with_response_model("gpt-4o-2024-08-06");
        /// assert_eq!(usage.input_tokens, 1_200);
        /// assert_eq!(usage.cache_read_tokens, Some(1_000));
        /// ```
        #[derive(Clone, Debug, Default, PartialEq)]
        #[non_exhaustive]
        pub struct Usage {
            $( $(#[doc = $whole_doc])* pub $whole_usage: u64, )*
            $( $(#[doc = $part_doc])* pub $part_usage: Option<u64>, )*
            /// The model that answered, when the provider says (often a dated snapshot).
            pub response_model: Option<String>,
            /// The provider's identifier of the response.
            pub response_id: Option<String>,
            /// The service tier that served the call, when the response says (OpenAI's
            /// `service_tier`: `default`, `flex`, `priority`...): the call is priced at it.
            pub service_tier: Option<String>,
            /// Whether the call was made through the provider's Batch API: priced at the
            /// batch price.
            pub batch: bool,
            /// The cost in USD, when the provider reports it; it wins over any price table.
            pub cost: Option<f64>,
            /// Whether the application's own cache served the call.
            pub cache_hit: Option<CacheHit>,
        }

        impl Usage {
            /// Usage of `input_tokens` in and `output_tokens` out.
            pub const fn new($($whole_usage: u64),*) -> Self {
                Self {
                    $($whole_usage,)*
                    $($part_usage: None,)*
                    response_model: None,
                    response_id: None,
                    service_tier: None,
                    batch: false,
                    cost: None,
                    cache_hit: None,
                }
            }

            $(
                $(#[doc = $setter_doc])*
                #[must_use]
                pub fn $setter(self, count: u64) -> Self {
                    Self {
                        $part_usage: Some(count),
                        ..self
                    }
                }
            )*
        }
    };
}

crate::__facts!([usage]);

impl Usage {
    /// Sets the model that answered; it is priced instead of the requested model.
    #[must_use]
    pub fn with_response_model(self, model: impl Into<String>) -> Self {
        Self {
            response_model: Some(model.into()),
            ..self
        }
    }

    /// Sets the service tier that served the call, as the response says (OpenAI's
    /// `service_tier`); it is exported as `openai.response.service_tier` and the call is
    /// priced at that tier's price when the genai-prices data has one (flex at about half the
    /// standard price, priority above it).
    ///
    /// ```
    /// use tracing_ai::Usage;
    ///
    /// let usage = Usage::new(1_000, 200).with_service_tier("flex");
    /// assert_eq!(usage.service_tier.as_deref(), Some("flex"));
    /// ```
    #[must_use]
    pub fn with_service_tier(self, tier: impl Into<String>) -> Self {
        Self {
            service_tier: Some(tier.into()),
            ..self
        }
    }

    /// Says the call was made through the provider's Batch API (a line of a batch's results):
    /// it is exported as `ai.request.batch = true` and priced at the model's batch price when
    /// the genai-prices data has one (about half the standard price).
    ///
    /// ```
    /// use tracing_ai::Usage;
    ///
    /// let usage = Usage::new(1_000, 200).with_batch();
    /// assert!(usage.batch);
    /// ```
    #[must_use]
    pub fn with_batch(self) -> Self {
        Self {
            batch: true,
            ..self
        }
    }

    /// Sets the provider's identifier of the response.
    #[must_use]
    pub fn with_response_id(self, id: impl Into<String>) -> Self {
        Self {
            response_id: Some(id.into()),
            ..self
        }
    }

    /// Sets the cost in USD that the provider reported for this call. It is exported as is,
    /// with `ai.cost.source = "provider"`, instead of a cost computed from a price table.
    ///
    /// A value that is not a finite, non-negative number is not recorded: the call is then
    /// priced from the tables as if no cost had been reported.
    #[must_use]
    pub fn with_cost(self, usd: f64) -> Self {
        Self {
            cost: Some(usd),
            ..self
        }
    }

    /// Sets whether the application's own cache served the call.
    #[must_use]
    pub fn with_cache_hit(self, hit: CacheHit) -> Self {
        Self {
            cache_hit: Some(hit),
            ..self
        }
    }
}

/// Whether the application's own cache (not the provider's prompt cache) served a call,
/// exported as `ai.cache_hit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheHit {
    /// A cached prefix of the prompt was reused.
    Prefix,
    /// A semantically similar earlier request's answer was reused.
    Semantic,
    /// The cache was consulted and had nothing.
    Miss,
}

impl CacheHit {
    /// The exported value: `prefix`, `semantic` or `miss`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheHit::Prefix => "prefix",
            CacheHit::Semantic => "semantic",
            CacheHit::Miss => "miss",
        }
    }
}

impl fmt::Display for CacheHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that knows the token usage of the model call that produced it.
///
/// [`#[ai_span]`](crate::ai_span) calls it on the return value of `llm`, `completion` and
/// `embedding` functions. Implement it for your client's response type:
///
/// ```
/// use tracing_ai::{ReportsUsage, Usage};
///
/// struct Completion {
///     text: String,
///     prompt_tokens: u32,
///     completion_tokens: u32,
/// }
///
/// impl ReportsUsage for Completion {
///     fn usage(&self) -> Option<Usage> {
///         Some(Usage::new(self.prompt_tokens.into(), self.completion_tokens.into()))
///     }
/// }
///
/// let ok: Result<Completion, std::io::Error> =
///     Ok(Completion { text: "hi".into(), prompt_tokens: 9, completion_tokens: 2 });
/// assert_eq!(ok.usage(), Some(Usage::new(9, 2)));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not report token usage",
    label = "`#[ai_span]` reads token usage from this",
    note = "if this function returns a stream of chunks, add `stream` to the attribute: \
            `#[ai_span(kind = \"llm\", model = \"...\", stream)]`",
    note = "if `{Self}` is a response of async-openai, ollama-rs or genai, enable tracing-ai's \
            cargo feature of that name: `tracing-ai = {{ version = \"0.1\", features = [\"async-openai\"] }}`",
    note = "otherwise implement `tracing_ai::ReportsUsage` for `{Self}`, or say where the usage is with \
            `usage = ...`, e.g. `#[ai_span(kind = \"llm\", model = \"...\", usage = Usage::new(ret.prompt_tokens, ret.completion_tokens))]`"
)]
pub trait ReportsUsage {
    /// The usage of the call, or `None` if it is not known.
    fn usage(&self) -> Option<Usage>;
}

impl ReportsUsage for Usage {
    fn usage(&self) -> Option<Usage> {
        Some(self.clone())
    }
}

impl<T: ReportsUsage> ReportsUsage for Option<T> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().and_then(T::usage)
    }
}

/// The usage of the `Ok` value; a failed call reports none.
impl<T: ReportsUsage, E> ReportsUsage for Result<T, E> {
    fn usage(&self) -> Option<Usage> {
        self.as_ref().ok().and_then(T::usage)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for &T {
    fn usage(&self) -> Option<Usage> {
        T::usage(self)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for &mut T {
    fn usage(&self) -> Option<Usage> {
        T::usage(self)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for Box<T> {
    fn usage(&self) -> Option<Usage> {
        T::usage(self)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for Arc<T> {
    fn usage(&self) -> Option<Usage> {
        T::usage(self)
    }
}

impl<T: ReportsUsage + ?Sized> ReportsUsage for Rc<T> {
    fn usage(&self) -> Option<Usage> {
        T::usage(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_report_the_usage_of_what_they_hold() {
        let usage = Usage::new(10, 2).with_reasoning(1);
        assert_eq!(Some(usage.clone()).usage(), Some(usage.clone()));
        assert_eq!(None::<Usage>.usage(), None);
        assert_eq!(Ok::<_, ()>(usage.clone()).usage(), Some(usage.clone()));
        assert_eq!(Err::<Usage, _>("boom").usage(), None);
        assert_eq!(ReportsUsage::usage(&&usage), Some(usage.clone()));
        assert_eq!(Box::new(usage.clone()).usage(), Some(usage.clone()));
        assert_eq!(Arc::new(usage.clone()).usage(), Some(usage.clone()));
        let boxed: Box<dyn ReportsUsage> = Box::new(usage.clone());
        assert_eq!(boxed.usage(), Some(usage));
    }

    #[test]
    fn builders_set_each_field_and_keep_the_others() {
        let usage = Usage::new(1_000, 300)
            .with_cache_read(600)
            .with_cache_creation(100)
            .with_reasoning(200)
            .with_audio_input(50)
            .with_audio_output(20)
            .with_response_model("claude-sonnet-4-5-20250929")
            .with_response_id("msg_1")
            .with_cost(0.0123)
            .with_cache_hit(CacheHit::Prefix);
        assert_eq!(
            usage,
            Usage {
                cache_read_tokens: Some(600),
                cache_creation_tokens: Some(100),
                reasoning_tokens: Some(200),
                audio_input_tokens: Some(50),
                audio_output_tokens: Some(20),
                response_model: Some("claude-sonnet-4-5-20250929".to_owned()),
                response_id: Some("msg_1".to_owned()),
                cost: Some(0.0123),
                cache_hit: Some(CacheHit::Prefix),
                // Every other count and fact as `new` leaves it.
                ..Usage::new(1_000, 300)
            }
        );
    }
}
