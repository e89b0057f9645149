//! The console view: each request's tree of spans, printed when the request ends, with the
//! model, tokens, cost and marks of every AI call.
//!
//! ```text
//! rag.query  5.1 ms  tenant acme · request 0
//! ├─ embeddings text-embedding-3-small  3.7 ms  16 in · 0 out  $0.00000032 (0.00000026 GBP)
//! ├─ retrieval retrieve  0.0 ms  cache semantic
//! ├─ chat llama-3.1-8b-fp8  0.0 ms  FAILED GPU out of memory
//! └─ chat gpt-4o-mini  1.1 ms  1000 in · 200 out  fallback from llama-3.1-8b-fp8  $0.00027 (0.000216 GBP)
//! = 3 AI calls · 1016 tokens in · 200 out · $0.00027032 (0.00021626 GBP) · tenant acme
//! ```

mod render;

use std::fmt;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::attr;
use crate::layer::fields::AiSpanData;
use crate::layer::rollup::{AgentTotals, RequestTotals};
use crate::layer::Attribution;
use render::{mark, render};

/// Spans kept for one request's tree; the rest are counted, not printed.
const MAX_SPANS_PER_TREE: usize = 200;

/// A [`Layer`] that prints every request's span tree to stderr (or another writer) when the
/// request (a span without a parent) closes: name and duration of each span, and for AI calls
/// the model, tokens, cost, cache hit, fallback and failure, then the request's totals.
///
/// It shows what [`AiLayer`](crate::AiLayer) settled for each call (cost, tokens, marks) and
/// the request's roll-up, so add it after (over) the AI layer; without one, it shows the
/// tree and the durations alone:
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
        let dispatch = crate::dispatch::of_layer(&self.sampling.as_ref()?.dispatch, self)?;
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
    /// `otel.name`, which renames the span in the export too.
    otel_name: Option<String>,
    /// The AI call, as the AI layer settled it.
    call: Option<Call>,
    /// The ids the span carries itself, as `(label, value)`.
    ids: Vec<(String, String)>,
    /// A request's totals, as the AI layer rolled them up.
    totals: Option<Totals>,
    /// An agent's totals: the model calls under its span.
    agent: Option<Totals>,
    children: Vec<Node>,
    /// Spans below this one that did not fit in the tree.
    dropped: usize,
    /// Spans kept below this one, to bound the tree.
    kept: usize,
    /// A request's trace id, when its sampling decision is shown.
    #[cfg(feature = "sampling")]
    trace_id: Option<opentelemetry::trace::TraceId>,
}

/// What the console shows of an AI call.
#[derive(Debug, Default)]
struct Call {
    failed: bool,
    error: Option<String>,
    /// Input, of which cached, and output tokens.
    tokens: Option<(u64, u64, u64)>,
    cache_hit: Option<String>,
    fallback: Option<String>,
    usd: Option<f64>,
    reported: Option<(String, f64)>,
    unpriced: bool,
    /// The input and output tokens its estimated cost was priced by.
    estimated: Option<(u64, u64)>,
    /// Refused by a budget (or its store): not made.
    refused: bool,
    /// The most spent of its budgets, after it settled.
    budget: Option<crate::budget::BudgetState>,
}

