//! Tail sampling: few traces, every failure.
//!
//! Head sampling decides when a request starts, before anyone knows it will fail. The
//! [`TailSamplingProcessor`] decides when it ends: it holds the spans of each local trace (the
//! spans under one local root, a span with no parent or a remote one) until that root ends,
//! then hands the whole trace to the next processor (usually the batch processor of an OTLP
//! exporter) or drops it. A trace is kept when
//!
//! - `error`: one of its spans has error status (every failed `#[ai_span]` call does);
//! - `cost`: its model calls cost more than a threshold, in USD (`gen_ai.usage.cost`);
//! - `fallback`: a call was served by a fallback model (`ai.fallback.used`);
//! - `parent`: the service that called this one sampled the trace (the sampled flag of the
//!   incoming `traceparent`);
//! - `ratio`: its trace id falls under the sample ratio, the way OpenTelemetry's
//!   `TraceIdRatioBased` sampler decides, so every service configured with the same ratio keeps
//!   the same traces.
//!
//! The local root of a kept trace says why, in `ai.sampling.reason` (the first that applies,
//! in the order above).
//!
//! Memory is bounded by [`TailSamplingBuilder::with_max_held_spans`]: a trace whose span would go
//! over it is kept at once (what it held is handed on, and its later spans pass straight
//! through), and [`SamplingStats`] counts it, with the dropped traces.
//!
//! The unit of decision is the local trace, so each request should be a root span (or
//! continue a remote parent), as an HTTP server span is: a span that stays open over many
//! requests (one around `main`, say) makes them a single trace, which is held until it
//! overflows the bound and then exported whole.
//!
//! Every span must be recorded for this to work, so the tracer provider's sampler is
//! [`TailSampling::sampler`]: it records every span and sets the sampled flag that services
//! downstream see to what `parent` or `ratio` say. [`builder`](crate::builder) sets both up:
//!
//! ```
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
//! use tracing_ai::sampling::TailSampling;
//!
//! let sampling = TailSampling::builder()
//!     .with_sample_ratio(0.05)
//!     .with_keep_errors(true)
//!     .with_keep_cost_above(0.50)
//!     .build()?;
//! let exporter = InMemorySpanExporter::default();
//! let processor = sampling.processor(SimpleSpanProcessor::new(exporter));
//! let stats = processor.stats();
//! let provider = SdkTracerProvider::builder()
//!     .with_sampler(sampling.sampler())
//!     .with_span_processor(processor)
//!     .build();
//! # let _ = (provider, stats);
//! # Ok::<(), tracing_ai::ConfigError>(())
//! ```

//!
//! # Modules
//!
//! `config` checks the settings, `head` is the tracer provider's sampler, `policy` says which
//! traces are kept and why, `processor` holds and hands on the spans, `stats` counts.

mod config;
mod head;
mod policy;
mod processor;
mod stats;

pub use config::{TailSampling, TailSamplingBuilder, SAMPLE_RATIO_ENV};
pub use head::HeadSampler;
pub use policy::{Decision, Reason};
pub use processor::TailSamplingProcessor;
pub use stats::SamplingStats;
