//! The metrics of AI calls, read back from an SDK meter provider: what is counted, under which
//! attributes (the GenAI conventions' current names), that tenant ids past the cap fold into
//! `other`, that costs sum exactly, and that calls without a cost are counted.

use opentelemetry::metrics::MeterProvider as _;
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::metrics::{attrs, points};
use tracing_ai_tests::otel::export_with;
use tracing_ai_tests::Overloaded;

#[ai_span(kind = "llm", model = "my-model", provider = "self-hosted")]
fn generate(input: u64, fail: bool) -> Result<Usage, Overloaded> {
    if fail {
        return Err(Overloaded);
    }
    Ok(Usage::new(input, 10))
}

#[ai_span(kind = "tool")]
fn lookup() -> u32 {
    7
}

/// A call to a model that reports no usage: it has no cost, and says why.
#[ai_span(kind = "llm", model = "my-model", provider = "self-hosted")]
fn silent() -> Option<Usage> {
    None
}

/// A call to a model nobody priced.
#[ai_span(kind = "llm", model = "nobody-priced-this", provider = "acme")]
fn unknown() -> Usage {
    Usage::new(100, 10)
}

#[test]
fn every_call_is_counted_by_tenant_feature_model_and_tokens() {
    let (meters, exporter) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        // $1 per million input tokens, $2 per million output tokens.
        .with_model_price("my-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_meter(meters.meter("tracing-ai"))
        .with_metric_cardinality(2);
    export_with(layer, || {
        for (n, tenant) in ["t0", "t1", "t2", "t3", "t0"].into_iter().enumerate() {
            tracing::info_span!("request", tenant.id = tenant, feature.id = "chat").in_scope(
                || {
                    let _ = generate(1_000 * (n as u64 + 1), false);
                    let _ = lookup();
                },
            );
        }
        tracing::info_span!("request", tenant.id = "t1").in_scope(|| {
            let _ = silent();
            let _ = unknown();
            generate(5, true)
        })
    })
    .0
    .expect_err("the last call fails");
    meters.force_flush().expect("metrics flush");

    // Cost: t0 made calls 1 and 5, t1 call 2; t2 and t3 came after the cap of two tenants.
    let usd = |inputs: &[u64]| -> f64 {
        inputs
            .iter()
            .map(|input| *input as f64 * 1e-6 + 10.0 * 2e-6)
            .sum()
    };
    let cost = points(&exporter, "ai.client.cost");
    let model = [
        ("gen_ai.request.model", "my-model"),
        ("gen_ai.provider.name", "self-hosted"),
        ("feature.id", "chat"),
        ("ai.cost.source", "override"),
    ];
    let expected = [
        ("t0", usd(&[1_000, 5_000])),
        ("t1", usd(&[2_000])),
        ("other", usd(&[3_000, 4_000])),
    ];
    assert_eq!(cost.len(), 3, "{cost:#?}");
    for (tenant, expected) in expected {
        let mut key = model.to_vec();
        key.push(("tenant.id", tenant));
        let (got, _) = cost[&attrs(&key)];
        assert!(
            (got - expected).abs() < 1e-15,
            "{tenant}: {got} vs {expected}"
        );
    }

    // Tokens: the five successful calls as text; the failed call and the silent one add 0
    // of an unknown modality, as the conventions ask; the tool none.
    let call = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "self-hosted"),
        ("gen_ai.request.model", "my-model"),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut key = call.to_vec();
        key.push(extra);
        attrs(&key)
    };
    let text = with(("gen_ai.token.modality", "text"));
    let unknown = with(("gen_ai.token.modality", "unknown"));
    let input = points(&exporter, "gen_ai.client.inference.usage.input_tokens");
    assert_eq!(input[&text].0, 15_000.0, "{input:#?}");
    assert_eq!(input[&unknown].0, 0.0, "{input:#?}");
    let output = points(&exporter, "gen_ai.client.inference.usage.output_tokens");
    assert_eq!(output[&text].0, 50.0, "{output:#?}");
    // Per call: five with usage, two with 0 (the failed one under its error type).
    let per_call = points(&exporter, "gen_ai.client.inference.operation.input_tokens");
    assert_eq!(per_call[&attrs(&call)], (15_000.0, 6), "{per_call:#?}");
    assert_eq!(
        per_call[&with(("error.type", "tracing_ai_tests::Overloaded"))],
        (0.0, 1)
    );
    // The previous conventions' names are not exported by default.
    assert!(points(&exporter, "gen_ai.client.token.usage").is_empty());

    // Durations: every inference call, the failed one under its error type.
    let durations = points(&exporter, "gen_ai.client.inference.duration");
    assert_eq!(durations[&attrs(&call)].1, 6);
    assert_eq!(
        durations[&with(("error.type", "tracing_ai_tests::Overloaded"))].1,
        1
    );
    assert!(durations.values().all(|(seconds, _)| *seconds >= 0.0));
    // A tool's duration is the conventions' tool metric.
    let tool = attrs(&[("gen_ai.operation.name", "execute_tool")]);
    assert!(!durations.contains_key(&tool), "{durations:#?}");
    let tools = points(&exporter, "gen_ai.execute_tool.duration");
    assert_eq!(tools.len(), 1, "{tools:#?}");
    assert_eq!(tools[&tool].1, 5);
    assert!(points(&exporter, "ai.operation.duration").is_empty());

    // The calls without a cost, by reason: none of them is free.
    let unpriced = points(&exporter, "ai.client.unpriced_calls");
    let reasons = [
        ("failed", "my-model", "self-hosted"),
        ("no_usage", "my-model", "self-hosted"),
        ("unknown_model", "nobody-priced-this", "acme"),
    ];
    assert_eq!(unpriced.len(), reasons.len(), "{unpriced:#?}");
    for (reason, model, provider) in reasons {
        let key = attrs(&[
            ("ai.unpriced.reason", reason),
            ("gen_ai.request.model", model),
            ("gen_ai.provider.name", provider),
            ("tenant.id", "t1"),
        ]);
        assert_eq!(
            unpriced.get(&key),
            Some(&(1.0, 1)),
            "{reason}: {unpriced:#?}"
        );
    }
}

