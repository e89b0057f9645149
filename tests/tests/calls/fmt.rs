//! Cost and attribution reach every layer, not only OpenTelemetry: here `fmt`'s output.

use tracing::Instrument as _;
use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::Buffer;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate() -> Usage {
    Usage::new(1_000, 200)
}

#[test]
fn fmt_prints_the_cost_and_the_tenant_of_a_call() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            AiLayer::builder()
                .with_reporting_currency("GBP", 0.8)
                .build()
                .expect("valid"),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_span_events(FmtSpan::CLOSE)
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("rag.query", tenant.id = "acme", feature.id = "search");
        tracing_ai_tests::block_on(generate().instrument(root));
    });
    let output = buffer.text();
    let line = output
        .lines()
        .find(|line| {
            line.contains("chat gpt-4o-mini{")
                && line.ends_with(char::is_alphanumeric)
                && line.contains("close")
        })
        .unwrap_or_else(|| panic!("no close line for the call in:\n{output}"));
    for expected in [
        "gen_ai.usage.cost=0.00027",
        "ai.cost.source=\"genai-prices\"",
        "ai.cost.amount=0.000216",
        "ai.cost.currency=\"GBP\"",
        "tenant.id=\"acme\"",
        "feature.id=\"search\"",
    ] {
        assert!(
            line.contains(expected),
            "`{expected}` missing from:\n{line}"
        );
    }
}
