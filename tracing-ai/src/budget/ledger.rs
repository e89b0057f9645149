//! The in-process ledger: what each budget's scopes spent in their window and hold reserved
//! for calls in flight.
//!
//! A call checks and reserves under the ledger's lock, so that a call covered by several
//! budgets reserves in all of them or in none and two calls never see the same room; the lock
//! is held for a hash lookup per budget, never across a call. A reservation keeps its accounts
//! (shared), so that settling it takes no lookup and not that lock: only each account's own.
//! A settle running during a check can only release room (or add what an estimate missed).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::store::{
    share, Balance, BudgetState, BudgetStore, Held, Passed, Reservation, Reserved, Reserving,
    WaitBy, MAX_ACCOUNTS,
};
use super::window::epoch_secs;
use super::{Budget, BudgetExceeded, CallScope, Measure, Window};
use crate::budget::AccountKey;
use crate::money::{to_f64, to_units};

#[derive(Debug, Default)]
struct Account {
    /// Spent in the window, by period (a calendar period has one entry, a rolling window one
    /// per bucket), in units of 10^-22 of the budget's currency.
    spent: VecDeque<(u64, i128)>,
    /// Held for calls in flight.
    reserved: i128,
}

impl Account {
    /// What was spent in `window` when its newest period is `index`; older periods are
    /// dropped.
    fn spent(&mut self, index: u64, window: &Window) -> i128 {
        let oldest = window.oldest_counted(index);
        while self
            .spent
            .front()
            .is_some_and(|(period, _)| *period < oldest)
        {
            self.spent.pop_front();
        }
        self.spent.iter().map(|(_, units)| units).sum()
    }

    /// When a call of `units` would fit under `limit` as a rolling window moves on past the
    /// periods it counts (`spent` called first): the end of the oldest period whose leaving
    /// makes room. `None` when only reservations being given back can (or the call never
    /// fits); a calendar window's end otherwise.
    fn fits_at(&self, window: &Window, limit: i128, units: i128) -> Option<SystemTime> {
        if !matches!(window, Window::Rolling(_)) {
            return None;
        }
        if self.reserved.saturating_add(units) > limit {
            return None;
        }
        let spent: i128 = self.spent.iter().map(|(_, units)| units).sum();
        let need = spent + self.reserved + units - limit;
        let mut freed = 0_i128;
        for (period, amount) in &self.spent {
            freed = freed.saturating_add(*amount);
            if freed >= need {
                let leaves = (period + window.buckets() + 1) * window.bucket_secs();
                return Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(leaves));
            }
        }
        None
    }

    fn add(&mut self, index: u64, units: i128) {
        match self.spent.back_mut() {
            Some((period, spent)) if *period == index => *spent = spent.saturating_add(units),
            _ => self.spent.push_back((index, units)),
        }
    }
}

type Shared = Arc<Mutex<Account>>;

fn lock(account: &Mutex<Account>) -> MutexGuard<'_, Account> {
    account.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a call holds in one account until it settles.
#[derive(Debug)]
struct Hold {
    account: Shared,
    window: Window,
    /// The period the call started in, which its cost counts in.
    index: u64,
    currency: Arc<str>,
    units: i128,
    /// The budget's name and limit, for what the console shows of it.
    budget: Arc<str>,
    limit: f64,
    /// The record its cost is kept under in the spend log, when there is one.
    record: Option<String>,
}

/// Where the ledger's settled costs also go (`LocalBudgets`' file), so that a restart finds
/// them.
pub(crate) trait SpendLog: Send + Sync + std::fmt::Debug {
    /// The record `budget`'s account `key` keeps its spend of `period` under.
    fn record_key(&self, budget: &Budget, key: &AccountKey, period: u64) -> String;
    /// Adds `units` to `record`; never waits.
    fn record(&self, record: String, units: i128);
    /// Waits until what was recorded is kept, at most `timeout`.
    fn flush(&self, timeout: std::time::Duration) -> Result<(), super::Unflushed>;
}

/// What a call holds in the ledger until it settles: most calls are covered by one budget,
/// which takes no allocation beyond the reservation's own.
#[derive(Debug, Default)]
struct Holds {
    first: Option<Hold>,
    rest: Vec<Hold>,
    /// The spend log the costs also go to.
    log: Option<Arc<dyn SpendLog>>,
}