impl Call {
    /// The call, once the AI layer has settled it.
    fn from_settled(data: &AiSpanData) -> Option<Self> {
        let fields = &data.fields;
        let settled = data.settled.as_ref()?;
        Some(Self {
            failed: fields.failed,
            error: fields
                .description
                .as_deref()
                .or(fields.error_type.as_deref())
                .map(str::to_owned),
            tokens: fields.tokens().map(|tokens| {
                (
                    tokens.input(),
                    tokens.get(crate::facts::TokenKind::CacheRead),
                    tokens.output(),
                )
            }),
            cache_hit: fields.cache_hit.as_deref().map(str::to_owned),
            fallback: match (&fields.fallback_from, fields.fallback) {
                (Some(from), _) => Some(format!("fallback from {from}")),
                (None, true) => Some("fallback".to_owned()),
                (None, false) => None,
            },
            usd: settled.usd,
            reported: settled
                .reported
                .as_ref()
                .map(|(code, amount)| (code.to_string(), *amount)),
            unpriced: settled.unpriced,
            estimated: settled.estimated,
            refused: matches!(
                fields.error_type.as_deref(),
                Some(
                    crate::budget::BUDGET_EXCEEDED
                        | crate::budget::BUDGET_UNAVAILABLE
                        | crate::budget::RATE_LIMITED
                )
            ),
            budget: settled.budget.clone(),
        })
    }
}

/// A request's totals, as the AI layer rolled them up on its root.
#[derive(Debug, Default)]
struct Totals {
    calls: u64,
    input: u64,
    output: u64,
    usd: f64,
    /// The part of `usd` that is estimated.
    estimated_usd: f64,
    reported: Option<(String, f64)>,
    unpriced: u64,
}

impl Totals {
    fn from_rollup(totals: &RequestTotals) -> Self {
        Self {
            calls: totals.calls,
            input: totals.input,
            output: totals.output,
            usd: totals.usd,
            estimated_usd: totals.estimated_usd,
            reported: totals
                .reported
                .as_ref()
                .map(|(code, amount)| (code.to_string(), *amount)),
            unpriced: totals.unpriced,
        }
    }
}

/// Reads `otel.name`, the one field the console needs that the AI layer does not read.
struct OtelName<'a>(&'a mut Option<String>);

impl Visit for OtelName<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == attr::OTEL_NAME {
            *self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == attr::OTEL_NAME {
            *self.0 = Some(format!("{value:?}"));
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
        let mut otel_name = None;
        attrs.record(&mut OtelName(&mut otel_name));
        let span = ctx.span(id).expect("Span not found, this is a bug");
        // A root's trace id is read when it is entered, not now: asking OpenTelemetry for it
        // would start the span, and a server span continues its caller's trace
        // (`set_parent`) only after it is created.
        span.extensions_mut().replace(Node {
            name: attrs.metadata().name().to_owned(),
            started: Some(Instant::now()),
            otel_name,
            ..Node::default()
        });
    }

    /// A root's trace id, once it runs: the decision is remembered under it.
    #[cfg(feature = "sampling")]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.sampling.is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        if span.parent().is_some() {
            return;
        }
        if let Some(trace_id) = self.trace_id(id) {
            if let Some(node) = span.extensions_mut().get_mut::<Node>() {
                node.trace_id = Some(trace_id);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut otel_name = None;
        values.record(&mut OtelName(&mut otel_name));
        if otel_name.is_some() {
            if let Some(node) = span.extensions_mut().get_mut::<Node>() {
                node.otel_name = otel_name;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut node) = span.extensions_mut().remove::<Node>() else {
            return;
        };
        node.duration = node.started.map_or(Duration::ZERO, |s| s.elapsed());
        {
            // What the AI layer, under this one, settled when the span closed.
            let extensions = span.extensions();
            node.call = extensions.get::<AiSpanData>().and_then(Call::from_settled);
            node.totals = extensions.get::<RequestTotals>().map(Totals::from_rollup);
            node.agent = extensions
                .get::<AgentTotals>()
                .map(|totals| Totals::from_rollup(&totals.0));
            if let Some(attribution) = extensions.get::<Attribution>() {
                let mut ids: Vec<_> = attribution.values.iter().collect();
                ids.sort_by_key(|(index, _, _)| *index);
                node.ids = ids
                    .into_iter()
                    .map(|(_, name, value)| {
                        let label = name.strip_suffix(".id").unwrap_or(name);
                        (label.to_owned(), value.to_string())
                    })
                    .collect();
            }
        }
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
