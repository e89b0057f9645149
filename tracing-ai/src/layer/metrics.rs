//! Token, duration and cost metrics of every AI span, recorded before any sampling so that
//! their totals are exact whatever share of the traces is exported.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

use super::attribution::AttributionKeys;
use super::fields::CallFields;
use crate::attr;

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

/// The instruments, where the tenant and feature ids are in a resolved attribution, and the
/// tenants and features seen so far.
#[derive(Debug)]
pub(crate) struct Metrics {
    tokens: Histogram<u64>,
    duration: Histogram<f64>,
    /// The duration of an operation with no provider (a tool, an agent run in process):
    /// the conventions' metric requires one.
    other_duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    cost: Counter<f64>,
    tenant_index: Option<usize>,
    feature_index: Option<usize>,
    tenants: Bounded,
    features: Bounded,
    /// Models and providers can come from a request too (a model picked by the caller).
    models: Bounded,
    providers: Bounded,
}

/// One AI span's contribution, gathered when it closes.
pub(crate) struct CallMetrics<'a> {
    pub(crate) fields: &'a CallFields,
    pub(crate) duration: Option<Duration>,
    pub(crate) usd: Option<f64>,
    /// The span's resolved attribution, by the index of its exported name.
    pub(crate) attribution: &'a [Option<Arc<str>>],
}

impl Metrics {
    pub(crate) fn new(meter: &Meter, cardinality: usize, keys: &AttributionKeys) -> Self {
        Self {
            tenant_index: keys.index_of_exported(attr::TENANT_ID),
            feature_index: keys.index_of_exported(attr::FEATURE_ID),
            tokens: meter
                .u64_histogram(attr::GEN_AI_CLIENT_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                // The semantic conventions' advice: powers of four up to 4^13.
                .with_boundaries((0..14).map(|power| 4_f64.powi(power)).collect::<Vec<f64>>())
                .build(),
            duration: meter
                .f64_histogram(attr::GEN_AI_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_description("GenAI operation duration")
                .with_boundaries(SECONDS.to_vec())
                .build(),
            other_duration: meter
                .f64_histogram(attr::AI_OPERATION_DURATION)
                .with_unit("s")
                .with_description(
                    "Duration of GenAI operations that name no provider (tools, in-process agents)",
                )
                .with_boundaries(SECONDS.to_vec())
                .build(),
            time_to_first_chunk: meter
                .f64_histogram(attr::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
                .with_unit("s")
                .with_description("Time to receive the first chunk of a streamed response")
                .with_boundaries(SECONDS.to_vec())
                .build(),
            time_per_output_chunk: meter
                .f64_histogram(attr::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)
                .with_unit("s")
                .with_description("Time between the chunks of a streamed response, after the first")
                .with_boundaries(CHUNK_SECONDS.to_vec())
                .build(),
            cost: meter
                .f64_counter(attr::AI_CLIENT_COST)
                .with_unit("USD")
                .with_description("What model calls cost, by tenant, feature, model and provider")
                .build(),
            tenants: Bounded::new(cardinality),
            features: Bounded::new(cardinality),
            models: Bounded::new(cardinality),
            providers: Bounded::new(cardinality),
        }
    }

    pub(crate) fn record(&self, call: &CallMetrics<'_>) {
        let fields = call.fields;
        let mut common = Vec::with_capacity(5);
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

        if let Some(duration) = call.duration {
            let mut attributes = common.clone();
            if let Some(error_type) = &fields.error_type {
                attributes.push(KeyValue::new(attr::ERROR_TYPE, error_type.clone()));
            }
            // `gen_ai.client.operation.duration` requires the provider; an operation without
            // one goes to a metric of its own rather than break the convention.
            let histogram = match provider {
                Some(_) => &self.duration,
                None => &self.other_duration,
            };
            histogram.record(duration.as_secs_f64(), &attributes);
        }

        if let Some(first) = fields.time_to_first_chunk {
            self.time_to_first_chunk.record(first, &common);
            // The chunks after the first share the rest of the call's time.
            if let (Some(duration), Some(chunks @ 2..)) = (call.duration, fields.chunks) {
                let rest = (duration.as_secs_f64() - first).max(0.0);
                self.time_per_output_chunk
                    .record(rest / (chunks - 1) as f64, &common);
            }
        }

        if let Some(tokens) = fields.tokens() {
            for (kind, count) in [("input", tokens.input()), ("output", tokens.output())] {
                let mut attributes = common.clone();
                attributes.push(KeyValue::new(attr::GEN_AI_TOKEN_TYPE, kind));
                self.tokens.record(count, &attributes);
            }
        }

        if let Some(usd) = call.usd {
            let id = |index: Option<usize>| call.attribution.get(index?)?.as_deref();
            let mut attributes = Vec::with_capacity(4);
            if let Some(tenant) = id(self.tenant_index) {
                attributes.push(KeyValue::new(attr::TENANT_ID, self.tenants.admit(tenant)));
            }
            if let Some(feature) = id(self.feature_index) {
                attributes.push(KeyValue::new(
                    attr::FEATURE_ID,
                    self.features.admit(feature),
                ));
            }
            if let Some(model) = request_model {
                attributes.push(KeyValue::new(attr::GEN_AI_REQUEST_MODEL, model));
            }
            if let Some(provider) = provider {
                attributes.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, provider));
            }
            self.cost.add(usd, &attributes);
        }
    }
}

/// A set of at most `cap` distinct values: an id from a request cannot grow a metric's
/// attribute sets, and with them memory, without bound.
#[derive(Debug)]
struct Bounded {
    cap: usize,
    seen: RwLock<HashSet<Arc<str>>>,
    other: Arc<str>,
}

impl Bounded {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            seen: RwLock::new(HashSet::new()),
            other: OTHER.into(),
        }
    }

    /// `value` (shared with the set) if it was seen before or there is room for it, else
    /// [`OTHER`].
    fn admit(&self, value: &str) -> Arc<str> {
        let known = self
            .seen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(value)
            .cloned();
        if let Some(known) = known {
            return known;
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = seen.get(value) {
            return known.clone();
        }
        if seen.len() < self.cap {
            let value: Arc<str> = value.into();
            seen.insert(value.clone());
            value
        } else {
            self.other.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_are_folded_into_other() {
        let bounded = Bounded::new(2);
        assert_eq!(&*bounded.admit("a"), "a");
        assert_eq!(&*bounded.admit("b"), "b");
        assert_eq!(&*bounded.admit("c"), OTHER);
        assert_eq!(
            &*bounded.admit("a"),
            "a",
            "a value seen before keeps its name"
        );
    }
}
