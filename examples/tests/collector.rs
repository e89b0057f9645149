//! Tail sampling past one process: two replicas of the three services (examples/services.rs),
//! each gateway calling the other replica's embedding service, export to a load-balancing
//! OpenTelemetry Collector, which routes each trace by its id to one of two sampling
//! Collectors, which keep every request with a failure (even one only the LLM service saw)
//! and 5% of the others, and send them to Jaeger. The configurations are
//! tests/collector/*.yaml, the files the services guide (`tracing_ai::guides::services`) quotes; the Collector is built by
//! scripts/test.sh (tests/collector). Without the routing by trace id (each replica exporting
//! to its own sampler), this test fails on partial traces.
//!
//! The load balancer also passes the six processes' metrics on to Prometheus: whatever share of
//! the traces was kept, each tenant's spend there is all of its requests', one series per
//! tenant across the services and replicas.

use std::collections::{HashMap, HashSet};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracing_ai_tests::jaeger::{go_program, repository, start_on_free_ports, Jaeger, Trace};
use tracing_ai_tests::prometheus::Prometheus;
use tracing_ai_tests::{exporting_example, spawn_listening, terminate};

/// A running Collector with one of tests/collector's configurations, and the port its OTLP/gRPC
/// receiver listens on; stopped when dropped.
struct Collector(Child, u16);

