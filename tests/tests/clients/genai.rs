//! The real genai client (0.7) with its own `otel` feature, against the local server speaking
//! OpenAI's wire format: the `chat` spans genai emits by itself are priced and attributed by
//! the layer with no annotation at all, and a `ChatResponse` reports its usage (issue 11).
//! Under an `#[ai_span]` the call is priced, counted and debited once; a `ChatStream` needs no
//! glue, and a `genai::Error` says what kind of failure it is (issue 33).

use genai::adapter::AdapterKind;
use genai::chat::{ChatRequest, ChatResponse};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{Client, ModelIden, ServiceTarget};
use tracing::Instrument as _;
use tracing_ai::{AiLayer, ReportsUsage};
use tracing_ai_tests::model_server::{
    ModelServer, CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS,
};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, str_attr};

fn client(server: &ModelServer) -> Client {
    let base = format!("{}/", server.api_base());
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            let ServiceTarget { model, .. } = target;
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(base.clone()),
                auth: AuthData::from_single("sk-local"),
                model: ModelIden::new(AdapterKind::OpenAI, model.model_name),
            })
        },
    );
    Client::builder()
        .with_service_target_resolver(resolver)
        .build()
        .expect("a client")
}

#[test]
fn genai_spans_are_priced_and_attributed_without_an_annotation() {
    let server = ModelServer::start();
    let (response, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(
            async {
                client(&server)
                    .exec_chat(
                        "gpt-4o-mini",
                        ChatRequest::from_user("What is a span?"),
                        None,
                    )
                    .await
                    .expect("an answer")
            }
            .instrument(tracing::info_span!("ask", tenant.id = "acme")),
        )
    });
    let response: ChatResponse = response;
    let usage = response.usage().expect("the response reports its usage");
    assert_eq!(usage.input_tokens, PROMPT_TOKENS);
    assert_eq!(usage.cache_read_tokens, Some(CACHED_TOKENS));
    assert_eq!(usage.output_tokens, COMPLETION_TOKENS);

    let span = exported
        .spans
        .iter()
        .find(|span| attr(span, "gen_ai.operation.name").is_some())
        .unwrap_or_else(|| panic!("genai's span: {:#?}", exported.spans));
    assert!(
        (f64_attr(span, "gen_ai.usage.cost") - 0.0002343).abs() < 1e-12,
        "{:#?}",
        span.attributes
    );
    assert_eq!(str_attr(span, "tenant.id").as_deref(), Some("acme"));
}

/// genai's request and response as message content: the trait mappings, on the real client's
/// answer (the capture itself is tested in `requests/content.rs`).
#[test]
fn a_chats_request_and_answer_map_to_the_conventions_messages() {
    use tracing_ai::content::{InputContent, ReportsContent};

    let server = ModelServer::start();
    let request = ChatRequest::from_system("Be brief.")
        .append_message(genai::chat::ChatMessage::user("What is a span?"));
    let response = tracing_ai_tests::block_on(async {
        client(&server)
            .exec_chat("gpt-4o-mini", request.clone(), None)
            .await
            .expect("an answer")
    });
    let json = |messages: Vec<tracing_ai::content::Message>| -> serde_json::Value {
        let (_, exported) = export_with(
            AiLayer::builder().with_content_capture(tracing_ai::content::ContentCapture::SpanOnly),
            || {
                tracing::info_span!("chat", gen_ai.operation.name = "chat").in_scope(|| {
                    tracing_ai::content::record_output_messages(&messages);
                })
            },
        );
        serde_json::from_str(
            &str_attr(&exported.spans[0], "gen_ai.output.messages").expect("captured"),
        )
        .expect("JSON")
    };
    assert_eq!(
        json(request.input_messages()),
        serde_json::json!([{
            "role": "user",
            "parts": [{"type": "text", "content": "What is a span?"}],
            "finish_reason": "unknown",
        }])
    );
    assert_eq!(request.system_instructions().len(), 1);
    assert_eq!(
        json(response.output_messages()),
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "A span is a unit of work."}],
            "finish_reason": "stop",
        }])
    );
}

/// What a service annotates: its own function around genai's call, with genai's `otel`
/// feature on, so that two spans describe the one call (issue 33, item 2).
#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
async fn annotated_chat(client: &Client) -> Result<ChatResponse, genai::Error> {
    client
        .exec_chat(
            "gpt-4o-mini",
            ChatRequest::from_user("What is a span?"),
            None,
        )
        .await
}

