//! Configuring an [`AiLayer`]: prices, currencies, attribution keys, metrics.

use std::path::PathBuf;
use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

use super::ids::AttributionKeys;
use super::metrics::{self, MetricConventions, Metrics};
use super::{AiLayer, AiOpenTelemetryLayer};
use crate::budget::{Budget, BudgetSources, LiveBudgets};
use crate::content::{ContentCapture, ContentSettings};
use crate::error::ConfigError;
use crate::estimate::{Estimator, TokenEstimator};
use crate::pricing::{LivePrices, ModelPrice, PriceSources, PricesSource};

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

impl AiLayerBuilder {
    /// Sets the price of `model`, checked before the genai-prices data. It applies when the
    /// request or the response model of a call is exactly `model`.
    pub fn with_model_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.prices.code.push((model.into(), price));
        self
    }

    /// Loads model prices from a TOML file when the layer is built. A price given with
    /// [`with_model_price`](Self::with_model_price) wins over the file's.
    ///
    /// ```toml
    /// # Amounts are per million tokens, in USD unless `currency` says otherwise.
    /// [models."my-fine-tune"]
    /// input = 0.30
    /// output = 1.20
    /// cache_read = 0.03    # optional, defaults to `input`
    /// cache_write = 0.375  # optional, defaults to `input`
    ///
    /// # A self-hosted model: its calls cost their duration at this rate.
    /// [models."llama-3.1-8b-fp8"]
    /// gpu_hour = 1.85
    /// currency = "GBP"
    /// ```
    ///
    /// A file that cannot be read or has a mistake makes [`build`](Self::build) fail with a
    /// [`PricesFileError`](crate::PricesFileError) that names the line and the field.
    pub fn with_prices_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.prices.files.push(PricesSource::File(path.into()));
        self
    }

    /// Adds a [budget](crate::budget): calls annotated `#[ai_span(..., budget)]` reserve in it
    /// before they run, every call debits it when it ends.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budgets.inline.push(budget);
        self
    }

    /// Keeps the budgets in Redis, shared by every replica that uses the same server and
    /// prefix, instead of in this process (feature `redis`): see
    /// [`RedisBudgets`](crate::budget::RedisBudgets).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn with_budget_store(mut self, store: crate::budget::RedisBudgets) -> Self {
        self.budget_store = Some(Arc::new(store));
        self
    }

    /// Reads "now" for the budgets' windows and leases from `clock` instead of the system's:
    /// a test moves its clock past a window or a lease instead of sleeping through it.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let now = Arc::new(Mutex::new(SystemTime::now()));
    /// let clock = now.clone();
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_budget_clock(move || *clock.lock().unwrap())
    ///     .build()?;
    /// // An hour later, for the budgets.
    /// *now.lock().unwrap() += Duration::from_secs(3_600);
    /// # drop(layer);
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_budget_clock(
        mut self,
        clock: impl Fn() -> std::time::SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.budget_clock = Some(crate::budget::Clock::new(clock));
        self
    }

    /// Keeps the spend of the in-process budgets in a file on local disk as well (feature
    /// `redb`), so that a restart does not start them from zero: see
    /// [`LocalBudgets`](crate::budget::LocalBudgets). By default the ledger lasts as long as
    /// the process. [`build`](Self::build) fails when the file cannot be opened (another
    /// process has it, or the directory is not writable). With a Redis store as well, the
    /// file is not used: Redis keeps the spend.
    #[cfg(feature = "redb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
    pub fn with_local_budgets(mut self, local: crate::budget::LocalBudgets) -> Self {
        self.local_budgets = Some(Arc::new(local));
        self
    }

    /// Loads budgets from a TOML file when the layer is built, and again on
    /// [`BudgetsHandle::reload`](crate::budget::BudgetsHandle::reload); the format is that of
    /// [`crate::budget`]'s files:
    ///
    /// ```toml
    /// [[budget]]
    /// name = "tenant-daily"
    /// limit = 25.0
    /// window = "day"
    /// per = ["tenant"]
    /// on_limit = "refuse"
    /// ```
    ///
    /// A file that cannot be read or has a mistake makes [`build`](Self::build) fail with
    /// the line and what to write instead.
    pub fn with_budgets_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.budgets.files.push(path.into());
        self
    }

    /// Loads model prices from TOML text, in the format of
    /// [`with_prices_file`](Self::with_prices_file).
    pub fn with_prices_toml(mut self, toml: impl Into<String>) -> Self {
        self.prices.files.push(PricesSource::Text(toml.into()));
        self
    }

    /// Sets the exchange rate of a currency prices are given in: how many units of `code`
    /// one USD buys. Rates are fixed: the layer never makes a network call.
    pub fn with_exchange_rate(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        self.prices.rates.push((code.into(), per_usd));
        self
    }

    /// Says on which day the exchange rate of `code` was taken (`YYYY-MM-DD`): a converted
    /// cost then says it beside the rate (`ai.cost.exchange_rate_date`), so that a finance team
    /// can check it later.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_reporting_currency("GBP", 0.79)
    ///     .with_exchange_rate_date("GBP", "2026-11-30")
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_exchange_rate_date(mut self, code: impl Into<String>, date: &str) -> Self {
        self.prices.rate_dates.push((code.into(), date.to_owned()));
        self
    }

    /// Reports every cost in `code` as well as in USD, at `per_usd` units of `code` per USD:
    /// `ai.cost.amount` and `ai.cost.currency` beside `gen_ai.usage.cost`. By default costs are
    /// reported in USD only.
    pub fn with_reporting_currency(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        let code = code.into();
        self.prices.rates.push((code.clone(), per_usd));
        self.prices.reporting = Some(code);
        self
    }

    /// Also attributes AI spans by `key`, read from span fields and baggage and exported under
    /// the same name. The defaults are `tenant.id`, `feature.id`, `request.id`, `user.id` and
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
    /// spans, their cost in `ai.client.cost`. [`init`](crate::init) sets this up with an OTLP
    /// meter provider.
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

    /// Estimates the usage of a call that ended without any (a stream dropped before its last
    /// chunk, a server that reports no counts) with `estimator`, from the text of its
    /// `input = ...`: its cost is then exported, marked `ai.cost.source = estimated`, rather
    /// than missing from the spend. See [`estimate`](crate::estimate); with the
    /// `tiktoken-rs` feature, [`Tiktoken`](crate::estimate::Tiktoken) counts OpenAI's
    /// models' tokens.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     // One token per four bytes, for every model: a rough estimate is better than none.
    ///     .with_token_estimator(|_model: &str, text: &str| Some(text.len() as u64 / 4))
    ///     .build()?;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_token_estimator(mut self, estimator: impl TokenEstimator) -> Self {
        self.estimator = Some(Estimator(Arc::new(estimator)));
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
    /// requests cannot grow memory without bound. 1,000 by default.
    pub fn with_metric_cardinality(mut self, distinct_values: usize) -> Self {
        self.cardinality = Some(distinct_values);
        self
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

    /// Captures message content (prompts, answers, tool arguments and results) as `capture`
    /// says; nothing is captured by default. See [`content`](crate::content).
    ///
    /// ```
    /// use tracing_ai::content::ContentCapture;
    ///
    /// // As the standard variable says, for a layer set up by hand (`init()` reads it itself).
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_capture(ContentCapture::from_env()?)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_capture(mut self, capture: ContentCapture) -> Self {
        self.content.capture = capture;
        self.content_capture_set = true;
        self
    }

    /// The mode `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` asks for, unless the code
    /// set one.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn with_content_capture_from_env(mut self, capture: ContentCapture) -> Self {
        if !self.content_capture_set {
            self.content.capture = capture;
        }
        self
    }

    /// Also redacts what matches `pattern` (a regular expression, `regex` crate syntax) in
    /// captured content, after the built-in patterns (API keys, bearer tokens, credentials
    /// in URLs, e-mail addresses, card numbers). An invalid pattern is an error of
    /// [`build`](Self::build).
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_redaction(r"\bEMP-\d{6}\b")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_redaction(mut self, pattern: &str) -> Self {
        if let Err(problem) = self.content.redactor.add_pattern(pattern) {
            self.content_errors.push(problem);
        }
        self
    }

    /// Passes every captured text through `redact` last, after the built-in and the
    /// pattern redaction: for what only the application can recognise.
    ///
    /// ```
    /// let layer = tracing_ai::AiLayer::builder()
    ///     .with_content_redactor(|text: &mut String| {
    ///         *text = text.replace("Project Falcon", "[CODENAME]");
    ///     })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_content_redactor(
        mut self,
        redact: impl Fn(&mut String) + Send + Sync + 'static,
    ) -> Self {
        self.content
            .redactor
            .set_callback(std::sync::Arc::new(redact));
        self
    }

    /// The most bytes one captured value (the JSON text of `gen_ai.input.messages`, say) may
    /// take; 8 KiB by default. Longer content is cut so that its JSON stays valid and says it
    /// was cut. `init()` keeps it within the export's attribute value limit, past which the
    /// export would cut the JSON anywhere.
    pub fn with_content_max_bytes(mut self, max_bytes: usize) -> Self {
        self.content.max_bytes = max_bytes;
        self
    }

    /// Keeps the content cap within `limit`, the export's attribute value limit.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn with_content_max_bytes_within(mut self, limit: usize) -> Self {
        self.content.max_bytes = self.content.max_bytes.min(limit);
        self
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
        let metrics = self.meter.map(|meter| {
            Metrics::new(
                &meter,
                self.cardinality.unwrap_or(metrics::DEFAULT_CARDINALITY),
                &self.keys,
                self.conventions.unwrap_or_else(MetricConventions::from_env),
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
