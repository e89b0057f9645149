//! Helpers shared by the integration tests of tracing-ai; not part of any public API.
//!
//! [`capture`] runs a closure under a subscriber whose [`CaptureLayer`] keeps, for every span,
//! its name, level, parent and each field value with its type (an `i64` stays an `i64`), so
//! that tests assert what a layer or an exporter would see.

pub mod jaeger;
pub mod model_server;
pub mod prometheus;
pub mod receiver;
pub mod redis;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// A field value as the subscriber received it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// Recorded with `record_i64`.
    I64(i64),
    /// Recorded with `record_u64`.
    U64(u64),
    /// Recorded with `record_f64`.
    F64(f64),
    /// Recorded with `record_bool`.
    Bool(bool),
    /// Recorded with `record_str`.
    Str(String),
    /// Recorded with `record_debug` (so also `%display` values), formatted.
    Debug(String),
}

impl FieldValue {
    /// The text of a string, `Display` or `Debug` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Str(text) | FieldValue::Debug(text) => Some(text),
            _ => None,
        }
    }
}

/// One span as the capture layer saw it, from creation to close.
#[derive(Clone, Debug)]
pub struct CapturedSpan {
    /// The `tracing` span name.
    pub name: &'static str,
    /// The span's target.
    pub target: &'static str,
    /// The span's level.
    pub level: Level,
    /// Index in [`Captured::spans`] of the parent span, if any.
    pub parent: Option<usize>,
    /// Every field that got a value, at creation or later.
    pub fields: BTreeMap<String, FieldValue>,
    /// The names of all fields the span declared, with or without a value.
    pub declared: Vec<&'static str>,
    /// Whether the span closed.
    pub closed: bool,
}

impl CapturedSpan {
    /// The value of `field`, if one was recorded.
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
        self.fields.get(field)
    }

    /// The value of `field`; panics with the span's fields when there is none.
    #[track_caller]
    pub fn field(&self, field: &str) -> &FieldValue {
        self.fields.get(field).unwrap_or_else(|| {
            panic!(
                "span `{}` has no value for `{field}`; it has {:#?}",
                self.name, self.fields
            )
        })
    }
}

/// Everything captured during one [`capture`] call.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// Spans in creation order.
    pub spans: Vec<CapturedSpan>,
}

impl Captured {
    /// The only span named `name`; panics if there is none or several.
    #[track_caller]
    pub fn span(&self, name: &str) -> &CapturedSpan {
        only_one(&self.spans, name, |span| span.name)
    }

    /// All spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<&CapturedSpan> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// The parent of `span`, if it has one.
    pub fn parent_of(&self, span: &CapturedSpan) -> Option<&CapturedSpan> {
        span.parent.map(|index| &self.spans[index])
    }
}

/// The only item of `items` whose name is `name`; panics, listing the names, if there is
/// none or several.
#[track_caller]
fn only_one<'a, T>(items: &'a [T], name: &str, name_of: impl Fn(&'a T) -> &'a str) -> &'a T {
    let mut matching = items.iter().filter(|item| name_of(item) == name);
    match (matching.next(), matching.next()) {
        (Some(item), None) => item,
        _ => panic!(
            "expected exactly one span named `{name}`, found {}; spans: {:?}",
            items.iter().filter(|item| name_of(item) == name).count(),
            items.iter().map(&name_of).collect::<Vec<_>>()
        ),
    }
}

/// A layer that records every span into a shared [`Captured`].
#[derive(Clone, Debug, Default)]
pub struct CaptureLayer {
    captured: Arc<Mutex<Captured>>,
}

/// The index of a span in [`Captured::spans`], kept in its extensions.
struct Index(usize);