impl Collector {
    fn start(config: &str, env: &[(&str, String)]) -> Self {
        let program = go_program("otelcol").expect("checked before the test starts any");
        start_on_free_ports(&format!("the Collector ({config})"), |[listen], log| {
            let child = Command::new(&program)
                .arg("--config")
                .arg(format!(
                    "file:{}",
                    repository().join("tests/collector").join(config).display()
                ))
                .arg("--config")
                .arg(format!(
                    "file:{}",
                    repository()
                        .join("tests/collector/one-machine.yaml")
                        .display()
                ))
                .env("OTLP_GRPC_LISTEN", format!("127.0.0.1:{listen}"))
                .envs(env.iter().map(|(k, v)| (*k, v)))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("the Collector starts");
            let mut collector = Self(child, listen);
            let started = Instant::now();
            while TcpStream::connect(("127.0.0.1", listen)).is_err() {
                if let Ok(Some(status)) = collector.0.try_wait() {
                    return Err(status);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "the Collector ({config}) did not listen within a minute"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(collector)
        })
    }

    /// Its OTLP/gRPC receiver, `127.0.0.1:port`.
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.1)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const REQUESTS: usize = 2_000;
/// 3% fail: the first three of every hundred.
fn fails(request: usize) -> bool {
    request % 100 < 3
}
/// 2% more have a failure only the LLM service sees: the self-hosted model fails on a long
/// question and the hosted fallback answers. The gateway sees a success; only a decision on
/// the whole trace keeps the gateway's part too.
fn recovers(request: usize) -> bool {
    (3..5).contains(&(request % 100))
}
const SHORT_QUESTION: &str = "What+is+a+span%3F";
const LONG_QUESTION: &str = "How+do+spans+nest+across+await+points+in+an+async+Rust+service%3F";
/// Spans of a whole request: the gateway's server span, its two client spans and the
/// retrieval; the embedding service's server span and embedding; the LLM service's server
/// span and its call, or, when the self-hosted model fails, its two (and the fallback).
const WHOLE: usize = 8;
const WHOLE_FAILED: usize = 9;

/// Sends every request, eight at a time, alternating between the gateways; the number that
/// did not get the status they should.
fn send(gateways: &[String]) -> usize {
    let next = AtomicUsize::new(0);
    let wrong = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let http = reqwest::blocking::Client::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= REQUESTS {
                        return;
                    }
                    let tenant = ["acme", "globex"][n % 2];
                    let status = http
                        .get(format!(
                            "http://{}/ask?q={}&fail={}",
                            gateways[n % gateways.len()],
                            if recovers(n) {
                                LONG_QUESTION
                            } else {
                                SHORT_QUESTION
                            },
                            fails(n)
                        ))
                        .header("authorization", format!("Bearer {tenant}-key"))
                        .header("x-request-id", format!("req-{n}"))
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != if fails(n) { 502 } else { 200 } {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    wrong.into_inner()
}

fn request_id(trace: &Trace) -> String {
    let roots = trace.roots();
    assert_eq!(roots.len(), 1, "one root in {}: {roots:?}", trace.id);
    roots[0]
        .str("request.id")
        .expect("the gateway's request id")
        .to_owned()
}

#[test]
fn behind_the_collectors_every_failed_request_arrives_whole_and_about_5_percent_of_the_rest() {
    if go_program("otelcol").is_none() {
        return;
    }
    let Some(jaeger) = Jaeger::start() else {
        return;
    };
    let Some(prometheus) = Prometheus::start() else {
        return;
    };
    let backend = jaeger.otlp_grpc.trim_start_matches("http://").to_owned();
    let samplers =
        [(); 2].map(|()| Collector::start("sampling.yaml", &[("BACKEND", backend.clone())]));
    let balancer = Collector::start(
        "loadbalancing.yaml",
        &[
            ("SAMPLER_1", samplers[0].address()),
            ("SAMPLER_2", samplers[1].address()),
            ("PROMETHEUS_OTLP", prometheus.otlp_metrics_endpoint()),
        ],
    );
    // Two replicas of the three services, every process exporting to the load balancer, with
    // no sampling of their own (TRACING_AI_SAMPLE_RATIO unset: every trace leaves). Each
    // gateway calls the other replica's embedding service, so that a request's spans leave
    // from processes of both replicas: only routing by trace id brings them together.
    let endpoint = format!("http://{}", balancer.address());
    let service = |role: &str, upstreams: &[String]| {
        spawn_listening(
            exporting_example("services", &endpoint, "grpc")
                .args(["--role", role, "--port", "0"])
                .args(upstreams)
                .env("OTEL_BSP_SCHEDULE_DELAY", "500"),
        )
    };
    let embedding = [service("embedding", &[]), service("embedding", &[])];
    let llm = [service("llm", &[]), service("llm", &[])];
    let gateway = [(1, 0), (0, 1)].map(|(e, l)| {
        service(
            "gateway",
            &[
                "--embedding".to_owned(),
                format!("http://{}", embedding[e].1),
                "--llm".to_owned(),
                format!("http://{}", llm[l].1),
            ],
        )
    });
    let gateways: Vec<String> = gateway.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(
        send(&gateways),
        0,
        "requests answered with the wrong status"
    );
    // Gateways first: each service exports its last spans as it stops.
    for (process, _) in gateway.into_iter().chain(embedding).chain(llm) {
        terminate(process);
    }

    // The samplers decide 10 s after a trace's first span; wait until the failed traces are
    // all there and the count has not moved for 5 s.
    let failed_total = (0..REQUESTS).filter(|n| fails(*n)).count();
    let started = Instant::now();
    let (mut traces, mut settled) = (Vec::new(), Instant::now());
    loop {
        let now = jaeger.traces("gateway");
        if now.len() != traces.len() {
            settled = Instant::now();
        }
        traces = now;
        let failed = traces
            .iter()
            .filter(|t| t.roots().iter().any(|r| r.failed()))
            .count();
        if (failed >= failed_total && settled.elapsed() > Duration::from_secs(5))
            || started.elapsed() > Duration::from_secs(120)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every trace Jaeger has, from whichever service: a part kept without the gateway's
    // would be missing from the gateway's list.
    let mut all: HashMap<String, Trace> = HashMap::new();
    for service in ["gateway", "embedding-service", "llm-service"] {
        all.extend(
            jaeger
                .traces(service)
                .into_iter()
                .map(|t| (t.id.clone(), t)),
        );
    }
    let mut kept: HashMap<String, &Trace> = HashMap::new();
    for trace in all.values() {
        // No partial trace: every span of every service, whichever replica sent it.
        let services: HashSet<&str> = trace.spans.iter().map(|s| s.service.as_str()).collect();
        assert!(
            trace.orphans().is_empty() && services.len() == 3,
            "a partial trace {}: {services:?}, orphans {:?}",
            trace.id,
            trace.orphans()
        );
        assert!(
            kept.insert(request_id(trace), trace).is_none(),
            "a request twice"
        );
    }
    assert_eq!(kept.len(), traces.len());
    let (mut failed, mut recovered, mut others) = (0, 0, 0);
    for (id, trace) in &kept {
        let n: usize = id.trim_start_matches("req-").parse().expect("req-N");
        let expected = if fails(n) || recovers(n) {
            WHOLE_FAILED
        } else {
            WHOLE
        };
        assert_eq!(trace.spans.len(), expected, "{id}: {:?}", trace.spans);
        if fails(n) {
            failed += 1;
        } else if recovers(n) {
            recovered += 1;
        } else {
            others += 1;
        }
    }
    let recovered_total = (0..REQUESTS).filter(|n| recovers(*n)).count();
    let succeeded = REQUESTS - failed_total - recovered_total;
    eprintln!(
        "kept {failed} failed requests of {failed_total}, {recovered} recovered of \
         {recovered_total}, {others} others of {succeeded}"
    );
    assert_eq!(failed, failed_total, "every failed request, whole");
    assert_eq!(
        recovered, recovered_total,
        "every request with a failed call, whole"
    );
    // 5% of 1,900 is 95, with a standard deviation of 9.5: five of them either side.
    let mean = succeeded as f64 * 0.05;
    let spread = 5.0 * (succeeded as f64 * 0.05 * 0.95).sqrt();
    assert!(
        (others as f64 - mean).abs() <= spread,
        "{others} of {succeeded} successful requests kept, expected {mean} ± {spread:.0}"
    );

    // Spend in Prometheus, counted before the samplers dropped most traces. The embeddings
    // are priced by their tokens: each question costs what its kept spans say, every time.
    let mut per_question: HashMap<bool, f64> = HashMap::new();
    for (id, trace) in &kept {
        let n: usize = id.trim_start_matches("req-").parse().expect("req-N");
        let embedding = trace
            .spans
            .iter()
            .find(|span| span.name == "embeddings text-embedding-3-small")
            .and_then(|span| span.f64("gen_ai.usage.cost"))
            .expect("a priced embedding");
        let known = per_question.entry(recovers(n)).or_insert(embedding);
        assert_eq!(*known, embedding, "{id}: the same question, another cost");
    }
    let mut expected: HashMap<&str, f64> = HashMap::new();
    for n in 0..REQUESTS {
        *expected.entry(["acme", "globex"][n % 2]).or_default() += per_question[&recovers(n)];
    }
    let embeddings = |answer: &[tracing_ai_tests::prometheus::Series]| -> HashMap<String, f64> {
        answer
            .iter()
            .map(|(labels, usd)| (labels["tenant_id"].clone(), *usd))
            .collect()
    };
    let close = |answer: &HashMap<String, f64>| {
        expected.iter().all(|(tenant, usd)| {
            answer
                .get(*tenant)
                .is_some_and(|got| (got - usd).abs() < 1e-9)
        })
    };
    // The services pushed their last metrics as they stopped; the balancer passes them on.
    let answer = prometheus.query_until(
        "sum by (tenant_id) (increase(ai_client_cost_USD_total\
         {gen_ai_request_model=\"text-embedding-3-small\"}[10m] anchored))",
        |answer| close(&embeddings(answer)),
    );
    let answer = embeddings(&answer);
    assert_eq!(answer.len(), 2, "one series per tenant: {answer:?}");
    assert!(
        close(&answer),
        "Prometheus {answer:?}, the requests {expected:?}"
    );
    // All of a tenant's spend, from three services of two replicas each: one series.
    let tenants =
        prometheus.query("sum by (tenant_id) (increase(ai_client_cost_USD_total[10m] anchored))");
    let mut names: Vec<&str> = tenants
        .iter()
        .map(|(labels, _)| labels["tenant_id"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["acme", "globex"], "{tenants:?}");
}

#[test]
fn the_services_guide_quotes_the_collector_configurations_the_tests_run() {
    let readme = std::fs::read_to_string(repository().join("tracing-ai/src/docs/services.md"))
        .expect("the guide");
    for config in ["loadbalancing.yaml", "sampling.yaml"] {
        let file = std::fs::read_to_string(repository().join("tests/collector").join(config))
            .expect("the configuration");
        assert!(
            readme.contains(&format!("```yaml\n{file}```")),
            "the services guide's copy of tests/collector/{config} differs from the file: paste the file"
        );
    }
}

/// Logs through a real Collector: the quickstart with `OTEL_LOGS_EXPORTER=otlp` exports, over
/// gRPC to a Collector (tests/collector/logs.yaml), a log record for each fallback to the
/// hosted model, which the Collector hands on with the spans to a backend (the OTLP/HTTP
/// receiver of this process); each record in the trace of its request, in the span it was
/// logged in.
#[test]
fn log_records_pass_a_collector_in_the_trace_and_span_they_were_logged_in() {
    use tracing_ai_tests::receiver::Receiver;

    if go_program("otelcol").is_none() {
        return;
    }
    let backend = Receiver::start();
    let collector = Collector::start(
        "logs.yaml",
        &[("BACKEND", format!("http://{}", backend.http))],
    );
    tracing_ai_tests::run_to_success(
        exporting_example(
            "quickstart",
            &format!("http://{}", collector.address()),
            "grpc",
        )
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .args(["--requests", "8", "--error-rate", "0.3"]),
    );
    let fallbacks = |spans: &[tracing_ai_tests::receiver::ReceivedSpan]| {
        spans
            .iter()
            .filter(|span| span.span.name == "chat gpt-4o-mini")
            .count()
    };
    // The quickstart has handed everything to the Collector when it exits; the Collector
    // forwards spans and logs on their own pipelines: wait until neither count moves.
    let last = std::cell::Cell::new((0, 0));
    let (spans, logs) = tracing_ai_tests::poll_until(
        Duration::from_secs(30),
        Duration::from_millis(500),
        || (backend.spans(), backend.logs()),
        |(spans, logs)| {
            let now = (spans.len(), logs.len());
            fallbacks(spans) > 0 && last.replace(now) == now
        },
    );
    let hosted: Vec<_> = spans
        .iter()
        .filter(|span| span.span.name == "chat gpt-4o-mini")
        .collect();
    assert!(
        !hosted.is_empty(),
        "the quickstart fell back at least once; {} spans {:?}, {} logs",
        spans.len(),
        spans.iter().map(|s| &s.span.name).collect::<Vec<_>>(),
        logs.len()
    );
    let warnings: Vec<_> = logs
        .iter()
        .filter(|log| {
            log.body()
                .is_some_and(|body| body.starts_with("the self-hosted model failed"))
        })
        .collect();
    assert_eq!(
        warnings.len(),
        hosted.len(),
        "one line per fallback: {logs:#?}"
    );
    for call in hosted {
        let line = warnings
            .iter()
            .find(|log| log.record.trace_id == call.span.trace_id)
            .unwrap_or_else(|| panic!("no log record in the trace of {:?}", call.span.trace_id));
        assert_eq!(
            line.record.span_id, call.span.parent_span_id,
            "logged in the span the fallback was called from"
        );
        assert_eq!(line.record.severity_text, "WARN");
        assert_eq!(
            line.record.event_name, "",
            "no event named after a source line"
        );
        assert!(
            line.resource
                .iter()
                .any(|kv| kv.key == "service.name"
                    && format!("{:?}", kv.value).contains("quickstart"))
        );
    }
}
