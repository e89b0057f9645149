//! One-call set-up: a global subscriber with [`AiLayer`](crate::AiLayer), and OTLP export (gRPC
//! or HTTP/protobuf) configured by the standard OpenTelemetry environment variables, or the
//! console view when no endpoint is set.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, OTEL_EXPORTER_OTLP_ENDPOINT};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor,
    TracerProviderBuilder,
};
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::sampling::{SamplingStats, TailSampling, TailSamplingBuilder, SAMPLE_RATIO_ENV};
use crate::{AiLayerBuilder, ConfigError, ConsoleLayer};

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";

/// The crates that carry the export itself: their own spans and events must not be traced and
/// exported in turn.
const EXPORT_STACK: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// Sets up tracing for an AI application in one call, from the standard OpenTelemetry
/// environment variables; see [`builder`] for the options.
///
/// It installs the global subscriber: an `EnvFilter` from `RUST_LOG` (default `info`),
/// [`AiLayer`](crate::AiLayer) with default prices, and then
///
/// - with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set: OTLP
///   export through a batch span processor, over `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or
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
/// spans not yet exported and shuts the exporter down, waiting at most five seconds.
///
/// A backend that is down does not make it fail, nor the application: export errors are
/// reported once on stderr, and the spans of that time are dropped.
///
/// ```no_run
/// fn main() -> Result<(), tracing_ai::InitError> {
///     let _guard = tracing_ai::init()?;
///     // ... the application
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// When a global subscriber is already installed, when a variable holds a value it cannot use
/// (the error names it), or when the exporter cannot be built.
pub fn init() -> Result<OtelGuard, InitError> {
    builder().init()
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
///     .init()?;
/// # Ok::<(), tracing_ai::InitError>(())
/// ```
pub fn builder() -> ExportBuilder {
    ExportBuilder::default()
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (tonic), usually on port 4317.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, usually on port 4318: the default.
    HttpProtobuf,
}

impl Protocol {
    fn from_env_value(variable: &'static str, value: &str) -> Result<Self, InitError> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            other => Err(InitError::new(Kind::Variable {
                variable,
                value: other.to_owned(),
                expected: "`grpc` or `http/protobuf`",
            })),
        }
    }
}

/// Configures [`init`]; created by [`builder`].
#[derive(Debug)]
#[must_use]
pub struct ExportBuilder {
    layer: AiLayerBuilder,
    service_name: Option<String>,
    service_version: Option<String>,
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    console: Option<bool>,
    filter: Option<String>,
    sampling: Option<TailSamplingBuilder>,
    metrics: Option<bool>,
    shutdown_timeout: Duration,
}

