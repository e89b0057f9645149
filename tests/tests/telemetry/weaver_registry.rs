//! `semconv/`, tracing-ai's names as an OpenTelemetry Weaver registry, against what the library
//! exports: every attribute, metric and event name that is not the conventions' is declared
//! there with the type, instrument and unit it is exported with; no declared name is the
//! namespace of another (Weaver's `illegal_namespace`); span events carry nothing but their
//! attributes.
//!
//! Weaver's own `registry live-check` runs over the examples with this registry (see
//! `semconv/README.md`); it needs Weaver and the conventions' model, which come from GitHub,
//! so CI runs this test instead, which needs neither.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute as semconv;
use serde::Deserialize;
use tracing_ai::budget::{Budget, Scope, Window};
use tracing_ai::evaluation::Evaluation;
use tracing_ai::{ai_span, AiLayer, MetricConventions, Usage};
use tracing_ai_tests::otel::{export_built, value_type};
use tracing_ai_tests::GEN_AI_CONVENTIONS;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    id: String,
    r#type: String,
    metric_name: Option<String>,
    name: Option<String>,
    instrument: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
struct Attribute {
    id: Option<String>,
    r#ref: Option<String>,
    r#type: Option<serde_yaml_ng::Value>,
}

/// What `semconv/*.yaml` declares.
#[derive(Default)]
struct Registry {
    /// Attribute name -> its type (`string`, `int`, `double`, `boolean`, `string[]`).
    attributes: BTreeMap<String, String>,
    /// Metric name -> its instrument, its unit and the attributes it may carry.
    metrics: BTreeMap<String, (String, String, BTreeSet<String>)>,
    /// Event name -> the attributes it may carry.
    events: BTreeMap<String, BTreeSet<String>>,
}

fn registry() -> Registry {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../semconv");
    let mut registry = Registry::default();
    for entry in std::fs::read_dir(&dir).expect("semconv/ is readable") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|ext| ext != "yaml") || path.ends_with("manifest.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let file: File = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        for group in file.groups {
            let refs: BTreeSet<String> = group
                .attributes
                .iter()
                .filter_map(|attribute| attribute.r#ref.clone().or(attribute.id.clone()))
                .collect();
            for attribute in &group.attributes {
                if let (Some(id), Some(kind)) = (&attribute.id, &attribute.r#type) {
                    let kind = kind.as_str().expect("a plain type").to_owned();
                    assert!(
                        registry.attributes.insert(id.clone(), kind).is_none(),
                        "`{id}` is declared twice"
                    );
                }
            }
            match group.r#type.as_str() {
                "metric" => {
                    let name = group.metric_name.expect("a metric has a name");
                    let instrument = group.instrument.expect("a metric has an instrument");
                    let unit = group.unit.expect("a metric has a unit");
                    registry.metrics.insert(name, (instrument, unit, refs));
                }
                "event" => {
                    registry
                        .events
                        .insert(group.name.expect("an event has a name"), refs);
                }
                "attribute_group" => {}
                other => panic!("group `{}` of type `{other}`", group.id),
            }
        }
    }
    registry
}

/// The conventions' names besides the GenAI ones ([`GEN_AI_CONVENTIONS`]) that the library
/// may export, and tracing-opentelemetry's thread attributes.
const OTHER_CONVENTIONS: &[&str] = &[
    semconv::ERROR_TYPE,
    semconv::USER_ID,
    semconv::SESSION_ID,
    semconv::HTTP_REQUEST_METHOD,
    semconv::HTTP_ROUTE,
    semconv::HTTP_RESPONSE_STATUS_CODE,
    semconv::URL_PATH,
    semconv::URL_FULL,
    semconv::SERVER_ADDRESS,
    semconv::SERVER_PORT,
    semconv::THREAD_ID,
    semconv::THREAD_NAME,
];

fn is_conventions(name: &str) -> bool {
    GEN_AI_CONVENTIONS.contains(&name) || OTHER_CONVENTIONS.contains(&name)
}

/// The conventions' events the library writes.
const CONVENTION_EVENTS: &[&str] = &["gen_ai.evaluation.result"];

/// The conventions' metrics of 1.41, by name: instrument and unit.
const CONVENTION_METRICS: &[(&str, &str, &str)] = &[
    ("gen_ai.client.operation.duration", "histogram", "s"),
    ("gen_ai.client.token.usage", "histogram", "{token}"),
    (
        "gen_ai.client.operation.time_to_first_chunk",
        "histogram",
        "s",
    ),
    (
        "gen_ai.client.operation.time_per_output_chunk",
        "histogram",
        "s",
    ),
];

