//! `AiLayer`: cost and attribution on every AI span, whoever created it.
//!
//! The layer reads the fields of AI spans (those carrying `gen_ai.operation.name`) as they are
//! recorded, and the attribution ids (`tenant.id`, `feature.id`, ...) of any span. When an AI
//! span closes, it prices the call, resolves its attribution from the span's ancestors and the
//! OpenTelemetry baggage, and writes both onto the span: as `tracing` fields when the span
//! declares them (so every layer sees them: `fmt`, a console view, OpenTelemetry), and
//! straight onto the OpenTelemetry span otherwise.
//!
//! Writing at close means a tenant id recorded on the request's span after an AI span was
//! created still reaches it, and a self-hosted call can be priced by its duration. It also
//! means the layer must see a span close before the OpenTelemetry layer exports it:
//! [`layer`] and [`AiLayer::with_tracer`] compose the two in that order.

mod attribution;
mod fields;
mod metrics;

use std::cell::Cell;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tracing::dispatcher::WeakDispatch;
use tracing::field::Value;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::{Context, Layer, Layered};
use tracing_subscriber::registry::LookupSpan;

use crate::attr;
use crate::error::ConfigError;
use crate::pricing::{self, Call, Currencies, ModelPrice, Priced, Pricing};
use attribution::{Attribution, AttributionKeys};
use fields::{AiSpanData, FieldVisitor};
use metrics::{CallMetrics, Metrics};

/// [`AiLayer`] composed with tracing-opentelemetry's layer, in the order that works: the AI
/// layer writes cost and attribution before the OpenTelemetry layer exports the span.
pub type AiOpenTelemetryLayer<S, T> = Layered<OpenTelemetryLayer<S, T>, AiLayer, S>;

/// The default layer: [`AiLayer`] with default settings, composed with tracing-opentelemetry's
/// layer over `tracer`.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_ai::layer(provider.tracer("my-service")));
/// # let _ = subscriber;
/// ```
///
/// Prices come from the genai-prices data bundled with this release, decoded here (about
/// 30 ms). Use [`AiLayer::builder`] to set prices, a reporting currency or attribution keys.
pub fn layer<S, T>(tracer: T) -> AiOpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    AiLayer::new().with_tracer(tracer)
}

/// A [`Layer`] that prices every AI span and attributes it to a tenant, feature and request.
///
/// Use [`layer`] for the usual set-up with OpenTelemetry, or [`AiLayer::builder`] to configure
/// it. On its own, without an OpenTelemetry layer, it still records cost and attribution on the
/// spans that declare those fields (every `#[ai_span]` does), for `fmt` and any other layer.
///
/// It must be added before (under) any layer that should see what it writes:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_ai::AiLayer::new())
///     .with(tracing_subscriber::fmt::layer());
/// # let _ = subscriber;
/// ```
pub struct AiLayer {
    shared: Arc<Shared>,
    dispatch: OnceLock<WeakDispatch>,
}

struct Shared {
    pricing: Pricing,
    keys: AttributionKeys,
    metrics: Option<Metrics>,
    /// Models already warned about as unpriced: once per model, not once per call.
    warned: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for AiLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiLayer")
            .field("attribution", &self.shared.keys.exported())
            .finish_non_exhaustive()
    }
}

impl Default for AiLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl AiLayer {
    /// An `AiLayer` with default settings: genai-prices prices, costs in USD, the default
    /// attribution keys.
    pub fn new() -> Self {
        Self::from_parts(Pricing::with_defaults(), AttributionKeys::default(), None)
    }

    fn from_parts(pricing: Pricing, keys: AttributionKeys, metrics: Option<Metrics>) -> Self {
        Self {
            shared: Arc::new(Shared {
                pricing,
                keys,
                metrics,
                warned: Mutex::new(HashSet::new()),
            }),
            dispatch: OnceLock::new(),
        }
    }

    /// Configures an `AiLayer`.
    pub fn builder() -> AiLayerBuilder {
        AiLayerBuilder::default()
    }