impl Default for ExportBuilder {
    fn default() -> Self {
        Self {
            layer: AiLayerBuilder::default(),
            service_name: None,
            service_version: None,
            endpoint: None,
            protocol: None,
            console: None,
            filter: None,
            sampling: None,
            metrics: None,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl ExportBuilder {
    /// Uses this configuration of the AI layer (prices, currency, attribution keys). By
    /// default, `AiLayer::builder()`'s defaults.
    pub fn with_layer(self, layer: AiLayerBuilder) -> Self {
        Self { layer, ..self }
    }

    /// Sets the `service.name` used when the environment does not name the service:
    /// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) wins, so that
    /// operators can rename a service without rebuilding it. Without either, the name is
    /// `unknown_service:<program>`.
    pub fn with_service_name(self, name: impl Into<String>) -> Self {
        Self {
            service_name: Some(name.into()),
            ..self
        }
    }

    /// Sets `service.version`, e.g. `env!("CARGO_PKG_VERSION")`. By default, none.
    pub fn with_service_version(self, version: impl Into<String>) -> Self {
        Self {
            service_version: Some(version.into()),
            ..self
        }
    }

    /// Sets the OTLP endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT` would: a base URL such as
    /// `http://127.0.0.1:4318` (`/v1/traces` is added for HTTP). By default, the environment's.
    pub fn with_endpoint(self, endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            ..self
        }
    }

    /// Sets the OTLP transport. By default, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, else HTTP/protobuf.
    pub fn with_protocol(self, protocol: Protocol) -> Self {
        Self {
            protocol: Some(protocol),
            ..self
        }
    }

    /// Prints the console view (each request's tree on stderr) or not. By default, it is
    /// printed when no OTLP endpoint is set.
    pub fn with_console(self, console: bool) -> Self {
        Self {
            console: Some(console),
            ..self
        }
    }

    /// Sets the filter directives, in `RUST_LOG`'s syntax. By default, `RUST_LOG`, else `info`.
    pub fn with_filter(self, directives: impl Into<String>) -> Self {
        Self {
            filter: Some(directives.into()),
            ..self
        }
    }

    /// Exports only some traces, decided when each request ends: every failed one, and a
    /// share of the others; see [`sampling`](crate::sampling). By default every trace is
    /// exported, unless `TRACING_AI_SAMPLE_RATIO` is set.
    ///
    /// ```no_run
    /// use tracing_ai::sampling::TailSampling;
    ///
    /// let _guard = tracing_ai::builder()
    ///     .with_sampling(TailSampling::builder().sample_ratio(0.05).keep_cost_above(0.50))
    ///     .init()?;
    /// # Ok::<(), tracing_ai::InitError>(())
    /// ```
    pub fn with_sampling(self, sampling: TailSamplingBuilder) -> Self {
        Self {
            sampling: Some(sampling),
            ..self
        }
    }

    /// Exports the metrics of every AI call (tokens, duration, cost by tenant and feature;
    /// see [`AiLayerBuilder::with_meter`]) over OTLP, to the endpoint and with the protocol of
    /// the spans, every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (a minute by default). By
    /// default they are, when an endpoint is set by this builder, `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, unless `OTEL_METRICS_EXPORTER` is `none`
    /// (for a backend that takes no metrics, such as Phoenix).
    pub fn with_metrics(self, metrics: bool) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// Sets how long dropping the guard may wait for the last spans to be exported. By
    /// default, five seconds.
    pub fn with_shutdown_timeout(self, timeout: Duration) -> Self {
        Self {
            shutdown_timeout: timeout,
            ..self
        }
    }

    /// Installs the global subscriber and, when an endpoint is set, the OTLP exporter; see
    /// [`init`].
    ///
    /// # Errors
    ///
    /// See [`init`].
    pub fn init(mut self) -> Result<OtelGuard, InitError> {
        let filter = self.env_filter()?;
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| env(TRACES_ENDPOINT).or_else(|| env(OTEL_EXPORTER_OTLP_ENDPOINT)));
        let console = self.console.unwrap_or(endpoint.is_none());
        let sampling = match self.sampling.take() {
            Some(sampling) => Some(sampling),
            None => env(SAMPLE_RATIO_ENV).map(|_| TailSampling::builder()),
        }
        .map(TailSamplingBuilder::build)
        .transpose()
        .map_err(|e| InitError::new(Kind::Config(e)))?;
        let mut guard = OtelGuard {
            provider: None,
            meters: None,
            runtime: None,
            sampling: None,
            spans_failing: Arc::default(),
            metrics_failing: Arc::default(),
            shutdown_timeout: self.shutdown_timeout,
        };
        let mut layer = std::mem::take(&mut self.layer);
        let otel = match &endpoint {
            Some(endpoint) => {
                let protocol = self.protocol()?;
                let exporters = self.exporters(protocol, self.metrics_wanted())?;
                guard.runtime = exporters.runtime;
                let spans = Reporting::new(exporters.spans, "spans", endpoint);
                guard.spans_failing = spans.failing.clone();
                let resource = self.resource();
                let (provider, stats) = with_processor(
                    SdkTracerProvider::builder().with_resource(resource.clone()),
                    sampling.as_ref(),
                    BatchSpanProcessor::builder(spans).build(),
                );
                guard.sampling = stats;
                let provider = provider.build();
                if let Some(metrics) = exporters.metrics {
                    let metrics = Reporting::new(metrics, "metrics", endpoint);
                    guard.metrics_failing = metrics.failing.clone();
                    let meters = SdkMeterProvider::builder()
                        .with_resource(resource)
                        .with_reader(PeriodicReader::builder(metrics).build())
                        .build();
                    let meter = meters.meter("tracing-ai");
                    if let Some(stats) = &guard.sampling {
                        stats.report_to(&meter);
                    }
                    layer = layer.with_meter(meter);
                    guard.meters = Some(meters);
                }
                let tracer = provider.tracer("tracing-ai");
                opentelemetry::global::set_tracer_provider(provider.clone());
                guard.provider = Some(provider);
                Some(tracing_opentelemetry::layer().with_tracer(tracer))
            }
            None => match &sampling {
                Some(sampling) if console => {
                    // Nothing is exported, but the console shows what would have been.
                    let (provider, stats) = with_processor(
                        SdkTracerProvider::builder(),
                        Some(sampling),
                        NothingExported,
                    );
                    guard.sampling = stats;
                    let provider = provider.build();
                    let tracer = provider.tracer("tracing-ai");
                    guard.provider = Some(provider);
                    Some(tracing_opentelemetry::layer().with_tracer(tracer))
                }
                _ => None,
            },
        };
        // Boxed, not in an `Option`: an `Option` layer does not pass on the dispatcher, which
        // the console needs to find each request's trace id.
        let console = match (console, &guard.sampling) {
            (true, Some(stats)) => ConsoleLayer::stderr().with_sampling(stats.clone()).boxed(),
            (true, None) => ConsoleLayer::stderr().boxed(),
            (false, _) => tracing_subscriber::layer::Identity::new().boxed(),
        };
        let ai = layer.build().map_err(|e| InitError::new(Kind::Config(e)))?;
        // The AI layer goes under the OpenTelemetry layer, so that it writes a span's cost
        // before the span is exported, and under the console, which prints what it wrote.
        tracing_subscriber::registry()
            .with(filter)
            .with(ai)
            .with(otel)
            .with(console)
            .try_init()
            .map_err(|e| InitError::new(Kind::AlreadyInitialized(e.to_string())))?;
        Ok(guard)
    }

    /// Whether metrics are exported: see [`with_metrics`](Self::with_metrics).
    fn metrics_wanted(&self) -> bool {
        self.metrics.unwrap_or_else(|| {
            let disabled = env(METRICS_EXPORTER).is_some_and(|value| value.trim() == "none");
            let endpoint = self.endpoint.is_some()
                || env(OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
                || env(METRICS_ENDPOINT).is_some();
            endpoint && !disabled
        })
    }

    fn env_filter(&self) -> Result<EnvFilter, InitError> {
        let directives = self
            .filter
            .clone()
            .or_else(|| env("RUST_LOG"))
            .unwrap_or_else(|| "info".to_owned());
        let mut filter = EnvFilter::builder().parse(&directives).map_err(|e| {
            InitError::new(Kind::Variable {
                variable: "RUST_LOG",
                value: format!("{directives} ({e})"),
                expected: "filter directives such as `info` or `my_app=debug,info`",
            })
        })?;
        for target in EXPORT_STACK {
            // Unless the user asked about that crate, its spans stay out of the export.
            if !directives.contains(target) {
                if let Ok(directive) = format!("{target}=off").parse() {
                    filter = filter.add_directive(directive);
                }
            }
        }
        Ok(filter)
    }

    fn protocol(&self) -> Result<Protocol, InitError> {
        if let Some(protocol) = self.protocol {
            return Ok(protocol);
        }
        for variable in [TRACES_PROTOCOL, PROTOCOL] {
            if let Some(value) = env(variable) {
                return Protocol::from_env_value(variable, &value);
            }
        }
        Ok(Protocol::HttpProtobuf)
    }

    /// The exporters, and for gRPC the runtime their clients run on. tonic needs a Tokio
    /// runtime that keeps running while the application blocks (at shutdown, say), so it gets
    /// its own one-thread runtime rather than the application's.
    fn exporters(&self, protocol: Protocol, metrics: bool) -> Result<Exporters, InitError> {
        let endpoint = |path: &str| {
            self.endpoint
                .as_ref()
                .map(|endpoint| format!("{}{path}", endpoint.trim_end_matches('/')))
        };
        let built = match protocol {
            Protocol::HttpProtobuf => {
                let mut spans = opentelemetry_otlp::SpanExporter::builder().with_http();
                let mut meters = opentelemetry_otlp::MetricExporter::builder().with_http();
                if let (Some(traces), Some(metrics)) =
                    (endpoint("/v1/traces"), endpoint("/v1/metrics"))
                {
                    spans = spans.with_endpoint(traces);
                    meters = meters.with_endpoint(metrics);
                }
                let metrics = metrics.then(|| meters.build()).transpose();
                (spans.build(), metrics, None)
            }
            Protocol::Grpc => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("tracing-ai-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| InitError::new(Kind::Runtime(e)))?;
                let entered = runtime.enter();
                let mut spans = opentelemetry_otlp::SpanExporter::builder().with_tonic();
                let mut meters = opentelemetry_otlp::MetricExporter::builder().with_tonic();
                if let Some(endpoint) = endpoint("") {
                    spans = spans.with_endpoint(endpoint.clone());
                    meters = meters.with_endpoint(endpoint);
                }
                let built = (spans.build(), metrics.then(|| meters.build()).transpose());
                drop(entered);
                (built.0, built.1, Some(runtime))
            }
        };
        match built {
            (Ok(spans), Ok(metrics), runtime) => Ok(Exporters {
                spans,
                metrics,
                runtime,
            }),
            (Err(error), _, runtime) | (_, Err(error), runtime) => {
                if let Some(runtime) = runtime {
                    runtime.shutdown_background();
                }
                Err(InitError::new(Kind::Exporter(error.to_string())))
            }
        }
    }

    fn resource(&self) -> Resource {
        let mut resource = Resource::builder();
        let named_by_env = env(SERVICE_NAME).is_some()
            || env(RESOURCE_ATTRIBUTES)
                .is_some_and(|attributes| attributes.contains("service.name="));
        if !named_by_env {
            let name = self.service_name.clone().unwrap_or_else(|| {
                let program = std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                format!("unknown_service:{program}")
            });
            resource = resource.with_service_name(name);
        }
        if let Some(version) = &self.service_version {
            resource = resource.with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                version.clone(),
            ));
        }
        resource.build()
    }
}

