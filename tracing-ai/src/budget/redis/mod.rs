//! Budgets shared across replicas, kept in Redis: each scope's account in its window is a hash
//! that every replica reserves in and debits, with one Lua script per step, so that a check
//! and its reservation are atomic across all replicas.
//!
//! An account is the hash `{prefix}:{budget}:{scope values}[:{period}]`: its fields are the
//! spend of each period or rolling bucket (`b:{index}`), what the calls in flight hold
//! (`held`), and the earliest and latest end of their leases (`next`, `last`). The calls'
//! reservations are the hash `{account}:#r` (`{id}` = `{amount}:{lease end, ms}`), read whole
//! only when a lease has ended: a reservation whose replica died is given back then. So a
//! reservation reads a few fields however many calls are in flight. Amounts are integers of
//! 10^-10 of the budget's currency (the scripts sum them as Lua numbers, exact up to 900,000
//! USD a window). A key expires when its window has passed, and not while a call's lease holds
//! part of it: a call longer than a one-minute rate limit keeps its place.
//!
//! Every reservation and write has an id, and a marker key `{prefix}:#w:{id}` (kept an hour)
//! set when it is settled or given back: a write retried after a stall or a reconnect, whose
//! first try Redis did apply, changes nothing; a reservation that reaches Redis after its
//! caller gave up on it (and sent its release) is not made.
//!
//! The store's thread runs redis' tokio client, with one connection opened ahead of the calls.
//! A reservation is one round trip bounded by the timeout, connecting included: a sync function
//! waits for it (at most the timeout), an `async fn` awaits it (a stalled Redis parks its task,
//! not its thread). What the store cannot answer in time follows the [`OnStoreFailure`] policy,
//! counted and logged, and the reservation is given back. Settling and debiting go through a
//! bounded queue to the same thread, so that closing a span never waits on Redis; each is tried
//! until it is written (across a Redis restart), and given up, counted and logged, only when
//! the queue is full, after 55 minutes, or when the flush at exit runs out of time.

mod link;
mod reserve;
mod scripts;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{Balance, BudgetStore, OpenStore, Reserving, Unflushed, WaitBy, MAX_ACCOUNTS};
use super::{Budget, BudgetError, CallScope};
use crate::budget::AccountKey;
use link::{BlockingConnections, Link};
use scripts::Seen;
use writer::{Job, Pending, Writer};

/// Debits waiting for the thread that writes them; past it, a debit is counted lost.
const QUEUE: usize = 10_000;

/// What a call does when the budget store cannot answer in time (down, slow, refusing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStoreFailure {
    /// The call goes on as if no budget covered it (its cost is still debited when the store
    /// is back, if the debit queue holds it). The default: a budget store must not take the
    /// service down with it.
    #[default]
    Open,
    /// The call is refused: it returns [`BudgetExceeded`](super::BudgetExceeded) for which
    /// [`is_store_failure`](super::BudgetExceeded::is_store_failure) is true, and its span says
    /// `error.type = budget_unavailable`.
    Closed,
}

/// Budgets kept in Redis, shared by every replica that uses the same server and prefix (feature
/// `redis`): give it to [`AiLayerBuilder::with_budget_store`](crate::AiLayerBuilder::with_budget_store).
///
/// One Redis server, not Redis Cluster: a reservation is one script over the keys of every
/// budget and scope the call is in, which Cluster refuses when they are in several slots.
///
/// # In Redis
///
/// Every key starts with the prefix (`tracing-ai:budget` by default, [`with_prefix`](Self::with_prefix));
/// names and scope values in keys have `%` and `:` escaped (`%25`, `%3A`).
///
/// | key | type | what | expires |
/// |---|---|---|---|
/// | `{prefix}:{budget}:{tenant}:{feature}:{user}:{session}:{model}[:{period}]` (each scope's value, empty when the budget is not per it; the period for a day or month window) | hash | the account: `b:{period or bucket}` = spend, `held` = what calls in flight hold, `next` and `last` = the earliest and the latest end of their leases (ms) | an hour after a calendar window ends; a rolling window's length after the last write; not before the latest lease ends while calls hold part of it |
/// | `{account}:#r` | hash | the calls in flight: `{id}` = `{amount}:{lease end, ms}` | with the account; empty, it is gone |
/// | `{prefix}:{budget}:#accounts[:{period}]` | string | how many accounts the budget opened (see [`with_max_accounts`](Self::with_max_accounts)) | with the accounts |
/// | `{prefix}:#w:{id}` | string | the marker of a reservation or write applied (or given back): a retry of it is a no-op | an hour after it is set |
///
/// Amounts are integers of 10^-10 of the budget's currency. Measured with `MEMORY USAGE` on
/// Redis 7.0 (`tests/tests/budget_redis.rs` holds these figures): an account about 140 bytes
/// (410 with a 256-byte id), each call's marker about 70 bytes for an hour (about 250 KB an
/// hour at one call a second), and each call in flight an entry of its account's `#r`.
///
/// ```no_run
/// use std::time::Duration;
/// use tracing_ai::budget::{Budget, OnStoreFailure, RedisBudgets, Scope, Window};
///
/// let layer = tracing_ai::AiLayer::builder()
///     .with_budget(Budget::new("tenant-daily", 25.0, Window::Day).per(Scope::Tenant))
///     .with_budget_store(
///         RedisBudgets::new("redis://127.0.0.1:6379/")?
///             .with_timeout(Duration::from_millis(20))
///             .on_failure(OnStoreFailure::Closed),
///     )
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedisBudgets {
    client: redis::Client,
    /// The URL without its credentials, for `Debug` and messages.
    shown: String,
    timeout: Duration,
    on_failure: OnStoreFailure,
    prefix: String,
    lease: Duration,
    max_accounts: u64,
}

