//! Settlements and debits: queued by the closing span (which never waits on Redis), written in
//! order by the store's thread, each tried until Redis takes it, and flushed at exit.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::link::Link;
use super::scripts::{folded, millis, ttl, units, Account, Seen, SeenSpend, SETTLE_SCRIPT, UNIT};
use super::{Shared, StoreCounts, QUEUE};
use crate::budget::store::Unflushed;
use crate::budget::{Budget, CallScope};

/// What the store's writer does next, in order.
pub(super) enum Job {
    Write(Write),
    /// Answered once every write queued before it is written or given up.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// A settlement, a debit, or the release of a reservation whose caller gave up: applied once
/// in Redis (by its id), retried until it is or [`GIVE_UP`] has passed.
pub(super) struct Write {
    id: String,
    /// Its key in Redis, set once it is applied.
    pub(super) marker: String,
    /// The cost of each account, in units (0 for a release).
    accounts: Vec<(Account, i64)>,
    /// The call's cost in its first budget's currency, for the messages of a write given up.
    cost: Option<(Arc<str>, i64)>,
    /// When it was made, by the layer's clock: the window it counts in.
    now: SystemTime,
    queued: std::time::Instant,
}

/// The writes queued and not yet written or given up, and what the calls they settle cost:
/// what a flush that ran out of time reports.
#[derive(Debug, Default)]
pub(super) struct Pending {
    totals: Mutex<PendingTotals>,
    /// Set when a flush at exit gave the rest up: the writer drops what is left, uncounted
    /// (the flush counted it).
    pub(super) abandoned: AtomicBool,
}

#[derive(Debug, Default, Clone)]
struct PendingTotals {
    writes: u64,
    /// By currency, in units.
    costs: std::collections::BTreeMap<Arc<str>, i64>,
}

impl Pending {
    fn change(&self, write: &Write, added: bool) {
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        if added {
            totals.writes += 1;
        } else {
            totals.writes = totals.writes.saturating_sub(1);
        }
        if let Some((currency, units)) = &write.cost {
            let total = totals.costs.entry(currency.clone()).or_default();
            *total = if added {
                total.saturating_add(*units)
            } else {
                total.saturating_sub(*units)
            };
        }
    }

