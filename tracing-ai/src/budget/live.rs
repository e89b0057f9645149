//! A layer's budgets as they stand: the budgets now, where their accounts are kept, the
//! gauges, and the handle the application holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use super::file::BudgetSources;
use super::ledger::Ledger;
use super::store::{Balance, BudgetStore, Clock, OpenStore, Reserving, WaitBy};
use super::wait::{Waiters, WaitingForRoom};
use super::{file, Budget, BudgetError, BudgetExceeded, CallScope, Scope, ScopeLabels, Unflushed};
use crate::attr;

/// A layer's budgets now, their sources, and their ledger.
#[derive(Debug)]
pub(crate) struct LiveBudgets {
    current: RwLock<Arc<[Budget]>>,
    /// Whether there is any budget: read on every call's close, apart from the lock.
    any: AtomicBool,
    /// Whether any of them is a rate limit, which counts calls that have no cost.
    any_rate_limit: AtomicBool,
    sources: BudgetSources,
    /// Where the accounts are kept: the in-process ledger, or a store given to the builder.
    store: Arc<dyn BudgetStore>,
    /// What "now" is for windows and leases.
    clock: Clock,
    /// The calls waiting for room in a budget that waits.
    waiters: Arc<Waiters>,
    /// Calls past a limit, by budget, outcome and scope: `ai.budget.calls`.
    past_limit: std::sync::Mutex<HashMap<PastLimit, u64>>,
    /// How long the calls that waited for room waited, by budget: `ai.budget.wait.duration`,
    /// once a meter is given.
    wait_duration: std::sync::OnceLock<opentelemetry::metrics::Histogram<f64>>,
    /// The balances one collection's three gauges read: swept once, not once per gauge.
    collected: std::sync::Mutex<Option<Collected>>,
    /// How many sweeps the gauges made, for the test that they make one a collection.
    #[cfg(test)]
    sweeps: std::sync::atomic::AtomicU64,
}

/// The balances a metrics collection read, and how many of its gauges have yet to read them.
#[derive(Debug)]
struct Collected {
    balances: Arc<[(Balance, ScopeLabels)]>,
    reads_left: u8,
    at: std::time::Instant,
}

/// The gauges that read the balances in each collection: spent, remaining, limit.
const GAUGES: u8 = 3;

