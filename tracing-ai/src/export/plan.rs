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

use super::builder::Protocol;
use super::error::{InitError, Kind};
use super::queue::QueueConfig;
use super::ExportBuilder;
use crate::sampling::{TailSampling, SAMPLE_RATIO_ENV};
use crate::secrets;
use crate::AiLayerBuilder;

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
const LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
const LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
const RUST_LOG: &str = "RUST_LOG";
/// The header variables opentelemetry-otlp reads, checked here because it drops a malformed
/// entry silently (and the backend then answers 401 with no hint).
const HEADERS: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
];
/// The timeout variables opentelemetry-otlp reads, checked because it ignores a malformed one.
const TIMEOUTS: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
];
/// The attribution keys read from baggage, separated by commas.
pub(crate) const TRUSTED_BAGGAGE_ENV: &str = "TRACING_AI_TRUSTED_BAGGAGE";
/// How long the guard may wait at exit, in milliseconds.
pub(crate) const SHUTDOWN_TIMEOUT_ENV: &str = "TRACING_AI_SHUTDOWN_TIMEOUT";
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
const BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
const BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
const BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// The attribute value length limits of the specification, the span one first.
const VALUE_LENGTH_LIMITS: [&str; 2] = [
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
];

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

/// How the transport is chosen: by the code, else the environment, else what is compiled in.
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
    pub(crate) service_instance_id: Option<String>,
    pub(crate) shutdown_timeout: Duration,
}

/// Where and how spans (and metrics) are exported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) protocol: Protocol,
    /// The base URL the code set; `None` when it comes from the environment, which
    /// opentelemetry-otlp then reads itself (adding `/v1/traces` as the specification says).
    pub(crate) base_url: Option<String>,
    /// The endpoint as given, without user-info or query, for messages.
    pub(crate) shown_endpoint: String,
    /// The metrics' and the logs' endpoints, shown as `shown_endpoint` is: a failure to export
    /// metrics names where metrics were sent, not where spans were.
    pub(crate) shown_metrics_endpoint: String,
    pub(crate) shown_logs_endpoint: String,
    pub(crate) metrics: bool,
    /// Whether `tracing` events go out as OTLP log records; see `ExportBuilder::with_logs`.
    pub(crate) logs: bool,
    /// The export queue, as `OTEL_BSP_*` set it; `build` widens it to the sampler's bound.
    pub(crate) queue: QueueConfig,
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
            .map(|url| (Some(url.clone()), secrets::endpoint(&url)))
            .or_else(|| {
                env(TRACES_ENDPOINT)
                    .or_else(|| env(OTEL_EXPORTER_OTLP_ENDPOINT))
                    .map(|url| (None, secrets::endpoint(&url)))
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
                check_exporter_variables(env)?;
                // Where each signal goes, as opentelemetry-otlp resolves it: the code's base
                // URL, else the signal's own variable, else the shared one.
                let shown_for = |variable: &str| match (&base_url, env(variable)) {
                    (None, Some(url)) => secrets::endpoint(&url),
                    _ => match (&base_url, env(OTEL_EXPORTER_OTLP_ENDPOINT)) {
                        (None, Some(url)) => secrets::endpoint(&url),
                        _ => shown_endpoint.clone(),
                    },
                };
                let shown_metrics_endpoint = shown_for(METRICS_ENDPOINT);
                let shown_logs_endpoint = shown_for(LOGS_ENDPOINT);
                Some(Export {
                    protocol,
                    base_url,
                    shown_endpoint,
                    shown_metrics_endpoint,
                    shown_logs_endpoint,
                    metrics,
                    logs: builder.logs.unwrap_or_else(|| {
                        cfg!(feature = "opentelemetry-appender-tracing")
                            && env(LOGS_EXPORTER).is_some_and(|value| {
                                value.split(',').any(|exporter| exporter.trim() == "otlp")
                            })
                    }),
                    queue: queue(env)?,
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
        let mut layer = builder.layer;
        if let Some(keys) = env(TRUSTED_BAGGAGE_ENV) {
            for key in keys.split(',').map(str::trim).filter(|key| !key.is_empty()) {
                layer = layer.trusting_baggage(key).map_err(|problem| {
                    InitError::new(Kind::Setting {
                        variable: TRUSTED_BAGGAGE_ENV,
                        problem,
                    })
                })?;
            }
        }
        if let Some(value) = env(crate::content::CAPTURE_MESSAGE_CONTENT) {
            let capture = value.parse().map_err(|_| {
                InitError::variable(
                    crate::content::CAPTURE_MESSAGE_CONTENT,
                    &value,
                    "NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, true or false",
                )
            })?;
            layer = layer.with_content_capture_from_env(capture);
        }
        if let Some(export) = &export {
            layer = layer.with_content_max_bytes_within(export.queue.max_value_bytes);
        }
        Ok(Plan {
            filter,
            layer,
            export,
            console,
            sampling,
            service_name: builder.service_name,
            service_version: builder.service_version,
            service_instance_id: builder.service_instance_id,
            shutdown_timeout: match (builder.shutdown_timeout, env(SHUTDOWN_TIMEOUT_ENV)) {
                (Some(timeout), _) => timeout,
                (None, Some(text)) => text
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        InitError::variable(
                            SHUTDOWN_TIMEOUT_ENV,
                            &text,
                            "a whole number of milliseconds, such as 5000",
                        )
                    })?,
                (None, None) => DEFAULT_SHUTDOWN_TIMEOUT,
            },
        })
    }
}