impl CaptureLayer {
    /// A new, empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything captured so far.
    pub fn captured(&self) -> Captured {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.captured.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("span not found, this is a bug");
        let parent = span
            .parent()
            .and_then(|parent| parent.extensions().get::<Index>().map(|index| index.0));
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        let metadata = attrs.metadata();
        let mut captured = self.lock();
        captured.spans.push(CapturedSpan {
            name: metadata.name(),
            target: metadata.target(),
            level: *metadata.level(),
            parent,
            fields: visitor.0,
            declared: metadata.fields().iter().map(|f| f.name()).collect(),
            closed: false,
        });
        let index = captured.spans.len() - 1;
        drop(captured);
        span.extensions_mut().insert(Index(index));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("span not found, this is a bug");
        let Some(index) = span.extensions().get::<Index>().map(|index| index.0) else {
            return;
        };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        self.lock().spans[index].fields.extend(visitor.0);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("span not found, this is a bug");
        let index = span.extensions().get::<Index>().map(|index| index.0);
        if let Some(index) = index {
            self.lock().spans[index].closed = true;
        }
    }
}

#[derive(Default)]
struct FieldVisitor(BTreeMap<String, FieldValue>);

impl Visit for FieldVisitor {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0
            .insert(field.name().to_owned(), FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0
            .insert(field.name().to_owned(), FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .insert(field.name().to_owned(), FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0
            .insert(field.name().to_owned(), FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), FieldValue::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            FieldValue::Debug(format!("{value:?}")),
        );
    }
}

/// Runs `f` with a registry and a [`CaptureLayer`] as this thread's default subscriber, and
/// returns what `f` returned with everything captured.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Captured) {
    let layer = CaptureLayer::new();
    let subscriber = tracing_subscriber::registry().with(layer.clone());
    let value = tracing::subscriber::with_default(subscriber, f);
    (value, layer.captured())
}

/// Runs the future `f` to completion on a single-threaded tokio runtime under [`capture`].
pub fn capture_async<F: std::future::Future>(f: F) -> (F::Output, Captured) {
    capture(|| block_on(f))
}

/// Runs a future to completion on a current-thread tokio runtime, so that the thread-local
/// default subscriber sees every poll.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime builds")
        .block_on(f)
}

/// `FieldValue::Str` of `text`.
pub fn s(text: &str) -> FieldValue {
    FieldValue::Str(text.to_owned())
}

/// Running code under [`tracing_ai::layer`] and reading what OpenTelemetry exported.
/// Every GenAI name of the conventions this crate may export, as the conventions' constants
/// (deprecated there since the names moved to semantic-conventions-genai; still the 1.42
/// schema's): a name missing from `opentelemetry-semantic-conventions` does not compile here.
#[allow(deprecated)]
pub const GEN_AI_CONVENTIONS: &[&str] = &[
    opentelemetry_semantic_conventions::attribute::GEN_AI_OPERATION_NAME,
    opentelemetry_semantic_conventions::attribute::GEN_AI_PROVIDER_NAME,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_MODEL,
    opentelemetry_semantic_conventions::attribute::GEN_AI_RESPONSE_MODEL,
    opentelemetry_semantic_conventions::attribute::GEN_AI_RESPONSE_ID,
    opentelemetry_semantic_conventions::attribute::GEN_AI_USAGE_INPUT_TOKENS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_USAGE_OUTPUT_TOKENS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    // semantic-conventions-genai's name for cache writes (no Rust crate has it; quoted as in
    // semconv/gen-ai-current.yaml); the 1.42 name below is exported beside it on opt-in.
    "gen_ai.usage.cache_write.input_tokens",
    opentelemetry_semantic_conventions::attribute::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_RESPONSE_FINISH_REASONS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_STREAM,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_NAME,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_CALL_ID,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_TYPE,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_DESCRIPTION,
    opentelemetry_semantic_conventions::attribute::GEN_AI_AGENT_NAME,
    opentelemetry_semantic_conventions::attribute::GEN_AI_AGENT_ID,
    opentelemetry_semantic_conventions::attribute::GEN_AI_AGENT_VERSION,
    opentelemetry_semantic_conventions::attribute::GEN_AI_AGENT_DESCRIPTION,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOKEN_TYPE,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_TEMPERATURE,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_MAX_TOKENS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_TOP_P,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_TOP_K,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_STOP_SEQUENCES,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_SEED,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_CHOICE_COUNT,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_FREQUENCY_PENALTY,
    opentelemetry_semantic_conventions::attribute::GEN_AI_REQUEST_PRESENCE_PENALTY,
    opentelemetry_semantic_conventions::attribute::GEN_AI_INPUT_MESSAGES,
    opentelemetry_semantic_conventions::attribute::GEN_AI_OUTPUT_MESSAGES,
    opentelemetry_semantic_conventions::attribute::GEN_AI_SYSTEM_INSTRUCTIONS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_CALL_ARGUMENTS,
    opentelemetry_semantic_conventions::attribute::GEN_AI_TOOL_CALL_RESULT,
    opentelemetry_semantic_conventions::attribute::GEN_AI_EVALUATION_NAME,
    opentelemetry_semantic_conventions::attribute::GEN_AI_EVALUATION_SCORE_VALUE,
    opentelemetry_semantic_conventions::attribute::GEN_AI_EVALUATION_SCORE_LABEL,
    opentelemetry_semantic_conventions::attribute::GEN_AI_EVALUATION_EXPLANATION,
];

