//! What a request exports, held to the OpenTelemetry GenAI semantic conventions (schema 1.42,
//! the constants of `opentelemetry-semantic-conventions` with its experimental names): every
//! `gen_ai.*` name is the conventions' or a listed extension of ours, with the conventions'
//! type; span kinds; the required attributes of spans and metrics; none of `tracing`'s own
//! metadata.
//!
//! The constants are deprecated there, as the names moved to the conventions' GenAI
//! repository; they are still the 1.42 schema's, which is what is checked. The metrics'
//! current names (semantic-conventions-genai, which has no Rust crate) are quoted from its
//! model below; their 1.42 names, on opt-in, are checked against the constants.
#![allow(deprecated)]

use std::collections::{BTreeSet, HashMap};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::metrics::InMemoryMetricExporter;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::{attribute as semconv, metric as semconv_metric};
use tokio_stream::StreamExt as _;
use tracing_ai::{ai_span, AiLayer, MetricConventions, Usage};
use tracing_ai_tests::otel::{export_with, value_type};
use tracing_ai_tests::{block_on, Delta, Overloaded, GEN_AI_CONVENTIONS};

/// The `gen_ai.*` names no convention covers yet, each exported on purpose.
const EXTENSIONS: &[&str] = &[
    // The call's cost in USD, as Langfuse and OpenLIT read it.
    tracing_ai::attr::GEN_AI_USAGE_COST,
];

/// semantic-conventions-genai's name for the input tokens written to the provider's cache,
/// quoted from its model (1.42's is `gen_ai.usage.cache_creation.input_tokens`).
const CACHE_WRITE: &str = "gen_ai.usage.cache_write.input_tokens";

/// The type the conventions give each name a test request exports.
fn expected_type(name: &str) -> Option<&'static str> {
    Some(match name {
        semconv::GEN_AI_USAGE_INPUT_TOKENS
        | semconv::GEN_AI_USAGE_OUTPUT_TOKENS
        | semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
        | semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
        | CACHE_WRITE
        | semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS => "int",
        semconv::GEN_AI_RESPONSE_FINISH_REASONS | semconv::GEN_AI_REQUEST_STOP_SEQUENCES => {
            "string[]"
        }
        semconv::GEN_AI_REQUEST_MAX_TOKENS
        | semconv::GEN_AI_REQUEST_SEED
        | semconv::GEN_AI_REQUEST_CHOICE_COUNT => "int",
        semconv::GEN_AI_REQUEST_TEMPERATURE
        | semconv::GEN_AI_REQUEST_TOP_P
        | semconv::GEN_AI_REQUEST_TOP_K
        | semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY
        | semconv::GEN_AI_REQUEST_PRESENCE_PENALTY => "double",
        semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK | tracing_ai::attr::GEN_AI_USAGE_COST => {
            "double"
        }
        semconv::GEN_AI_REQUEST_STREAM => "boolean",
        semconv::GEN_AI_OPERATION_NAME
        | semconv::GEN_AI_PROVIDER_NAME
        | semconv::GEN_AI_REQUEST_MODEL
        | semconv::GEN_AI_RESPONSE_MODEL
        | semconv::GEN_AI_RESPONSE_ID
        | semconv::GEN_AI_TOOL_NAME
        | semconv::GEN_AI_AGENT_NAME => "string",
        _ => return None,
    })
}

/// What tracing-opentelemetry adds from `tracing`'s metadata by default, named by no
/// convention (or, for `code.*`, naming the macro's location rather than the user's).
fn is_tracing_metadata(name: &str) -> bool {
    matches!(name, "busy_ns" | "idle_ns" | "target") || name.starts_with("code.")
}

/// A request that says its messages and its parameters.
struct Request;

impl tracing_ai::content::InputContent for Request {
    fn input_messages(&self) -> Vec<tracing_ai::content::Message> {
        vec![tracing_ai::content::Message::user("What is a span?")]
    }
}

