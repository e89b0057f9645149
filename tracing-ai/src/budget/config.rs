//! What a budget is: its limit, window, scopes and what it does at the limit, checked when it
//! is built; a rate limit is a budget of tokens or calls.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::{BudgetError, Window};
use crate::attr;

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
    pub(super) fn value_as_kept(self, value: &str) -> Arc<str> {
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

    pub(super) fn index(self) -> usize {
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
    /// The call is not made: it returns [`BudgetExceeded`](super::BudgetExceeded).
    #[default]
    Refuse,
    /// An `async fn` call past the limit waits for room, in the order the calls came, at most
    /// this long; then it is refused as by `Refuse`. A sync function's call is refused at once:
    /// waiting would block its thread. See [`Budget::wait_up_to`].
    Wait(Duration),
}

impl OnLimit {
    /// Whether a call past the limit is kept from going on (refused, or made to wait).
    pub(crate) fn refuses(self) -> bool {
        !matches!(self, OnLimit::Warn)
    }

    /// How long an `async fn` call past the limit waits for room.
    pub(crate) fn patience(self) -> Option<Duration> {
        match self {
            OnLimit::Wait(patience) => Some(patience),
            OnLimit::Warn | OnLimit::Refuse => None,
        }
    }
}

/// What a [`Budget`] counts: the calls' cost, or, for a rate limit, their tokens or the calls
/// themselves. Each is kept in the stores as an amount of its unit (`USD`, `{token}`, ...),
/// so that a rate limit reserves, settles and crosses replicas as a budget does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Measure {
    /// The cost, in the budget's currency.
    Money,
    /// Input and output tokens.
    Tokens,
    /// Input tokens.
    InputTokens,
    /// Output tokens.
    OutputTokens,
    /// Calls made.
    Requests,
    /// Calls running: one is held while a call runs and given back when it ends.
    InFlight,
}

impl Measure {
    /// The unit a rate limit's amounts are kept in (UCUM's annotation style, as the metrics'
    /// units); `None` for money, which is kept in its currency.
    pub(crate) const fn unit(self) -> Option<&'static str> {
        match self {
            Measure::Money => None,
            Measure::Tokens => Some("{token}"),
            Measure::InputTokens => Some("{input_token}"),
            Measure::OutputTokens => Some("{output_token}"),
            Measure::Requests => Some("{request}"),
            Measure::InFlight => Some("{call}"),
        }
    }

    /// The measure kept in `unit`: money for a currency code.
    pub(crate) fn of_unit(unit: &str) -> Measure {
        [
            Measure::Tokens,
            Measure::InputTokens,
            Measure::OutputTokens,
            Measure::Requests,
            Measure::InFlight,
        ]
        .into_iter()
        .find(|measure| measure.unit() == Some(unit))
        .unwrap_or(Measure::Money)
    }

    /// How the amounts read in a sentence: `tokens`, `calls in flight`.
    pub(crate) const fn in_words(self) -> &'static str {
        match self {
            Measure::Money => "",
            Measure::Tokens => "tokens",
            Measure::InputTokens => "input tokens",
            Measure::OutputTokens => "output tokens",
            Measure::Requests => "requests",
            Measure::InFlight => "calls in flight",
        }
    }
}

/// How long a rate limit's window is: a rolling minute, in 60 buckets of a second.
const MINUTE: Window = Window::Rolling(Duration::from_secs(60));

