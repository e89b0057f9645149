//! Prices a user sets for a model: per million tokens, or per GPU-hour.

use std::fmt;

/// A price for one model that overrides the genai-prices data: a negotiated rate, a
/// fine-tuned or self-hosted model, or a model the data does not know.
///
/// Amounts are in USD unless [`in_currency`](ModelPrice::in_currency) says otherwise; any other
/// currency needs an exchange rate on the builder.
///
/// ```
/// use tracing_ai::ModelPrice;
///
/// // A negotiated rate, with prompt caching.
/// let negotiated = ModelPrice::per_million_tokens(2.00, 8.00)
///     .with_cache_read(0.50)
///     .with_cache_write(2.50);
///
/// // A self-hosted model on a rented GPU: the call costs its duration at this rate.
/// let self_hosted = ModelPrice::per_gpu_hour(1.85).in_currency("GBP");
/// # let _ = (negotiated, self_hosted);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPrice {
    pub(crate) rate: Rate,
    pub(crate) currency: String,
}

/// Whether `amount` can be a price: a finite number, zero or more.
pub(crate) fn is_valid_amount(amount: f64) -> bool {
    amount.is_finite() && amount >= 0.0
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rate {
    /// Amounts per million tokens. Cached tokens default to the input price.
    Tokens {
        input: f64,
        output: f64,
        cache_read: Option<f64>,
        cache_write: Option<f64>,
    },
    /// An amount per hour of the call's wall-clock duration.
    GpuHour(f64),
}

impl Rate {
    /// The same rate with every amount multiplied by `factor` (a conversion to USD).
    pub(crate) fn scaled(self, factor: f64) -> Self {
        match self {
            Rate::Tokens {
                input,
                output,
                cache_read,
                cache_write,
            } => Rate::Tokens {
                input: input * factor,
                output: output * factor,
                cache_read: cache_read.map(|amount| amount * factor),
                cache_write: cache_write.map(|amount| amount * factor),
            },
            Rate::GpuHour(rate) => Rate::GpuHour(rate * factor),
        }
    }
}

impl ModelPrice {
    /// A price per million input and output tokens. Reasoning tokens are output tokens; cached
    /// input tokens cost the input price unless [`with_cache_read`](Self::with_cache_read) or
    /// [`with_cache_write`](Self::with_cache_write) set their own.
    pub fn per_million_tokens(input: f64, output: f64) -> Self {
        Self {
            rate: Rate::Tokens {
                input,
                output,
                cache_read: None,
                cache_write: None,
            },
            currency: "USD".to_owned(),
        }
    }

    /// A price per hour of GPU time: a call costs its duration (from the span's creation to its
    /// close) at this rate, whatever tokens it used. For a model served on a dedicated, rented
    /// GPU, such as `llama-3.1-8b-fp8` on a rented card.
    pub fn per_gpu_hour(rate: f64) -> Self {
        Self {
            rate: Rate::GpuHour(rate),
            currency: "USD".to_owned(),
        }
    }

    /// Sets the price per million input tokens read from the provider's prompt cache.
    /// Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_cache_read(mut self, per_million: f64) -> Self {
        if let Rate::Tokens { cache_read, .. } = &mut self.rate {
            *cache_read = Some(per_million);
        }
        self
    }

    /// Sets the price per million input tokens written to the provider's prompt cache.
    /// Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_cache_write(mut self, per_million: f64) -> Self {
        if let Rate::Tokens { cache_write, .. } = &mut self.rate {
            *cache_write = Some(per_million);
        }
        self
    }

    /// Sets the currency of the amounts, as an ISO 4217 code such as `GBP`. By default, USD.
    #[must_use]
    pub fn in_currency(self, code: impl Into<String>) -> Self {
        Self {
            currency: code.into(),
            ..self
        }
    }

    /// Every amount of the price, named as in the prices file, for validation.
    pub(crate) fn amounts(&self) -> Vec<(&'static str, f64)> {
        match self.rate {
            Rate::Tokens {
                input,
                output,
                cache_read,
                cache_write,
            } => {
                let mut amounts = vec![("input", input), ("output", output)];
                amounts.extend(cache_read.map(|v| ("cache_read", v)));
                amounts.extend(cache_write.map(|v| ("cache_write", v)));
                amounts
            }
            Rate::GpuHour(rate) => vec![("gpu_hour", rate)],
        }
    }
}

impl fmt::Display for ModelPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rate {
            Rate::Tokens { input, output, .. } => write!(
                f,
                "{input} {currency} / M input tokens, {output} {currency} / M output tokens",
                currency = self.currency
            ),
            Rate::GpuHour(rate) => write!(f, "{rate} {} / GPU-hour", self.currency),
        }
    }
}
