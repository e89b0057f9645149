//! The axum service at the edge (`--edge`, `TRACING_AI_SAMPLE_RATIO=0`), run as a program and
//! exporting to a receiver in this process, under callers who send garbage (issue 12): 1,000
//! requests, each with its own 100 KB `x-tenant-id`, a forged `baggage` naming another tenant
//! and user, and a forged sampled `traceparent`. Before the bounds, the same traffic took the
//! service from 37 to 694 MB and made every metrics export 101 MB.
//!
//! What must hold: memory grows by less than the headers' own size; the forged sampled flag
//! exports nothing (only the failed requests are kept); the forged baggage reaches no span;
//! ids on every span (the request span included) are at most 256 bytes and marked cut, every
//! exported value at most 8 KiB;
//! the cost metric holds at most 1,000 tenants (the rest as `other`), none longer than 256
//! bytes.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_ai_tests::receiver::Receiver;
use tracing_ai_tests::{example_binary, spawn_listening};

const HOSTILE: usize = 1_000;
const IN_FLIGHT: usize = 16;
const ID_BYTES: usize = 100_000;

fn start(receiver: &Receiver) -> (Child, SocketAddr) {
    let (service, address) = spawn_listening(
        Command::new(example_binary("axum_service"))
            .args(["--port", "0", "--edge"])
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.grpc),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env("TRACING_AI_SAMPLE_RATIO", "0")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("TRACING_AI_TRUSTED_BAGGAGE"),
    );
    (service, address.parse().expect("an address"))
}

/// `GET /ask` with `headers`; the status code.
fn get(address: SocketAddr, query: &str, headers: &str) -> u16 {
    let mut stream = TcpStream::connect(address).expect("connects");
    write!(
        stream,
        "GET /ask?{query} HTTP/1.1\r\nhost: {address}\r\n{headers}connection: close\r\n\r\n"
    )
    .expect("sends");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn text(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

#[test]
#[cfg(target_os = "linux")]
fn hostile_headers_neither_grow_memory_nor_reach_what_they_should_not() {
    let receiver = Receiver::start();
    let (service, address) = start(&receiver);
    for n in 0..32 {
        let status = get(address, "q=warm+up", &format!("x-tenant-id: warm-{n}\r\n"));
        assert_eq!(status, 200);
    }
    let before = rss(service.id());

    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..IN_FLIGHT {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= HOSTILE {
                    break;
                }
                let tenant = format!("{n:06}{}", "t".repeat(ID_BYTES - 6));
                let headers = format!(
                    "x-tenant-id: {tenant}\r\n\
                     baggage: tenant.id=forged,user.id=mallory\r\n\
                     traceparent: 00-{:032x}-{:016x}-01\r\n",
                    n + 1,
                    n + 1
                );
                // One request in ten fails, and is kept for it.
                let query = if n.is_multiple_of(10) {
                    "q=x&fail=true"
                } else {
                    "q=x"
                };
                let status = get(address, query, &headers);
                assert!(status == 200 || status == 502, "request {n}: {status}");
            });
        }
    });
    let after = rss(service.id());
    let grown = after.saturating_sub(before);
    eprintln!(
        "resident memory: {} MiB before the hostile requests, {} MiB after",
        before >> 20,
        after >> 20
    );
    // Let a metrics export happen with every tenant in it.
    std::thread::sleep(std::time::Duration::from_millis(2_500));

    tracing_ai_tests::terminate(service);

    // The headers alone were 100 MB: what stays must be far less.
    assert!(
        grown < 48 << 20,
        "resident memory grew by {} MiB",
        grown >> 20
    );

    let spans = receiver.spans();
    let roots: Vec<_> = spans
        .iter()
        .filter(|span| span.span.name == "GET /ask")
        .collect();
    // Only the failed requests, whatever the caller's sampled flag said.
    assert_eq!(roots.len(), HOSTILE / 10, "exported roots");
    for root in &roots {
        assert_eq!(root.str_attr("ai.sampling.reason"), Some("error"));
        let tenant = root.str_attr("tenant.id").expect("the header's tenant");
        // Cut as the AI layer cuts ids on its own spans: the same 256 bytes everywhere.
        assert!(tenant.len() <= 256, "{}", tenant.len());
        assert!(
            tenant
                .split_once("…#")
                .is_some_and(|(_, hash)| hash.len() == 16),
            "the cut is marked, a hash of the whole id after it: {tenant}"
        );
    }
    let mut ai_spans = 0;
    for span in &spans {
        for attribute in &span.span.attributes {
            let value = text(attribute.value.as_ref().and_then(|v| v.value.as_ref()));
            assert!(
                value.is_none_or(|value| value.len() <= 8 << 10),
                "`{}` of `{}`",
                attribute.key,
                span.span.name
            );
            assert_ne!(
                value,
                Some("mallory"),
                "forged baggage on `{}`",
                span.span.name
            );
            assert_ne!(
                value,
                Some("forged"),
                "forged baggage on `{}`",
                span.span.name
            );
        }
        if span.str_attr("gen_ai.operation.name").is_some() {
            ai_spans += 1;
            let tenant = span.str_attr("tenant.id").expect("attributed");
            assert!(tenant.len() <= 256 && tenant.contains("…#"), "{tenant}");
        }
    }
    assert!(ai_spans >= HOSTILE / 10, "{ai_spans} AI spans");

    let points = receiver.sum_points("ai.client.cost");
    assert!(!points.is_empty(), "the cost metric was exported");
    let tenants: HashSet<&str> = points
        .iter()
        .filter_map(|point| {
            point
                .attributes
                .iter()
                .find(|(key, _)| key == "tenant.id")
                .map(|(_, value)| value.as_str())
        })
        .collect();
    assert!(tenants.len() <= 1_001, "{} tenants", tenants.len());
    assert!(tenants.contains("other"), "past 1,000 tenants, `other`");
    assert!(tenants.iter().all(|tenant| tenant.len() <= 256));
}
