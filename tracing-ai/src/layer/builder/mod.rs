//! Configuring an [`AiLayer`]: one file per group of options (prices, budgets, what the
//! spans carry, metrics, content), and the build here.

use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

use super::ids::AttributionKeys;
use super::metrics::{MetricConventions, Metrics, DEFAULT_CARDINALITY};
use super::{AiLayer, AiOpenTelemetryLayer};
use crate::budget::{BudgetSources, LiveBudgets};
use crate::content::ContentSettings;
use crate::error::ConfigError;
use crate::estimate::Estimator;
use crate::pricing::{LivePrices, PriceSources};

// The groups, in the order the builder's documentation lists them.
mod prices;

mod budgets;

mod spans;

mod metrics;

mod content;

/// Configures an [`AiLayer`]; created by [`AiLayer::builder`].
///
/// ```
/// use tracing_ai::{AiLayer, ModelPrice};
///
/// let layer = AiLayer::builder()
///     // The self-hosted model, on a GPU rented in GBP.
///     .with_model_price("llama-3.1-8b-fp8", ModelPrice::per_gpu_hour(1.85).in_currency("GBP"))
///     // A negotiated rate.
///     .with_model_price("gpt-4o", ModelPrice::per_million_tokens(2.00, 8.00))
///     // Report every cost in GBP too, at a fixed rate.
///     .with_reporting_currency("GBP", 0.79)
///     .with_attribution_key("org.id")
///     .build()?;
/// # Ok::<(), tracing_ai::ConfigError>(())
/// ```
///
/// Its options, each of which says what happens by default, come in groups:
///
/// - **prices and currencies**: [`with_model_price`](Self::with_model_price),
///   [`with_prices_file`](Self::with_prices_file), [`with_prices_toml`](Self::with_prices_toml),
///   [`with_exchange_rate`](Self::with_exchange_rate),
///   [`with_exchange_rate_date`](Self::with_exchange_rate_date),
///   [`with_reporting_currency`](Self::with_reporting_currency),
///   [`with_token_estimator`](Self::with_token_estimator);
/// - **budgets**: [`with_budget`](Self::with_budget),
///   [`with_budgets_file`](Self::with_budgets_file), `with_budget_store` (feature `redis`),
///   `with_local_budgets` (feature `redb`), [`with_budget_clock`](Self::with_budget_clock);
/// - **what the spans carry**: [`with_attribution_key`](Self::with_attribution_key),
///   [`with_trusted_baggage`](Self::with_trusted_baggage),
///   [`with_tracing_fields`](Self::with_tracing_fields),
///   [`with_span_metadata`](Self::with_span_metadata),
///   [`with_span_events`](Self::with_span_events),
///   [`with_error_descriptions`](Self::with_error_descriptions);
/// - **metrics**: [`with_meter`](Self::with_meter),
///   [`with_metric_conventions`](Self::with_metric_conventions),
///   [`with_metric_cardinality`](Self::with_metric_cardinality);
/// - **content**: [`with_content_capture`](Self::with_content_capture),
///   [`with_content_redaction`](Self::with_content_redaction),
///   [`with_content_redactor`](Self::with_content_redactor),
///   [`with_content_max_bytes`](Self::with_content_max_bytes).
///
/// With none of them, [`build`](Self::build) gives the layer [`AiLayer::new`] does.
#[derive(Debug, Default)]
#[must_use]
pub struct AiLayerBuilder {
    prices: PriceSources,
    keys: AttributionKeys,
    meter: Option<opentelemetry::metrics::Meter>,
    cardinality: Option<usize>,
    conventions: Option<MetricConventions>,
    estimator: Option<Estimator>,
    tracing_fields: Option<bool>,
    span_metadata: bool,
    span_events: bool,
    error_descriptions: Option<bool>,
    trusted_baggage: Vec<String>,
    content: ContentSettings,
    /// Whether the capture mode was set here (the environment does not override it).
    content_capture_set: bool,
    content_errors: Vec<String>,
    budgets: BudgetSources,
    /// Where the budgets are kept, when not in this process alone: shared (Redis), and on
    /// local disk; the shared store wins when both are given.
    budget_store: Option<Arc<dyn crate::budget::OpenStore>>,
    local_budgets: Option<Arc<dyn crate::budget::OpenStore>>,
    budget_clock: Option<crate::budget::Clock>,
}

/// # Building
impl AiLayerBuilder {
    /// Builds the layer: checks every price and currency, loads the prices files and decodes
    /// the genai-prices data (about 30 ms).
    pub fn build(mut self) -> Result<AiLayer, ConfigError> {
        if let Some(problem) = self.content_errors.into_iter().next() {
            return Err(ConfigError::invalid_content_setting(problem));
        }
        for key in &self.trusted_baggage {
            self.keys
                .trust_baggage(key)
                .map_err(ConfigError::untrustable_baggage)?;
        }
        let pricing = self.prices.load()?;
        let budgets = Arc::new(LiveBudgets::new(
            self.budgets,
            pricing.currencies.reporting_code(),
            self.budget_store.or(self.local_budgets),
            self.budget_clock,
        )?);
        let prices = Arc::new(LivePrices::new(pricing, self.prices));
        if let Some(meter) = &self.meter {
            report_reloads(meter, &prices);
            LiveBudgets::report(&budgets, meter);
        }
        let conventions = self.conventions.unwrap_or_else(MetricConventions::from_env);
        let metrics = self.meter.map(|meter| {
            Metrics::new(
                &meter,
                self.cardinality.unwrap_or(DEFAULT_CARDINALITY),
                &self.keys,
                conventions,
            )
        });
        if let Some(estimator) = &self.estimator {
            estimator.0.warm_up();
        }
        let mut layer = AiLayer::from_parts(
            prices,
            self.keys,
            metrics,
            self.tracing_fields,
            self.error_descriptions.unwrap_or(true),
            self.content.into_shared(),
            self.estimator,
            budgets,
            conventions,
        );
        layer.span_metadata = self.span_metadata;
        layer.span_events = self.span_events;
        Ok(layer)
    }

    /// Builds the layer and composes it with tracing-opentelemetry's layer over `tracer`; see
    /// [`AiLayer::with_tracer`].
    #[deprecated(
        since = "0.2.0",
        note = "a fallible build named like a setter: build, then compose, with \
                `AiLayer::builder()...build()?.with_tracer(tracer)`"
    )]
    pub fn with_tracer<S, T>(self, tracer: T) -> Result<AiOpenTelemetryLayer<S, T>, ConfigError>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        T: opentelemetry::trace::Tracer + 'static,
        T::Span: Send + Sync,
    {
        Ok(self.build()?.with_tracer(tracer))
    }
}

/// Counts the prices' reloads in `ai.prices.reloads`, by `ai.prices.reload.outcome`
/// (`applied`, `refused`).
fn report_reloads(meter: &opentelemetry::metrics::Meter, prices: &Arc<LivePrices>) {
    let prices = Arc::downgrade(prices);
    meter
        .u64_observable_counter("ai.prices.reloads")
        .with_unit("{reload}")
        .with_description("Reloads of the prices: applied, or refused with the old prices kept")
        .with_callback(move |observer| {
            if let Some(prices) = prices.upgrade() {
                for (outcome, count) in
                    [("applied", prices.applied()), ("refused", prices.refused())]
                {
                    let outcome = opentelemetry::KeyValue::new(
                        crate::attr::AI_PRICES_RELOAD_OUTCOME,
                        outcome,
                    );
                    observer.observe(count, &[outcome]);
                }
            }
        })
        .build();
}
