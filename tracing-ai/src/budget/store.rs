//! The budget stores: where the accounts are kept, and how a call reserves and settles in
//! them. One trait, [`BudgetStore`], which the in-process ledger (with `LocalBudgets`, also
//! kept on local disk) and Redis implement; what a call holds is the store's own [`Held`],
//! behind a [`Reservation`]. The budget logic and the layer see only these.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{AccountKey, Budget, BudgetError, BudgetExceeded, CallScope};
use crate::money::to_f64;

/// Past this many accounts (scopes of all budgets in their window), new scopes share one
/// account per budget, named `other`: ids a caller makes up cannot grow a store without
/// bound.
pub(crate) const MAX_ACCOUNTS: usize = 100_000;

/// The clock budgets' windows and leases are read by: the system's, or a test's.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    pub(crate) fn new(clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(clock))
    }

    pub(crate) fn system() -> Self {
        Self::new(SystemTime::now)
    }

    pub(crate) fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Where a layer's budgets are kept and checked.
///
/// Each step takes `now` from its caller (the layer's [`Clock`]), so that a store never reads
/// the clock itself.
pub(crate) trait BudgetStore: Send + Sync + fmt::Debug {
    /// Reserves `estimate(budget)` (in the budget's currency) in the account of every budget
    /// of `budgets` covering `scope`, unless a `refuse` budget would go past its limit: then
    /// nothing is reserved and that budget is the error. The `warn` budgets passed come with
    /// the reservation. A store out of this process sends it, and the caller waits as `wait`
    /// says; `estimate` is only called before this returns.
    fn reserve(
        &self,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        wait: WaitBy,
    ) -> Reserving;

    /// Debits what a call that reserved nothing cost (`cost(currency)`) in every budget of
    /// `budgets` covering `scope`.
    fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    );

    /// The accounts of `budgets` with their spend, for the gauges.
    fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance>;

    /// What `key` spent in `budget`'s window (reservations left out); `None` when the store
    /// could not say.
    fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64>;

    /// Writes what is queued for the store, within `timeout`.
    fn flush(&self, _timeout: Duration) -> Result<(), Unflushed> {
        Ok(())
    }

    /// At exit, after a flush that ran out of time: what is left is given up and counted.
    fn give_up(&self) {}

    /// Registers the store's own instruments on `meter`; its balances are read from now on.
    fn report(&self, _meter: &opentelemetry::metrics::Meter) {}
}

/// A store's configuration, opened when the layer is built (`RedisBudgets`, `LocalBudgets`).
pub(crate) trait OpenStore: Send + Sync + fmt::Debug {
    /// The store, for `budgets` as they are at `now` (a store that keeps spend on disk reads
    /// it back for them).
    fn open(
        &self,
        budgets: &[Budget],
        now: SystemTime,
    ) -> Result<Arc<dyn BudgetStore>, BudgetError>;
}

/// A budget's account as the gauges show it.
#[derive(Debug)]
pub(crate) struct Balance {
    pub(crate) key: AccountKey,
    pub(crate) spent: f64,
    pub(crate) limit: f64,
    pub(crate) currency: Arc<str>,
}

/// A budget with the `warn` action that a call went past, or one that made it wait.
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) over: BudgetExceeded,
    /// How long the call waited for room in the budget, when it waited (and was then made)
    /// rather than went past.
    pub(crate) waited: Option<Duration>,
}

/// How far a budget is spent, after a call settled: what the console shows on its lines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BudgetState {
    pub(crate) budget: Arc<str>,
    /// Spent and reserved, in the ledger's units: turned into a decimal only when shown.
    pub(crate) used_units: i128,
    pub(crate) limit: f64,
    pub(crate) currency: Arc<str>,
}

impl BudgetState {
    /// Spent and reserved, in `currency`.
    pub(crate) fn used(&self) -> f64 {
        to_f64(self.used_units)
    }

