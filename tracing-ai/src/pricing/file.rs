//! Prices loaded from a TOML file.
//!
//! ```toml
//! # Amounts are per million tokens, in USD unless `currency` says otherwise.
//! [models."my-fine-tune"]
//! input = 0.30
//! output = 1.20
//! cache_read = 0.03    # optional, defaults to `input`
//! cache_write = 0.375  # optional, defaults to `input`
//! cache_write_1h = 0.6 # optional: writes kept an hour; defaults to `cache_write`
//! audio_input = 1.00   # optional, defaults to `input`
//! audio_output = 4.00  # optional, defaults to `output`
//! web_searches = 10.0  # optional: per thousand searches on the provider's side; else free
//!
//! # A self-hosted model on a rented GPU: its calls cost their duration at this rate.
//! [models."llama-3.1-8b-fp8"]
//! gpu_hour = 1.85
//! currency = "GBP"
//!
//! # A tool billed by the call (its `kind = "tool"` spans, by `gen_ai.tool.name`); beside token
//! # or GPU-hour prices, `per_call` is a fee each call adds.
//! [models."web_search"]
//! per_call = 0.01
//!
//! # Prices of the calls served otherwise: at a service tier (the response's, else the
//! # request's), or through the Batch API (which wins over a tier). Each is a whole price,
//! # in its model's currency unless it says otherwise.
//! [models."gpt-5"]
//! input = 1.25
//! output = 10.00
//! [models."gpt-5".service_tier.flex]
//! input = 0.625
//! output = 5.00
//! [models."gpt-5".batch]
//! input = 0.625
//! output = 5.00
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::price::{file_key, ModelPrice};
use crate::error::PricesFileError;
use crate::facts::TokenKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    #[serde(default)]
    models: BTreeMap<String, Spanned<FileModel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    input: Option<Spanned<f64>>,
    output: Option<Spanned<f64>>,
    cache_read: Option<Spanned<f64>>,
    cache_write: Option<Spanned<f64>>,
    cache_write_1h: Option<Spanned<f64>>,
    audio_input: Option<Spanned<f64>>,
    audio_output: Option<Spanned<f64>>,
    web_searches: Option<Spanned<f64>>,
    gpu_hour: Option<Spanned<f64>>,
    per_call: Option<Spanned<f64>>,
    currency: Option<Spanned<String>>,
    /// The prices of the calls served at a service tier, by tier.
    #[serde(default)]
    service_tier: BTreeMap<String, Spanned<Box<FileModel>>>,
    /// The price of the calls made through the Batch API.
    batch: Option<Spanned<Box<FileModel>>>,
}

/// The largest prices file read: some thousand times what a price list of every model there is
/// takes, and small enough that a wrong path (a log, a model's weights) fails at once rather
/// than filling memory.
pub(crate) const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads prices from a TOML file; with them, the SHA-256 of the file's bytes, in hex.
pub(crate) fn load(path: &Path) -> Result<(Vec<(String, ModelPrice)>, String), PricesFileError> {
    let failed = |message: String| PricesFileError {
        path: Some(path.to_owned()),
        line: None,
        field: None,
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
    let mut text = String::new();
    // One byte over the limit is enough to know the file is too large.
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_FILE_BYTES + 1),
        &mut text,
    )
    .map_err(|e| failed(format!("cannot be read: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(format!(
            "is larger than {} MiB: a prices file lists models and their prices, \
             is this the right file?",
            MAX_FILE_BYTES >> 20
        )));
    }
    let prices = parse(&text).map_err(|error| PricesFileError {
        path: Some(path.to_owned()),
        ..error
    })?;
    Ok((prices, sha256(&text)))
}

/// The SHA-256 of `text`'s bytes, in lowercase hex, as `sha256sum` prints it.
pub(crate) fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// An error about the text at `span` of the prices file `text`.
fn error_at(
    text: &str,
    span: Option<Range<usize>>,
    field: Option<String>,
    message: String,
) -> PricesFileError {
    PricesFileError {
        path: None,
        line: span.map(|span| line_of(text, span.start)),
        field,
        message,
    }
}

/// Reads prices from TOML text.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, ModelPrice)>, PricesFileError> {
    let error = |span: Option<Range<usize>>, field: Option<String>, message: String| {
        error_at(text, span, field, message)
    };
    let file: PricesFile = toml::from_str(text).map_err(|e| {
        let field = e.span().and_then(|span| field_at(text, span.start));
        error(e.span(), field, e.message().trim_end().to_owned())
    })?;
    let mut prices = Vec::with_capacity(file.models.len());
    for (model, entry) in file.models {
        let span = entry.span();
        let path = format!("models.\"{model}\"");
        let price = price_of(text, &path, span, entry.into_inner(), None)?;
        prices.push((model, price));
    }
    Ok(prices)
}

