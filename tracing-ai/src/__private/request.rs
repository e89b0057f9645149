//! What the expansion calls for the request: its parameters, from `input = ...` or
//! `parameters = ...`, and how the call is served, from `service_tier = ...` and `batch`.

use super::Probe;
use crate::layer::AiSpanExt as _;

/// The request parameters of an `input = ...` whose type implements
/// [`ReportsParameters`](crate::ReportsParameters).
pub trait ParametersOf {
    fn __tracing_ai_parameters(&self) -> Option<crate::RequestParameters>;
}

impl<T: crate::ReportsParameters + ?Sized> ParametersOf for Probe<'_, T> {
    fn __tracing_ai_parameters(&self) -> Option<crate::RequestParameters> {
        Some(self.0.request_parameters())
    }
}

/// No parameters, for every other type.
pub trait ParametersFallback {
    fn __tracing_ai_parameters(&self) -> Option<crate::RequestParameters>;
}

impl<T: ?Sized> ParametersFallback for &Probe<'_, T> {
    fn __tracing_ai_parameters(&self) -> Option<crate::RequestParameters> {
        None
    }
}

/// The parameters `parameters = ...` reports: its type must say them.
#[inline]
pub fn parameters_of<T: crate::ReportsParameters + ?Sized>(
    parameters: &T,
) -> Option<crate::RequestParameters> {
    Some(parameters.request_parameters())
}

/// The request's parameters with how `#[ai_span(service_tier = ..., batch)]` says the call is
/// served, over what the request said.
#[inline]
pub fn served_as(
    parameters: Option<crate::RequestParameters>,
    service_tier: Option<&str>,
    batch: bool,
) -> Option<crate::RequestParameters> {
    let mut parameters = parameters.unwrap_or_default();
    if let Some(tier) = service_tier {
        parameters.service_tier = Some(tier.to_owned());
    }
    parameters.batch |= batch;
    Some(parameters)
}

/// What `service_tier = ...` may be: a `&str`, a `String`, or an `Option` of either (the
/// request's own field).
pub trait ServiceTier {
    fn service_tier(&self) -> Option<&str>;
}

impl ServiceTier for str {
    fn service_tier(&self) -> Option<&str> {
        Some(self)
    }
}

impl ServiceTier for String {
    fn service_tier(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: ServiceTier + ?Sized> ServiceTier for &T {
    fn service_tier(&self) -> Option<&str> {
        (**self).service_tier()
    }
}

impl<T: ServiceTier> ServiceTier for Option<T> {
    fn service_tier(&self) -> Option<&str> {
        self.as_ref()?.service_tier()
    }
}

/// Records the request parameters `input = ...` reports, for the layer to write at close.
#[inline]
pub fn record_parameters(span: &tracing::Span, parameters: Option<crate::RequestParameters>) {
    if let Some(parameters) = parameters {
        if parameters != crate::RequestParameters::default() {
            span.write_at_close(parameters);
        }
    }
}
