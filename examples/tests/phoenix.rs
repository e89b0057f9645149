//! Arize Phoenix, a real OTLP backend, receives the quickstart's traces over HTTP/protobuf and
//! gRPC: it classifies the generation spans as LLM spans with their token counts, and its own
//! cost of each `gpt-4o-mini` call agrees with ours.
//!
//! Phoenix is installed by `scripts/test.sh` into `target/pyvenv`; the test starts it on free
//! ports of 127.0.0.1 with a working directory of its own, and stops it at the end.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tracing_ai_tests::example_binary;

const REQUESTS: usize = 6;

/// A Phoenix server of this test's own, killed when dropped.
struct Phoenix {
    child: Child,
    http: u16,
    grpc: u16,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Phoenix {
    fn start() -> Self {
        let phoenix = workspace().join("target/pyvenv/bin/phoenix");
        assert!(
            phoenix.exists(),
            "Phoenix is not installed: run scripts/test.sh, which installs it into target/pyvenv \
             (it needs Python 3 with pip and venv: on Debian, apt-get install python3-venv)"
        );
        let dir = TempDir(workspace().join(format!("target/phoenix-test-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).expect("a working directory");
        let (http, grpc) = (free_port(), free_port());
        let child = Command::new(phoenix)
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", &dir.0)
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", http.to_string())
            .env("PHOENIX_GRPC_PORT", grpc.to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("DO_NOT_TRACK", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("phoenix starts");
        let phoenix = Self {
            child,
            http,
            grpc,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while phoenix.get("/healthz").is_err() {
            assert!(
                Instant::now() < deadline,
                "Phoenix did not answer within 120 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        phoenix
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn get(&self, path: &str) -> Result<String, reqwest::Error> {
        reqwest::blocking::get(self.url(path))?
            .error_for_status()?
            .text()
    }

    fn graphql(&self, query: &str) -> Json {
        let body = serde_json::json!({ "query": query }).to_string();
        let text = reqwest::blocking::Client::new()
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .and_then(|response| response.text())
            .expect("GraphQL answers");
        serde_json::from_str(&text).expect("GraphQL answers JSON")
    }

    /// Every span of the default project, through the REST API.
    fn spans(&self) -> Vec<Json> {
        let text = self
            .get("/v1/projects/default/spans?limit=1000")
            .expect("the spans API answers");
        let body: Json = serde_json::from_str(&text).expect("JSON");
        body["data"].as_array().expect("`data` is a list").clone()
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_quickstart(endpoint: String, protocol: &str, seed: &str) {
    let output = Command::new(example_binary("quickstart"))
        .args(["--requests", &REQUESTS.to_string(), "--seed", seed])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        // Phoenix takes traces, not metrics.
        .env("OTEL_METRICS_EXPORTER", "none")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .output()
        .expect("the quickstart runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("could not export"), "{protocol}: {stderr}");
}

#[test]
fn phoenix_shows_the_quickstart_with_our_tokens_and_its_own_matching_cost() {
    let phoenix = Phoenix::start();
    run_quickstart(
        format!("http://127.0.0.1:{}", phoenix.http),
        "http/protobuf",
        "21",
    );
    run_quickstart(format!("http://127.0.0.1:{}", phoenix.grpc), "grpc", "22");

    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = phoenix.spans();
        let traces: HashSet<&str> = spans
            .iter()
            .filter_map(|s| s["context"]["trace_id"].as_str())
            .collect();
        if traces.len() >= 2 * REQUESTS || Instant::now() > deadline {
            break spans;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut traces: HashMap<&str, Vec<&Json>> = HashMap::new();
    for span in &spans {
        traces
            .entry(span["context"]["trace_id"].as_str().expect("a trace id"))
            .or_default()
            .push(span);
    }
    assert_eq!(
        traces.len(),
        2 * REQUESTS,
        "one trace per request, over both protocols"
    );
    for trace in traces.values() {
        let roots: Vec<_> = trace.iter().filter(|s| s["parent_id"].is_null()).collect();
        assert_eq!(roots.len(), 1, "one root per trace");
        assert_eq!(roots[0]["name"], "rag.query");
    }

    // Phoenix classifies the generations as LLM spans and reads their token counts.
    let generations: Vec<&Json> = spans
        .iter()
        .filter(|s| {
            s["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("chat "))
        })
        .collect();
    assert!(generations.len() >= 2 * REQUESTS);
    for span in &generations {
        assert_eq!(span["span_kind"], "LLM", "{span}");
        let attributes = &span["attributes"];
        if let Some(input) = attributes["gen_ai.usage.input_tokens"].as_i64() {
            assert_eq!(
                attributes["llm.token_count.prompt"].as_i64(),
                Some(input),
                "{span}"
            );
            assert_eq!(
                attributes["llm.token_count.completion"].as_i64(),
                attributes["gen_ai.usage.output_tokens"].as_i64(),
                "{span}"
            );
        }
    }

    // Phoenix prices gpt-4o-mini with its own table: the same cost as ours, call by call.
    let answer = phoenix.graphql(
        "{ projects { edges { node { name spans(first: 1000) { edges { node { name \
         attributes costSummary { total { cost } } } } } } } } }",
    );
    let mut compared = 0;
    for project in answer["data"]["projects"]["edges"]
        .as_array()
        .expect("projects")
    {
        for edge in project["node"]["spans"]["edges"].as_array().expect("spans") {
            let node = &edge["node"];
            if node["name"] != "chat gpt-4o-mini" {
                continue;
            }
            let attributes: Json =
                serde_json::from_str(node["attributes"].as_str().expect("attributes JSON"))
                    .expect("JSON");
            let Some(ours) = attributes["gen_ai"]["usage"]["cost"].as_f64() else {
                continue; // a failed call: no usage, no cost on either side
            };
            let theirs = node["costSummary"]["total"]["cost"]
                .as_f64()
                .unwrap_or_else(|| panic!("Phoenix has no cost for {node}"));
            assert!(
                (ours - theirs).abs() < 1e-12,
                "ours {ours}, Phoenix {theirs}"
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "no successful gpt-4o-mini call to compare");
}
