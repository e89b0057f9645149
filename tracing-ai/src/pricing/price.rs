//! Prices a user sets for a model or a tool: per million tokens, per GPU-hour, per call.

use std::fmt;

use crate::facts::{TokenCounts, TokenKind};

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
/// // A tool billed per call (web search at $10 per thousand calls), priced on its
/// // `kind = "tool"` spans by the tool's name.
/// let web_search = ModelPrice::per_call(0.01);
/// // A retrieval API with a fee per request beside its tokens.
/// let rerank = ModelPrice::per_million_tokens(0.05, 0.0).with_per_call(0.001);
///
/// // A model with its own prices for OpenAI's flex tier and for the Batch API.
/// let gpt_5 = ModelPrice::per_million_tokens(1.25, 10.0)
///     .with_service_tier("flex", ModelPrice::per_million_tokens(0.625, 5.0))
///     .with_batch(ModelPrice::per_million_tokens(0.625, 5.0));
/// # let _ = (negotiated, self_hosted, web_search, rerank, gpt_5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPrice {
    pub(crate) rate: Rate,
    /// A fee each call costs beside its rate.
    pub(crate) per_call: f64,
    pub(crate) currency: String,
    /// The prices of the calls served otherwise (a service tier, a batch), which replace this
    /// one for them.
    pub(crate) variants: Vec<(ServedWhen, ModelPrice)>,
}

/// How a call must have been served for a price variant to price it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ServedWhen {
    /// Through the provider's Batch API.
    Batch,
    /// At this service tier (the response's, else the request's).
    ServiceTier(String),
}

impl ServedWhen {
    /// Whether a call served as `served` takes this variant's price.
    pub(crate) fn matches(&self, served: super::ServedAs<'_>) -> bool {
        match self {
            ServedWhen::Batch => served.batch,
            ServedWhen::ServiceTier(tier) => served.service_tier == Some(tier.as_str()),
        }
    }

    /// What `ai.cost.price_context` says of a call this variant priced, in the words of the
    /// genai-prices price context.
    pub(crate) fn describe(&self) -> String {
        match self {
            ServedWhen::Batch => "processing=batch".to_owned(),
            ServedWhen::ServiceTier(tier) => format!("service_tier={tier}"),
        }
    }

    /// How the variant is named in errors and in a prices file.
    pub(crate) fn file_path(&self) -> String {
        match self {
            ServedWhen::Batch => "batch".to_owned(),
            ServedWhen::ServiceTier(tier) => format!("service_tier.{tier}"),
        }
    }
}