#[ai_span(
    kind = "llm",
    model = "gpt-4o-mini",
    provider = "openai",
    endpoint = "https://api.openai.com/v1"
)]
fn chat(fail: bool) -> Result<Usage, tracing_ai_tests::Overloaded> {
    if fail {
        return Err(tracing_ai_tests::Overloaded);
    }
    // Served by the hosted model after the self-hosted one failed.
    tracing_ai::record_fallback("llama-3.1-8b-fp8");
    Evaluation::new("relevance")
        .with_score(0.9)
        .with_label("relevant")
        .record();
    Ok(Usage::new(1_200, 300)
        .with_cache_read(1_000)
        .with_reasoning(100)
        .with_response_model("gpt-4o-mini-2024-07-18"))
}

/// A call that reserves in the budgets: past the limit, the warning budget says so.
#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
fn budgeted() -> Result<Usage, tracing_ai::budget::BudgetExceeded> {
    Ok(Usage::new(1_200, 300))
}

#[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted")]
fn unknown_model() -> Usage {
    Usage::new(10, 2)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat_stream() -> impl futures_core::Stream<Item = tracing_ai_tests::Delta> {
    tokio_stream::iter(vec![tracing_ai_tests::Delta {
        usage: Some(Usage::new(40, 8)),
        finish_reason: Some("stop"),
    }])
}

#[ai_span(kind = "retrieval")]
fn retrieve() -> usize {
    // A user's log line inside a call: no span event, so no `level`, `target` or `chunks`.
    tracing::info!(chunks = 3, "retrieved");
    3
}

#[ai_span(kind = "tool")]
fn get_weather() -> &'static str {
    "sunny"
}

#[ai_span(kind = "agent", provider = "openai")]
fn trip_assistant() -> &'static str {
    let _ = get_weather();
    let _ = chat(false);
    "done"
}

/// A request of every kind of call, priced in GBP too, past a budget that warns, with a
/// fallback and a retried call; its spans and every metric the layer and the export count.
fn request(conventions: MetricConventions) -> (Vec<SpanData>, Vec<ResourceMetrics>) {
    use tokio_stream::StreamExt as _;

    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let meter = meters.meter("tracing-ai");
    let layer = AiLayer::builder()
        .with_meter(meter.clone())
        .with_metric_conventions(conventions)
        .with_reporting_currency("GBP", 0.79)
        .with_exchange_rate_date("GBP", "2026-12-01")
        .with_budget(
            Budget::new("tenant-daily", 0.0001, Window::Day)
                .per(Scope::Tenant)
                .warn(),
        )
        .build()
        .expect("a valid layer");
    let _budgets = layer.budgets();
    // What `init` reports besides the layer's metrics.
    tracing_ai::ExportStats::default().report_to(&meter);
    let ((), exported) = export_built(layer, || {
        tracing::info_span!(
            "request",
            tenant.id = "acme",
            feature.id = "search",
            request.id = "req-1"
        )
        .in_scope(|| {
            let _ = retrieve();
            let _ = trip_assistant();
            let _ = chat(true);
            let _ = unknown_model();
            let _ = budgeted();
            let _ = budgeted();
            let attempt = tracing_ai::retry::attempt();
            attempt.succeeded();
            tracing_ai_tests::block_on(async {
                chat_stream().await.collect::<Vec<_>>().await;
            });
        });
    });
    meters.force_flush().expect("metrics flush");
    // Read now: the observed counters and gauges report nothing once the layer and its
    // handles are gone, as they are when the meter provider's shutdown exports again.
    let metrics = metrics.get_finished_metrics().expect("metrics");
    (exported.spans, metrics)
}

/// Checks one exported attribute: the conventions', or declared with its type.
fn check_attribute(
    registry: &Registry,
    name: &str,
    value: Option<&Value>,
    on: &str,
    seen: &mut BTreeSet<String>,
) {
    if is_conventions(name) {
        return;
    }
    let declared = registry.attributes.get(name).unwrap_or_else(|| {
        panic!("`{name}` on `{on}` is not the conventions' and not declared in semconv/")
    });
    if let Some(value) = value {
        assert_eq!(
            value_type(value),
            declared,
            "`{name}` on `{on}` is {value:?}, semconv/ says {declared}"
        );
    }
    seen.insert(name.to_owned());
}