    /// Composes this layer with tracing-opentelemetry's layer over `tracer`, in the order that
    /// lets this layer write before the span is exported.
    pub fn with_tracer<S, T>(self, tracer: T) -> AiOpenTelemetryLayer<S, T>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        T: opentelemetry::trace::Tracer + 'static,
        T::Span: Send + Sync,
    {
        self.and_then(OpenTelemetryLayer::new(tracer))
    }
}

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
    prices: Vec<(String, ModelPrice)>,
    files: Vec<PricesSource>,
    rates: Vec<(String, f64)>,
    reporting: Option<String>,
    keys: AttributionKeys,
    meter: Option<opentelemetry::metrics::Meter>,
    cardinality: Option<usize>,
}

#[derive(Debug)]
enum PricesSource {
    File(PathBuf),
    Text(String),
}

impl AiLayerBuilder {
    /// Sets the price of `model`, checked before the genai-prices data. It applies when the
    /// request or the response model of a call is exactly `model`.
    pub fn with_model_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.prices.push((model.into(), price));
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
        self.files.push(PricesSource::File(path.into()));
        self
    }

    /// Loads model prices from TOML text, in the format of
    /// [`with_prices_file`](Self::with_prices_file).
    pub fn with_prices_toml(mut self, toml: impl Into<String>) -> Self {
        self.files.push(PricesSource::Text(toml.into()));
        self
    }

    /// Sets the exchange rate of a currency prices are given in: how many units of `code`
    /// one USD buys. Rates are fixed: the layer never makes a network call.
    pub fn with_exchange_rate(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        self.rates.push((code.into(), per_usd));
        self
    }

    /// Reports every cost in `code` as well as in USD, at `per_usd` units of `code` per USD:
    /// `ai.cost.amount` and `ai.cost.currency` beside `gen_ai.usage.cost`. By default costs are
    /// reported in USD only.
    pub fn with_reporting_currency(mut self, code: impl Into<String>, per_usd: f64) -> Self {
        let code = code.into();
        self.rates.push((code.clone(), per_usd));
        self.reporting = Some(code);
        self
    }

    /// Also attributes AI spans by `key`, read from span fields and baggage and exported under
    /// the same name. The defaults are `tenant.id`, `feature.id`, `request.id`, `user.id` and
    /// `session.id` (and `tenant_id`, `feature_id`, `request_id`, exported dotted).
    pub fn with_attribution_key(mut self, key: &str) -> Self {
        self.keys.add(key, key);
        self
    }

    /// Records metrics of every AI span with `meter`, before any sampling, so that their totals
    /// are exact whatever share of the traces is exported:
    ///
    /// - `gen_ai.client.token.usage`: a histogram of tokens by `gen_ai.token.type` (`input`,
    ///   `output`), operation, provider and model;
    /// - `gen_ai.client.operation.duration`: a histogram of seconds, with `error.type` on
    ///   failed calls;
    /// - `ai.client.cost`: a counter of USD by `tenant.id`, `feature.id`, model and provider.
    ///
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

    /// Caps the distinct tenant ids, and the distinct feature ids, the cost metric tells
    /// apart: the ones past the cap are counted under `other`, so that ids that come from
    /// requests cannot grow memory without bound. 1,000 by default.
    pub fn with_metric_cardinality(mut self, distinct_values: usize) -> Self {
        self.cardinality = Some(distinct_values);
        self
    }

    /// Builds the layer: checks every price and currency, loads the prices files and decodes
    /// the genai-prices data (about 30 ms).
    pub fn build(self) -> Result<AiLayer, ConfigError> {
        let mut currencies = Currencies::default();
        for (code, per_usd) in &self.rates {
            currencies.set_rate(code, *per_usd)?;
        }
        if let Some(code) = &self.reporting {
            currencies.set_reporting(code);
        }
        let mut prices = Vec::new();
        for source in &self.files {
            prices.extend(match source {
                PricesSource::File(path) => pricing::load_prices_file(path)?,
                PricesSource::Text(text) => pricing::parse_prices(text)?,
            });
        }
        prices.extend(self.prices);
        let pricing = Pricing::new(prices, currencies)?;
        let metrics = self.meter.map(|meter| {
            Metrics::new(
                &meter,
                self.cardinality.unwrap_or(metrics::DEFAULT_CARDINALITY),
                &self.keys,
            )
        });
        Ok(AiLayer::from_parts(pricing, self.keys, metrics))
    }

    /// Builds the layer and composes it with tracing-opentelemetry's layer over `tracer`; see
    /// [`AiLayer::with_tracer`].
    pub fn with_tracer<S, T>(self, tracer: T) -> Result<AiOpenTelemetryLayer<S, T>, ConfigError>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        T: opentelemetry::trace::Tracer + 'static,
        T::Span: Send + Sync,
    {
        Ok(self.build()?.with_tracer(tracer))
    }
}

