//! "What did each tenant spend?", answered as a user would: the quickstart runs twice, as two
//! replicas of one service, its metrics pushed over OTLP into a real Prometheus, its traces to
//! an OTLP receiver in this process; then PromQL through Prometheus' HTTP API (the queries the
//! metrics guide (`tracing_ai::guides::metrics`) quotes) gives the spend per tenant, feature and model over the run's window.
//!
//! Replica `a` exports every trace: the spend Prometheus answers for it is the sum of its
//! calls' exported costs, to 1e-9 USD. Replica `b` runs the same requests (same seed) with tail
//! sampling at 0.05, so most of its traces are never exported: its spend on the hosted models
//! (priced by tokens, so the same as `a`'s) is still all there. Both replicas together are one
//! series per tenant, whatever resource attributes tell them apart.
//!
//! Four processes started with the metrics guide's variables alone, three at a time, one of them a
//! restart: each is a series of its own (`service.instance.id`, a UUID the library draws), and
//! the guide's query answers what their calls cost.
//!
//! Then the async-openai example drops a streamed answer after its first chunk, as a user
//! closing the page: the provider billed it, no usage arrived, and its estimated cost is in
//! Prometheus under `ai_cost_source="estimated"`, what its span says to 1e-9 USD.

use std::collections::{BTreeMap, HashMap};
use std::process::Output;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tracing_ai_tests::prometheus::{Prometheus, Series};
use tracing_ai_tests::receiver::{by_trace, ReceivedSpan, Receiver};
use tracing_ai_tests::{example_binary, run_to_success};

const REQUESTS: usize = 40;

/// The models priced by their tokens: the same seed spends the same on them.
const HOSTED: [&str; 2] = ["text-embedding-3-small", "gpt-4o-mini"];

/// Spend per tenant, feature and model over the last 10 minutes, from the metrics guide.
fn spend_query(selector: &str) -> String {
    format!(
        "sum by (tenant_id, feature_id, gen_ai_request_model) \
         (increase(ai_client_cost_USD_total{{{selector}}}[10m] anchored))"
    )
}

/// `example`, exporting its traces to `traces` and its metrics to `prometheus` as replica
/// `instance` of service `rag`.
fn exporting(
    example: &str,
    prometheus: &Prometheus,
    traces: &Receiver,
    instance: &str,
) -> std::process::Command {
    let mut command = prometheus.exporting(example, &traces.http.to_string());
    command.env("OTEL_SERVICE_NAME", "rag").env(
        "OTEL_RESOURCE_ATTRIBUTES",
        format!("service.instance.id={instance},deployment.environment.name=test"),
    );
    command
}

/// The quickstart, as replica `instance`, tail sampling at `ratio` when given.
fn run(prometheus: &Prometheus, traces: &Receiver, instance: &str, ratio: Option<f64>) -> Output {
    let mut command = exporting("quickstart", prometheus, traces, instance);
    command
        .args(["--requests", &REQUESTS.to_string(), "--error-rate", "0.2"])
        .args(["--seed", "11", "--concurrency", "4"]);
    if let Some(ratio) = ratio {
        command.args(["--sample-ratio", &ratio.to_string()]);
    }
    run_to_success(&mut command)
}

type Key = (String, String, String);

/// The exported calls' costs, by tenant, feature and model.
fn spent_on_spans(spans: &[ReceivedSpan]) -> HashMap<Key, f64> {
    let mut spent = HashMap::new();
    for span in spans {
        let Some(Value::DoubleValue(usd)) = span.attr("gen_ai.usage.cost") else {
            continue;
        };
        let text = |key: &str| span.str_attr(key).unwrap_or_default().to_owned();
        let key = (
            text("tenant.id"),
            text("feature.id"),
            text("gen_ai.request.model"),
        );
        *spent.entry(key).or_default() += usd;
    }
    spent
}

/// Prometheus' answer by tenant, feature and model.
fn by_key(answer: &[Series]) -> HashMap<Key, f64> {
    answer
        .iter()
        .map(|(labels, usd)| {
            let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
            (
                (
                    label("tenant_id"),
                    label("feature_id"),
                    label("gen_ai_request_model"),
                ),
                *usd,
            )
        })
        .collect()
}

fn assert_same(answered: &HashMap<Key, f64>, expected: &HashMap<Key, f64>, what: &str) {
    assert_eq!(
        answered.keys().collect::<std::collections::BTreeSet<_>>(),
        expected.keys().collect(),
        "{what}: the series Prometheus answers"
    );
    for (key, usd) in expected {
        let got = answered[key];
        assert!(
            (got - usd).abs() < 1e-9,
            "{what} {key:?}: Prometheus says {got}, the calls cost {usd}"
        );
    }
}

