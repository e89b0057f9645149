//! Budgets and rate limits in process, and the budgets' alert rules in a real Prometheus.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod budget;
mod budget_alert;
mod rate_limit;
