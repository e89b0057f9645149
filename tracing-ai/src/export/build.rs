//! Stage two of `init()`: every object that can fail, made from the plan, with no global
//! state touched. What it made is held by the guard from the first step on, so that an error
//! part-way drops the guard, which shuts down what exists.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::resource::{
    EnvResourceDetector, ResourceDetector as _, SdkProvidedResourceDetector,
};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use tracing::Dispatch;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};

use super::error::{InitError, Kind};
use super::guard::OtelGuard;
use super::plan::Plan;
use super::queue::{admit_kept, ExportQueue};
use super::reporting::Reporting;
use super::transport;
use crate::ConsoleLayer;

/// What [`build`] made: the subscriber and the tracer provider to install, and the guard that
/// owns the rest.
pub(crate) struct Built {
    pub(crate) dispatch: Dispatch,
    /// Installed as OpenTelemetry's global provider, for code that asks it for a tracer.
    pub(crate) global_provider: Option<SdkTracerProvider>,
    pub(crate) guard: OtelGuard,
}

pub(crate) fn build(plan: Plan) -> Result<Built, InitError> {
    let mut guard = OtelGuard::new(plan.shutdown_timeout);
    let mut layer = plan.layer;
    let mut global_provider = None;
    // `tracing` events as OTLP log records, when asked for (`ExportBuilder::with_logs`).
    #[cfg_attr(not(feature = "opentelemetry-appender-tracing"), allow(unused_mut))]
    let mut logs_layer: Option<Box<dyn tracing_subscriber::Layer<_> + Send + Sync>> = None;
    let tracer = match (&plan.export, &plan.sampling) {
        (Some(export), sampling) => {
            let exporters = transport::exporters(export)?;
            guard.runtime = exporters.runtime;
            let spans = Reporting::new(exporters.spans, "spans", &export.shown_endpoint);
            guard.spans_failing = spans.failing.clone();
            let resource = resource(
                plan.service_name,
                plan.service_version,
                plan.service_instance_id,
            );
            let mut queue_config = export.queue.clone();
            queue_config.attribution_keys = layer.exported_attribution_keys();
            if let Some(sampling) = &sampling {
                // Any trace the sampler hands on whole fits in the queue when it is empty.
                queue_config.capacity = queue_config.capacity.max(sampling.max_held_spans() + 1);
            }
            let queue = ExportQueue::new(spans, queue_config)
                .map_err(|e| InitError::new(Kind::ExportThread(e)))?;
            guard.export = Some(queue.stats());
            let provider = SdkTracerProvider::builder().with_resource(resource.clone());
            let (provider, stats) = match sampling {
                Some(sampling) => {
                    let processor = sampling.processor_forwarding(queue, admit_kept);
                    let stats = processor.stats();
                    let provider = provider
                        .with_sampler(sampling.sampler())
                        .with_span_processor(processor);
                    (provider, Some(stats))
                }
                None => (provider.with_span_processor(queue), None),
            };
            guard.sampling = stats;
            let provider = provider.build();
            guard.provider = Some(provider.clone());
            global_provider = Some(provider.clone());
            if let Some(metrics) = exporters.metrics {
                let metrics = Reporting::new(metrics, "metrics", &export.shown_metrics_endpoint);
                guard.metrics_failing = metrics.failing.clone();
                let meters = SdkMeterProvider::builder()
                    .with_resource(resource.clone())
                    .with_reader(PeriodicReader::builder(metrics).build())
                    .build();
                guard.meters = Some(meters.clone());
                let meter = meters.meter("tracing-ai");
                if let Some(stats) = &guard.sampling {
                    stats.report_to(&meter);
                }
                if let Some(stats) = &guard.export {
                    stats.report_to(&meter);
                }
                layer = layer.with_meter(meter);
            }
            #[cfg(feature = "opentelemetry-appender-tracing")]
            if let (Some(logs), Some(stats)) = (exporters.logs, guard.export.clone()) {
                let logs = Reporting::new(logs, "logs", &export.shown_logs_endpoint)
                    .counting_logs_in(stats.clone());
                guard.logs_failing = logs.failing.clone();
                let loggers = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
                    .with_resource(resource)
                    .with_log_processor(super::log_lines::PlainLogLines::new(
                        opentelemetry_sdk::logs::BatchLogProcessor::builder(logs).build(),
                        stats,
                    ))
                    .build();
                logs_layer = Some(
                    opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                        &loggers,
                    )
                    .boxed(),
                );
                guard.loggers = Some(loggers);
            }
            Some(provider.tracer("tracing-ai"))
        }
        (None, Some(sampling)) if plan.console => {
            // Nothing is exported, but the console shows what would have been.
            let processor = sampling.processor(NothingExported);
            guard.sampling = Some(processor.stats());
            let provider = SdkTracerProvider::builder()
                .with_sampler(sampling.sampler())
                .with_span_processor(processor);
            let provider = provider.build();
            guard.provider = Some(provider.clone());
            Some(provider.tracer("tracing-ai"))
        }
        // Nothing exported and nothing sampled, but the service trusts its callers' baggage:
        // an OpenTelemetry layer (exporting nowhere) is what continues a caller's context,
        // without which the console would show no tenant and budgets would not know it.
        (None, None) if plan.console && layer.trusts_baggage() => {
            let provider = SdkTracerProvider::builder().build();
            guard.provider = Some(provider.clone());
            Some(provider.tracer("tracing-ai"))
        }
        (None, _) => None,
    };
    // Composed as `AiLayer::with_tracer` composes it for any user: one way, one set of
    // exported attributes.
    let ai = layer.build()?;
    guard.handles = Some((ai.prices(), ai.budgets()));
    let ai = match tracer {
        Some(tracer) => ai.with_tracer(tracer).boxed(),
        None => ai.for_opentelemetry().boxed(),
    };
    let console = match (plan.console, &guard.sampling) {
        (true, Some(stats)) => ConsoleLayer::stderr().with_sampling(stats.clone()).boxed(),
        (true, None) => ConsoleLayer::stderr().boxed(),
        (false, _) => tracing_subscriber::layer::Identity::new().boxed(),
    };
    // The AI layer goes under the OpenTelemetry layer, so that it writes a span's cost before
    // the span is exported, and under the console, which prints what it wrote.
    let subscriber = tracing_subscriber::registry()
        .with(plan.filter)
        .with(ai)
        .with(logs_layer)
        .with(console);
    Ok(Built {
        dispatch: Dispatch::new(subscriber),
        global_provider,
        guard,
    })
}