    fn totals(&self) -> PendingTotals {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl PendingTotals {
    /// `3 settlement(s) of calls that cost 0.0125 USD`.
    fn describe(&self) -> String {
        let mut text = format!("{} settlement(s)", self.writes);
        let costs: Vec<String> = self
            .costs
            .iter()
            .filter(|(_, units)| **units > 0)
            .map(|(currency, units)| {
                format!("{} {currency}", crate::money::decimal(*units as f64 / UNIT))
            })
            .collect();
        if !costs.is_empty() {
            let _ = write!(text, " of calls that cost {}", costs.join(" and "));
        }
        text
    }
}

/// How long a write's marker is kept in Redis: a retry of the write within it changes
/// nothing. About 70 bytes of Redis memory per call for this long.
const REMEMBERED: Duration = Duration::from_secs(3_600);

/// A write not applied this long after it was queued is given up (counted and logged): past
/// [`REMEMBERED`], a retry could be applied a second time.
pub(crate) const GIVE_UP: Duration = Duration::from_secs(3_300);

/// The longest wait between two tries of a write.
const MOST_BACKOFF: Duration = Duration::from_secs(1);

impl Shared {
    /// Queues the settlement of reservation `id` with what the call cost.
    pub(super) fn settle(
        &self,
        id: String,
        accounts: Vec<(Account, Arc<str>)>,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut first = None;
        let accounts = accounts
            .into_iter()
            .map(|(account, currency)| {
                let units = cost(&currency).map_or(0, units);
                first.get_or_insert((currency, units));
                (account, units)
            })
            .collect();
        self.write(id, accounts, first, now);
    }

    /// Queues the debit of a call that reserved nothing.
    pub(super) fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut first = None;
        let accounts: Vec<(Account, i64)> = budgets
            .iter()
            .filter_map(|budget| {
                let key = budget.account(scope)?;
                let units = cost(&budget.currency).map(units)?;
                first.get_or_insert((budget.currency.clone(), units));
                Some((self.account(key, budget.window, now), units))
            })
            .collect();
        if !accounts.is_empty() {
            let id = self.next_id();
            self.write(id, accounts, first, now);
        }
    }

    pub(super) fn write(
        &self,
        id: String,
        accounts: Vec<(Account, i64)>,
        cost: Option<(Arc<str>, i64)>,
        now: SystemTime,
    ) {
        let write = Write {
            now,
            marker: self.marker(&id),
            id,
            accounts,
            cost,
            queued: std::time::Instant::now(),
        };
        self.pending.change(&write, true);
        if let Err(refused) = self.jobs.try_send(Job::Write(write)) {
            let (tokio::sync::mpsc::error::TrySendError::Full(Job::Write(write))
            | tokio::sync::mpsc::error::TrySendError::Closed(Job::Write(write))) = refused
            else {
                return;
            };
            self.pending.change(&write, false);
            let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
            if worth_a_warning(lost) {
                tracing::warn!(
                    target: "tracing_ai",
                    parent: None,
                    "{lost} budget settlement(s) could not be queued for Redis (the store is \
                     {QUEUE} behind); their spend is missing from the shared budgets"
                );
            }
        }
    }

    /// Waits until every settlement queued so far is written (or given up), at most
    /// `timeout`; what is still unwritten then, with what its calls cost.
    pub(super) fn flush(&self, timeout: Duration) -> Result<(), Unflushed> {
        if self.pending.totals().writes == 0 {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + timeout;
        let (done, flushed) = std::sync::mpsc::sync_channel(1);
        let mut job = Job::Flush(done);
        loop {
            match self.jobs.try_send(job) {
                Ok(()) => break,
                Err(tokio::sync::mpsc::error::TrySendError::Full(again)) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(self.unflushed());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    job = again;
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    return Err(self.unflushed());
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        flushed.recv_timeout(left).map_err(|_| self.unflushed())
    }

    fn unflushed(&self) -> Unflushed {
        Unflushed::new(
            self.pending.totals().describe(),
            format!("the budget store at {}", self.config.shown),
            "their spend is missing from the shared budgets unless this process goes on running \
             until Redis answers",
        )
    }

    /// Gives up what is still unwritten, at exit: counted in `ai.budget.store_failures` (the
    /// caller says it, with what the calls cost); the writer drops it.
    pub(super) fn give_up(&self) {
        let totals = self.pending.totals();
        self.pending.abandoned.store(true, Ordering::Relaxed);
        self.failures
            .debits
            .fetch_add(totals.writes, Ordering::Relaxed);
    }
}

/// Writes the settlements, in order, as tasks of the store's thread.
pub(super) struct Writer {
    pub(super) link: Arc<Link>,
    pub(super) timeout: Duration,
    pub(super) max_accounts: u64,
    pub(super) failures: Arc<StoreCounts>,
    pub(super) seen: Arc<Seen>,
    pub(super) pending: Arc<Pending>,
}

impl Writer {
    pub(super) async fn run(self, mut queue: tokio::sync::mpsc::Receiver<Job>) {
        while let Some(job) = queue.recv().await {
            match job {
                Job::Flush(done) => {
                    let _ = done.send(());
                }
                Job::Write(write) => {
                    self.write(&write).await;
                    self.pending.change(&write, false);
                }
            }
        }
    }

    /// Tries `write` until Redis applies it (once: a retry of a write applied is a no-op),
    /// backing off up to a second between tries, or gives it up past [`GIVE_UP`].
    pub(super) async fn write(&self, write: &Write) {
        let mut invocation = SETTLE_SCRIPT.prepare_invoke();
        invocation
            .arg(&write.id)
            .arg(self.max_accounts)
            .arg(REMEMBERED.as_millis() as u64)
            .arg(millis(write.now));
        let now = write.now;
        for (account, units) in &write.accounts {
            let window = &account.window;
            for name in account.keys() {
                invocation.key(name);
            }
            invocation
                .arg(account.period.index)
                .arg(*units)
                .arg(ttl(window, account.period.ends, now))
                .arg(window.oldest_counted(window.period(now).index));
        }
        invocation.key(&write.marker);
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.pending.abandoned.load(Ordering::Relaxed) {
                return;
            }
            let failure = match self
                .link
                .run::<Vec<String>>(&invocation, self.timeout)
                .await
            {
                Ok(spent) => {
                    self.saw(write, &spent, now);
                    return;
                }
                Err(failure) => failure,
            };
            if write.queued.elapsed() >= GIVE_UP {
                let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
                if worth_a_warning(lost) {
                    tracing::warn!(
                        target: "tracing_ai",
                        parent: None,
                        "{lost} budget settlement(s) could not be written to Redis within {} \
                         minutes ({}); their spend is missing from the shared budgets",
                        GIVE_UP.as_secs() / 60,
                        failure.reason,
                    );
                }
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MOST_BACKOFF);
        }
    }

    /// Keeps what Redis answered each account spent, for the gauges.
    fn saw(&self, write: &Write, spent: &[String], now: SystemTime) {
        let flags = spent.get(write.accounts.len());
        for (index, ((account, _), spent)) in write.accounts.iter().zip(spent).enumerate() {
            let spend = SeenSpend {
                spent: spent.parse().unwrap_or(0),
                period: account.window.period(now).index,
            };
            if folded(flags, index) {
                self.seen.record(&account.key.other(), spend);
            } else {
                self.seen.record(&account.key, spend);
            }
        }
    }
}

/// The first failure, and then one in a thousand: a store that is down must not flood the log.
pub(super) fn worth_a_warning(count: u64) -> bool {
    count == 1 || count.is_multiple_of(1_000)
}
