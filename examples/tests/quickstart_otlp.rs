//! The quickstart, run as a program, exports one trace per request to an OTLP receiver in this
//! process, over gRPC and over HTTP/protobuf: one root per trace, no orphans, every hop, exact
//! attributes, error status on the failed requests, and no span lost although the program
//! exits right after its last request.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tracing_ai_tests::receiver::{by_trace, latest, ReceivedSpan, Receiver};
use tracing_ai_tests::{example_binary, exporting_example};

const REQUESTS: usize = 8;

/// The quickstart binary, built once per run of this file.
fn quickstart() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| example_binary("quickstart")).clone()
}

fn run(endpoint: &str, protocol: &str) -> Output {
    command(endpoint, protocol)
        .output()
        .expect("the quickstart runs")
}

/// [`run`], with its log lines exported as log records.
fn run_with_logs(endpoint: &str, protocol: &str) -> Output {
    command(endpoint, protocol)
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .output()
        .expect("the quickstart runs")
}

/// The quickstart's run of [`run`], to be given more settings.
fn command(endpoint: &str, protocol: &str) -> Command {
    let mut command = Command::new(quickstart());
    command
        .args([
            "--requests",
            &REQUESTS.to_string(),
            "--error-rate",
            "0.3",
            "--seed",
            "11",
        ])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_SERVICE_NAME", "quickstart-under-test")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        )
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_LOGS_EXPORTER")
        .env_remove("RUST_LOG");
    command
}

fn int(span: &ReceivedSpan, key: &str) -> i64 {
    match span.attr(key) {
        Some(Value::IntValue(value)) => *value,
        other => panic!(
            "`{key}` of `{}` is {other:?}, not an integer",
            span.span.name
        ),
    }
}

fn double(span: &ReceivedSpan, key: &str) -> f64 {
    match span.attr(key) {
        Some(Value::DoubleValue(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}, not a double", span.span.name),
    }
}

fn check(spans: &[ReceivedSpan]) {
    let traces = by_trace(spans);
    assert_eq!(traces.len(), REQUESTS, "one trace per request");
    let mut failed_requests = 0;
    let mut tenants = HashSet::new();
    for (_, trace) in traces {
        let ids: HashSet<&[u8]> = trace.iter().map(|s| s.span.span_id.as_slice()).collect();
        let roots: Vec<_> = trace
            .iter()
            .filter(|s| s.span.parent_span_id.is_empty())
            .collect();
        assert_eq!(roots.len(), 1, "one root per trace");
        let root = roots[0];
        assert_eq!(root.span.name, "rag.query");
        for span in &trace {
            if !span.span.parent_span_id.is_empty() {
                assert!(
                    ids.contains(span.span.parent_span_id.as_slice()),
                    "orphan `{}`",
                    span.span.name
                );
            }
            assert_eq!(
                span.resource_attr("service.name"),
                Some(&Value::StringValue("quickstart-under-test".to_owned()))
            );
            assert_eq!(
                span.resource_attr("deployment.environment.name"),
                Some(&Value::StringValue("test".to_owned()))
            );
        }
        let names: HashSet<&str> = trace.iter().map(|s| s.span.name.as_str()).collect();
        for hop in [
            "embeddings text-embedding-3-small",
            "retrieval retrieve",
            "chat llama-3.1-8b-fp8",
        ] {
            assert!(names.contains(hop), "no `{hop}` in {names:?}");
        }
        let tenant = root
            .str_attr("tenant.id")
            .expect("the root's tenant")
            .to_owned();
        tenants.insert(tenant.clone());
        let failed = root
            .span
            .status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32);
        failed_requests += usize::from(failed);
        for span in trace
            .iter()
            .filter(|s| s.str_attr("gen_ai.operation.name").is_some())
        {
            assert_eq!(
                span.str_attr("tenant.id"),
                Some(tenant.as_str()),
                "`{}`",
                span.span.name
            );
            assert!(span.str_attr("request.id").is_some());
            let call_failed = span
                .span
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32);
            match span.span.name.as_str() {
                "embeddings text-embedding-3-small" => {
                    let input = int(span, "gen_ai.usage.input_tokens");
                    assert!(
                        (double(span, "gen_ai.usage.cost") - input as f64 * 0.02 / 1e6).abs()
                            < 1e-15
                    );
                }
                "chat gpt-4o-mini" if !call_failed => {
                    let (input, output) = (
                        int(span, "gen_ai.usage.input_tokens"),
                        int(span, "gen_ai.usage.output_tokens"),
                    );
                    let expected = (input as f64 * 0.15 + output as f64 * 0.60) / 1e6;
                    assert!((double(span, "gen_ai.usage.cost") - expected).abs() < 1e-15);
                    assert_eq!(span.attr("ai.fallback.used"), Some(&Value::BoolValue(true)));
                    assert_eq!(span.str_attr("ai.cost.currency"), Some("GBP"));
                }
                "chat llama-3.1-8b-fp8" => {
                    assert_eq!(span.str_attr("ai.cost.source"), Some("self-hosted"));
                    assert!(double(span, "gen_ai.usage.cost") > 0.0);
                }
                _ => {}
            }
            if call_failed {
                assert!(
                    span.str_attr("error.type").is_some(),
                    "`{}` failed without a type",
                    span.span.name
                );
            }
        }
    }
    assert_eq!(
        tenants,
        HashSet::from(["acme".to_owned(), "globex".to_owned()])
    );
    assert!(
        failed_requests > 0,
        "--error-rate 0.3 over {REQUESTS} requests failed none"
    );
}

