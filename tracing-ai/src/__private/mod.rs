//! What the expansion of `#[ai_span]` calls.
//!
//! This is *not* a stable API: it changes in any release, with the macro that uses it.

use std::convert::Infallible;
use std::fmt;

pub use tracing;

pub use crate::__tracing_ai_span as ai_span;
pub use crate::endpoint::Endpoint;
pub use request::{
    parameters_of, record_parameters, served_as, ParametersFallback, ParametersOf, ServiceTier,
};

mod request;

use crate::layer::AiSpanExt as _;
use crate::usage::ReportsUsage;

/// `otel.kind` of the spans of calls to a remote model.
pub const SPAN_KIND_CLIENT: &str = "client";

/// Creates the span of an `#[ai_span]` function with every field it or the layer may record:
/// a span's field set is fixed when it is created, so what is filled in later is declared
/// `Empty` here. The fields come from the facts table (`facts.rs`, [`__facts!`](crate::__facts)),
/// the fields of a stream (`with_stream`) when `streamed` is `true`.
///
/// Two callsites, one taken per call. Under an [`AiLayer`](crate::AiLayer) that writes usage,
/// cost and ids straight onto the OpenTelemetry span (the default composition), the fields
/// only the layer would read (the token counts and `for_fields`) are not declared: each
/// declared field costs every layer a visit when the span is created. Otherwise (a layer that
/// writes `tracing` fields, or another subscriber) they are, for `fmt` and the other layers to
/// see.
#[doc(hidden)]
#[macro_export]
macro_rules! __tracing_ai_span {
    (
        target: $target:expr,
        level: $level:expr,
        name: $name:expr,
        operation: $operation:expr,
        provider: $provider:expr,
        model: $model:expr,
        otel_kind: $otel_kind:expr,
        otel_name: $otel_name:expr,
        streamed: $streamed:tt,
        fields: { $($fields:tt)* }
    ) => {
        $crate::__facts!(
            [$crate::__tracing_ai_span]
            @table ($target, $level, $name, $operation, $provider, $model, $otel_kind, $otel_name)
            streamed: $streamed,
            fields: { $($fields)* }
        )
    };
    // The table's names, as field declarations.
    (
        @table $span:tt
        streamed: $streamed:tt,
        fields: { $($fields:tt)* }
        wholes: [$(
            $(#[doc = $whole_doc:literal])*
            $whole:ident { attribute: $whole_attribute:ident, $($whole_row:tt)* }
        ),* $(,)?],
        parts: [$(
            $(#[doc = $part_doc:literal])*
            $part:ident { attribute: $part_attribute:ident, $($part_row:tt)* }
        ),* $(,)?],
        recorded: [$( $recorded:ident: $recorded_slot:ident $(by $recorded_by:literal)? ),* $(,)?],
        for_fields: [$( $for_fields:ident: $for_fields_slot:ident $(by $for_fields_by:literal)? ),* $(,)?],
        with_stream: [$( $with_stream:ident: $with_stream_slot:ident ),* $(,)?] $(,)?
    ) => {
        $crate::__tracing_ai_span!(
            @stream $streamed [$( { $crate::attr::$with_stream } = $crate::__private::tracing::field::Empty, )*]
            $span
            recorded: {$( { $crate::attr::$recorded } = $crate::__private::tracing::field::Empty, )*}
            for_fields: {
                $( { $crate::attr::$whole_attribute } = $crate::__private::tracing::field::Empty, )*
                $( { $crate::attr::$part_attribute } = $crate::__private::tracing::field::Empty, )*
                $( { $crate::attr::$for_fields } = $crate::__private::tracing::field::Empty, )*
            }
            fields: { $($fields)* }
        )
    };
    (
        @stream true [$($stream_fields:tt)*] $span:tt recorded: $recorded:tt for_fields: $for_fields:tt
        fields: { $($fields:tt)* }
    ) => {
        $crate::__tracing_ai_span!(@callsites $span $recorded $for_fields { $($stream_fields)* $($fields)* })
    };
    (
        @stream false [$($stream_fields:tt)*] $span:tt recorded: $recorded:tt for_fields: $for_fields:tt
        fields: { $($fields:tt)* }
    ) => {
        $crate::__tracing_ai_span!(@callsites $span $recorded $for_fields { $($fields)* })
    };
    (
        @callsites
        ($target:expr, $level:expr, $name:expr, $operation:expr, $provider:expr, $model:expr, $otel_kind:expr, $otel_name:expr)
        { $($recorded:tt)* }
        { $($for_fields:tt)* }
        { $($fields:tt)* }
    ) => {
        if $crate::__private::tracing::level_enabled!($level)
            && $crate::__private::layer_writes_directly()
        {
            $crate::__private::tracing::span!(
                target: $target,
                $level,
                $name,
                { $crate::attr::GEN_AI_OPERATION_NAME } = $operation,
                { $crate::attr::GEN_AI_PROVIDER_NAME } = $provider,
                { $crate::attr::GEN_AI_REQUEST_MODEL } = $model,
                { $crate::attr::OTEL_KIND } = $otel_kind,
                { $crate::attr::OTEL_NAME } = $otel_name,
                $($recorded)*
                $($fields)*
            )
        } else {
            $crate::__private::tracing::span!(
                target: $target,
                $level,
                $name,
                { $crate::attr::GEN_AI_OPERATION_NAME } = $operation,
                { $crate::attr::GEN_AI_PROVIDER_NAME } = $provider,
                { $crate::attr::GEN_AI_REQUEST_MODEL } = $model,
                { $crate::attr::OTEL_KIND } = $otel_kind,
                { $crate::attr::OTEL_NAME } = $otel_name,
                $($recorded)*
                $($for_fields)*
                $($fields)*
            )
        }
    };
}

/// Whether the current subscriber's [`AiLayer`](crate::AiLayer) writes usage, cost and ids
/// straight onto the OpenTelemetry span, so that an `#[ai_span]` span need not declare them.
#[inline]
pub fn layer_writes_directly() -> bool {
    tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<crate::AiLayer>()
            .is_some_and(crate::AiLayer::writes_directly)
    })
}

