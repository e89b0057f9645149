//! Prometheus, the metrics backend the spend tests answer "what did each tenant spend?" with:
//! started on 127.0.0.1 with its OTLP receiver on and tests/prometheus/prometheus.yml, queried
//! with PromQL through its HTTP API. `scripts/test.sh` builds it into `target/go/prometheus`
//! from the Go module proxy (tests/prometheus/go.mod).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::jaeger::{go_program, repository, start_on_free_ports};

/// The flags the README quotes: the OTLP receiver, and a counter's start time stored as a 0.
pub const FLAGS: [&str; 2] = [
    "--web.enable-otlp-receiver",
    "--enable-feature=created-timestamp-zero-ingestion",
];

/// A running Prometheus; stopped, and its storage removed, when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    storage: PathBuf,
    /// `http://127.0.0.1:P`, its HTTP API (and its OTLP receiver under `/api/v1/otlp`).
    pub url: String,
}

/// One series of a query's answer: its labels, and its value.
pub type Series = (BTreeMap<String, String>, f64);

impl Prometheus {
    /// Starts Prometheus and waits until it is ready; `None` when it was never built (see
    /// [`go_program`]).
    pub fn start() -> Option<Self> {
        let program = go_program("prometheus")?;
        Some(start_on_free_ports("Prometheus", |[port], log| {
            let storage = repository()
                .join("target/prometheus-data")
                .join(format!("{}-{port}", std::process::id()));
            let child = Command::new(&program)
                .arg(format!(
                    "--config.file={}",
                    repository()
                        .join("tests/prometheus/prometheus.yml")
                        .display()
                ))
                .arg(format!("--storage.tsdb.path={}", storage.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(FLAGS)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("Prometheus starts");
            let mut prometheus = Self {
                child,
                storage,
                url: format!("http://127.0.0.1:{port}"),
            };
            let started = Instant::now();
            loop {
                let ready = reqwest::blocking::get(format!("{}/-/ready", prometheus.url))
                    .is_ok_and(|response| response.status().is_success());
                if ready {
                    return Ok(prometheus);
                }
                if let Ok(Some(status)) = prometheus.child.try_wait() {
                    return Err(status);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "Prometheus was not ready within a minute"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }))
    }

    /// The example `example`, its metrics sent here and its traces to the OTLP/HTTP receiver
    /// at `traces` (`host:port`), both over `http/protobuf`, with none of the tests'
    /// environment's other OTLP, sampling and metric settings.
    pub fn exporting(&self, example: &str, traces: &str) -> std::process::Command {
        let mut command = std::process::Command::new(crate::example_binary(example));
        command
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("http://{traces}/v1/traces"),
            )
            .env(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                self.otlp_metrics_endpoint(),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_METRICS_EXPORTER")
            .env_remove("OTEL_SEMCONV_STABILITY_OPT_IN")
            .env_remove("TRACING_AI_SAMPLE_RATIO")
            .env_remove("OPENAI_API_BASE");
        command
    }

    /// Where a program sends its metrics: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, with
    /// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf`.
    pub fn otlp_metrics_endpoint(&self) -> String {
        format!("{}/api/v1/otlp/v1/metrics", self.url)
    }

    /// The answer to the instant query `promql`, evaluated now; panics on an error, with
    /// Prometheus' message.
    pub fn query(&self, promql: &str) -> Vec<Series> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.url),
            [("query", promql)],
        )
        .expect("a query URL");
        let response = reqwest::blocking::get(url).expect("Prometheus answers");
        let body: Json = response.json().expect("a JSON answer");
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .expect("a vector")
            .iter()
            .map(|series| {
                let labels = series["metric"]
                    .as_object()
                    .expect("labels")
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_str().unwrap_or("").to_owned()))
                    .collect();
                let value = series["value"][1]
                    .as_str()
                    .and_then(|value| value.parse().ok())
                    .expect("a value");
                (labels, value)
            })
            .collect()
    }

    /// [`query`](Self::query), asked again until `done` holds of the answer (the last push
    /// is stored a moment after it is accepted), for at most 30 seconds.
    pub fn query_until(&self, promql: &str, done: impl Fn(&[Series]) -> bool) -> Vec<Series> {
        crate::poll_until(
            Duration::from_secs(30),
            Duration::from_millis(200),
            || self.query(promql),
            |answer| done(answer),
        )
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.storage);
    }
}
