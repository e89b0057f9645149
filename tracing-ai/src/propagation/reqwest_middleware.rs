//! reqwest-middleware: a client span per request, whose context goes out in its headers.

use std::borrow::Cow;

use opentelemetry::baggage::{Baggage, BaggageExt as _};
use opentelemetry::KeyValue;
use reqwest_middleware::reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use tracing::field::Empty;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::attr;
use crate::layer::AiSpanExt as _;

/// A [`reqwest_middleware`] middleware that gives each request a client span (a child of the
/// current span) and sends that span's context in the request's `traceparent`, `tracestate`
/// and `baggage` headers, so that the service called continues the trace under it.
///
/// The span follows the HTTP conventions: named after the method, with
/// `http.request.method`, `server.address`, `server.port`, `url.full` (without its query
/// string or credentials, which may hold secrets), `http.response.status_code`, and an error
/// status with `error.type` when the request fails or the response is a 4xx or 5xx.
///
/// ```
/// use tracing_ai::propagation::PropagateContext;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest_middleware::reqwest::Client::new())
///     .with(PropagateContext::new().with_attribution_baggage())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateContext {
    attribution: bool,
}

impl PropagateContext {
    /// A middleware that propagates the trace and the baggage the request already carries.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also sends the attribution of the current span (`tenant.id`, `feature.id`,
    /// `request.id`, ... as [`AiLayer`](crate::AiLayer) resolves them) as baggage, for a
    /// service behind this one that trusts those keys
    /// ([`AiLayerBuilder::with_trusted_baggage`](crate::AiLayerBuilder::with_trusted_baggage))
    /// to attribute its AI spans to the same tenant. Use it for your own services only: a
    /// third party (a model provider) would receive your tenants' ids.
    #[must_use]
    pub fn with_attribution_baggage(mut self) -> Self {
        self.attribution = true;
        self
    }
}

/// `url` as exported: scheme, host, port and path; no credentials, query or fragment.
fn url_full(url: &reqwest_middleware::reqwest::Url) -> String {
    let mut full = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        full.push_str(&format!(":{port}"));
    }
    full.push_str(url.path());
    full
}

#[async_trait::async_trait]
impl Middleware for PropagateContext {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let method = super::method_name(request.method());
        let url = request.url();
        let span = tracing::info_span!(
            "HTTP request",
            { attr::OTEL_NAME } = method,
            { attr::OTEL_KIND } = "client",
            { attr::HTTP_REQUEST_METHOD } = method,
            { attr::SERVER_ADDRESS } = url.host_str(),
            { attr::SERVER_PORT } = url.port_or_known_default().map(i64::from),
            { attr::URL_FULL } = url_full(url),
            { attr::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { attr::OTEL_STATUS_CODE } = Empty,
            { attr::ERROR_TYPE } = Empty,
        );
        let mut cx = span.context();
        if self.attribution {
            // The ids go first: past the W3C limits what comes last is dropped.
            let mut baggage: Baggage = span
                .inherited_ids()
                .into_iter()
                .map(|(name, value)| KeyValue::new(name.to_string(), value.to_string()))
                .collect();
            for (key, (value, metadata)) in cx.baggage() {
                if baggage.get(key.as_str()).is_none() {
                    let _ =
                        baggage.insert_with_metadata(key.clone(), value.clone(), metadata.clone());
                }
            }
            cx = cx.with_baggage(baggage);
        }
        super::inject(&cx, request.headers_mut());
        let result = next.run(request, extensions).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                span.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
                if status.is_client_error() || status.is_server_error() {
                    span.record(attr::OTEL_STATUS_CODE, "ERROR");
                    span.record(attr::ERROR_TYPE, status.as_str());
                }
            }
            Err(error) => {
                span.record(attr::OTEL_STATUS_CODE, "ERROR");
                span.record(attr::ERROR_TYPE, error_type(error).as_ref());
            }
        }
        result
    }
}

/// A failed request's `error.type`: low-cardinality, never the message (which may hold the
/// URL and its secrets): `timeout`, `connect`, the status code of an `error_for_status`
/// error, else `_OTHER`.
pub(crate) fn error_type(error: &reqwest_middleware::Error) -> Cow<'static, str> {
    match error {
        reqwest_middleware::Error::Reqwest(error) => reqwest_error_type(error),
        reqwest_middleware::Error::Middleware(_) => Cow::Borrowed("_OTHER"),
    }
}

fn reqwest_error_type(error: &reqwest_middleware::reqwest::Error) -> Cow<'static, str> {
    if error.is_timeout() {
        Cow::Borrowed("timeout")
    } else if error.is_connect() {
        Cow::Borrowed("connect")
    } else if let Some(status) = error.status() {
        Cow::Owned(status.as_u16().to_string())
    } else {
        Cow::Borrowed("_OTHER")
    }
}

/// A model call made over reqwest-middleware says what failed, as the middlewares' spans do.
impl crate::ErrorType for reqwest_middleware::Error {
    fn error_type(&self) -> Cow<'static, str> {
        error_type(self)
    }
}

/// A model call made over reqwest says what failed: `timeout`, `connect`, the status code of
/// an `error_for_status` error, else `_OTHER`.
impl crate::ErrorType for reqwest_middleware::reqwest::Error {
    fn error_type(&self) -> Cow<'static, str> {
        reqwest_error_type(self)
    }
}
