//! The metrics of AI calls, read back from an SDK meter provider: what is counted, under which
//! attributes, and that tenant ids past the cap fold into `other`.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
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

#[test]
fn every_call_is_counted_by_tenant_feature_model_and_tokens() {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
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
        tracing::info_span!("request", tenant.id = "t1").in_scope(|| generate(5, true))
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

    // Tokens: five successful calls, by type; none for the failed call or the tool.
    let tokens = points(&exporter, "gen_ai.client.token.usage");
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
    assert_eq!(tokens.len(), 2, "{tokens:#?}");
    assert_eq!(tokens[&with(("gen_ai.token.type", "input"))], (15_000.0, 5));
    assert_eq!(tokens[&with(("gen_ai.token.type", "output"))], (50.0, 5));

    // Durations: every AI span, the failed call under its error type.
    let durations = points(&exporter, "gen_ai.client.operation.duration");
    assert_eq!(durations[&attrs(&call)].1, 5);
    assert_eq!(
        durations[&with(("error.type", "tracing_ai_tests::Overloaded"))].1,
        1
    );
    assert!(durations.values().all(|(seconds, _)| *seconds >= 0.0));
    // The conventions' duration requires a provider: a tool's goes to a metric of its own.
    let tool = attrs(&[("gen_ai.operation.name", "execute_tool")]);
    assert!(!durations.contains_key(&tool), "{durations:#?}");
    let others = points(&exporter, "ai.operation.duration");
    assert_eq!(others.len(), 1, "{others:#?}");
    assert_eq!(others[&tool].1, 5);
}
