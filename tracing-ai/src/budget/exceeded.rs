//! A refused call: which budget, for which scope, how much was spent, when the window ends;
//! for a rate limit, when to retry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::config::Measure;
use super::{
    AccountKey, Budget, ScopeLabels, Window, BUDGET_EXCEEDED, BUDGET_UNAVAILABLE, RATE_LIMITED,
};
use crate::money::decimal;

/// A call was not made: it would have taken a budget, or a rate limit, past its limit.
///
/// An `#[ai_span(..., budget)]` function returns it through its error type, which must
/// implement `From<BudgetExceeded>`. Its `Display` says which budget, for which scope, how
/// much of it is spent or reserved, and when its window ends; for a rate limit
/// ([`is_rate_limit`](Self::is_rate_limit)), when to retry
/// ([`retry_after`](Self::retry_after), an HTTP service's `Retry-After`).
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
    /// What the budget counts: money, or a rate limit's tokens or calls.
    pub(super) measure: Measure,
    /// When the call would fit, as far as the store could tell: a rate limit's room comes
    /// back as its window moves on. `None` when only calls ending can make room (calls in
    /// flight, or reservations), or the call can never fit.
    pub(super) fits_at: Option<SystemTime>,
    /// When it was refused.
    pub(super) at: SystemTime,
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
            measure: budget.measure,
            // Unless the store says better, the earliest the window can move on.
            fits_at: (budget.measure != Measure::InFlight && estimate <= budget.limit)
                .then(|| budget.window.period(now).ends),
            at: now,
        }))
    }

    /// How long from the refusal until the call would fit, unrounded, when the window moving
    /// on makes room.
    pub(super) fn fits_in(&self) -> Option<Duration> {
        Some(
            self.0
                .fits_at?
                .duration_since(self.0.at)
                .unwrap_or_default(),
        )
    }

    /// Sets when the call would fit, as the store worked it out.
    pub(super) fn fitting_at(mut self, fits_at: Option<SystemTime>) -> Self {
        self.0.fits_at = fits_at;
        self
    }

    /// Whether a rate limit refused the call (of tokens, requests or calls in flight), not a
    /// budget of money.
    pub fn is_rate_limit(&self) -> bool {
        self.0.measure != Measure::Money
    }

    /// How long to wait before the call would fit in the limit, counted from the refusal, in
    /// whole seconds (at least one): for an HTTP service, its `Retry-After`. `None` when it is
    /// not the window moving on that makes room but calls ending (a limit of calls in flight,
    /// or reservations of calls running), or the call can never fit (its estimate is over the
    /// limit), or the store could not answer.
    ///
    /// ```
    /// use tracing_ai::budget::BudgetExceeded;
    ///
    /// fn retry_after_header(refused: &BudgetExceeded) -> Option<String> {
    ///     refused.retry_after().map(|wait| wait.as_secs().to_string())
    /// }
    /// # let _ = retry_after_header;
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        if self.is_store_failure() {
            return None;
        }
        let wait = self
            .0
            .fits_at?
            .duration_since(self.0.at)
            .unwrap_or_default();
        Some(Duration::from_secs(
            wait.as_secs_f64().ceil().max(1.0) as u64
        ))
    }

    /// Whether the call was refused because the budget store (Redis) could not answer in time
    /// and its policy is fail-closed, not because the budget was spent.
    pub fn is_store_failure(&self) -> bool {
        self.0.store_failure.is_some()
    }

    /// The `error.type` a refused call records: `budget_exceeded`, `rate_limited` for a rate
    /// limit, or `budget_unavailable` when the store could not answer.
    pub fn error_type(&self) -> &'static str {
        if self.is_store_failure() {
            BUDGET_UNAVAILABLE
        } else if self.is_rate_limit() {
            RATE_LIMITED
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

    /// The currency of the amounts; for a rate limit, their unit (`{token}`, `{request}`,
    /// `{call}`, ...: see [`Budget::currency`]).
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
        let kind = if self.is_rate_limit() {
            "rate limit"
        } else {
            "budget"
        };
        write!(f, "{kind} {:?}", &*self.0.budget)?;
        if !self.0.scope.is_empty() {
            f.write_str(" for ")?;
            for (index, (name, value)) in self.0.scope.iter().enumerate() {
                let comma = if index > 0 { ", " } else { "" };
                write!(f, "{comma}{name}={value}")?;
            }
        }
        if self.is_rate_limit() {
            return self.fmt_rate_limit(f);
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

impl BudgetExceeded {
    /// The rest of a rate limit's refusal, after its name and scope.
    fn fmt_rate_limit(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.0.measure.in_words();
        let (used, limit) = (self.0.used.round(), self.0.limit);
        if self.0.measure == Measure::InFlight {
            write!(f, ": {used} of {limit} {words}")?;
        } else {
            write!(
                f,
                ": {used} of {limit} {words} used or reserved in the last minute"
            )?;
            if self.0.estimate > 0.0 {
                write!(
                    f,
                    ", and this call may use up to {}",
                    self.0.estimate.round()
                )?;
            }
        }
        f.write_str("; the call was not made. ")?;
        match self.retry_after() {
            Some(wait) => write!(f, "Retry in {} s, or raise the limit", wait.as_secs()),
            None if self.0.estimate > limit => f.write_str(
                "It can never fit: its estimate is over the limit; lower its max_tokens, or \
                 raise the limit",
            ),
            None => f.write_str("Retry when a call in flight ends, or raise the limit"),
        }
    }
}

impl std::error::Error for BudgetExceeded {}

/// A refused call as an HTTP service answers it: `429 Too Many Requests`, with `Retry-After`
/// (in seconds) when the refusal says when the call would fit, and the refusal's message as the
/// body; `503 Service Unavailable` when the budget store could not answer. A handler returns
/// it as it is, or through its own error type.
///
/// ```
/// use axum::response::IntoResponse as _;
/// use tracing_ai::budget::BudgetExceeded;
///
/// async fn handler() -> Result<String, BudgetExceeded> {
///     // an `#[ai_span(..., budget)]` call's error, passed on with `?`
///     Ok("the answer".to_owned())
/// }
/// let _router: axum::Router = axum::Router::new().route("/chat", axum::routing::post(handler));
/// ```
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl axum::response::IntoResponse for BudgetExceeded {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue, StatusCode};
        let status = if self.is_store_failure() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        let retry_after = self.retry_after();
        let mut response = (status, self.to_string()).into_response();
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        response
    }
}