pub use crate::record::CallsiteFields;

/// Whether an `#[ai_span]`'s span is worth recording on: enabled, and not created by the
/// no-op subscriber of a thread with no subscriber while another thread has one.
#[inline]
pub fn is_recording(span: &tracing::Span) -> bool {
    !span.is_disabled()
        && span
            .with_subscriber(|(_, dispatch)| !dispatch.is::<tracing::subscriber::NoSubscriber>())
            .unwrap_or(false)
}

/// Records the usage `ret` reports on `span`.
#[inline]
pub fn record_usage<R: ReportsUsage + ?Sized>(
    callsite: &CallsiteFields,
    span: &tracing::Span,
    ret: &R,
) {
    if let Some(usage) = ret.usage() {
        crate::record::record_usage(span, &usage, Some(callsite));
    }
}

/// Records a failed call on `span`, as `error_type` (from `error_type = ...`, the error's
/// [`ErrorType`](crate::ErrorType), or its type name: see [`ErrorTypeOf`]).
#[inline]
pub fn record_error(
    callsite: &CallsiteFields,
    span: &tracing::Span,
    error_type: &str,
    description: Option<&dyn fmt::Display>,
) {
    crate::record::record_error(span, error_type, description, Some(callsite));
}

/// What the layer over a span captures of message content: looked up once per call, and
/// only once some layer captures content.
#[derive(Clone, Debug)]
pub struct Content(std::sync::Arc<crate::content::ContentSettings>);

/// The content settings of the layer `span` is recorded by; `None` when it captures none.
#[inline]
pub fn content(span: &tracing::Span) -> Option<Content> {
    crate::record::content::settings_of(span).map(Content)
}

