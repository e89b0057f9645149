//! Costs checked against an independent source: `tests/fixtures/genai_prices.json`, made by
//! the Python `genai-prices` package (`tests/fixtures/make_genai_prices_fixture.py`), which
//! computes with `Decimal` from its own copy of the data. Each case goes through the whole
//! path: a hand-written span, the layer, the cache, and the OpenTelemetry export.

use serde_json::Value as Json;
use tracing_ai_tests::otel::{attr, export, f64_attr, str_attr};

struct Case {
    name: String,
    provider: Option<String>,
    model: String,
    counts: [i64; 5],
    expected_usd: Option<f64>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("../../fixtures/genai_prices.json");
    let fixture: Json = serde_json::from_str(text).expect("the fixture is JSON");
    let cases = fixture["cases"].as_array().expect("`cases` is a list");
    cases
        .iter()
        .map(|case| {
            let count = |key: &str| case[key].as_i64().expect("token counts are integers");
            Case {
                name: case["case"].as_str().expect("case name").to_owned(),
                provider: case["provider"].as_str().map(str::to_owned),
                model: case["model"].as_str().expect("model").to_owned(),
                counts: [
                    count("input_tokens"),
                    count("output_tokens"),
                    count("cache_read_tokens"),
                    count("cache_write_tokens"),
                    count("reasoning_tokens"),
                ],
                // Decimal strings, so that the expected value is not rounded by Python.
                expected_usd: case["expected_usd"]
                    .as_str()
                    .map(|usd| usd.parse().expect("a decimal")),
            }
        })
        .collect()
}

fn call(case: &Case) {
    let span = tracing::info_span!(
        "fixture.call",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = tracing::field::Empty,
        gen_ai.request.model = case.model.as_str(),
        gen_ai.usage.input_tokens = case.counts[0],
        gen_ai.usage.output_tokens = case.counts[1],
        gen_ai.usage.cache_read.input_tokens = case.counts[2],
        gen_ai.usage.cache_write.input_tokens = case.counts[3],
        gen_ai.usage.reasoning.output_tokens = case.counts[4],
        fixture.case = case.name.as_str(),
    );
    if let Some(provider) = &case.provider {
        span.record("gen_ai.provider.name", provider.as_str());
    }
}

#[test]
fn every_case_costs_what_python_genai_prices_says() {
    let cases = cases();
    assert!(cases.len() >= 30, "the fixture has {} cases", cases.len());
    // Twice each: the second call of a model is priced from the cache.
    let (_, exported) = export(|| {
        for case in cases.iter().chain(&cases) {
            call(case);
        }
    });
    assert_eq!(exported.spans.len(), cases.len() * 2);
    let mut failures = Vec::new();
    for span in &exported.spans {
        let name = str_attr(span, "fixture.case").expect("case name");
        let case = cases
            .iter()
            .find(|case| case.name == name)
            .expect("known case");
        match case.expected_usd {
            Some(expected) => {
                let cost = f64_attr(span, "gen_ai.usage.cost");
                // The Python package computes in Decimal; f64 agrees to well under a cent.
                if (cost - expected).abs() > 1e-9 {
                    failures.push(format!("{name}: {cost} USD, expected {expected}"));
                }
                if attr(span, "ai.cost.unpriced").is_some() {
                    failures.push(format!("{name}: priced and unpriced at once"));
                }
            }
            None => {
                if let Some(cost) = attr(span, "gen_ai.usage.cost") {
                    failures.push(format!("{name}: should be unpriced, cost {cost:?}"));
                }
                if str_attr(span, "ai.cost.unpriced").is_none() {
                    failures.push(format!("{name}: no `ai.cost.unpriced` reason"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn semantic_convention_provider_names_price_like_genai_prices_ids() {
    let cases = cases();
    let gemini = cases
        .iter()
        .find(|case| case.name == "google gemini-2.5-pro long context tier")
        .expect("the case exists");
    let semconv = Case {
        provider: Some("gcp.gemini".to_owned()),
        name: "semconv".to_owned(),
        model: gemini.model.clone(),
        counts: gemini.counts,
        expected_usd: gemini.expected_usd,
    };
    let (_, exported) = export(|| call(&semconv));
    let cost = f64_attr(&exported.spans[0], "gen_ai.usage.cost");
    assert!((cost - gemini.expected_usd.expect("priced")).abs() < 1e-9);
}
