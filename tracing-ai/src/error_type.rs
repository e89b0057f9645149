//! What kind of failure an error is, as the low-cardinality `error.type` the OpenTelemetry
//! conventions ask for.

use std::borrow::Cow;

/// An error that says what kind of failure it is: `rate_limit_exceeded`, `timeout`,
/// `invalid_request_error`, an HTTP status such as `500`. It becomes `error.type` on the
/// call's span and on the duration metrics (`gen_ai.client.inference.duration`), which group failures by
/// it: keep the values few (a kind, never a message).
///
/// When a function annotated with [`#[ai_span]`](crate::ai_span) returns `Err(e)`, `error.type`
/// is, in order: what `error_type = ...` on the attribute says, else `e.error_type()` when the
/// error implements this trait, else the error's type name.
///
/// A client crate's own retries happen inside the call: the span covers them all, and only
/// the error of the last attempt is recorded.
///
/// ```
/// use std::borrow::Cow;
/// use tracing_ai::{ai_span, ErrorType, Usage};
///
/// #[derive(Debug)]
/// enum ModelError {
///     RateLimited { retry_after_s: u64 },
///     Http(u16),
/// }
///
/// impl ErrorType for ModelError {
///     fn error_type(&self) -> Cow<'static, str> {
///         match self {
///             ModelError::RateLimited { .. } => "rate_limit_exceeded".into(),
///             ModelError::Http(status) => status.to_string().into(),
///         }
///     }
/// }
///
/// #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
/// fn generate() -> Result<Usage, ModelError> {
///     Err(ModelError::RateLimited { retry_after_s: 20 })
/// }
/// # let _ = generate();
/// ```
// Features that are on already cover their crate's error, so the hint names the client
// crates' features only while none of them is on; a foreign error cannot be given an impl
// (the orphan rule), so the hint for one is a newtype.
#[cfg_attr(
    any(feature = "async-openai", feature = "ollama-rs", feature = "genai"),
    diagnostic::on_unimplemented(
        message = "`{Self}` does not say what kind of failure it is",
        label = "a failed stream chunk carries this error",
        note = "if `{Self}` is your own error, implement `tracing_ai::ErrorType` for it: a \
                low-cardinality kind such as `rate_limit_exceeded`, exported as `error.type`",
        note = "if it is another crate's, map the stream's errors into a newtype of yours that \
                implements it (guide: `tracing_ai::guides::streams`)"
    )
)]
#[cfg_attr(
    not(any(feature = "async-openai", feature = "ollama-rs", feature = "genai")),
    diagnostic::on_unimplemented(
        message = "`{Self}` does not say what kind of failure it is",
        label = "a failed stream chunk carries this error",
        note = "if `{Self}` is the error of async-openai, ollama-rs or genai, enable tracing-ai's \
                cargo feature of that name: \
                `tracing-ai = {{ version = \"0.1\", features = [\"genai\"] }}`",
        note = "if it is your own error, implement `tracing_ai::ErrorType` for it: a \
                low-cardinality kind such as `rate_limit_exceeded`, exported as `error.type`; if \
                it is another crate's, map it into a newtype of yours that implements it"
    )
)]
pub trait ErrorType {
    /// The kind of failure, e.g. `rate_limit_exceeded`.
    fn error_type(&self) -> Cow<'static, str>;
}

impl<E: ErrorType + ?Sized> ErrorType for &E {
    fn error_type(&self) -> Cow<'static, str> {
        (**self).error_type()
    }
}

impl<E: ErrorType + ?Sized> ErrorType for Box<E> {
    fn error_type(&self) -> Cow<'static, str> {
        (**self).error_type()
    }
}

/// The error's [`ErrorKind`](std::io::ErrorKind), in snake case: `timed_out`,
/// `connection_refused`, ...
impl ErrorType for std::io::Error {
    fn error_type(&self) -> Cow<'static, str> {
        snake_case(&format!("{:?}", self.kind())).into()
    }
}

/// `TimedOut` -> `timed_out`.
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_their_kind_in_snake_case() {
        let error = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(error.error_type(), "timed_out");
        let error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(error.error_type(), "connection_refused");
    }
}