pub mod otel {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::{Key, Value};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt as _;

    /// The type of `value` as the conventions name attribute types (`string`, `int`,
    /// `double`, `boolean`, `string[]`).
    pub fn value_type(value: &Value) -> &'static str {
        match value {
            Value::Bool(_) => "boolean",
            Value::I64(_) => "int",
            Value::F64(_) => "double",
            Value::String(_) => "string",
            Value::Array(opentelemetry::Array::String(_)) => "string[]",
            Value::Array(_) => "array",
            _ => "other",
        }
    }

    /// Runs `f` under a registry with `tracing_ai`'s layer (built by `builder`) over an SDK
    /// tracer provider that exports to memory, and returns every exported span once flushed.
    pub fn export_with<T>(
        builder: tracing_ai::AiLayerBuilder,
        f: impl FnOnce() -> T,
    ) -> (T, Exported) {
        export_with_layer(builder, tracing_subscriber::layer::Identity::new(), f)
    }

    /// The subscriber [`export_with_layer`] adds its extra layer to.
    pub type Inner = tracing_subscriber::layer::Layered<
        tracing_ai::AiOpenTelemetryLayer<
            tracing_subscriber::Registry,
            opentelemetry_sdk::trace::SdkTracer,
        >,
        tracing_subscriber::Registry,
    >;

    /// [`export_with`], with `extra` added over the AI layer (it sees what the layer writes).
    pub fn export_with_layer<T, L>(
        builder: tracing_ai::AiLayerBuilder,
        extra: L,
        f: impl FnOnce() -> T,
    ) -> (T, Exported)
    where
        L: tracing_subscriber::Layer<Inner> + Send + Sync + 'static,
    {
        let layer = builder
            .build()
            .expect("the test's layer configuration is valid");
        export_built_with_layer(layer, extra, f)
    }

    /// [`export_with`], for a layer already built (whose handles the test keeps).
    pub fn export_built<T>(layer: tracing_ai::AiLayer, f: impl FnOnce() -> T) -> (T, Exported) {
        export_built_with_layer(layer, tracing_subscriber::layer::Identity::new(), f)
    }

    fn export_built_with_layer<T, L>(
        layer: tracing_ai::AiLayer,
        extra: L,
        f: impl FnOnce() -> T,
    ) -> (T, Exported)
    where
        L: tracing_subscriber::Layer<Inner> + Send + Sync + 'static,
    {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = layer.with_tracer(provider.tracer("tracing-ai-tests"));
        let subscriber = tracing_subscriber::registry().with(layer).with(extra);
        let value = tracing::subscriber::with_default(subscriber, f);
        provider.force_flush().expect("spans flush");
        let spans = exporter.get_finished_spans().expect("finished spans");
        (value, Exported { spans })
    }

    /// [`export_with`] the default layer.
    pub fn export<T>(f: impl FnOnce() -> T) -> (T, Exported) {
        export_with(tracing_ai::AiLayer::builder(), f)
    }

    /// The spans an exporter received.
    #[derive(Debug)]
    pub struct Exported {
        /// In the order they ended.
        pub spans: Vec<SpanData>,
    }

    impl Exported {
        /// The only span named `name`; panics if there is none or several.
        #[track_caller]
        pub fn span(&self, name: &str) -> &SpanData {
            super::only_one(&self.spans, name, |span| &span.name)
        }

        /// Every span named `name`.
        pub fn spans_named(&self, name: &str) -> Vec<&SpanData> {
            self.spans.iter().filter(|s| s.name == name).collect()
        }

        /// The spans whose parent is `parent`, in the order they started.
        pub fn children_of(&self, parent: &SpanData) -> Vec<&SpanData> {
            let mut children: Vec<&SpanData> = self
                .spans
                .iter()
                .filter(|span| span.parent_span_id == parent.span_context.span_id())
                .collect();
            children.sort_by_key(|span| span.start_time);
            children
        }
    }

    /// Retry attempts waited what their client's backoff says: none before the first, then
    /// each of `backoffs` (seconds), give or take `slack` above (which only catches a wait
    /// read from the wrong attempt: the client never waits less than its backoff).
    #[track_caller]
    pub fn assert_waits(attempts: &[&SpanData], backoffs: &[f64], slack: f64) {
        assert_eq!(attr(attempts[0], "ai.attempt.wait"), None);
        for (attempt, backoff) in attempts[1..].iter().zip(backoffs) {
            let wait = f64_attr(attempt, "ai.attempt.wait");
            assert!(
                (*backoff..backoff + slack).contains(&wait),
                "{}: waited {wait} s, the backoff is {backoff} s",
                attempt.name
            );
        }
        assert_eq!(attempts.len(), backoffs.len() + 1, "one wait per retry");
    }

    /// The JSON text of string attribute `key` on `span`, parsed; panics, saying which,
    /// when it is missing or not JSON (captured message content, say).
    #[track_caller]
    pub fn json_attr(span: &SpanData, key: &str) -> serde_json::Value {
        let text = match attr(span, key) {
            Some(Value::String(text)) => text.as_str().to_owned(),
            other => panic!("`{key}` of `{}` is {other:?}", span.name),
        };
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("`{key}` is not JSON ({error}): {text}"))
    }

    /// The value of attribute `key` on `span`.
    pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == Key::from(key.to_owned()))
            .map(|kv| &kv.value)
    }

    /// The `f64` attribute `key`; panics with the span's attributes if it is missing or not
    /// a float.
    #[track_caller]
    pub fn f64_attr(span: &SpanData, key: &str) -> f64 {
        match attr(span, key) {
            Some(Value::F64(value)) => *value,
            other => panic!(
                "`{key}` of `{}` is {other:?}: {:#?}",
                span.name, span.attributes
            ),
        }
    }

    /// The string attribute `key`, if present.
    pub fn str_attr<'a>(span: &'a SpanData, key: &str) -> Option<std::borrow::Cow<'a, str>> {
        match attr(span, key) {
            Some(Value::String(value)) => Some(std::borrow::Cow::Borrowed(value.as_str())),
            _ => None,
        }
    }
}

