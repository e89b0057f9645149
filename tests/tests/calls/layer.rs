//! What `tracing_ai::layer` exports: exact costs, attribution on AI spans only, token counts as
//! integers, for spans of `#[ai_span]`, hand-written spans and baggage alike.

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use tracing::Instrument as _;
use tracing_ai::{ai_span, AiLayer, ReportsUsage, Usage};
use tracing_ai_tests::otel::{attr, export, export_with, export_with_layer, f64_attr, str_attr};
use tracing_ai_tests::{block_on, WarnCounter};

struct Completion {
    input: u64,
    output: u64,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.input, self.output))
    }
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(tokens: u64) -> Result<Usage, String> {
    tokio::task::yield_now().await;
    Ok(Usage::new(tokens, 0))
}

#[ai_span(kind = "retrieval")]
async fn retrieve(k: usize) -> Vec<u8> {
    tokio::task::yield_now().await;
    vec![0; k]
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn generate(input: u64, output: u64) -> Result<Completion, String> {
    // A non-AI span under the call: it must get nothing added.
    tracing::info_span!("http.request", http.method = "POST").in_scope(|| ());
    tokio::task::yield_now().await;
    Ok(Completion { input, output })
}

async fn rag_query() {
    embed(500).await.expect("embeds");
    retrieve(10).await;
    generate(1_000, 200).await.expect("generates");
}

fn request() {
    let root = tracing::info_span!(
        "rag.query",
        tenant.id = "acme",
        feature.id = "search",
        request.id = "req-1",
        user.id = "u-42",
    );
    block_on(rag_query().instrument(root));
}

#[test]
fn a_request_tree_exports_costs_and_ids_on_ai_spans_only() {
    let (_, exported) = export(request);
    assert_eq!(
        exported.spans.len(),
        5,
        "root, embed, retrieve, llm and the http span"
    );

    // Published prices: gpt-4o-mini $0.15 / M input, $0.60 / M output; text-embedding-3-small
    // $0.02 / M.
    let llm = exported.span("chat gpt-4o-mini");
    assert!(
        (f64_attr(llm, "gen_ai.usage.cost") - (1_000.0 * 0.15 + 200.0 * 0.60) / 1e6).abs() < 1e-12
    );
    assert_eq!(
        str_attr(llm, "ai.cost.source").as_deref(),
        Some("genai-prices")
    );
    assert_eq!(
        attr(llm, "gen_ai.usage.input_tokens"),
        Some(&Value::I64(1_000))
    );
    assert_eq!(
        attr(llm, "gen_ai.usage.output_tokens"),
        Some(&Value::I64(200))
    );
    let embed = exported.span("embeddings text-embedding-3-small");
    assert!((f64_attr(embed, "gen_ai.usage.cost") - 500.0 * 0.02 / 1e6).abs() < 1e-15);

    for name in [
        "chat gpt-4o-mini",
        "embeddings text-embedding-3-small",
        "retrieval retrieve",
    ] {
        let span = exported.span(name);
        assert_eq!(
            str_attr(span, "tenant.id").as_deref(),
            Some("acme"),
            "{name}"
        );
        assert_eq!(
            str_attr(span, "feature.id").as_deref(),
            Some("search"),
            "{name}"
        );
        assert_eq!(
            str_attr(span, "request.id").as_deref(),
            Some("req-1"),
            "{name}"
        );
        assert_eq!(str_attr(span, "user.id").as_deref(), Some("u-42"), "{name}");
        assert_eq!(
            attr(span, "session.id"),
            None,
            "{name}: nobody set a session"
        );
    }
    // Retrieval has no usage: no cost, and no "unpriced" either.
    let retrieval = exported.span("retrieval retrieve");
    assert_eq!(attr(retrieval, "gen_ai.usage.cost"), None);
    assert_eq!(attr(retrieval, "ai.cost.unpriced"), None);

    let http = exported.span("http.request");
    for key in [
        "tenant.id",
        "gen_ai.usage.cost",
        "ai.cost.source",
        "request.id",
    ] {
        assert_eq!(attr(http, key), None, "non-AI span got `{key}`");
    }
    let root = exported.span("rag.query");
    assert_eq!(
        attr(root, "gen_ai.usage.cost"),
        None,
        "per-call cost must not be on the root"
    );
    assert_eq!(
        str_attr(root, "tenant.id").as_deref(),
        Some("acme"),
        "the root keeps its own"
    );
}

#[test]
fn a_tenant_recorded_after_the_call_started_still_reaches_it() {
    let (_, exported) = export(|| {
        let root = tracing::info_span!("gateway", tenant.id = tracing::field::Empty);
        block_on(
            async {
                let call = generate(10, 10);
                // Authentication finishes while the call is in flight.
                tracing::Span::current().record("tenant.id", "late-tenant");
                call.await.expect("generates");
            }
            .instrument(root),
        );
    });
    assert_eq!(
        str_attr(exported.span("chat gpt-4o-mini"), "tenant.id").as_deref(),
        Some("late-tenant")
    );
}

#[test]
fn the_nearest_id_wins_and_the_seed_spellings_export_dotted() {
    let (_, exported) = export(|| {
        let root = tracing::info_span!(
            "gateway",
            tenant_id = "outer",
            feature_id = "chat",
            request_id = 7
        );
        let inner = root.in_scope(|| tracing::info_span!("sub-request", tenant.id = "inner"));
        block_on(generate(1, 1).instrument(inner)).expect("generates");
    });
    let llm = exported.span("chat gpt-4o-mini");
    assert_eq!(str_attr(llm, "tenant.id").as_deref(), Some("inner"));
    assert_eq!(str_attr(llm, "feature.id").as_deref(), Some("chat"));
    assert_eq!(str_attr(llm, "request.id").as_deref(), Some("7"));
    assert_eq!(
        attr(llm, "tenant_id"),
        None,
        "exported under the dotted name only"
    );
}

#[test]
fn a_hand_written_span_without_the_macro_is_priced_and_attributed() {
    let (_, exported) = export(|| {
        let root = tracing::info_span!("job", tenant.id = "globex");
        root.in_scope(|| {
            let span = tracing::info_span!(
                "anthropic.messages",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "anthropic",
                gen_ai.request.model = "claude-sonnet-4-5",
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            );
            span.record("gen_ai.usage.input_tokens", 50_000_i64);
            span.record("gen_ai.usage.output_tokens", 1_200_u64);
            span.record("gen_ai.usage.cache_read.input_tokens", 30_000_i64);
        });
    });
    let span = exported.span("anthropic.messages");
    // Sonnet 4.5: $3 / M input, $0.30 / M cache read, $15 / M output.
    let expected = (20_000.0 * 3.0 + 30_000.0 * 0.30 + 1_200.0 * 15.0) / 1e6;
    assert!((f64_attr(span, "gen_ai.usage.cost") - expected).abs() < 1e-12);
    assert_eq!(str_attr(span, "tenant.id").as_deref(), Some("globex"));
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("genai-prices")
    );
}