impl RedisBudgets {
    /// The Redis at `url` (`redis://host:port/db`, with `user:password@` if it needs them),
    /// with a timeout of 50 ms, `fail-open`, the key prefix `tracing-ai:budget` and leases of
    /// 10 minutes. Nothing connects yet.
    pub fn new(url: &str) -> Result<Self, BudgetError> {
        let not_a_url = |error: redis::RedisError| {
            BudgetError::new(format!(
                "{} is not a Redis URL ({error}); write redis://host:port/ (or rediss:// with TLS, \
                 which this build does not have)",
                crate::secrets::endpoint(url)
            ))
        };
        let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(not_a_url)?;
        // Small requests that each wait for their answer: no Nagle delay.
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        let client = redis::Client::open(info.set_tcp_settings(tcp)).map_err(not_a_url)?;
        Ok(Self {
            client,
            shown: crate::secrets::endpoint(url),
            timeout: Duration::from_millis(50),
            on_failure: OnStoreFailure::Open,
            prefix: "tracing-ai:budget".to_owned(),
            lease: Duration::from_secs(600),
            max_accounts: MAX_ACCOUNTS as u64,
        })
    }

    /// How long a reservation waits for Redis before the failure policy applies, connecting
    /// included (the store opens its connection ahead of the calls and keeps it). A settlement
    /// waits at least 500 ms a try, and is tried again until Redis takes it.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What a call does when Redis cannot answer in time.
    #[must_use]
    pub fn on_failure(mut self, policy: OnStoreFailure) -> Self {
        self.on_failure = policy;
        self
    }

    /// The prefix of every key (for services that share a Redis but not their budgets).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a reservation holds its amount when its call never settles (its replica
    /// died): longer than any call takes.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many accounts one budget opens in Redis in one period (a calendar window's day or
    /// month; for a rolling window, until no new one has been opened for a window) before new
    /// scopes share its account `other`, under one limit, as they do in-process: ids a caller
    /// makes up cannot fill Redis. Scopes that have an account keep it. 100,000 by default;
    /// an account takes about 140 bytes of Redis memory (410 with a 256-byte id, the longest
    /// kept), so 100,000 accounts about 14 to 41 MB: see [the layout](RedisBudgets#in-redis).
    ///
    /// ```no_run
    /// use tracing_ai::budget::RedisBudgets;
    ///
    /// let store = RedisBudgets::new("redis://127.0.0.1:6379/")?.with_max_accounts(10_000);
    /// # Ok::<(), tracing_ai::budget::BudgetError>(())
    /// ```
    #[must_use]
    pub fn with_max_accounts(mut self, accounts: u64) -> Self {
        self.max_accounts = accounts;
        self
    }
}

impl std::fmt::Debug for RedisBudgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client's: its connection info holds the password.
        f.debug_struct("RedisBudgets")
            .field("url", &self.shown)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("max_accounts", &self.max_accounts)
            .finish()
    }
}

