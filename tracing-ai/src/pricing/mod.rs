//! What a call cost: from the user's prices, from the genai-prices data, or from GPU time,
//! in USD and in a reporting currency.

mod file;
mod genai;
mod live;
mod overrides;
mod price;
mod sources;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "__bench")]
pub(crate) use file::parse as parse_prices;
pub(crate) use live::LivePrices;
pub use live::{PricesHandle, PricesWatch};
pub(crate) use price::is_valid_amount;
pub use price::ModelPrice;
pub(crate) use sources::{PriceSources, PricesSource};

use crate::error::ConfigError;
pub(crate) use crate::facts::TokenCounts;
use crate::facts::TokenKind;
use genai::GenaiPrices;
use overrides::{price_override, UsdRate};
use price::{Rate, ServedWhen};

/// What one call is priced from.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) provider: Option<&'a str>,
    pub(crate) request_model: Option<&'a str>,
    pub(crate) response_model: Option<&'a str>,
    /// How it was served (its service tier, a batch): what selects its price variant.
    pub(crate) served: ServedAs<'a>,
    /// The tool a tool call ran: a price set for its name prices it.
    pub(crate) tool_name: Option<&'a str>,
    /// `None` when the call recorded no token usage.
    pub(crate) tokens: Option<TokenCounts>,
    /// From the span's creation to its close.
    pub(crate) duration: Duration,
    /// The call failed (error status or `error.type`).
    pub(crate) failed: bool,
    /// The call was streamed (`gen_ai.request.stream`).
    pub(crate) stream: bool,
    /// Its stream was dropped before its end (`ai.stream.cancelled`).
    pub(crate) cancelled: bool,
}

/// How a call was served, beside its model: what selects its price variant in the
/// genai-prices data (its price context).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServedAs<'a> {
    /// The service tier that served it (or the one asked for).
    pub(crate) service_tier: Option<&'a str>,
    /// Made through the provider's Batch API.
    pub(crate) batch: bool,
    /// The other keys of the price context the request gave (Perplexity's `search_type`,
    /// OpenRouter's `route`), in its order.
    pub(crate) other: &'a [(String, String)],
}

impl<'a> ServedAs<'a> {
    /// The price context's `(key, value)` pairs, as genai-prices matches its variants.
    pub(crate) fn context(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let tier = self.service_tier.map(|tier| ("service_tier", tier));
        let batch = self.batch.then_some(("processing", "batch"));
        let other = self
            .other
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()));
        tier.into_iter().chain(batch).chain(other)
    }

    /// `service_tier=flex,processing=batch`: what `ai.cost.price_context` says; `None` for a
    /// call served plainly.
    pub(crate) fn describe(&self) -> Option<String> {
        // Most calls are served plainly: nothing to allocate for them.
        if self.service_tier.is_none() && !self.batch && self.other.is_empty() {
            return None;
        }
        let pairs: Vec<String> = self
            .context()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join(","))
    }
}

/// Where a cost comes from, exported as `ai.cost.source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CostSource {
    GenaiPrices,
    Override,
    SelfHosted,
    Provider,
    /// Priced from usage the layer's estimator counted: the call reported none.
    Estimated,
}

impl CostSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CostSource::GenaiPrices => "genai-prices",
            CostSource::Override => "override",
            CostSource::SelfHosted => "self-hosted",
            CostSource::Provider => "provider",
            CostSource::Estimated => "estimated",
        }
    }
}

/// The outcome of pricing a call.
#[derive(Debug, PartialEq)]
pub(crate) enum Priced {
    Cost {
        usd: f64,
        source: CostSource,
        /// Which price data priced it (`ai.cost.prices`).
        data: Arc<str>,
    },
    /// The model of the call has no price; the reason says why and what to do.
    Unpriced {
        model: String,
        reason: Arc<str>,
        code: UnpricedReason,
    },
    /// A call to a model that reported no usage and has no GPU-time price: never exported as
    /// free. The reason names the likely cause.
    NoUsage {
        reason: &'static str,
        code: UnpricedReason,
    },
    /// Nothing to price: not a call to a model (no model, no usage), or a cost was recorded.
    Nothing,
}