#[test]
fn the_quickstart_exports_its_requests_over_grpc() {
    let receiver = Receiver::start();
    let output = run(&format!("http://{}", receiver.grpc), "grpc");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The program has exited: whatever it exported is already here.
    let spans = receiver.spans();
    assert!(
        !spans.is_empty(),
        "nothing arrived: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    check(&spans);
    check_metrics(&receiver);
}

/// The cost counter of each tenant is the sum of the costs on its spans, to 1e-12.
fn check_metrics(receiver: &Receiver) {
    let mut spent: HashMap<String, f64> = HashMap::new();
    for span in receiver.spans() {
        if let (Some(Value::DoubleValue(usd)), Some(tenant)) =
            (span.attr("gen_ai.usage.cost"), span.str_attr("tenant.id"))
        {
            *spent.entry(tenant.to_owned()).or_default() += usd;
        }
    }
    assert_eq!(spent.len(), 2, "two tenants: {spent:?}");
    let counted = latest(receiver.sum_points("ai.client.cost"));
    for (tenant, usd) in spent {
        let metric: f64 = counted
            .iter()
            .filter(|(attributes, _)| {
                attributes.contains(&("tenant.id".to_owned(), tenant.clone()))
            })
            .map(|(_, usd)| usd)
            .sum();
        assert!(
            (metric - usd).abs() < 1e-12,
            "{tenant}: {metric} counted, {usd} on spans"
        );
    }
}

#[test]
fn the_quickstart_exports_its_requests_over_http() {
    let receiver = Receiver::start();
    let output = run(&format!("http://{}", receiver.http), "http/protobuf");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    check(&receiver.spans());
    check_metrics(&receiver);
}

#[test]
fn with_the_backend_down_the_quickstart_finishes_and_says_so_once() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("an address");
    for protocol in ["grpc", "http/protobuf"] {
        let started = Instant::now();
        let output = run(&format!("http://{closed}"), protocol);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{protocol}: {stderr}");
        // Not a speed measurement: a bound that only a hang would break.
        assert!(took < Duration::from_secs(30), "{protocol}: took {took:?}");
        // Once for the spans, once for the metrics.
        for what in ["spans", "metrics"] {
            assert_eq!(
                stderr.matches(&format!("could not export {what}")).count(),
                1,
                "{protocol}: {stderr}"
            );
        }
        // And once, at exit, how many spans were lost: every one the same run exports to a
        // backend that is up.
        let exported = {
            let receiver = Receiver::start();
            let endpoint = match protocol {
                "grpc" => receiver.grpc,
                _ => receiver.http,
            };
            assert!(run(&format!("http://{endpoint}"), protocol)
                .status
                .success());
            receiver.spans().len()
        };
        assert!(exported > 0);
        let lost = format!(
            "[tracing-ai] {exported} spans were not exported (0 for a full queue, {exported} in \
             failed exports, 0 at the shutdown deadline)"
        );
        assert!(stderr.contains(&lost), "{protocol}: {stderr}");
        assert_eq!(stderr.lines().count(), 3, "{protocol}: {stderr}");
        assert!(
            !stderr.contains("rag.query"),
            "{protocol}: the console view is for no endpoint"
        );
    }
}

