//! Default prices from the `genai-prices` data, with what each (provider, model) resolves to
//! cached.
//!
//! `genai_prices::Calculator::calculate` matches the model against the data on every call
//! (2 to 6 µs, and milliseconds the first time a provider's rules compile). Its formula is
//! linear in the usage for every model without tiered prices: a fixed part plus a rate per
//! unit. So the first call for a (provider, model) measures those rates with a few probes,
//! checks them against `calculate` at a small and a very large usage, and later calls are a
//! hash lookup and five multiplications. A model whose check fails (tiered prices, e.g.
//! long-context tiers), or whose price changes within the next day (time-of-day discounts,
//! a price change on a date), is priced by `calculate` on every call instead: slower, never
//! wrong.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use genai_prices::{Calculator, ErrorKind, PriceRequest, Usage as GpUsage, UsageKey};

use super::{ServedAs, TokenCounts};
use crate::facts::TokenKind;
use crate::hash::FastHash;

/// A cached rate is used for this long, then measured again. When it is measured, the data
/// must give the same price at each step over twice that time (the data's time windows start
/// on the quarter hour), so no price change can fall inside the time a rate is used.
const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);
const LOOKAHEAD_STEPS: u32 = 2;
/// A bound on the cache, in case model names come from an unbounded source.
const MAX_CACHED_MODELS: usize = 4096;
/// Probes are made with this many of a unit, as prices are quoted per million.
const PROBE: f64 = 1_000_000.0;

pub(crate) struct GenaiPrices {
    calculator: &'static Calculator,
    /// provider (as given, or "" for none) -> model -> what it resolved to.
    cache: RwLock<HashMap<Box<str>, ModelEntries, FastHash>>,
    /// (provider, model) -> its context window in the data, when it has one: read for a
    /// budget's reservation when the request sets no output limit.
    windows: RwLock<ContextWindows>,
}

/// (provider as given or "", model) -> its context window, when the data has one.
type ContextWindows = HashMap<(Box<str>, Box<str>), Option<u64>, FastHash>;

/// Keyed by model name, so that a lookup by `&str` allocates nothing.
type ModelEntries = HashMap<Box<str>, Arc<Entry>, FastHash>;

/// A model as served: its name, and how it was served (see [`ServedAs`]), which selects its
/// price variant. Cached apart from the model alone, under
/// `{model}\u{1f}service_tier=flex,processing=batch` (a separator no model name has), so that
/// a call served plainly allocates nothing to look its price up.
struct Served<'a> {
    model: &'a str,
    how: ServedAs<'a>,
    key: Option<String>,
}

impl<'a> Served<'a> {
    fn new(model: &'a str, how: ServedAs<'a>) -> Self {
        Self {
            model,
            how,
            key: how.describe().map(|how| format!("{model}\u{1f}{how}")),
        }
    }

    fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(self.model)
    }
}

#[derive(Debug)]
enum Entry {
    /// `fixed + Σ rate × count / 1e6`, checked against the data when measured.
    Linear { rates: Rates, measured: Instant },
    /// Priced by `calculate` on every call.
    Direct,
    /// The data cannot price it; the reason says why.
    Unpriced(Arc<str>),
}

#[derive(Debug, Clone, Copy)]
struct Rates {
    fixed: f64,
    /// Per million tokens of each kind, by [`TokenKind::index`], each as a coefficient on the
    /// raw count (cached tokens are part of the input count).
    per_million: [f64; TokenKind::COUNT],
}

impl Rates {
    fn price(&self, counts: &TokenCounts) -> f64 {
        let mut total = self.fixed;
        for (rate, count) in self.per_million.iter().zip(counts.0) {
            total += rate * count as f64 / PROBE;
        }
        total
    }
}

/// The genai-prices unit each kind of token is counted in.
fn genai_key(kind: TokenKind) -> UsageKey {
    match kind {
        TokenKind::Input => UsageKey::INPUT_TOKENS,
        TokenKind::Output => UsageKey::OUTPUT_TOKENS,
        TokenKind::CacheRead => UsageKey::CACHE_READ_TOKENS,
        TokenKind::CacheWrite => UsageKey::CACHE_WRITE_TOKENS,
        TokenKind::CacheWrite1h => UsageKey::CACHE_WRITE_1H_TOKENS,
        TokenKind::Reasoning => UsageKey::OUTPUT_REASONING_TOKENS,
        TokenKind::AudioInput => UsageKey::INPUT_AUDIO_TOKENS,
        TokenKind::AudioOutput => UsageKey::OUTPUT_AUDIO_TOKENS,
        TokenKind::WebSearches => UsageKey::WEB_SEARCHES,
    }
}

impl TokenCounts {
    fn to_genai(self) -> GpUsage {
        GpUsage::from(TokenKind::ALL.map(|kind| (genai_key(kind), self.get(kind) as f64)))
    }
}

