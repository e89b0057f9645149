//! Budgets: stop a tenant's (or a feature's, a user's, a model's) runaway spend before the
//! call, with the same costs the spans and metrics show.
//!
//! A [`Budget`] is a limit in USD (or the reporting currency) over a [`Window`] for a scope:
//! each tenant, each tenant and feature, one model... An `#[ai_span(..., budget)]` call (or a
//! hand-written span that calls [`reserve`]) reserves its estimated cost in every budget that
//! covers it before its body runs, and the layer settles the reservation with the real cost
//! when the call ends, cancelled and failed calls included. A budget that `refuse`s makes the
//! call return [`BudgetExceeded`] (its error type must be `From<BudgetExceeded>`) without
//! running, and record `error.type = budget_exceeded` on its span; one that `warn`s lets it go
//! on and adds an `ai.budget.exceeded` event to its span. Every priced call debits the budgets
//! that cover it, annotated with `budget` or not.
//!
//! In process, the ledger lasts as long as the process: it starts at zero when the process
//! does, so a budget of $25 a day is $25 per process per day, and $25 again after a restart,
//! unless its spend is kept in a file on local disk as well (`LocalBudgets`, feature `redb`).
//! Budgets kept in Redis (`RedisBudgets`, feature `redis`) hold across restarts and replicas.
//!
//! ```
//! use tracing_ai::budget::{Budget, BudgetExceeded, Scope, Window};
//! use tracing_ai::{ai_span, AiLayer, Usage};
//!
//! #[derive(Debug)]
//! enum ChatError {
//!     OverBudget(BudgetExceeded),
//!     Provider(String),
//! }
//!
//! impl From<BudgetExceeded> for ChatError {
//!     fn from(error: BudgetExceeded) -> Self {
//!         ChatError::OverBudget(error)
//!     }
//! }
//!
//! #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
//! async fn chat(prompt: &str) -> Result<Usage, ChatError> {
//!     Ok(Usage::new(1200, 300))
//! }
//!
//! let layer = AiLayer::builder()
//!     // $25 a day for each tenant; past it, calls are refused.
//!     .with_budget(Budget::new("tenant-daily", 25.0, Window::Day).per(Scope::Tenant))
//!     // Alert only: $500 a month on one model, across tenants.
//!     .with_budget(
//!         Budget::new("gpt-4o-mini-monthly", 500.0, Window::Month)
//!             .only(Scope::Model, "gpt-4o-mini")
//!             .warn(),
//!     )
//!     .build()?;
//! # let _ = chat("q");
//! # Ok::<(), tracing_ai::ConfigError>(())
//! ```
//!
//! # What a budget guarantees, and what it does not
//!
//! - **Per process, unless kept in Redis.** By default the ledger is in this process: a
//!   service on three replicas with a $25 budget can spend $75. Give each replica its share,
//!   alert on the gauges (below), or keep the budgets in Redis, shared by every replica
//!   (`RedisBudgets`, feature `redis`, given to `AiLayerBuilder::with_budget_store`).
//! - **No overspend under concurrency, as far as the estimates go.** A call reserves before
//!   it runs and the check and the reservation are one step, so concurrent calls cannot all
//!   see the same room. What a call reserves is its estimate, and its span says which
//!   (`ai.budget.reserved_by`):
//!   - `max_tokens`: the input's tokens (counted by the layer's
//!     [`TokenEstimator`](crate::estimate::TokenEstimator), from `input = ...`) and the
//!     request's `max_tokens` of output (from `input = ...` or `parameters = ...`: async-openai's
//!     `max_completion_tokens` or `max_tokens`, ollama-rs' `num_predict`, genai's
//!     `ChatOptions`), priced as the call will be;
//!   - `per_call`: without an output limit, the budget's [`Budget::per_call`];
//!   - `context_window`: without either, the input and all the output the model's context
//!     window leaves room for (from the genai-prices data), which no answer can exceed: safe,
//!     and far more than most calls cost, so set `max_tokens` or `per_call` for a closer one;
//!   - `input`: the input alone, only for a model whose context window is unknown (a
//!     self-hosted model: give it a `per_call`);
//!   - `nothing`: no token count and no `per_call` (the call is still refused once the limit
//!     is reached).
//!
//!   A call that costs more than it reserved can take the budget past its limit by that
//!   difference; with `max_tokens` and a faithful token count it cannot.
//! - **Scopes.** A call is covered by a budget when it has a value for each of the budget's
//!   [`per`](Budget::per) scopes and the values the budget is [`only`](Budget::only) for;
//!   tenant, feature, user and session come from the request's attribution (as on the spans).
//! - **Windows** are calendar days and months in UTC, or rolling durations kept in at most
//!   60 buckets (a cost is counted for the whole duration after it, and leaves a rolling
//!   window up to about 1/60 of it late, never early).
//!
//! With metrics on ([`AiLayerBuilder::with_meter`](crate::AiLayerBuilder::with_meter)), the
//! gauges `ai.budget.spent`, `ai.budget.remaining` and `ai.budget.limit` (labels
//! `ai.budget.name` and the scope's attributes) and the counter `ai.budget.calls` (`ai.budget.outcome` = `refused` or `warned`, by `ai.budget.name` and the scope's attributes)
//! let Prometheus alert before a budget is reached. With the Redis store the gauges show the
//! shared spend, every replica's, as Redis answered this replica's last settlement in each
//! scope.

