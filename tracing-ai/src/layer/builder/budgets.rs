//! The builder's options of one group: budgets.

use std::path::PathBuf;
#[cfg(any(feature = "redis", feature = "redb"))]
use std::sync::Arc;

use super::AiLayerBuilder;
use crate::budget::Budget;

/// # Budgets
///
/// The spend limits calls reserve in before they run, and where their spend is kept.
impl AiLayerBuilder {
    /// Adds a [budget](crate::budget): calls annotated `#[ai_span(..., budget)]` reserve in it
    /// before they run, every call debits it when it ends. By default there is none.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budgets.inline.push(budget);
        self
    }

    /// Loads budgets from a TOML file when the layer is built, and again on
    /// [`BudgetsHandle::reload`](crate::budget::BudgetsHandle::reload); the format is that of
    /// [`crate::budget`]'s files:
    ///
    /// ```toml
    /// [[budget]]
    /// name = "tenant-daily"
    /// limit = 25.0
    /// window = "day"
    /// per = ["tenant"]
    /// on_limit = "refuse"
    /// ```
    ///
    /// A file that cannot be read or has a mistake makes [`build`](Self::build) fail with
    /// the line and what to write instead. By default no file is read.
    pub fn with_budgets_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.budgets.files.push(path.into());
        self
    }

    /// Keeps the budgets in Redis, shared by every replica that uses the same server and
    /// prefix, instead of in this process (feature `redis`): see
    /// [`RedisBudgets`](crate::budget::RedisBudgets). By default the budgets are kept in this
    /// process alone.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn with_budget_store(mut self, store: crate::budget::RedisBudgets) -> Self {
        self.budget_store = Some(Arc::new(store));
        self
    }

    /// Keeps the spend of the in-process budgets in a file on local disk as well (feature
    /// `redb`), so that a restart does not start them from zero: see
    /// [`LocalBudgets`](crate::budget::LocalBudgets). By default the ledger lasts as long as
    /// the process. [`build`](Self::build) fails when the file cannot be opened (another
    /// process has it, or the directory is not writable). With a Redis store as well, the
    /// file is not used: Redis keeps the spend.
    #[cfg(feature = "redb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
    pub fn with_local_budgets(mut self, local: crate::budget::LocalBudgets) -> Self {
        self.local_budgets = Some(Arc::new(local));
        self
    }

    /// Reads "now" for the budgets' windows and leases from `clock` instead of the system's:
    /// a test moves its clock past a window or a lease instead of sleeping through it. By
    /// default the system clock.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let now = Arc::new(Mutex::new(SystemTime::now()));
    /// let clock = now.clone();
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_budget_clock(move || *clock.lock().unwrap())
    ///     .build()?;
    /// // An hour later, for the budgets.
    /// *now.lock().unwrap() += Duration::from_secs(3_600);
    /// # drop(layer);
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_budget_clock(
        mut self,
        clock: impl Fn() -> std::time::SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.budget_clock = Some(crate::budget::Clock::new(clock));
        self
    }
}
