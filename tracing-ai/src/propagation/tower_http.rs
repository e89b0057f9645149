//! tower-http: the server span of `TraceLayer`, a child of the caller's span.

use std::time::Duration;

use http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, ServerErrorsFailureClass, SharedClassifier};
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, MakeSpan, OnFailure, OnResponse, TraceLayer,
};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::attr;

/// tower-http's [`TraceLayer`] for HTTP with [`ServerSpan`] making, closing and failing its
/// spans: what [`ServerSpan::layer`] returns.
pub type ServerTraceLayer = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    ServerSpan,
    DefaultOnRequest,
    ServerSpan,
    DefaultOnBodyChunk,
    DefaultOnEos,
    ServerSpan,
>;

/// The server span of each request a service receives, for tower-http's [`TraceLayer`]: a
/// child of the caller's span when the request carries a `traceparent` (with the caller's
/// baggage, see [the module docs](super) for what is trusted), else the root of a new trace.
///
/// It follows the HTTP conventions: named `{method} {route}` (`POST /embed`; only the method
/// without the `axum` feature, never the path, which a caller could make unique), with
/// `http.request.method`, `http.route`, `url.path`, `http.response.status_code`, and an error
/// status with `error.type` on a 5xx response or a failed service. It declares the
/// attribution fields (`tenant.id`, `feature.id`, `request.id`, `user.id`, `session.id`) for
/// the service to record once it knows who the request is for; every AI span below inherits
/// them, and those not recorded are not exported:
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{routing::post, Router};
/// use tracing_ai::propagation::ServerSpan;
///
/// async fn embed() -> &'static str {
///     // The server span is the current span in a handler.
///     tracing::Span::current().record("tenant.id", "acme");
///     "embedded"
/// }
///
/// let app: Router = Router::new()
///     .route("/embed", post(embed))
///     .layer(ServerSpan::layer());
/// # let _ = app;
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerSpan {
    _private: (),
}

impl ServerSpan {
    /// A server span per request.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// tower-http's `TraceLayer::new_for_http()` with this span, its response status and its
    /// failures: the one line a service adds to its router.
    #[must_use]
    pub fn layer() -> ServerTraceLayer {
        TraceLayer::new_for_http()
            .make_span_with(Self::new())
            .on_response(Self::new())
            .on_failure(Self::new())
    }
}

/// The route a server matched, when the router says (axum does).
fn route<B>(request: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str());
    }
    let _ = request;
    None
}

impl<B> MakeSpan<B> for ServerSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let method = super::method_name(request.method());
        let route = route(request);
        let name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        // The attribution fields are declared for the handler to record once it knows who
        // the request is for; those it does not record are not exported.
        let span = tracing::info_span!(
            "HTTP request",
            { attr::OTEL_NAME } = name,
            { attr::OTEL_KIND } = "server",
            { attr::HTTP_REQUEST_METHOD } = method,
            { attr::HTTP_ROUTE } = route,
            { attr::URL_PATH } = request.uri().path(),
            { attr::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { attr::OTEL_STATUS_CODE } = Empty,
            { attr::ERROR_TYPE } = Empty,
            { attr::TENANT_ID } = Empty,
            { attr::FEATURE_ID } = Empty,
            { attr::REQUEST_ID } = Empty,
            { attr::USER_ID } = Empty,
            { attr::SESSION_ID } = Empty,
        );
        let _ = span.set_parent(super::extract(request.headers()));
        span
    }
}

impl<B> OnResponse<B> for ServerSpan {
    fn on_response(self, response: &Response<B>, _latency: Duration, span: &Span) {
        let status = response.status();
        span.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
        // A server's 4xx is its caller's error, not its own (HTTP conventions).
        if status.is_server_error() {
            span.record(attr::OTEL_STATUS_CODE, "ERROR");
            span.record(attr::ERROR_TYPE, status.as_str());
        }
    }
}

impl OnFailure<ServerErrorsFailureClass> for ServerSpan {
    fn on_failure(&mut self, failure: ServerErrorsFailureClass, _latency: Duration, span: &Span) {
        span.record(attr::OTEL_STATUS_CODE, "ERROR");
        // A status was recorded by `on_response`; an error of the service has no response.
        if let ServerErrorsFailureClass::Error(_) = failure {
            span.record(attr::ERROR_TYPE, "_OTHER");
        }
    }
}
