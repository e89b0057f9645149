//! One-call set-up: a global subscriber with [`AiLayer`](crate::AiLayer), and OTLP export (gRPC
//! or HTTP/protobuf) configured by the standard OpenTelemetry environment variables, or the
//! console view when no endpoint is set.
//!
//! `init()` works in three stages, each in its own module:
//!
//! 1. [`plan`]: the builder's options resolved against the environment (the only code that
//!    reads environment variables; pure, unit-tested);
//! 2. [`build`]: every object that can fail (exporters, their runtime, providers, layers),
//!    with no global state touched;
//! 3. [`install`]: the global subscriber, then the global tracer provider. When it fails,
//!    the guard built in stage two is dropped, which shuts down what was made.
//!
//! [`transport`] makes the exporters of each transport (features `otlp-grpc`, `otlp-http`),
//! [`queue`] holds the spans for them and counts what it cannot export, [`reporting`] says
//! once when exporting fails, [`guard`] flushes at exit.

mod build;
mod builder;
mod error;
mod guard;
mod install;
#[cfg(feature = "opentelemetry-appender-tracing")]
mod log_lines;
mod plan;
mod queue;
mod reporting;
mod span_size;
mod stats;
mod transport;

pub use builder::ExportBuilder;
pub use builder::Protocol;
pub use error::InitError;
pub use guard::OtelGuard;
pub use stats::ExportStats;

/// Sets up tracing for an AI application in one call, from the standard OpenTelemetry
/// environment variables; see [`builder`] for the options.
///
/// It installs the global subscriber: an `EnvFilter` from `RUST_LOG` (default `info`),
/// [`AiLayer`](crate::AiLayer) with default prices, and then
///
/// - with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set: OTLP
///   export through a bounded queue that takes whole traces and counts every span it drops
///   ([`OtelGuard::export_stats`]; sized by `OTEL_BSP_MAX_QUEUE_SIZE`,
///   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and `OTEL_BSP_SCHEDULE_DELAY`, as OpenTelemetry's batch
///   processor is), over `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or
///   `http/protobuf`, the default), with `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT`, and a
///   resource from `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`;
/// - with none: the [console view](crate::ConsoleLayer), each request's tree on stderr.
///
/// With an endpoint, the metrics of every AI call (tokens, duration, and cost by tenant and
/// feature; see [`ExportBuilder::with_metrics`]) go to the same endpoint, unless
/// `OTEL_METRICS_EXPORTER` is `none`; and `TRACING_AI_SAMPLE_RATIO` turns on
/// [tail sampling](crate::sampling), which keeps every failed request.
///
/// Keep the returned guard alive for as long as the program runs: dropping it flushes the
/// spans and metrics not yet exported and shuts the exporters down, waiting at most five
/// seconds in all (`TRACING_AI_SHUTDOWN_TIMEOUT`), and says on stderr how many spans it could
/// not export.
///
/// A backend that is down does not make it fail, nor the application: export errors are
/// reported once on stderr, and the spans of that time are dropped and counted.
///
/// Every variable it reads is checked; a malformed one is an error naming it. Besides
/// OpenTelemetry's, it reads `TRACING_AI_SAMPLE_RATIO`, `TRACING_AI_SHUTDOWN_TIMEOUT` and
/// `TRACING_AI_TRUSTED_BAGGAGE` (see [`AiLayerBuilder::with_trusted_baggage`](crate::AiLayerBuilder::with_trusted_baggage)).
///
/// ```no_run
/// // At the start of `main`:
/// let _guard = tracing_ai::init();
/// // ... the application
/// ```
///
/// # Panics
///
/// When [`try_init`] would return an error, with its message: a global subscriber already
/// installed, a variable holding a value it cannot use (the message names it), or an exporter
/// that cannot be built. As tracing-subscriber's `init`, for a program that cannot go on
/// without its telemetry; use [`try_init`] to handle the error.
#[track_caller]
pub fn init() -> OtelGuard {
    builder().init()
}

/// [`init`], returning the error rather than panicking.
///
/// ```no_run
/// fn main() -> Result<(), tracing_ai::InitError> {
///     let _guard = tracing_ai::try_init()?;
///     // ... the application
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// When a global subscriber is already installed, when a variable holds a value it cannot use
/// (the error names it), or when the exporter cannot be built. Nothing is installed then.
pub fn try_init() -> Result<OtelGuard, InitError> {
    builder().try_init()
}

/// Options for [`init`]; explicit options win over the environment.
///
/// ```no_run
/// use tracing_ai::{AiLayer, ModelPrice, Protocol};
///
/// let _guard = tracing_ai::builder()
///     .with_service_name("rag-gateway")
///     .with_service_version(env!("CARGO_PKG_VERSION"))
///     .with_layer(
///         AiLayer::builder()
///             .with_model_price("llama-3.1-8b-fp8", ModelPrice::per_gpu_hour(1.85).in_currency("GBP"))
///             .with_reporting_currency("GBP", 0.79),
///     )
///     .with_endpoint("http://127.0.0.1:4317")
///     .with_protocol(Protocol::Grpc)
///     .try_init()?;
/// # Ok::<(), tracing_ai::InitError>(())
/// ```
pub fn builder() -> ExportBuilder {
    ExportBuilder::default()
}

/// Resolves what `builder` and the environment ask for, builds it, and installs it: the steps
/// of an installation, in order, each a module of its own.
fn set_up(builder: ExportBuilder) -> Result<OtelGuard, InitError> {
    let plan = plan::Plan::resolve(builder, |name| std::env::var(name).ok())?;
    let built = build::build(plan)?;
    install::install(built)
}