#[test]
fn prometheus_answers_each_tenants_spend_exactly_at_any_sampling_ratio() {
    let Some(prometheus) = Prometheus::start() else {
        return;
    };

    // Replica a: every trace exported.
    let traces_a = Receiver::start();
    run(&prometheus, &traces_a, "a", None);
    let spans_a = traces_a.spans();
    assert_eq!(by_trace(&spans_a).len(), REQUESTS, "every trace of a");
    let spent_a = spent_on_spans(&spans_a);
    let tenants: std::collections::BTreeSet<&str> =
        spent_a.keys().map(|(tenant, ..)| tenant.as_str()).collect();
    assert_eq!(tenants, ["acme", "globex"].into());

    let query_a = spend_query(r#"instance="a""#);
    let answer = prometheus.query_until(&query_a, |answer| by_key(answer).len() >= spent_a.len());
    assert_same(&by_key(&answer), &spent_a, "replica a");

    // Replica b: the same requests, one trace in twenty kept (and every failed one).
    let traces_b = Receiver::start();
    run(&prometheus, &traces_b, "b", Some(0.05));
    let exported_b = by_trace(&traces_b.spans()).len();
    // Every trace with a failure in it is kept (a fallback from the self-hosted model is
    // one): at least a quarter of them are not.
    assert!(
        exported_b <= REQUESTS * 3 / 4,
        "sampling at 0.05 kept {exported_b} of {REQUESTS} traces"
    );
    let query_b = spend_query(r#"instance="b""#);
    let answer_b =
        by_key(&prometheus.query_until(&query_b, |answer| by_key(answer).len() >= spent_a.len()));
    let hosted = |spent: &HashMap<Key, f64>| -> HashMap<Key, f64> {
        spent
            .iter()
            .filter(|((_, _, model), _)| HOSTED.contains(&model.as_str()))
            .map(|(key, usd)| (key.clone(), *usd))
            .collect()
    };
    assert_same(
        &hosted(&answer_b),
        &hosted(&spent_a),
        "replica b, hosted models",
    );
    // The self-hosted model is priced by the GPU time each call took: there, not equal.
    for (key, usd) in &answer_b {
        assert!(*usd > 0.0, "{key:?}: {usd}");
    }

    // Both replicas: one series per tenant, the sum of theirs.
    let per_tenant =
        prometheus.query("sum by (tenant_id) (increase(ai_client_cost_USD_total[10m] anchored))");
    let per_tenant: BTreeMap<String, f64> = per_tenant
        .into_iter()
        .map(|(labels, usd)| (labels["tenant_id"].clone(), usd))
        .collect();
    assert_eq!(
        per_tenant.keys().map(String::as_str).collect::<Vec<_>>(),
        ["acme", "globex"],
        "one series per tenant"
    );
    for (tenant, usd) in &per_tenant {
        let of = |spent: &HashMap<Key, f64>| -> f64 {
            spent
                .iter()
                .filter(|((t, ..), _)| t == tenant)
                .map(|(_, usd)| usd)
                .sum()
        };
        let expected = of(&spent_a) + of(&answer_b);
        assert!(
            (usd - expected).abs() < 1e-9,
            "{tenant}: {usd} for both replicas, {expected} from each"
        );
    }

    // Nothing billed left out: the failed generations, which have no cost, are counted by
    // reason and model, as many as replica a's spans say.
    let failed_a = spans_a
        .iter()
        .filter(|span| {
            span.str_attr("gen_ai.operation.name").is_some()
                && span.attr("gen_ai.usage.cost").is_none()
                && span
                    .span
                    .status
                    .as_ref()
                    .is_some_and(|status| status.code == StatusCode::Error as i32)
        })
        .count();
    assert!(failed_a > 0, "--error-rate 0.2 failed no call");
    let unpriced = prometheus.query(
        "sum by (ai_unpriced_reason) \
         (increase(ai_client_unpriced_calls_total{instance=\"a\"}[10m] anchored))",
    );
    let failed: f64 = unpriced
        .iter()
        .filter(|(labels, _)| {
            labels.get("ai_unpriced_reason").map(String::as_str) == Some("failed")
        })
        .map(|(_, calls)| calls)
        .sum();
    assert_eq!(failed, failed_a as f64, "{unpriced:?}");

    // A stream abandoned after its first chunk: priced from an estimate, and labelled so.
    let traces_c = Receiver::start();
    run_to_success(exporting("openai_client", &prometheus, &traces_c, "c").arg("--abandon-stream"));
    let spans_c = traces_c.spans();
    let abandoned = spans_c
        .iter()
        .find(|span| span.attr("ai.stream.cancelled") == Some(&Value::BoolValue(true)))
        .expect("the abandoned stream's span");
    assert_eq!(abandoned.str_attr("ai.cost.source"), Some("estimated"));
    let Some(Value::DoubleValue(estimated)) = abandoned.attr("gen_ai.usage.cost") else {
        panic!("the abandoned stream has no cost");
    };
    let by_source = prometheus.query_until(
        "sum by (ai_cost_source) \
         (increase(ai_client_cost_USD_total{instance=\"c\"}[10m] anchored))",
        |answer| answer.len() >= 2,
    );
    let source = |name: &str| {
        by_source
            .iter()
            .find(|(labels, _)| labels.get("ai_cost_source").map(String::as_str) == Some(name))
            .map(|(_, usd)| *usd)
    };
    let in_prometheus = source("estimated").expect("an estimated series");
    assert!(
        (in_prometheus - estimated).abs() < 1e-9,
        "{in_prometheus} estimated in Prometheus, {estimated} on the span"
    );
    // The share of the tenant's spend that is estimated, as the metrics guide asks it.
    let share = prometheus.query(
        "sum by (tenant_id) \
         (increase(ai_client_cost_USD_total{instance=\"c\", ai_cost_source=\"estimated\"}[10m] anchored)) \
         / sum by (tenant_id) (increase(ai_client_cost_USD_total{instance=\"c\"}[10m] anchored))",
    );
    let reported = source("genai-prices").expect("the reported calls' series");
    assert_eq!(share.len(), 1, "{share:?}");
    assert!(
        (share[0].1 - estimated / (estimated + reported)).abs() < 1e-9,
        "{share:?}"
    );
}

/// The quickstart as a user deploys it from the metrics guide's "What did each tenant spend?": the
/// three variables it names and nothing else (no `OTEL_RESOURCE_ATTRIBUTES`, no service name),
/// pushing every quarter second so that replicas interleave as a long-running service's do.
fn as_the_readme_starts_it(
    prometheus: &Prometheus,
    traces: &Receiver,
    seed: u64,
    requests: usize,
) -> std::process::Child {
    let mut command = std::process::Command::new(example_binary("quickstart"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") || name.starts_with("TRACING_AI_") {
            command.env_remove(name);
        }
    }
    command
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            prometheus.otlp_metrics_endpoint(),
        )
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{}/v1/traces", traces.http),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "250")
        .args(["--requests", &requests.to_string(), "--error-rate", "0.1"])
        .args(["--seed", &seed.to_string(), "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the quickstart starts")
}

fn wait_to_success(child: std::process::Child) {
    let output = child.wait_with_output().expect("the quickstart runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn replicas_started_with_the_readmes_variables_alone_count_each_call_once() {
    let Some(prometheus) = Prometheus::start() else {
        return;
    };
    let traces = Receiver::start();
    // Two replicas for the whole run, a third restarted half-way through it: four processes,
    // three at a time, each pushing its counters into Prometheus a few times a second.
    let first = as_the_readme_starts_it(&prometheus, &traces, 21, 160);
    let second = as_the_readme_starts_it(&prometheus, &traces, 22, 160);
    wait_to_success(as_the_readme_starts_it(&prometheus, &traces, 23, 50));
    wait_to_success(as_the_readme_starts_it(&prometheus, &traces, 24, 50));
    wait_to_success(first);
    wait_to_success(second);

    let spans = traces.spans();
    assert_eq!(by_trace(&spans).len(), 160 + 160 + 50 + 50, "every trace");
    let mut spent: BTreeMap<String, f64> = BTreeMap::new();
    for ((tenant, ..), usd) in spent_on_spans(&spans) {
        *spent.entry(tenant).or_default() += usd;
    }
    assert_eq!(
        spent.keys().map(String::as_str).collect::<Vec<_>>(),
        ["acme", "globex"]
    );

    // Each process is a series of its own, told apart by the id the library gave it.
    let instances = prometheus
        .query_until("count by (instance) (ai_client_cost_USD_total)", |answer| {
            answer.len() >= 4
        });
    assert_eq!(instances.len(), 4, "{instances:?}");
    for (labels, _) in &instances {
        let id = &labels["instance"];
        assert_eq!(id.len(), 36, "a UUID: {id}");
    }

    // The metrics guide's first query, over the window of the run: each tenant's spend is what its
    // calls cost, to 1e-9 USD (the replicas sharing one series answered 5.6 times as much).
    let query = "sum by (tenant_id) (increase(ai_client_cost_USD_total[10m] anchored))";
    let answer = prometheus.query_until(query, |answer| {
        answer.len() == spent.len()
            && answer.iter().all(|(labels, usd)| {
                labels
                    .get("tenant_id")
                    .and_then(|tenant| spent.get(tenant))
                    .is_some_and(|spent| (usd - spent).abs() < 1e-9)
            })
    });
    for (labels, usd) in &answer {
        let tenant = &labels["tenant_id"];
        assert!(
            (usd - spent[tenant]).abs() < 1e-9,
            "{tenant}: Prometheus says {usd}, the calls cost {}",
            spent[tenant]
        );
    }
}

#[test]
fn the_metrics_guide_quotes_the_configuration_and_flags_the_test_runs() {
    let root = tracing_ai_tests::jaeger::repository();
    let readme =
        std::fs::read_to_string(root.join("tracing-ai/src/docs/metrics.md")).expect("the guide");
    let config = std::fs::read_to_string(root.join("tests/prometheus/prometheus.yml"))
        .expect("the configuration");
    // The file's own header (how it is started) aside, the guide shows it as it is.
    let body: String = config
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```yaml\n{body}```")),
        "the metrics guide's Prometheus configuration is not tests/prometheus/prometheus.yml:\n{body}"
    );
    for flag in tracing_ai_tests::prometheus::FLAGS {
        assert!(
            readme.contains(flag),
            "the metrics guide does not start Prometheus with {flag}"
        );
    }
}