/// Adds `next` to `provider`, behind the tail sampler (and with its sampler) when there is one;
/// returns the sampler's counts with it.
fn with_processor<P: SpanProcessor + 'static>(
    provider: TracerProviderBuilder,
    sampling: Option<&TailSampling>,
    next: P,
) -> (TracerProviderBuilder, Option<SamplingStats>) {
    match sampling {
        Some(sampling) => {
            let processor = sampling.processor(next);
            let stats = processor.stats();
            let provider = provider
                .with_sampler(sampling.sampler())
                .with_span_processor(processor);
            (provider, Some(stats))
        }
        None => (provider.with_span_processor(next), None),
    }
}

/// The end of the span pipeline when there is no endpoint: the tail sampler decides, for the
/// console to show, and nothing is exported.
#[derive(Debug)]
struct NothingExported;

impl SpanProcessor for NothingExported {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// What [`ExportBuilder::exporters`] builds.
struct Exporters {
    spans: opentelemetry_otlp::SpanExporter,
    metrics: Option<opentelemetry_otlp::MetricExporter>,
    runtime: Option<tokio::runtime::Runtime>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Flushes and shuts the exporter down when dropped; returned by [`init`].
///
/// Keep it alive for as long as the program runs (`let _guard = tracing_ai::init()?;`, not
/// `let _ = ...`, which drops it at once).
#[must_use = "dropping the guard shuts the exporter down: keep it alive while the program runs"]
pub struct OtelGuard {
    provider: Option<SdkTracerProvider>,
    meters: Option<SdkMeterProvider>,
    runtime: Option<tokio::runtime::Runtime>,
    sampling: Option<SamplingStats>,
    spans_failing: Arc<AtomicBool>,
    metrics_failing: Arc<AtomicBool>,
    shutdown_timeout: Duration,
}

impl fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelGuard")
            .field("exporting", &self.provider.is_some())
            .finish_non_exhaustive()
    }
}