/// A request whose caller sent `baggage` with ids, under a span that records only its session.
fn with_incoming_baggage(layer: tracing_ai::AiLayerBuilder) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::baggage::BaggageExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let (_, exported) = export_with(layer, || {
        let incoming = opentelemetry::Context::current_with_baggage([
            KeyValue::new("tenant.id", "from-baggage"),
            KeyValue::new("session.id", "s-9"),
            KeyValue::new("user.id", "forged"),
        ]);
        let root = tracing::info_span!("server.request", session.id = "from-span");
        root.set_parent(incoming).expect("the span has not started");
        block_on(generate(1, 1).instrument(root)).expect("generates");
    });
    exported.span("chat gpt-4o-mini").clone()
}

#[test]
fn trusted_baggage_attributes_the_request_when_no_span_does() {
    let llm = with_incoming_baggage(
        AiLayer::builder()
            .with_trusted_baggage("tenant.id")
            .with_trusted_baggage("session.id"),
    );
    assert_eq!(str_attr(&llm, "tenant.id").as_deref(), Some("from-baggage"));
    assert_eq!(
        str_attr(&llm, "session.id").as_deref(),
        Some("from-span"),
        "a span beats baggage"
    );
    assert_eq!(attr(&llm, "user.id"), None, "an untrusted key");
}