/// The resource: the service as the environment names it (`OTEL_SERVICE_NAME`, or
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, read by the SDK's detectors), else as the code
/// does, else `unknown_service:<program>`; and this process as one instance of it.
fn resource(
    service_name: Option<String>,
    service_version: Option<String>,
    service_instance_id: Option<String>,
) -> Resource {
    let mut resource = Resource::builder();
    let named_by_env = SdkProvidedResourceDetector
        .detect()
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if let (false, Some(name)) = (named_by_env, service_name) {
        resource = resource.with_service_name(name);
    }
    if let Some(version) = service_version {
        resource = resource.with_attribute(KeyValue::new("service.version", version));
    }
    let instance_by_env = EnvResourceDetector::new()
        .detect()
        .get(&opentelemetry::Key::from_static_str(SERVICE_INSTANCE_ID))
        .is_some();
    if !instance_by_env {
        let id = service_instance_id.unwrap_or_else(random_uuid);
        resource = resource.with_attribute(KeyValue::new(SERVICE_INSTANCE_ID, id));
    }
    resource.build()
}

const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// A random UUID, version 4 (RFC 9562), from the random bits the SDK draws its trace ids from.
/// Without a `service.instance.id`, replicas of a service push their counters into one series,
/// which then jumps between their values: every sum over replicas is wrong.
fn random_uuid() -> String {
    use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
    let mut bits = u128::from_be_bytes(RandomIdGenerator::default().new_trace_id().to_bytes());
    // Version 4, variant 0b10.
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The end of the span pipeline when there is no endpoint: the tail sampler decides, for the
/// console to show, and nothing is exported.
#[derive(Debug)]
struct NothingExported;

impl SpanProcessor for NothingExported {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::random_uuid;

    #[test]
    fn each_process_id_is_a_version_4_uuid_of_its_own() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_ne!(a, b);
        for id in [a, b] {
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(groups[2].starts_with('4'), "version 4: {id}");
            assert!(
                matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "variant: {id}"
            );
        }
    }
}
