//! The builder's options of one group: prices and currencies.

use std::path::PathBuf;
use std::sync::Arc;

use super::AiLayerBuilder;
use crate::estimate::{Estimator, TokenEstimator};
use crate::pricing::{ModelPrice, PricesSource};

/// # Prices and currencies
///
/// How a call is priced, and in which currencies its cost is reported.
impl AiLayerBuilder {
    /// Sets the price of `model`, checked before the genai-prices data. It applies when the
    /// request or the response model of a call is exactly `model`.
    ///
    /// By default every model is priced from the genai-prices data bundled with the crate,
    /// and a model it does not know is exported without a cost, with `ai.cost.unpriced`
    /// saying why.
    pub fn with_model_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.prices.code.push((model.into(), price));
        self
    }

    /// Loads model prices from a TOML file when the layer is built. A price given with
    /// [`with_model_price`](Self::with_model_price) wins over the file's.
    ///
    /// ```toml
    /// # Amounts are per million tokens, in USD unless `currency` says otherwise.
    /// [models."my-fine-tune"]
    /// input = 0.30
    /// output = 1.20
    /// cache_read = 0.03    # optional, defaults to `input`
    /// cache_write = 0.375  # optional, defaults to `input`
    ///
    /// # A self-hosted model: its calls cost their duration at this rate.
    /// [models."llama-3.1-8b-fp8"]
    /// gpu_hour = 1.85
    /// currency = "GBP"
    /// ```
    ///
    /// A file that cannot be read or has a mistake makes [`build`](Self::build) fail with a
    /// [`PricesFileError`](crate::PricesFileError) that names the line and the field. By
    /// default no file is read.
    pub fn with_prices_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.prices.files.push(PricesSource::File(path.into()));
        self
    }

    /// Loads model prices from TOML text, in the format of
    /// [`with_prices_file`](Self::with_prices_file). By default there is none.
    pub fn with_prices_toml(mut self, toml: impl Into<String>) -> Self {
        self.prices.files.push(PricesSource::Text(toml.into()));
        self
    }

    /// Sets the exchange rate of a currency prices are given in: how many units of `code`
    /// one USD buys. Rates are fixed: the layer never makes a network call.
    ///
    /// By default there is no rate: a price in a currency other than USD makes
    /// [`build`](Self::build) fail, saying which rate to set.
    pub fn with_exchange_rate(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        self.prices.rates.push((code.into(), per_usd));
        self
    }

    /// Says on which day the exchange rate of `code` was taken (`YYYY-MM-DD`): a converted
    /// cost then says it beside the rate (`ai.cost.exchange_rate_date`), so that a finance team
    /// can check it later. By default no date is exported.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_reporting_currency("GBP", 0.79)
    ///     .with_exchange_rate_date("GBP", "2026-11-30")
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_exchange_rate_date(mut self, code: impl Into<String>, date: &str) -> Self {
        self.prices.rate_dates.push((code.into(), date.to_owned()));
        self
    }

    /// Reports every cost in `code` as well as in USD, at `per_usd` units of `code` per USD:
    /// `ai.cost.amount` and `ai.cost.currency` beside `gen_ai.usage.cost`. By default costs are
    /// reported in USD only.
    pub fn with_reporting_currency(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        let code = code.into();
        self.prices.rates.push((code.clone(), per_usd));
        self.prices.reporting = Some(code);
        self
    }

    /// Estimates the usage of a call that ended without any (a stream dropped before its last
    /// chunk, a server that reports no counts) with `estimator`, from the text of its
    /// `input = ...`: its cost is then exported, marked `ai.cost.source = estimated`, rather
    /// than missing from the spend. See [`estimate`](crate::estimate); with the
    /// `tiktoken-rs` feature, [`Tiktoken`](crate::estimate::Tiktoken) counts OpenAI's
    /// models' tokens.
    ///
    /// By default there is no estimator: a call that ends without usage is exported without
    /// a cost (`ai.cost.unpriced = "no_usage"`) and counted in `ai.client.unpriced_calls`.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     // One token per four bytes, for every model: a rough estimate is better than none.
    ///     .with_token_estimator(|_model: &str, text: &str| Some(text.len() as u64 / 4))
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_token_estimator(mut self, estimator: impl TokenEstimator) -> Self {
        self.estimator = Some(Estimator(Arc::new(estimator)));
        self
    }
}