mod file;
mod ledger;
#[cfg(feature = "redb")]
mod local;
#[cfg(feature = "redis")]
mod redis;
mod store;
mod window;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

#[cfg(feature = "redb")]
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
pub use self::local::LocalBudgets;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{OnStoreFailure, RedisBudgets};
pub use self::store::Unflushed;
pub(crate) use self::store::{
    BudgetState, BudgetStore, Clock, OpenStore, Passed, Reservation, Reserved, Reserving, WaitBy,
};
pub use window::Window;

pub use crate::error::BudgetError;
pub use crate::reserve::{reserve, reserve_async};

pub(crate) use file::BudgetSources;
use ledger::Ledger;
use store::{AccountKey, Balance};

use crate::attr;
use crate::money::decimal;

/// What a [`Budget`] counts spend by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `tenant.id`.
    Tenant,
    /// `feature.id`.
    Feature,
    /// `user.id`.
    User,
    /// `session.id`.
    Session,
    /// The model the call asked for, `gen_ai.request.model`.
    Model,
}

impl Scope {
    /// `value` as the layer keeps a value of this scope: an id by the one rule of ids (a long
    /// one cut and hashed, control characters escaped), a model name as it is.
    fn value_as_kept(self, value: &str) -> Arc<str> {
        match self {
            Scope::Model => value.into(),
            _ => crate::clean_id::CleanId::new(value).value,
        }
    }

    pub(crate) const ALL: [Scope; 5] = [
        Scope::Tenant,
        Scope::Feature,
        Scope::User,
        Scope::Session,
        Scope::Model,
    ];

    /// The attribute the scope's value is exported as.
    pub fn attribute(&self) -> &'static str {
        match self {
            Scope::Tenant => attr::TENANT_ID,
            Scope::Feature => attr::FEATURE_ID,
            Scope::User => attr::USER_ID,
            Scope::Session => attr::SESSION_ID,
            Scope::Model => attr::GEN_AI_REQUEST_MODEL,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The scope exported as `attribute`, if any.
    pub(crate) fn of_attribute(attribute: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.attribute() == attribute)
    }
}

impl std::str::FromStr for Scope {
    type Err = BudgetError;

    /// `tenant`, `feature`, `user`, `session` or `model`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "tenant" => Ok(Scope::Tenant),
            "feature" => Ok(Scope::Feature),
            "user" => Ok(Scope::User),
            "session" => Ok(Scope::Session),
            "model" => Ok(Scope::Model),
            other => Err(BudgetError::new(format!(
                "scope {other:?} is not one: write \"tenant\", \"feature\", \"user\", \
                 \"session\" or \"model\""
            ))),
        }
    }
}

/// What happens to a call that would take a [`Budget`] past its limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnLimit {
    /// The call goes on; its span gets an `ai.budget.exceeded` event and
    /// `ai.budget.calls{ai.budget.outcome="warned"}` counts it.
    Warn,
    /// The call is not made: it returns [`BudgetExceeded`].
    #[default]
    Refuse,
}