impl tracing_ai::ReportsParameters for Request {
    fn request_parameters(&self) -> tracing_ai::RequestParameters {
        tracing_ai::RequestParameters::default()
            .with_temperature(0.2)
            .with_max_tokens(256)
            .with_seed(7)
            .with_stop_sequences(["END"])
    }
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", input = Request)]
fn chat(fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        return Err(Overloaded);
    }
    Ok(Usage::new(1_200, 300)
        .with_cache_read(1_000)
        .with_cache_creation(50)
        .with_reasoning(100)
        .with_response_model("gpt-4o-mini-2024-07-18")
        .with_response_id("chatcmpl-1"))
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn chat_stream() -> impl futures_core::Stream<Item = Delta> {
    tokio_stream::iter(vec![
        Delta {
            usage: None,
            finish_reason: None,
        },
        Delta {
            usage: Some(Usage::new(40, 8)),
            finish_reason: Some("stop"),
        },
    ])
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
fn embed() -> Usage {
    Usage::new(12, 0)
}

#[ai_span(kind = "retrieval")]
fn retrieve() -> Vec<&'static str> {
    vec!["chunk"]
}

#[ai_span(kind = "tool")]
fn get_weather() -> &'static str {
    "sunny"
}

#[ai_span(kind = "agent")]
fn trip_assistant() -> &'static str {
    let _ = retrieve();
    let _ = get_weather();
    let _ = chat(false);
    "done"
}

/// One request of every kind of call; its spans and the metrics it counted.
fn request() -> (Vec<SpanData>, InMemoryMetricExporter) {
    request_under(MetricConventions::Current)
}

/// [`request`], with the metrics named after `conventions`.
fn request_under(conventions: MetricConventions) -> (Vec<SpanData>, InMemoryMetricExporter) {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_meter(meters.meter("tracing-ai"))
        .with_metric_conventions(conventions);
    let ((), exported) = export_with(layer, || {
        tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
            let _ = embed();
            let _ = trip_assistant();
            let _ = chat(true);
            block_on(async { chat_stream().await.collect::<Vec<_>>().await });
        });
    });
    meters.force_flush().expect("metrics flush");
    (exported.spans, metrics)
}

#[test]
fn every_exported_gen_ai_name_is_the_conventions_with_their_type() {
    let (spans, _) = request();
    let mut seen = BTreeSet::new();
    for span in &spans {
        for kv in &span.attributes {
            let name = kv.key.as_str();
            assert!(
                !is_tracing_metadata(name),
                "`{name}` on `{}`: tracing's metadata is not exported by default",
                span.name
            );
        }
        // The library logs nothing into a user's trace: its warnings are outside any span.
        assert!(
            span.events.is_empty(),
            "`{}` has events: {:?}",
            span.name,
            span.events
        );
        for kv in &span.attributes {
            let name = kv.key.as_str();
            if !name.starts_with("gen_ai.") {
                continue;
            }
            assert!(
                GEN_AI_CONVENTIONS.contains(&name) || EXTENSIONS.contains(&name),
                "`{name}` on `{}` is neither the conventions' nor a listed extension",
                span.name
            );
            if let Some(expected) = expected_type(name) {
                assert_eq!(
                    value_type(&kv.value),
                    expected,
                    "`{name}` on `{}` is {:?}",
                    span.name,
                    kv.value
                );
            }
            seen.insert(name);
        }
    }
    // The request exercised what it is meant to: a test that saw none of them checks nothing.
    for name in [
        CACHE_WRITE,
        semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        semconv::GEN_AI_RESPONSE_FINISH_REASONS,
        semconv::GEN_AI_REQUEST_TEMPERATURE,
        semconv::GEN_AI_REQUEST_MAX_TOKENS,
        semconv::GEN_AI_REQUEST_STOP_SEQUENCES,
        semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        semconv::GEN_AI_REQUEST_STREAM,
        semconv::GEN_AI_TOOL_NAME,
        semconv::GEN_AI_AGENT_NAME,
        tracing_ai::attr::GEN_AI_USAGE_COST,
    ] {
        assert!(seen.contains(name), "no span exported `{name}`: {seen:?}");
    }
}

