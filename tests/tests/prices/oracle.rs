//! Every model and its price variants (service tiers, batch, and the other keys of the price
//! context), of the data the `genai-prices` crate ships, priced
//! through the layer and checked against the Python `genai-prices` package given the same
//! data (issue 37, item 5). `scripts/test.sh` writes the Python side's answers to
//! `target/genai-prices-oracle.json` (`tests/fixtures/genai_prices_oracle.py`) just before the
//! tests run; each call then goes through a hand-written span, the layer, its cache and the
//! export, twice (the second from the cache). Any difference fails with the model and the two
//! numbers.

use serde_json::Value as Json;
use tracing_ai::{ai_span, RequestParameters, Usage};
use tracing_ai_tests::otel::{attr, export, f64_attr, str_attr};

struct Case {
    provider: String,
    model: String,
    shape: String,
    counts: [i64; 9],
    service_tier: Option<String>,
    batch: bool,
    /// The price context's other keys (Perplexity's `search_type`, OpenRouter's `route`).
    price_context: Vec<(String, String)>,
    expected_usd: Option<f64>,
}

impl Case {
    fn describe(&self) -> String {
        let tier = self
            .service_tier
            .as_deref()
            .map(|tier| format!(", service tier {tier}"))
            .unwrap_or_default();
        let batch = if self.batch { ", batch" } else { "" };
        let other: String = self
            .price_context
            .iter()
            .map(|(key, value)| format!(", {key}={value}"))
            .collect();
        format!(
            "{} {} ({}{tier}{batch}{other})",
            self.provider, self.model, self.shape
        )
    }
}

fn cases(oracle: &Json) -> Vec<Case> {
    oracle["cases"]
        .as_array()
        .expect("`cases` is a list")
        .iter()
        .map(|case| {
            let text = |key: &str| case[key].as_str().map(str::to_owned);
            let counts = case["counts"].as_array().expect("counts");
            Case {
                provider: text("provider").expect("provider"),
                model: text("model").expect("model"),
                shape: text("shape").expect("shape"),
                counts: std::array::from_fn(|index| counts[index].as_i64().expect("a count")),
                service_tier: text("service_tier"),
                batch: case["batch"].as_bool() == Some(true),
                price_context: case["price_context"]
                    .as_array()
                    .expect("price_context")
                    .iter()
                    .map(|pair| {
                        let text = |index: usize| pair[index].as_str().expect("a text").to_owned();
                        (text(0), text(1))
                    })
                    .collect(),
                // Decimal strings, so that the expected value is not rounded by Python.
                expected_usd: text("expected_usd").map(|usd| usd.parse().expect("a decimal")),
            }
        })
        .collect()
}

/// A case whose price context has other keys: they come with the request's parameters, which
/// only an `#[ai_span]` function (or an integration) gives.
#[ai_span(
    kind = "llm",
    model = case.model.as_str(),
    provider = case.provider.as_str(),
    parameters = parameters_of(case),
    usage = usage_of(case),
    fields(oracle.case = index as i64),
)]
fn call_with_parameters(index: usize, case: &Case) {}

fn parameters_of(case: &Case) -> RequestParameters {
    let mut parameters = RequestParameters::default();
    if let Some(tier) = &case.service_tier {
        parameters = parameters.with_service_tier(tier.as_str());
    }
    if case.batch {
        parameters = parameters.with_batch();
    }
    for (key, value) in &case.price_context {
        parameters = parameters.with_price_context(key.as_str(), value.as_str());
    }
    parameters
}

fn usage_of(case: &Case) -> Usage {
    let count = |index: usize| u64::try_from(case.counts[index]).expect("a count");
    Usage::new(count(0), count(1))
        .with_cache_read(count(2))
        .with_cache_creation(count(3))
        .with_cache_write_1h(count(4))
        .with_reasoning(count(5))
        .with_audio_input(count(6))
        .with_audio_output(count(7))
        .with_web_searches(count(8))
}

fn call(index: usize, case: &Case) {
    if !case.price_context.is_empty() {
        return call_with_parameters(index, case);
    }
    let [input, output, cache_read, cache_write, cache_write_1h, reasoning, audio_input, audio_output, web_searches] =
        case.counts;
    let span = tracing::info_span!(
        "oracle.call",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = case.provider.as_str(),
        gen_ai.request.model = case.model.as_str(),
        gen_ai.usage.input_tokens = input,
        gen_ai.usage.output_tokens = output,
        gen_ai.usage.cache_read.input_tokens = cache_read,
        gen_ai.usage.cache_write.input_tokens = cache_write,
        ai.usage.cache_write_1h.input_tokens = cache_write_1h,
        gen_ai.usage.reasoning.output_tokens = reasoning,
        ai.usage.audio.input_tokens = audio_input,
        ai.usage.audio.output_tokens = audio_output,
        ai.usage.web_searches = web_searches,
        openai.response.service_tier = tracing::field::Empty,
        ai.request.batch = case.batch,
        oracle.case = index as i64,
    );
    if let Some(tier) = &case.service_tier {
        span.record("openai.response.service_tier", tier.as_str());
    }
}

#[test]
fn every_model_tier_and_batch_costs_what_python_genai_prices_says() {
    let path = tracing_ai_tests::jaeger::repository().join("target/genai-prices-oracle.json");
    let Some(path) = tracing_ai_tests::installed(
        path,
        "scripts/test.sh writes it with the Python genai-prices package",
    ) else {
        return;
    };
    let oracle: Json =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
    let cases = cases(&oracle);
    assert!(cases.len() >= 2_000, "the oracle has {} calls", cases.len());
    let (_, exported) = export(|| {
        for (index, case) in cases.iter().enumerate().chain(cases.iter().enumerate()) {
            call(index, case);
        }
    });
    assert_eq!(exported.spans.len(), cases.len() * 2);
    let mut failures = Vec::new();
    for span in &exported.spans {
        let index = match attr(span, "oracle.case") {
            Some(opentelemetry::Value::I64(index)) => *index as usize,
            other => panic!("no case index: {other:?}"),
        };
        let case = &cases[index];
        let cost = attr(span, "gen_ai.usage.cost").map(|_| f64_attr(span, "gen_ai.usage.cost"));
        match (case.expected_usd, cost) {
            // Spans carry 12 significant digits; the Python package computes in Decimal.
            (Some(expected), Some(cost))
                if (cost - expected).abs() <= 1e-9 * expected.abs().max(1e-9) => {}
            (None, None) => {}
            (expected, cost) => failures.push(format!(
                "{}: tracing-ai says {cost:?} USD ({}), Python genai-prices {expected:?}",
                case.describe(),
                str_attr(span, "ai.cost.unpriced").unwrap_or_default(),
            )),
        }
    }
    failures.sort();
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} of {} calls differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
