//! Every model and its service-tier and batch variants, of the data the `genai-prices` crate ships, priced
//! through the layer and checked against the Python `genai-prices` package given the same
//! data (issue 37, item 5). `scripts/test.sh` writes the Python side's answers to
//! `target/genai-prices-oracle.json` (`tests/fixtures/genai_prices_oracle.py`) just before the
//! tests run; each call then goes through a hand-written span, the layer, its cache and the
//! export, twice (the second from the cache). Any difference fails with the model and the two
//! numbers.

use serde_json::Value as Json;
use tracing_ai_tests::otel::{attr, export, f64_attr, str_attr};

struct Case {
    provider: String,
    model: String,
    shape: String,
    counts: [i64; 8],
    service_tier: Option<String>,
    batch: bool,
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
        format!(
            "{} {} ({}{tier}{batch})",
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
                // Decimal strings, so that the expected value is not rounded by Python.
                expected_usd: text("expected_usd").map(|usd| usd.parse().expect("a decimal")),
            }
        })
        .collect()
}

fn call(index: usize, case: &Case) {
    let [input, output, cache_read, cache_write, cache_write_1h, reasoning, audio_input, audio_output] =
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
