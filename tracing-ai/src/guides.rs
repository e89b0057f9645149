//! Guides: what the crate root's first example does not show, one page each.
//!
//! Every Rust example of these pages is compiled as a doctest (and run, where it needs no
//! network); a page whose examples use an integration is built with that integration's
//! feature. The README links here.
//!
//! - [`clients`]: the client crates whose responses report their usage with no glue, and one
//!   price for a call two spans describe;
//! - [`streams`]: a call that lasts as long as its stream;
//! - [`errors`]: failed calls, and calls that report no usage;
//! - [`handoff`]: work a request hands to a task or a queue, attributed to the request;
//! - [`retries`]: one span per attempt under the call's;
//! - [`content`]: prompts and answers, off unless you say so;
//! - [`evaluations`]: scores and user feedback on a call;
//! - [`sampling`]: every failed request, a share of the rest;
//! - [`metrics`]: exact totals at any sampling rate, and what each tenant spent in Prometheus;
//! - [`budgets`]: stopping runaway spend, in process or in Redis;
//! - [`prices`]: your own prices, GPU time, a reporting currency, reloads;
//! - [`services`]: one trace across services, and sampling behind a Collector;
//! - [`security`]: what never leaves the process, and the bounds on what does;
//! - [`attributes`]: every attribute exported, and where it comes from;
//! - [`architecture`]: how a call's tokens become an exported cost.

#[cfg(all(feature = "macros", feature = "async-openai"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "macros", feature = "async-openai"))))]
#[doc = include_str!("docs/clients.md")]
pub mod clients {}

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("docs/streams.md")]
pub mod streams {}

#[cfg(feature = "tiktoken-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "tiktoken-rs")))]
#[doc = include_str!("docs/errors.md")]
pub mod errors {}

#[doc = include_str!("docs/handoff.md")]
pub mod handoff {}

#[cfg(all(feature = "async-openai", feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "async-openai", feature = "reqwest-middleware")))
)]
#[doc = include_str!("docs/retries.md")]
pub mod retries {}

#[doc = include_str!("docs/content.md")]
pub mod content {}

#[doc = include_str!("docs/evaluations.md")]
pub mod evaluations {}

#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
#[doc = include_str!("docs/sampling.md")]
pub mod sampling {}

#[doc = include_str!("docs/metrics.md")]
pub mod metrics {}

#[cfg(all(feature = "macros", feature = "async-openai", feature = "genai"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "macros", feature = "async-openai", feature = "genai")))
)]
#[doc = include_str!("docs/budgets.md")]
pub mod budgets {}

#[doc = include_str!("docs/prices.md")]
pub mod prices {}

#[cfg(all(feature = "axum", feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "axum", feature = "reqwest-middleware")))
)]
#[doc = include_str!("docs/services.md")]
pub mod services {}

#[doc = include_str!("docs/security.md")]
pub mod security {}

#[doc = include_str!("docs/attributes.md")]
pub mod attributes {}

#[doc = include_str!("docs/architecture.md")]
pub mod architecture {}