/// Builds the example `name` of `tracing-ai-examples` with the cargo, target directory and
/// profile that built the calling test, and returns its path. `cargo test --test X` alone does
/// not build examples, and an old binary would test old code.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let target_dir = profile_dir
        .parent()
        .expect("target/<profile> is in target/");
    let mut build =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "tracing-ai-examples",
            "--example",
            name,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the example `{name}` failed");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Counts the warnings tracing-ai itself emits (target `tracing_ai`).
#[derive(Clone, Debug, Default)]
pub struct WarnCounter(pub Arc<std::sync::atomic::AtomicUsize>);

impl WarnCounter {
    /// The warnings counted so far.
    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S: Subscriber> Layer<S> for WarnCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "tracing_ai" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// A writer into shared memory, for layers that print (`fmt`, the console view).
#[derive(Clone, Debug, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes).expect("the layers write UTF-8")
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The error of a simulated model call that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model is overloaded")
    }
}

impl std::error::Error for Overloaded {}

/// `path`, a backend or tool `scripts/test.sh` installs, when it is there. When it is not, a
/// run that requires every backend (`scripts/test.sh` sets `TRACING_AI_REQUIRE_BACKENDS`, and
/// so does CI) fails saying how to install it; a plain `cargo test` on a machine without
/// Python or Go prints that the test is skipped, and the test returns.
pub fn installed(path: std::path::PathBuf, how: &str) -> Option<std::path::PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("TRACING_AI_REQUIRE_BACKENDS").is_none(),
        "{} is missing: {how}",
        path.display()
    );
    eprintln!("skipped: {} is missing ({how})", path.display());
    None
}

