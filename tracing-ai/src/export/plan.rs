//! Stage one of `init()`: what to build, resolved from the builder and the environment.
//!
//! This is the only code of the crate that reads environment variables, and it builds
//! nothing: [`Plan::resolve`] takes the variables as a lookup function, so that its tests
//! pass their own.

use std::time::Duration;

use opentelemetry_otlp::{
    OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL_GRPC,
    OTEL_EXPORTER_OTLP_PROTOCOL_HTTP_JSON, OTEL_EXPORTER_OTLP_PROTOCOL_HTTP_PROTOBUF,
};
use tracing_subscriber::EnvFilter;

use super::error::{InitError, Kind};
use super::ExportBuilder;
use crate::sampling::{TailSampling, SAMPLE_RATIO_ENV};
use crate::AiLayerBuilder;

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
const RUST_LOG: &str = "RUST_LOG";

/// The crates that carry the export itself: their own spans and events must not be traced and
/// exported in turn.
const EXPORT_STACK: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (tonic), usually on port 4317. Needs the `otlp-grpc` feature.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, usually on port 4318: the default when the
    /// `otlp-http` feature is on. Needs that feature.
    HttpProtobuf,
}

impl Protocol {
    /// The transport when neither the code nor the environment names one: HTTP/protobuf, as
    /// the OpenTelemetry specification says, unless only gRPC is compiled in.
    fn default_compiled() -> Self {
        if cfg!(feature = "otlp-http") || !cfg!(feature = "otlp-grpc") {
            Protocol::HttpProtobuf
        } else {
            Protocol::Grpc
        }
    }

    fn from_env(variable: &'static str, value: &str) -> Result<Self, InitError> {
        match value.trim() {
            OTEL_EXPORTER_OTLP_PROTOCOL_GRPC => Ok(Protocol::Grpc),
            OTEL_EXPORTER_OTLP_PROTOCOL_HTTP_PROTOBUF => Ok(Protocol::HttpProtobuf),
            OTEL_EXPORTER_OTLP_PROTOCOL_HTTP_JSON => Err(InitError::variable(
                variable,
                value,
                "`grpc` or `http/protobuf` (tracing-ai does not export `http/json`)",
            )),
            other => Err(InitError::variable(
                variable,
                other,
                "`grpc` or `http/protobuf`",
            )),
        }
    }

    /// An error unless this transport is compiled in.
    fn check_compiled(self) -> Result<Self, InitError> {
        let (compiled, protocol, feature) = match self {
            Protocol::Grpc => (cfg!(feature = "otlp-grpc"), "gRPC", "otlp-grpc"),
            Protocol::HttpProtobuf => (cfg!(feature = "otlp-http"), "HTTP", "otlp-http"),
        };
        if compiled {
            Ok(self)
        } else {
            Err(InitError::new(Kind::TransportNotCompiled {
                protocol,
                feature,
            }))
        }
    }
}

/// Everything `init()` will build, decided.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) filter: EnvFilter,
    pub(crate) layer: AiLayerBuilder,
    /// Set when spans are exported.
    pub(crate) export: Option<Export>,
    pub(crate) console: bool,
    pub(crate) sampling: Option<TailSampling>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) shutdown_timeout: Duration,
}

/// Where and how spans (and metrics) are exported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) protocol: Protocol,
    /// The base URL the code set; `None` when it comes from the environment, which
    /// opentelemetry-otlp then reads itself (adding `/v1/traces` as the specification says).
    pub(crate) base_url: Option<String>,
    /// The endpoint as given, for messages.
    pub(crate) shown_endpoint: String,
    pub(crate) metrics: bool,
}

