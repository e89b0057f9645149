//! Observability for AI applications, built on [`tracing`] and OpenTelemetry.
//!
//! # Overview
//!
//! A request in an AI application hops through an embedding call, a vector search and an LLM
//! call. tracing-ai gives every hop a span that carries what the OpenTelemetry GenAI semantic
//! conventions say about it (operation, model, provider, token usage, errors) so that a
//! backend can tell, per request, where the time, the tokens and the money went.
//!
//! The crate provides:
//!
//! * [`#[ai_span]`](ai_span), an attribute that wraps a function in an AI span and records the
//!   token usage found in its return value;
//! * [`Usage`] and [`ReportsUsage`], how a return value says what its call consumed;
//! * [`record_cache_hit`] and [`record_fallback`], for the two other per-call facts;
//! * [`ErrorType`], how an error says what kind of failure it is (`error.type`);
//! * [`content`], the messages sent and received, captured only when the application says so,
//!   redacted and bounded;
//! * [`evaluation`], scores on the call they judge, during the request or long after it;
//! * [`stream`], streamed calls: the span lives as long as the stream, with time to first
//!   chunk and the usage of the last chunk;
//! * [`AiLayer`] and [`layer`], the `tracing-subscriber` layer that prices every AI span,
//!   attributes it to its tenant, feature and request, rolls a request's calls up onto its
//!   root, and counts token, duration and cost metrics ([`AiLayerBuilder::with_meter`]);
//!   composed with OpenTelemetry it writes onto the OpenTelemetry span, and
//!   [`AiLayerBuilder::with_tracing_fields`] also shows cost and ids to `fmt` and other layers;
//! * `init` and `builder` (feature `otlp`), the whole OTLP set-up in one call, or a
//!   [`ConsoleLayer`] view of each request when no endpoint is set;
//! * [`budget`], limits on spend per tenant, feature, user or model that a call checks
//!   before it is made (`#[ai_span(..., budget)]`), with gauges to alert on;
//! * `sampling` (feature `sampling`), tail sampling that keeps every failed request;
//! * [`attr`], the names of every attribute it exports, for spans written by hand.
//!
//! # Usage
//!
//! ```toml
//! [dependencies]
//! tracing-ai = "0.1"
//! tracing = "0.1"
//! ```
//!
//! ```
//! use tracing_ai::{ai_span, ReportsUsage, Usage};
//!
//! struct Completion { text: String, input: u64, output: u64 }
//!
//! impl ReportsUsage for Completion {
//!     fn usage(&self) -> Option<Usage> {
//!         Some(Usage::new(self.input, self.output))
//!     }
//! }
//!
//! #[ai_span(kind = "embedding", model = "text-embedding-3-small", provider = "openai")]
//! async fn embed(query: &str) -> Result<Usage, std::io::Error> {
//!     Ok(Usage::new(query.split_whitespace().count() as u64, 0))
//! }
//!
//! #[ai_span(kind = "retrieval")]
//! async fn retrieve(k: usize) -> Vec<String> {
//!     vec!["chunk".to_owned(); k]
//! }
//!
//! #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
//! async fn generate(prompt: &str, chunks: &[String]) -> Result<Completion, std::io::Error> {
//!     Ok(Completion { text: format!("answer to {prompt}"), input: 800, output: 120 })
//! }
//!
//! async fn rag_query(query: &str) -> Result<String, std::io::Error> {
//!     embed(query).await?;
//!     let chunks = retrieve(10).await;
//!     Ok(generate(query, &chunks).await?.text)
//! }
//! # let _ = rag_query("q");
//! ```
//!
//! Each call above becomes a span (`embeddings text-embedding-3-small`, `retrieval retrieve`,
//! `chat gpt-4o-mini`) with its token counts, under whatever span is current, so one request
//! gives one tree.
//!
//! # Setting up: which way when
//!
//! | you have | use |
//! | --- | --- |
//! | nothing yet | `init()` (feature `otlp`): OTLP export from the standard `OTEL_*` variables, or a console view when no endpoint is set; `try_init()` returns the error where `init()` panics |
//! | settings to give in code | `builder()` (feature `otlp`), then `.init()` (or `.try_init()`) |
//! | a tracer provider of your own | [`layer`]`(tracer)`, or [`AiLayer::builder`]`()...build()?.`[`with_tracer`](AiLayer::with_tracer)`(tracer)` to configure the layer |
//! | no OpenTelemetry (`fmt` only) | [`AiLayer::builder`]`().build()?` under `fmt` |
//!
//! The first three write what the layer finds straight onto the OpenTelemetry span and give
//! the same exported attributes for the same calls. An `AiLayer` built alone and put under a
//! tracing-opentelemetry layer of your own exports them too, through `tracing` fields (the
//! slower path; `tests/tests/calls/construction.rs` holds the three to the same attributes), and that
//! layer's own metadata (`busy_ns`, `code.*`) is then yours to configure.
//!
//! # Guides
//!
//! How to do what this page does not show, one page each, every example a doctest: the
//! client crates, streams, errors, retries, content, evaluations, sampling, metrics, budgets,
//! prices, services, security, the exported attributes: see [`guides`].
//!
//! # From a token to an exported cost
//!
//! 1. The `#[ai_span]` expansion creates the call's span, every attribute it may carry
//!    declared up front (each fact of a call is declared once, in `facts.rs`), and records the
//!    [`Usage`] its function returned (`__private::record_usage`, through `record.rs`): under
//!    an [`AiLayer`] composed with OpenTelemetry, straight into the call's facts in the span's
//!    extensions; otherwise as `tracing` fields, which every layer sees.
//! 2. [`AiLayer`] reads the fields recorded on any span, by what each field of the callsite
//!    means (decided once per callsite), into the span's extensions (`layer/fields.rs`).
//! 3. When the span closes, the layer settles the call in place as a `ClosedCall`
//!    (`layer/call.rs`), its span's extensions locked, through plain functions: it prices
//!    the call (`pricing/`: your prices, GPU time, the genai-prices data), resolves its tenant,
//!    feature and request from its ancestors (and the baggage, for the keys the service
//!    trusts), adds it to its request's totals on the local root (`layer/rollup.rs`), records
//!    its metrics, marks the call settled, and writes usage, cost and ids onto the
//!    OpenTelemetry span in one call (`layer/write.rs`).
//! 4. tracing-opentelemetry ends the span; the [tail sampler](sampling) holds the trace until
//!    its root ends and keeps it or not; the export queue (`export/queue.rs`) takes a kept
//!    trace whole, or counts it dropped, and hands it to the OTLP exporter that [`init`] built
//!    (`export/`: plan from the environment, build, install).
//!
//! # Feature Flags
//!
//! | Name | Description | Default? |
//! | --- | --- | --- |
//! | `macros` | The [`#[ai_span]`](ai_span) attribute macro | Yes |
//! | `otlp` | [`init`] and [`builder`]: OTLP export of spans and metrics over gRPC or HTTP/protobuf, set up from the environment (both of the next two) | Yes |
//! | `otlp-grpc` | [`init`] with OTLP over gRPC (tonic) only | via `otlp` |
//! | `otlp-http` | [`init`] with OTLP over HTTP/protobuf only | via `otlp` |
//! | `sampling` | [`sampling`]: the tail-sampling span processor (implied by `otlp`) | Yes |
//! | `opentelemetry-appender-tracing` | `ExportBuilder::with_logs`: `tracing` events exported as OTLP log records in their trace (with `otlp-grpc` or `otlp-http`) | No |
//! | `async-openai` | async-openai's responses and errors need no glue: see [`integrations`] | No |
//! | `ollama-rs` | ollama-rs's responses and errors need no glue: see [`integrations`] | No |
//! | `genai` | genai's `ChatResponse` needs no glue: see [`integrations`] | No |
//! | `tiktoken-rs` | [`estimate::Tiktoken`]: OpenAI's tokenizers, to estimate the usage of calls that reported none | No |
//! | `redis` | `budget::RedisBudgets`: budgets shared across replicas, kept in Redis | No |
//! | `redb` | `budget::LocalBudgets`: in-process budgets whose spend survives a restart, kept in a file on local disk | No |
//! | `http` | [`propagation::extract`] and [`propagation::inject`]: a trace in from `http` headers and out onto them | No |
//! | `tower-http` | `propagation::ServerSpan`: the server span of tower-http's `TraceLayer`, continuing the caller's trace | No |
//! | `axum` | `ServerSpan` named after axum's matched route | No |
//! | `reqwest-middleware` | `propagation::PropagateContext`: a client span per request, its trace (and ids) in the headers; `retry::AttemptMiddleware`: a span per attempt under reqwest-retry | No |
//!
//! # Supported Rust Versions
//!
//! The minimum supported Rust version is 1.89 (the default features alone need 1.88;
//! `genai`'s `uuid` needs 1.89).
#![doc(html_root_url = "https://docs.rs/tracing-ai/0.1.0")]
#![cfg_attr(docsrs, feature(doc_cfg), deny(rustdoc::broken_intra_doc_links))]
// Built without some feature, a link to an item of that feature (`init`, `#[ai_span]`,
// `Tiktoken`) has nothing to point to, and rustdoc shows it as text. The docs built with every
// feature (docs.rs, and CI with warnings denied) hold every link; each feature alone is built
// with every other warning denied.
#![cfg_attr(
    not(all(
        feature = "macros",
        feature = "otlp-grpc",
        feature = "otlp-http",
        feature = "tiktoken-rs",
        feature = "axum",
        feature = "reqwest-middleware"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod attr;
pub mod attribution;
pub mod budget;
mod clean_id;
mod console;
pub mod content;
mod dispatch;
mod endpoint;
mod error;
mod error_type;
pub mod estimate;
pub mod evaluation;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod export;
mod facts;
pub mod guides;

// The README's examples compile and run, as the guides' do.
#[cfg(all(doctest, feature = "macros", feature = "otlp"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
mod hash;
pub mod integrations;
mod layer;
mod money;
mod pricing;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod propagation;
mod record;
mod request;
mod reserve;
pub mod retry;
#[cfg(feature = "sampling")]
#[cfg_attr(docsrs, doc(cfg(feature = "sampling")))]
pub mod sampling;
mod secrets;
pub mod stream;
mod usage;
mod value_set;

#[doc(hidden)]
pub mod __private;

pub use console::ConsoleLayer;
pub use error::{ConfigError, PricesFileError};
pub use error_type::ErrorType;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "otlp-grpc", feature = "otlp-http"))))]
pub use export::{
    builder, init, try_init, ExportBuilder, ExportStats, InitError, OtelGuard, Protocol,
};
pub use layer::{
    layer, AiLayer, AiLayerBuilder, AiOpenTelemetryLayer, MetricConventions, OpenTelemetrySpans,
    OTEL_SEMCONV_STABILITY_OPT_IN,
};
pub use pricing::{ModelPrice, PricesHandle, PricesWatch};
pub use record::{record_cache_hit, record_fallback};
pub use request::{ReportsParameters, RequestParameters};
pub use usage::{CacheHit, ReportsUsage, Usage};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc(inline)]
pub use tracing_ai_macros::ai_span;
