//! Behind a backend slower than the application (issue 12): the quickstart's 2,000 requests,
//! 16 in flight, 3% failing, sampled at 5%, exported over gRPC to a receiver that takes half a
//! second per export of at most 128 spans (256 spans a second, about half what the quickstart
//! keeps), with 30 s at exit to catch up. OpenTelemetry's batch processor, with its queue of
//! 2,048 spans, lost failed requests there, in part or whole, and said nothing. Here every
//! failed request arrives, whole; every trace that arrives is whole; and a backend that never
//! answers costs the program the shutdown timeout once, with every span it could not export
//! counted on stderr.

use std::collections::{HashMap, HashSet};
use std::process::Output;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tracing_ai_tests::receiver::{by_trace, ReceivedSpan, Receiver};
use tracing_ai_tests::{exporting_example, silent_backend};

const REQUESTS: usize = 2_000;

fn run(endpoint: &str, requests: usize, ratio: &str, env: &[(&str, &str)]) -> Output {
    tracing_ai_tests::run_to_success(
        exporting_example("quickstart", endpoint, "grpc")
            .args(["--requests", &requests.to_string()])
            .args(["--seed", "7", "--error-rate", "0.03", "--concurrency", "16"])
            .args(["--sample-ratio", ratio])
            .env("OTEL_METRICS_EXPORTER", "none")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied()),
    )
}

/// Each request's trace, by its `request.id`: how many spans, and whether one failed.
fn requests(spans: &[ReceivedSpan]) -> HashMap<String, (usize, bool)> {
    let mut requests = HashMap::new();
    for trace in by_trace(spans).values() {
        let root = trace
            .iter()
            .find(|span| span.span.parent_span_id.is_empty())
            .unwrap_or_else(|| panic!("a trace arrived without its root: {trace:?}"));
        let id = root
            .str_attr("request.id")
            .expect("a request id")
            .to_owned();
        let failed = trace.iter().any(|span| {
            span.span
                .status
                .as_ref()
                .is_some_and(|status| status.code == StatusCode::Error as i32)
        });
        assert!(
            requests.insert(id.clone(), (trace.len(), failed)).is_none(),
            "{id} arrived as two traces"
        );
    }
    requests
}

#[test]
fn behind_a_slow_backend_every_failed_request_arrives_whole() {
    // The same requests unsampled, to a fast receiver: what each trace is made of.
    let reference = Receiver::start();
    run(&format!("http://{}", reference.grpc), REQUESTS, "1", &[]);
    let all = requests(&reference.spans());
    assert_eq!(all.len(), REQUESTS);
    let failed: HashSet<&String> = all
        .iter()
        .filter(|(_, (_, failed))| *failed)
        .map(|(id, _)| id)
        .collect();
    assert!(failed.len() > 100, "{} failed", failed.len());

    let slow = Receiver::start_slow(Duration::from_millis(500));
    let output = run(
        &format!("http://{}", slow.grpc),
        REQUESTS,
        "0.05",
        &[
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128"),
            ("TRACING_AI_SHUTDOWN_TIMEOUT", "30000"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("not exported"), "{stderr}");
    let arrived = requests(&slow.spans());
    for (id, (spans, _)) in &arrived {
        assert_eq!(*spans, all[id].0, "{id} arrived in part");
    }
    let missing: Vec<_> = failed
        .iter()
        .filter(|id| !arrived.contains_key(**id))
        .collect();
    assert!(missing.is_empty(), "failed requests lost: {missing:?}");
    // The others by the ratio: about 5% of the 2,000.
    let by_ratio = arrived.len() - failed.len();
    assert!(
        (40..=170).contains(&by_ratio),
        "{by_ratio} kept by the ratio"
    );
}

#[test]
fn a_backend_that_never_answers_costs_the_shutdown_timeout_once_and_every_span_is_counted() {
    // Few enough spans that they wait for the timer, and all of them are left at exit.
    let reference = Receiver::start();
    run(&format!("http://{}", reference.grpc), 20, "1", &[]);
    let spans = reference.spans().len();

    let silent = silent_backend();
    let started = Instant::now();
    let output = run(
        &format!("http://{silent}"),
        20,
        "1",
        // Metrics too, so that both signals wait on the backend at exit.
        &[("OTEL_METRICS_EXPORTER", "otlp")],
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lost = format!(
        "[tracing-ai] {spans} spans were not exported (0 for a full queue, 0 in failed \
         exports, {spans} at the shutdown deadline)"
    );
    assert!(stderr.contains(&lost), "{stderr}");
    // One deadline of 5 s for spans and metrics together, not 5 s each one after the other:
    // a bound with room for a slow machine, that only waiting twice would break.
    assert!(
        took < Duration::from_secs(9),
        "exit took {took:?}: {stderr}"
    );
}

#[test]
fn log_records_a_backend_never_took_are_counted_at_the_deadline() {
    // Half the requests fall back, and each fallback logs a warning.
    let run = |endpoint: &str| {
        tracing_ai_tests::run_to_success(
            exporting_example("quickstart", endpoint, "grpc")
                .args(["--requests", "20", "--seed", "7", "--error-rate", "0.5"])
                .env("OTEL_METRICS_EXPORTER", "none")
                .env("OTEL_LOGS_EXPORTER", "otlp")
                .env_remove("RUST_LOG"),
        )
    };
    let reference = Receiver::start();
    run(&format!("http://{}", reference.grpc));
    let logged = reference.logs().len();
    assert!(logged > 0, "the fallbacks log");

    let silent = silent_backend();
    let started = Instant::now();
    let output = run(&format!("http://{silent}"));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Not refused, not exported: left in the log pipeline when the deadline passed.
    let lost = format!(
        "[tracing-ai] {logged} log records were not exported (0 in failed exports, {logged} \
         dropped for a full queue or left at the shutdown deadline)"
    );
    assert!(stderr.contains(&lost), "{stderr}");
    // Spans and logs wait out one deadline together (a bound only waiting twice would break).
    assert!(
        took < Duration::from_secs(9),
        "exit took {took:?}: {stderr}"
    );
}
