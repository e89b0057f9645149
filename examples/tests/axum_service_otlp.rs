//! The axum service, run as a program, exports each request as one trace whose root is the
//! HTTP server span, with the tenant from the request's header on every AI call, and continues
//! a caller's trace from its `traceparent` header.

use std::collections::HashSet;
use std::process::Command;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_ai_tests::example_binary;
use tracing_ai_tests::receiver::{by_trace, Receiver};

const REQUESTS: usize = 6;

#[test]
fn each_request_is_one_trace_under_its_server_span() {
    let receiver = Receiver::start();
    let output = Command::new(example_binary("axum_service"))
        .args(["--port", "0", "--self-test", &REQUESTS.to_string()])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.grpc),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()
        .expect("the service runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches(": 200").count(), 4, "{stdout}");
    assert_eq!(stdout.matches(": 502").count(), 2, "{stdout}");

    let spans = receiver.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), REQUESTS, "one trace per request");
    let caller_trace = hex("0af7651916cd43dd8448eb211c80319c");
    assert!(
        traces.contains_key(&caller_trace),
        "the caller's trace was not continued"
    );
    let mut tenants = HashSet::new();
    for (trace_id, trace) in &traces {
        let ids: HashSet<&[u8]> = trace.iter().map(|s| s.span.span_id.as_slice()).collect();
        let roots: Vec<_> = trace
            .iter()
            .filter(|s| !ids.contains(s.span.parent_span_id.as_slice()))
            .collect();
        assert_eq!(roots.len(), 1, "one local root per trace");
        let root = roots[0];
        assert_eq!(root.span.name, "GET /ask");
        assert_eq!(root.span.kind, 2, "a server span"); // SPAN_KIND_SERVER
        if *trace_id == caller_trace {
            assert_eq!(
                root.span.parent_span_id,
                hex("b7ad6b7169203331"),
                "the caller's span is the parent"
            );
        } else {
            assert!(root.span.parent_span_id.is_empty());
        }
        assert_eq!(
            root.resource_attr("service.name"),
            Some(&Value::StringValue("rag-service".to_owned()))
        );
        let tenant = root.str_attr("tenant.id").expect("the header's tenant");
        tenants.insert(tenant.to_owned());
        assert_eq!(root.attr("request.id"), None, "no header, no empty id");
        for span in trace
            .iter()
            .filter(|s| s.str_attr("gen_ai.operation.name").is_some())
        {
            assert_eq!(
                span.str_attr("tenant.id"),
                Some(tenant),
                "`{}`",
                span.span.name
            );
            assert_eq!(span.str_attr("feature.id"), Some("ask"));
        }
    }
    assert_eq!(
        tenants,
        HashSet::from(["acme".to_owned(), "globex".to_owned()])
    );
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Two processes, a client (this test, with its own tracer provider and tail sampler) and the
/// service (with `TRACING_AI_SAMPLE_RATIO`), sharing nothing but the `traceparent` header:
/// the service keeps every trace the client kept, and keeps no other one but for its own
/// errors.
#[test]
fn the_service_keeps_the_traces_its_client_kept() {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
    use tracing_ai::sampling::TailSampling;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    const RATIO: &str = "0.2";
    const CALLS: usize = 100;

    let receiver = Receiver::start();
    let (service, address) = tracing_ai_tests::spawn_listening(
        Command::new(example_binary("axum_service"))
            .args(["--port", "0"])
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.grpc),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env("TRACING_AI_SAMPLE_RATIO", RATIO)
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    );

    // The client: its own provider, the same ratio, spans kept in memory.
    let sampling = TailSampling::builder()
        .with_sample_ratio(RATIO.parse().expect("a ratio"))
        .build()
        .expect("valid");
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampling.sampler())
        .with_span_processor(sampling.processor(SimpleSpanProcessor::new(exporter.clone())))
        .build();
    let client = tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("client")));
    let http = reqwest::blocking::Client::new();
    let propagator = TraceContextPropagator::new();
    let mut called = HashSet::new();
    tracing::subscriber::with_default(client, || {
        for _ in 0..CALLS {
            let span = tracing::info_span!("GET /ask (client)", otel.kind = "client");
            let mut headers = std::collections::HashMap::new();
            propagator.inject_context(&span.context(), &mut headers);
            called.insert(
                span.context()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_bytes()
                    .to_vec(),
            );
            let status = span.in_scope(|| {
                http.get(format!("http://{address}/ask?q=What+is+a+span"))
                    .header("x-tenant-id", "acme")
                    .header("traceparent", &headers["traceparent"])
                    .send()
                    .expect("the service answers")
                    .status()
            });
            assert_eq!(status, 200);
        }
    });
    let client_kept: HashSet<Vec<u8>> = exporter
        .get_finished_spans()
        .expect("the client's spans")
        .iter()
        .map(|span| span.span_context.trace_id().to_bytes().to_vec())
        .collect();

    // SIGTERM: the service stops, and its guard exports what it kept.
    tracing_ai_tests::terminate(service);

    let spans = receiver.spans();
    let service_traces = by_trace(&spans);
    for (trace_id, trace) in &service_traces {
        assert!(
            called.contains(trace_id),
            "a trace the client did not start"
        );
        let root = trace
            .iter()
            .find(|span| span.span.name == "GET /ask")
            .expect("the server span, with the trace");
        let reason = root.str_attr("ai.sampling.reason");
        if client_kept.contains(trace_id) {
            // The service's own errors come first; otherwise it followed the client.
            assert!(matches!(reason, Some("parent" | "error")), "{reason:?}");
        } else {
            assert_eq!(reason, Some("error"), "kept without the client's flag");
        }
    }
    assert!(
        (5..=40).contains(&client_kept.len()),
        "about 20% of {CALLS}: {}",
        client_kept.len()
    );
    for trace_id in &client_kept {
        assert!(
            service_traces.contains_key(trace_id),
            "the client kept a trace the service dropped"
        );
    }
}
