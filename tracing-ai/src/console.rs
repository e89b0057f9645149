//! The console view: each request's tree of spans, printed when the request ends, with the
//! model, tokens, cost and marks of every AI call.
//!
//! ```text
//! rag.query  5.1 ms  tenant acme · request 0
//! ├─ embeddings text-embedding-3-small  3.7 ms  16 in · 0 out  $0.00000032 (0.00000026 GBP)
//! ├─ retrieval retrieve  0.0 ms  cache semantic
//! ├─ chat llama-3.1-8b-fp8  0.0 ms  FAILED GPU out of memory
//! └─ chat gpt-4o-mini  1.1 ms  1000 in · 200 out  fallback from llama-3.1-8b-fp8  $0.00027 (0.000216 GBP)
//! = 4 AI calls · 1016 tokens in · 200 out · $0.00027032 (0.00021626 GBP) · tenant acme
//! ```

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::attr;

/// Spans kept for one request's tree; the rest are counted, not printed.
const MAX_SPANS_PER_TREE: usize = 200;

/// A [`Layer`] that prints every request's span tree to stderr (or another writer) when the
/// request (a span without a parent) closes: name and duration of each span, and for AI calls
/// the model, tokens, cost, cache hit, fallback and failure, then the request's totals.
///
/// It reads what [`AiLayer`](crate::AiLayer) writes, so add it after (over) the AI layer:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_ai::AiLayer::new())
///     .with(tracing_ai::ConsoleLayer::stderr());
/// # let _ = subscriber;
/// ```
pub struct ConsoleLayer {
    out: Mutex<Box<dyn std::io::Write + Send>>,
    #[cfg(feature = "sampling")]
    sampling: Option<Sampling>,
}

/// What the console needs to say whether each request was exported.
#[cfg(feature = "sampling")]
struct Sampling {
    stats: crate::sampling::SamplingStats,
    dispatch: std::sync::OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl fmt::Debug for ConsoleLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleLayer").finish_non_exhaustive()
    }
}

impl ConsoleLayer {
    /// Prints to stderr.
    pub fn stderr() -> Self {
        Self::to_writer(std::io::stderr())
    }

    /// Prints to `out`, e.g. a file or a buffer in a test.
    pub fn to_writer(out: impl std::io::Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(out)),
            #[cfg(feature = "sampling")]
            sampling: None,
        }
    }

    /// Marks each request with what the [tail sampler](crate::sampling) decided: `kept
    /// (error)`, `kept (ratio)`, ..., or `not exported`. It must be added over the
    /// OpenTelemetry layer whose tracer provider runs the sampler, as [`init`](crate::init)
    /// does, and not inside an `Option` (which does not pass on the dispatcher the console
    /// reads trace ids through).
    #[cfg(feature = "sampling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sampling")))]
    #[must_use]
    pub fn with_sampling(self, stats: crate::sampling::SamplingStats) -> Self {
        Self {
            sampling: Some(Sampling {
                stats,
                dispatch: std::sync::OnceLock::new(),
            }),
            ..self
        }
    }

    /// The trace id of root span `id`, when the request's sampling decision is to be shown.
    #[cfg(feature = "sampling")]
    fn trace_id(&self, id: &Id) -> Option<opentelemetry::trace::TraceId> {
        use opentelemetry::trace::TraceContextExt as _;
        let dispatch = self.sampling.as_ref()?.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        Some(cx.span().span_context().trace_id())
    }

    #[cfg(feature = "sampling")]
    fn decision(&self, node: &Node) -> Option<crate::sampling::Decision> {
        self.sampling.as_ref()?.stats.decision(node.trace_id?)
    }

    #[cfg(not(feature = "sampling"))]
    fn decision(&self, _node: &Node) -> Option<std::convert::Infallible> {
        None
    }
}

/// One span as the console shows it, with its finished children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    started: Option<Instant>,
    duration: Duration,
    facts: Facts,
    children: Vec<Node>,
    /// Spans below this one that did not fit in the tree.
    dropped: usize,
    /// Spans kept below this one, to bound the tree.
    kept: usize,
    /// A request's trace id, when its sampling decision is shown.
    #[cfg(feature = "sampling")]
    trace_id: Option<opentelemetry::trace::TraceId>,
}

#[derive(Debug, Default)]
struct Facts {
    ai: bool,
    model: Option<String>,
    response_model: Option<String>,
    input: Option<i64>,
    output: Option<i64>,
    cost: Option<f64>,
    amount: Option<f64>,
    currency: Option<String>,
    unpriced: bool,
    cache_hit: Option<String>,
    fallback_from: Option<String>,
    error: Option<String>,
    failed: bool,
    tenant: Option<String>,
    feature: Option<String>,
    request: Option<String>,
    otel_name: Option<String>,
}

