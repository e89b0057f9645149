//! Token, duration and cost metrics of every AI span, recorded before any sampling so that
//! their totals are exact whatever share of the traces is exported.

mod bounded;
mod conventions;
mod exact_counter;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

use self::bounded::Bounded;
use self::exact_counter::MoneyCounter;
use super::fields::CallFields;
use super::ids::AttributionKeys;
use crate::attr;
use crate::facts::TokenKind;
use crate::pricing::UnpricedReason;

pub use self::conventions::{MetricConventions, OTEL_SEMCONV_STABILITY_OPT_IN};

/// The value a tenant or feature id is folded into once the cap on distinct values is reached.
pub(crate) const OTHER: &str = "other";

/// The conventions' advice for the duration histograms, in seconds.
const SECONDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The conventions' advice for the time between chunks, in seconds.
const CHUNK_SECONDS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/// The default cap on distinct tenant ids, and on distinct feature ids, in the cost metric.
pub(crate) const DEFAULT_CARDINALITY: usize = 1_000;

/// The operations the conventions call inference: their durations, chunks and tokens go to
/// the `gen_ai.client.inference.*` metrics.
const INFERENCE: [&str; 3] = ["chat", "text_completion", "generate_content"];

/// The instruments, where the tenant and feature ids are in a resolved attribution, and the
/// tenants and features seen so far.
pub(crate) struct Metrics {
    current: Option<Current>,
    previous: Option<Previous>,
    /// `gen_ai.client.operation.duration`, one instrument for both conventions: under both, a
    /// call goes into it once.
    operation_duration: Histogram<f64>,
    /// The duration of an operation no metric of the conventions takes.
    other_duration: Histogram<f64>,
    cost: MoneyCounter<CostKey>,
    /// Provider-reported costs less the layer's prices, by model and provider.
    drift: MoneyCounter<ModelKey>,
    unpriced: Counter<u64>,
    tenant_index: Option<usize>,
    feature_index: Option<usize>,
    tenants: Bounded,
    features: Bounded,
    /// Models and providers can come from a request too (a model picked by the caller).
    models: Bounded,
    providers: Bounded,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("current", &self.current.is_some())
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// The instruments of semantic-conventions-genai.
struct Current {
    inference_duration: Histogram<f64>,
    execute_tool_duration: Histogram<f64>,
    invoke_agent_duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    /// The `gen_ai.client.inference.usage.*` counters, by [`TokenKind::index`].
    usage: [Option<Counter<u64>>; TokenKind::COUNT],
    input_tokens: Histogram<u64>,
    output_tokens: Histogram<u64>,
}

/// The instruments of semantic-conventions 1.41.
struct Previous {
    tokens: Histogram<u64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
}

/// The labels of one series of the drift counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ModelKey {
    model: Option<Arc<str>>,
    provider: Option<Arc<str>>,
}

/// The labels of one series of the cost counter.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CostKey {
    tenant: Option<Arc<str>>,
    feature: Option<Arc<str>>,
    model: Option<Arc<str>>,
    provider: Option<Arc<str>>,
    source: &'static str,
}

/// One AI span's contribution, gathered when it closes.
pub(crate) struct CallMetrics<'a> {
    pub(crate) fields: &'a CallFields,
    pub(crate) duration: Option<Duration>,
    /// Its cost in USD and where the cost came from (`ai.cost.source`).
    pub(crate) cost: Option<(f64, &'static str)>,
    /// Beside a cost the provider reported, what the layer's prices give the call.
    pub(crate) computed: Option<f64>,
    /// Why it has no cost, when a call to a model has none.
    pub(crate) unpriced: Option<UnpricedReason>,
    /// The span's resolved attribution, by the index of its exported name.
    pub(crate) attribution: &'a [Option<Arc<str>>],
}

fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(SECONDS.to_vec())
        .build()
}

fn tokens(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("{token}")
        .with_description(description)
        // The semantic conventions' advice: powers of four up to 4^13.
        .with_boundaries((0..14).map(|power| 4_f64.powi(power)).collect::<Vec<f64>>())
        .build()
}

