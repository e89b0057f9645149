//! Per-call fees (issue 37, item 4): a tool billed by the call (web search at $10 per thousand
//! calls) has its price on its `kind = "tool"` spans, by the tool's name, and its calls count
//! in the request's total, the cost metric and the budgets; a service with a fee per request
//! beside its tokens costs both.

use opentelemetry::metrics::MeterProvider as _;
use tracing_ai::budget::{Budget, Scope, Window};
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::metrics::points;
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

#[ai_span(kind = "tool", tool = "web_search")]
fn web_search(query: &str) -> Result<Vec<String>, String> {
    if query.is_empty() {
        return Err("an empty query".to_owned());
    }
    Ok(vec![format!("a page about {query}")])
}

/// 1,000 tokens in, 100 out.
#[ai_span(kind = "llm", model = "rerank-small", provider = "acme")]
fn rerank() -> Usage {
    Usage::new(1_000, 100)
}

fn builder() -> tracing_ai::AiLayerBuilder {
    AiLayer::builder()
        .with_model_price("web_search", ModelPrice::per_call(0.01))
        .with_model_price(
            "rerank-small",
            ModelPrice::per_million_tokens(2.0, 4.0).with_per_call(0.001),
        )
        .with_budget(Budget::new("tenant-daily", 1.0, Window::Day).per(Scope::Tenant))
}

/// Three searches and a rerank in a request: $0.01 a search, and the rerank's tokens
/// ($0.002 + $0.0004) and its $0.001 fee; a search that failed costs nothing and says why.
#[test]
fn a_tool_priced_per_call_counts_in_the_request_the_metric_and_the_budget() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = builder()
        .with_meter(meters.meter("tracing-ai"))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let ((), exported) = tracing_ai_tests::otel::export_built(layer, || {
        tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
            for query in ["spans", "traces", "metrics", ""] {
                let _ = web_search(query);
            }
            let _ = rerank();
        });
    });
    meters.force_flush().expect("metrics flush");
    let searches = exported.spans_named("execute_tool web_search");
    assert_eq!(searches.len(), 4);
    let costs: Vec<Option<f64>> = searches
        .iter()
        .map(|span| attr(span, "gen_ai.usage.cost").map(|_| f64_attr(span, "gen_ai.usage.cost")))
        .collect();
    assert_eq!(costs, [Some(0.01), Some(0.01), Some(0.01), None]);
    for span in &searches[..3] {
        assert_eq!(
            str_attr(span, "ai.cost.source").as_deref(),
            Some("override")
        );
    }
    assert!(str_attr(searches[3], "ai.cost.unpriced").is_some());
    let rerank = exported.span("chat rerank-small");
    assert!((f64_attr(rerank, "gen_ai.usage.cost") - 0.0034).abs() < 1e-15);
    // The request's total, the cost metric and the budget all hold $0.0334.
    let request = exported.span("request");
    assert_eq!(f64_attr(request, "ai.request.cost"), 0.0334);
    let cost: f64 = points(&metrics, "ai.client.cost")
        .into_iter()
        .filter(|(labels, _)| labels.contains(&("tenant.id".to_owned(), "acme".to_owned())))
        .map(|(_, (usd, _))| usd)
        .sum();
    assert!((cost - 0.0334).abs() < 1e-15, "{cost}");
    let spent = budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]);
    assert!(
        spent.is_some_and(|usd| (usd - 0.0334).abs() < 1e-12),
        "{spent:?}"
    );
}

/// The same prices from a prices file: `per_call` alone for the tool, beside token prices for
/// the service.
#[test]
fn a_prices_file_sets_a_price_per_call_alone_or_beside_tokens() {
    let dir = std::env::temp_dir().join(format!("tracing-ai-per-call-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("prices.toml");
    std::fs::write(
        &path,
        "[models.\"web_search\"]\nper_call = 0.01\n\n\
         [models.\"rerank-small\"]\ninput = 2.0\noutput = 4.0\nper_call = 0.001\n",
    )
    .expect("written");
    let builder = AiLayer::builder().with_prices_file(&path);
    let (_, exported) = export_with(builder, || {
        let _ = web_search("spans");
        let _ = rerank();
    });
    std::fs::remove_dir_all(&dir).ok();
    let search = exported.span("execute_tool web_search");
    assert_eq!(f64_attr(search, "gen_ai.usage.cost"), 0.01);
    let rerank = exported.span("chat rerank-small");
    assert!((f64_attr(rerank, "gen_ai.usage.cost") - 0.0034).abs() < 1e-15);
}

/// A tool with no price is no call to a model: no cost, and nothing said unpriced.
#[test]
fn a_tool_without_a_price_is_not_unpriced() {
    let (_, exported) = export_with(AiLayer::builder(), || drop(web_search("spans")));
    let search = exported.span("execute_tool web_search");
    assert_eq!(attr(search, "gen_ai.usage.cost"), None);
    assert_eq!(attr(search, "ai.cost.unpriced"), None);
}
