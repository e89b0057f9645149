//! Which names the metrics are exported under: the GenAI conventions moved, and dashboards
//! built on the old names must not go dark on an upgrade.

/// The environment variable OpenTelemetry instrumentations read to move between versions of
/// the semantic conventions: a comma-separated list of opt-ins.
pub const OTEL_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";

/// Which version of the GenAI conventions the metrics follow (and, for the one span attribute
/// renamed since, the spans).
///
/// | [`OTEL_SEMCONV_STABILITY_OPT_IN`] holds | metrics |
/// |---|---|
/// | nothing of these (the default), or `gen_ai_latest_experimental` | [`Current`](Self::Current) |
/// | `gen_ai_1.41` | [`Previous`](Self::Previous) |
/// | `gen_ai_1.41/dup` | [`Both`](Self::Both) |
///
/// Other entries of the list (`http`, `database/dup`, ...) belong to other instrumentations
/// and are left alone. The cost and unpriced-calls counters (`ai.client.cost`,
/// `ai.client.unpriced_calls`) are the same under every choice.
///
/// ```
/// use tracing_ai::{AiLayer, MetricConventions};
/// use opentelemetry::metrics::MeterProvider as _;
///
/// let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let layer = AiLayer::builder()
///     .with_meter(meters.meter("tracing-ai"))
///     // Keep the dashboards built on `gen_ai.client.token.usage` while adding the new ones.
///     .with_metric_conventions(MetricConventions::Both)
///     .build()?;
/// # Ok::<(), tracing_ai::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricConventions {
    /// semantic-conventions-genai, the conventions' current home:
    /// `gen_ai.client.inference.duration`, the `gen_ai.client.inference.usage.*` token
    /// counters by `gen_ai.token.modality`, the `gen_ai.client.inference.operation.*` token
    /// histograms, `gen_ai.client.inference.time_to_first_chunk` and
    /// `.time_per_output_chunk`; `gen_ai.client.operation.duration` for the other operations
    /// with a provider (embeddings), `gen_ai.execute_tool.duration` and
    /// `gen_ai.invoke_agent.duration`.
    #[default]
    Current,
    /// semantic-conventions 1.41 and before, what tracing-ai exported until 0.1:
    /// `gen_ai.client.token.usage` by `gen_ai.token.type`, `gen_ai.client.operation.duration`
    /// for every operation with a provider, `gen_ai.client.operation.time_to_first_chunk` and
    /// `.time_per_output_chunk`. Spans carry the 1.42 name of cache writes,
    /// `gen_ai.usage.cache_creation.input_tokens`, beside the current one.
    Previous,
    /// Both sets, for the time dashboards and alerts move over.
    Both,
}

impl MetricConventions {
    /// The choice [`OTEL_SEMCONV_STABILITY_OPT_IN`] makes, [`Current`](Self::Current) when
    /// it is unset or names none of this crate's values. The layer's builder reads it when
    /// [`with_metric_conventions`](crate::AiLayerBuilder::with_metric_conventions) was not
    /// called.
    pub fn from_env() -> Self {
        std::env::var(OTEL_SEMCONV_STABILITY_OPT_IN)
            .map(|value| Self::from_opt_in(&value))
            .unwrap_or_default()
    }

    /// The choice a value of [`OTEL_SEMCONV_STABILITY_OPT_IN`] makes.
    ///
    /// ```
    /// use tracing_ai::MetricConventions;
    ///
    /// assert_eq!(MetricConventions::from_opt_in("http, gen_ai_1.41"), MetricConventions::Previous);
    /// assert_eq!(MetricConventions::from_opt_in("gen_ai_1.41/dup"), MetricConventions::Both);
    /// assert_eq!(MetricConventions::from_opt_in("http/dup"), MetricConventions::Current);
    /// ```
    pub fn from_opt_in(value: &str) -> Self {
        let entries = || value.split(',').map(str::trim);
        // The broader choice wins when both are listed: nothing a dashboard reads goes away.
        if entries().any(|entry| entry == "gen_ai_1.41/dup") {
            Self::Both
        } else if entries().any(|entry| entry == "gen_ai_1.41") {
            Self::Previous
        } else {
            Self::Current
        }
    }

    pub(crate) fn current(self) -> bool {
        matches!(self, Self::Current | Self::Both)
    }

    pub(crate) fn previous(self) -> bool {
        matches!(self, Self::Previous | Self::Both)
    }
}