/// Whether `amount` can be a price: a finite number, zero or more.
pub(crate) fn is_valid_amount(amount: f64) -> bool {
    amount.is_finite() && amount >= 0.0
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rate {
    /// Amounts per million tokens.
    Tokens(TokenRates),
    /// An amount per hour of the call's wall-clock duration.
    GpuHour(f64),
    /// Nothing but the fee per call.
    Fee,
}

/// Amounts per million tokens of each kind. The input and output always have one; a part
/// (cached input, reasoning output) without one of its own costs its whole's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TokenRates([Option<f64>; TokenKind::COUNT]);

impl TokenRates {
    fn new(input: f64, output: f64) -> Self {
        let mut rates = [None; TokenKind::COUNT];
        rates[TokenKind::Input.index()] = Some(input);
        rates[TokenKind::Output.index()] = Some(output);
        Self(rates)
    }

    /// The amount per million tokens of `kind`: its own, or else its whole's.
    fn of(&self, kind: TokenKind) -> f64 {
        match (self.0[kind.index()], kind.part_of()) {
            (Some(rate), _) => rate,
            (None, Some(whole)) => self.of(whole),
            (None, None) => 0.0,
        }
    }

    /// The cost of `tokens`, whose parts must be within their wholes: each token is priced
    /// once, at the rate of the most specific kind it is counted in.
    pub(crate) fn price(&self, tokens: &TokenCounts) -> f64 {
        let per_million: f64 = TokenKind::ALL
            .into_iter()
            .map(|kind| {
                let own = tokens
                    .get(kind)
                    .saturating_sub(tokens.parts_of(kind).unwrap_or(u64::MAX));
                own as f64 * self.of(kind)
            })
            .sum();
        per_million / 1_000_000.0
    }
}

impl Rate {
    /// The same rate with every amount multiplied by `factor` (a conversion to USD).
    pub(crate) fn scaled(self, factor: f64) -> Self {
        match self {
            Rate::Tokens(TokenRates(rates)) => Rate::Tokens(TokenRates(
                rates.map(|rate| rate.map(|amount| amount * factor)),
            )),
            Rate::GpuHour(rate) => Rate::GpuHour(rate * factor),
            Rate::Fee => Rate::Fee,
        }
    }
}

impl ModelPrice {
    /// A price per million input and output tokens. Reasoning tokens are output tokens; cached
    /// input tokens cost the input price unless [`with_cache_read`](Self::with_cache_read) or
    /// [`with_cache_write`](Self::with_cache_write) set their own.
    pub fn per_million_tokens(input: f64, output: f64) -> Self {
        Self {
            rate: Rate::Tokens(TokenRates::new(input, output)),
            per_call: 0.0,
            currency: "USD".to_owned(),
            variants: Vec::new(),
        }
    }

    /// A price per call, whatever the call used: a tool or service billed by the call (web
    /// search, a code-interpreter session, a retrieval API). Set for a tool's name, it prices
    /// the tool's `kind = "tool"` spans (`gen_ai.tool.name`); for a model's, its calls. A call
    /// that failed is not priced (most failures are refused before any work, and not billed).
    pub fn per_call(amount: f64) -> Self {
        Self {
            rate: Rate::Fee,
            per_call: amount,
            currency: "USD".to_owned(),
            variants: Vec::new(),
        }
    }

    /// Adds a fee each call costs beside this price's tokens or GPU time (a request fee).
    #[must_use]
    pub fn with_per_call(self, amount: f64) -> Self {
        Self {
            per_call: amount,
            ..self
        }
    }

    /// A price per hour of GPU time: a call costs its duration (from the span's creation to its
    /// close) at this rate, whatever tokens it used. For a model served on a dedicated, rented
    /// GPU, such as `llama-3.1-8b-fp8` on a rented card.
    pub fn per_gpu_hour(rate: f64) -> Self {
        Self {
            rate: Rate::GpuHour(rate),
            per_call: 0.0,
            currency: "USD".to_owned(),
            variants: Vec::new(),
        }
    }

    /// Prices the calls served at service tier `tier` (OpenAI's `flex` or `priority`, as the
    /// response's `service_tier` says, else the request's) at `price` instead. `price` is
    /// whole: give it every amount, its cache prices and its currency (by default USD); its own
    /// variants are not used. A later call for the same tier replaces the earlier.
    ///
    /// ```
    /// use tracing_ai::ModelPrice;
    ///
    /// let price = ModelPrice::per_million_tokens(1.25, 10.0)
    ///     .with_service_tier("flex", ModelPrice::per_million_tokens(0.625, 5.0))
    ///     .with_service_tier("priority", ModelPrice::per_million_tokens(2.5, 20.0));
    /// # let _ = price;
    /// ```
    #[must_use]
    pub fn with_service_tier(self, tier: impl Into<String>, price: ModelPrice) -> Self {
        self.with_variant(ServedWhen::ServiceTier(tier.into()), price)
    }

    /// Prices the calls made through the provider's Batch API (`Usage::with_batch`, or
    /// `#[ai_span(batch)]`) at `price` instead; a batch call takes it before any service
    /// tier's. `price` is whole, as for [`with_service_tier`](Self::with_service_tier).
    ///
    /// ```
    /// use tracing_ai::ModelPrice;
    ///
    /// let price = ModelPrice::per_million_tokens(2.5, 10.0)
    ///     .with_batch(ModelPrice::per_million_tokens(1.25, 5.0));
    /// # let _ = price;
    /// ```
    #[must_use]
    pub fn with_batch(self, price: ModelPrice) -> Self {
        self.with_variant(ServedWhen::Batch, price)
    }

    fn with_variant(mut self, when: ServedWhen, price: ModelPrice) -> Self {
        let price = ModelPrice {
            variants: Vec::new(),
            ..price
        };
        self.variants.retain(|(existing, _)| *existing != when);
        self.variants.push((when, price));
        // Batch first: a batch call takes its price before any tier's.
        self.variants
            .sort_by_key(|(when, _)| !matches!(when, ServedWhen::Batch));
        self
    }

    /// Sets the price per million input tokens read from the provider's prompt cache.
    /// Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_cache_read(self, per_million: f64) -> Self {
        self.with_part(TokenKind::CacheRead, per_million)
    }

    /// Sets the price per million input tokens written to the provider's prompt cache.
    /// Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_cache_write(self, per_million: f64) -> Self {
        self.with_part(TokenKind::CacheWrite, per_million)
    }

    /// Sets the price per million input tokens written to the provider's prompt cache to be
    /// kept an hour (Anthropic's one-hour cache); the others cost
    /// [`with_cache_write`](Self::with_cache_write)'s price. Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_cache_write_1h(self, per_million: f64) -> Self {
        self.with_part(TokenKind::CacheWrite1h, per_million)
    }

    /// Sets the price per million audio input tokens (those not read from the cache).
    /// Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_audio_input(self, per_million: f64) -> Self {
        self.with_part(TokenKind::AudioInput, per_million)
    }

    /// Sets the price per million audio output tokens. Has no effect on a GPU-hour price.
    #[must_use]
    pub fn with_audio_output(self, per_million: f64) -> Self {
        self.with_part(TokenKind::AudioOutput, per_million)
    }

    /// Sets the price per thousand web searches the model makes on the provider's side
    /// ([`Usage::with_web_searches`](crate::Usage::with_web_searches)), billed beside the
    /// tokens; without it they cost nothing. Has no effect on a GPU-hour price.
    ///
    /// ```
    /// use tracing_ai::ModelPrice;
    ///
    /// // $3 and $15 per million tokens, $10 per thousand searches.
    /// let price = ModelPrice::per_million_tokens(3.0, 15.0).with_web_searches(10.0);
    /// # let _ = price;
    /// ```
    #[must_use]
    pub fn with_web_searches(self, per_thousand: f64) -> Self {
        self.with_quoted(TokenKind::WebSearches, per_thousand)
    }

    /// Sets the price of `kind` as quoted ([`quoted_per`]).
    pub(crate) fn with_quoted(self, kind: TokenKind, amount: f64) -> Self {
        self.with_part(kind, amount * (1_000_000.0 / quoted_per(kind)))
    }

    fn with_part(mut self, kind: TokenKind, per_million: f64) -> Self {
        if let Rate::Tokens(rates) = &mut self.rate {
            rates.0[kind.index()] = Some(per_million);
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
        let mut amounts = match self.rate {
            Rate::Tokens(TokenRates(rates)) => TokenKind::ALL
                .into_iter()
                .filter_map(|kind| {
                    let per_million = rates[kind.index()]?;
                    // Divided, not multiplied back: a rate near `f64::MAX` stays finite.
                    let quoted = per_million / (1_000_000.0 / quoted_per(kind));
                    Some((file_key(kind), quoted))
                })
                .collect(),
            Rate::GpuHour(rate) => vec![("gpu_hour", rate)],
            Rate::Fee => Vec::new(),
        };
        amounts.push(("per_call", self.per_call));
        amounts
    }
}

