//! Tail sampling set up by `tracing_ai::builder()`, exporting over OTLP/gRPC to a receiver in
//! this process: 2,000 requests on four threads, 3% of them failing, a ratio of 5%. Every
//! failed request arrives whole; the others arrive exactly when their trace id falls under the
//! ratio (as OpenTelemetry's `TraceIdRatioBased` decides), about 5% of them; no trace is
//! partial, and each kept root's roll-up is the sum of its calls. The metrics, exported beside
//! them, count every request: the cost by tenant is exact to 1e-9, whatever was sampled.
//!
//! One test in this file: `init()` installs the global subscriber.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use opentelemetry::trace::{SpanKind, TraceContextExt as _, TraceId};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample as _};
use tracing_ai::sampling::TailSampling;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Protocol, Usage};
use tracing_ai_tests::receiver::{by_trace, latest, ReceivedSpan, Receiver};
use tracing_ai_tests::Overloaded;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const REQUESTS: usize = 2_000;
const THREADS: usize = 4;
const RATIO: f64 = 0.05;
const QUESTION: &str = "what did this tenant spend today?";
/// USD per token, set with `with_model_price` so that the expected totals are plain sums.
const CHAT_INPUT: f64 = 0.15e-6;
const CHAT_OUTPUT: f64 = 0.60e-6;
const EMBEDDING_INPUT: f64 = 0.02e-6;

fn tenant(n: usize) -> &'static str {
    if n.is_multiple_of(2) {
        "acme"
    } else {
        "globex"
    }
}

fn chat_input(n: usize) -> u64 {
    500 + n as u64
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
        tenant.id = tenant(n),
        feature.id = "search",
        otel.status_code = tracing::field::Empty,
    );
    let trace_id = root.context().span().span_context().trace_id();
    let failed = root.in_scope(|| {
        embed(QUESTION);
        generate(chat_input(n), fails(n)).is_err()
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
fn failed_requests_arrive_whole_the_others_by_ratio_and_metrics_count_them_all() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_console(false)
        .with_sampling(TailSampling::builder().with_sample_ratio(RATIO))
        .with_layer(
            AiLayer::builder()
                .with_model_price(
                    "gpt-4o-mini",
                    ModelPrice::per_million_tokens(CHAT_INPUT * 1e6, CHAT_OUTPUT * 1e6),
                )
                .with_model_price(
                    "text-embedding-3-small",
                    ModelPrice::per_million_tokens(EMBEDDING_INPUT * 1e6, 0.0),
                ),
        )
        .try_init()
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
    // The sampler's counts are exported as metrics too.
    for (name, count) in [
        ("ai.sampling.kept_traces", stats.kept_traces()),
        ("ai.sampling.dropped_traces", stats.dropped_traces()),
        ("ai.sampling.overflowed_traces", 0),
    ] {
        let exported: Vec<f64> = latest(receiver.sum_points(name)).into_values().collect();
        assert_eq!(exported, [count as f64], "{name}");
    }
    assert_eq!(stats.dropped_traces(), (REQUESTS - expected.len()) as u64);
    assert_eq!(stats.held_spans(), 0);

    // The cost counter, by tenant: every request's calls, kept or not.
    let mut expected_cost: HashMap<&str, f64> = HashMap::new();
    for n in 0..REQUESTS {
        let mut usd = QUESTION.len() as f64 * EMBEDDING_INPUT;
        if !fails(n) {
            usd += chat_input(n) as f64 * CHAT_INPUT + 150.0 * CHAT_OUTPUT;
        }
        *expected_cost.entry(tenant(n)).or_default() += usd;
    }
    let costs = latest(receiver.sum_points("ai.client.cost"));
    for (tenant, expected) in &expected_cost {
        let exported: f64 = costs
            .iter()
            .filter(|(attributes, _)| {
                attributes.contains(&("tenant.id".to_owned(), (*tenant).to_owned()))
            })
            .map(|(_, usd)| usd)
            .sum();
        assert!(
            (exported - expected).abs() < 1e-9,
            "{tenant}: {exported} exported, {expected} spent"
        );
    }
    for attributes in costs.keys() {
        assert!(
            attributes.contains(&("feature.id".to_owned(), "search".to_owned())),
            "{attributes:?}"
        );
    }

    // Input tokens of the chat calls: the ones that did not fail as text, the failed ones as
    // 0 of an unknown modality; and one duration per call.
    let tokens = latest(receiver.sum_points("gen_ai.client.inference.usage.input_tokens"));
    let chat_input_tokens = |modality: &str| -> f64 {
        tokens
            .iter()
            .filter(|(attributes, _)| {
                attributes.contains(&("gen_ai.token.modality".to_owned(), modality.to_owned()))
                    && attributes.contains(&("gen_ai.operation.name".to_owned(), "chat".to_owned()))
            })
            .map(|(_, sum)| sum)
            .sum()
    };
    let expected_input: u64 = (0..REQUESTS).filter(|n| !fails(*n)).map(chat_input).sum();
    assert_eq!(chat_input_tokens("text"), expected_input as f64);
    assert_eq!(chat_input_tokens("unknown"), 0.0);
    assert!(
        tokens.keys().any(|attributes| attributes
            .contains(&("gen_ai.token.modality".to_owned(), "unknown".to_owned()))),
        "the failed calls count 0 tokens of an unknown modality: {tokens:?}"
    );
    let mut durations: HashMap<Vec<(String, String)>, (u64, u64)> = HashMap::new();
    // Chat calls are inference, embeddings another operation with a provider.
    let histograms = [
        "gen_ai.client.inference.duration",
        "gen_ai.client.operation.duration",
    ];
    for (point, count) in histograms
        .into_iter()
        .flat_map(|name| receiver.histogram_points(name))
    {
        let entry = durations.entry(point.attributes).or_default();
        if point.time_unix_nano >= entry.0 {
            *entry = (point.time_unix_nano, count);
        }
    }
    let count = |operation: &str, failed: bool| -> u64 {
        durations
            .iter()
            .filter(|(attributes, _)| {
                attributes.contains(&("gen_ai.operation.name".to_owned(), operation.to_owned()))
                    && attributes.iter().any(|(key, _)| key == "error.type") == failed
            })
            .map(|(_, (_, count))| count)
            .sum()
    };
    assert_eq!(count("embeddings", false), REQUESTS as u64);
    assert_eq!(count("chat", false), (REQUESTS - REQUESTS * 3 / 100) as u64);
    assert_eq!(count("chat", true), (REQUESTS * 3 / 100) as u64);
}