#[test]
fn span_kinds_and_required_attributes_are_the_conventions() {
    let (spans, _) = request();
    let operation = |span: &SpanData| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == semconv::GEN_AI_OPERATION_NAME)
            .map(|kv| kv.value.to_string())
    };
    let has =
        |span: &SpanData, name: &str| span.attributes.iter().any(|kv| kv.key.as_str() == name);
    let mut kinds = HashMap::new();
    for span in &spans {
        let Some(operation) = operation(span) else {
            continue;
        };
        kinds.insert(operation.clone(), span.span_kind.clone());
        let model_call = matches!(operation.as_str(), "chat" | "embeddings");
        if model_call {
            for required in [semconv::GEN_AI_PROVIDER_NAME, semconv::GEN_AI_REQUEST_MODEL] {
                assert!(has(span, required), "`{}` lacks `{required}`", span.name);
            }
        }
        // The agent names no provider: it runs on its model calls' one.
        if operation == "invoke_agent" {
            assert!(
                has(span, semconv::GEN_AI_PROVIDER_NAME),
                "`{}` lacks the provider",
                span.name
            );
        }
        let failed = matches!(span.status, opentelemetry::trace::Status::Error { .. });
        assert_eq!(
            has(span, semconv::ERROR_TYPE),
            failed,
            "`error.type` on `{}` goes with its error status",
            span.name
        );
    }
    assert_eq!(kinds["chat"], SpanKind::Client);
    assert_eq!(kinds["embeddings"], SpanKind::Client);
    // A call to a vector store or search service.
    assert_eq!(kinds["retrieval"], SpanKind::Client);
    assert_eq!(kinds["execute_tool"], SpanKind::Internal);
    assert_eq!(kinds["invoke_agent"], SpanKind::Internal);
}

