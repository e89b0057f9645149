//! Where a layer's prices come from, kept so that they can be read again: a prices file that
//! changes takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::{self, sha256};
use super::price::ModelPrice;
use super::{Currencies, Pricing, CODE_DATA};
use crate::error::ConfigError;

/// A prices file, or prices given as TOML text.
#[derive(Clone, Debug)]
pub(crate) enum PricesSource {
    File(PathBuf),
    Text(String),
}

/// Every source of a layer's prices and exchange rates, in the order they apply.
#[derive(Clone, Debug, Default)]
pub(crate) struct PriceSources {
    pub(crate) files: Vec<PricesSource>,
    /// Prices given in code, after the files: they win.
    pub(crate) code: Vec<(String, ModelPrice)>,
    pub(crate) rates: Vec<(String, f64)>,
    /// The day each rate was taken, by currency, when the application said.
    pub(crate) rate_dates: Vec<(String, String)>,
    pub(crate) reporting: Option<String>,
}

impl PriceSources {
    /// Reads every source and checks every price and rate: the prices a layer uses. Each
    /// price carries what it came from: a file's name and digest, or `code`.
    pub(crate) fn load(&self) -> Result<Pricing, ConfigError> {
        let mut currencies = Currencies::default();
        for (code, per_usd) in &self.rates {
            currencies.set_rate(code, *per_usd)?;
        }
        for (code, date) in &self.rate_dates {
            currencies.set_rate_date(code, date)?;
        }
        if let Some(code) = &self.reporting {
            currencies.set_reporting(code);
        }
        let mut prices = Vec::new();
        for source in &self.files {
            let (loaded, data) = match source {
                PricesSource::File(path) => {
                    let (loaded, digest) = file::load(path)?;
                    (loaded, file_data(path, &digest))
                }
                PricesSource::Text(text) => {
                    let loaded = file::parse(text)?;
                    (loaded, format!("prices text sha256:{}", sha256(text)))
                }
            };
            let data: Arc<str> = data.into();
            prices.extend(
                loaded
                    .into_iter()
                    .map(|(model, price)| (model, price, data.clone())),
            );
        }
        let code: Arc<str> = CODE_DATA.into();
        prices.extend(
            self.code
                .iter()
                .map(|(model, price)| (model.clone(), price.clone(), code.clone())),
        );
        Pricing::new(prices, currencies)
    }

    /// The prices files, to watch.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().filter_map(|source| match source {
            PricesSource::File(path) => Some(path.as_path()),
            PricesSource::Text(_) => None,
        })
    }
}

/// `prices.toml sha256:…`: the file's name and the digest `sha256sum` prints for it.
fn file_data(path: &Path, digest: &str) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    format!("{name} sha256:{digest}")
}