impl OtelGuard {
    /// What the tail sampler kept and dropped, when [sampling](ExportBuilder::with_sampling)
    /// is on and spans are exported.
    pub fn sampling_stats(&self) -> Option<&SamplingStats> {
        self.sampling.as_ref()
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let result = provider.shutdown_with_timeout(self.shutdown_timeout);
            report_shutdown("spans", result, &self.spans_failing);
        }
        if let Some(meters) = self.meters.take() {
            let result = meters.shutdown_with_timeout(self.shutdown_timeout);
            report_shutdown("metrics", result, &self.metrics_failing);
        }
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so the guard may be dropped inside an async runtime.
            runtime.shutdown_background();
        }
    }
}

/// Says that the last spans or metrics may be lost, unless their export was already reported
/// failing.
fn report_shutdown(what: &str, result: OTelSdkResult, failing: &AtomicBool) {
    if let Err(error) = result {
        if !failing.load(Ordering::Relaxed) {
            eprintln!("[tracing-ai] the last {what} may not have been exported: {error}");
        }
    }
}

/// An exporter that reports a failing export once, not once per batch, and again when it
/// works again.
#[derive(Debug)]
struct Reporting<E> {
    inner: E,
    what: &'static str,
    endpoint: String,
    /// Shared with the guard, which says nothing more at shutdown of what was reported.
    failing: Arc<AtomicBool>,
}

