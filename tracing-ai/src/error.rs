//! Errors of the layer's configuration.

use std::error::Error;
use std::fmt;

use crate::pricing::PricesFileError;

/// A configuration the layer cannot work with: a bad price, currency or prices file, or a bad
/// sampling setting.
///
/// Its message says what is wrong and what to change.
///
/// ```
/// use tracing_ai::{AiLayer, ModelPrice};
///
/// let error = AiLayer::builder()
///     .with_model_price("my-model", ModelPrice::per_million_tokens(-1.0, 2.0))
///     .build()
///     .unwrap_err();
/// assert!(error.to_string().contains("`input` price of model `my-model`"));
/// ```
#[derive(Debug)]
pub struct ConfigError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    InvalidPrice {
        model: String,
        field: &'static str,
        amount: f64,
    },
    InvalidCurrencyCode(String),
    InvalidExchangeRate {
        code: String,
        per_usd: f64,
    },
    MissingExchangeRate {
        code: String,
        model: Option<String>,
    },
    PricesFile(PricesFileError),
    UntrustableBaggage(String),
    /// A content-capture setting: what is wrong, said whole.
    InvalidContentSetting(String),
    #[cfg_attr(not(feature = "sampling"), allow(dead_code))]
    InvalidSampling {
        setting: &'static str,
        value: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid_price(model: &str, field: &'static str, amount: f64) -> Self {
        Self {
            kind: Kind::InvalidPrice {
                model: model.to_owned(),
                field,
                amount,
            },
        }
    }

    pub(crate) fn untrustable_baggage(message: String) -> Self {
        Self {
            kind: Kind::UntrustableBaggage(message),
        }
    }

    pub(crate) fn invalid_content_setting(message: String) -> Self {
        Self {
            kind: Kind::InvalidContentSetting(message),
        }
    }

    pub(crate) fn invalid_currency_code(code: &str) -> Self {
        Self {
            kind: Kind::InvalidCurrencyCode(code.to_owned()),
        }
    }

    pub(crate) fn invalid_exchange_rate(code: &str, per_usd: f64) -> Self {
        Self {
            kind: Kind::InvalidExchangeRate {
                code: code.to_owned(),
                per_usd,
            },
        }
    }

    pub(crate) fn missing_exchange_rate(code: &str, model: Option<&str>) -> Self {
        Self {
            kind: Kind::MissingExchangeRate {
                code: code.to_owned(),
                model: model.map(str::to_owned),
            },
        }
    }

    #[cfg(feature = "sampling")]
    pub(crate) fn invalid_sampling(setting: &'static str, value: String) -> Self {
        Self {
            kind: Kind::InvalidSampling { setting, value },
        }
    }

    /// The prices file error behind this one, if a prices file was the problem.
    pub fn prices_file(&self) -> Option<&PricesFileError> {
        match &self.kind {
            Kind::PricesFile(error) => Some(error),
            _ => None,
        }
    }
}

impl From<PricesFileError> for ConfigError {
    fn from(error: PricesFileError) -> Self {
        Self {
            kind: Kind::PricesFile(error),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InvalidPrice { model, field, amount } => write!(
                f,
                "the `{field}` price of model `{model}` is {amount}; a price must be a finite number, zero or more"
            ),
            Kind::InvalidCurrencyCode(code) => write!(
                f,
                "`{code}` is not a currency code; use an ISO 4217 code of three capital letters, such as `GBP`"
            ),
            Kind::InvalidExchangeRate { code, per_usd } => write!(
                f,
                "the exchange rate of {code} is {per_usd}; give how many {code} one USD buys, a finite number above zero"
            ),
            Kind::MissingExchangeRate { code, model: Some(model) } => write!(
                f,
                "the price of model `{model}` is in {code}, but no exchange rate for {code} is set; \
                 add `.with_exchange_rate(\"{code}\", <{code} per USD>)` to the builder"
            ),
            Kind::MissingExchangeRate { code, model: None } => write!(
                f,
                "costs are reported in {code}, but no exchange rate for {code} is set; \
                 use `.with_reporting_currency(\"{code}\", <{code} per USD>)`"
            ),
            Kind::PricesFile(error) => error.fmt(f),
            Kind::UntrustableBaggage(message) | Kind::InvalidContentSetting(message) => {
                f.write_str(message)
            }
            Kind::InvalidSampling { setting, value } => {
                let expected = match *setting {
                    "keep_cost_above" => "an amount in USD, zero or more",
                    "max_held_spans" => "a number of spans above zero",
                    _ => "a number from 0 to 1, such as 0.05 to keep one trace in twenty",
                };
                write!(f, "`{setting}` is `{value}`; expected {expected}")
            }
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            Kind::PricesFile(error) => Some(error),
            _ => None,
        }
    }
}
