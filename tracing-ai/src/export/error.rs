//! Why `init()` failed, with the cause kept as the error's source.

use std::error::Error;
use std::fmt;

use crate::ConfigError;

/// Why [`init`](crate::init) could not set tracing up; its message says what to change, and
/// [`source`](Error::source) gives the error behind it.
///
/// When `init` fails it has installed nothing: no global subscriber, no global tracer
/// provider, and every exporter and thread it made is shut down again.
#[derive(Debug)]
pub struct InitError {
    kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Config(ConfigError),
    Variable {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    Setting {
        variable: &'static str,
        problem: String,
    },
    Header {
        variable: &'static str,
        entry: usize,
        problem: &'static str,
    },
    Filter {
        variable: &'static str,
        directives: String,
        source: tracing_subscriber::filter::ParseError,
    },
    TransportNotCompiled {
        protocol: &'static str,
        feature: &'static str,
    },
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    Runtime(std::io::Error),
    ExportThread(std::io::Error),
    Exporter(opentelemetry_otlp::ExporterBuildError),
    AlreadyInitialized(tracing::dispatcher::SetGlobalDefaultError),
}

impl InitError {
    pub(crate) fn new(kind: Kind) -> Self {
        Self { kind }
    }

    pub(crate) fn variable(variable: &'static str, value: &str, expected: &'static str) -> Self {
        Self::new(Kind::Variable {
            variable,
            value: value.to_owned(),
            expected,
        })
    }
}

impl From<ConfigError> for InitError {
    fn from(error: ConfigError) -> Self {
        Self::new(Kind::Config(error))
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(error) => error.fmt(f),
            Kind::Variable {
                variable,
                value,
                expected,
            } => write!(f, "{variable} is `{value}`; expected {expected}"),
            Kind::Setting { variable, problem } => write!(f, "{variable}: {problem}"),
            Kind::Header {
                variable,
                entry,
                problem,
            } => write!(
                f,
                "{variable}: entry {entry} {problem}; expected `name=value` pairs separated by \
                 commas, such as `x-api-key=abc,x-tenant=acme` (values are not shown here)"
            ),
            Kind::Filter {
                variable,
                directives,
                source,
            } => write!(
                f,
                "{variable} is `{directives}` ({source}); expected filter directives such as `info` or `my_app=debug,info`"
            ),
            Kind::TransportNotCompiled { protocol, feature } => write!(
                f,
                "OTLP over {protocol} was asked for, but tracing-ai was built without it; enable the `{feature}` feature of tracing-ai"
            ),
            Kind::Runtime(error) => {
                write!(f, "could not start the thread that exports over gRPC: {error}")
            }
            Kind::ExportThread(error) => {
                write!(f, "could not start the thread that exports spans: {error}")
            }
            Kind::Exporter(error) => write!(
                f,
                "could not build the OTLP exporter: {error}; check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS"
            ),
            Kind::AlreadyInitialized(_) => write!(
                f,
                "a global subscriber is already installed; call `tracing_ai::init` once, \
                 or add `tracing_ai::layer` to your own subscriber instead"
            ),
        }
    }
}

impl Error for InitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            Kind::Config(error) => Some(error),
            Kind::Filter { source, .. } => Some(source),
            Kind::Runtime(error) | Kind::ExportThread(error) => Some(error),
            Kind::Exporter(error) => Some(error),
            Kind::AlreadyInitialized(error) => Some(error),
            Kind::Variable { .. }
            | Kind::Setting { .. }
            | Kind::Header { .. }
            | Kind::TransportNotCompiled { .. } => None,
        }
    }
}
