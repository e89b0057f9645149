//! A refused call: which budget, for which scope, how much was spent, when the window ends.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::{AccountKey, Budget, ScopeLabels, Window, BUDGET_EXCEEDED, BUDGET_UNAVAILABLE};
use crate::money::decimal;

/// A call was not made: it would have taken a budget past its limit.
///
/// An `#[ai_span(..., budget)]` function returns it through its error type, which must
/// implement `From<BudgetExceeded>`. Its `Display` says which budget, for which scope, how
/// much of it is spent or reserved, and when its window ends.
#[derive(Clone, Debug)]
pub struct BudgetExceeded(pub(super) Box<Exceeded>);

/// What a [`BudgetExceeded`] says, boxed: the error stays one pointer in the `Result`s it is
/// returned in.
#[derive(Clone, Debug)]
pub(super) struct Exceeded {
    pub(super) budget: Arc<str>,
    pub(super) scope: ScopeLabels,
    pub(super) limit: f64,
    pub(super) used: f64,
    pub(super) estimate: f64,
    pub(super) currency: Arc<str>,
    pub(super) window: Window,
    pub(super) ends: SystemTime,
    /// Why the budget store could not answer, when that is why the call was refused.
    pub(super) store_failure: Option<Arc<str>>,
}

impl BudgetExceeded {
    /// `budget` refusing a call of `estimate` in the account `key`, where `used` was spent or
    /// reserved, at `now`.
    pub(super) fn new(
        budget: &Budget,
        key: &AccountKey,
        used: f64,
        estimate: f64,
        now: SystemTime,
    ) -> Self {
        Self(Box::new(Exceeded {
            budget: budget.name.clone(),
            scope: budget.scope_of(key),
            limit: budget.limit,
            used,
            estimate: crate::money::round_money(estimate),
            currency: budget.currency.clone(),
            window: budget.window,
            ends: budget.window.period(now).ends,
            store_failure: None,
        }))
    }

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
