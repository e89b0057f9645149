//! The tail sampler's rules, span by span: what it keeps, why, what it drops, what it does at
//! its bound of held spans, and that its ratio decisions are OpenTelemetry's.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, TraceId, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter,
};
use tracing::Dispatch;
use tracing_ai::sampling::{SamplingStats, TailSampling, TailSamplingBuilder};
use tracing_ai::{ai_span, record_fallback, Usage};
use tracing_ai_tests::otel::{attr, f64_attr, str_attr};
use tracing_ai_tests::Overloaded;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Keeps what it is given, after shutdown too.
#[derive(Clone, Debug, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

impl Collect {
    fn spans(&self) -> Vec<SpanData> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn traces(&self) -> HashMap<TraceId, Vec<SpanData>> {
        let mut traces: HashMap<TraceId, Vec<SpanData>> = HashMap::new();
        for span in self.spans() {
            traces
                .entry(span.span_context.trace_id())
                .or_default()
                .push(span);
        }
        traces
    }
}

/// A subscriber with the AI layer over a provider that tail-samples into memory.
struct Pipeline {
    dispatch: Dispatch,
    provider: SdkTracerProvider,
    exported: Collect,
    stats: SamplingStats,
}

impl Pipeline {
    fn new(sampling: TailSamplingBuilder) -> Self {
        let sampling = sampling.build().expect("a valid sampling configuration");
        let exported = Collect::default();
        let processor = sampling.processor(SimpleSpanProcessor::new(exported.clone()));
        let stats = processor.stats();
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampling.sampler())
            .with_span_processor(processor)
            .build();
        let dispatch = Dispatch::new(
            tracing_subscriber::registry().with(tracing_ai::layer(provider.tracer("sampling"))),
        );
        Self {
            dispatch,
            provider,
            exported,
            stats,
        }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate(input: u64, fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        return Err(Overloaded);
    }
    Ok(Usage::new(input, 100))
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn generate_after_fallback(input: u64) -> Usage {
    record_fallback("llama-3.1-8b-fp8");
    Usage::new(input, 100)
}

/// One request: a root with a model call under it.
fn request(n: usize, input: u64, fail: bool) {
    let root = tracing::info_span!("request", request.id = n as i64);
    let _ = root.in_scope(|| generate(input, fail));
}

fn reason(span: &SpanData) -> Option<String> {
    str_attr(span, "ai.sampling.reason").map(|reason| reason.into_owned())
}

fn root_of(spans: &[SpanData]) -> &SpanData {
    let roots: Vec<&SpanData> = spans.iter().filter(|s| s.name == "request").collect();
    assert_eq!(roots.len(), 1, "one root per trace: {spans:#?}");
    roots[0]
}

#[test]
fn a_ratio_of_zero_keeps_only_failed_requests_whole() {
    let pipeline = Pipeline::new(TailSampling::builder().with_sample_ratio(0.0));
    pipeline.run(|| {
        for n in 0..50 {
            request(n, 1_000, n % 10 == 3);
        }
    });

    let traces = pipeline.exported.traces();
    assert_eq!(traces.len(), 5, "the five failed requests, nothing else");
    for spans in traces.values() {
        assert_eq!(spans.len(), 2, "root and model call: {spans:#?}");
        let root = root_of(spans);
        assert_eq!(reason(root).as_deref(), Some("error"));
        let Some(Value::I64(n)) = attr(root, "request.id") else {
            panic!("request.id on the root")
        };
        assert_eq!(n % 10, 3);
        for span in spans {
            assert!(
                span.span_context.is_sampled(),
                "kept spans are exported as sampled"
            );
        }
        let call = spans.iter().find(|s| s.name != "request").expect("a call");
        assert!(
            reason(call).is_none(),
            "only the root says why the trace was kept"
        );
    }
    assert_eq!(pipeline.stats.kept_traces(), 5);
    assert_eq!(pipeline.stats.dropped_traces(), 45);
    assert_eq!(pipeline.stats.dropped_spans(), 90);
    assert_eq!(pipeline.stats.held_spans(), 0, "nothing left behind");
}

#[test]
fn errors_are_dropped_too_when_not_kept() {
    let pipeline = Pipeline::new(
        TailSampling::builder()
            .with_sample_ratio(0.0)
            .with_keep_errors(false),
    );
    pipeline.run(|| request(1, 1_000, true));
    assert!(pipeline.exported.spans().is_empty());
    assert_eq!(pipeline.stats.dropped_traces(), 1);
}

#[test]
fn a_ratio_of_one_keeps_everything_by_ratio() {
    let pipeline = Pipeline::new(TailSampling::builder());
    pipeline.run(|| {
        for n in 0..10 {
            request(n, 1_000, false);
        }
    });
    let traces = pipeline.exported.traces();
    assert_eq!(traces.len(), 10);
    for spans in traces.values() {
        assert_eq!(reason(root_of(spans)).as_deref(), Some("ratio"));
    }
}

#[test]
fn expensive_requests_are_kept_for_their_cost() {
    // gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens. 1,000,000
    // input tokens cost $0.15 + 100 output tokens; 1,000 cost well under a cent.
    let pipeline = Pipeline::new(
        TailSampling::builder()
            .with_sample_ratio(0.0)
            .with_keep_cost_above(0.10),
    );
    pipeline.run(|| {
        request(1, 1_000_000, false);
        request(2, 1_000, false);
    });
    let traces = pipeline.exported.traces();
    assert_eq!(traces.len(), 1, "only the expensive request");
    let spans = traces.values().next().expect("one trace");
    let root = root_of(spans);
    assert_eq!(reason(root).as_deref(), Some("cost"));
    assert_eq!(attr(root, "request.id"), Some(&Value::I64(1)));
    assert!((f64_attr(root, "ai.request.cost") - 0.15006).abs() < 1e-12);
}

#[test]
fn requests_served_by_a_fallback_are_kept() {
    let pipeline = Pipeline::new(TailSampling::builder().with_sample_ratio(0.0));
    pipeline.run(|| {
        tracing::info_span!("request").in_scope(|| generate_after_fallback(10));
        request(2, 10, false);
    });
    let spans = pipeline.exported.spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_eq!(reason(root_of(&spans)).as_deref(), Some("fallback"));
    let fallbacks = TailSampling::builder()
        .with_sample_ratio(0.0)
        .with_keep_fallbacks(false);
    let pipeline = Pipeline::new(fallbacks);
    pipeline.run(|| tracing::info_span!("request").in_scope(|| generate_after_fallback(10)));
    assert!(pipeline.exported.spans().is_empty());
}

#[test]
fn ratio_decisions_are_those_of_trace_id_ratio_based() {
    for ratio in [0.0, 0.01, 0.05, 0.5, 0.999, 1.0] {
        let ours = TailSampling::builder()
            .with_sample_ratio(ratio)
            .build()
            .expect("valid")
            .sampler();
        let theirs = Sampler::TraceIdRatioBased(ratio);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (ratio * 1e6) as u64;
        let mut kept = 0;
        for _ in 0..20_000 {
            let trace_id =
                TraceId::from(u128::from(next(&mut state)) << 64 | u128::from(next(&mut state)));
            let decide = |sampler: &dyn opentelemetry_sdk::trace::ShouldSample| {
                sampler
                    .should_sample(None, trace_id, "root", &SpanKind::Internal, &[], &[])
                    .decision
            };
            let expected = decide(&theirs);
            let got = decide(&ours);
            match expected {
                SamplingDecision::RecordAndSample => {
                    kept += 1;
                    assert_eq!(
                        got,
                        SamplingDecision::RecordAndSample,
                        "{trace_id} at {ratio}"
                    );
                }
                _ => assert_eq!(
                    got,
                    SamplingDecision::RecordOnly,
                    "{trace_id} at {ratio}: recorded, so that the tail can still keep it"
                ),
            }
        }
        let share = f64::from(kept) / 20_000.0;
        assert!((share - ratio).abs() < 0.01, "{share} kept at {ratio}");
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A client and a server, each with its own provider and tail sampler, sharing only the
/// `traceparent` header: the server keeps what the client kept, whatever its own ratio.
#[test]
fn a_server_keeps_the_traces_its_client_kept() {
    let client = Pipeline::new(TailSampling::builder().with_sample_ratio(0.2));
    let same_ratio = Pipeline::new(TailSampling::builder().with_sample_ratio(0.2));
    let no_ratio = Pipeline::new(TailSampling::builder().with_sample_ratio(0.0));
    let propagator = TraceContextPropagator::new();

    for n in 0..400 {
        let mut headers = HashMap::new();
        client.run(|| {
            let root = tracing::info_span!("request", request.id = n);
            root.in_scope(|| {
                let call = tracing::info_span!("call server", otel.kind = "client");
                propagator.inject_context(&call.context(), &mut headers);
                call.in_scope(|| generate(10, false))
            })
            .expect("no failure");
        });
        for server in [&same_ratio, &no_ratio] {
            server.run(|| {
                let root = tracing::info_span!("request", otel.kind = "server");
                root.set_parent(propagator.extract(&headers))
                    .expect("the layer sees the span");
                let _ = root.in_scope(|| generate(10, false));
            });
        }
    }

    let kept = |pipeline: &Pipeline| -> HashSet<TraceId> {
        pipeline.exported.traces().into_keys().collect()
    };
    let client_kept = kept(&client);
    assert!(
        (50..=110).contains(&client_kept.len()),
        "about 20% of 400: {}",
        client_kept.len()
    );
    assert_eq!(kept(&same_ratio), client_kept);
    assert_eq!(kept(&no_ratio), client_kept);
    for spans in no_ratio.exported.traces().values() {
        assert_eq!(reason(root_of(spans)).as_deref(), Some("parent"));
        assert!(root_of(spans).parent_span_is_remote);
    }
}

/// At the edge, a caller's forged sampled `traceparent` keeps nothing: with the parent's flag
/// not followed, a ratio of 0 keeps only failures, and the flag sent on is this service's.
#[test]
fn an_edge_service_ignores_a_forged_sampled_flag() {
    let edge = Pipeline::new(
        TailSampling::builder()
            .with_sample_ratio(0.0)
            .with_parent_sampled(false),
    );
    let propagator = TraceContextPropagator::new();
    let mut sent_on = Vec::new();
    for n in 0..50_u64 {
        let forged: HashMap<String, String> = [(
            "traceparent".to_owned(),
            format!("00-{:032x}-{:016x}-01", n + 1, n + 1),
        )]
        .into();
        edge.run(|| {
            let root = tracing::info_span!("request", otel.kind = "server");
            root.set_parent(propagator.extract(&forged))
                .expect("the layer sees the span");
            let _ = root.in_scope(|| {
                let mut headers = HashMap::new();
                propagator.inject_context(&tracing::Span::current().context(), &mut headers);
                sent_on.push(headers["traceparent"].clone());
                generate(10, n == 7)
            });
        });
    }
    let traces = edge.exported.traces();
    assert_eq!(traces.len(), 1, "only the failed request");
    let spans = traces.values().next().expect("one trace");
    assert_eq!(reason(root_of(spans)).as_deref(), Some("error"));
    assert!(
        sent_on.iter().all(|header| header.ends_with("-00")),
        "{sent_on:?}"
    );
}

#[test]
fn a_trace_over_the_bound_is_kept_early_and_memory_stays_bounded() {
    const SPANS: usize = 100_000;
    const BOUND: usize = 10_000;
    let pipeline = Pipeline::new(
        TailSampling::builder()
            .with_sample_ratio(0.0)
            .with_max_held_spans(BOUND),
    );
    pipeline.run(|| {
        tracing::info_span!("request").in_scope(|| {
            for _ in 0..SPANS {
                tracing::info_span!("step").in_scope(|| {});
            }
        })
    });

    assert_eq!(pipeline.stats.overflowed_traces(), 1);
    assert!(
        pipeline.stats.peak_held_spans() <= BOUND,
        "held {} spans",
        pipeline.stats.peak_held_spans()
    );
    assert_eq!(pipeline.stats.held_spans(), 0);
    let spans = pipeline.exported.spans();
    assert_eq!(spans.len(), SPANS + 1, "the whole trace, nothing lost");
    assert_eq!(reason(root_of(&spans)).as_deref(), Some("overflow"));
    assert_eq!(pipeline.stats.dropped_traces(), 0);
}

/// A span linked to its trace after the root ended (here with `set_parent`) follows the
/// decision taken for the trace.
#[test]
fn a_span_ending_after_its_root_follows_the_decision() {
    let pipeline = Pipeline::new(TailSampling::builder().with_sample_ratio(0.0));
    pipeline.run(|| {
        for fail in [true, false] {
            let root = tracing::info_span!("request");
            let _ = root.in_scope(|| generate(10, fail));
            let context = root.context();
            drop(root);
            let late = tracing::info_span!(parent: None, "late");
            late.set_parent(context).expect("the layer sees the span");
            late.in_scope(|| {});
        }
    });
    let traces = pipeline.exported.traces();
    assert_eq!(traces.len(), 1);
    let spans = traces.values().next().expect("the failed request");
    let names: BTreeSet<&str> = spans.iter().map(|s| &*s.name).collect();
    assert_eq!(
        names,
        BTreeSet::from(["request", "chat gpt-4o-mini", "late"])
    );
}

#[test]
fn shutting_down_decides_the_traces_still_held() {
    let pipeline = Pipeline::new(TailSampling::builder().with_sample_ratio(0.0));
    let root = pipeline.run(|| {
        let root = tracing::info_span!("request");
        let _ = root.in_scope(|| generate(10, true));
        root
    });
    assert!(
        pipeline.exported.spans().is_empty(),
        "the root is still open"
    );
    assert_eq!(pipeline.stats.held_spans(), 1);
    pipeline.provider.shutdown().expect("shuts down");
    let spans = pipeline.exported.spans();
    assert_eq!(spans.len(), 1, "the failed call, kept: {spans:#?}");
    assert_eq!(spans[0].name, "chat gpt-4o-mini");
    assert_eq!(pipeline.stats.held_spans(), 0);
    drop(root);
}

#[test]
fn bad_settings_are_errors_that_name_them() {
    let message = |builder: TailSamplingBuilder| builder.build().expect_err("invalid").to_string();
    assert_eq!(
        message(TailSampling::builder().with_sample_ratio(1.5)),
        "`sample_ratio` is `1.5`; expected a number from 0 to 1, such as 0.05 to keep one trace in twenty"
    );
    assert!(message(TailSampling::builder().with_sample_ratio(f64::NAN))
        .contains("`sample_ratio` is `NaN`"));
    assert_eq!(
        message(TailSampling::builder().with_keep_cost_above(-1.0)),
        "`keep_cost_above` is `-1`; expected an amount in USD, zero or more"
    );
    assert_eq!(
        message(TailSampling::builder().with_max_held_spans(0)),
        "`max_held_spans` is `0`; expected a number of spans above zero"
    );
}
