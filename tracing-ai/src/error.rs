//! Errors of the layer's configuration.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

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
    InvalidRateDate {
        code: String,
        date: String,
    },
    PricesFile(PricesFileError),
    Budget(BudgetError),
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

    pub(crate) fn invalid_rate_date(code: &str, date: &str) -> Self {
        Self {
            kind: Kind::InvalidRateDate {
                code: code.to_owned(),
                // Said back bounded: the value may be anything.
                date: date.chars().take(40).collect(),
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

    /// The budget error behind this one, if a budget (or a budgets file) was the problem.
    pub fn budget(&self) -> Option<&BudgetError> {
        match &self.kind {
            Kind::Budget(error) => Some(error),
            _ => None,
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

impl From<BudgetError> for ConfigError {
    fn from(error: BudgetError) -> Self {
        Self {
            kind: Kind::Budget(error),
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
            Kind::InvalidRateDate { code, date } => write!(
                f,
                "the date of the {code} exchange rate is `{date}`; give the day it was taken as \
                 YYYY-MM-DD, such as 2026-11-30"
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
            Kind::Budget(error) => error.fmt(f),
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
            Kind::Budget(error) => Some(error),
            _ => None,
        }
    }
}

/// A prices file that could not be loaded: where, which field, and what is wrong.
///
/// ```
/// use tracing_ai::AiLayer;
///
/// let error = AiLayer::builder()
///     .with_prices_toml("[models.\"m\"]\ninput = 1.0\noutput = \"cheap\"\n")
///     .build()
///     .unwrap_err();
/// let error = error.prices_file().unwrap();
/// assert_eq!(error.line(), Some(3));
/// assert_eq!(error.field(), Some("models.\"m\".output"));
/// ```
#[derive(Debug)]
pub struct PricesFileError {
    pub(crate) path: Option<PathBuf>,
    pub(crate) line: Option<usize>,
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

impl PricesFileError {
    /// The 1-based line of the mistake, when it has one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The field at fault, as a TOML path such as `models."my-model".input`.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The file, when the prices came from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for PricesFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "prices file `{}`", path.display())?,
            None => f.write_str("prices")?,
        }
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Error for PricesFileError {}

/// A budget that is wrong, said whole: which, what, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetError {
    message: String,
}

impl BudgetError {
    pub(crate) fn new(message: String) -> Self {
        Self { message }
    }
}

impl fmt::Display for BudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BudgetError {}