/// The live store: a thread of its own runs redis' tokio client, with one connection opened
/// ahead of the calls and kept (reopened when it breaks); the calls' reservations and the
/// queue of settlements go through it. Dropped, it ends the thread.
pub(crate) struct RedisStore {
    shared: Arc<Shared>,
    /// Ends the store's thread (once the writes it has are given up), joined on drop.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the store's calls, holds and answers share.
struct Shared {
    config: RedisBudgets,
    /// The connections sync functions reserve on, from their own threads.
    blocking: BlockingConnections,
    runtime: tokio::runtime::Handle,
    link: Arc<Link>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    pub(super) next_id: AtomicU64,
    process: u64,
    pending: Arc<Pending>,
    failures: Arc<StoreCounts>,
    seen: Arc<Seen>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

/// What went wrong with the store, counted (`ai.budget.store_failures`).
#[derive(Debug, Default)]
struct StoreCounts {
    /// Reservations the store did not answer in time; the policy applied.
    reservations: AtomicU64,
    /// Settlements and debits given up: not written within [`GIVE_UP`](writer::GIVE_UP), the queue was full,
    /// or still unwritten at the exit's flush deadline.
    debits: AtomicU64,
}

/// Why the store did not answer, and whether what was asked may still happen there.
#[derive(Debug)]
struct Failure {
    reason: String,
    /// The script was sent (or being sent): Redis may run it after the caller gave up.
    maybe_sent: bool,
}

impl OpenStore for RedisBudgets {
    fn open(
        &self,
        _budgets: &[Budget],
        _now: SystemTime,
    ) -> Result<Arc<dyn BudgetStore>, BudgetError> {
        Ok(Arc::new(RedisStore::start(self.clone())?))
    }
}

impl BudgetStore for RedisStore {
    fn reserve(
        &self,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        wait: WaitBy,
    ) -> Reserving {
        match self
            .shared
            .send_reservation(budgets, scope, estimate, now, wait)
        {
            Some(waiting) => Reserving::Waiting(Box::new(waiting)),
            None => Reserving::Done(Ok((None, Vec::new()))),
        }
    }

    fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        self.shared.debit(budgets, scope, cost, now);
    }

    /// What each account had spent, every replica's spend included, when this replica last
    /// settled in it.
    fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        self.shared.seen.balances(budgets, now)
    }

    fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64> {
        self.shared.spent(budget, key, now)
    }

    fn flush(&self, timeout: Duration) -> Result<(), Unflushed> {
        self.shared.flush(timeout)
    }

    fn give_up(&self) {
        self.shared.give_up();
    }

    /// `ai.budget.store_failures`; what Redis answers is kept for the gauges from now on.
    fn report(&self, meter: &opentelemetry::metrics::Meter) {
        use opentelemetry::KeyValue;
        self.shared.seen.wanted();
        let failures = self.shared.failures.clone();
        meter
            .u64_observable_counter(crate::attr::AI_BUDGET_STORE_FAILURES)
            .with_unit("{operation}")
            .with_description(
                "Reservations the budget store did not answer in time, and settlements or \
                 debits given up",
            )
            .with_callback(move |observer| {
                for (operation, counter) in [
                    ("reserve", &failures.reservations),
                    ("debit", &failures.debits),
                ] {
                    observer.observe(
                        counter.load(Ordering::Relaxed),
                        &[KeyValue::new(crate::attr::AI_BUDGET_OPERATION, operation)],
                    );
                }
            })
            .build();
    }
}

impl RedisStore {
    pub(crate) fn start(config: RedisBudgets) -> Result<Self, BudgetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                BudgetError::new(format!(
                    "the Redis budget store could not start its runtime ({error})"
                ))
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tracing-ai-budgets".to_owned())
            .spawn(move || {
                // Runs the store's tasks until the store is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|error| {
                BudgetError::new(format!(
                    "the Redis budget store could not start its thread ({error})"
                ))
            })?;
        let link = Arc::new(Link {
            client: config.client.clone(),
            config: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.timeout))
                .set_response_timeout(None),
            connection: tokio::sync::Mutex::new(None),
        });
        // Opened ahead of the first call, which would otherwise wait for it.
        let ahead = link.clone();
        handle.spawn(async move {
            let _ = ahead.connection().await;
        });
        let (jobs, queue) = tokio::sync::mpsc::channel(QUEUE);
        let failures = Arc::new(StoreCounts::default());
        let seen = Arc::new(Seen::default());
        let pending = Arc::new(Pending::default());
        let writer = Writer {
            link: link.clone(),
            timeout: config.timeout.max(Duration::from_millis(500)),
            max_accounts: config.max_accounts,
            failures: failures.clone(),
            seen: seen.clone(),
            pending: pending.clone(),
        };
        handle.spawn(writer.run(queue));
        let process = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Ok(Self {
            shared: Arc::new(Shared {
                blocking: BlockingConnections::default(),
                config,
                runtime: handle,
                link,
                jobs,
                next_id: AtomicU64::new(0),
                process,
                pending,
                failures,
                seen,
            }),
            stop: Some(stop),
            thread: Some(thread),
        })
        .inspect(|store| store.shared.blocking.open_one(&store.shared))
    }
}

impl Drop for RedisStore {
    /// Ends the store's thread: what it has not written is given up (the guard's flush, or
    /// [`BudgetsHandle::flush`](super::BudgetsHandle::flush), writes it first).
    fn drop(&mut self) {
        self.shared.pending.abandoned.store(true, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let store = RedisBudgets::new("redis://user:hunter2@127.0.0.1:6379/").expect("a URL");
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1:6379"), "{debug}");
    }

    #[test]
    fn a_bad_url_says_what_to_write() {
        let error = RedisBudgets::new("http://user:secret@example.com").expect_err("not redis");
        let message = error.to_string();
        assert!(message.contains("redis://host:port/"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
