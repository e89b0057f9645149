//! The prices a layer uses now: read again from their sources on a call (or when a watched
//! prices file changes), and swapped whole, so that a price change takes effect without a
//! restart. A file that no longer reads is refused, counted, and the old prices kept.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use super::file::sha256;
use super::{PriceSources, Pricing};
use crate::error::ConfigError;

/// A layer's prices and their sources.
#[derive(Debug)]
pub(crate) struct LivePrices {
    current: RwLock<Arc<Pricing>>,
    sources: PriceSources,
    /// Whether some model is priced by its duration, so that spans must be timed: read on
    /// every span's creation, kept apart from the lock.
    needs_duration: AtomicBool,
    applied: AtomicU64,
    refused: AtomicU64,
}

impl LivePrices {
    pub(crate) fn new(pricing: Pricing, sources: PriceSources) -> Self {
        Self {
            needs_duration: AtomicBool::new(pricing.needs_duration()),
            current: RwLock::new(Arc::new(pricing)),
            sources,
            applied: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The prices now. A call closing during a swap is priced whole by the old or the new.
    pub(crate) fn now(&self) -> Arc<Pricing> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn needs_duration(&self) -> bool {
        self.needs_duration.load(Ordering::Relaxed)
    }

    /// Reads every source again; on success the new prices replace the old at once.
    pub(crate) fn reload(&self) -> Result<(), ConfigError> {
        match self.sources.load() {
            Ok(pricing) => {
                let needs_duration = pricing.needs_duration();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pricing);
                // Once timed, spans stay timed: a model priced by GPU time mid-call is priced.
                if needs_duration {
                    self.needs_duration.store(true, Ordering::Relaxed);
                }
                self.applied.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The digest of every prices file as it is now (`None` for one that cannot be read).
    fn digests(&self) -> Vec<Option<String>> {
        self.sources
            .paths()
            .map(|path| std::fs::read_to_string(path).ok().map(|text| sha256(&text)))
            .collect()
    }

    /// Reloads the prices whenever a prices file's content changes, checked every `every`, on
    /// a thread of its own that ends when `prices` is gone or `stop` is set.
    pub(crate) fn watch(prices: &Arc<Self>, every: Duration, stop: Arc<AtomicBool>) {
        let weak: Weak<Self> = Arc::downgrade(prices);
        let mut seen = prices.digests();
        let spawned = std::thread::Builder::new()
            .name("tracing-ai-prices".to_owned())
            .spawn(move || loop {
                std::thread::sleep(every);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(prices) = weak.upgrade() else {
                    return;
                };
                let now = prices.digests();
                if now != seen {
                    seen = now;
                    if let Err(error) = prices.reload() {
                        // Outside any span: a configuration problem, not a request's event.
                        tracing::warn!(
                            target: "tracing_ai",
                            parent: None,
                            "the prices file changed but was refused, the old prices are kept: {error}"
                        );
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "prices files are not watched: no thread could be started ({error})"
            );
        }
    }
}

/// A handle on a layer's prices, from [`AiLayer::prices`](crate::AiLayer::prices): read them
/// again now (from a signal handler, an admin endpoint), or whenever a prices file changes.
/// New prices replace the old whole, for the calls that close after; prices that do not read
/// (a typo in the file) are refused with the error, and the old ones kept.
///
/// ```
/// let layer = tracing_ai::AiLayer::builder()
///     .with_prices_toml("[models.\"my-model\"]\ninput = 1.0\noutput = 2.0")
///     .build()?;
/// let prices = layer.prices();
/// prices.reload()?;
/// assert_eq!(prices.reloads(), 1);
/// # Ok::<(), tracing_ai::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PricesHandle(pub(crate) Arc<LivePrices>);

impl PricesHandle {
    /// A handle on the default prices, for a guard that installed no layer.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn none() -> Self {
        Self(Arc::new(LivePrices::new(
            super::Pricing::with_defaults(),
            super::PriceSources::default(),
        )))
    }

    /// Reads every prices file and price again and, when they all read, puts them in place
    /// of the current ones; when one does not, says why and keeps the current prices.
    pub fn reload(&self) -> Result<(), ConfigError> {
        self.0.reload()
    }

    /// How many reloads were applied.
    pub fn reloads(&self) -> u64 {
        self.0.applied()
    }

    /// How many reloads were refused (the old prices kept).
    pub fn refused_reloads(&self) -> u64 {
        self.0.refused()
    }

    /// Reloads the prices whenever the content of a prices file changes, checked every
    /// `every` on a thread of its own, until the returned value is dropped. A refused file is
    /// warned about (as a `tracing` event with target `tracing_ai`) and counted.
    ///
    /// ```no_run
    /// # let layer = tracing_ai::AiLayer::builder().build()?;
    /// let _watch = layer.prices().watch(std::time::Duration::from_secs(10));
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn watch(&self, every: Duration) -> PricesWatch {
        let stop = Arc::new(AtomicBool::new(false));
        LivePrices::watch(&self.0, every, stop.clone());
        PricesWatch(stop)
    }
}

/// Watches a layer's prices files while it lives: see [`PricesHandle::watch`].
#[derive(Debug)]
#[must_use = "the prices files are watched until this is dropped"]
pub struct PricesWatch(Arc<AtomicBool>);

impl Drop for PricesWatch {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
