//! One trace across services: the trace a request belongs to, read from the headers it came
//! with, and handed on in the headers of the requests it makes.
//!
//! The formats are W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage
//! (`baggage`), read and written by OpenTelemetry's own propagators over `http` headers
//! (`opentelemetry-http`). [`extract`] and [`inject`] are those two steps; the rest of the
//! module fits them into the HTTP crates a service already uses, each behind a feature named
//! after the crate:
//!
//! | Crate | Feature | What it gets |
//! |---|---|---|
//! | tower-http 0.6 | `tower-http` | [`ServerSpan`]: the server span of `TraceLayer`, a child of the caller's span |
//! | axum 0.8 | `axum` | [`ServerSpan`] named after axum's matched route (`POST /embed`) |
//! | reqwest-middleware 0.5 | `reqwest-middleware` | [`PropagateContext`]: a client span per request, its context in the request's headers |
//!
//! (`reqwest-tracing`, the usual reqwest middleware for this, supports OpenTelemetry up to
//! 0.32; this crate is on 0.33, hence [`PropagateContext`].)
//!
//! # What a caller can set, and what it cannot
//!
//! Every header here is the caller's, and callers can be hostile:
//!
//! - **The trace.** A caller picks the trace id it continues, its parent span and whether it
//!   was sampled. Inside a system that is the point; at its edge, where callers are outside,
//!   sample with [`TailSamplingBuilder::with_parent_sampled(false)`] so that a caller's
//!   sampled flag keeps nothing by itself.
//! - **Size.** OpenTelemetry's propagators keep to the W3C limits: a `baggage` header over
//!   8,192 bytes is ignored whole, entries past the 64th are dropped (W3C Baggage requires at
//!   least 64 to be propagated; its earlier draft allowed 180), a `tracestate` keeps at most
//!   32 members of valid characters.
//! - **Attribution.** Baggage is the caller's word. [`AiLayer`](crate::AiLayer) reads a
//!   tenant, feature or request id from it only for the keys the service trusts
//!   ([`AiLayerBuilder::with_trusted_baggage`](crate::AiLayerBuilder::with_trusted_baggage),
//!   or `TRACING_AI_TRUSTED_BAGGAGE`): trust them in the services behind your gateway, never
//!   in the gateway. Even then a value longer than 256 bytes, empty, or holding a control or
//!   bidirectional-override character is dropped, not cut: a cut tenant id is another tenant.
//!
//! # Example
//!
//! A service that continues its caller's trace and hands it on, by hand (the types above do
//! this for tower-http and reqwest-middleware):
//!
//! ```
//! use tracing_opentelemetry::OpenTelemetrySpanExt as _;
//!
//! fn handle(incoming: &http::HeaderMap) -> http::HeaderMap {
//!     let span = tracing::info_span!("POST /embed", otel.kind = "server");
//!     let _ = span.set_parent(tracing_ai::propagation::extract(incoming));
//!     let _entered = span.enter();
//!
//!     // ... and for a request this one makes:
//!     let mut outgoing = http::HeaderMap::new();
//!     tracing_ai::propagation::inject(&tracing::Span::current().context(), &mut outgoing);
//!     outgoing
//! }
//! # let _ = handle(&http::HeaderMap::new());
//! ```
//!
//! [`TailSamplingBuilder::with_parent_sampled(false)`]: crate::sampling::TailSamplingBuilder::with_parent_sampled

use std::sync::OnceLock;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator as _};
use opentelemetry::Context;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware;
#[cfg(feature = "tower-http")]
mod tower_http;

#[cfg(feature = "reqwest-middleware")]
pub(crate) use reqwest_middleware::error_type as reqwest_error_type;
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use reqwest_middleware::PropagateContext;
#[cfg(feature = "tower-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-http")))]
pub use tower_http::{ServerSpan, ServerTraceLayer};

/// W3C Trace Context and W3C Baggage, in that order.
fn propagator() -> &'static TextMapCompositePropagator {
    static PROPAGATOR: OnceLock<TextMapCompositePropagator> = OnceLock::new();
    PROPAGATOR.get_or_init(|| {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    })
}

