//! Jaeger v2, the real backend most teams run, started on 127.0.0.1 with in-memory storage and
//! read back through its query API. `scripts/test.sh` builds it into `target/go/jaeger` from
//! the Go module proxy (tests/jaeger/go.mod).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// The repository's root, where `target/go` and `tests/jaeger` are.
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// A Go program that `scripts/test.sh` built into `target/go/`; `None` (the test skips) when
/// it was never built and the run does not require it (see [`crate::installed`]).
pub fn go_program(name: &str) -> Option<PathBuf> {
    crate::installed(
        repository().join("target/go").join(name),
        "run scripts/test.sh, which builds it with Go from the module proxy",
    )
}

/// `count` ports that were free a moment ago on 127.0.0.1.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binds a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("an address").port())
}

/// Starts the service `name` on `N` ports that were free a moment ago. Another test's
/// connection can take one of them before the service binds it: the service then exits at
/// once, saying so, and is started again on other ports (three tries).
///
/// `start` spawns the service on the ports with its standard error in the file it is given,
/// and waits until it is up; it returns the exit status when the service exited first.
pub fn start_on_free_ports<const N: usize, T>(
    name: &str,
    mut start: impl FnMut([u16; N], std::fs::File) -> Result<T, std::process::ExitStatus>,
) -> T {
    for attempt in 1.. {
        let ports = free_ports::<N>();
        let log = std::env::temp_dir().join(format!(
            "tracing-ai-{}-{}-{}.log",
            name.replace(' ', "-"),
            std::process::id(),
            ports.first().copied().unwrap_or_default()
        ));
        let file = std::fs::File::create(&log).expect("a log file");
        let started = start(ports, file);
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        match started {
            Ok(service) => return service,
            Err(_) if attempt < 3 && said.to_lowercase().contains("address already in use") => {}
            Err(status) => panic!("{name} exited: {status}\n{said}"),
        }
    }
    unreachable!("the loop returns or panics")
}

/// A running Jaeger; stopped when dropped.
#[derive(Debug)]
pub struct Jaeger {
    child: Child,
    /// `http://127.0.0.1:P`, its OTLP/gRPC receiver.
    pub otlp_grpc: String,
    /// `http://127.0.0.1:P`, its OTLP/HTTP receiver.
    pub otlp_http: String,
    /// `http://127.0.0.1:P`, its query API and UI.
    pub query: String,
}

impl Jaeger {
    /// Starts Jaeger with tests/jaeger/config.yaml and waits until its query API answers;
    /// `None` when it was never built (see [`go_program`]).
    pub fn start() -> Option<Self> {
        let program = go_program("jaeger")?;
        Some(start_on_free_ports(
            "Jaeger",
            |[grpc, http, query, query_grpc], log| {
                let child = Command::new(&program)
                    .arg("--config")
                    .arg(format!(
                        "file:{}",
                        repository().join("tests/jaeger/config.yaml").display()
                    ))
                    .env("JAEGER_OTLP_GRPC_PORT", grpc.to_string())
                    .env("JAEGER_OTLP_HTTP_PORT", http.to_string())
                    .env("JAEGER_QUERY_HTTP_PORT", query.to_string())
                    .env("JAEGER_QUERY_GRPC_PORT", query_grpc.to_string())
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("Jaeger starts");
                Self {
                    child,
                    otlp_grpc: format!("http://127.0.0.1:{grpc}"),
                    otlp_http: format!("http://127.0.0.1:{http}"),
                    query: format!("http://127.0.0.1:{query}"),
                }
                .wait_until_up([grpc, http])
            },
        ))
    }