/// The GenAI metrics of semantic-conventions-genai (`model/gen-ai/metrics.yaml` and
/// `token-metrics.yaml`) this crate exports, with the attributes each requires of a call that
/// names its provider.
const CURRENT_METRICS: &[(&str, &[&str])] = &[
    (
        "gen_ai.client.inference.duration",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    (
        "gen_ai.client.operation.duration",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    (
        "gen_ai.client.inference.time_to_first_chunk",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    (
        "gen_ai.client.inference.time_per_output_chunk",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    (
        "gen_ai.client.inference.usage.input_tokens",
        &[
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.token.modality",
        ],
    ),
    (
        "gen_ai.client.inference.usage.output_tokens",
        &[
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.token.modality",
        ],
    ),
    (
        "gen_ai.client.inference.usage.cache_read.input_tokens",
        &[
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.token.modality",
        ],
    ),
    (
        "gen_ai.client.inference.usage.cache_write.input_tokens",
        &[
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.token.modality",
        ],
    ),
    (
        "gen_ai.client.inference.usage.reasoning.output_tokens",
        &[
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.token.modality",
        ],
    ),
    (
        "gen_ai.client.inference.operation.input_tokens",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    (
        "gen_ai.client.inference.operation.output_tokens",
        &["gen_ai.operation.name", "gen_ai.provider.name"],
    ),
    ("gen_ai.execute_tool.duration", &["gen_ai.operation.name"]),
    ("gen_ai.invoke_agent.duration", &["gen_ai.operation.name"]),
];

/// The same for semantic-conventions 1.42, as its constants.
const PREVIOUS_METRICS: &[(&str, &[&str])] = &[
    (
        semconv_metric::GEN_AI_CLIENT_OPERATION_DURATION,
        &[
            semconv::GEN_AI_OPERATION_NAME,
            semconv::GEN_AI_PROVIDER_NAME,
        ],
    ),
    (
        semconv_metric::GEN_AI_CLIENT_TOKEN_USAGE,
        &[
            semconv::GEN_AI_OPERATION_NAME,
            semconv::GEN_AI_PROVIDER_NAME,
            semconv::GEN_AI_TOKEN_TYPE,
        ],
    ),
    (
        semconv_metric::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        &[
            semconv::GEN_AI_OPERATION_NAME,
            semconv::GEN_AI_PROVIDER_NAME,
        ],
    ),
    (
        semconv_metric::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        &[
            semconv::GEN_AI_OPERATION_NAME,
            semconv::GEN_AI_PROVIDER_NAME,
        ],
    ),
];

/// The names of the `gen_ai.*` metrics `metrics` exported, each point checked against
/// `conventions`: a name of theirs, with the attributes they require.
fn check_metrics(
    metrics: &InMemoryMetricExporter,
    conventions: &[(&str, &[&str])],
) -> BTreeSet<String> {
    let finished = metrics.get_finished_metrics().expect("metrics");
    let last = finished.last().expect("one export");
    let mut exported = BTreeSet::new();
    for scope in last.scope_metrics() {
        for metric in scope.metrics() {
            let name = metric.name();
            if !name.starts_with("gen_ai.") {
                continue;
            }
            let Some((_, required)) = conventions.iter().find(|(known, _)| *known == name) else {
                panic!("`{name}` is none of these conventions' metrics");
            };
            for attributes in tracing_ai_tests::metrics::point_attributes(metric) {
                let keys: BTreeSet<&str> = attributes.iter().map(|(k, _)| k.as_str()).collect();
                for required in *required {
                    assert!(
                        keys.contains(required),
                        "a point of `{name}` lacks `{required}`: {keys:?}"
                    );
                }
            }
            exported.insert(name.to_owned());
        }
    }
    exported
}

#[test]
fn every_gen_ai_metric_point_carries_the_current_conventions_required_attributes() {
    let (_, metrics) = request();
    let exported = check_metrics(&metrics, CURRENT_METRICS);
    // Every metric the request has a call for: a chat, a stream, an embedding, a tool, an
    // agent, cached and reasoning tokens (none of the 1.42 names).
    let expected: BTreeSet<String> = CURRENT_METRICS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(exported, expected);
}

/// What the successful chat's span says of its cache writes, by name.
fn cache_writes_of(spans: &[SpanData]) -> BTreeSet<(String, String)> {
    spans
        .iter()
        .filter(|span| span.name == "chat gpt-4o-mini" && span.status == Status::Unset)
        .flat_map(|span| &span.attributes)
        .filter(|kv| kv.key.as_str().contains("cache_"))
        .filter(|kv| !kv.key.as_str().contains("cache_read"))
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.to_string()))
        .collect()
}

/// Cache writes are `gen_ai.usage.cache_write.input_tokens`, the current conventions' name;
/// the previous one (`cache_creation`) is written beside it, once, only on the opt-in that
/// keeps the previous metrics.
#[test]
fn cache_writes_carry_the_current_name_and_the_previous_one_on_opt_in() {
    let current = || (CACHE_WRITE.to_owned(), "50".to_owned());
    let previous = || {
        (
            semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS.to_owned(),
            "50".to_owned(),
        )
    };
    let (spans, _) = request();
    assert_eq!(cache_writes_of(&spans), BTreeSet::from([current()]));
    for conventions in [MetricConventions::Previous, MetricConventions::Both] {
        let (spans, _) = request_under(conventions);
        assert_eq!(
            cache_writes_of(&spans),
            BTreeSet::from([current(), previous()]),
            "{conventions:?}"
        );
        let chat = spans
            .iter()
            .find(|span| span.name == "chat gpt-4o-mini" && span.status == Status::Unset)
            .expect("the chat");
        let written = chat
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
            .count();
        assert_eq!(written, 1, "{conventions:?}");
    }
}

#[test]
fn the_previous_conventions_metrics_on_opt_in_carry_their_required_attributes() {
    let (_, metrics) = request_under(MetricConventions::Previous);
    let exported = check_metrics(&metrics, PREVIOUS_METRICS);
    assert_eq!(exported.len(), PREVIOUS_METRICS.len(), "{exported:?}");

    // Under both, each name once, and a call in a histogram both share counted once.
    let (_, metrics) = request_under(MetricConventions::Both);
    let both: Vec<(&str, &[&str])> = CURRENT_METRICS
        .iter()
        .chain(PREVIOUS_METRICS)
        .copied()
        .collect();
    let exported = check_metrics(&metrics, &both);
    assert_eq!(exported.len(), both.len() - 1, "{exported:?}");
    let durations = tracing_ai_tests::metrics::points(&metrics, "gen_ai.client.operation.duration");
    let embeddings = durations
        .iter()
        .find(|(attributes, _)| {
            attributes.contains(&("gen_ai.operation.name".to_owned(), "embeddings".to_owned()))
        })
        .map(|(_, (_, count))| *count);
    assert_eq!(embeddings, Some(1), "{durations:#?}");
}