/// The caller's trace context and baggage, from a request's `traceparent`, `tracestate` and
/// `baggage` headers: the parent to give the request's server span with
/// `OpenTelemetrySpanExt::set_parent`. An empty context when the request carries none, or
/// headers that do not parse (then the span starts a trace of its own).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     http::HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
/// );
/// let cx = tracing_ai::propagation::extract(&headers);
/// use opentelemetry::trace::TraceContextExt as _;
/// assert_eq!(
///     cx.span().span_context().trace_id().to_string(),
///     "0af7651916cd43dd8448eb211c80319c"
/// );
/// ```
pub fn extract(headers: &http::HeaderMap) -> Context {
    propagator().extract(&HeaderExtractor(headers))
}

/// Writes `cx`'s span context and baggage into `headers` (`traceparent`, `tracestate`,
/// `baggage`), for the service a request goes to. Nothing is written for a context with no
/// valid span.
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
///
/// let span = SpanContext::new(
///     TraceId::from(0x0af7651916cd43dd8448eb211c80319c),
///     SpanId::from(0xb7ad6b7169203331),
///     TraceFlags::SAMPLED,
///     true,
///     TraceState::default(),
/// );
/// let cx = opentelemetry::Context::new().with_remote_span_context(span);
/// let mut headers = http::HeaderMap::new();
/// tracing_ai::propagation::inject(&cx, &mut headers);
/// assert_eq!(
///     headers["traceparent"],
///     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
/// );
/// ```
pub fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    propagator().inject_context(cx, &mut HeaderInjector(headers));
}

/// A request method as the HTTP conventions export it: one of RFC 9110's and PATCH, else
/// `_OTHER`, so that a caller inventing methods cannot mint span names or series.
#[cfg(any(feature = "tower-http", feature = "reqwest-middleware"))]
fn method_name(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::TraceContextExt as _;

    use super::{extract, inject};

    fn headers(pairs: &[(&'static str, String)]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().expect("a header value"));
        }
        headers
    }

    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_trace_and_its_baggage_go_out_as_they_came_in() {
        let incoming = headers(&[
            ("traceparent", TRACEPARENT.to_owned()),
            ("tracestate", "vendor=opaque".to_owned()),
            ("baggage", "tenant.id=acme,feature.id=search".to_owned()),
        ]);
        let cx = extract(&incoming);
        assert!(cx.span().span_context().is_remote());
        assert_eq!(
            cx.baggage().get("tenant.id").map(|v| v.as_str()),
            Some("acme")
        );
        let mut outgoing = http::HeaderMap::new();
        inject(&cx, &mut outgoing);
        assert_eq!(outgoing["traceparent"], TRACEPARENT);
        assert_eq!(outgoing["tracestate"], "vendor=opaque");
        let baggage = outgoing["baggage"].to_str().expect("ascii");
        assert!(baggage.contains("tenant.id=acme"), "{baggage}");
        assert!(baggage.contains("feature.id=search"), "{baggage}");
    }

    #[test]
    fn baggage_past_the_w3c_limits_is_not_read() {
        // Over 8,192 bytes: ignored whole.
        let big = format!("tenant.id=acme,padding={}", "x".repeat(9_000));
        let cx = extract(&headers(&[("baggage", big)]));
        assert_eq!(cx.baggage().len(), 0);
        // 200 entries, the tenant last: entries past the limit are dropped.
        let mut many: Vec<String> = (0..199).map(|n| format!("k{n}=v")).collect();
        many.push("tenant.id=mallory".to_owned());
        let cx = extract(&headers(&[("baggage", many.join(","))]));
        assert!(cx.baggage().len() <= 180, "{}", cx.baggage().len());
        assert_eq!(cx.baggage().get("tenant.id"), None);
    }

    #[test]
    fn garbage_starts_a_trace_of_its_own() {
        for garbage in [
            "",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "\u{7f}",
        ] {
            let Ok(value) = garbage.parse::<http::HeaderValue>() else {
                continue;
            };
            let mut incoming = http::HeaderMap::new();
            incoming.insert("traceparent", value);
            let cx = extract(&incoming);
            assert!(!cx.span().span_context().is_valid(), "{garbage:?}");
        }
    }
}