/// What `ai.budget.calls` counts a call past a limit by: the budget, `refused` or `warned`,
/// and the scope's values (`other` past [`MAX_COUNTED_SCOPES`]).
type PastLimit = (Arc<str>, &'static str, ScopeLabels);

/// The buckets of `ai.budget.wait.duration`, in seconds: a wait is bounded by the budget's
/// `wait_up_to`, a few seconds at most for a call someone waits on.
const WAIT_SECONDS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// The scopes `ai.budget.calls` tells apart, at most: ids from requests cannot grow the metric
/// without bound (the spend gauges are bounded by the ledger's accounts).
const MAX_COUNTED_SCOPES: usize = 1_000;

impl Default for LiveBudgets {
    /// No budget, none to reload.
    fn default() -> Self {
        Self {
            current: RwLock::new(Vec::new().into()),
            any: AtomicBool::new(false),
            any_rate_limit: AtomicBool::new(false),
            sources: BudgetSources::default(),
            store: Arc::new(Ledger::default()),
            clock: Clock::system(),
            waiters: Arc::default(),
            past_limit: std::sync::Mutex::default(),
            wait_duration: std::sync::OnceLock::new(),
            collected: std::sync::Mutex::default(),
            #[cfg(test)]
            sweeps: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl LiveBudgets {
    /// The budgets of `sources`, kept in the store `open` opens (in this process without one),
    /// their windows read by `clock` (the system's without one).
    pub(crate) fn new(
        sources: BudgetSources,
        reporting: &str,
        open: Option<Arc<dyn OpenStore>>,
        clock: Option<Clock>,
    ) -> Result<Self, crate::ConfigError> {
        let budgets = sources.load(reporting)?;
        let clock = clock.unwrap_or_else(Clock::system);
        let store = match open {
            Some(open) => open.open(&budgets, clock.now())?,
            None => Arc::new(Ledger::default()),
        };
        Ok(Self {
            any: AtomicBool::new(!budgets.is_empty()),
            any_rate_limit: AtomicBool::new(budgets.iter().any(Budget::is_rate_limit)),
            current: RwLock::new(budgets.into()),
            sources,
            store,
            clock,
            waiters: Arc::default(),
            past_limit: std::sync::Mutex::default(),
            wait_duration: std::sync::OnceLock::new(),
            collected: std::sync::Mutex::default(),
            #[cfg(test)]
            sweeps: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Now, by the budgets' clock.
    pub(crate) fn time(&self) -> SystemTime {
        self.clock.now()
    }

    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Whether any budget is a rate limit.
    pub(crate) fn any_rate_limit(&self) -> bool {
        self.any_rate_limit.load(Ordering::Relaxed)
    }

    pub(crate) fn now(&self) -> Arc<[Budget]> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, budgets: Vec<Budget>) {
        self.any.store(!budgets.is_empty(), Ordering::Relaxed);
        self.any_rate_limit
            .store(budgets.iter().any(Budget::is_rate_limit), Ordering::Relaxed);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = budgets.into();
    }

    /// Starts the reservation of a call of `scope` in the store the budgets are kept in (see
    /// [`BudgetStore::reserve`]): done at once in this process; sent, and then waited for by
    /// [`Reserving::wait_blocking`] or [`Reserving::wait`], for a store elsewhere.
    pub(crate) fn begin_reservation(
        &self,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        wait: WaitBy,
    ) -> Reserving {
        let budgets = self.now();
        let waits = wait == WaitBy::Awaiting
            && budgets
                .iter()
                .any(|budget| budget.on_limit().patience().is_some());
        if !waits {
            return self
                .store
                .reserve(budgets, scope, estimate, self.time(), wait);
        }
        // Each estimate kept, for the tries after a wait.
        let mut estimates = vec![None; budgets.len()];
        let first = self.store.reserve(
            budgets.clone(),
            scope,
            &mut |budget| {
                let amount = estimate(budget);
                if let Some(index) = budgets
                    .iter()
                    .position(|candidate| std::ptr::eq(candidate, budget))
                {
                    estimates[index] = Some(amount);
                }
                amount
            },
            self.time(),
            wait,
        );
        Reserving::Waiting(Box::new(WaitingForRoom {
            first,
            store: self.store.clone(),
            budgets,
            scope: scope.clone(),
            estimates,
            clock: self.clock.clone(),
            waiters: self.waiters.clone(),
        }))
    }

    /// A call settled or gave back what it held: calls waiting for room look again.
    pub(crate) fn room_made(&self) {
        self.waiters.room_made();
    }

    /// Writes the settlements and debits still queued for the store, within `timeout`.
    pub(crate) fn flush(&self, timeout: std::time::Duration) -> Result<(), Unflushed> {
        self.store.flush(timeout)
    }

    /// At exit: what `flush` could not write is given up and counted.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn give_up(&self) {
        self.store.give_up();
    }

    /// Debits a call that reserved nothing in every budget covering `scope`.
    pub(crate) fn debit(&self, scope: &CallScope, cost: &dyn Fn(&str) -> Option<f64>) {
        self.store.debit(&self.now(), scope, cost, self.time());
    }

    /// Records how long a call waited for room in `over`'s budget before it was made.
    pub(crate) fn waited(&self, over: &BudgetExceeded, waited: std::time::Duration) {
        if let Some(histogram) = self.wait_duration.get() {
            let budget = opentelemetry::KeyValue::new(attr::AI_BUDGET_NAME, over.0.budget.clone());
            histogram.record(waited.as_secs_f64(), &[budget]);
        }
    }

    /// Counts a call that went past `over`'s budget: refused, or warned and made.
    pub(crate) fn counted(&self, over: &BudgetExceeded, outcome: &'static str) {
        let mut counts = self
            .past_limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut key = (over.0.budget.clone(), outcome, over.0.scope.clone());
        if !counts.contains_key(&key) && counts.len() >= MAX_COUNTED_SCOPES {
            let other: Arc<str> = "other".into();
            for (_, value) in &mut key.2 {
                *value = other.clone();
            }
        }
        *counts.entry(key).or_default() += 1;
    }

    /// The balances the gauges show: the ledger's, or with a shared store what each account
    /// had spent (every replica's spend) when this replica last settled in it.
    /// The balances for one gauge of a metrics collection: the first gauge to ask sweeps the
    /// accounts (under the ledger's lock), the other two take what it read. A sweep left
    /// unread by a gauge for a second is not reused.
    fn balances_collected(&self) -> Arc<[(Balance, ScopeLabels)]> {
        let mut collected = self
            .collected
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = collected.as_mut().filter(|entry| {
            entry.reads_left > 0 && entry.at.elapsed() < std::time::Duration::from_secs(1)
        }) {
            entry.reads_left -= 1;
            let balances = entry.balances.clone();
            if entry.reads_left == 0 {
                *collected = None;
            }
            return balances;
        }
        let balances: Arc<[(Balance, ScopeLabels)]> = self.balances().into();
        #[cfg(test)]
        self.sweeps.fetch_add(1, Ordering::Relaxed);
        *collected = Some(Collected {
            balances: balances.clone(),
            reads_left: GAUGES - 1,
            at: std::time::Instant::now(),
        });
        balances
    }

    pub(crate) fn balances(&self) -> Vec<(Balance, ScopeLabels)> {
        let budgets = self.now();
        self.store
            .balances(&budgets, self.time())
            .into_iter()
            .filter_map(|balance| {
                let budget = budgets
                    .iter()
                    .find(|budget| budget.name == balance.key.budget)?;
                let scope = budget.scope_of(&balance.key);
                Some((balance, scope))
            })
            .collect()
    }

    /// Registers the gauges and the counter of [the module docs](self) on `meter`.
    pub(crate) fn report(budgets: &Arc<Self>, meter: &opentelemetry::metrics::Meter) {
        budgets.store.report(meter);
        let _ = budgets.wait_duration.set(
            meter
                .f64_histogram(attr::AI_BUDGET_WAIT_DURATION)
                .with_unit("s")
                .with_description("How long calls waited for room in a budget or rate limit")
                .with_boundaries(WAIT_SECONDS.to_vec())
                .build(),
        );
        use opentelemetry::KeyValue;
        let labels = |balance: &Balance, scope: &[(&'static str, Arc<str>)]| {
            let mut labels = vec![KeyValue::new(
                attr::AI_BUDGET_NAME,
                balance.key.budget.clone(),
            )];
            labels.extend(
                scope
                    .iter()
                    .map(|(name, value)| KeyValue::new(*name, value.clone())),
            );
            labels.push(KeyValue::new(
                attr::AI_BUDGET_CURRENCY,
                balance.currency.clone(),
            ));
            labels
        };
        let weak = Arc::downgrade(budgets);
        meter
            .f64_observable_gauge(attr::AI_BUDGET_SPENT)
            .with_description("What each budget's scope spent in its window, in its currency")
            .with_callback(move |observer| {
                if let Some(budgets) = weak.upgrade() {
                    for (balance, scope) in budgets.balances_collected().iter() {
                        observer.observe(balance.spent, &labels(balance, scope));
                    }
                }
            })
            .build();
        let weak = Arc::downgrade(budgets);
        meter
            .f64_observable_gauge(attr::AI_BUDGET_REMAINING)
            .with_description("What is left of each budget's limit in its window, in its currency")
            .with_callback(move |observer| {
                if let Some(budgets) = weak.upgrade() {
                    for (balance, scope) in budgets.balances_collected().iter() {
                        let left =
                            crate::money::round_money((balance.limit - balance.spent).max(0.0));
                        observer.observe(left, &labels(balance, scope));
                    }
                }
            })
            .build();
        let weak = Arc::downgrade(budgets);
        meter
            .f64_observable_gauge(attr::AI_BUDGET_LIMIT)
            .with_description("Each budget's limit, with the labels of its scopes' spend")
            .with_callback(move |observer| {
                if let Some(budgets) = weak.upgrade() {
                    for (balance, scope) in budgets.balances_collected().iter() {
                        observer.observe(balance.limit, &labels(balance, scope));
                    }
                }
            })
            .build();
        let weak = Arc::downgrade(budgets);
        meter
            .u64_observable_counter(attr::AI_BUDGET_CALLS)
            .with_unit("{call}")
            .with_description("Calls past a budget's limit: refused, or warned and made")
            .with_callback(move |observer| {
                if let Some(budgets) = weak.upgrade() {
                    let counts = budgets
                        .past_limit
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    for ((budget, outcome, scope), count) in counts {
                        let mut labels = vec![
                            KeyValue::new(attr::AI_BUDGET_NAME, budget.to_string()),
                            KeyValue::new(attr::AI_BUDGET_OUTCOME, outcome),
                        ];
                        labels.extend(
                            scope
                                .iter()
                                .map(|(name, value)| KeyValue::new(*name, value.to_string())),
                        );
                        observer.observe(count, &labels);
                    }
                }
            })
            .build();
    }
}

/// A handle on a layer's budgets, from [`AiLayer::budgets`](crate::AiLayer::budgets): change
/// them without a restart, and read what a scope spent.
///
/// ```
/// use tracing_ai::budget::{Budget, Scope, Window};
///
/// let layer = tracing_ai::AiLayer::builder().build()?;
/// let budgets = layer.budgets();
/// budgets.replace(vec![Budget::new("tenant-daily", 10.0, Window::Day).per(Scope::Tenant)])?;
/// assert_eq!(budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]), Some(0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct BudgetsHandle {
    pub(crate) budgets: Arc<LiveBudgets>,
    pub(crate) reporting: Arc<str>,
}

impl BudgetsHandle {
    /// A handle on no budgets, for a guard that installed no layer.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn none() -> Self {
        Self {
            budgets: Arc::new(LiveBudgets::default()),
            reporting: "USD".into(),
        }
    }

    /// Puts `budgets` in place of the current ones, for the calls that start after. What a
    /// scope spent stays with the budget's name: raising a limit keeps the day's spend.
    pub fn replace(&self, budgets: Vec<Budget>) -> Result<(), BudgetError> {
        file::check(&budgets, &self.reporting)?;
        self.budgets.replace(budgets);
        Ok(())
    }

    /// Reads the budgets files and budgets given to the builder again and puts them in place
    /// of the current ones; a file that does not read is refused with the error, and the
    /// current budgets kept.
    pub fn reload(&self) -> Result<(), crate::ConfigError> {
        let budgets = self.budgets.sources.load(&self.reporting)?;
        self.budgets.replace(budgets);
        Ok(())
    }

    /// Writes the settlements and debits still queued for the budget store (Redis) within
    /// `timeout`; what is not written by then is the error, with what its calls cost (it stays
    /// queued, and is written if the process goes on). Call it at exit for a layer built by
    /// hand: the guard of [`init`](crate::init) does it itself. Budgets kept in this process
    /// have nothing queued.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder().build()?;
    /// let budgets = layer.budgets();
    /// // ... at exit:
    /// budgets.flush(std::time::Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self, timeout: std::time::Duration) -> Result<(), Unflushed> {
        self.budgets.flush(timeout)
    }

    /// The budgets now.
    pub fn budgets(&self) -> Vec<Budget> {
        self.budgets.now().to_vec()
    }

    /// What the scope `scope` (each of the budget's `per` scopes with its value, as the
    /// application recorded it) spent in budget `name`'s window so far, reservations left out;
    /// `None` when there is no such budget or `scope` does not name its scopes.
    pub fn spent(&self, name: &str, scope: &[(Scope, &str)]) -> Option<f64> {
        let budgets = self.budgets.now();
        let budget = budgets.iter().find(|budget| &*budget.name == name)?;
        let mut call = CallScope::default();
        for (scope, value) in scope {
            call.values[scope.index()] = Some(scope.value_as_kept(value));
        }
        let key = budget.account(&call)?;
        self.budgets.store.spent(budget, &key, self.budgets.time())
    }
}

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod collection_tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use opentelemetry::metrics::MeterProvider as _;

    use crate::budget::{Budget, BudgetSources, LiveBudgets, Window};

    #[test]
    fn one_collection_sweeps_the_accounts_once_for_its_three_gauges() {
        let sources = BudgetSources {
            inline: vec![Budget::new("all", 1.0, Window::Day)],
            files: Vec::new(),
        };
        let budgets = Arc::new(LiveBudgets::new(sources, "USD", None, None).expect("valid"));
        let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
        let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build())
            .build();
        LiveBudgets::report(&budgets, &meters.meter("test"));
        for collections in 1..=3 {
            meters.force_flush().expect("a collection");
            assert_eq!(budgets.sweeps.load(Ordering::Relaxed), collections);
        }
    }
}
