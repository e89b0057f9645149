//! The builder's options of one group: metrics.

use super::AiLayerBuilder;
use crate::layer::metrics::MetricConventions;

/// # Metrics
///
/// The cost and token metrics, recorded before any sampling.
impl AiLayerBuilder {
    /// Records metrics of every AI span with `meter`, before any sampling, so that their totals
    /// are exact whatever share of the traces is exported:
    ///
    /// - `ai.client.cost`: a counter of USD by `tenant.id`, `feature.id`, model, provider and
    ///   `ai.cost.source`, summed exactly: each call's cost rounded as its span's is;
    /// - `ai.client.unpriced_calls`: a counter of the calls to a model that have no cost, by
    ///   `ai.unpriced.reason` (`failed`, `cancelled`, `no_usage`, `unknown_model`, ...),
    ///   model, provider, tenant and feature: what the cost counter cannot see;
    /// - the GenAI conventions' token and duration metrics, under the names
    ///   [`with_metric_conventions`](Self::with_metric_conventions) chooses: by default
    ///   `gen_ai.client.inference.duration`, the `gen_ai.client.inference.usage.*` token
    ///   counters and the `gen_ai.client.inference.operation.*` token histograms (see
    ///   [`MetricConventions`]).
    ///
    /// Embeddings have no token metric in the current conventions: their tokens are on their
    /// spans, their cost in `ai.client.cost`. By default no metric is recorded;
    /// [`init`](crate::init) sets this up with an OTLP meter provider.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    ///
    /// let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_meter(meters.meter("tracing-ai"))
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Which version of the GenAI conventions names the metrics; by default what
    /// [`OTEL_SEMCONV_STABILITY_OPT_IN`](crate::OTEL_SEMCONV_STABILITY_OPT_IN) says when the
    /// layer is built ([`MetricConventions::from_env`]), the current conventions when it says
    /// nothing.
    ///
    /// ```
    /// use tracing_ai::{AiLayer, MetricConventions};
    ///
    /// let layer = AiLayer::builder()
    ///     .with_metric_conventions(MetricConventions::Previous)
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_metric_conventions(mut self, conventions: MetricConventions) -> Self {
        self.conventions = Some(conventions);
        self
    }

    /// Caps the distinct tenant ids, and the distinct feature ids, the cost metric tells
    /// apart: the ones past the cap are counted under `other`, so that ids that come from
    /// requests cannot grow memory without bound. By default 1,000.
    pub fn with_metric_cardinality(mut self, distinct_values: usize) -> Self {
        self.cardinality = Some(distinct_values);
        self
    }
}