#[test]
fn with_the_backend_down_every_log_record_it_could_not_export_is_counted_at_exit() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("an address");
    for protocol in ["grpc", "http/protobuf"] {
        // What the same run logs to a backend that is up: its fallbacks' warnings.
        let logged = {
            let receiver = Receiver::start();
            let endpoint = match protocol {
                "grpc" => receiver.grpc,
                _ => receiver.http,
            };
            let output = run_with_logs(&format!("http://{endpoint}"), protocol);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{protocol}: {stderr}");
            assert!(
                !stderr.contains("log records were not exported"),
                "{protocol}: {stderr}"
            );
            receiver.logs().len()
        };
        assert!(logged > 0, "{protocol}: the quickstart logs its fallbacks");

        let output = run_with_logs(&format!("http://{closed}"), protocol);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{protocol}: {stderr}");
        assert_eq!(
            stderr.matches("could not export logs").count(),
            1,
            "{protocol}: {stderr}"
        );
        let lost = format!(
            "[tracing-ai] {logged} log records were not exported ({logged} in failed exports, 0 \
             dropped for a full queue or left at the shutdown deadline)"
        );
        assert!(stderr.contains(&lost), "{protocol}: {stderr}");
    }
}

#[test]
fn without_an_endpoint_the_quickstart_prints_each_request_tree_with_costs() {
    let output = Command::new(quickstart())
        .args(["--requests", "5", "--seed", "4"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()
        .expect("the quickstart runs");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let trees: Vec<&str> = stderr
        .split("\n\n")
        .filter(|tree| tree.starts_with("rag.query"))
        .collect();
    assert_eq!(trees.len(), 5, "{stderr}");
    for tree in trees {
        assert!(
            tree.contains("├─ embeddings text-embedding-3-small"),
            "{tree}"
        );
        assert!(tree.contains("retrieval retrieve"), "{tree}");
        assert!(tree.contains("chat llama-3.1-8b-fp8"), "{tree}");
        let summary = tree.lines().last().expect("a summary line");
        assert!(
            summary.starts_with("= ") && summary.contains(" GBP)") && summary.contains("· tenant "),
            "{tree}"
        );
    }
}

/// Runs the quickstart with `args`, exporting to `endpoint` over gRPC when there is one, with
/// `TRACING_AI_SAMPLE_RATIO` set to `ratio_env` when given.
fn run_sampled(endpoint: Option<&str>, args: &[&str], ratio_env: Option<&str>) -> String {
    let mut command = Command::new(quickstart());
    command
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("TRACING_AI_SAMPLE_RATIO")
        .env_remove("RUST_LOG");
    match endpoint {
        Some(endpoint) => command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        None => command.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT"),
    };
    if let Some(ratio) = ratio_env {
        command.env("TRACING_AI_SAMPLE_RATIO", ratio);
    }
    let output = command.output().expect("the quickstart runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The request id on a console tree's first line.
fn request_id(first_line: &str) -> String {
    let (_, rest) = first_line
        .split_once("request ")
        .expect("the request's id on its line");
    rest.split_whitespace().next().expect("an id").to_owned()
}

const SAMPLED: &[&str] = &["--requests", "40", "--error-rate", "0.2", "--seed", "5"];

/// With a sample ratio of 0, the console marks exactly the requests with a failed call as
/// kept, and the backend receives exactly those, whole, whether the ratio comes from the flag
/// or from `TRACING_AI_SAMPLE_RATIO`.
#[test]
fn with_a_sample_ratio_only_the_requests_marked_kept_reach_the_backend() {
    let console = run_sampled(None, &[SAMPLED, &["--sample-ratio", "0"]].concat(), None);
    let mut marked_kept = HashSet::new();
    let mut marked_dropped = 0;
    for tree in console
        .split("\n\n")
        .filter(|tree| tree.starts_with("rag.query"))
    {
        let first = tree.lines().next().expect("a first line");
        if tree.contains("FAILED") {
            assert!(first.ends_with("[kept: error]"), "{tree}");
            marked_kept.insert(request_id(first));
        } else {
            assert!(first.ends_with("[not exported]"), "{tree}");
            marked_dropped += 1;
        }
    }
    assert_eq!(marked_kept.len() + marked_dropped, 40, "{console}");
    assert!(!marked_kept.is_empty() && marked_dropped > 0, "{console}");

    for (args, ratio_env) in [
        ([SAMPLED, &["--sample-ratio", "0"]].concat(), None),
        (SAMPLED.to_vec(), Some("0")),
    ] {
        let receiver = Receiver::start();
        run_sampled(Some(&format!("http://{}", receiver.grpc)), &args, ratio_env);
        let spans = receiver.spans();
        let mut arrived = HashSet::new();
        for trace in by_trace(&spans).values() {
            let root = trace
                .iter()
                .find(|span| span.span.parent_span_id.is_empty())
                .expect("every trace arrives with its root");
            assert_eq!(root.str_attr("ai.sampling.reason"), Some("error"));
            assert!(
                trace.len() >= 4,
                "root, embedding, retrieval and generation"
            );
            arrived.insert(root.str_attr("request.id").expect("an id").to_owned());
        }
        assert_eq!(arrived, marked_kept, "{ratio_env:?}");
    }
}

/// With requests in flight together, each tree is still printed whole, once.
#[test]
fn concurrent_requests_are_printed_each_as_one_whole_tree() {
    let console = run_sampled(
        None,
        &["--requests", "12", "--concurrency", "4", "--seed", "3"],
        None,
    );
    let mut ids = HashSet::new();
    for tree in console
        .split("\n\n")
        .filter(|tree| tree.starts_with("rag.query"))
    {
        ids.insert(request_id(tree.lines().next().expect("a first line")));
        assert!(tree.contains("embeddings text-embedding-3-small"), "{tree}");
        assert!(tree.contains("retrieval retrieve"), "{tree}");
        assert!(
            tree.lines()
                .last()
                .is_some_and(|line| line.starts_with("= ")),
            "{tree}"
        );
    }
    let expected: HashSet<String> = (0..12).map(|n| format!("req-{n:04}")).collect();
    assert_eq!(ids, expected, "{console}");
}

/// A resource attribute whose name merely ends in `service.name` names nothing: the service
/// keeps the name its code gives (issue 12; a substring test once relabelled it
/// `unknown_service:...`), and the attribute is exported as given.
#[test]
fn a_lookalike_resource_attribute_does_not_rename_the_service() {
    let receiver = Receiver::start();
    tracing_ai_tests::run_to_success(
        exporting_example("quickstart", &format!("http://{}", receiver.grpc), "grpc")
            .args(["--requests", "1", "--seed", "3"])
            .env("OTEL_RESOURCE_ATTRIBUTES", "myservice.name=x"),
    );
    let spans = receiver.spans();
    assert!(!spans.is_empty());
    for span in &spans {
        assert_eq!(
            span.resource_attr("service.name"),
            Some(&Value::StringValue("quickstart".to_owned()))
        );
        assert_eq!(
            span.resource_attr("myservice.name"),
            Some(&Value::StringValue("x".to_owned()))
        );
    }
}
