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
//! A rate limit is a budget of tokens or requests over a rolling minute, or of calls in flight
//! ([`Budget::tokens_per_minute`], [`Budget::requests_per_minute`], [`Budget::in_flight`]): it
//! reserves the call's estimated tokens (or one call), settles with what the call used, and
//! refuses with a [`BudgetExceeded`] that says when to retry and records
//! `error.type = rate_limited` (see the budgets guide, `guides::budgets`).
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

mod config;
mod exceeded;
mod file;
mod ledger;
mod live;
#[cfg(feature = "redb")]
mod local;
#[cfg(feature = "redis")]
mod redis;
mod store;
mod wait;
mod window;

#[cfg(feature = "redb")]
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
pub use self::local::LocalBudgets;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{OnStoreFailure, RedisBudgets};
pub use self::store::Unflushed;
pub(crate) use self::store::{
    BudgetState, Clock, OpenStore, Passed, Reservation, Reserved, Reserving, WaitBy,
};
pub(crate) use config::{AccountKey, CallScope, Measure, ScopeLabels};
pub use config::{Budget, OnLimit, Scope};
pub use exceeded::BudgetExceeded;
pub(crate) use file::BudgetSources;
pub use live::BudgetsHandle;
pub(crate) use live::LiveBudgets;
pub use window::Window;

pub use crate::error::BudgetError;
pub use crate::reserve::{reserve, reserve_async};

/// The `error.type` of a call a budget refused.
pub const BUDGET_EXCEEDED: &str = "budget_exceeded";
/// Whether a call's `error.type` says a budget or a rate limit refused it before any model
/// was called: it is then neither priced, nor a failed inference in the metrics, nor counted
/// in the budgets.
pub(crate) fn refused_before_the_call(error_type: Option<&str>) -> bool {
    matches!(error_type, Some(BUDGET_EXCEEDED | RATE_LIMITED))
}

/// The `error.type` of a call a rate limit refused.
pub const RATE_LIMITED: &str = "rate_limited";
/// The `error.type` of a call refused because the budget store could not answer (fail-closed).
pub const BUDGET_UNAVAILABLE: &str = "budget_unavailable";
