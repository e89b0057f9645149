//! A soak (issue 12): 1,000,000 AI spans through `init()` over gRPC to a receiver in this
//! process that counts them, produced below the export rate. Every span arrives, nothing is
//! dropped, and resident memory stays flat from the first tenth of the run to the end.
//!
//! About a minute in a release build, longer in a debug one: ignored by default. Run it with
//! `cargo test --release -p tracing-ai-tests --test soak -- --ignored --nocapture`; the
//! figures it prints are in BENCHMARKS.md. One test in this file: `init()` installs the global
//! subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing_ai::{ai_span, Protocol, Usage};
use tracing_ai_tests::receiver::Receiver;

const AI_SPANS: u64 = 1_000_000;
/// Each request: its root and four AI spans.
const PER_REQUEST: u64 = 4;
/// Spans produced and not yet exported, at most: the producer waits above this, so that it
/// stays below the export rate and the queue never fills.
const AHEAD: u64 = 1_024;

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
fn embed(n: u64) -> Usage {
    Usage::new(16 + n % 7, 0)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(n: u64) -> Usage {
    Usage::new(1_000 + n % 100, 150)
}

fn resident_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

#[test]
#[ignore = "a soak of a minute or more; see the file's docs"]
fn a_million_ai_spans_all_arrive_and_memory_stays_flat() {
    let received = Arc::new(AtomicU64::new(0));
    let receiver = Receiver::start_counting(received.clone());
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_metrics(false)
        .with_console(false)
        .try_init()
        .expect("init");
    let stats = guard.export_stats().expect("exporting").clone();

    let requests = AI_SPANS / PER_REQUEST;
    let started = Instant::now();
    let mut resident = Vec::new();
    for n in 0..requests {
        if n % (requests / 10) == 0 {
            resident.push(resident_mib());
        }
        let produced = n * (PER_REQUEST + 1);
        while produced.saturating_sub(stats.exported_spans()) > AHEAD {
            std::thread::sleep(Duration::from_micros(200));
        }
        tracing::info_span!("request", tenant.id = "acme", request.id = n).in_scope(|| {
            embed(n);
            for _ in 0..PER_REQUEST - 1 {
                generate(n);
            }
        });
    }
    let produced_in = started.elapsed();
    resident.push(resident_mib());
    drop(guard);
    let total = requests * (PER_REQUEST + 1);
    let per_second = total as f64 / produced_in.as_secs_f64();
    eprintln!(
        "soak: {total} spans ({AI_SPANS} AI spans) in {produced_in:.1?}, {per_second:.0} spans/s; \
         resident MiB at each tenth and at the end: {resident:?}; dropped: {}",
        stats.dropped_spans()
    );
    assert_eq!(stats.dropped_spans(), 0);
    assert_eq!(
        received.load(Ordering::Relaxed),
        total,
        "every span arrives"
    );
    // Flat: from the first tenth to the end, less than 16 MiB more.
    let (first, last) = (resident[1], *resident.last().expect("measured"));
    assert!(
        last <= first + 16,
        "resident memory went from {first} to {last} MiB: {resident:?}"
    );
}