/// A limit on spend over a window, for a scope. See [the module](self).
///
/// ```
/// use std::time::Duration;
/// use tracing_ai::budget::{Budget, Scope, Window};
///
/// // Each tenant's use of each feature: $2 an hour, rolling; a call that cannot be estimated
/// // holds $0.05 until it ends.
/// let budget = Budget::new("feature-hourly", 2.0, Window::Rolling(Duration::from_secs(3600)))
///     .per(Scope::Tenant)
///     .per(Scope::Feature)
///     .per_call(0.05);
/// assert_eq!(budget.name(), "feature-hourly");
/// ```
#[derive(Clone, Debug)]
pub struct Budget {
    name: Arc<str>,
    /// The name's hash, for the ledger's keys.
    name_hash: u64,
    limit: f64,
    /// The limit in the ledger's units (10^-22 of the currency).
    limit_units: i128,
    currency: Arc<str>,
    window: Window,
    per: Vec<Scope>,
    only: Vec<(Scope, Arc<str>)>,
    on_limit: OnLimit,
    per_call: Option<f64>,
}

impl Budget {
    /// A budget named `name` (its label on the gauges; unique among a layer's budgets) of
    /// `limit` USD over `window`, that refuses calls past it. Without [`per`](Self::per) or
    /// [`only`](Self::only), it covers every call.
    pub fn new(name: impl Into<String>, limit: f64, window: Window) -> Self {
        let name: Arc<str> = name.into().into();
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&*name, &mut hasher);
        Self {
            name_hash: std::hash::Hasher::finish(&hasher),
            name,
            limit,
            limit_units: crate::money::to_units(limit).unwrap_or(i128::MAX),
            currency: "USD".into(),
            window,
            per: Vec::new(),
            only: Vec::new(),
            on_limit: OnLimit::Refuse,
            per_call: None,
        }
    }

    /// Counts each value of `scope` apart (each tenant its own `limit`); with several, each
    /// combination (each tenant's each feature).
    #[must_use]
    pub fn per(mut self, scope: Scope) -> Self {
        if !self.per.contains(&scope) {
            self.per.push(scope);
        }
        self
    }

    /// Covers only the calls whose `scope` is `value` (`only(Scope::Tenant, "acme")`). The
    /// value is taken as the layer takes ids from spans (a long one cut and hashed, control
    /// characters escaped), so that it names the same account.
    #[must_use]
    pub fn only(mut self, scope: Scope, value: impl Into<String>) -> Self {
        self.only.push((scope, scope.value_as_kept(&value.into())));
        self
    }

    /// Lets calls past the limit go on, with an event and a metric.
    #[must_use]
    pub fn warn(mut self) -> Self {
        self.on_limit = OnLimit::Warn;
        self
    }

    /// Refuses calls past the limit (the default).
    #[must_use]
    pub fn refuse(mut self) -> Self {
        self.on_limit = OnLimit::Refuse;
        self
    }

    /// The limit is in `code`, the layer's reporting currency
    /// ([`AiLayerBuilder::with_reporting_currency`](crate::AiLayerBuilder::with_reporting_currency)),
    /// not USD.
    #[must_use]
    pub fn in_currency(mut self, code: &str) -> Self {
        self.currency = code.into();
        self
    }

    /// What a call reserves when its cost cannot be estimated from tokens (no token
    /// estimator, no `input`, a model priced by GPU time): its most likely maximum, in the
    /// budget's currency.
    #[must_use]
    pub fn per_call(mut self, cost: f64) -> Self {
        self.per_call = Some(cost);
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its limit, in [`currency`](Self::currency).
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// The currency of its limit.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Its window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// What happens past its limit.
    pub fn on_limit(&self) -> OnLimit {
        self.on_limit
    }

    /// What a call reserves when its cost cannot be estimated from tokens, if set.
    pub fn per_call_cost(&self) -> Option<f64> {
        self.per_call
    }

    /// This budget's account for the scope values `scope` (by [`Scope`] index).
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn account_key(&self, scope: [Option<Arc<str>>; 5]) -> AccountKey {
        AccountKey {
            budget: self.name.clone(),
            budget_hash: self.name_hash,
            scope,
        }
    }

    /// The account of the call of `scope` in this budget; `None` when it does not cover it.
    fn account(&self, scope: &CallScope) -> Option<AccountKey> {
        for (only, value) in &self.only {
            if scope.values[only.index()].as_deref() != Some(&**value) {
                return None;
            }
        }
        let mut values: [Option<Arc<str>>; 5] = Default::default();
        for per in &self.per {
            values[per.index()] = Some(scope.values[per.index()].clone()?);
        }
        Some(AccountKey {
            budget: self.name.clone(),
            budget_hash: self.name_hash,
            scope: values,
        })
    }

    /// The scope of `key` as attribute names and values.
    fn scope_of(&self, key: &AccountKey) -> ScopeLabels {
        self.only
            .iter()
            .map(|(scope, value)| (scope.attribute(), value.clone()))
            .chain(self.per.iter().filter_map(|scope| {
                let value = key.scope[scope.index()].clone()?;
                Some((scope.attribute(), value))
            }))
            .collect()
    }

    fn exceeded(
        &self,
        key: &AccountKey,
        used: f64,
        estimate: f64,
        now: SystemTime,
    ) -> BudgetExceeded {
        BudgetExceeded(Box::new(Exceeded {
            budget: self.name.clone(),
            scope: self.scope_of(key),
            limit: self.limit,
            used,
            estimate: crate::money::round_money(estimate),
            currency: self.currency.clone(),
            window: self.window,
            ends: self.window.period(now).ends,
            store_failure: None,
        }))
    }

    pub(crate) fn validate(&self, reporting: &str) -> Result<(), BudgetError> {
        let named =
            |problem: String| BudgetError::new(format!("budget {:?}: {problem}", &*self.name));
        if self.name.trim().is_empty() {
            return Err(BudgetError::new(
                "a budget has an empty name; name it (its label on the gauges)".to_owned(),
            ));
        }
        if !(self.limit.is_finite() && self.limit >= 0.0) {
            return Err(named(format!(
                "limit {} is not an amount; give a number of {} of 0 or more",
                self.limit, self.currency
            )));
        }
        if let Some(per_call) = self.per_call {
            if !(per_call.is_finite() && per_call >= 0.0) {
                return Err(named(format!(
                    "per_call {per_call} is not an amount; give a number of {} of 0 or more",
                    self.currency
                )));
            }
        }
        if &*self.currency != "USD" && &*self.currency != reporting {
            return Err(named(format!(
                "its limit is in {}, but costs are counted in USD and {reporting}; give the \
                 limit in one of them",
                self.currency
            )));
        }
        if let Some((scope, _)) = self.only.iter().find(|(scope, _)| self.per.contains(scope)) {
            return Err(named(format!(
                "it is both per {scope:?} and only for one {scope:?}; keep one of the two"
            )));
        }
        self.window.validate().map_err(named)
    }
}

