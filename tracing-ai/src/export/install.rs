//! Stage three of `init()`, the only code that sets global state: the subscriber first (the
//! step that can fail), then OpenTelemetry's global tracer provider.

use super::build::Built;
use super::error::{InitError, Kind};
use super::guard::OtelGuard;

pub(crate) fn install(built: Built) -> Result<OtelGuard, InitError> {
    let Built {
        dispatch,
        global_provider,
        guard,
    } = built;
    // On failure the guard is dropped here: it shuts down the providers and the runtime that
    // were built, and nothing was installed.
    tracing::dispatcher::set_global_default(dispatch)
        .map_err(|e| InitError::new(Kind::AlreadyInitialized(e)))?;
    if let Some(provider) = global_provider {
        opentelemetry::global::set_tracer_provider(provider);
    }
    Ok(guard)
}