impl<E> Reporting<E> {
    fn new(inner: E, what: &'static str, endpoint: &str) -> Self {
        Self {
            inner,
            what,
            endpoint: endpoint.to_owned(),
            failing: Arc::default(),
        }
    }

    fn observe(&self, result: &OTelSdkResult) {
        let what = self.what;
        match result {
            Err(error) if !self.failing.swap(true, Ordering::Relaxed) => {
                let hint = if what == "metrics" {
                    " (if the backend takes no metrics, set OTEL_METRICS_EXPORTER=none)"
                } else {
                    ""
                };
                eprintln!(
                    "[tracing-ai] could not export {what} to {}: {error}{hint}; the application \
                     goes on, and this is reported again only once exporting works again",
                    self.endpoint
                )
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                eprintln!(
                    "[tracing-ai] exporting {what} to {} works again",
                    self.endpoint
                )
            }
            _ => {}
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.observe(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reporting<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.observe(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Why [`init`] could not set tracing up; its message says what to change.
#[derive(Debug)]
pub struct InitError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Config(ConfigError),
    Variable {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    Runtime(std::io::Error),
    Exporter(String),
    AlreadyInitialized(String),
}

impl InitError {
    fn new(kind: Kind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(error) => error.fmt(f),
            Kind::Variable {
                variable,
                value,
                expected,
            } => write!(f, "{variable} is `{value}`; expected {expected}"),
            Kind::Runtime(error) => write!(f, "could not start the thread that exports over gRPC: {error}"),
            Kind::Exporter(error) => write!(
                f,
                "could not build the OTLP exporter: {error}; check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS"
            ),
            Kind::AlreadyInitialized(error) => write!(
                f,
                "a global subscriber is already installed ({error}); call `tracing_ai::init` once, \
                 or add `tracing_ai::layer` to your own subscriber instead"
            ),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Config(error) => Some(error),
            Kind::Runtime(error) => Some(error),
            _ => None,
        }
    }
}
