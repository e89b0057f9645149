//! The dashboards shipped in `dashboards/` (issue 36, item 5), held to what the library
//! exports: the quickstart and two services with a budget and a rate limit run with their
//! metrics pushed over OTLP into a real Prometheus, then every query of every panel, Grafana's
//! and Perses', is asked of it. A query that names a metric or a label the library does not
//! export, or that answers nothing, fails the test: a dashboard cannot drift from the names.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value as Json;
use tracing_ai_tests::jaeger::repository;
use tracing_ai_tests::prometheus::Prometheus;
use tracing_ai_tests::receiver::Receiver;
use tracing_ai_tests::{run_to_success, spawn_listening};

/// `example`'s command, its traces to `traces` and its metrics to `prometheus`, every 250 ms.
fn exporting(example: &str, prometheus: &Prometheus, traces: &Receiver) -> std::process::Command {
    let mut command = prometheus.exporting(example, &traces.http.to_string());
    command.env("OTEL_METRIC_EXPORT_INTERVAL", "250");
    command
}

/// The metric names Prometheus holds.
fn metric_names(prometheus: &Prometheus) -> BTreeSet<String> {
    prometheus
        .query("count by (__name__) ({__name__=~\".+\"})")
        .into_iter()
        .filter_map(|(labels, _)| labels.get("__name__").cloned())
        .collect()
}

#[test]
fn every_dashboard_query_answers_from_what_the_library_exports() {
    let Some(prometheus) = Prometheus::start() else {
        return;
    };
    let traces = Receiver::start();
    run_to_success(exporting("quickstart", &prometheus, &traces).args([
        "--requests",
        "30",
        "--error-rate",
        "0.2",
        "--seed",
        "5",
    ]));
    // Two services with a budget per tenant and a rate limit, until the limit refuses.
    let (launcher, gateway) = spawn_listening(
        exporting("services", &prometheus, &traces)
            .args([
                "--port",
                "0",
                "--budget",
                "0.0002",
                "--budget-per-call",
                "0.00002",
            ])
            .args(["--budget-rpm", "8"])
            .stdin(std::process::Stdio::null()),
    );
    let client = reqwest::blocking::Client::new();
    let mut refused = 0;
    for _ in 0..12 {
        let status = client
            .get(format!("http://{gateway}/ask?q=What+is+a+span"))
            .header("authorization", "Bearer acme-key")
            .timeout(Duration::from_secs(10))
            .send()
            .expect("the gateway answers")
            .status();
        refused += usize::from(status.as_u16() == 429);
    }
    assert!(refused > 0, "the rate limit refused a request");
    // The gauges are pushed every 250 ms: let them reach Prometheus before the services stop.
    std::thread::sleep(Duration::from_secs(2));
    tracing_ai_tests::terminate(launcher);

    let names = metric_names(&prometheus);
    let grafana = grafana_queries();
    let perses = perses_queries();
    assert_eq!(
        grafana.iter().collect::<BTreeSet<_>>(),
        perses.iter().collect::<BTreeSet<_>>(),
        "the two dashboards show the same panels"
    );
    assert!(grafana.len() >= 12, "{} panels", grafana.len());
    let mut wrong = Vec::new();
    for (title, query) in &grafana {
        let promql = query
            .replace("$__rate_interval", "5m")
            .replace("$__range", "10m");
        for metric in metrics_named(&promql) {
            if !names.contains(&metric) {
                wrong.push(format!("{title}: names {metric}, which nothing exports"));
            }
        }
        let answer = prometheus.query_until(&promql, |answer| !answer.is_empty());
        if answer.is_empty() {
            wrong.push(format!("{title}: {promql} answers nothing"));
            continue;
        }
        for label in grouped_by(&promql) {
            if !answer
                .iter()
                .any(|(labels, _)| labels.get(&label).is_some_and(|value| !value.is_empty()))
            {
                wrong.push(format!(
                    "{title}: groups by {label}, which no series of {promql} has"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each Grafana panel's title and query.
fn grafana_queries() -> Vec<(String, String)> {
    let dashboard = read("dashboards/grafana/tracing-ai.json");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|panel| panel["type"] != "row")
        .flat_map(|panel| {
            let title = panel["title"].as_str().expect("a title").to_owned();
            panel["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(move |target| {
                    (
                        title.clone(),
                        target["expr"].as_str().expect("an expr").to_owned(),
                    )
                })
        })
        .collect()
}

/// Each Perses panel's name and query, from the panels the layouts place.
fn perses_queries() -> Vec<(String, String)> {
    let dashboard = read("dashboards/perses/tracing-ai.json");
    let panels = dashboard["spec"]["panels"].as_object().expect("panels");
    let placed: Vec<&str> = dashboard["spec"]["layouts"]
        .as_array()
        .expect("layouts")
        .iter()
        .flat_map(|layout| layout["spec"]["items"].as_array().expect("items"))
        .map(|item| {
            item["content"]["$ref"]
                .as_str()
                .and_then(|reference| reference.strip_prefix("#/spec/panels/"))
                .expect("a reference to a panel")
        })
        .collect();
    assert_eq!(placed.len(), panels.len(), "every panel is placed once");
    placed
        .into_iter()
        .flat_map(|key| {
            let panel = &panels[key]["spec"];
            let title = panel["display"]["name"]
                .as_str()
                .expect("a name")
                .to_owned();
            panel["queries"]
                .as_array()
                .expect("queries")
                .iter()
                .map(move |query| {
                    (
                        title.clone(),
                        query["spec"]["plugin"]["spec"]["query"]
                            .as_str()
                            .expect("a query")
                            .to_owned(),
                    )
                })
        })
        .collect()
}

fn read(path: &str) -> Json {
    let text = std::fs::read_to_string(repository().join(path)).expect("the dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The metric names a query reads: outside its `by (...)` lists, the words of ours (`ai_*`,
/// `gen_ai_*`) before a range, a selector, a space or a closing parenthesis.
fn metrics_named(promql: &str) -> BTreeSet<String> {
    // Without its `by (...)` lists, whose words are labels.
    let mut rest = promql;
    let mut text = String::new();
    while let Some((before, after)) = rest.split_once("by (") {
        text.push_str(before);
        rest = after.split_once(')').map_or("", |(_, after)| after);
    }
    text.push_str(rest);
    let promql = text.as_str();
    let mut names = BTreeSet::new();
    let bytes = promql.as_bytes();
    let mut start = None;
    for (index, byte) in bytes.iter().enumerate() {
        let word = byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b':';
        match (word, start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                let name = &promql[from..index];
                if (*byte == b'[' || *byte == b'{' || *byte == b' ' || *byte == b')')
                    && (name.starts_with("ai_") || name.starts_with("gen_ai_"))
                {
                    names.insert(name.to_owned());
                }
                start = None;
            }
            _ => {}
        }
    }
    names
}

/// The labels a query groups by (`by (a, b)`), but `le`.
fn grouped_by(promql: &str) -> BTreeSet<String> {
    promql
        .split("by (")
        .skip(1)
        .filter_map(|rest| rest.split_once(')'))
        .flat_map(|(labels, _)| labels.split(','))
        .map(|label| label.trim().to_owned())
        .filter(|label| !label.is_empty() && label != "le")
        .collect()
}
