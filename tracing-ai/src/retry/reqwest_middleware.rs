//! reqwest-middleware's retries: one attempt span per run of the rest of the chain.

use reqwest_middleware::reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use tracing::Instrument as _;

use super::Attempt;

/// A [`reqwest_middleware`] middleware that makes each attempt of a retried request a span of
/// its own, under the AI call that sends it: `attempt {n}` with its status, `error.type` and
/// the wait before it, counted in the call's `ai.attempts` (see [the module](super)).
///
/// Put it **after** the retry middleware, which runs what follows it once per attempt; a
/// [`PropagateContext`](crate::propagation::PropagateContext) after it gives each attempt its
/// own HTTP client span and `traceparent`.
///
/// ```
/// use reqwest_retry::policies::ExponentialBackoff;
/// use reqwest_retry::RetryTransientMiddleware;
/// use tracing_ai::retry::AttemptMiddleware;
///
/// let retry = ExponentialBackoff::builder().build_with_max_retries(3);
/// let client = reqwest_middleware::ClientBuilder::new(reqwest_middleware::reqwest::Client::new())
///     .with(RetryTransientMiddleware::new_with_policy(retry))
///     .with(AttemptMiddleware)
///     .build();
/// # let _ = client;
/// ```
///
/// Outside an AI call, each request is one attempt span numbered 1, under the current span.
#[derive(Clone, Copy, Debug, Default)]
pub struct AttemptMiddleware;

#[async_trait::async_trait]
impl Middleware for AttemptMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let attempt = Attempt::of(tracing::Span::current());
        let result = next
            .run(request, extensions)
            .instrument(attempt.span().clone())
            .await;
        match &result {
            Ok(response) => attempt.responded(response.status().as_u16()),
            Err(error) => attempt.failed(&crate::propagation::reqwest_error_type(error)),
        }
        result
    }
}
