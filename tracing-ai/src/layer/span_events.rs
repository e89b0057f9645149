//! tracing-opentelemetry's layer as [`AiLayer::with_tracer`](super::AiLayer::with_tracer)
//! composes it: spans as tracing-opentelemetry exports them, `tracing` events onto those spans
//! only when asked.
//!
//! tracing-opentelemetry turns every `tracing` event inside a span into a span event named by
//! its message, with `level` and `target` attributes and the event's own fields. No
//! convention names those attributes (OpenTelemetry's checker flags each one), a busy handler
//! can put thousands of them on one span, and OpenTelemetry's own direction for events is log
//! records, not span events. It has no switch for it; a per-layer filter on its layer would
//! do it, but tracing-subscriber's per-layer filters can drop a span from the filtered layer
//! when a callsite's cached interest skips the filter (tokio-rs/tracing#2519), which would lose
//! spans from the export. So the events are held back here, in a layer that passes everything
//! else through unchanged.

use std::any::TypeId;
use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

use opentelemetry::trace::{Status, TraceContextExt as _};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// tracing-opentelemetry's layer, with `tracing` events kept off the exported spans unless
/// [`AiLayerBuilder::with_span_events`](super::AiLayerBuilder::with_span_events) asked for
/// them. It is the outer half of [`AiOpenTelemetryLayer`](super::AiOpenTelemetryLayer); there
/// is nothing to configure on it.
///
/// With span events off, an `ERROR` event inside a span still marks the span failed (as
/// tracing-opentelemetry does), its message as the status description, so that a failure
/// logged rather than returned is still kept by the tail sampler and shown as failed.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// // `with_tracer` wraps tracing-opentelemetry's layer in it; so do `layer()` and `init()`.
/// let layer: tracing_ai::AiOpenTelemetryLayer<tracing_subscriber::Registry, _> =
///     tracing_ai::AiLayer::new().with_tracer(provider.tracer("my-service"));
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("request").in_scope(|| {
///         tracing::info!("not a span event");
///         tracing::error!("fails the span, with this message as its status");
///     });
/// });
/// ```
pub struct OpenTelemetrySpans<S, T> {
    inner: OpenTelemetryLayer<S, T>,
    span_events: bool,
    dispatch: OnceLock<WeakDispatch>,
}

impl<S, T> OpenTelemetrySpans<S, T> {
    pub(super) fn new(inner: OpenTelemetryLayer<S, T>, span_events: bool) -> Self {
        Self {
            inner,
            span_events,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S, T> fmt::Debug for OpenTelemetrySpans<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenTelemetrySpans")
            .field("span_events", &self.span_events)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Set while an `ERROR` event marks its span: starting the span can log (the SDK's own
    /// diagnostics go through `tracing`), which must not come back here.
    static MARKING: Cell<bool> = const { Cell::new(false) };
}

impl<S, T> Layer<S> for OpenTelemetrySpans<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    OpenTelemetryLayer<S, T>: Layer<S>,
    T: 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.span_events {
            self.inner.on_event(event, ctx);
        } else if *event.metadata().level() == Level::ERROR {
            self.mark_failed(event, &ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    // tracing-opentelemetry finds its own layer through `downcast_raw` (its
    // `get_otel_context`, and so everything tracing-ai writes onto an OpenTelemetry span): a
    // wrapper must answer for itself and pass every other type on, as tracing-subscriber's
    // `Layered` and `Filtered` do. The one `unsafe` of this crate.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: the pointer, if any, is the inner layer's answer for `id`, which it
        // guarantees points to a value of that type living as long as it does; this wrapper
        // owns the inner layer, so it lives as long as `self`.
        unsafe { self.inner.downcast_raw(id) }
    }
}

impl<S, T> OpenTelemetrySpans<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: 'static,
{
    /// Marks the span `event` belongs to as failed, with the event's error or message.
    fn mark_failed(&self, event: &Event<'_>, ctx: &Context<'_, S>) {
        if MARKING.with(Cell::get) {
            return;
        }
        let span = match event.parent() {
            Some(parent) => ctx.span(parent),
            None if event.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let Some(id) = span.map(|span| span.id()) else {
            return;
        };
        let Some(dispatch) = crate::dispatch::of_layer(&self.dispatch, self) else {
            return;
        };
        let mut description = Description::default();
        event.record(&mut description);
        MARKING.with(|marking| marking.set(true));
        if let Some(cx) = tracing_opentelemetry::get_otel_context(&id, &dispatch) {
            cx.span().set_status(Status::error(description.into_text()));
        }
        MARKING.with(|marking| marking.set(false));
    }
}

/// What an `ERROR` event says went wrong: its `error` field (as `#[instrument(err)]` and
/// tracing-opentelemetry's own convention record it), or else its message.
#[derive(Default)]
struct Description {
    error: Option<String>,
    message: Option<String>,
}

impl Description {
    fn into_text(self) -> String {
        self.error.or(self.message).unwrap_or_default()
    }
}

impl Visit for Description {
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.error = Some(value.to_string());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "error" => self.error = Some(value.to_owned()),
            "message" => self.message = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "error" => self.error = Some(format!("{value:?}")),
            "message" => self.message = Some(format!("{value:?}")),
            _ => {}
        }
    }
}