/// A limit on spend over a window, for a scope; or, made by [`tokens_per_minute`],
/// [`requests_per_minute`] or [`in_flight`], a rate limit. See [the module](super).
///
/// [`tokens_per_minute`]: Self::tokens_per_minute
/// [`requests_per_minute`]: Self::requests_per_minute
/// [`in_flight`]: Self::in_flight
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
    pub(super) name: Arc<str>,
    /// The name's hash, for the ledger's keys.
    pub(super) name_hash: u64,
    pub(super) limit: f64,
    /// The limit in the ledger's units (10^-22 of the currency).
    pub(super) limit_units: i128,
    pub(super) currency: Arc<str>,
    pub(super) window: Window,
    pub(super) per: Vec<Scope>,
    pub(super) only: Vec<(Scope, Arc<str>)>,
    pub(super) on_limit: OnLimit,
    pub(super) per_call: Option<f64>,
    pub(super) measure: Measure,
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
            measure: Measure::Money,
        }
    }

    /// A rate limit named `name` of `tokens` tokens (input and output) a minute, rolling, that
    /// refuses calls past it: a call reserves its estimate (its input's tokens, counted by the
    /// layer's [`TokenEstimator`](crate::estimate::TokenEstimator), and the request's
    /// `max_tokens`; the input alone without `max_tokens`, or [`per_call`](Self::per_call)
    /// tokens when its input cannot be counted) and settles with the tokens it used when it
    /// ends. A refused call returns a [`BudgetExceeded`](super::BudgetExceeded) that says when
    /// to retry ([`retry_after`](super::BudgetExceeded::retry_after)) and records
    /// `error.type = rate_limited`. Without [`per`](Self::per), one limit for all calls.
    ///
    /// ```
    /// use tracing_ai::budget::{Budget, Scope};
    ///
    /// // Each tenant at most 100,000 tokens a minute, so that none takes the provider's whole
    /// // quota; and each at most 8 calls at once.
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_budget(Budget::tokens_per_minute("tenant-tpm", 100_000).per(Scope::Tenant))
    ///     .with_budget(Budget::in_flight("tenant-parallel", 8).per(Scope::Tenant))
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn tokens_per_minute(name: impl Into<String>, tokens: u64) -> Self {
        Self::rate_limit(name, tokens, Measure::Tokens)
    }

    /// A rate limit of `tokens` input tokens a minute: see
    /// [`tokens_per_minute`](Self::tokens_per_minute).
    pub fn input_tokens_per_minute(name: impl Into<String>, tokens: u64) -> Self {
        Self::rate_limit(name, tokens, Measure::InputTokens)
    }

    /// A rate limit of `tokens` output tokens a minute: see
    /// [`tokens_per_minute`](Self::tokens_per_minute).
    pub fn output_tokens_per_minute(name: impl Into<String>, tokens: u64) -> Self {
        Self::rate_limit(name, tokens, Measure::OutputTokens)
    }

    /// A rate limit of `requests` calls a minute, rolling: each call counts one when it is
    /// made, whatever becomes of it.
    ///
    /// ```
    /// use tracing_ai::budget::{Budget, Scope};
    ///
    /// let limit = Budget::requests_per_minute("user-rpm", 60).per(Scope::User);
    /// assert!(limit.is_rate_limit());
    /// ```
    pub fn requests_per_minute(name: impl Into<String>, requests: u64) -> Self {
        Self::rate_limit(name, requests, Measure::Requests)
    }

    /// A limit of `calls` calls running at once: a call holds one from its reservation until
    /// it ends, however it ends (failed, cancelled, its stream dropped).
    pub fn in_flight(name: impl Into<String>, calls: u64) -> Self {
        Self::rate_limit(name, calls, Measure::InFlight)
    }

    fn rate_limit(name: impl Into<String>, limit: u64, measure: Measure) -> Self {
        let mut budget = Self::new(name, limit as f64, MINUTE);
        budget.currency = measure.unit().unwrap_or("USD").into();
        budget.measure = measure;
        budget
    }

    /// What it counts.
    pub(crate) fn measure(&self) -> Measure {
        self.measure
    }

    /// Whether this is a rate limit (of tokens, requests or calls in flight), not a budget of
    /// money.
    pub fn is_rate_limit(&self) -> bool {
        self.measure != Measure::Money
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

    /// Makes an `async fn` call past the limit wait for room, in the order the calls came, at
    /// most `patience`, and only then refuse it: for a rate limit, a burst is served as the
    /// window moves on and calls in flight end, instead of failing. A sync function's call is
    /// refused at once (waiting would block its thread).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracing_ai::budget::{Budget, Scope};
    ///
    /// // At most 4 calls of a tenant at once; a fifth waits up to 2 s for one to end.
    /// let limit = Budget::in_flight("tenant-parallel", 4)
    ///     .per(Scope::Tenant)
    ///     .wait_up_to(Duration::from_secs(2));
    /// # let _ = limit;
    /// ```
    #[must_use]
    pub fn wait_up_to(mut self, patience: Duration) -> Self {
        self.on_limit = OnLimit::Wait(patience);
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
    /// budget's currency; for a limit of tokens, in tokens.
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

    /// The currency of its limit; for a rate limit, its unit: `{token}`, `{input_token}`,
    /// `{output_token}`, `{request}` or `{call}` (calls in flight).
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
    pub(super) fn account(&self, scope: &CallScope) -> Option<AccountKey> {
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
    pub(super) fn scope_of(&self, key: &AccountKey) -> ScopeLabels {
        self.only
            .iter()
            .map(|(scope, value)| (scope.attribute(), value.clone()))
            .chain(self.per.iter().filter_map(|scope| {
                let value = key.scope[scope.index()].clone()?;
                Some((scope.attribute(), value))
            }))
            .collect()
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
        if let Some(unit) = self.measure.unit() {
            if &*self.currency != unit {
                return Err(named(format!(
                    "it is a rate limit of {}, which has no currency; remove `in_currency`",
                    self.measure.in_words()
                )));
            }
        } else if &*self.currency != "USD" && &*self.currency != reporting {
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

pub(crate) const OTHER: &str = "other";

/// One budget's account for one scope (`tenant.id = acme`), as every store keys it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountKey {
    /// The budget's name, and its hash (computed once: hashing the name on every call is
    /// what a lookup would spend most on).
    pub(crate) budget: Arc<str>,
    pub(crate) budget_hash: u64,
    /// The values of the budget's `per` scopes, by [`Scope`] index.
    pub(crate) scope: [Option<Arc<str>>; 5],
}

impl AccountKey {
    /// The budget's account that scopes share once there are too many of them: each of the
    /// budget's scopes valued `other`.
    pub(crate) fn other(&self) -> AccountKey {
        let other: Arc<str> = OTHER.into();
        AccountKey {
            budget: self.budget.clone(),
            budget_hash: self.budget_hash,
            scope: self.scope.clone().map(|value| value.map(|_| other.clone())),
        }
    }
}

impl Hash for AccountKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.budget_hash);
        for value in self.scope.iter().flatten() {
            value.hash(state);
        }
    }
}

/// A scope as attribute names and values (`[("tenant.id", "acme")]`).
pub(crate) type ScopeLabels = Vec<(&'static str, Arc<str>)>;

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