/// A scope as attribute names and values (`[("tenant.id", "acme")]`).
type ScopeLabels = Vec<(&'static str, Arc<str>)>;

/// The values of a call's scopes, by [`Scope`].
#[derive(Clone, Debug, Default)]
pub(crate) struct CallScope {
    pub(crate) values: [Option<Arc<str>>; 5],
}

impl CallScope {
    /// Sets `scope`'s value, unless it has one (the nearest span's value wins).
    pub(crate) fn set_scope(&mut self, scope: Scope, value: &Arc<str>) {
        self.values[scope.index()].get_or_insert_with(|| value.clone());
    }
}

/// A call was not made: it would have taken a budget past its limit.
///
/// An `#[ai_span(..., budget)]` function returns it through its error type, which must
/// implement `From<BudgetExceeded>`. Its `Display` says which budget, for which scope, how
/// much of it is spent or reserved, and when its window ends.
#[derive(Clone, Debug)]
pub struct BudgetExceeded(Box<Exceeded>);

/// What a [`BudgetExceeded`] says, boxed: the error stays one pointer in the `Result`s it is
/// returned in.
#[derive(Clone, Debug)]
struct Exceeded {
    budget: Arc<str>,
    scope: ScopeLabels,
    limit: f64,
    used: f64,
    estimate: f64,
    currency: Arc<str>,
    window: Window,
    ends: SystemTime,
    /// Why the budget store could not answer, when that is why the call was refused.
    store_failure: Option<Arc<str>>,
}

impl BudgetExceeded {
    /// Whether the call was refused because the budget store (Redis) could not answer in time
    /// and its policy is fail-closed, not because the budget was spent.
    pub fn is_store_failure(&self) -> bool {
        self.0.store_failure.is_some()
    }

    /// The `error.type` a refused call records: `budget_exceeded`, or `budget_unavailable`
    /// when the store could not answer.
    pub fn error_type(&self) -> &'static str {
        if self.is_store_failure() {
            BUDGET_UNAVAILABLE
        } else {
            BUDGET_EXCEEDED
        }
    }

    /// The name of the budget.
    pub fn budget(&self) -> &str {
        &self.0.budget
    }

    /// The scope the budget was reached for, as attribute names and values
    /// (`[("tenant.id", "acme")]`).
    pub fn scope(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.scope.iter().map(|(name, value)| (*name, &**value))
    }

    /// The budget's limit, in [`currency`](Self::currency).
    pub fn limit(&self) -> f64 {
        self.0.limit
    }

    /// What was spent in the window, and reserved by calls in flight, when the call asked.
    pub fn spent(&self) -> f64 {
        self.0.used
    }

    /// What the refused call would have reserved.
    pub fn estimate(&self) -> f64 {
        self.0.estimate
    }

    /// The currency of the amounts.
    pub fn currency(&self) -> &str {
        &self.0.currency
    }

    /// The budget's window.
    pub fn window(&self) -> Window {
        self.0.window
    }

    /// When the window ends (a rolling window: when its oldest bucket leaves it).
    pub fn resets_at(&self) -> SystemTime {
        self.0.ends
    }
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(failure) = &self.0.store_failure {
            return write!(
                f,
                "budget {:?} could not be checked: the budget store did not answer ({failure}), \
                 and its policy is fail-closed; the call was not made. Check that Redis is up, or \
                 choose OnStoreFailure::Open",
                &*self.0.budget
            );
        }
        write!(f, "budget {:?}", &*self.0.budget)?;
        if !self.0.scope.is_empty() {
            f.write_str(" for ")?;
            for (index, (name, value)) in self.0.scope.iter().enumerate() {
                let comma = if index > 0 { ", " } else { "" };
                write!(f, "{comma}{name}={value}")?;
            }
        }
        let currency = &self.0.currency;
        // A small budget's amounts as they are, not `0.00 of 0.00`.
        write!(
            f,
            ": {} of {} {currency} spent or reserved {}",
            decimal(self.0.used),
            decimal(self.0.limit),
            self.0.window
        )?;
        if self.0.estimate > 0.0 {
            write!(
                f,
                ", and this call may cost up to {} {currency}",
                decimal(self.0.estimate)
            )?;
        }
        f.write_str(
            "; the call was not made. Raise the budget's limit, or wait for its window to end",
        )
    }
}