/// The price of the table at `path` (a model's, or one of its variants' when `parent` is the
/// model's currency), from `span` in `text`.
fn price_of(
    text: &str,
    path: &str,
    span: Range<usize>,
    entry: FileModel,
    parent: Option<&str>,
) -> Result<ModelPrice, PricesFileError> {
    let error = |span: Option<Range<usize>>, field: Option<String>, message: String| {
        error_at(text, span, field, message)
    };
    let path_of = |field: &str| format!("{path}.{field}");
    // The counts priced apart from their whole (cached input, reasoning...) or from the
    // tokens (web searches), each under its file key.
    let parts = [
        (TokenKind::CacheRead, &entry.cache_read),
        (TokenKind::CacheWrite, &entry.cache_write),
        (TokenKind::CacheWrite1h, &entry.cache_write_1h),
        (TokenKind::AudioInput, &entry.audio_input),
        (TokenKind::AudioOutput, &entry.audio_output),
        (TokenKind::WebSearches, &entry.web_searches),
    ];
    let amounts = [("input", &entry.input), ("output", &entry.output)]
        .into_iter()
        .chain(
            parts
                .iter()
                .map(|(kind, amount)| (file_key(*kind), *amount)),
        )
        .chain([("gpu_hour", &entry.gpu_hour), ("per_call", &entry.per_call)]);
    for (name, amount) in amounts {
        if let Some(amount) = amount {
            let value = *amount.get_ref();
            if !super::price::is_valid_amount(value) {
                return Err(error(
                    Some(amount.span()),
                    Some(path_of(name)),
                    format!("a price must be a finite number, zero or more, not {value}"),
                ));
            }
        }
    }
    let value = |amount: &Option<Spanned<f64>>| amount.as_ref().map(|a| *a.get_ref());
    let no_parts = parts.iter().all(|(_, amount)| amount.is_none());
    let price = match (&entry.gpu_hour, &entry.input, &entry.output) {
        (None, None, None) if entry.per_call.is_some() && no_parts => {
            // The fee is set below, as beside any other price.
            ModelPrice::per_call(0.0)
        }
        (Some(gpu_hour), None, None) if no_parts => {
            ModelPrice::per_gpu_hour(*gpu_hour.get_ref())
        }
        (Some(gpu_hour), _, _) => {
            return Err(error(
                Some(gpu_hour.span()),
                Some(path_of("gpu_hour")),
                "a model is priced either per GPU-hour or per token, not both: remove `gpu_hour` or the token prices".to_owned(),
            ))
        }
        (None, Some(input), Some(output)) => {
            let mut price = ModelPrice::per_million_tokens(*input.get_ref(), *output.get_ref());
            for (kind, amount) in parts {
                if let Some(amount) = value(amount) {
                    price = price.with_quoted(kind, amount);
                }
            }
            price
        }
        (None, input, _) => {
            let missing = if input.is_none() { "input" } else { "output" };
            return Err(error(
                Some(span),
                Some(path_of(missing)),
                "missing: a token price needs both `input` and `output` (per million tokens), or give `gpu_hour` or `per_call` instead".to_owned(),
            ));
        }
    };
    let price = match value(&entry.per_call) {
        Some(per_call) => price.with_per_call(per_call),
        None => price,
    };
    // A variant is in its model's currency unless it says otherwise.
    let currency = match &entry.currency {
        Some(currency) => {
            let code = currency.get_ref();
            if let Err(invalid) = super::check_currency_code(code) {
                return Err(error(
                    Some(currency.span()),
                    Some(path_of("currency")),
                    invalid.to_string(),
                ));
            }
            Some(code.as_str())
        }
        None => parent,
    };
    let mut price = match currency {
        Some(code) => price.in_currency(code),
        None => price,
    };
    let variants = entry
        .service_tier
        .into_iter()
        .map(|(tier, variant)| (format!("service_tier.{tier}"), Some(tier), variant))
        .chain(entry.batch.map(|batch| ("batch".to_owned(), None, batch)));
    for (field, tier, variant) in variants {
        let span = variant.span();
        if parent.is_some() {
            return Err(error(
                Some(span),
                Some(path_of(&field)),
                "a variant's price has no variants of its own: move this table under the model"
                    .to_owned(),
            ));
        }
        let currency = Some(price.currency.as_str());
        let variant = price_of(
            text,
            &path_of(&field),
            span,
            *variant.into_inner(),
            currency,
        )?;
        price = match tier {
            Some(tier) => price.with_service_tier(tier, variant),
            None => price.with_batch(variant),
        };
    }
    Ok(price)
}

/// The TOML path of the key written on the line at `offset`, under the table header above it:
/// toml's errors carry a span but not the key they are about.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |line: &str| {
        line.strip_prefix('[')
            .and_then(|rest| rest.split(']').next())
            .map(|name| name.trim_matches('[').trim().to_owned())
    };
    if line.starts_with('[') {
        return header(line);
    }
    let key = line.split_once('=')?.0.trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .and_then(header);
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