/// Records `input = ...`: the messages and system instructions sent.
pub fn record_input<T: crate::content::InputContent + ?Sized>(
    content: &Content,
    span: &tracing::Span,
    input: &T,
) {
    crate::record::content::record_input(&content.0, span, &input.input_messages());
    crate::record::content::record_instructions(&content.0, span, &input.system_instructions());
}

/// Keeps the text of `input = ...` for an estimate of the call's usage, when the layer over
/// `span` has a token estimator (see [`estimate`](crate::estimate)); nothing otherwise.
#[inline]
pub fn keep_input_for_estimate<T: crate::content::InputContent + ?Sized>(
    span: &tracing::Span,
    input: &T,
) {
    if crate::estimate::is_ever_on() && !span.is_disabled() {
        span.keep_for_estimate(|| crate::estimate::text_of(input));
    }
}

/// Records `arguments = ...` of a tool call, serialized as JSON.
pub fn record_tool_arguments<T: serde::Serialize + ?Sized>(
    content: &Content,
    span: &tracing::Span,
    arguments: &T,
) {
    record_tool_json(
        content,
        span,
        crate::attr::GEN_AI_TOOL_CALL_ARGUMENTS,
        arguments,
    );
}

fn record_tool_json<T: serde::Serialize + ?Sized>(
    content: &Content,
    span: &tracing::Span,
    name: &'static str,
    value: &T,
) {
    match serde_json::to_string(value) {
        Ok(json) => crate::record::content::record_tool_json(&content.0, span, name, &json),
        // Outside any span, as the layer's own warnings: not an event of the user's trace.
        Err(error) => tracing::warn!(
            target: "tracing_ai",
            parent: None,
            "the tool call's {name} could not be serialized as JSON, and are not captured: {error}"
        ),
    }
}

/// Records the messages a call's return value reports, when its type reports any.
pub fn record_output(
    content: &Content,
    span: &tracing::Span,
    messages: Option<Vec<crate::content::Message>>,
) {
    if let Some(messages) = messages {
        crate::record::content::record_output(&content.0, span, &messages);
    }
}

/// The messages of a return value whose type implements
/// [`ReportsContent`](crate::content::ReportsContent).
pub trait OutputOf {
    fn __tracing_ai_output(&self) -> Option<Vec<crate::content::Message>>;
}

impl<T: crate::content::ReportsContent + ?Sized> OutputOf for Probe<'_, T> {
    fn __tracing_ai_output(&self) -> Option<Vec<crate::content::Message>> {
        Some(self.0.output_messages())
    }
}

/// No messages, for every other type.
pub trait OutputFallback {
    fn __tracing_ai_output(&self) -> Option<Vec<crate::content::Message>>;
}

impl<T: ?Sized> OutputFallback for &Probe<'_, T> {
    fn __tracing_ai_output(&self) -> Option<Vec<crate::content::Message>> {
        None
    }
}

/// Records a tool call's result, when its type is `serde::Serialize`.
pub trait ToolResultOf {
    fn __tracing_ai_tool_result(&self, content: &Content, span: &tracing::Span);
}

impl<T: serde::Serialize + ?Sized> ToolResultOf for Probe<'_, T> {
    fn __tracing_ai_tool_result(&self, content: &Content, span: &tracing::Span) {
        record_tool_json(content, span, crate::attr::GEN_AI_TOOL_CALL_RESULT, self.0);
    }
}

/// Nothing recorded, for every other type.
pub trait ToolResultFallback {
    fn __tracing_ai_tool_result(&self, content: &Content, span: &tracing::Span);
}

impl<T: ?Sized> ToolResultFallback for &Probe<'_, T> {
    fn __tracing_ai_tool_result(&self, _: &Content, _: &tracing::Span) {}
}

/// The layer's pricing, for the benchmarks (feature `__bench`): not part of any API.
#[cfg(feature = "__bench")]
#[derive(Debug)]
pub struct PricingProbe(crate::pricing::Pricing);