impl std::error::Error for BudgetExceeded {}

/// A layer's budgets now, their sources, and their ledger.
#[derive(Debug)]
pub(crate) struct LiveBudgets {
    current: RwLock<Arc<[Budget]>>,
    /// Whether there is any budget: read on every call's close, apart from the lock.
    any: AtomicBool,
    sources: BudgetSources,
    /// Where the accounts are kept: the in-process ledger, or a store given to the builder.
    store: Arc<dyn BudgetStore>,
    /// What "now" is for windows and leases.
    clock: Clock,
    /// Calls past a limit, by budget, outcome and scope: `ai.budget.calls`.
    past_limit: std::sync::Mutex<HashMap<PastLimit, u64>>,
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

/// The scopes `ai.budget.calls` tells apart, at most: ids from requests cannot grow the metric
/// without bound (the spend gauges are bounded by the ledger's accounts).
const MAX_COUNTED_SCOPES: usize = 1_000;

impl Default for LiveBudgets {
    /// No budget, none to reload.
    fn default() -> Self {
        Self {
            current: RwLock::new(Vec::new().into()),
            any: AtomicBool::new(false),
            sources: BudgetSources::default(),
            store: Arc::new(Ledger::default()),
            clock: Clock::system(),
            past_limit: std::sync::Mutex::default(),
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
            current: RwLock::new(budgets.into()),
            sources,
            store,
            clock,
            past_limit: std::sync::Mutex::default(),
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

    pub(crate) fn now(&self) -> Arc<[Budget]> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, budgets: Vec<Budget>) {
        self.any.store(!budgets.is_empty(), Ordering::Relaxed);
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
        self.store
            .reserve(self.now(), scope, estimate, self.time(), wait)
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

    /// Counts a call that went past `over`'s budget: refused, or warned and made.
    pub(crate) fn counted(&self, over: &BudgetExceeded, refused: bool) {
        let outcome = if refused { "refused" } else { "warned" };
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

/// The `error.type` of a call a budget refused.
pub const BUDGET_EXCEEDED: &str = "budget_exceeded";
/// The `error.type` of a call refused because the budget store could not answer (fail-closed).
pub const BUDGET_UNAVAILABLE: &str = "budget_unavailable";

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod collection_tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use opentelemetry::metrics::MeterProvider as _;

    use super::{Budget, BudgetSources, LiveBudgets, Window};

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
