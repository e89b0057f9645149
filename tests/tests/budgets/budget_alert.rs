//! The budget alert rules (tests/prometheus/budget-alerts.yml, issue 22 item 4) in the real
//! Prometheus the tests build: a service's budget gauges pushed over OTLP make
//! `AiBudgetNearlySpent` fire for the tenant past 90% of its budget, and for no other, and
//! `AiBudgetSpent` once the limit is reached. Skipped when `scripts/test.sh` did not build
//! Prometheus.

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig as _};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use tracing_ai::budget::{Budget, BudgetExceeded, Scope, Window};
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::prometheus::{Prometheus, Series};
use tracing_subscriber::layer::SubscriberExt as _;

/// `tokens` input tokens at $1 per million.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
fn chat(tokens: u64) -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(tokens, 0))
}

fn spend(tenant: &str, tokens: u64) -> Result<Usage, BudgetExceeded> {
    tracing::info_span!("request", tenant.id = tenant).in_scope(|| chat(tokens))
}

fn firing(prometheus: &Prometheus, alert: &str, tenant: &str) -> Vec<Series> {
    prometheus.query(&format!(
        r#"ALERTS{{alertname="{alert}",alertstate="firing",tenant_id="{tenant}"}}"#
    ))
}

#[test]
fn the_alert_fires_for_the_tenant_past_ninety_percent_of_its_budget() {
    let Some(prometheus) = Prometheus::start() else {
        eprintln!("skipped: Prometheus is not built (run scripts/test.sh)");
        return;
    };
    let exporter = MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(prometheus.otlp_metrics_endpoint())
        .build()
        .expect("an OTLP/HTTP metric exporter");
    let meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(Duration::from_millis(500))
                .build(),
        )
        .build();
    let layer = AiLayer::builder()
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(Budget::new("tenant-daily", 0.10, Window::Day).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let subscriber = tracing_subscriber::registry().with(layer);
    let _default = tracing::subscriber::set_default(subscriber);

    // acme: $0.095 of $0.10 (95%); globex: $0.05 (50%).
    for _ in 0..19 {
        spend("acme", 5_000).expect("within the budget");
    }
    for _ in 0..10 {
        spend("globex", 5_000).expect("within the budget");
    }
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.095)
    );

    let alerts = prometheus.query_until(
        r#"ALERTS{alertname="AiBudgetNearlySpent",alertstate="firing"}"#,
        |answer| !answer.is_empty(),
    );
    let tenants: Vec<_> = alerts
        .iter()
        .map(|(labels, _)| labels.get("tenant_id").cloned().unwrap_or_default())
        .collect();
    assert_eq!(tenants, ["acme"], "{alerts:?}");
    let (labels, _) = &alerts[0];
    assert_eq!(
        labels.get("ai_budget_name").map(String::as_str),
        Some("tenant-daily")
    );
    assert_eq!(labels.get("severity").map(String::as_str), Some("warning"));
    assert!(firing(&prometheus, "AiBudgetSpent", "acme").is_empty());

    // acme reaches its limit; its next call is refused.
    spend("acme", 5_000).expect("the last $0.005 fits");
    spend("acme", 1).expect_err("the budget is spent");
    let spent = prometheus.query_until(
        r#"ALERTS{alertname="AiBudgetSpent",alertstate="firing"}"#,
        |answer| !answer.is_empty(),
    );
    assert_eq!(spent.len(), 1, "{spent:?}");
    assert_eq!(
        spent[0].0.get("tenant_id").map(String::as_str),
        Some("acme")
    );
    assert!(firing(&prometheus, "AiBudgetNearlySpent", "globex").is_empty());
    meters.shutdown().ok();
}