#[cfg(feature = "__bench")]
impl Default for PricingProbe {
    fn default() -> Self {
        Self(crate::pricing::Pricing::with_defaults())
    }
}

#[cfg(feature = "__bench")]
impl PricingProbe {
    /// The USD cost of `input` and `output` tokens on `model`, as the layer computes it.
    pub fn price(&self, provider: &str, model: &str, input: u64, output: u64) -> Option<f64> {
        let call = crate::pricing::Call {
            provider: Some(provider),
            request_model: Some(model),
            response_model: None,
            served: crate::pricing::ServedAs::default(),
            tool_name: None,
            tokens: Some(crate::facts::TokenCounts::of(&[
                (crate::facts::TokenKind::Input, input),
                (crate::facts::TokenKind::Output, output),
            ])),
            duration: std::time::Duration::ZERO,
            failed: false,
            stream: false,
            cancelled: false,
        };
        match self.0.price(&call) {
            crate::pricing::Priced::Cost { usd, .. } => Some(usd),
            _ => None,
        }
    }

    /// Forgets what every model resolved to, so that the next call is a first call again.
    pub fn forget(&self) {
        self.0.forget();
    }
}

/// Wraps a reference so that method resolution can pick an impl by its type (autoref
/// specialisation): `(&Probe(&x)).method()` finds the impl on `Probe<X>` for the types that
/// have one, and the fallback impl on `&Probe<T>` for every other type.
#[derive(Debug)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// Splits a `Result` return value into its success and its error.
pub trait Outcome<'a> {
    /// The success value.
    type Ok: ?Sized;
    /// The error value.
    type Err;
    /// `Ok(value)` or `Err(error)`.
    #[allow(clippy::wrong_self_convention)]
    fn __tracing_ai_outcome(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

impl<'a, T, E> Outcome<'a> for Probe<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;
    fn __tracing_ai_outcome(&self) -> Result<&'a T, &'a E> {
        self.0.as_ref()
    }
}

/// Every return value that is not a `Result` is a success.
pub trait OutcomeFallback<'a> {
    /// The success value: the whole return value.
    type Ok: ?Sized;
    /// Always `Ok`.
    fn __tracing_ai_outcome(&self) -> Result<&'a Self::Ok, &'a Infallible>;
}

impl<'a, T: ?Sized> OutcomeFallback<'a> for &Probe<'a, T> {
    type Ok = T;
    fn __tracing_ai_outcome(&self) -> Result<&'a T, &'a Infallible> {
        Ok(self.0)
    }
}

/// An error's message, when its type implements `Display`.
pub trait Describe<'a> {
    /// The error as `Display`.
    fn __tracing_ai_describe(&self) -> Option<&'a dyn fmt::Display>;
}

impl<'a, E: fmt::Display> Describe<'a> for Probe<'a, E> {
    fn __tracing_ai_describe(&self) -> Option<&'a dyn fmt::Display> {
        Some(self.0)
    }
}

/// The `error.type` of an error that implements [`ErrorType`](crate::ErrorType).
pub trait ErrorTypeOf {
    /// What the error says it is.
    fn __tracing_ai_error_type(&self) -> std::borrow::Cow<'static, str>;
}

impl<E: crate::ErrorType + ?Sized> ErrorTypeOf for Probe<'_, E> {
    fn __tracing_ai_error_type(&self) -> std::borrow::Cow<'static, str> {
        self.0.error_type()
    }
}

/// Any other error's `error.type` is its type name: low-cardinality, as the conventions ask,
/// where its message is not.
pub trait ErrorTypeFallback {
    /// The error's type name.
    fn __tracing_ai_error_type(&self) -> std::borrow::Cow<'static, str>;
}

impl<E: ?Sized> ErrorTypeFallback for &Probe<'_, E> {
    fn __tracing_ai_error_type(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(std::any::type_name::<E>())
    }
}

/// Errors without `Display` have no message.
pub trait DescribeFallback<'a> {
    /// Always `None`.
    fn __tracing_ai_describe(&self) -> Option<&'a dyn fmt::Display>;
}