impl Holds {
    fn push(&mut self, hold: Hold) {
        if self.first.is_none() {
            self.first = Some(hold);
        } else {
            self.rest.push(hold);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Hold> {
        self.first.iter().chain(&self.rest)
    }
}

impl Held for Holds {
    /// Releases what it held and debits what the call cost in the period the call started in
    /// (a call across midnight counts in the day it was made, as it was checked); the state
    /// of the most spent of its budgets after that.
    fn settle(
        self: Box<Self>,
        cost: &dyn Fn(&str) -> Option<f64>,
        _now: SystemTime,
    ) -> Option<BudgetState> {
        let mut most: Option<(f64, Hold, i128)> = None;
        let Holds { first, rest, log } = *self;
        for hold in first.into_iter().chain(rest) {
            let used = {
                let mut account = lock(&hold.account);
                account.reserved = account.reserved.saturating_sub(hold.units).max(0);
                if let Some(units) = cost(&hold.currency).and_then(to_units) {
                    account.add(hold.index, units);
                    if let (Some(log), Some(record)) = (&log, &hold.record) {
                        log.record(record.clone(), units);
                    }
                }
                account.spent(hold.index, &hold.window) + account.reserved
            };
            let share = share(used, hold.limit);
            if most.as_ref().is_none_or(|(most, _, _)| share > *most) {
                most = Some((share, hold, used));
            }
        }
        // The hold's names move into the state: no copy for a call of one budget.
        most.map(|(_, hold, used_units)| BudgetState {
            budget: hold.budget,
            used_units,
            limit: hold.limit,
            currency: hold.currency,
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    accounts: Mutex<HashMap<AccountKey, Shared>>,
    /// When (seconds since the epoch) a full ledger may next drop its idle accounts.
    next_sweep: AtomicU64,
    /// Where each settled cost also goes (`LocalBudgets`' file).
    pub(crate) log: Option<Arc<dyn SpendLog>>,
}

/// How often, at most, a full ledger reads every account to drop the idle ones: a sweep of
/// 100,000 accounts holds the ledger's lock for about 8 ms (18 ms when it drops them all, at
/// the turn of a window), during which reservations wait.
const SWEEP_EVERY_SECS: u64 = 60;

impl Ledger {
    /// Reserves `estimate(budget)` (in the budget's currency) in the account of every budget
    /// covering `scope`, unless a `refuse` budget would go past its limit: then nothing is
    /// reserved and the first such budget is the error. The `warn` budgets passed are
    /// returned with the reservation.
    pub(crate) fn reserve_now(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
    ) -> Result<(Option<Reservation>, Vec<Passed>), BudgetExceeded> {
        let secs = epoch_secs(now);
        let mut accounts = self.lock();
        let mut reservation = Holds::default();
        let mut passed = Vec::new();
        for budget in budgets {
            let Some(key) = budget.account(scope) else {
                continue;
            };
            let amount = estimate(budget);
            // An estimate need not be exact to the last digit, as a cost must: no rounding to
            // the spans' 12 digits here (a negative or NaN amount holds nothing).
            let units = if amount > 0.0 {
                (amount * 1e22) as i128
            } else {
                0
            };
            let key = self.admit(&mut accounts, budgets, key, secs);
            // Looked up by reference first: most calls find their account, and need no copy
            // of its key.
            let account = match accounts.get(&key) {
                Some(account) => account.clone(),
                None => accounts.entry(key.clone()).or_default().clone(),
            };
            let index = budget.window.index_at(secs);
            {
                let mut held = lock(&account);
                let used = held.spent(index, &budget.window) + held.reserved;
                if used >= budget.limit_units || used.saturating_add(units) > budget.limit_units {
                    let mut over = BudgetExceeded::new(budget, &key, to_f64(used), amount, now);
                    if matches!(budget.window, Window::Rolling(_)) {
                        over = over.fitting_at(held.fits_at(
                            &budget.window,
                            budget.limit_units,
                            units,
                        ));
                    }
                    if budget.on_limit.refuses() {
                        drop(held);
                        // What the budgets before this one took, given back: all or nothing.
                        for hold in reservation.iter() {
                            let mut account = lock(&hold.account);
                            account.reserved = account.reserved.saturating_sub(hold.units);
                        }
                        return Err(over);
                    }
                    passed.push(Passed { over, waited: None });
                }
                // Taken at once, under the account's lock: most calls have one budget, and
                // a refusal by a later one gives it back above.
                held.reserved = held.reserved.saturating_add(units);
            }
            reservation.push(Hold {
                account,
                window: budget.window,
                index,
                currency: budget.currency.clone(),
                units,
                budget: budget.name.clone(),
                limit: budget.limit,
                record: self
                    .log
                    .as_ref()
                    .map(|log| log.record_key(budget, &key, index)),
            });
        }
        if reservation.first.is_none() {
            return Ok((None, passed));
        }
        reservation.log = self.log.clone();
        Ok((Some(Reservation::new(reservation)), passed))
    }

    /// Debits a call that reserved nothing in every budget covering `scope`.
    pub(crate) fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let secs = epoch_secs(now);
        let mut accounts = self.lock();
        for budget in budgets {
            let (Some(key), Some(units)) = (
                budget.account(scope),
                cost(&budget.currency).and_then(to_units),
            ) else {
                continue;
            };
            let key = self.admit(&mut accounts, budgets, key, secs);
            let index = budget.window.index_at(secs);
            if let Some(log) = &self.log {
                log.record(log.record_key(budget, &key, index), units);
            }
            lock(accounts.entry(key).or_default()).add(index, units);
        }
    }

    /// Adds what the spend log says `key` spent in `index` (read in period order).
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn restore(&self, key: AccountKey, index: u64, units: i128) {
        lock(self.lock().entry(key).or_default()).add(index, units);
    }

    /// Every account of `budgets` with its spend now (reservations left out); idle accounts
    /// that no call holds and those of removed budgets are dropped.
    pub(crate) fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        let mut balances = Vec::new();
        drop_idle(
            &mut self.lock(),
            budgets,
            epoch_secs(now),
            &mut |key, budget, spent| {
                balances.push(Balance {
                    key: key.clone(),
                    spent: to_f64(spent),
                    limit: budget.limit,
                    currency: budget.currency.clone(),
                });
            },
        );
        balances
    }

    /// What `key` spent and holds reserved now, in its budget's currency.
    pub(crate) fn used(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> (f64, f64) {
        let accounts = self.lock();
        accounts.get(key).map_or((0.0, 0.0), |shared| {
            let mut account = lock(shared);
            let index = budget.window.index_at(epoch_secs(now));
            (
                to_f64(account.spent(index, &budget.window)),
                to_f64(account.reserved),
            )
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<AccountKey, Shared>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BudgetStore for Ledger {
    fn reserve(
        &self,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        _wait: WaitBy,
    ) -> Reserving {
        let reserved: Reserved = self.reserve_now(&budgets, scope, estimate, now);
        Reserving::Done(reserved)
    }

    fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        Ledger::debit(self, budgets, scope, cost, now);
    }

    fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        Ledger::balances(self, budgets, now)
    }

    fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64> {
        Some(self.used(budget, key, now).0)
    }

    /// The spend log's writes, when there is one.
    fn flush(&self, timeout: std::time::Duration) -> Result<(), super::Unflushed> {
        self.log.as_ref().map_or(Ok(()), |log| log.flush(timeout))
    }
}

impl Ledger {
    /// `key`, or its budget's `other` account once the ledger is full (a second lookup only
    /// then) and dropping the idle accounts left no room. Without the sweep, a ledger that no
    /// gauge reads would keep every scope it ever saw, and past 100,000 of them (a month of
    /// users, say) every new one would share `other`.
    fn admit(
        &self,
        accounts: &mut HashMap<AccountKey, Shared>,
        budgets: &[Budget],
        key: AccountKey,
        secs: u64,
    ) -> AccountKey {
        if accounts.len() < MAX_ACCOUNTS || accounts.contains_key(&key) {
            return key;
        }
        if secs >= self.next_sweep.load(Ordering::Relaxed) {
            drop_idle(accounts, budgets, secs, &mut |_, _, _| {});
            let room = accounts.len() < MAX_ACCOUNTS;
            let next = if room {
                secs.saturating_add(SWEEP_EVERY_SECS)
            } else {
                next_idle(budgets, secs)
            };
            self.next_sweep.store(next, Ordering::Relaxed);
            if room {
                return key;
            }
        }
        key.other()
    }
}

/// When a sweep that freed nothing may free something: a calendar account that spent stays
/// busy until its period ends, so with calendar budgets only, not before the first end; a
/// rolling window's spend leaves it any time, so a minute later.
fn next_idle(budgets: &[Budget], secs: u64) -> u64 {
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    budgets
        .iter()
        .map(|budget| match budget.window {
            Window::Rolling(_) => secs.saturating_add(SWEEP_EVERY_SECS),
            Window::Day | Window::Month => epoch_secs(budget.window.period(now).ends),
        })
        .min()
        .unwrap_or(secs.saturating_add(SWEEP_EVERY_SECS))
        .max(secs.saturating_add(1))
}

/// Drops the accounts that spent nothing in their window, hold no reservation and that no
/// call holds, and those of budgets no longer there (once no call holds them); `kept` sees
/// every other account of `budgets`, with its spend.
fn drop_idle(
    accounts: &mut HashMap<AccountKey, Shared>,
    budgets: &[Budget],
    secs: u64,
    kept: &mut dyn FnMut(&AccountKey, &Budget, i128),
) {
    accounts.retain(|key, shared| {
        let held = Arc::strong_count(shared) > 1;
        let Some(budget) = budgets.iter().find(|budget| budget.name == key.budget) else {
            return held;
        };
        let mut account = lock(shared);
        let spent = account.spent(budget.window.index_at(secs), &budget.window);
        if spent == 0 && account.reserved == 0 && !held {
            return false;
        }
        // A limit of calls in flight spends nothing: what it has in use is what they hold.
        let used = if budget.measure == Measure::InFlight {
            account.reserved
        } else {
            spent
        };
        kept(key, budget, used);
        true
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::{Ledger, MAX_ACCOUNTS};
    use crate::budget::config::OTHER;
    use crate::budget::{Budget, CallScope, Scope, Window};

    fn tenant(id: &str) -> CallScope {
        let mut scope = CallScope::default();
        scope.set_scope(Scope::Tenant, &Arc::from(id));
        scope
    }

    fn spend(ledger: &Ledger, budget: &Budget, id: &str, usd: f64) -> bool {
        spend_at(ledger, budget, id, usd, SystemTime::now())
    }

    fn spent(ledger: &Ledger, budget: &Budget, id: &str) -> Option<f64> {
        let balances = ledger.balances(std::slice::from_ref(budget), SystemTime::now());
        balances
            .iter()
            .find(|b| b.key.scope[Scope::Tenant.index()].as_deref() == Some(id))
            .map(|b| b.spent)
    }

    fn at(secs: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs)
    }

    /// Reserves `usd` for `id` at `now`; whether it was let through (and then settled).
    fn spend_at(ledger: &Ledger, budget: &Budget, id: &str, usd: f64, now: SystemTime) -> bool {
        let budgets = std::slice::from_ref(budget);
        match ledger.reserve_now(budgets, &tenant(id), &mut |_| usd, now) {
            Ok((reservation, _)) => {
                if let Some(reservation) = reservation {
                    reservation.settle(&|_| Some(usd), now);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// A cost is counted for the whole rolling window after it, never less, and leaves at
    /// most a bucket later: made at 100.9 s in a 3 s window of 1 s buckets, it is counted up
    /// to 104 s.
    #[test]
    fn a_rolling_window_counts_a_cost_for_its_whole_duration() {
        let budget = Budget::new(
            "burst",
            1.0,
            Window::Rolling(std::time::Duration::from_secs(3)),
        )
        .per(Scope::Tenant);
        let ledger = Ledger::default();
        assert!(spend_at(&ledger, &budget, "acme", 1.0, at(100.9)));
        for still_counted in [101.0, 102.5, 103.5, 103.95] {
            assert!(
                !spend_at(&ledger, &budget, "acme", 0.5, at(still_counted)),
                "{still_counted}: 1.0 spent in the last 3 s"
            );
        }
        assert!(spend_at(&ledger, &budget, "acme", 0.5, at(104.0)));
        // The 90 s window holds a cost for 90 s, not the 60 s of 60 one-second buckets.
        let slow = Budget::new(
            "slow",
            1.0,
            Window::Rolling(std::time::Duration::from_secs(90)),
        )
        .per(Scope::Tenant);
        assert!(spend_at(&ledger, &slow, "acme", 1.0, at(1_000.0)));
        assert!(!spend_at(&ledger, &slow, "acme", 0.5, at(1_089.9)));
        assert!(spend_at(&ledger, &slow, "acme", 0.5, at(1_092.0)));
    }

    /// A full ledger that no gauge reads drops the accounts idle in their window before it
    /// puts a new scope in `other`: the next day, yesterday's 100,000 tenants leave room.
    #[test]
    fn a_full_ledger_makes_room_from_accounts_idle_in_their_window() {
        let budget = Budget::new("daily", 1.0, Window::Day).per(Scope::Tenant);
        let ledger = Ledger::default();
        let day = 20_000.0 * 86_400.0;
        for n in 0..MAX_ACCOUNTS {
            assert!(spend_at(
                &ledger,
                &budget,
                &format!("t{n}"),
                0.01,
                at(day + 10.0)
            ));
        }
        // The same day: every account spent something, so a new tenant shares other.
        assert!(spend_at(&ledger, &budget, "late", 0.60, at(day + 20.0)));
        assert!(!spend_at(&ledger, &budget, "later", 0.60, at(day + 30.0)));
        // The next day, nobody has spent yet: the new tenant has its own dollar.
        let next = day + 86_400.0 + 10.0;
        assert!(spend_at(&ledger, &budget, "fresh", 0.90, at(next)));
        assert!(spend_at(&ledger, &budget, "fresher", 0.90, at(next + 1.0)));
        let balances = ledger.balances(&[budget], at(next + 2.0));
        let mut tenants: Vec<&str> = balances
            .iter()
            .filter_map(|b| b.key.scope[Scope::Tenant.index()].as_deref())
            .collect();
        tenants.sort_unstable();
        assert_eq!(tenants, ["fresh", "fresher"]);
    }

    /// A full ledger whose accounts all spent this period does not read them all again before
    /// the period ends, when they can first be idle; with a rolling window, a minute later.
    #[test]
    fn a_sweep_that_freed_nothing_waits_for_the_first_account_that_can_be_idle() {
        use super::next_idle;
        let day = Budget::new("daily", 1.0, Window::Day);
        let month = Budget::new("monthly", 1.0, Window::Month);
        let rolling = Budget::new(
            "hourly",
            1.0,
            Window::Rolling(std::time::Duration::from_secs(3_600)),
        );
        // 2026-12-05T07:00:00Z: the day ends at 2026-12-06T00:00:00Z.
        let now = 1_796_454_000;
        let midnight = 1_796_515_200;
        assert_eq!(next_idle(&[day.clone(), month.clone()], now), midnight);
        assert_eq!(next_idle(&[month, day.clone(), rolling], now), now + 60);
        assert_eq!(next_idle(&[], now), now + 60);
        assert_eq!(next_idle(&[day], midnight - 1), midnight);
    }

    /// A small budget's refusal says its amounts, not `0.00 of 0.00 USD`.
    #[test]
    fn a_refusal_shows_a_small_budgets_amounts() {
        let budget = Budget::new("tiny", 0.0002, Window::Day).per(Scope::Tenant);
        let ledger = Ledger::default();
        assert!(spend(&ledger, &budget, "acme", 0.00015));
        let refused = ledger
            .reserve_now(
                std::slice::from_ref(&budget),
                &tenant("acme"),
                &mut |_| 0.0001,
                SystemTime::now(),
            )
            .map(|_| ())
            .expect_err("over the limit")
            .to_string();
        assert!(
            refused.starts_with(
                "budget \"tiny\" for tenant.id=acme: 0.00015 of 0.0002 USD spent or reserved \
                 this UTC day, and this call may cost up to 0.0001 USD; the call was not made."
            ),
            "{refused}"
        );
    }

    #[test]
    fn past_the_cap_new_tenants_share_one_account_and_known_ones_keep_theirs() {
        let budget = Budget::new("daily", 1.0, Window::Day).per(Scope::Tenant);
        let ledger = Ledger::default();
        for n in 0..MAX_ACCOUNTS {
            assert!(spend(&ledger, &budget, &format!("t{n}"), 0.01));
        }
        // Made-up ids past the cap: one `other` account between them, under one limit.
        assert!(spend(&ledger, &budget, "new-1", 0.60));
        assert!(
            !spend(&ledger, &budget, "new-2", 0.60),
            "other has 0.40 left"
        );
        assert!(spend(&ledger, &budget, "new-3", 0.40));
        assert_eq!(spent(&ledger, &budget, OTHER), Some(1.0));
        assert_eq!(spent(&ledger, &budget, "new-1"), None);
        // A tenant the ledger knows keeps its own account, and its own limit.
        assert!(spend(&ledger, &budget, "t7", 0.90));
        assert_eq!(spent(&ledger, &budget, "t7"), Some(0.91));
        assert!(!spend(&ledger, &budget, "t7", 0.10));
        assert_eq!(
            ledger.balances(&[budget], SystemTime::now()).len(),
            MAX_ACCOUNTS + 1
        );
    }
}