impl std::fmt::Debug for GenaiPrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenaiPrices").finish_non_exhaustive()
    }
}

impl GenaiPrices {
    /// Decodes the bundled data (about 30 ms): done when the layer is built, never on a
    /// request.
    pub(crate) fn bundled() -> Self {
        Self {
            calculator: Calculator::bundled(),
            cache: RwLock::new(HashMap::default()),
            windows: RwLock::new(HashMap::default()),
        }
    }

    /// The context window of `model` in the genai-prices data: the most tokens its request
    /// and answer hold together, so that no answer has more output tokens than it less the
    /// input. `None` when the data does not say (or does not know the model).
    pub(crate) fn context_window(&self, provider: Option<&str>, model: &str) -> Option<u64> {
        let key = (
            Box::<str>::from(provider.unwrap_or("")),
            Box::<str>::from(model),
        );
        if let Some(window) = self
            .windows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return *window;
        }
        let usage = TokenCounts::default().to_genai();
        let mut request = PriceRequest::new(model, &usage);
        if let Some(provider) = provider {
            request = request.with_provider_id(genai_provider_id(provider));
        }
        let window = self.calculator.calculate(&request).ok().and_then(|price| {
            self.calculator
                .find_provider(Some(&price.provider_id), None)
                .ok()
                .flatten()?
                .models()
                .find(|found| found.id() == price.model_id)?
                .context_window()
        });
        let mut windows = self.windows.write().unwrap_or_else(PoisonError::into_inner);
        if windows.len() < MAX_CACHED_MODELS {
            windows.insert(key, window);
        }
        window
    }

    #[cfg(feature = "__bench")]
    pub(crate) fn forget(&self) {
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The USD cost of `counts` on `model`, served as `how` says (its price variant in the
    /// data, if it has one), or why it has none.
    pub(crate) fn price(
        &self,
        provider: Option<&str>,
        model: &str,
        how: ServedAs<'_>,
        counts: &TokenCounts,
    ) -> Result<f64, Arc<str>> {
        let served = Served::new(model, how);
        let cached = {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            match cache
                .get(provider.unwrap_or(""))
                .and_then(|models| models.get(served.key()))
            {
                // The common case, under the read lock and without touching the `Arc`.
                Some(entry) => match &**entry {
                    Entry::Linear { rates, measured } if measured.elapsed() <= REFRESH_AFTER => {
                        return Ok(rates.price(counts));
                    }
                    Entry::Linear { .. } => None,
                    _ => Some(entry.clone()),
                },
                None => None,
            }
        };
        let entry = cached.unwrap_or_else(|| self.resolve(provider, &served));
        match &*entry {
            Entry::Linear { rates, .. } => Ok(rates.price(counts)),
            Entry::Direct => self.calculate(provider, &served, *counts, SystemTime::now()),
            Entry::Unpriced(reason) => Err(reason.clone()),
        }
    }

    #[cfg(test)]
    fn cached(&self, provider: Option<&str>, model: &str) -> Option<Arc<Entry>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(provider.unwrap_or(""))?.get(model).cloned()
    }

    /// Works out what `served` resolves to, outside of any lock (the first call of a provider
    /// can take milliseconds), then caches it.
    fn resolve(&self, provider: Option<&str>, served: &Served<'_>) -> Arc<Entry> {
        let entry = Arc::new(self.measure(provider, served, SystemTime::now()));
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        let cached_models: usize = cache.values().map(HashMap::len).sum();
        if cached_models < MAX_CACHED_MODELS {
            cache
                .entry(provider.unwrap_or("").into())
                .or_default()
                .insert(served.key().into(), entry.clone());
        }
        entry
    }

    fn measure(&self, provider: Option<&str>, served: &Served<'_>, now: SystemTime) -> Entry {
        let at = |counts: TokenCounts| self.calculate(provider, served, counts, now);
        let fixed = match at(TokenCounts::default()) {
            Ok(fixed) => fixed,
            Err(reason) => return Entry::Unpriced(reason),
        };
        let million = PROBE as u64;
        // A part (cached input, reasoning output) is measured within a million of its whole
        // (and of that one's whole, for the one-hour cache writes), as it is counted: what it
        // adds is its rate minus its whole's.
        let probes = (|| -> Result<Rates, Arc<str>> {
            let mut per_million = [0.0; TokenKind::COUNT];
            for kind in TokenKind::ALL {
                let mut base = TokenCounts::default();
                let mut whole = kind.part_of();
                while let Some(outer) = whole {
                    base.0[outer.index()] = million;
                    whole = outer.part_of();
                }
                let mut probe = base;
                probe.0[kind.index()] = million;
                let base = if base == TokenCounts::default() {
                    fixed
                } else {
                    at(base)?
                };
                per_million[kind.index()] = at(probe)? - base;
            }
            Ok(Rates { fixed, per_million })
        })();
        let Ok(rates) = probes else {
            return Entry::Direct;
        };
        let checks = [
            TokenCounts::of(&[
                (TokenKind::Input, 1_234),
                (TokenKind::Output, 567),
                (TokenKind::CacheRead, 200),
                (TokenKind::CacheWrite, 100),
                (TokenKind::CacheWrite1h, 40),
                (TokenKind::Reasoning, 50),
                (TokenKind::AudioInput, 300),
                (TokenKind::AudioOutput, 40),
                (TokenKind::WebSearches, 3),
            ]),
            // Past every long-context tier in the data, so that tiered prices fail the check.
            TokenCounts::of(&[
                (TokenKind::Input, 3_000_000),
                (TokenKind::Output, 40_000),
                (TokenKind::CacheRead, 1_000_000),
                (TokenKind::CacheWrite, 500_000),
                (TokenKind::CacheWrite1h, 200_000),
                (TokenKind::Reasoning, 10_000),
                (TokenKind::AudioInput, 200_000),
                (TokenKind::AudioOutput, 5_000),
                (TokenKind::WebSearches, 2_000),
            ]),
        ];
        let linear = checks.iter().all(|counts| {
            self.calculate(provider, served, *counts, now)
                .is_ok_and(|exact| close_enough(rates.price(counts), exact))
        });
        let constant = (1..=LOOKAHEAD_STEPS).all(|step| {
            self.calculate(provider, served, checks[0], now + REFRESH_AFTER * step)
                .is_ok_and(|later| close_enough(rates.price(&checks[0]), later))
        });
        if linear && constant {
            Entry::Linear {
                rates,
                measured: Instant::now(),
            }
        } else {
            Entry::Direct
        }
    }

    fn calculate(
        &self,
        provider: Option<&str>,
        served: &Served<'_>,
        counts: TokenCounts,
        at: SystemTime,
    ) -> Result<f64, Arc<str>> {
        let model = served.model;
        let usage = counts.to_genai();
        let mut request = PriceRequest::new(model, &usage).with_timestamp(at);
        if let Some(provider) = provider {
            request = request.with_provider_id(genai_provider_id(provider));
        }
        for (key, value) in served.how.context() {
            request = request.with_price_context(key, value);
        }
        match self.calculator.calculate(&request) {
            Ok(price) => Ok(price.total_price),
            Err(error) => Err(match error.kind() {
                ErrorKind::ModelNotFound => match provider {
                    Some(provider) => format!(
                        "model `{model}` is not in the genai-prices data for provider `{provider}`; set its price on the layer"
                    ),
                    None => format!("model `{model}` is not in the genai-prices data; set its price on the layer"),
                },
                ErrorKind::ProviderNotFound => match provider {
                    Some(provider) => format!(
                        "provider `{provider}` is not in the genai-prices data; set a price for model `{model}` on the layer"
                    ),
                    None => format!(
                        "no provider was recorded and no provider in the genai-prices data serves model `{model}`; \
                         record `gen_ai.provider.name` or set the model's price on the layer"
                    ),
                },
                _ => format!("genai-prices could not price model `{model}`: {error}"),
            }
            .into()),
        }
    }
}