impl<'a, E: ?Sized> DescribeFallback<'a> for &Probe<'a, E> {
    fn __tracing_ai_describe(&self) -> Option<&'a dyn fmt::Display> {
        None
    }
}

/// Wraps the stream an `#[ai_span(stream)]` function returned as `impl Stream`.
pub fn instrument_opaque<S>(
    stream: S,
    span: tracing::Span,
    started: std::time::Instant,
) -> crate::stream::InstrumentedStream<S>
where
    S: futures_core::Stream,
    S::Item: crate::stream::StreamChunk,
{
    crate::stream::instrument_stream(stream, span).started_at(started)
}

/// A named stream type an `#[ai_span(stream)]` function returns, wrapped into the same type.
#[diagnostic::on_unimplemented(
    message = "`#[ai_span(stream)]` cannot keep its span in a `{Self}`",
    label = "the span must live as long as the stream, in a wrapper of it",
    note = "return `impl Stream<Item = ...>` (or `Result<impl Stream<Item = ...>, E>`), or \
            `Pin<Box<dyn Stream<Item = ...> + Send>>`: e.g. for genai, \
            `-> Result<impl Stream<Item = genai::Result<ChatStreamEvent>>, genai::Error>` \
            returning `Ok(response.stream)`"
)]
pub trait Streamed: Sized {
    /// This value, its stream wrapped.
    #[must_use]
    fn __tracing_ai_streamed(self, span: tracing::Span, started: std::time::Instant) -> Self;
}

impl<'a, I: crate::stream::StreamChunk + 'a> Streamed
    for std::pin::Pin<Box<dyn futures_core::Stream<Item = I> + Send + 'a>>
{
    fn __tracing_ai_streamed(self, span: tracing::Span, started: std::time::Instant) -> Self {
        Box::pin(instrument_opaque(self, span, started))
    }
}

impl<'a, I: crate::stream::StreamChunk + 'a> Streamed
    for std::pin::Pin<Box<dyn futures_core::Stream<Item = I> + 'a>>
{
    fn __tracing_ai_streamed(self, span: tracing::Span, started: std::time::Instant) -> Self {
        Box::pin(instrument_opaque(self, span, started))
    }
}

impl<T: Streamed, E> Streamed for Result<T, E> {
    fn __tracing_ai_streamed(self, span: tracing::Span, started: std::time::Instant) -> Self {
        self.map(|stream| stream.__tracing_ai_streamed(span, started))
    }
}

/// The prices-file parser, for the fuzz target (feature `__bench`): how many prices `text`
/// holds, or the error naming its line and field. Not part of any API.
#[cfg(feature = "__bench")]
pub fn parse_prices_file(text: &str) -> Result<usize, crate::PricesFileError> {
    crate::pricing::parse_prices(text).map(|prices| prices.len())
}

/// A return type a call refused by a budget can return: `Result<T, E>` with
/// `E: From<BudgetExceeded>`.
#[diagnostic::on_unimplemented(
    message = "`#[ai_span(budget)]` cannot return a refusal as `{Self}`",
    label = "a call refused by a budget returns `Err(BudgetExceeded.into())` from here",
    note = "return `Result<_, E>` where `E: From<tracing_ai::budget::BudgetExceeded>`, e.g. \
            `impl From<BudgetExceeded> for MyError {{ .. }}`, or a `Box<dyn Error>`"
)]
pub trait Refusable {
    fn refused(refused: crate::budget::BudgetExceeded) -> Self;
}

impl<T, E: From<crate::budget::BudgetExceeded>> Refusable for Result<T, E> {
    fn refused(refused: crate::budget::BudgetExceeded) -> Self {
        Err(E::from(refused))
    }
}

/// What an `#[ai_span(budget)]` function returns when a budget refuses its call.
#[inline]
pub fn refused<R: Refusable>(refused: crate::budget::BudgetExceeded) -> R {
    R::refused(refused)
}