#[ai_span(kind = "llm", model = "priced", provider = "self-hosted")]
fn priced(input: u64) -> Usage {
    Usage::new(input, 0)
}

#[test]
fn the_cost_counter_sums_the_rounded_costs_exactly() {
    let (meters, exporter) = tracing_ai_tests::metrics::in_memory();
    // $1 per million input tokens: 100, 107 and 135 millionths of a dollar, whose float sum
    // is 0.00034199999999999996.
    let layer = AiLayer::builder()
        .with_model_price("priced", ModelPrice::per_million_tokens(1.0, 0.0))
        .with_meter(meters.meter("tracing-ai"));
    let ((), exported) = export_with(layer, || {
        tracing::info_span!("request", tenant.id = "t").in_scope(|| {
            for input in [100, 107, 135] {
                let _ = priced(input);
            }
        })
    });
    let spans: Vec<f64> = exported
        .spans
        .iter()
        .filter_map(|span| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "gen_ai.usage.cost")
                .map(|kv| match kv.value {
                    opentelemetry::Value::F64(usd) => usd,
                    ref other => panic!("{other:?}"),
                })
        })
        .collect();
    assert_eq!(spans, [0.0001, 0.000107, 0.000135]);
    assert_ne!(spans.iter().sum::<f64>(), 0.000342, "float addition drifts");
    meters.force_flush().expect("metrics flush");
    let cost = points(&exporter, "ai.client.cost");
    let (usd, _) = cost.values().next().copied().expect("one series");
    assert_eq!(usd.to_string(), "0.000342");
}

#[ai_span(kind = "llm", model = "gpt-4o-audio-preview", provider = "openai")]
fn spoken() -> Usage {
    Usage::new(1_000, 300)
        .with_audio_input(400)
        .with_audio_output(200)
        .with_cache_read(100)
}

#[test]
fn the_audio_share_of_a_calls_tokens_goes_under_its_own_modality() {
    let (meters, exporter) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder().with_meter(meters.meter("tracing-ai"));
    export_with(layer, spoken);
    meters.force_flush().expect("metrics flush");
    let call = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4o-audio-preview"),
    ];
    let with = |modality: &'static str| {
        let mut key = call.to_vec();
        key.push(("gen_ai.token.modality", modality));
        attrs(&key)
    };
    for (metric, text, audio) in [
        ("gen_ai.client.inference.usage.input_tokens", 600.0, 400.0),
        ("gen_ai.client.inference.usage.output_tokens", 100.0, 200.0),
    ] {
        let points = points(&exporter, metric);
        assert_eq!(points[&with("text")].0, text, "{metric}: {points:#?}");
        assert_eq!(points[&with("audio")].0, audio, "{metric}: {points:#?}");
    }
    // The cached tokens of a call with audio may be either.
    let cached = points(
        &exporter,
        "gen_ai.client.inference.usage.cache_read.input_tokens",
    );
    assert_eq!(cached[&with("unknown")].0, 100.0, "{cached:#?}");
}
