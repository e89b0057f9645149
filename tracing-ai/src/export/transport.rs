//! The OTLP exporters of each transport, each behind its feature (`otlp-grpc`, `otlp-http`), so
//! that a user of one does not compile the other.

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use opentelemetry_otlp::WithExportConfig as _;

use super::builder::Protocol;
use super::error::{InitError, Kind};
use super::guard::Runtime;
use super::plan::Export;

/// What [`exporters`] builds.
pub(crate) struct Exporters {
    pub(crate) spans: opentelemetry_otlp::SpanExporter,
    pub(crate) metrics: Option<opentelemetry_otlp::MetricExporter>,
    #[cfg(feature = "opentelemetry-appender-tracing")]
    pub(crate) logs: Option<opentelemetry_otlp::LogExporter>,
    /// The runtime the gRPC clients run on; handed to the guard, which stops it last.
    pub(crate) runtime: Option<Runtime>,
}

/// The span exporter and, when asked for, the metric and log exporters of `export`'s
/// transport.
pub(crate) fn exporters(export: &Export) -> Result<Exporters, InitError> {
    // The plan checked that the transport is compiled in.
    match export.protocol {
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf => http(export),
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => grpc(export),
        #[allow(unreachable_patterns)]
        _ => Err(InitError::new(Kind::TransportNotCompiled {
            protocol: "this transport",
            feature: "otlp",
        })),
    }
}

#[cfg(feature = "otlp-http")]
fn http(export: &Export) -> Result<Exporters, InitError> {
    let mut spans = opentelemetry_otlp::SpanExporter::builder().with_http();
    let mut meters = opentelemetry_otlp::MetricExporter::builder().with_http();
    // A base URL set in code gets the signal paths the environment's would get.
    if let Some(base) = &export.base_url {
        let base = base.trim_end_matches('/');
        spans = spans.with_endpoint(format!("{base}/v1/traces"));
        meters = meters.with_endpoint(format!("{base}/v1/metrics"));
    }
    let spans = spans
        .build()
        .map_err(|e| InitError::new(Kind::Exporter(e)))?;
    let metrics = export
        .metrics
        .then(|| meters.build())
        .transpose()
        .map_err(|e| InitError::new(Kind::Exporter(e)))?;
    #[cfg(feature = "opentelemetry-appender-tracing")]
    let logs = export
        .logs
        .then(|| {
            let mut logs = opentelemetry_otlp::LogExporter::builder().with_http();
            if let Some(base) = &export.base_url {
                let base = base.trim_end_matches('/');
                logs = logs.with_endpoint(format!("{base}/v1/logs"));
            }
            logs.build()
        })
        .transpose()
        .map_err(|e| InitError::new(Kind::Exporter(e)))?;
    Ok(Exporters {
        spans,
        metrics,
        #[cfg(feature = "opentelemetry-appender-tracing")]
        logs,
        runtime: None,
    })
}

/// tonic needs a Tokio runtime that keeps running while the application blocks (at shutdown,
/// say), so the exporters get their own one-thread runtime rather than the application's.
#[cfg(feature = "otlp-grpc")]
fn grpc(export: &Export) -> Result<Exporters, InitError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tracing-ai-otlp")
        .enable_all()
        .build()
        .map_err(|e| InitError::new(Kind::Runtime(e)))?;
    let built = {
        let _entered = runtime.enter();
        let mut spans = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        let mut meters = opentelemetry_otlp::MetricExporter::builder().with_tonic();
        if let Some(base) = &export.base_url {
            spans = spans.with_endpoint(base.clone());
            meters = meters.with_endpoint(base.clone());
        }
        spans.build().and_then(|spans| {
            Ok(Exporters {
                spans,
                metrics: export.metrics.then(|| meters.build()).transpose()?,
                #[cfg(feature = "opentelemetry-appender-tracing")]
                logs: export
                    .logs
                    .then(|| {
                        let mut logs = opentelemetry_otlp::LogExporter::builder().with_tonic();
                        if let Some(base) = &export.base_url {
                            logs = logs.with_endpoint(base.clone());
                        }
                        logs.build()
                    })
                    .transpose()?,
                runtime: None,
            })
        })
    };
    match built {
        Ok(exporters) => Ok(Exporters {
            runtime: Some(runtime),
            ..exporters
        }),
        Err(error) => {
            runtime.shutdown_background();
            Err(InitError::new(Kind::Exporter(error)))
        }
    }
}