/// Why a call to a model has no usage to price.
pub(crate) fn no_usage(call: &Call<'_>) -> Priced {
    let (code, reason) = if call.failed {
        (
            UnpricedReason::Failed,
            "the call failed before it reported token usage; whether it was billed is unknown",
        )
    } else if call.cancelled {
        (
            UnpricedReason::Cancelled,
            "cancelled before the provider reported usage: the provider may still bill the \
             input it received",
        )
    } else if call.stream {
        (
            UnpricedReason::NoUsage,
            "the stream reported no token usage: ask for it (OpenAI: \
             `stream_options.include_usage`), or the stream was dropped before its last chunk",
        )
    } else {
        (
            UnpricedReason::NoUsage,
            "the call reported no token usage: return a type that implements `ReportsUsage`, \
             or give `usage = ...` to `#[ai_span]`",
        )
    };
    Priced::NoUsage { reason, code }
}

/// Why a call has no cost, in a word: the label of the unpriced-calls metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UnpricedReason {
    /// It failed before reporting usage.
    Failed,
    /// Its stream was dropped before the provider reported usage.
    Cancelled,
    /// It ended without reporting usage.
    NoUsage,
    /// Its model has no price.
    UnknownModel,
    /// It recorded usage but no model.
    NoModel,
    /// Its token counts contradict each other.
    InvalidCounts,
    /// Its price or recorded cost is no amount of money.
    NotMoney,
}

impl UnpricedReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UnpricedReason::Failed => "failed",
            UnpricedReason::Cancelled => "cancelled",
            UnpricedReason::NoUsage => "no_usage",
            UnpricedReason::UnknownModel => "unknown_model",
            UnpricedReason::NoModel => "no_model",
            UnpricedReason::InvalidCounts => "invalid_counts",
            UnpricedReason::NotMoney => "not_money",
        }
    }
}

impl Priced {
    /// Why the call has no cost, when it has none.
    pub(crate) fn unpriced_reason(&self) -> Option<UnpricedReason> {
        match self {
            Priced::Unpriced { code, .. } | Priced::NoUsage { code, .. } => Some(*code),
            Priced::Cost { .. } | Priced::Nothing => None,
        }
    }
}

/// Converts between USD and the currencies prices and reports are given in, at fixed rates.
#[derive(Clone, Debug, Default)]
pub(crate) struct Currencies {
    /// Units of a currency per USD, by ISO 4217 code.
    per_usd: HashMap<String, f64>,
    /// Shared, so that every span reporting in it takes it without a copy.
    reporting: Option<Arc<str>>,
    /// The day a rate was taken, by currency, when the application said.
    dates: HashMap<String, Arc<str>>,
}

impl Currencies {
    pub(crate) fn set_rate(&mut self, code: &str, per_usd: f64) -> Result<(), ConfigError> {
        check_currency_code(code)?;
        if !(per_usd.is_finite() && per_usd > 0.0) {
            return Err(ConfigError::invalid_exchange_rate(code, per_usd));
        }
        self.per_usd.insert(code.to_owned(), per_usd);
        Ok(())
    }

    /// Says on which day the rate of `code` was taken: `YYYY-MM-DD`.
    pub(crate) fn set_rate_date(&mut self, code: &str, date: &str) -> Result<(), ConfigError> {
        check_currency_code(code)?;
        let bytes = date.as_bytes();
        let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
        let is_date = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10);
        if !is_date {
            return Err(ConfigError::invalid_rate_date(code, date));
        }
        self.dates.insert(code.to_owned(), date.into());
        Ok(())
    }

    /// The reporting currency's rate (units per USD) and the day it was taken, when the
    /// reporting currency is not USD.
    pub(crate) fn reporting_rate(&self) -> Option<(f64, Option<&Arc<str>>)> {
        let code = self.reporting.as_ref().filter(|code| &***code != "USD")?;
        let per_usd = *self.per_usd.get(&**code)?;
        Some((per_usd, self.dates.get(&**code)))
    }

    /// The currency costs are reported in besides USD; USD when none is.
    pub(crate) fn reporting_code(&self) -> &str {
        self.reporting.as_deref().unwrap_or("USD")
    }

    pub(crate) fn set_reporting(&mut self, code: &str) {
        self.reporting = Some(code.into());
    }

    /// How many USD one unit of `code` is worth.
    fn usd_per_unit(&self, code: &str) -> Option<f64> {
        if code == "USD" {
            return Some(1.0);
        }
        self.per_usd.get(code).map(|per_usd| 1.0 / per_usd)
    }

    /// The reporting currency when it is not USD, and the amount `usd` is in it.
    pub(crate) fn report(&self, usd: f64) -> Option<(&Arc<str>, f64)> {
        let code = self.reporting.as_ref().filter(|code| &***code != "USD")?;
        let per_usd = self.per_usd.get(&**code)?;
        Some((code, usd * per_usd))
    }
}