#[test]
fn every_exported_name_is_the_conventions_or_declared_in_semconv() {
    let registry = registry();
    let mut seen = BTreeSet::new();
    for conventions in [MetricConventions::Current, MetricConventions::Previous] {
        let (spans, metrics) = request(conventions);
        for span in &spans {
            for kv in &span.attributes {
                check_attribute(
                    &registry,
                    kv.key.as_str(),
                    Some(&kv.value),
                    &span.name,
                    &mut seen,
                );
            }
            for event in span.events.iter() {
                let declared = registry.events.get(&*event.name);
                assert!(
                    declared.is_some() || CONVENTION_EVENTS.contains(&&*event.name),
                    "event `{}` on `{}` is not the conventions' and not declared in semconv/",
                    event.name,
                    span.name
                );
                for kv in &event.attributes {
                    let name = kv.key.as_str();
                    assert!(
                        declared.is_none_or(|names| names.contains(name)),
                        "`{name}` on event `{}` is not one of its attributes in semconv/",
                        event.name
                    );
                    check_attribute(&registry, name, Some(&kv.value), &event.name, &mut seen);
                }
                seen.insert(event.name.to_string());
            }
        }
        let last = metrics.last().expect("an export");
        for metric in last.scope_metrics().flat_map(|scope| scope.metrics()) {
            let name = metric.name();
            let instrument = match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(_))
                | AggregatedMetrics::U64(MetricData::Histogram(_)) => "histogram",
                AggregatedMetrics::F64(MetricData::Gauge(_))
                | AggregatedMetrics::U64(MetricData::Gauge(_)) => "gauge",
                AggregatedMetrics::F64(MetricData::Sum(sum)) if sum.is_monotonic() => "counter",
                AggregatedMetrics::U64(MetricData::Sum(sum)) if sum.is_monotonic() => "counter",
                _ => "updowncounter",
            };
            let (expected, unit, allowed) = match CONVENTION_METRICS
                .iter()
                .find(|(convention, ..)| *convention == name)
            {
                Some((_, instrument, unit)) => (instrument.to_string(), unit.to_string(), None),
                None => {
                    let (instrument, unit, allowed) =
                        registry.metrics.get(name).unwrap_or_else(|| {
                            panic!("metric `{name}` is not the conventions' and not in semconv/")
                        });
                    (instrument.clone(), unit.clone(), Some(allowed))
                }
            };
            assert_eq!(instrument, expected, "the instrument of `{name}`");
            assert_eq!(metric.unit(), unit, "the unit of `{name}`");
            for attributes in tracing_ai_tests::metrics::point_attributes(metric) {
                for (key, _) in attributes {
                    assert!(
                        allowed.is_none_or(|allowed| allowed.contains(&key)),
                        "`{key}` on metric `{name}` is not one of its attributes in semconv/"
                    );
                    check_attribute(&registry, &key, None, name, &mut seen);
                }
            }
            seen.insert(name.to_owned());
        }
    }
    // The request exercised what it is meant to: what it did not export, it did not check.
    for name in [
        "gen_ai.usage.cost",
        "ai.cost.amount",
        "ai.cost.exchange_rate_date",
        "ai.cost.unpriced",
        "ai.fallback.used",
        "ai.fallback.from",
        "ai.attempt.number",
        "ai.request.cost_amount",
        "ai.agent.cost_estimated",
        "ai.stream.chunks",
        "tenant.id",
        "ai.budget.exceeded",
        "ai.budget.spent",
        "ai.budget.calls",
        "ai.client.cost",
        "ai.client.unpriced_calls",
        "ai.operation.duration",
        "ai.export.dropped_spans",
        "ai.export.drop.reason",
        "gen_ai.client.inference.usage.input_tokens",
        "gen_ai.token.modality",
        "gen_ai.execute_tool.duration",
    ] {
        assert!(seen.contains(name), "nothing exported `{name}`: {seen:?}");
    }
}

/// Weaver's `illegal_namespace`: a name that is an attribute cannot be the namespace of
/// another (`ai.fallback` beside `ai.fallback.from` was one).
#[test]
fn no_declared_name_is_the_namespace_of_another() {
    let registry = registry();
    let names: BTreeSet<&str> = registry
        .attributes
        .keys()
        .map(String::as_str)
        .chain(GEN_AI_CONVENTIONS.iter().copied())
        .chain(OTHER_CONVENTIONS.iter().copied())
        .collect();
    for name in &names {
        assert!(name.contains('.'), "`{name}` has no namespace");
        let namespace = format!("{name}.");
        let under: Vec<_> = names
            .iter()
            .filter(|other| other.starts_with(&namespace))
            .collect();
        assert!(
            under.is_empty(),
            "`{name}` is an attribute and the namespace of {under:?}"
        );
    }
}
