//! Tail sampling set up by `tracing_ai::builder()`, exporting over OTLP/gRPC to a receiver in
//! this process: 2,000 requests on four threads, 3% of them failing, a ratio of 5%. Every
//! failed request arrives whole; the others arrive exactly when their trace id falls under the
//! ratio (as OpenTelemetry's `TraceIdRatioBased` decides), about 5% of them; no trace is
//! partial, and each kept root's roll-up is the sum of its calls.
//!
//! One test in this file: `init()` installs the global subscriber.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use opentelemetry::trace::{SpanKind, TraceContextExt as _, TraceId};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample as _};
use tracing_ai::sampling::TailSampling;
use tracing_ai::{ai_span, Protocol, Usage};
use tracing_ai_tests::receiver::{by_trace, ReceivedSpan, Receiver};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const REQUESTS: usize = 2_000;
const THREADS: usize = 4;
const RATIO: f64 = 0.05;

#[derive(Debug)]
struct Overloaded;

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model is overloaded")
    }
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
fn embed(text: &str) -> Usage {
    Usage::new(text.len() as u64, 0)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(input: u64, fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        Err(Overloaded)
    } else {
        Ok(Usage::new(input, 150))
    }
}

/// 3% of the requests fail: those numbered 0, 1 and 2 of every hundred.
fn fails(n: usize) -> bool {
    n % 100 < 3
}

/// Runs request `n` and returns its trace id.
fn request(n: usize) -> TraceId {
    let root = tracing::info_span!(
        "request",
        request.id = n as i64,
        tenant.id = if n % 2 == 0 { "acme" } else { "globex" },
        otel.status_code = tracing::field::Empty,
    );
    let trace_id = root.context().span().span_context().trace_id();
    let failed = root.in_scope(|| {
        embed("what did this tenant spend today?");
        generate(500 + n as u64, fails(n)).is_err()
    });
    if failed {
        root.record("otel.status_code", "ERROR");
    }
    trace_id
}

fn int(span: &ReceivedSpan, key: &str) -> i64 {
    match span.attr(key) {
        Some(Value::IntValue(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}", span.span.name),
    }
}

fn double(span: &ReceivedSpan, key: &str) -> f64 {
    match span.attr(key) {
        Some(Value::DoubleValue(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}", span.span.name),
    }
}

#[test]
fn failed_requests_arrive_whole_and_the_others_by_trace_id_ratio() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_console(false)
        .with_sampling(TailSampling::builder().sample_ratio(RATIO))
        .init()
        .expect("tracing is set up");
    let stats = guard.sampling_stats().expect("sampling is on").clone();

    let trace_ids = Mutex::new(HashMap::new());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let trace_ids = &trace_ids;
            scope.spawn(move || {
                for n in (thread..REQUESTS).step_by(THREADS) {
                    let trace_id = request(n);
                    trace_ids.lock().expect("not poisoned").insert(n, trace_id);
                }
            });
        }
    });
    // Dropping the guard exports what is left and shuts the exporter down.
    drop(guard);

    let trace_ids = trace_ids.into_inner().expect("not poisoned");
    let oracle = Sampler::TraceIdRatioBased(RATIO);
    let expected: HashSet<TraceId> = trace_ids
        .iter()
        .filter(|(n, trace_id)| {
            fails(**n)
                || oracle
                    .should_sample(None, **trace_id, "request", &SpanKind::Internal, &[], &[])
                    .decision
                    == SamplingDecision::RecordAndSample
        })
        .map(|(_, trace_id)| *trace_id)
        .collect();

    let spans = receiver.spans();
    let traces = by_trace(&spans);
    let arrived: HashSet<TraceId> = traces
        .keys()
        .map(|id| TraceId::from_bytes(id.as_slice().try_into().expect("16 bytes")))
        .collect();
    assert_eq!(
        arrived, expected,
        "exactly the failed and the ratio-sampled"
    );

    let mut kept_ok = 0;
    for spans in traces.values() {
        assert_eq!(spans.len(), 3, "root, embedding and chat: no partial trace");
        let root = spans
            .iter()
            .find(|span| span.span.parent_span_id.is_empty())
            .expect("a root");
        let n = int(root, "request.id") as usize;
        let failed = root
            .span
            .status
            .as_ref()
            .is_some_and(|status| status.code == StatusCode::Error as i32);
        assert_eq!(failed, fails(n), "request {n}");
        assert_eq!(
            root.str_attr("ai.sampling.reason"),
            Some(if failed { "error" } else { "ratio" }),
            "request {n}"
        );
        if !failed {
            kept_ok += 1;
        }
        let calls: f64 = spans
            .iter()
            .filter_map(|span| match span.attr("gen_ai.usage.cost") {
                Some(Value::DoubleValue(usd)) => Some(*usd),
                _ => None,
            })
            .sum();
        assert!((double(root, "ai.request.cost") - calls).abs() < 1e-12);
        assert_eq!(
            int(root, "ai.request.ai_calls"),
            2,
            "embedding and chat, request {n}"
        );
    }

    // 1,940 requests that did not fail, each kept with probability 5%: the count lies within
    // 3.29 standard deviations of 97 (a 99.9% interval) unless the ratio is wrong.
    let ok = (REQUESTS - REQUESTS * 3 / 100) as f64;
    let (mean, sd) = (ok * RATIO, (ok * RATIO * (1.0 - RATIO)).sqrt());
    assert!(
        (f64::from(kept_ok) - mean).abs() <= 3.29 * sd,
        "{kept_ok} of {ok} kept, expected about {mean}"
    );
    assert_eq!(stats.kept_traces(), expected.len() as u64);
    assert_eq!(stats.dropped_traces(), (REQUESTS - expected.len()) as u64);
    assert_eq!(stats.held_spans(), 0);
}