/// An ISO 4217 code: three ASCII capital letters.
pub(crate) fn check_currency_code(code: &str) -> Result<(), ConfigError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ConfigError::invalid_currency_code(code))
    }
}

/// What the genai-prices data is, on the spans it priced: the version of the crate that
/// bundles it (a test holds it to Cargo.lock).
pub(crate) const GENAI_PRICES_DATA: &str = "genai-prices 0.2.1";

/// What a price given in code is, on the spans it priced.
pub(crate) const CODE_DATA: &str = "code";

/// Prices calls: the user's prices first, then the genai-prices data.
#[derive(Debug)]
pub(crate) struct Pricing {
    overrides: HashMap<String, UsdRate>,
    genai: GenaiPrices,
    genai_data: Arc<str>,
    pub(crate) currencies: Currencies,
}

impl Pricing {
    /// The context window of `model` in the genai-prices data, when it has one (see
    /// [`GenaiPrices::context_window`]).
    pub(crate) fn context_window(&self, provider: Option<&str>, model: &str) -> Option<u64> {
        self.genai.context_window(provider, model)
    }

    /// genai-prices alone, costs in USD.
    pub(crate) fn with_defaults() -> Self {
        Self {
            overrides: HashMap::new(),
            genai: GenaiPrices::bundled(),
            genai_data: GENAI_PRICES_DATA.into(),
            currencies: Currencies::default(),
        }
    }

    /// Checks every price and converts it to USD; each comes with the data it was given in.
    pub(crate) fn new(
        prices: Vec<(String, ModelPrice, Arc<str>)>,
        currencies: Currencies,
    ) -> Result<Self, ConfigError> {
        if let Some(reporting) = &currencies.reporting {
            if currencies.usd_per_unit(reporting).is_none() {
                return Err(ConfigError::missing_exchange_rate(reporting, None));
            }
        }
        let mut overrides = HashMap::new();
        for (model, price, data) in prices {
            let rate = UsdRate::new(&model, None, price, &currencies, &data)?;
            overrides.insert(model, rate);
        }
        Ok(Self {
            overrides,
            genai: GenaiPrices::bundled(),
            genai_data: GENAI_PRICES_DATA.into(),
            currencies,
        })
    }

    /// Whether some model is priced by its duration, so that spans must be timed.
    pub(crate) fn needs_duration(&self) -> bool {
        self.overrides.values().any(|rate| {
            std::iter::once(rate)
                .chain(rate.variants.iter().map(|(_, variant)| variant))
                .any(|rate| matches!(rate.rate, Rate::GpuHour(_)))
        })
    }

    /// Forgets what every model resolved to (for the benchmarks of a first call).
    #[cfg(feature = "__bench")]
    pub(crate) fn forget(&self) {
        self.genai.forget();
    }

    /// Prices `call`. The response model is priced when known, else the request model.
    pub(crate) fn price(&self, call: &Call<'_>) -> Priced {
        match self.price_unchecked(call) {
            // A price or rate near the limits of `f64` can overflow: that is no amount of money.
            Priced::Cost { usd, .. } if !is_valid_amount(usd) => Priced::Unpriced {
                model: call
                    .response_model
                    .or(call.request_model)
                    .unwrap_or_default()
                    .to_owned(),
                reason: format!(
                    "the cost came out as {usd}, not an amount of money: check this model's \
                     price and the exchange rates"
                )
                .into(),
                code: UnpricedReason::NotMoney,
            },
            priced => priced,
        }
    }