/// `read()`, asked again every `every` until `done` holds of its answer or `within` has
/// passed; the last answer. A backend stores what it receives a moment after it accepts it.
pub fn poll_until<T>(
    within: std::time::Duration,
    every: std::time::Duration,
    mut read: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = std::time::Instant::now();
    loop {
        let answer = read();
        if done(&answer) || started.elapsed() > within {
            return answer;
        }
        std::thread::sleep(every);
    }
}

/// One server-sent event of a chat stream, as the tests stream them.
#[derive(Clone, Debug)]
pub struct Delta {
    /// The call's usage, on the chunk that reports it.
    pub usage: Option<tracing_ai::Usage>,
    /// Why the model stopped, on the chunk that says so.
    pub finish_reason: Option<&'static str>,
}

impl tracing_ai::stream::StreamChunk for Delta {
    fn usage(&self) -> Option<tracing_ai::Usage> {
        self.usage.clone()
    }

    fn finish_reason(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.finish_reason.map(std::borrow::Cow::Borrowed)
    }
}

/// Reading metrics back from an in-memory exporter.
pub mod metrics {
    use std::collections::HashMap;

    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData};
    use opentelemetry_sdk::metrics::InMemoryMetricExporter;

    /// A meter provider whose metrics are read back from the exporter it returns, after a
    /// `force_flush`.
    pub fn in_memory() -> (
        opentelemetry_sdk::metrics::SdkMeterProvider,
        InMemoryMetricExporter,
    ) {
        let exporter = InMemoryMetricExporter::default();
        let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone()).build(),
            )
            .build();
        (meters, exporter)
    }

    /// A point's attributes, as sorted `(key, value)` text.
    pub type Attributes = Vec<(String, String)>;

    /// The points of metric `name`: attributes as text, and the value (a histogram's sum) with
    /// the count of measurements.
    pub fn points(metrics: &InMemoryMetricExporter, name: &str) -> HashMap<Attributes, (f64, u64)> {
        let finished = metrics.get_finished_metrics().expect("metrics");
        // Cumulative: the last export holds the totals.
        let Some(last) = finished.last() else {
            return HashMap::new();
        };
        last.scope_metrics()
            .flat_map(|scope| scope.metrics())
            .filter(|metric| metric.name() == name)
            .flat_map(metric_points)
            .collect()
    }

    /// The points of gauge `name` in the last export: attributes as text, and the value.
    pub fn gauge_points(metrics: &InMemoryMetricExporter, name: &str) -> HashMap<Attributes, f64> {
        points(metrics, name)
            .into_iter()
            .map(|(attributes, (value, _))| (attributes, value))
            .collect()
    }

    /// The attributes of each point of `metric`.
    pub fn point_attributes(metric: &Metric) -> Vec<Attributes> {
        metric_points(metric)
            .into_iter()
            .map(|(attributes, _)| attributes)
            .collect()
    }

    /// Each point of `metric`: attributes as text, and the value (a histogram's sum) with the
    /// count of measurements (1 for a sum's or a gauge's).
    fn metric_points(metric: &Metric) -> Vec<(Attributes, (f64, u64))> {
        let text = |attributes: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
            let mut text: Attributes = attributes
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            text.sort();
            text
        };
        match metric.data() {
            AggregatedMetrics::F64(MetricData::Sum(sum)) => sum
                .data_points()
                .map(|point| (text(&mut point.attributes()), (point.value(), 1)))
                .collect(),
            AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                .data_points()
                .map(|point| (text(&mut point.attributes()), (point.value() as f64, 1)))
                .collect(),
            AggregatedMetrics::F64(MetricData::Gauge(gauge)) => gauge
                .data_points()
                .map(|point| (text(&mut point.attributes()), (point.value(), 1)))
                .collect(),
            AggregatedMetrics::F64(MetricData::Histogram(histogram)) => histogram
                .data_points()
                .map(|point| (text(&mut point.attributes()), (point.sum(), point.count())))
                .collect(),
            AggregatedMetrics::U64(MetricData::Histogram(histogram)) => histogram
                .data_points()
                .map(|point| {
                    (
                        text(&mut point.attributes()),
                        (point.sum() as f64, point.count()),
                    )
                })
                .collect(),
            other => panic!("{} is {other:?}", metric.name()),
        }
    }

    pub fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        let mut attributes: Attributes = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        attributes.sort();
        attributes
    }
}

