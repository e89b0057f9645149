//! Export throughput and memory, through what `tracing_ai::init()` sets up: AI spans per second
//! exported over OTLP/gRPC with the batch processor to a receiver in this process, from one
//! producing thread; the heap while the receiver is down (the queue is full, spans are
//! dropped); and the heap each span held by the tail sampler costs.
//!
//! `cargo bench -p tracing-ai-tests --bench export`. Not a criterion bench: each figure is one
//! long run, printed with the baseline it is compared to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter};
use tracing_ai::sampling::TailSampling;
use tracing_ai::{ai_span, Protocol, Usage};
use tracing_ai_tests::receiver::Receiver;
use tracing_subscriber::layer::SubscriberExt as _;

/// Counts the bytes allocated and not yet freed, by every thread.
struct LiveBytes;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(input: u64) -> Usage {
    Usage::new(input, 200)
}

/// One request: a root span with the tenant, and one model call under it.
fn request(n: u64) {
    tracing::info_span!("request", tenant.id = "acme", request.id = n as i64)
        .in_scope(|| generate(1_000 + n % 100));
}

const SPANS_PER_REQUEST: u64 = 2;

/// Produces requests for `duration`, calling `sample` every 100 ms; returns how many.
fn produce_for(duration: Duration, mut sample: impl FnMut()) -> u64 {
    let started = Instant::now();
    let mut next_sample = started;
    let mut n = 0;
    while started.elapsed() < duration {
        for _ in 0..64 {
            request(n);
            n += 1;
        }
        if Instant::now() >= next_sample {
            sample();
            next_sample += Duration::from_millis(100);
        }
    }
    n
}

/// CPU seconds used so far by this process's threads whose name starts with `prefix`
/// (Linux's `/proc`; zero elsewhere).
fn cpu_seconds(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ticks_per_second = 100.0; // USER_HZ, 100 on every Linux this runs on.
    let mut ticks = 0_u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the command name, which is in parentheses: utime and stime are the
        // 12th and 13th of them.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            for index in [11, 12] {
                ticks += fields.get(index).and_then(|f| f.parse().ok()).unwrap_or(0);
            }
        }
    }
    ticks as f64 / ticks_per_second
}

/// The threads of the pipeline `init()` builds: the export queue's and the gRPC client's.
fn queue_cpu_seconds() -> f64 {
    // Thread names are cut to 15 bytes.
    cpu_seconds("tracing-ai-expo") + cpu_seconds("tracing-ai-otlp")
}

/// The threads of the baseline: OpenTelemetry's batch processor and its gRPC client's.
fn batch_processor_cpu_seconds() -> f64 {
    cpu_seconds("OpenTelemetry.T") + cpu_seconds("baseline-otlp")
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less arguments: do nothing
    // there, so that the test suite does not pay for a long measurement.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    held_span_memory();
    export_throughput_and_memory();
}

/// Produces at full speed for 10 s into the current pipeline, then waits until nothing more
/// arrives; prints and returns (spans exported per CPU-second of the export threads, share
/// of the produced spans that arrived).
fn throughput(name: &str, receiver: &Receiver, cpu_seconds: fn() -> f64) -> (f64, f64) {
    // Warm up: callsites, prices, the connection.
    for n in 0..1_000 {
        request(n);
    }
    std::thread::sleep(Duration::from_secs(6));
    let before = receiver.spans().len();
    let cpu_before = cpu_seconds();

    let started = Instant::now();
    let requests = produce_for(Duration::from_secs(10), || {});
    let produced = requests * SPANS_PER_REQUEST;
    let producing = started.elapsed();
    // Both export every 5 s or every 512 spans: wait until nothing more comes.
    let mut received = receiver.spans().len() - before;
    let mut last_change = Instant::now();
    let mut finished = started.elapsed();
    while last_change.elapsed() < Duration::from_secs(7) {
        std::thread::sleep(Duration::from_millis(50));
        let now = receiver.spans().len() - before;
        if now != received {
            received = now;
            last_change = Instant::now();
            finished = started.elapsed();
        }
    }
    let cpu = cpu_seconds() - cpu_before;
    let per_cpu_second = received as f64 / cpu;
    let arrived = received as f64 / produced as f64;
    println!(
        "export/{name}: one thread produced {produced} spans in {producing:.2?} ({:.0} spans/s); \
         {received} arrived by {finished:.2?} ({:.0} spans/s, {:.1}% of those produced); the \
         export threads used {cpu:.2} s of CPU: {per_cpu_second:.0} spans exported per CPU-second",
        produced as f64 / producing.as_secs_f64(),
        received as f64 / finished.as_secs_f64(),
        100.0 * arrived,
    );
    (per_cpu_second, arrived)
}