/// The same, checked against a budget: a refusal needs an error that takes it.
#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
async fn budgeted_chat(
    client: &Client,
) -> Result<ChatResponse, Box<dyn std::error::Error + Send + Sync>> {
    Ok(client
        .exec_chat(
            "gpt-4o-mini",
            ChatRequest::from_user("What is a span?"),
            None,
        )
        .await?)
}

/// The cost of the model server's answer to gpt-4o-mini, from OpenAI's published prices:
/// 314 uncached input tokens at $0.15, 1,536 cached at $0.075 and 120 output at $0.60 per
/// million.
const ONE_CALL_USD: f64 = 0.0002343;

#[test]
fn an_ai_span_over_genais_own_span_prices_the_call_once() {
    use opentelemetry::metrics::MeterProvider as _;
    use tracing_ai::budget::{Budget, Scope, Window};
    use tracing_ai_tests::metrics::points;

    let server = ModelServer::start();
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(
            Budget::new("tenant-daily", 1.0, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let ((), exported) = tracing_ai_tests::otel::export_built(layer, || {
        tracing_ai_tests::block_on(async {
            annotated_chat(&client(&server))
                .instrument(tracing::info_span!("request", tenant.id = "acme"))
                .await
                .expect("an answer");
            budgeted_chat(&client(&server))
                .instrument(tracing::info_span!("request", tenant.id = "globex"))
                .await
                .expect("an answer");
        })
    });
    meters.force_flush().expect("metrics flush");
    assert_eq!(server.requests(), 2, "one request a call");

    let calls: Vec<_> = exported
        .spans
        .iter()
        .filter(|span| attr(span, "gen_ai.operation.name").is_some())
        .collect();
    assert_eq!(calls.len(), 4, "genai's span and ours, twice: {calls:#?}");
    let carriers: Vec<_> = calls
        .iter()
        .filter(|span| attr(span, "gen_ai.usage.cost").is_some())
        .collect();
    assert_eq!(carriers.len(), 2, "one cost a call: {calls:#?}");
    for carrier in &carriers {
        assert!((f64_attr(carrier, "gen_ai.usage.cost") - ONE_CALL_USD).abs() < 1e-12);
        assert_eq!(attr(carrier, "ai.cost.carried_by"), None);
        // The cost is genai's span's, the one nearest the wire.
        let parent = exported
            .spans
            .iter()
            .find(|span| span.span_context.span_id() == carrier.parent_span_id)
            .expect("the annotated function's span");
        assert_eq!(
            str_attr(parent, "ai.cost.carried_by"),
            Some(carrier.span_context.span_id().to_string().into()),
            "the annotated span says which span carries its cost"
        );
        assert_eq!(attr(parent, "gen_ai.usage.cost"), None);
        assert_eq!(attr(parent, "ai.cost.unpriced"), None);
    }
    // The request's totals count one call of one cost.
    for request in exported.spans_named("request") {
        assert_eq!(
            attr(request, "ai.request.ai_calls"),
            Some(&opentelemetry::Value::I64(1)),
            "{:#?}",
            request.attributes
        );
        assert!((f64_attr(request, "ai.request.cost") - ONE_CALL_USD).abs() < 1e-12);
    }
    // The cost counter and the inference metrics count each call once.
    let cost: f64 = points(&metrics, "ai.client.cost")
        .values()
        .map(|(usd, _)| usd)
        .sum();
    assert!((cost - 2.0 * ONE_CALL_USD).abs() < 1e-12, "{cost}");
    let durations: u64 = points(&metrics, "gen_ai.client.inference.duration")
        .values()
        .map(|(_, count)| count)
        .sum();
    assert_eq!(durations, 2);
    // The budget reserved by the annotated call settled with genai's span's cost, once; the
    // unchecked call debited it once.
    for tenant in ["acme", "globex"] {
        let spent = budgets
            .spent("tenant-daily", &[(Scope::Tenant, tenant)])
            .expect("an account");
        assert!((spent - ONE_CALL_USD).abs() < 1e-12, "{tenant}: {spent}");
    }
}

/// A streamed chat, as the new user's service returns it: the annotation and nothing else.
#[tracing_ai::ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
async fn streamed_chat(
    client: &Client,
) -> Result<
    impl futures_core::Stream<Item = genai::Result<genai::chat::ChatStreamEvent>>,
    genai::Error,
> {
    let options = genai::chat::ChatOptions::default().with_capture_usage(true);
    let response = client
        .exec_chat_stream(
            "gpt-4o-mini",
            ChatRequest::from_user("What is a span?"),
            Some(&options),
        )
        .await?;
    Ok(response.stream)
}

#[test]
fn a_genai_stream_reports_its_usage_finish_and_content_chunks_only() {
    use tokio_stream::StreamExt as _;
    use tracing_ai_tests::model_server::STREAM_CHUNKS;

    let server = ModelServer::start();
    let (events, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(
            async {
                let stream = streamed_chat(&client(&server)).await.expect("a stream");
                stream.collect::<Vec<_>>().await
            }
            .instrument(tracing::info_span!("request", tenant.id = "acme")),
        )
    });
    // genai adds a start and an end event around the model's chunks.
    assert!(events.len() > STREAM_CHUNKS, "{events:?}");
    let calls: Vec<_> = exported
        .spans
        .iter()
        .filter(|span| attr(span, "gen_ai.usage.cost").is_some())
        .collect();
    assert_eq!(calls.len(), 1, "one priced span: {:#?}", exported.spans);
    let ours = exported
        .spans
        .iter()
        .find(|span| attr(span, "ai.stream.chunks").is_some())
        .expect("the annotated stream's span");
    assert_eq!(
        attr(ours, "ai.stream.chunks"),
        Some(&opentelemetry::Value::I64(STREAM_CHUNKS as i64)),
        "the model's chunks, not genai's start and end events"
    );
    assert_eq!(
        attr(ours, "gen_ai.usage.input_tokens"),
        Some(&opentelemetry::Value::I64(PROMPT_TOKENS as i64))
    );
    assert_eq!(
        attr(ours, "gen_ai.usage.output_tokens"),
        Some(&opentelemetry::Value::I64(COMPLETION_TOKENS as i64))
    );
    assert!(f64_attr(ours, "gen_ai.response.time_to_first_chunk") > 0.0);
    let Some(opentelemetry::Value::Array(opentelemetry::Array::String(reasons))) =
        attr(ours, "gen_ai.response.finish_reasons")
    else {
        panic!("no finish reasons: {:#?}", ours.attributes);
    };
    assert_eq!(*reasons, [opentelemetry::StringValue::from("stop")]);
}

#[test]
fn genai_errors_say_what_kind_of_failure_they_are() {
    use tracing_ai::ErrorType as _;
    let server = ModelServer::start();
    let error = tracing_ai_tests::block_on(async {
        client(&server)
            .exec_chat(
                "rate-limited",
                ChatRequest::from_user("What is a span?"),
                None,
            )
            .await
            .expect_err("the server refuses it")
    });
    assert_eq!(error.error_type(), "429", "{error}");
    let nothing_there = tracing_ai_tests::block_on(async {
        let base = "http://127.0.0.1:9/".to_owned();
        let resolver = ServiceTargetResolver::from_resolver_fn(
            move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
                Ok(ServiceTarget {
                    endpoint: Endpoint::from_owned(base.clone()),
                    auth: AuthData::from_single("sk-local"),
                    model: ModelIden::new(AdapterKind::OpenAI, target.model.model_name),
                })
            },
        );
        Client::builder()
            .with_service_target_resolver(resolver)
            .build()
            .expect("a client")
            .exec_chat("gpt-4o-mini", ChatRequest::from_user("hi"), None)
            .await
            .expect_err("nothing listens on port 9")
    });
    assert_eq!(
        nothing_there.error_type(),
        "connection_error",
        "{nothing_there}"
    );
}

