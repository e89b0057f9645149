//! The builder's options of one group: what the spans carry.

use super::AiLayerBuilder;

/// # What the spans carry
///
/// The ids a call is attributed by, and what of `tracing`'s own data and of the errors is exported.
impl AiLayerBuilder {
    /// Also attributes AI spans by `key`, read from span fields and baggage and exported under
    /// the same name. By default the keys are `tenant.id`, `feature.id`, `request.id`, `user.id` and
    /// `session.id` (and `tenant_id`, `feature_id`, `request_id`, exported dotted).
    pub fn with_attribution_key(mut self, key: &str) -> Self {
        self.keys.add(key, key);
        self
    }

    /// Reads attribution key `key` from OpenTelemetry baggage too, for AI spans under no span
    /// that records it. By default no baggage is read: a caller's `baggage` header would
    /// otherwise set any tenant, user or request id it likes on this service's spans (and,
    /// for `tenant.id`, its cost metric). Trust a key only where the baggage comes from
    /// services you run, and the edge strips it from outside requests.
    /// `TRACING_AI_TRUSTED_BAGGAGE` (keys separated by commas) does the same for
    /// [`init`](crate::init).
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_trusted_baggage("tenant.id")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) fails when `key` is not an attribution key.
    pub fn with_trusted_baggage(mut self, key: &str) -> Self {
        self.trusted_baggage.push(key.to_owned());
        self
    }

    /// [`with_trusted_baggage`](Self::with_trusted_baggage), checked now: for the environment,
    /// read when every key of the code is known.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn trusting_baggage(mut self, key: &str) -> Result<Self, String> {
        self.keys.clone().trust_baggage(key)?;
        self.trusted_baggage.push(key.to_owned());
        Ok(self)
    }

    /// Whether some attribution key is read from the callers' baggage.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn trusts_baggage(&self) -> bool {
        !self.trusted_baggage.is_empty()
    }

    /// The names attribution is exported under (`tenant.id`, ...), for the export queue to
    /// bound them on every span.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn exported_attribution_keys(&self) -> std::sync::Arc<[std::sync::Arc<str>]> {
        self.keys.exported().into()
    }

    /// Also records what the layer writes (cost, attribution, a request's totals) as `tracing`
    /// fields, on the spans that declare them (every `#[ai_span]` does), so that layers other
    /// than OpenTelemetry see them: `fmt`, say.
    ///
    /// By default this is on for a layer used on its own ([`build`](Self::build)), and off
    /// when it is composed with OpenTelemetry ([`layer`](crate::layer),
    /// [`with_tracer`](Self::with_tracer), [`init`](crate::init)), which then get the
    /// attributes written straight onto the OpenTelemetry span: the cheaper path. The
    /// [console](crate::ConsoleLayer) needs neither.
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(
    ///         tracing_ai::AiLayer::builder()
    ///             .with_tracing_fields(true)
    ///             .build()?
    ///             .with_tracer(provider.tracer("my-service")),
    ///     )
    ///     .with(tracing_subscriber::fmt::layer());
    /// # let _ = subscriber;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_tracing_fields(self, tracing_fields: bool) -> Self {
        Self {
            tracing_fields: Some(tracing_fields),
            ..self
        }
    }

    /// Also exports, on every span, what tracing-opentelemetry adds by default from `tracing`'s
    /// own metadata: `busy_ns` and `idle_ns`, `target`, `thread.id` and `thread.name`, and
    /// `code.file.path`, `code.module.name` and `code.line.number` (on spans and on the events
    /// in them).
    ///
    /// Off by default: no OpenTelemetry convention names the first three (a conventions
    /// checker flags them on every span), the source location of an `#[ai_span]` is the
    /// macro's, and each costs every span something. Applies to the layers that compose
    /// tracing-opentelemetry's for you ([`with_tracer`](Self::with_tracer),
    /// [`init`](crate::init)).
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let subscriber = tracing_subscriber::registry().with(
    ///     tracing_ai::AiLayer::builder()
    ///         .with_span_metadata(true)
    ///         .build()?
    ///         .with_tracer(provider.tracer("my-service")),
    /// );
    /// # let _ = subscriber;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_span_metadata(self, export: bool) -> Self {
        Self {
            span_metadata: export,
            ..self
        }
    }

    /// Puts `tracing` events (log lines such as `tracing::info!`) on the exported spans as
    /// span events, as tracing-opentelemetry does on its own. Off by default: each such event
    /// carries `level`, `target` and the event's own fields, which no convention names
    /// (OpenTelemetry's checker flags them), and OpenTelemetry sends events as log records
    /// rather than span events. With it off an `ERROR` event still marks its span failed, its
    /// error or message as the status description, so the tail sampler keeps the trace.
    /// Applies to the layers that compose tracing-opentelemetry's for you
    /// ([`with_tracer`](Self::with_tracer), [`init`](crate::init)).
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let subscriber = tracing_subscriber::registry().with(
    ///     tracing_ai::AiLayer::builder()
    ///         .with_span_events(true)
    ///         .build()?
    ///         .with_tracer(provider.tracer("my-service")),
    /// );
    /// # let _ = subscriber;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_span_events(self, export: bool) -> Self {
        Self {
            span_events: export,
            ..self
        }
    }

    /// Exports a failed call's error message as `otel.status_description`, with what looks
    /// like a secret in it (API keys, bearer tokens, passwords in URLs, `key=` / `token=`
    /// values) replaced by `[REDACTED]`; or, with `false`, only `error.type` and the error
    /// status, for services whose errors may hold what redaction cannot recognise (a
    /// customer's data). By default the redacted message is exported.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder().with_error_descriptions(false).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_error_descriptions(self, export: bool) -> Self {
        Self {
            error_descriptions: Some(export),
            ..self
        }
    }
}