#[test]
fn baggage_is_not_trusted_by_default() {
    let llm = with_incoming_baggage(AiLayer::builder());
    assert_eq!(attr(&llm, "tenant.id"), None);
    assert_eq!(attr(&llm, "user.id"), None);
    assert_eq!(str_attr(&llm, "session.id").as_deref(), Some("from-span"));
}

#[test]
fn only_an_attribution_key_can_be_trusted_from_baggage() {
    let error = AiLayer::builder()
        .with_trusted_baggage("x-tenant")
        .build()
        .expect_err("not a key");
    assert!(
        error
            .to_string()
            .starts_with("`x-tenant` cannot be read from baggage: it is not an attribution key"),
        "{error}"
    );
}

/// Values past 256 bytes, from a span or trusted baggage, are cut and marked on AI spans.
#[test]
fn a_huge_id_is_cut_before_it_reaches_an_ai_span() {
    let (_, exported) = export(|| {
        let tenant = "t".repeat(100_000);
        let root = tracing::info_span!("server.request", tenant.id = %tenant);
        block_on(generate(1, 1).instrument(root)).expect("generates");
    });
    let llm = exported.span("chat gpt-4o-mini");
    let tenant = str_attr(llm, "tenant.id").expect("a tenant");
    assert!(tenant.len() <= 256, "{}", tenant.len());
    assert!(
        tenant.starts_with("tttt")
            && tenant
                .split_once("…#")
                .is_some_and(|(_, hash)| hash.len() == 16),
        "{tenant}"
    );
}

#[ai_span(kind = "llm", model = "my-fine-tune-v3", provider = "openai")]
fn unknown_model() -> Usage {
    Usage::new(100, 10)
}

#[test]
fn an_unknown_model_is_unpriced_not_free_and_warned_about_once() {
    let counter = WarnCounter::default();
    let warnings = counter.0.clone();
    let (_, exported) = export_with_layer(AiLayer::builder(), counter, || {
        for _ in 0..3 {
            unknown_model();
        }
    });
    let spans = exported.spans_named("chat my-fine-tune-v3");
    assert_eq!(spans.len(), 3);
    for span in spans {
        assert_eq!(
            attr(span, "gen_ai.usage.cost"),
            None,
            "an unknown model must not cost 0"
        );
        let reason = str_attr(span, "ai.cost.unpriced").expect("says why it is unpriced");
        assert!(reason.contains("my-fine-tune-v3"), "{reason}");
        assert_eq!(span.status, Status::Unset);
    }
    assert_eq!(
        warnings.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one warning per model"
    );
}

#[test]
fn a_provider_reported_cost_wins() {
    #[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
    fn reported() -> Usage {
        Usage::new(1_000, 1_000).with_cost(0.5)
    }
    let (_, exported) = export(reported);
    let span = exported.span("chat gpt-4o");
    assert_eq!(f64_attr(span, "gen_ai.usage.cost"), 0.5);
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("provider")
    );
}

#[test]
fn costs_are_exported_without_float_noise() {
    #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
    fn call(input: u64) -> Usage {
        Usage::new(input, 0)
    }
    let (_, exported) = export(|| {
        tracing::info_span!("request").in_scope(|| {
            call(201);
            call(7);
        })
    });
    let costs: Vec<f64> = exported
        .spans_named("chat gpt-4o-mini")
        .into_iter()
        .map(|span| f64_attr(span, "gen_ai.usage.cost"))
        .collect();
    // 201 × $0.15 a million is 0.000030149999999999998 in float arithmetic.
    assert_eq!(costs, [3.015e-5, 1.05e-6]);
    assert_eq!(
        f64_attr(exported.span("request"), "ai.request.cost"),
        3.12e-5
    );
}