    /// The user's price for `call` (its response model's, else its request model's, else its
    /// tool's), with the model it was set for.
    fn override_of<'c>(&self, call: &Call<'c>) -> Option<(&'c str, &UsdRate)> {
        [call.response_model, call.request_model, call.tool_name]
            .into_iter()
            .flatten()
            .find_map(|model| Some((model, self.overrides.get(model)?)))
    }

    /// The variant of the user's price that prices `call`, when one does: what
    /// `ai.cost.price_context` says of a call `Override` priced.
    pub(crate) fn override_context(&self, call: &Call<'_>) -> Option<String> {
        let (_, rate) = self.override_of(call)?;
        let (_, when) = rate.served(call.served);
        when.map(ServedWhen::describe)
    }

    fn price_unchecked(&self, call: &Call<'_>) -> Priced {
        if let Some((model, rate)) = self.override_of(call) {
            return price_override(model, rate, call);
        }
        let models = [call.response_model, call.request_model];
        let mut models = models.into_iter().flatten();
        let Some(tokens) = call.tokens else {
            // A call to a model with nothing to price it by is said so, never free.
            return match models.next() {
                Some(_) => no_usage(call),
                None => Priced::Nothing,
            };
        };
        let Some(first) = models.next() else {
            return Priced::Unpriced {
                model: String::new(),
                reason: "no model was recorded (`gen_ai.request.model` or `gen_ai.response.model`)"
                    .into(),
                code: UnpricedReason::NoModel,
            };
        };
        if let Some(reason) = invalid_counts(&tokens) {
            return Priced::Unpriced {
                model: first.to_owned(),
                reason: reason.into(),
                code: UnpricedReason::InvalidCounts,
            };
        }
        match self.genai.price(call.provider, first, call.served, &tokens) {
            Ok(usd) => Priced::Cost {
                usd,
                source: CostSource::GenaiPrices,
                data: self.genai_data.clone(),
            },
            // A dated response model the data does not know may still be priced by the
            // request's alias.
            Err(reason) => match models.next().filter(|second| *second != first) {
                Some(second) => {
                    match self
                        .genai
                        .price(call.provider, second, call.served, &tokens)
                    {
                        Ok(usd) => Priced::Cost {
                            usd,
                            source: CostSource::GenaiPrices,
                            data: self.genai_data.clone(),
                        },
                        Err(_) => Priced::Unpriced {
                            model: first.to_owned(),
                            reason,
                            code: UnpricedReason::UnknownModel,
                        },
                    }
                }
                None => Priced::Unpriced {
                    model: first.to_owned(),
                    reason,
                    code: UnpricedReason::UnknownModel,
                },
            },
        }
    }
}

/// Cached tokens are part of the input, reasoning tokens part of the output: counts that say
/// otherwise were reported the provider's way (Anthropic counts cached tokens apart) and would
/// be priced wrong.
fn invalid_counts(tokens: &TokenCounts) -> Option<String> {
    // What each count's parts add up to (none past u64::MAX: such a sum exceeds any count), in
    // one pass over the kinds: every call is checked.
    let mut parts = [Some(0_u64); TokenKind::COUNT];
    for kind in TokenKind::ALL {
        if let Some(whole) = kind.part_of() {
            let sum = &mut parts[whole.index()];
            *sum = sum.and_then(|sum| sum.checked_add(tokens.get(kind)));
        }
    }
    let whole = TokenKind::ALL
        .into_iter()
        .find(|whole| parts[whole.index()].is_none_or(|sum| sum > tokens.get(*whole)))?;
    let parts: Vec<TokenKind> = TokenKind::ALL
        .into_iter()
        .filter(|kind| kind.part_of() == Some(whole) && tokens.get(*kind) > 0)
        .collect();
    let sum: u128 = parts.iter().map(|kind| u128::from(tokens.get(*kind))).sum();
    let named: Vec<String> = parts
        .iter()
        .map(|kind| format!("`{}` {}", kind.name(), tokens.get(*kind)))
        .collect();
    Some(format!(
        "{} ({sum}) exceed {} ({}): `{}` must include them, as in the OpenTelemetry GenAI conventions",
        named.join(" + "),
        whole.name(),
        tokens.get(whole),
        whole.name(),
    ))
}