/// A backend that accepts connections and never answers: each one is held open, unread, until
/// the process exits. Returns where it listens.
pub fn silent_backend() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    address
}

/// Spawns a service that says where it listens on the first line of its stderr
/// (`... http://127.0.0.1:PORT ...`), and returns it with that address. Its stderr is read
/// on from then, so that the service never blocks on a full pipe.
pub fn spawn_listening(command: &mut std::process::Command) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut service = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the service starts");
    let mut stderr = std::io::BufReader::new(service.stderr.take().expect("its stderr"));
    let mut line = String::new();
    stderr
        .read_line(&mut line)
        .expect("the service says where it listens");
    let address = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("http://"))
        .map(|address| address.trim_end_matches(';').to_owned())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (service, address)
}

/// A command running the example `name` (built for this test's profile), exporting over OTLP
/// to `endpoint` with `protocol`; what in this process's environment could send it elsewhere
/// (a traces-only endpoint or protocol, a sample ratio, a service name) is removed.
pub fn exporting_example(name: &str, endpoint: &str, protocol: &str) -> std::process::Command {
    let mut command = std::process::Command::new(example_binary(name));
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("TRACING_AI_SAMPLE_RATIO");
    command
}

/// Stops `service` with SIGTERM, as an orchestrator would, and checks that it exits cleanly
/// (its guard has exported what it held by then).
pub fn terminate(mut service: std::process::Child) {
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    assert!(service.wait().expect("the service exits").success());
}

/// Runs `command` to its end and checks that it succeeded, showing its stderr when not.
pub fn run_to_success(command: &mut std::process::Command) -> std::process::Output {
    let output = command.output().expect("the program runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs the agent example (two requests) exporting to `endpoint` with message content
/// captured, and returns the trace id and span id (hex) of the span its user's late feedback
/// scored, read from what it printed.
pub fn run_agent_example(endpoint: &str, protocol: &str) -> (String, String) {
    let output = run_to_success(
        exporting_example("agent", endpoint, protocol)
            .args(["--requests", "2"])
            .env("OTEL_METRICS_EXPORTER", "none")
            .env(
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                "SPAN_ONLY",
            ),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let handle: tracing_ai::evaluation::FeedbackHandle = stdout
        .lines()
        .find_map(|line| line.strip_prefix("feedback recorded for "))
        .expect("the example scored a request late")
        .parse()
        .expect("it printed a feedback handle");
    (handle.trace_id().to_string(), handle.span_id().to_string())
}
