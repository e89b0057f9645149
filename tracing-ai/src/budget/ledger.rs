//! The in-process ledger: what each budget's scopes spent in their window and hold reserved
//! for calls in flight. One lock around the whole ledger, so that a call covered by several
//! budgets reserves in all of them or in none; it is held for a few hash lookups, never
//! across a call.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use super::{Budget, BudgetExceeded, CallScope, OnLimit, Window};
use crate::money::{to_f64, to_units};

/// Past this many accounts (scopes of all budgets in their window), new scopes share one
/// account per budget, named `other`: ids a caller makes up cannot grow the ledger without
/// bound.
pub(crate) const MAX_ACCOUNTS: usize = 100_000;
const OTHER: &str = "other";

/// One budget's account for one scope (`tenant.id = acme`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AccountKey {
    pub(crate) budget: Arc<str>,
    /// The values of the budget's `per` scopes, in their order.
    pub(crate) scope: Box<[Arc<str>]>,
}

#[derive(Debug, Default)]
struct Account {
    /// Spent in the window, by period (a calendar period has one entry, a rolling window one
    /// per bucket), in units of 10^-22 of the budget's currency.
    spent: VecDeque<(u64, i128)>,
    /// Held for calls in flight.
    reserved: i128,
}

impl Account {
    /// What was spent in `window` as of `now`; older periods are dropped.
    fn spent(&mut self, window: &Window, now: SystemTime) -> i128 {
        let index = window.period(now).index;
        let oldest = index.saturating_sub(window.buckets() - 1);
        while self
            .spent
            .front()
            .is_some_and(|(period, _)| *period < oldest)
        {
            self.spent.pop_front();
        }
        self.spent.iter().map(|(_, units)| units).sum()
    }

    fn add(&mut self, window: &Window, now: SystemTime, units: i128) {
        let index = window.period(now).index;
        match self.spent.back_mut() {
            Some((period, spent)) if *period == index => *spent = spent.saturating_add(units),
            _ => self.spent.push_back((index, units)),
        }
    }

    fn is_idle(&mut self, window: &Window, now: SystemTime) -> bool {
        self.reserved == 0 && self.spent(window, now) == 0
    }
}

/// What a call holds in the ledger until it settles.
#[derive(Debug, Default)]
pub(crate) struct Reservation {
    holds: Vec<(AccountKey, Arc<str>, i128)>,
}

/// A budget with the `warn` action that a call went past.
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) over: BudgetExceeded,
}

/// A budget's account as the gauges show it.
#[derive(Debug)]
pub(crate) struct Balance {
    pub(crate) key: AccountKey,
    pub(crate) spent: f64,
    pub(crate) limit: f64,
    pub(crate) currency: Arc<str>,
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    accounts: Mutex<HashMap<AccountKey, Account>>,
}

impl Ledger {
    /// Reserves `estimate(budget)` (in the budget's currency) in the account of every budget
    /// covering `scope`, unless a `refuse` budget would go past its limit: then nothing is
    /// reserved and the first such budget is the error. The `warn` budgets passed are
    /// returned with the reservation.
    pub(crate) fn reserve(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        estimate: &dyn Fn(&Budget) -> f64,
        now: SystemTime,
    ) -> Result<(Reservation, Vec<Passed>), BudgetExceeded> {
        let mut accounts = self.lock();
        let mut wanted = Vec::new();
        let mut passed = Vec::new();
        for budget in budgets {
            let Some(key) = budget.account(scope) else {
                continue;
            };
            let key = admit(&accounts, key);
            let amount = estimate(budget);
            let units = to_units(amount).unwrap_or(0).max(0);
            let limit = to_units(budget.limit).unwrap_or(i128::MAX);
            let account = accounts.entry(key.clone()).or_default();
            let used = account.spent(&budget.window, now) + account.reserved;
            if used >= limit || used.saturating_add(units) > limit {
                let over = budget.exceeded(&key, to_f64(used), amount, now);
                match budget.on_limit {
                    OnLimit::Refuse => return Err(over),
                    OnLimit::Warn => passed.push(Passed { over }),
                }
            }
            wanted.push((key, budget.currency.clone(), units));
        }
        for (key, _, units) in &wanted {
            if let Some(account) = accounts.get_mut(key) {
                account.reserved = account.reserved.saturating_add(*units);
            }
        }
        Ok((Reservation { holds: wanted }, passed))
    }

    /// Releases what `reservation` held and debits what the call cost (`cost(currency)`;
    /// `None` for a call nothing was billed for) in the window of now.
    pub(crate) fn settle(
        &self,
        budgets: &[Budget],
        reservation: Reservation,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut accounts = self.lock();
        for (key, currency, units) in reservation.holds {
            let window = budgets
                .iter()
                .find(|budget| budget.name == key.budget)
                .map(|budget| budget.window);
            let Some(account) = accounts.get_mut(&key) else {
                continue;
            };
            account.reserved = account.reserved.saturating_sub(units).max(0);
            // A budget removed meanwhile has nothing left to debit.
            if let (Some(window), Some(units)) = (window, cost(&currency).and_then(to_units)) {
                account.add(&window, now, units);
            }
        }
    }

    /// Debits a call that reserved nothing in every budget covering `scope`.
    pub(crate) fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut accounts = self.lock();
        for budget in budgets {
            let (Some(key), Some(units)) = (
                budget.account(scope),
                cost(&budget.currency).and_then(to_units),
            ) else {
                continue;
            };
            let key = admit(&accounts, key);
            accounts
                .entry(key)
                .or_default()
                .add(&budget.window, now, units);
        }
    }

    /// Every account of `budgets` with its spend now (reservations left out); idle accounts
    /// and those of removed budgets are dropped.
    pub(crate) fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        let mut accounts = self.lock();
        let mut balances = Vec::new();
        accounts.retain(|key, account| {
            let Some(budget) = budgets.iter().find(|budget| budget.name == key.budget) else {
                return account.reserved > 0;
            };
            if account.is_idle(&budget.window, now) {
                return false;
            }
            balances.push(Balance {
                key: key.clone(),
                spent: to_f64(account.spent(&budget.window, now)),
                limit: budget.limit,
                currency: budget.currency.clone(),
            });
            true
        });
        balances
    }

    /// What `key` spent and holds reserved now, in its budget's currency.
    pub(crate) fn used(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> (f64, f64) {
        let mut accounts = self.lock();
        accounts.get_mut(key).map_or((0.0, 0.0), |account| {
            (
                to_f64(account.spent(&budget.window, now)),
                to_f64(account.reserved),
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountKey, Account>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `key`, or its budget's `other` account once the ledger is full.
fn admit(accounts: &HashMap<AccountKey, Account>, key: AccountKey) -> AccountKey {
    if accounts.len() < MAX_ACCOUNTS || accounts.contains_key(&key) {
        return key;
    }
    let other: Arc<str> = OTHER.into();
    AccountKey {
        scope: key.scope.iter().map(|_| other.clone()).collect(),
        budget: key.budget,
    }
}