/// A prompt of `PROMPT_TOKENS` characters: with the one-token-a-character estimator below,
/// the reservation counts the input the server will report, all of it at the uncached price.
fn long_prompt() -> String {
    "x".repeat(PROMPT_TOKENS as usize)
}

/// The new user's budgeted stream, its output limit in genai's `ChatOptions`.
#[tracing_ai::ai_span(
    kind = "llm",
    model = "gpt-4o-mini",
    provider = "openai",
    stream,
    budget,
    input = request,
    parameters = options
)]
async fn budgeted_stream(
    client: Client,
    request: ChatRequest,
    options: Option<genai::chat::ChatOptions>,
) -> Result<
    impl futures_core::Stream<Item = genai::Result<genai::chat::ChatStreamEvent>>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let response = client
        .exec_chat_stream("gpt-4o-mini", request.clone(), options.as_ref())
        .await?;
    Ok(response.stream)
}

/// `count` streamed calls at once for tenant `acme`, each read to its end; how many were
/// made, and what each call's span says it reserved by.
fn concurrent_streams(
    layer: AiLayer,
    count: usize,
    options: Option<genai::chat::ChatOptions>,
    server: &ModelServer,
) -> (usize, tracing_ai_tests::otel::Exported) {
    use tokio_stream::StreamExt as _;
    let client = client(server);
    tracing_ai_tests::otel::export_built(layer, || {
        tracing_ai_tests::block_on(async {
            let mut calls = tokio::task::JoinSet::new();
            for _ in 0..count {
                let (client, options) = (client.clone(), options.clone());
                calls.spawn(
                    async move {
                        let request = ChatRequest::from_user(long_prompt());
                        match budgeted_stream(client, request, options).await {
                            Ok(stream) => {
                                stream.collect::<Vec<_>>().await;
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    .instrument(tracing::info_span!("request", tenant.id = "acme")),
                );
            }
            calls
                .join_all()
                .await
                .into_iter()
                .filter(|made| *made)
                .count()
        })
    })
}

fn one_token_a_character() -> impl Fn(&str, &str) -> Option<u64> + Send + Sync + 'static {
    |_model: &str, text: &str| Some(text.chars().count() as u64)
}

/// Forty streamed calls at once against a budget with room for a few: each reserves its
/// input and `max_tokens` of output (read from genai's `ChatOptions`), which is no less than
/// what it costs, so the budget ends within its limit (issue 33, item 4).
#[test]
fn concurrent_genai_streams_reserve_their_max_tokens_and_a_refusing_budget_holds() {
    use tracing_ai::budget::{Budget, Scope, Window};

    const LIMIT: f64 = 0.0025;
    let server = ModelServer::start();
    let layer = AiLayer::builder()
        .with_token_estimator(one_token_a_character())
        .with_budget(Budget::new("tenant-daily", LIMIT, Window::Day).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let options = genai::chat::ChatOptions::default()
        .with_capture_usage(true)
        .with_max_tokens(200);
    let (made, exported) = concurrent_streams(layer, 40, Some(options), &server);
    let spent = budgets
        .spent("tenant-daily", &[(Scope::Tenant, "acme")])
        .expect("an account");
    // 1,850 input tokens at $0.15 and 200 output at $0.60 a million: $0.0003975 reserved for
    // each $0.0002343 spent.
    assert!((6..40).contains(&made), "{made} of 40 made");
    assert!(spent <= LIMIT, "{spent} spent of {LIMIT}");
    assert!(
        (spent - made as f64 * ONE_CALL_USD).abs() < 1e-12,
        "{spent} spent by {made} calls"
    );
    assert_eq!(server.requests(), made, "a refused call is never sent");
    let reserved_by: std::collections::BTreeSet<String> = exported
        .spans
        .iter()
        .filter_map(|span| str_attr(span, "ai.budget.reserved_by").map(|by| by.into_owned()))
        .collect();
    assert_eq!(reserved_by, ["max_tokens".to_owned()].into());
}

/// Without an output limit (and no `per_call`), a call reserves all the output the model's
/// context window leaves room for, never its input alone: a budget with room for many calls'
/// input refuses a call whose answer could be 126,000 tokens long, and says why.
#[test]
fn without_an_output_limit_a_call_reserves_what_its_context_window_allows() {
    use tracing_ai::budget::{Budget, Scope, Window};

    let server = ModelServer::start();
    let build = |per_call: Option<f64>| {
        let mut budget = Budget::new("tenant-daily", 0.0025, Window::Day).per(Scope::Tenant);
        if let Some(per_call) = per_call {
            budget = budget.per_call(per_call);
        }
        AiLayer::builder()
            .with_token_estimator(one_token_a_character())
            .with_budget(budget)
            .build()
            .expect("valid")
    };
    let options = genai::chat::ChatOptions::default().with_capture_usage(true);
    // 1,850 input tokens and 126,150 output at gpt-4o-mini's prices: $0.0760, past $0.0025.
    let (made, exported) = concurrent_streams(build(None), 1, Some(options.clone()), &server);
    assert_eq!(made, 0);
    let refused = exported
        .spans
        .iter()
        .find(|span| str_attr(span, "error.type").as_deref() == Some("budget_exceeded"))
        .expect("the refused call's span");
    assert_eq!(
        str_attr(refused, "ai.budget.reserved_by").as_deref(),
        Some("context_window")
    );
    // With the budget's `per_call`, that is what it reserves.
    let (made, exported) = concurrent_streams(build(Some(0.001)), 1, Some(options), &server);
    assert_eq!(made, 1);
    assert!(exported
        .spans
        .iter()
        .any(|span| str_attr(span, "ai.budget.reserved_by").as_deref() == Some("per_call")));
}