impl Plan {
    /// Resolves `builder` against the environment, read through `env` (which returns `None`
    /// for a variable that is unset). Explicit options win, except where the docs say the
    /// environment does (`TRACING_AI_SAMPLE_RATIO`), so operators tune a running service.
    pub(crate) fn resolve(
        builder: ExportBuilder,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, InitError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let filter = filter(builder.filter.as_deref(), env(RUST_LOG))?;
        let endpoint = builder
            .endpoint
            .clone()
            .map(|url| (Some(url.clone()), url))
            .or_else(|| {
                env(TRACES_ENDPOINT)
                    .or_else(|| env(OTEL_EXPORTER_OTLP_ENDPOINT))
                    .map(|url| (None, url))
            });
        let export = match endpoint {
            Some((base_url, shown_endpoint)) => {
                let protocol = match builder.protocol {
                    Some(protocol) => protocol,
                    None => match env(TRACES_PROTOCOL)
                        .map(|v| (TRACES_PROTOCOL, v))
                        .or_else(|| {
                            env(OTEL_EXPORTER_OTLP_PROTOCOL)
                                .map(|v| (OTEL_EXPORTER_OTLP_PROTOCOL, v))
                        }) {
                        Some((variable, value)) => Protocol::from_env(variable, &value)?,
                        None => Protocol::default_compiled(),
                    },
                }
                .check_compiled()?;
                let metrics = builder.metrics.unwrap_or_else(|| {
                    let disabled =
                        env(METRICS_EXPORTER).is_some_and(|value| value.trim() == "none");
                    let endpoint = builder.endpoint.is_some()
                        || env(OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
                        || env(METRICS_ENDPOINT).is_some();
                    endpoint && !disabled
                });
                Some(Export {
                    protocol,
                    base_url,
                    shown_endpoint,
                    metrics,
                })
            }
            None => None,
        };
        let console = builder.console.unwrap_or(export.is_none());
        let sampling = match (builder.sampling, env(SAMPLE_RATIO_ENV)) {
            (sampling, Some(text)) => {
                let ratio = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|ratio| (0.0..=1.0).contains(ratio))
                    .ok_or_else(|| {
                        InitError::variable(
                            SAMPLE_RATIO_ENV,
                            &text,
                            "a number from 0 to 1, such as 0.05 to keep one trace in twenty",
                        )
                    })?;
                Some(sampling.unwrap_or_default().with_sample_ratio(ratio))
            }
            (sampling, None) => sampling,
        }
        .map(|sampling| sampling.build())
        .transpose()?;
        Ok(Plan {
            filter,
            layer: builder.layer,
            export,
            console,
            sampling,
            service_name: builder.service_name,
            service_version: builder.service_version,
            shutdown_timeout: builder.shutdown_timeout,
        })
    }
}