fn close_enough(derived: f64, exact: f64) -> bool {
    (derived - exact).abs() <= 1e-12 + 1e-9 * exact.abs()
}

/// `gen_ai.provider.name` as the semantic conventions spell it, in the spelling of the
/// genai-prices data.
pub(crate) fn genai_provider_id(provider: &str) -> &str {
    match provider {
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" => "google",
        "aws.bedrock" => "aws",
        "azure.ai.openai" | "azure.ai.inference" => "azure",
        "mistral_ai" => "mistral",
        "x_ai" => "x-ai",
        other => other,
    }
}

#[cfg(test)]
mod context_window_tests {
    use super::GenaiPrices;

    #[test]
    fn the_data_gives_a_models_context_window() {
        let prices = GenaiPrices::bundled();
        assert_eq!(
            prices.context_window(Some("openai"), "gpt-4o-mini"),
            Some(128_000)
        );
        // A dated name matches as prices do.
        assert_eq!(
            prices.context_window(Some("openai"), "gpt-4o-mini-2024-07-18"),
            Some(128_000)
        );
        assert_eq!(prices.context_window(Some("openai"), "no-such-model"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prices: &GenaiPrices, provider: &str, model: &str) -> Arc<Entry> {
        let counts = TokenCounts::default();
        let _ = prices.price(Some(provider), model, ServedAs::default(), &counts);
        prices.cached(Some(provider), model).expect("cached")
    }

    #[test]
    fn flat_prices_are_cached_as_rates_and_agree_with_the_data() {
        let prices = GenaiPrices::bundled();
        assert!(matches!(
            *entry(&prices, "openai", "gpt-4o"),
            Entry::Linear { .. }
        ));
        let counts = TokenCounts::of(&[
            (TokenKind::Input, 12_345),
            (TokenKind::Output, 678),
            (TokenKind::CacheRead, 10_000),
        ]);
        let cached = prices
            .price(Some("openai"), "gpt-4o", ServedAs::default(), &counts)
            .expect("priced");
        let exact = prices
            .calculate(
                Some("openai"),
                &Served::new("gpt-4o", ServedAs::default()),
                counts,
                SystemTime::now(),
            )
            .expect("priced");
        assert!(close_enough(cached, exact), "{cached} != {exact}");
    }

    /// A service tier's price variant is cached apart from the model's standard price, each
    /// as the rates the data gives (gpt-5: $1.25 in, $10 out per million; flex half that), and
    /// a tier the data has no variant for is the standard price.
    #[test]
    fn a_service_tier_is_priced_and_cached_apart_from_its_model() {
        let prices = GenaiPrices::bundled();
        let counts =
            TokenCounts::of(&[(TokenKind::Input, 1_000_000), (TokenKind::Output, 100_000)]);
        let price = |service_tier| {
            let how = ServedAs {
                service_tier,
                batch: false,
                other: &[],
            };
            prices
                .price(Some("openai"), "gpt-5", how, &counts)
                .expect("priced")
        };
        for _ in 0..2 {
            assert!((price(None) - 2.25).abs() < 1e-9);
            assert!((price(Some("flex")) - 1.125).abs() < 1e-9);
            assert!((price(Some("no-such-tier")) - 2.25).abs() < 1e-9);
        }
        let cache = prices.cache.read().unwrap_or_else(PoisonError::into_inner);
        let models = cache.get("openai").expect("cached");
        assert!(matches!(
            **models.get("gpt-5").expect("standard"),
            Entry::Linear { .. }
        ));
        assert!(matches!(
            **models.get("gpt-5\u{1f}service_tier=flex").expect("flex"),
            Entry::Linear { .. }
        ));
    }

    #[test]
    fn tiered_prices_are_never_cached_as_rates() {
        let prices = GenaiPrices::bundled();
        assert!(matches!(
            *entry(&prices, "google", "gemini-2.5-pro"),
            Entry::Direct
        ));
    }

    #[test]
    fn a_cached_rate_holds_for_as_long_as_it_is_used_even_across_a_price_change() {
        // DeepSeek's off-peak discount: the same call costs half as much from 16:30 to 00:30
        // UTC. Measured at any time of day, a rate that gets cached must be the data's price
        // at every moment until it is measured again.
        use std::time::UNIX_EPOCH;
        let prices = GenaiPrices::bundled();
        let day = UNIX_EPOCH + Duration::from_secs(1_793_577_600); // 2026-11-02T00:00Z
        let counts = TokenCounts::of(&[(TokenKind::Input, 5_000), (TokenKind::Output, 1_000)]);
        let (mut linear, mut direct) = (0, 0);
        for minute in (0..24 * 60).step_by(5) {
            let measured_at = day + Duration::from_secs(minute * 60);
            match prices.measure(
                Some("deepseek"),
                &Served::new("deepseek-chat", ServedAs::default()),
                measured_at,
            ) {
                Entry::Linear { rates, .. } => {
                    linear += 1;
                    for later in (0..=REFRESH_AFTER.as_secs()).step_by(60) {
                        let at = measured_at + Duration::from_secs(later);
                        let exact = prices
                            .calculate(
                                Some("deepseek"),
                                &Served::new("deepseek-chat", ServedAs::default()),
                                counts,
                                at,
                            )
                            .expect("priced");
                        assert!(
                            close_enough(rates.price(&counts), exact),
                            "measured at minute {minute}, wrong {later} s later"
                        );
                    }
                }
                Entry::Direct => direct += 1,
                Entry::Unpriced(reason) => panic!("{reason}"),
            }
        }
        // Both happen: cached rates most of the day, `calculate` near the changes.
        assert!(
            linear > 200 && direct > 0,
            "{linear} linear, {direct} direct"
        );
    }

    #[test]
    fn unknown_models_and_providers_are_cached_with_their_reason() {
        let prices = GenaiPrices::bundled();
        match &*entry(&prices, "openai", "gpt-99-ultra") {
            Entry::Unpriced(reason) => assert!(reason.contains("gpt-99-ultra"), "{reason}"),
            other => panic!("{other:?}"),
        }
        match &*entry(&prices, "acme", "gpt-4o") {
            Entry::Unpriced(reason) => assert!(reason.contains("provider `acme`"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