fn chunk_seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(CHUNK_SECONDS.to_vec())
        .build()
}

impl Current {
    fn new(meter: &Meter) -> Self {
        Self {
            inference_duration: seconds(
                meter,
                attr::GEN_AI_CLIENT_INFERENCE_DURATION,
                "GenAI inference operation duration",
            ),
            execute_tool_duration: seconds(
                meter,
                attr::GEN_AI_EXECUTE_TOOL_DURATION,
                "The duration of a single tool execution",
            ),
            invoke_agent_duration: seconds(
                meter,
                attr::GEN_AI_INVOKE_AGENT_DURATION,
                "The end-to-end duration of a single agent invocation",
            ),
            time_to_first_chunk: seconds(
                meter,
                attr::GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: chunk_seconds(
                meter,
                attr::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
                "Time between the chunks of a streamed response, after the first",
            ),
            usage: TokenKind::ALL.map(|kind| {
                kind.usage_metric().map(|name| {
                    meter
                        .u64_counter(name)
                        .with_unit("{token}")
                        .with_description("Tokens used by inference operations")
                        .build()
                })
            }),
            input_tokens: tokens(
                meter,
                attr::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                "The number of input tokens used per inference operation",
            ),
            output_tokens: tokens(
                meter,
                attr::GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
                "The number of output tokens used per inference operation",
            ),
        }
    }

    /// The token counters and histograms of an inference call: what it reported, or 0 under
    /// modality `unknown` when it reported nothing, as the conventions ask.
    fn record_usage(&self, fields: &CallFields, common: &[KeyValue], failed: &[KeyValue]) {
        let counts = fields.tokens();
        let count = |kind: TokenKind| counts.map_or(0, |counts| counts.get(kind));
        let reported = |kind: TokenKind| fields.tokens.get(kind).is_some();
        // One set of attributes, its last the modality, set before each count.
        let mut attributes = common.to_vec();
        attributes.push(KeyValue::new(attr::GEN_AI_TOKEN_MODALITY, "text"));
        let mut add = |counter: &Counter<u64>, value: u64, modality: &'static str| {
            if let Some(last) = attributes.last_mut() {
                *last = KeyValue::new(attr::GEN_AI_TOKEN_MODALITY, modality);
            }
            counter.add(value, &attributes);
        };
        // The shares of a whole the call reported by modality (its audio tokens).
        let shares = |whole: TokenKind| {
            TokenKind::ALL.into_iter().filter_map(move |part| {
                let modality = part.modality()?;
                (part.part_of() == Some(whole) && reported(part)).then_some((part, modality))
            })
        };
        let any_share = TokenKind::ALL
            .into_iter()
            .any(|kind| kind.modality().is_some() && reported(kind));
        for kind in TokenKind::ALL {
            let Some(counter) = &self.usage[kind.index()] else {
                continue;
            };
            if counts.is_none() {
                add(counter, 0, "unknown");
            } else if kind.part_of().is_none() {
                // Each share under its own modality, the rest as text.
                let mut text = count(kind);
                for (part, modality) in shares(kind) {
                    text = text.saturating_sub(count(part));
                    add(counter, count(part), modality);
                }
                add(counter, text, "text");
            } else if any_share {
                // A cached or reasoning count of a call that had audio may be either.
                add(counter, count(kind), "unknown");
            } else {
                add(counter, count(kind), "text");
            }
        }
        self.input_tokens.record(count(TokenKind::Input), failed);
        self.output_tokens.record(count(TokenKind::Output), failed);
    }
}