impl Visit for Facts {
    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            attr::GEN_AI_USAGE_INPUT_TOKENS => self.input = Some(value),
            attr::GEN_AI_USAGE_OUTPUT_TOKENS => self.output = Some(value),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match field.name() {
            attr::GEN_AI_USAGE_COST => self.cost = Some(value),
            attr::AI_COST_AMOUNT => self.amount = Some(value),
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == attr::AI_FALLBACK && value && self.fallback_from.is_none() {
            self.fallback_from = Some(String::new());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let value = value.to_owned();
        match field.name() {
            attr::GEN_AI_OPERATION_NAME => self.ai = true,
            attr::GEN_AI_REQUEST_MODEL => self.model = Some(value),
            attr::GEN_AI_RESPONSE_MODEL => self.response_model = Some(value),
            attr::AI_COST_CURRENCY => self.currency = Some(value),
            attr::AI_COST_UNPRICED => self.unpriced = true,
            attr::AI_CACHE_HIT => self.cache_hit = Some(value),
            attr::AI_FALLBACK_FROM => self.fallback_from = Some(value),
            attr::OTEL_STATUS_CODE => self.failed |= value.eq_ignore_ascii_case("error"),
            attr::OTEL_STATUS_DESCRIPTION => self.error = Some(value),
            attr::ERROR_TYPE => {
                self.failed = true;
                self.error.get_or_insert(value);
            }
            attr::TENANT_ID | "tenant_id" => self.tenant = Some(value),
            attr::FEATURE_ID | "feature_id" => self.feature = Some(value),
            attr::REQUEST_ID | "request_id" => self.request = Some(value),
            attr::OTEL_NAME => self.otel_name = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            attr::OTEL_NAME
            | attr::OTEL_STATUS_DESCRIPTION
            | attr::TENANT_ID
            | attr::FEATURE_ID
            | attr::REQUEST_ID
            | "tenant_id"
            | "feature_id"
            | "request_id" => self.record_str(field, &format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S> Layer<S> for ConsoleLayer
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        #[cfg(feature = "sampling")]
        if let Some(sampling) = &self.sampling {
            let _ = sampling.dispatch.set(subscriber.downgrade());
        }
        let _ = subscriber;
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut facts = Facts::default();
        attrs.record(&mut facts);
        let span = ctx.span(id).expect("Span not found, this is a bug");
        #[cfg(feature = "sampling")]
        let trace_id = match span.parent() {
            None => self.trace_id(id),
            Some(_) => None,
        };
        span.extensions_mut().replace(Node {
            name: attrs.metadata().name().to_owned(),
            started: Some(Instant::now()),
            facts,
            #[cfg(feature = "sampling")]
            trace_id,
            ..Node::default()
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut facts = Facts::default();
        values.record(&mut facts);
        let mut extensions = span.extensions_mut();
        if let Some(node) = extensions.get_mut::<Node>() {
            node.facts.merge(facts);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut node) = span.extensions_mut().remove::<Node>() else {
            return;
        };
        node.duration = node.started.map_or(Duration::ZERO, |s| s.elapsed());
        match span.parent() {
            Some(parent) => {
                let mut extensions = parent.extensions_mut();
                if let Some(parent_node) = extensions.get_mut::<Node>() {
                    let size = 1 + node.kept;
                    if parent_node.kept + size <= MAX_SPANS_PER_TREE {
                        parent_node.kept += size;
                        parent_node.dropped += node.dropped;
                        parent_node.children.push(node);
                    } else {
                        parent_node.dropped += size + node.dropped;
                    }
                }
            }
            None => {
                drop(span);
                let mut text = render(&node);
                if let Some(decision) = self.decision(&node) {
                    mark(&mut text, decision);
                }
                let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
                // A console that cannot be written to is not worth failing the app over.
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

impl Facts {
    fn merge(&mut self, newer: Facts) {
        macro_rules! take {
            ($($field:ident),*) => { $( if newer.$field.is_some() { self.$field = newer.$field; } )* };
        }
        take!(
            model,
            response_model,
            input,
            output,
            cost,
            amount,
            currency,
            cache_hit,
            fallback_from,
            error,
            tenant,
            feature,
            request,
            otel_name
        );
        self.ai |= newer.ai;
        self.unpriced |= newer.unpriced;
        self.failed |= newer.failed;
    }
}

/// Totals of a request's AI calls.
#[derive(Default)]
struct Totals {
    input: i64,
    output: i64,
    cost: f64,
    amount: f64,
    currency: Option<String>,
    unpriced: usize,
    calls: usize,
}

fn render(root: &Node) -> String {
    let mut text = String::new();
    let mut totals = Totals::default();
    line(&mut text, "", root);
    add(&mut totals, &root.facts);
    children(&mut text, "", root, &mut totals);
    let mut summary = format!(
        "= {} AI call{} · {} tokens in · {} out",
        totals.calls,
        if totals.calls == 1 { "" } else { "s" },
        totals.input,
        totals.output
    );
    let _ = write!(
        summary,
        " · {}",
        money(
            totals.cost,
            totals.currency.as_deref().map(|c| (c, totals.amount))
        )
    );
    if totals.unpriced > 0 {
        let _ = write!(summary, " + {} unpriced", totals.unpriced);
    }
    if let Some(tenant) = &root.facts.tenant {
        let _ = write!(summary, " · tenant {tenant}");
    }
    text.push_str(&summary);
    text.push_str("\n\n");
    text
}

/// Appends what the tail sampler decided to the request's first line.
#[cfg(feature = "sampling")]
fn mark(text: &mut String, decision: crate::sampling::Decision) {
    let mark = match decision {
        crate::sampling::Decision::Kept(reason) => format!("  [kept: {}]", reason.as_str()),
        crate::sampling::Decision::Dropped => "  [not exported]".to_owned(),
    };
    let end = text.find('\n').unwrap_or(text.len());
    text.insert_str(end, &mark);
}

#[cfg(not(feature = "sampling"))]
fn mark(_text: &mut String, decision: std::convert::Infallible) {
    match decision {}
}

fn children(text: &mut String, prefix: &str, node: &Node, totals: &mut Totals) {
    let count = node.children.len();
    for (index, child) in node.children.iter().enumerate() {
        let last = index + 1 == count && node.dropped == 0;
        let branch = if last { "└─ " } else { "├─ " };
        line(text, &format!("{prefix}{branch}"), child);
        add(totals, &child.facts);
        let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
        children(text, &deeper, child, totals);
    }
    if node.dropped > 0 {
        let _ = writeln!(text, "{prefix}└─ … {} more spans not shown", node.dropped);
    }
}

fn add(totals: &mut Totals, facts: &Facts) {
    if !facts.ai {
        return;
    }
    totals.calls += 1;
    totals.input += facts.input.unwrap_or(0);
    totals.output += facts.output.unwrap_or(0);
    totals.cost += facts.cost.unwrap_or(0.0);
    totals.amount += facts.amount.unwrap_or(0.0);
    if facts.currency.is_some() {
        totals.currency.clone_from(&facts.currency);
    }
    if facts.unpriced {
        totals.unpriced += 1;
    }
}

fn line(text: &mut String, prefix: &str, node: &Node) {
    let facts = &node.facts;
    let name = facts.otel_name.as_deref().unwrap_or(&node.name);
    let _ = write!(text, "{prefix}{name}  {}", millis(node.duration));
    if !facts.ai {
        let ids: Vec<String> = [
            ("tenant", &facts.tenant),
            ("feature", &facts.feature),
            ("request", &facts.request),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.as_ref().map(|v| format!("{label} {v}")))
        .collect();
        if !ids.is_empty() {
            let _ = write!(text, "  {}", ids.join(" · "));
        }
    }
    if facts.failed {
        text.push_str("  FAILED");
        if let Some(error) = &facts.error {
            let _ = write!(text, " {error}");
        }
    }
    if let (Some(input), Some(output)) = (facts.input, facts.output) {
        let _ = write!(text, "  {input} in · {output} out");
    }
    if let Some(hit) = &facts.cache_hit {
        let _ = write!(text, "  cache {hit}");
    }
    if let Some(from) = &facts.fallback_from {
        let _ = write!(text, "  fallback from {from}");
    }
    if let Some(cost) = facts.cost {
        let reported = facts.currency.as_deref().zip(facts.amount);
        let _ = write!(text, "  {}", money(cost, reported));
    } else if facts.unpriced {
        text.push_str("  unpriced");
    }
    text.push('\n');
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}

fn money(usd: f64, reported: Option<(&str, f64)>) -> String {
    match reported {
        Some((currency, amount)) => format!("${} ({} {currency})", decimal(usd), decimal(amount)),
        None => format!("${}", decimal(usd)),
    }
}

/// Up to 8 decimals, so that a fraction of a cent stays visible, without trailing zeros.
fn decimal(amount: f64) -> String {
    let text = format!("{amount:.8}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => trimmed.to_owned(),
        _ => format!("{amount:.2}"),
    }
}