/// What the OTLP pipeline of `init()` sustains against OpenTelemetry's batch processor over
/// the same exporter in the same run, and what it holds when the backend is down.
fn export_throughput_and_memory() {
    let receiver = Receiver::start();

    // The baseline: the batch processor, what `init()` used before the export queue.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("baseline-otlp")
        .enable_all()
        .build()
        .expect("a runtime");
    let exporter = {
        let _entered = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", receiver.grpc))
            .build()
            .expect("an exporter")
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build(),
        )
        .build();
    let baseline = tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench")));
    let (baseline_rate, baseline_arrived) = tracing::subscriber::with_default(baseline, || {
        throughput("batch_processor", &receiver, batch_processor_cpu_seconds)
    });
    let _ = provider.shutdown();
    runtime.shutdown_background();

    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_console(false)
        .with_metrics(false)
        .with_filter("info")
        .try_init()
        .expect("tracing is set up");
    let stats = guard.export_stats().expect("exporting").clone();
    let (rate, arrived) = throughput("queue", &receiver, queue_cpu_seconds);
    println!(
        "export/queue vs batch_processor: {:.2}x the spans exported per CPU-second, {:.2}x the \
         share that arrived; the queue counted {} spans dropped for a full queue",
        rate / baseline_rate,
        arrived / baseline_arrived,
        stats.dropped_for_queue_full()
    );

    // The backend goes away: the queue fills and then drops; memory must stay flat.
    drop(receiver);
    // Let the receiver's runtime wind down and free what it stored.
    std::thread::sleep(Duration::from_secs(2));
    let baseline = live_bytes();
    let mut samples = Vec::new();
    let requests = produce_for(Duration::from_secs(10), || samples.push(live_bytes()));
    let peak = samples.iter().copied().max().unwrap_or(baseline);
    let last_second = &samples[samples.len().saturating_sub(10)..];
    println!(
        "export/backend_down: {} spans produced in 10 s with the receiver stopped; live heap {:.2} MiB before, peak {:.2} MiB (+{:.2} MiB), last second {:.2}..{:.2} MiB",
        requests * SPANS_PER_REQUEST,
        mib(baseline),
        mib(peak),
        mib(peak.saturating_sub(baseline)),
        mib(last_second.iter().copied().min().unwrap_or(0)),
        mib(last_second.iter().copied().max().unwrap_or(0)),
    );
    println!(
        "export/backend_down: the queue counted {} spans dropped for a full queue, {} in failed exports",
        stats.dropped_for_queue_full(),
        stats.dropped_for_export_failed()
    );
    // Shutting down against a dead endpoint waits for the export timeout: not measured.
    std::mem::forget(guard);
}

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

/// The heap a span held by the tail sampler costs: one request's model calls, held until its
/// root ends.
fn held_span_memory() {
    const HELD: usize = 50_000;
    let sampling = TailSampling::builder()
        .with_sample_ratio(0.0)
        .with_max_held_spans(HELD * 2)
        .build()
        .expect("valid");
    let processor = sampling.processor(SimpleSpanProcessor::new(Discard));
    let stats = processor.stats();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampling.sampler())
        .with_span_processor(processor)
        .build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("bench")));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
            for n in 0..100 {
                generate(n);
            }
            let before = live_bytes();
            let held_before = stats.held_spans();
            for n in 0..HELD as u64 {
                generate(n);
            }
            let held = stats.held_spans() - held_before;
            let bytes = live_bytes().saturating_sub(before);
            println!(
                "sampling/held_span: {held} AI spans held cost {:.1} MiB of heap, {} bytes per span (SpanData is {} bytes of it)",
                mib(bytes),
                bytes / held.max(1),
                std::mem::size_of::<SpanData>()
            );
        });
    });
    assert_eq!(
        stats.held_spans(),
        0,
        "the trace was decided when its root ended"
    );
}