    /// How much of the limit is used (1 = all of it).
    pub(crate) fn share(&self) -> f64 {
        share(self.used_units, self.limit)
    }
}

/// How much of `limit` `used_units` (10^-22 of the currency) is.
pub(crate) fn share(used_units: i128, limit: f64) -> f64 {
    if limit > 0.0 {
        used_units as f64 / 1e22 / limit
    } else {
        f64::INFINITY
    }
}

/// What a call holds in its store until it settles, the store's own type.
pub(crate) trait Held: Send + Sync + fmt::Debug {
    /// Gives back what it holds and debits what the call cost (`cost(currency)`; `None` for a
    /// call nothing was billed for) at `now`; the state of its most spent budget after, when
    /// the store knows it at once.
    fn settle(
        self: Box<Self>,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) -> Option<BudgetState>;
}

/// What a call holds in its budgets until it settles.
#[derive(Debug)]
pub(crate) struct Reservation(Box<dyn Held>);

impl Reservation {
    pub(crate) fn new(held: impl Held + 'static) -> Self {
        Self(Box::new(held))
    }

    /// Settles it: see [`Held::settle`].
    pub(crate) fn settle(
        self,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) -> Option<BudgetState> {
        self.0.settle(cost, now)
    }
}

/// What a store answers a reservation: what the call holds (nothing when no budget covers it,
/// or the store could not be asked and the call goes on), and the `warn` budgets it passed;
/// or the budget that refuses it.
pub(crate) type Reserved = Result<(Option<Reservation>, Vec<Passed>), BudgetExceeded>;

/// How a reservation waits for a store that is not in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitBy {
    /// Its thread blocks, at most the store's timeout (a sync function).
    Blocking,
    /// Its task awaits (an `async fn`): a stalled store parks the task, not the thread.
    Awaiting,
}

/// A store's answer to come.
pub(crate) trait Answer: Send {
    /// Blocks the thread for it, at most the store's timeout.
    fn wait_blocking(self: Box<Self>) -> Reserved;
    /// Awaits it.
    fn wait(self: Box<Self>) -> Pin<Box<dyn Future<Output = Reserved> + Send>>;
}

/// A reservation made, or sent to its store and waited for.
pub(crate) enum Reserving {
    Done(Reserved),
    /// Redis's answer to come, or a call that may wait for room.
    Waiting(Box<dyn Answer>),
}

impl Reserving {
    /// The reservation, the thread blocked at most the store's timeout.
    pub(crate) fn wait_blocking(self) -> Reserved {
        match self {
            Reserving::Done(done) => done,
            Reserving::Waiting(answer) => answer.wait_blocking(),
        }
    }

    /// The reservation, awaited.
    pub(crate) async fn wait(self) -> Reserved {
        match self {
            Reserving::Done(done) => done,
            Reserving::Waiting(answer) => answer.wait().await,
        }
    }
}

/// Settlements still unwritten when a [flush](super::BudgetsHandle::flush) ran out of time.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = tracing_ai::AiLayer::builder().build()?;
/// // At exit, for a layer built by hand (the guard of `init()` does it itself):
/// if let Err(unflushed) = layer.budgets().flush(std::time::Duration::from_secs(5)) {
///     eprintln!("{unflushed}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Unflushed {
    what: String,
    store: String,
    missing: &'static str,
}

impl Unflushed {
    /// `what` (`3 settlement(s) of calls that cost 0.0125 USD`) was not written to `store`
    /// (`the budget store at redis://...`), and so `missing` (what that means).
    #[cfg_attr(not(any(feature = "redis", feature = "redb")), allow(dead_code))]
    pub(crate) fn new(what: String, store: String, missing: &'static str) -> Self {
        Self {
            what,
            store,
            missing,
        }
    }
}

impl std::fmt::Display for Unflushed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} were not written to {} in time; {}",
            self.what, self.store, self.missing
        )
    }
}

impl std::error::Error for Unflushed {}