impl Previous {
    fn new(meter: &Meter) -> Self {
        Self {
            tokens: tokens(
                meter,
                attr::GEN_AI_CLIENT_TOKEN_USAGE,
                "Number of input and output tokens used",
            ),
            time_to_first_chunk: seconds(
                meter,
                attr::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: chunk_seconds(
                meter,
                attr::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
                "Time between the chunks of a streamed response, after the first",
            ),
        }
    }
}

impl Metrics {
    pub(crate) fn new(
        meter: &Meter,
        cardinality: usize,
        keys: &AttributionKeys,
        conventions: MetricConventions,
    ) -> Self {
        Self {
            current: conventions.current().then(|| Current::new(meter)),
            previous: conventions.previous().then(|| Previous::new(meter)),
            tenant_index: keys.index_of_exported(attr::TENANT_ID),
            feature_index: keys.index_of_exported(attr::FEATURE_ID),
            operation_duration: seconds(
                meter,
                attr::GEN_AI_CLIENT_OPERATION_DURATION,
                "GenAI operation duration",
            ),
            other_duration: seconds(
                meter,
                attr::AI_OPERATION_DURATION,
                "Duration of GenAI operations no metric of the conventions takes",
            ),
            cost: MoneyCounter::new(
                meter,
                attr::AI_CLIENT_COST,
                "What model calls cost, by tenant, feature, model, provider and cost source",
                |key: &CostKey| {
                    let mut labels = Vec::with_capacity(5);
                    let named = [
                        (attr::TENANT_ID, &key.tenant),
                        (attr::FEATURE_ID, &key.feature),
                        (attr::GEN_AI_REQUEST_MODEL, &key.model),
                        (attr::GEN_AI_PROVIDER_NAME, &key.provider),
                    ];
                    for (name, value) in named {
                        if let Some(value) = value {
                            labels.push(KeyValue::new(name, Arc::clone(value)));
                        }
                    }
                    labels.push(KeyValue::new(attr::AI_COST_SOURCE, key.source));
                    labels
                },
            ),
            drift: MoneyCounter::up_down(
                meter,
                attr::AI_CLIENT_COST_DRIFT,
                "What providers reported calls cost above the layer's prices for them, by model \
                 and provider",
                |key: &ModelKey| {
                    let named = [
                        (attr::GEN_AI_REQUEST_MODEL, &key.model),
                        (attr::GEN_AI_PROVIDER_NAME, &key.provider),
                    ];
                    named
                        .into_iter()
                        .filter_map(|(name, value)| {
                            value
                                .as_ref()
                                .map(|value| KeyValue::new(name, Arc::clone(value)))
                        })
                        .collect()
                },
            ),
            unpriced: meter
                .u64_counter(attr::AI_CLIENT_UNPRICED_CALLS)
                .with_unit("{call}")
                .with_description(
                    "Calls to a model no cost could be given to, by reason, model and provider",
                )
                .build(),
            tenants: Bounded::new(cardinality),
            features: Bounded::new(cardinality),
            models: Bounded::new(cardinality),
            providers: Bounded::new(cardinality),
        }
    }