/// What a span means to the layer, from its field names alone.
struct Role {
    ai: bool,
    attribution: bool,
}

impl Shared {
    /// An AI span declares `gen_ai.operation.name` (first, in an `#[ai_span]`'s span, so the
    /// check is one comparison); any other span matters only if it declares an attribution
    /// key.
    fn role(&self, metadata: &Metadata<'_>) -> Role {
        if crate::record::is_ai_span(metadata) {
            return Role {
                ai: true,
                attribution: true,
            };
        }
        Role {
            ai: false,
            attribution: metadata
                .fields()
                .iter()
                .any(|field| self.keys.index_of(field.name()).is_some()),
        }
    }
}

impl<S> Layer<S> for AiLayer
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let role = self.shared.role(attrs.metadata());
        if !role.ai && !role.attribution {
            return;
        }
        let mut visitor = FieldVisitor::new(&self.shared.keys);
        attrs.record(&mut visitor);
        let span = ctx.span(id).expect("Span not found, this is a bug");
        let mut extensions = span.extensions_mut();
        if let Some(attribution) = visitor.attribution {
            extensions.replace(attribution);
        }
        if role.ai {
            let created = (self.shared.pricing.needs_duration() || self.shared.metrics.is_some())
                .then(Instant::now);
            extensions.replace(AiSpanData {
                created,
                fields: visitor.call,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if WRITING.get() {
            // What this layer writes back when a span closes: nothing to read.
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let role = self.shared.role(span.metadata());
        if !role.ai && !role.attribution {
            return;
        }
        // Visit before locking: the values may format themselves, and call back into tracing.
        let mut visitor = FieldVisitor::new(&self.shared.keys);
        values.record(&mut visitor);
        let mut extensions = span.extensions_mut();
        if let Some(recorded) = visitor.attribution {
            match extensions.get_mut::<Attribution>() {
                Some(attribution) => {
                    for (index, value) in recorded.values {
                        attribution.set(index, value);
                    }
                }
                None => extensions.insert(recorded),
            }
        }
        if let Some(data) = extensions.get_mut::<AiSpanData>() {
            data.fields.update(visitor.call);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let is_root = span.parent().is_none();
        if !self.shared.role(span.metadata()).ai {
            if is_root {
                let totals = span.extensions_mut().remove::<RequestTotals>();
                if let Some(totals) = totals {
                    let metadata = span.metadata();
                    drop(span);
                    self.write_totals(&id, metadata, &totals);
                }
            }
            return;
        }
        let Some(data) = span.extensions_mut().remove::<AiSpanData>() else {
            return;
        };
        let metadata = span.metadata();
        // Nearest value wins: the span's own, then its parent's, up to the root.
        let mut attribution: Vec<Option<Arc<str>>> = vec![None; self.shared.keys.exported().len()];
        for ancestor in span.scope() {
            if let Some(values) = ancestor.extensions().get::<Attribution>() {
                for (index, value) in &values.values {
                    attribution[*index].get_or_insert_with(|| value.clone());
                }
            }
        }
        // Read once: the same duration prices a self-hosted call and goes into the metrics.
        let duration = data.created.map(|created| created.elapsed());
        let priced = self.price(&data, duration);
        // The request's totals live on its local root, whoever's thread the call ran on.
        if let Some(root) = span.scope().from_root().next() {
            let mut extensions = root.extensions_mut();
            match extensions.get_mut::<RequestTotals>() {
                Some(totals) => totals.add(&data, &priced),
                None => {
                    let mut totals = RequestTotals::default();
                    totals.add(&data, &priced);
                    extensions.insert(totals);
                }
            }
        }
        let own_totals = if is_root {
            span.extensions_mut().remove::<RequestTotals>()
        } else {
            None
        };
        drop(span);
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let otel = tracing_opentelemetry::get_otel_context(&id, &dispatch);
        if let Some(cx) = &otel {
            let baggage = opentelemetry::baggage::BaggageExt::baggage(cx);
            for (name, index) in self.shared.keys.names() {
                if attribution[index].is_none() {
                    if let Some(value) = baggage.get(name) {
                        attribution[index] = Some(value.as_str().into());
                    }
                }
            }
        }

        let mut writer = Writer::new(metadata);
        for (index, value) in attribution.iter().enumerate() {
            if let Some(value) = value {
                writer.push_named(
                    Name::Shared(&self.shared.keys.exported()[index]),
                    Written::Str(value.clone()),
                );
            }
        }
        self.write_cost(&data, &priced, &mut writer);
        if let Some(totals) = &own_totals {
            self.push_totals(totals, &mut writer);
        }
        writer.finish(&id, &dispatch, otel.as_ref());
        if let Some(metrics) = &self.shared.metrics {
            metrics.record(&CallMetrics {
                fields: &data.fields,
                duration,
                usd: match &priced {
                    Priced::Cost { usd, .. } => Some(*usd),
                    Priced::Unpriced { .. } => None,
                    Priced::Nothing => data.fields.recorded_cost,
                },
                attribution: &attribution,
            });
        }
        self.warn_if_unpriced(&priced);
    }
}

/// What a request's model calls added up to, kept on its local root span until it closes.
#[derive(Debug, Default)]
struct RequestTotals {
    usd: f64,
    input: u64,
    output: u64,
    calls: u64,
    unpriced: u64,
}

impl RequestTotals {
    /// Adds one AI span. Only calls to a model count: a retrieval or an agent's own span adds
    /// nothing, so that an agent's calls are not counted twice.
    fn add(&mut self, data: &AiSpanData, priced: &Priced) {
        let fields = &data.fields;
        let tokens = fields.tokens();
        if fields.request_model.is_none() && tokens.is_none() {
            return;
        }
        self.calls += 1;
        if let Some(tokens) = tokens {
            self.input = self.input.saturating_add(tokens.input);
            self.output = self.output.saturating_add(tokens.output);
        }
        match priced {
            Priced::Cost { usd, .. } => self.usd += usd,
            Priced::Unpriced { .. } => self.unpriced += 1,
            Priced::Nothing => self.usd += fields.recorded_cost.unwrap_or(0.0),
        }
    }
}

impl AiLayer {
    fn price(&self, data: &AiSpanData, duration: Option<Duration>) -> Priced {
        let fields = &data.fields;
        if fields.recorded_cost.is_some() {
            return Priced::Nothing;
        }
        self.shared.pricing.price(&Call {
            provider: fields.provider.as_deref(),
            request_model: fields.request_model.as_deref(),
            response_model: fields.response_model.as_deref(),
            tokens: fields.tokens(),
            duration: duration.unwrap_or(Duration::ZERO),
        })
    }

    fn write_cost(&self, data: &AiSpanData, priced: &Priced, writer: &mut Writer) {
        let currencies = &self.shared.pricing.currencies;
        let usd = match priced {
            Priced::Cost { usd, source } => {
                writer.push(attr::GEN_AI_USAGE_COST, Written::F64(*usd));
                writer.push(attr::AI_COST_SOURCE, Written::Static(source.as_str()));
                Some(*usd)
            }
            Priced::Unpriced { reason, .. } => {
                writer.push(attr::AI_COST_UNPRICED, Written::Str(reason.clone()));
                None
            }
            // A provider-reported cost was recorded with its source by whoever recorded it.
            Priced::Nothing => data.fields.recorded_cost,
        };
        if let Some((code, amount)) = usd.and_then(|usd| currencies.report(usd)) {
            writer.push(attr::AI_COST_AMOUNT, Written::F64(amount));
            writer.push(attr::AI_COST_CURRENCY, Written::Str(code.into()));
        }
    }

    /// Writes a request's totals on its root, which is not an AI span.
    fn write_totals(&self, id: &Id, metadata: &'static Metadata<'static>, totals: &RequestTotals) {
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let otel = tracing_opentelemetry::get_otel_context(id, &dispatch);
        let mut writer = Writer::new(metadata);
        self.push_totals(totals, &mut writer);
        writer.finish(id, &dispatch, otel.as_ref());
    }

    fn push_totals(&self, totals: &RequestTotals, writer: &mut Writer) {
        writer.push(attr::AI_REQUEST_COST, Written::F64(totals.usd));
        if let Some((code, amount)) = self.shared.pricing.currencies.report(totals.usd) {
            writer.push(attr::AI_REQUEST_COST_AMOUNT, Written::F64(amount));
            writer.push(attr::AI_REQUEST_COST_CURRENCY, Written::Str(code.into()));
        }
        writer.push(
            attr::AI_REQUEST_INPUT_TOKENS,
            Written::I64(saturating_i64(totals.input)),
        );
        writer.push(
            attr::AI_REQUEST_OUTPUT_TOKENS,
            Written::I64(saturating_i64(totals.output)),
        );
        writer.push(
            attr::AI_REQUEST_AI_CALLS,
            Written::I64(saturating_i64(totals.calls)),
        );
        writer.push(
            attr::AI_REQUEST_UNPRICED_CALLS,
            Written::I64(saturating_i64(totals.unpriced)),
        );
    }

    fn warn_if_unpriced(&self, priced: &Priced) {
        if let Priced::Unpriced { model, reason } = priced {
            let first = self
                .shared
                .warned
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(model.clone());
            if first {
                tracing::warn!(
                    target: "tracing_ai",
                    model = %model,
                    "calls to this model are exported without a cost: {reason}"
                );
            }
        }
    }
}

thread_local! {
    /// Set while the layer records on a closing span, so that its own `on_record` skips it.
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// A value the layer writes on a span.
enum Written {
    F64(f64),
    I64(i64),
    Str(Arc<str>),
    Static(&'static str),
}

impl Written {
    /// As an OpenTelemetry value, without copying its text.
    fn into_otel(self) -> opentelemetry::Value {
        match self {
            Written::F64(v) => v.into(),
            Written::I64(v) => v.into(),
            Written::Str(v) => opentelemetry::StringValue::from(v).into(),
            Written::Static(v) => v.into(),
        }
    }
}

/// The name of an attribute the layer writes: one of ours, or an attribution key's.
enum Name<'a> {
    Static(&'static str),
    Shared(&'a Arc<str>),
}

impl Name<'_> {
    fn as_str(&self) -> &str {
        match self {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }

    fn into_key(self) -> opentelemetry::Key {
        match self {
            Name::Static(name) => opentelemetry::Key::from_static_str(name),
            Name::Shared(name) => opentelemetry::Key::from(name.clone()),
        }
    }
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Collects what to write on a closing span: the fields it declares go through the
/// dispatcher (every layer sees them), the rest onto the OpenTelemetry span.
struct Writer {
    metadata: &'static Metadata<'static>,
    declared: Vec<(tracing::field::Field, Written)>,
    undeclared: Vec<KeyValue>,
}

impl Writer {
    fn new(metadata: &'static Metadata<'static>) -> Self {
        Self {
            metadata,
            declared: Vec::new(),
            undeclared: Vec::new(),
        }
    }

    fn push(&mut self, name: &'static str, value: Written) {
        self.push_named(Name::Static(name), value);
    }

    fn push_named(&mut self, name: Name<'_>, value: Written) {
        match self.metadata.fields().field(name.as_str()) {
            Some(field) => self.declared.push((field, value)),
            None => self
                .undeclared
                .push(KeyValue::new(name.into_key(), value.into_otel())),
        }
    }

    fn finish(self, id: &Id, dispatch: &Dispatch, otel: Option<&opentelemetry::Context>) {
        if !self.declared.is_empty() {
            let texts: Vec<&str> = self
                .declared
                .iter()
                .map(|(_, value)| match value {
                    Written::Str(text) => &**text,
                    Written::Static(text) => text,
                    Written::F64(_) | Written::I64(_) => "",
                })
                .collect();
            let values: Vec<(&tracing::field::Field, &dyn Value)> = self
                .declared
                .iter()
                .zip(&texts)
                .map(|((field, value), text)| {
                    let value: &dyn Value = match value {
                        Written::F64(number) => number,
                        Written::I64(number) => number,
                        Written::Str(_) | Written::Static(_) => text,
                    };
                    (field, value)
                })
                .collect();
            WRITING.set(true);
            crate::record::record_by_id(self.metadata, id, dispatch, &values);
            WRITING.set(false);
        }
        if let (Some(cx), false) = (otel, self.undeclared.is_empty()) {
            cx.span().set_attributes(self.undeclared);
        }
    }
}