impl fmt::Display for ModelPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let currency = &self.currency;
        match self.rate {
            Rate::Tokens(rates) => write!(
                f,
                "{input} {currency} / M input tokens, {output} {currency} / M output tokens",
                input = rates.of(TokenKind::Input),
                output = rates.of(TokenKind::Output),
            )?,
            Rate::GpuHour(rate) => write!(f, "{rate} {currency} / GPU-hour")?,
            Rate::Fee => return write!(f, "{} {currency} / call", self.per_call),
        }
        if self.per_call > 0.0 {
            write!(f, " + {} {currency} / call", self.per_call)?;
        }
        Ok(())
    }
}

/// The key of a kind's price in a prices file (and in errors about one).
pub(crate) fn file_key(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Input => "input",
        TokenKind::Output => "output",
        TokenKind::CacheRead => "cache_read",
        TokenKind::CacheWrite => "cache_write",
        TokenKind::CacheWrite1h => "cache_write_1h",
        TokenKind::Reasoning => "reasoning",
        TokenKind::AudioInput => "audio_input",
        TokenKind::AudioOutput => "audio_output",
        TokenKind::WebSearches => "web_searches",
    }
}

/// How many of `kind` the amount under its [`file_key`] is for: a million tokens, a thousand
/// web searches (as the providers quote them). Rates are kept per million of every kind.
pub(crate) const fn quoted_per(kind: TokenKind) -> f64 {
    match kind {
        TokenKind::WebSearches => 1_000.0,
        _ => 1_000_000.0,
    }
}
