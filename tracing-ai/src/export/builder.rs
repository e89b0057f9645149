//! The options of `init()`, gathered before anything is resolved or built.

use std::time::Duration;

use crate::sampling::TailSamplingBuilder;
use crate::AiLayerBuilder;

/// Configures [`init`](crate::init); created by [`builder`](crate::builder).
#[derive(Debug, Default)]
#[must_use]
pub struct ExportBuilder {
    pub(crate) layer: AiLayerBuilder,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) service_instance_id: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) console: Option<bool>,
    pub(crate) filter: Option<String>,
    pub(crate) sampling: Option<TailSamplingBuilder>,
    pub(crate) metrics: Option<bool>,
    pub(crate) logs: Option<bool>,
    pub(crate) shutdown_timeout: Option<Duration>,
}

impl ExportBuilder {
    /// Uses this configuration of the AI layer (prices, currency, attribution keys). By
    /// default, `AiLayer::builder()`'s defaults.
    pub fn with_layer(self, layer: AiLayerBuilder) -> Self {
        Self { layer, ..self }
    }

    /// Sets the `service.name` used when the environment does not name the service:
    /// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) wins, so that
    /// operators can rename a service without rebuilding it. By default, with neither, the
    /// name is `unknown_service:<program>`.
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

    /// Sets `service.instance.id`, what tells this process's metrics from its replicas'.
    /// `service.instance.id` in `OTEL_RESOURCE_ATTRIBUTES` wins, as for the name.
    ///
    /// By default, a random UUID (version 4) per process, as the OpenTelemetry conventions
    /// recommend: each replica, and each restart of one, is a series of its own whose
    /// counters start at zero, so that a sum over replicas counts every call once. Give one
    /// only if it is unique among the processes running at once (a pod name), never one
    /// shared by replicas: replicas with one id push into one series, and every sum over it
    /// is wrong.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tracing_ai::InitError> {
    /// let pod = std::env::var("POD_NAME").unwrap_or_default();
    /// let _guard = tracing_ai::builder().with_service_instance_id(pod).try_init()?;
    /// # Ok(()) }
    /// ```
    pub fn with_service_instance_id(self, id: impl Into<String>) -> Self {
        Self {
            service_instance_id: Some(id.into()),
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
    ///     .with_sampling(TailSampling::builder().with_sample_ratio(0.05).with_keep_cost_above(0.50))
    ///     .try_init()?;
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

    /// Exports `tracing` events (log lines such as `tracing::info!`, and tracing-ai's own
    /// warnings) as OTLP log records, to the endpoint and with the protocol of the spans (with
    /// no endpoint, nowhere, as for spans and metrics: the console shows the requests). A
    /// line logged inside a span carries that span's trace and span ids, so a backend that
    /// takes logs (the Collector, Loki through it, Datadog, Honeycomb) shows it with the
    /// request; it is not a span event (see [`AiLayerBuilder::with_span_events`]). By default
    /// they are when `OTEL_LOGS_EXPORTER` lists `otlp`, and not otherwise: Jaeger and Phoenix
    /// take no logs. (Without this feature, `OTEL_LOGS_EXPORTER` is not read.)
    ///
    /// The global filter ([`with_filter`](Self::with_filter), `RUST_LOG`) decides which
    /// events are exported. Log records are not tail-sampled: a line of a request the sampler
    /// drops is still exported, with the ids of a trace the backend will not have.
    ///
    /// ```no_run
    /// let _guard = tracing_ai::builder()
    ///     .with_endpoint("http://127.0.0.1:4317")
    ///     .with_logs(true)
    ///     .try_init()?;
    /// # Ok::<(), tracing_ai::InitError>(())
    /// ```
    #[cfg(feature = "opentelemetry-appender-tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry-appender-tracing")))]
    pub fn with_logs(self, logs: bool) -> Self {
        Self {
            logs: Some(logs),
            ..self
        }
    }

    /// Sets how long dropping the guard may wait for the last spans and metrics to be
    /// exported, both within this one deadline; what is left then is counted and reported.
    /// By default `TRACING_AI_SHUTDOWN_TIMEOUT` (milliseconds), else five seconds.
    pub fn with_shutdown_timeout(self, timeout: Duration) -> Self {
        Self {
            shutdown_timeout: Some(timeout),
            ..self
        }
    }

    /// Installs the global subscriber and, when an endpoint is set, the OTLP exporter; see
    /// [`init`](crate::init).
    ///
    /// # Panics
    ///
    /// When [`try_init`](Self::try_init) would return an error, with its message.
    #[track_caller]
    pub fn init(self) -> super::OtelGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("tracing-ai could not be set up: {error}"),
        }
    }

    /// [`init`](Self::init), returning the error rather than panicking.
    ///
    /// It works in three stages: the options are resolved against the environment, then every
    /// object that can fail is built, and only then is anything installed globally. When it
    /// fails, nothing is installed and what was built is shut down again.
    ///
    /// # Errors
    ///
    /// See [`try_init`](crate::try_init).
    pub fn try_init(self) -> Result<super::OtelGuard, super::InitError> {
        super::set_up(self)
    }
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (tonic), usually on port 4317. Needs the `otlp-grpc` feature.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, usually on port 4318: the default when the
    /// `otlp-http` feature is on. Needs that feature.
    HttpProtobuf,
}