/// The filter: the code's directives, else `RUST_LOG`, else `info`; the export stack's own
/// crates are off unless a directive names them.
fn filter(code: Option<&str>, env: Option<String>) -> Result<EnvFilter, InitError> {
    let (variable, directives) = match (code, env) {
        (Some(directives), _) => ("the filter", directives.to_owned()),
        (None, Some(directives)) => (RUST_LOG, directives),
        (None, None) => (RUST_LOG, "info".to_owned()),
    };
    let mut filter = EnvFilter::builder().parse(&directives).map_err(|source| {
        InitError::new(Kind::Filter {
            variable,
            directives: directives.clone(),
            source,
        })
    })?;
    for target in EXPORT_STACK {
        if !names_target(&directives, target) {
            if let Ok(directive) = format!("{target}=off").parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    Ok(filter)
}

/// Whether a directive of `directives` is about crate `target` (or one of its modules): `h2`
/// is named by `h2=debug` and `h2::codec=trace`, not by `oauth2=debug`.
fn names_target(directives: &str, target: &str) -> bool {
    directives.split(',').any(|directive| {
        let named = directive
            .split(['=', '['])
            .next()
            .unwrap_or_default()
            .trim();
        named == target
            || named
                .strip_prefix(target)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sampling::TailSampling;

    fn resolve(builder: ExportBuilder, vars: &[(&str, &str)]) -> Result<Plan, InitError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Plan::resolve(builder, |name| vars.get(name).cloned())
    }

    #[test]
    fn no_endpoint_means_the_console_and_no_export() {
        let plan = resolve(ExportBuilder::default(), &[]).expect("valid");
        assert!(plan.export.is_none());
        assert!(plan.console);
        assert!(plan.sampling.is_none());
    }

    #[test]
    fn the_environment_endpoint_is_left_to_the_exporter_and_metrics_follow_it() {
        let plan = resolve(
            ExportBuilder::default(),
            &[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318")],
        )
        .expect("valid");
        let export = plan.export.expect("exports");
        assert_eq!(export.base_url, None);
        assert_eq!(export.shown_endpoint, "http://127.0.0.1:4318");
        assert_eq!(export.protocol, Protocol::default_compiled());
        assert!(export.metrics);
        assert!(!plan.console);
    }

    #[test]
    fn metrics_are_off_for_a_backend_that_takes_none_or_a_traces_only_endpoint() {
        let none = resolve(
            ExportBuilder::default(),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318"),
                (METRICS_EXPORTER, "none"),
            ],
        )
        .expect("valid");
        assert!(!none.export.expect("exports").metrics);
        let traces_only = resolve(
            ExportBuilder::default(),
            &[(TRACES_ENDPOINT, "http://127.0.0.1:4318/v1/traces")],
        )
        .expect("valid");
        assert!(!traces_only.export.expect("exports").metrics);
    }

    #[test]
    fn the_code_wins_over_the_environment_except_for_the_sample_ratio() {
        let plan = resolve(
            ExportBuilder::default()
                .with_endpoint("http://127.0.0.1:4317")
                .with_protocol(Protocol::Grpc)
                .with_sampling(TailSampling::builder().with_sample_ratio(0.5)),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://elsewhere:4318"),
                (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                (SAMPLE_RATIO_ENV, "0.05"),
            ],
        );
        if !cfg!(feature = "otlp-grpc") {
            assert!(resolve_error(plan).contains("`otlp-grpc` feature"));
            return;
        }
        let plan = plan.expect("valid");
        let export = plan.export.expect("exports");
        assert_eq!(export.base_url.as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(export.protocol, Protocol::Grpc);
        assert_eq!(plan.sampling.expect("samples").sample_ratio(), 0.05);
    }

    fn resolve_error(result: Result<Plan, InitError>) -> String {
        result.expect_err("invalid").to_string()
    }

    #[test]
    fn a_bad_variable_is_an_error_that_names_it() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318");
        assert_eq!(
            resolve_error(resolve(
                ExportBuilder::default(),
                &[endpoint, (OTEL_EXPORTER_OTLP_PROTOCOL, "udp")]
            )),
            "OTEL_EXPORTER_OTLP_PROTOCOL is `udp`; expected `grpc` or `http/protobuf`"
        );
        assert!(resolve_error(resolve(
            ExportBuilder::default(),
            &[endpoint, (TRACES_PROTOCOL, "http/json")]
        ))
        .starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is `http/json`"));
        assert_eq!(
            resolve_error(resolve(
                ExportBuilder::default(),
                &[(SAMPLE_RATIO_ENV, "1.5")]
            )),
            "TRACING_AI_SAMPLE_RATIO is `1.5`; expected a number from 0 to 1, such as 0.05 to keep one trace in twenty"
        );
        assert!(resolve_error(resolve(
            ExportBuilder::default(),
            &[(SAMPLE_RATIO_ENV, "five percent")]
        ))
        .starts_with("TRACING_AI_SAMPLE_RATIO is `five percent`"));
        assert!(
            resolve_error(resolve(ExportBuilder::default(), &[(RUST_LOG, "info,[")]))
                .starts_with("RUST_LOG is `info,[`")
        );
    }

    #[test]
    fn a_directive_names_a_crate_only_by_its_whole_name() {
        assert!(names_target("h2=debug", "h2"));
        assert!(names_target("info,h2::codec=trace", "h2"));
        assert!(names_target("tonic[span]=debug", "tonic"));
        assert!(!names_target("oauth2=debug", "h2"));
        assert!(!names_target("my_tower=debug", "tower"));
        assert!(!names_target("info", "hyper"));
    }
}