/// The export queue's settings from the batch processor's variables (`OTEL_BSP_*`), each a
/// positive whole number.
fn queue(env: impl Fn(&str) -> Option<String>) -> Result<QueueConfig, InitError> {
    let number = |variable: &'static str, default: usize| -> Result<usize, InitError> {
        match env(variable) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| InitError::variable(variable, &text, "a whole number above 0")),
        }
    };
    let default = QueueConfig::default();
    let capacity = number(BSP_MAX_QUEUE_SIZE, default.capacity)?;
    let max_batch = number(BSP_MAX_EXPORT_BATCH_SIZE, default.max_batch)?.min(capacity);
    let delay = match env(BSP_SCHEDULE_DELAY) {
        None => default.delay,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| {
                InitError::variable(BSP_SCHEDULE_DELAY, &text, "a number of milliseconds")
            })?,
    };
    let mut max_value_bytes = default.max_value_bytes;
    for variable in VALUE_LENGTH_LIMITS.into_iter().rev() {
        max_value_bytes = number(variable, max_value_bytes)?;
    }
    Ok(QueueConfig {
        capacity,
        max_batch,
        delay,
        max_value_bytes,
        ..default
    })
}

/// Checks the variables the exporter reads itself: headers as `key=value` pairs separated by
/// commas, timeouts in milliseconds. A header's value is never repeated in an error.
fn check_exporter_variables(env: impl Fn(&str) -> Option<String>) -> Result<(), InitError> {
    for variable in HEADERS {
        let Some(text) = env(variable) else { continue };
        for (index, entry) in text.split(',').enumerate() {
            let problem = match entry.split_once('=') {
                _ if entry.trim().is_empty() => Some("is empty"),
                None => Some("has no `=`"),
                Some((key, _)) if key.trim().is_empty() => Some("has no name before `=`"),
                Some((key, _)) if !key.trim().bytes().all(is_token_byte) => {
                    Some("has a name that is not a valid header name")
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(InitError::new(Kind::Header {
                    variable,
                    entry: index + 1,
                    problem,
                }));
            }
        }
    }
    for variable in TIMEOUTS {
        if let Some(text) = env(variable) {
            if text.trim().parse::<u64>().is_err() {
                return Err(InitError::variable(
                    variable,
                    &text,
                    "a whole number of milliseconds, such as 10000",
                ));
            }
        }
    }
    Ok(())
}

/// A character an HTTP header name may hold (RFC 9110's `tchar`).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
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
    fn each_signal_names_its_own_endpoint_in_messages() {
        let plan = resolve(
            ExportBuilder::default(),
            &[
                (TRACES_ENDPOINT, "http://127.0.0.1:4318/v1/traces"),
                (
                    METRICS_ENDPOINT,
                    "http://u:p@127.0.0.1:9090/api/v1/otlp/v1/metrics",
                ),
            ],
        )
        .expect("valid");
        let export = plan.export.expect("exports");
        assert_eq!(export.shown_endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(
            export.shown_metrics_endpoint,
            "http://127.0.0.1:9090/api/v1/otlp/v1/metrics"
        );
        // Logs have no variable of their own here: where spans go.
        assert_eq!(
            export.shown_logs_endpoint,
            "http://127.0.0.1:4318/v1/traces"
        );
        let shared = resolve(
            ExportBuilder::default(),
            &[
                (TRACES_ENDPOINT, "http://127.0.0.1:4318/v1/traces"),
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4317"),
            ],
        )
        .expect("valid");
        let export = shared.export.expect("exports");
        assert_eq!(export.shown_metrics_endpoint, "http://127.0.0.1:4317");
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
        let with_credentials = resolve(
            ExportBuilder::default(),
            &[(
                TRACES_ENDPOINT,
                "https://u:secret@otlp.example.com/v1/traces?api_key=k",
            )],
        )
        .expect("valid");
        assert_eq!(
            with_credentials.export.expect("exports").shown_endpoint,
            "https://otlp.example.com/v1/traces"
        );
        assert_eq!(export.protocol, Protocol::default_compiled());
        assert!(export.metrics);
        assert!(!plan.console);
    }

    #[test]
    fn logs_are_exported_when_the_builder_or_otel_logs_exporter_says_so() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318");
        let logs = |builder: ExportBuilder, variables: &[(&str, &str)]| {
            resolve(builder, variables)
                .expect("valid")
                .export
                .expect("exports")
                .logs
        };
        assert!(
            !logs(ExportBuilder::default(), &[endpoint]),
            "off by default"
        );
        assert!(!logs(
            ExportBuilder::default(),
            &[endpoint, (LOGS_EXPORTER, "none")]
        ));
        let from_env = logs(
            ExportBuilder::default(),
            &[endpoint, (LOGS_EXPORTER, "console, otlp")],
        );
        assert_eq!(from_env, cfg!(feature = "opentelemetry-appender-tracing"));
        #[cfg(feature = "opentelemetry-appender-tracing")]
        {
            assert!(logs(ExportBuilder::default().with_logs(true), &[endpoint]));
            assert!(!logs(
                ExportBuilder::default().with_logs(false),
                &[endpoint, (LOGS_EXPORTER, "otlp")]
            ));
        }
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
    fn a_malformed_header_names_its_variable_and_entry_and_never_its_value() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318");
        for (headers, problem) in [
            ("x-tenant=acme,api-key sk-secret", "entry 2 has no `=`"),
            ("x-tenant=acme,,a=b", "entry 2 is empty"),
            ("=sk-secret", "entry 1 has no name before `=`"),
            (
                "api key=sk-secret",
                "entry 1 has a name that is not a valid header name",
            ),
        ] {
            let error = resolve_error(resolve(
                ExportBuilder::default(),
                &[endpoint, ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", headers)],
            ));
            assert!(
                error.starts_with(&format!("OTEL_EXPORTER_OTLP_TRACES_HEADERS: {problem}")),
                "{error}"
            );
            assert!(!error.contains("sk-secret"), "{error}");
        }
        let fine = [
            endpoint,
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=sk%20a=b,tenant = acme",
            ),
        ];
        assert!(resolve(ExportBuilder::default(), &fine).is_ok());
    }

    #[test]
    fn only_attribution_keys_can_be_trusted_from_baggage() {
        let error = resolve_error(resolve(
            ExportBuilder::default(),
            &[(TRUSTED_BAGGAGE_ENV, "tenant.id, tenant")],
        ));
        assert!(
            error.starts_with(
                "TRACING_AI_TRUSTED_BAGGAGE: `tenant` cannot be read from baggage: it is not an \
                 attribution key (the keys are tenant.id, feature.id"
            ),
            "{error}"
        );
        assert!(resolve(
            ExportBuilder::default(),
            &[(TRUSTED_BAGGAGE_ENV, "tenant.id,request.id")]
        )
        .is_ok());
    }

    #[test]
    fn malformed_timeouts_and_queue_sizes_are_errors_that_name_them() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4318");
        for (variable, value) in [
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "abc"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "10s"),
            (BSP_MAX_QUEUE_SIZE, "0"),
            (BSP_MAX_EXPORT_BATCH_SIZE, "-1"),
            (BSP_SCHEDULE_DELAY, "soon"),
            (SHUTDOWN_TIMEOUT_ENV, "5s"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "none"),
        ] {
            let error = resolve_error(resolve(
                ExportBuilder::default(),
                &[endpoint, (variable, value)],
            ));
            assert!(
                error.starts_with(&format!("{variable} is `{value}`; expected")),
                "{error}"
            );
        }
        let plan = resolve(
            ExportBuilder::default(),
            &[
                endpoint,
                (BSP_MAX_QUEUE_SIZE, "100"),
                (BSP_MAX_EXPORT_BATCH_SIZE, "500"),
                (BSP_SCHEDULE_DELAY, "250"),
                ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000"),
                ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "300"),
            ],
        )
        .expect("valid");
        let queue = plan.export.expect("exports").queue;
        assert_eq!(
            (
                queue.capacity,
                queue.max_batch,
                queue.delay,
                queue.max_value_bytes
            ),
            (100, 100, Duration::from_millis(250), 300)
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
