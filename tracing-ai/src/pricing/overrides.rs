//! The user's own prices, checked and converted to USD, and how they price a call: by its
//! tokens, its GPU time or its fee, at the variant for how it was served.

use std::sync::Arc;

use super::price::{self, ModelPrice, Rate, ServedWhen};
use super::{
    invalid_counts, no_usage, Call, CostSource, Currencies, Priced, ServedAs, UnpricedReason,
};
use crate::error::ConfigError;

/// A user's price, checked, with its amounts converted to USD, and where it was given.
#[derive(Clone, Debug)]
pub(super) struct UsdRate {
    pub(super) rate: Rate,
    /// The fee of each call, in USD.
    per_call: f64,
    data: Arc<str>,
    /// The prices of calls served otherwise, first match wins (batch first).
    pub(super) variants: Vec<(ServedWhen, UsdRate)>,
}

impl UsdRate {
    /// Checks `price` (for `model`, its variant `path` when it is one) and converts it to USD.
    pub(super) fn new(
        model: &str,
        path: Option<String>,
        price: ModelPrice,
        currencies: &Currencies,
        data: &Arc<str>,
    ) -> Result<Self, ConfigError> {
        let named = match &path {
            // Reads "model `gpt-5` at `service_tier.flex`" in the errors.
            Some(path) => format!("{model}` at `{path}"),
            None => model.to_owned(),
        };
        for (field, amount) in price.amounts() {
            if !price::is_valid_amount(amount) {
                return Err(ConfigError::invalid_price(&named, field, amount));
            }
        }
        let Some(usd) = currencies.usd_per_unit(&price.currency) else {
            return Err(ConfigError::missing_exchange_rate(
                &price.currency,
                Some(&named),
            ));
        };
        let variants = price
            .variants
            .into_iter()
            .map(|(when, variant)| {
                let path = when.file_path();
                Ok((
                    when,
                    Self::new(model, Some(path), variant, currencies, data)?,
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            rate: price.rate.scaled(usd),
            per_call: price.per_call * usd,
            data: data.clone(),
            variants,
        })
    }

    /// The price of a call served as `served`: a variant's when one matches, with it.
    pub(super) fn served(&self, served: ServedAs<'_>) -> (&UsdRate, Option<&ServedWhen>) {
        self.variants
            .iter()
            .find(|(when, _)| when.matches(served))
            .map_or((self, None), |(when, rate)| (rate, Some(when)))
    }
}

pub(super) fn price_override(model: &str, price: &UsdRate, call: &Call<'_>) -> Priced {
    let (price, _) = price.served(call.served);
    match price.rate {
        Rate::GpuHour(usd_per_hour) => Priced::Cost {
            usd: usd_per_hour * call.duration.as_secs_f64() / 3600.0 + price.per_call,
            source: CostSource::SelfHosted,
            data: price.data.clone(),
        },
        // Billed by the call, whatever it used; a failed call, as a failed model call, is not.
        Rate::Fee if call.failed => no_usage(call),
        Rate::Fee => Priced::Cost {
            usd: price.per_call,
            source: CostSource::Override,
            data: price.data.clone(),
        },
        Rate::Tokens(rates) => {
            let Some(tokens) = call.tokens else {
                return no_usage(call);
            };
            if let Some(reason) = invalid_counts(&tokens) {
                return Priced::Unpriced {
                    model: model.to_owned(),
                    reason: reason.into(),
                    code: UnpricedReason::InvalidCounts,
                };
            }
            Priced::Cost {
                // Checked above: the parts, added without overflow, are within their wholes.
                usd: rates.price(&tokens) + price.per_call,
                source: CostSource::Override,
                data: price.data.clone(),
            }
        }
    }
}