    pub(crate) fn record(&self, call: &CallMetrics<'_>) {
        let fields = call.fields;
        let mut common = Vec::with_capacity(6);
        let operation = fields.operation.as_deref();
        if let Some(operation) = &fields.operation {
            common.push(KeyValue::new(
                attr::GEN_AI_OPERATION_NAME,
                operation.clone(),
            ));
        }
        let provider = fields.provider.as_deref().map(|p| self.providers.admit(p));
        let request_model = fields
            .request_model
            .as_deref()
            .map(|m| self.models.admit(m));
        if let Some(provider) = &provider {
            common.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, provider.clone()));
        }
        if let Some(model) = &request_model {
            common.push(KeyValue::new(attr::GEN_AI_REQUEST_MODEL, model.clone()));
        }
        // Conditionally required by the conventions: when the call names its server.
        if let Some(address) = &fields.server_address {
            common.push(KeyValue::new(attr::SERVER_ADDRESS, address.clone()));
            if let Some(port) = fields.server_port {
                common.push(KeyValue::new(
                    attr::SERVER_PORT,
                    crate::value_set::saturating_i64(port),
                ));
            }
        }
        if let Some(model) = &fields.response_model {
            common.push(KeyValue::new(
                attr::GEN_AI_RESPONSE_MODEL,
                self.models.admit(model),
            ));
        }
        // The common attributes, with `error.type` for a failed call: a copy only then.
        let failed: std::borrow::Cow<'_, [KeyValue]> = match &fields.error_type {
            Some(error_type) => {
                let mut failed = common.clone();
                failed.push(KeyValue::new(attr::ERROR_TYPE, error_type.clone()));
                failed.into()
            }
            None => common.as_slice().into(),
        };
        let inference = operation.is_some_and(|operation| INFERENCE.contains(&operation));

        if let Some(duration) = call.duration {
            let seconds = duration.as_secs_f64();
            let current = self.current.as_ref().map(|current| match operation {
                Some("execute_tool") => &current.execute_tool_duration,
                Some("invoke_agent") => &current.invoke_agent_duration,
                _ if inference => &current.inference_duration,
                _ if provider.is_some() => &self.operation_duration,
                _ => &self.other_duration,
            });
            // 1.41's metric requires the provider: an operation without one goes to a metric
            // of its own rather than break the convention.
            let previous = self.previous.as_ref().map(|_| match provider {
                Some(_) => &self.operation_duration,
                None => &self.other_duration,
            });
            // Under both conventions, a histogram both choose counts the call once.
            let twice = matches!((current, previous), (Some(a), Some(b)) if std::ptr::eq(a, b));
            for histogram in [current, previous.filter(|_| !twice)].into_iter().flatten() {
                histogram.record(seconds, &failed);
            }
        }

        if let Some(first) = fields.time_to_first_chunk {
            // The chunks after the first share the rest of the call's time.
            let per_chunk = match (call.duration, fields.chunks) {
                (Some(duration), Some(chunks @ 2..)) => {
                    Some((duration.as_secs_f64() - first).max(0.0) / (chunks - 1) as f64)
                }
                _ => None,
            };
            let chunk_metrics = [
                self.current
                    .as_ref()
                    .map(|c| (&c.time_to_first_chunk, &c.time_per_output_chunk)),
                self.previous
                    .as_ref()
                    .map(|p| (&p.time_to_first_chunk, &p.time_per_output_chunk)),
            ];
            for (to_first, per_output) in chunk_metrics.into_iter().flatten() {
                to_first.record(first, &common);
                if let Some(per_chunk) = per_chunk {
                    per_output.record(per_chunk, &common);
                }
            }
        }

        if let Some(current) = self.current.as_ref().filter(|_| inference) {
            current.record_usage(fields, &common, &failed);
        }
        if let (Some(previous), Some(tokens)) = (&self.previous, fields.tokens()) {
            for (kind, count) in [("input", tokens.input()), ("output", tokens.output())] {
                let mut attributes = common.clone();
                attributes.push(KeyValue::new(attr::GEN_AI_TOKEN_TYPE, kind));
                previous.tokens.record(count, &attributes);
            }
        }

        let id = |index: Option<usize>, seen: &Bounded| {
            call.attribution
                .get(index?)?
                .as_deref()
                .map(|id| seen.admit(id))
        };
        if let Some((usd, source)) = call.cost {
            self.cost.add(
                CostKey {
                    tenant: id(self.tenant_index, &self.tenants),
                    feature: id(self.feature_index, &self.features),
                    model: request_model.clone(),
                    provider: provider.clone(),
                    source,
                },
                usd,
            );
        }
        if let (Some((usd, _)), Some(computed)) = (call.cost, call.computed) {
            let key = ModelKey {
                model: request_model.clone(),
                provider: provider.clone(),
            };
            self.drift.add(key, usd - computed);
        }
        if let Some(reason) = call.unpriced {
            let mut attributes = Vec::with_capacity(5);
            attributes.push(KeyValue::new(attr::AI_UNPRICED_REASON, reason.as_str()));
            if let Some(model) = request_model {
                attributes.push(KeyValue::new(attr::GEN_AI_REQUEST_MODEL, model));
            }
            if let Some(provider) = provider {
                attributes.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, provider));
            }
            if let Some(tenant) = id(self.tenant_index, &self.tenants) {
                attributes.push(KeyValue::new(attr::TENANT_ID, tenant));
            }
            if let Some(feature) = id(self.feature_index, &self.features) {
                attributes.push(KeyValue::new(attr::FEATURE_ID, feature));
            }
            self.unpriced.add(1, &attributes);
        }
    }
}