    /// Waits until the query API answers and both receivers listen; the exit status when
    /// Jaeger exited first.
    fn wait_until_up(mut self, receivers: [u16; 2]) -> Result<Self, std::process::ExitStatus> {
        let started = Instant::now();
        while self.get("/api/services").is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(status);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Jaeger did not answer within a minute"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Both receivers listen before the query API does, but make sure.
        for port in receivers {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no receiver on {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(self)
    }

    fn get(&self, path: &str) -> Result<Json, String> {
        let response =
            reqwest::blocking::get(format!("{}{path}", self.query)).map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(response.status().to_string());
        }
        let text = response.text().map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// The traces with a span of `service`, each whole (every service's spans), as Jaeger's
    /// query API returns them.
    pub fn traces(&self, service: &str) -> Vec<Trace> {
        let body = self
            .get(&format!(
                "/api/traces?service={service}&limit=100000&lookback=1h"
            ))
            .unwrap_or_else(|e| panic!("Jaeger's query API: {e}"));
        body["data"]
            .as_array()
            .map(|traces| traces.iter().map(Trace::from_json).collect())
            .unwrap_or_default()
    }

    /// [`traces`](Self::traces), once `done` holds of them (Jaeger stores what it receives
    /// after a batching delay) or a minute has passed; what is there then.
    pub fn traces_when(&self, service: &str, done: impl Fn(&[Trace]) -> bool) -> Vec<Trace> {
        crate::poll_until(
            Duration::from_secs(60),
            Duration::from_millis(250),
            || self.traces(service),
            |traces| done(traces),
        )
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One span as Jaeger returns it.
#[derive(Clone, Debug)]
pub struct Span {
    /// Hex span id.
    pub id: String,
    /// Hex id of its parent (`CHILD_OF`), if any.
    pub parent: Option<String>,
    /// Its name (Jaeger's operation name).
    pub name: String,
    /// The `service.name` of the process that exported it.
    pub service: String,
    /// Its attributes (Jaeger's tags), and its kind as `span.kind`, its status as
    /// `otel.status_code`.
    pub tags: HashMap<String, Json>,
    /// Its events (Jaeger's logs), each a map of its fields; the event's name is `event`.
    pub logs: Vec<HashMap<String, Json>>,
}

impl Span {
    /// A string attribute.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.tags.get(key).and_then(Json::as_str)
    }

    /// A numeric attribute.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.tags.get(key).and_then(Json::as_f64)
    }

    /// An integer attribute.
    pub fn i64(&self, key: &str) -> Option<i64> {
        self.tags.get(key).and_then(Json::as_i64)
    }

    /// Whether its status is an error.
    pub fn failed(&self) -> bool {
        self.str("otel.status_code") == Some("ERROR")
    }
}

/// One trace as Jaeger returns it.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Hex trace id.
    pub id: String,
    /// Its spans, of every service.
    pub spans: Vec<Span>,
}

impl Trace {
    fn from_json(trace: &Json) -> Self {
        let services: HashMap<&str, &str> = trace["processes"]
            .as_object()
            .map(|processes| {
                processes
                    .iter()
                    .map(|(id, process)| {
                        (id.as_str(), process["serviceName"].as_str().unwrap_or(""))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let spans = trace["spans"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|span| Span {
                id: span["spanID"].as_str().unwrap_or_default().to_owned(),
                parent: span["references"].as_array().and_then(|references| {
                    references
                        .iter()
                        .find(|r| r["refType"] == "CHILD_OF")
                        .and_then(|r| r["spanID"].as_str())
                        .map(str::to_owned)
                }),
                name: span["operationName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                service: services
                    .get(span["processID"].as_str().unwrap_or_default())
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                tags: span["tags"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|tag| Some((tag["key"].as_str()?.to_owned(), tag["value"].clone())))
                    .collect(),
                logs: span["logs"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|log| {
                        log["fields"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|field| {
                                Some((field["key"].as_str()?.to_owned(), field["value"].clone()))
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        Self {
            id: trace["traceID"].as_str().unwrap_or_default().to_owned(),
            spans,
        }
    }

    /// Its spans without a parent.
    pub fn roots(&self) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.parent.is_none()).collect()
    }

    /// The parent of `span`, if it is in the trace.
    pub fn parent_of(&self, span: &Span) -> Option<&Span> {
        let parent = span.parent.as_deref()?;
        self.spans.iter().find(|s| s.id == parent)
    }

    /// Its spans named `name`.
    pub fn named(&self, name: &str) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// Its AI spans (those with `gen_ai.operation.name`).
    pub fn ai_spans(&self) -> Vec<&Span> {
        self.spans
            .iter()
            .filter(|s| s.tags.contains_key("gen_ai.operation.name"))
            .collect()
    }

    /// Spans whose parent is not in the trace.
    pub fn orphans(&self) -> Vec<&Span> {
        self.spans
            .iter()
            .filter(|s| s.parent.is_some() && self.parent_of(s).is_none())
            .collect()
    }
}
