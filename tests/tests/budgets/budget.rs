//! Budgets in-process (issue 22, items 1 and 2): a call reserves its estimate before it runs
//! and settles with its cost when it ends; past a `refuse` budget it is not made, returns
//! `BudgetExceeded` and exports `error.type = budget_exceeded` with no cost; past a `warn`
//! budget it goes on with an event; 1,000 concurrent calls never spend past the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use tracing::instrument::WithSubscriber as _;
use tracing_ai::budget::{Budget, BudgetExceeded, Scope, Window};
use tracing_ai::content::{InputContent, Message};
use tracing_ai::{ai_span, AiLayer, AiLayerBuilder, ModelPrice, ReportsParameters, Usage};
use tracing_ai_tests::block_on;
use tracing_ai_tests::metrics::{attrs, gauge_points, points};
use tracing_ai_tests::otel::{export_built, f64_attr, str_attr, Exported};

thread_local! {
    /// How many times a model was called on this thread (each test runs on its own).
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn calls() -> usize {
    CALLS.with(std::cell::Cell::get)
}

/// A model call's error, as an application defines it: a budget's or a rate limit's refusal,
/// or the provider's failure (the rate limits' tests take it too).
#[derive(Debug)]
pub(crate) enum ChatError {
    OverBudget(BudgetExceeded),
    Provider,
}

impl From<BudgetExceeded> for ChatError {
    fn from(refused: BudgetExceeded) -> Self {
        ChatError::OverBudget(refused)
    }
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::OverBudget(refused) => refused.fmt(f),
            ChatError::Provider => f.write_str("the provider failed"),
        }
    }
}

impl std::error::Error for ChatError {}

/// 10,000 input tokens at $1 per million: $0.01 a call.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
async fn chat(counter: &AtomicUsize) -> Result<Usage, ChatError> {
    counter.fetch_add(1, Ordering::SeqCst);
    // In flight long enough for the other calls to reserve meanwhile.
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok(Usage::new(10_000, 0))
}

#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
fn chat_sync() -> Result<Usage, ChatError> {
    CALLS.with(|calls| calls.set(calls.get() + 1));
    Ok(Usage::new(10_000, 0))
}

#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
fn chat_failing() -> Result<Usage, ChatError> {
    Err(ChatError::Provider)
}

/// Not annotated with `budget`: it is not checked, but it debits.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai")]
fn chat_unchecked() -> Result<Usage, ChatError> {
    Ok(Usage::new(10_000, 0))
}

fn builder() -> AiLayerBuilder {
    AiLayer::builder().with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
}

/// The layer `builder` builds, and a handle on its budgets (which outlives the layer).
fn built(builder: AiLayerBuilder) -> (AiLayer, tracing_ai::budget::BudgetsHandle) {
    let layer = builder.build().expect("valid");
    let budgets = layer.budgets();
    (layer, budgets)
}

fn in_request<T>(tenant: &str, f: impl FnOnce() -> T) -> T {
    tracing::info_span!("request", tenant.id = tenant).in_scope(f)
}

fn calls_named(exported: &Exported) -> Vec<&opentelemetry_sdk::trace::SpanData> {
    exported.spans_named("chat budget-model")
}

#[test]
fn a_refused_call_is_not_made_and_exports_budget_exceeded_with_no_cost() {
    let (layer, budgets) = built(
        builder().with_budget(Budget::new("tenant-daily", 0.03, Window::Day).per(Scope::Tenant)),
    );
    let before = calls();
    let (results, exported) = export_built(layer, || {
        in_request("acme", || (0..4).map(|_| chat_sync()).collect::<Vec<_>>())
    });
    // Three calls of $0.01 fit in $0.03; the fourth is refused without running.
    assert_eq!(calls() - before, 3);
    let refused = match &results[3] {
        Err(ChatError::OverBudget(refused)) => refused,
        other => panic!("the fourth call was not refused: {other:?}"),
    };
    assert!(results[..3].iter().all(Result::is_ok));
    assert_eq!(refused.budget(), "tenant-daily");
    assert_eq!(refused.scope().collect::<Vec<_>>(), [("tenant.id", "acme")]);
    assert_eq!(refused.spent(), 0.03);
    assert_eq!(refused.limit(), 0.03);
    assert_eq!(refused.window(), Window::Day);
    let message = refused.to_string();
    assert!(
        message.starts_with("budget \"tenant-daily\" for tenant.id=acme: 0.03 of 0.03 USD spent or reserved this UTC day; the call was not made."),
        "{message}"
    );

    let spans = calls_named(&exported);
    assert_eq!(spans.len(), 4, "the refused call has its span");
    let refused_span = spans
        .iter()
        .find(|span| str_attr(span, "error.type").as_deref() == Some("budget_exceeded"))
        .expect("a span says budget_exceeded");
    assert_eq!(
        refused_span.status,
        opentelemetry::trace::Status::error(message)
    );
    for absent in [
        "gen_ai.usage.cost",
        "ai.cost.source",
        "gen_ai.usage.input_tokens",
    ] {
        assert!(
            !refused_span
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == absent),
            "a refused call has no {absent}"
        );
    }
    // The request's roll-up is what was made: three calls, $0.03.
    assert_eq!(f64_attr(exported.span("request"), "ai.request.cost"), 0.03);
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.03)
    );
}

#[test]
fn each_tenant_has_its_own_budget_and_unattributed_calls_are_not_covered() {
    let (layer, budgets) = built(
        builder().with_budget(Budget::new("tenant-daily", 0.01, Window::Day).per(Scope::Tenant)),
    );
    let (results, _) = export_built(layer, || {
        [
            in_request("acme", chat_sync).is_ok(),
            in_request("acme", chat_sync).is_ok(),
            in_request("globex", chat_sync).is_ok(),
            // no tenant: not covered by a per-tenant budget
            chat_sync().is_ok(),
            chat_sync().is_ok(),
        ]
    });
    assert_eq!(results, [true, false, true, true, true]);
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "globex")]),
        Some(0.01)
    );
}

#[test]
fn a_failed_call_releases_its_reservation_and_unchecked_calls_still_debit() {
    let (layer, budgets) = built(
        builder().with_budget(
            Budget::new("tenant-daily", 0.02, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.02),
        ),
    );
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            // Reserves the whole budget, fails: nothing billed, the room comes back.
            let failed = chat_failing().is_err();
            let after_failure = chat_sync().is_ok();
            // Spends $0.01 more without asking: the budget is now spent.
            let unchecked = chat_unchecked().is_ok();
            let refused = matches!(chat_sync(), Err(ChatError::OverBudget(_)));
            [failed, after_failure, unchecked, refused]
        })
    });
    assert_eq!(results, [true; 4]);
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.02)
    );
}

#[test]
fn a_warn_budget_lets_the_call_go_on_with_an_event() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = builder()
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(
            Budget::new(
                "model-alert",
                0.01,
                Window::Rolling(Duration::from_secs(3600)),
            )
            .only(Scope::Model, "budget-model")
            .warn(),
        )
        .build()
        .expect("valid");
    // The counters are read for as long as the layer (or a handle on it) lives.
    let _budgets = layer.budgets();
    let (results, exported) = export_built(layer, || {
        in_request("acme", || [chat_sync().is_ok(), chat_sync().is_ok()])
    });
    assert_eq!(results, [true, true]);
    let spans = calls_named(&exported);
    let events: Vec<_> = spans
        .iter()
        .flat_map(|span| span.events.iter())
        .filter(|event| event.name == "ai.budget.exceeded")
        .collect();
    assert_eq!(events.len(), 1, "the second call went past the limit");
    let attribute = |key: &str| {
        events[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("ai.budget.name").as_deref(), Some("model-alert"));
    assert_eq!(attribute("ai.budget.spent").as_deref(), Some("0.01"));
    assert_eq!(attribute("ai.budget.limit").as_deref(), Some("0.01"));
    // Those three only: no `level` or `target` of a `tracing` event.
    assert_eq!(events[0].attributes.len(), 3, "{:?}", events[0].attributes);
    assert!(spans
        .iter()
        .all(|span| str_attr(span, "error.type").is_none()));
    meters.force_flush().expect("metrics flush");
    // By budget and the scope it covers, and only what happened.
    let calls = points(&metrics, "ai.budget.calls");
    assert_eq!(
        calls,
        [(
            attrs(&[
                ("ai.budget.name", "model-alert"),
                ("ai.budget.outcome", "warned"),
                ("gen_ai.request.model", "budget-model"),
            ]),
            (1.0, 1)
        )]
        .into()
    );
}

/// 1,000 calls at once against a budget with room for 100: the check and the reservation
/// are one step, so exactly 100 are made and the spend is the limit, to the cent.
#[test]
fn a_thousand_concurrent_calls_never_spend_past_the_limit() {
    let (layer, budgets) = built(
        builder().with_budget(
            Budget::new("burst", 1.0, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        ),
    );
    let made = Arc::new(AtomicUsize::new(0));
    let (outcomes, exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let tasks: Vec<_> = (0..1_000)
                .map(|_| {
                    let made = made.clone();
                    let call = async move {
                        let request = tracing::info_span!("request", tenant.id = "acme");
                        tracing::Instrument::instrument(
                            async move { chat(&made).await.is_ok() },
                            request,
                        )
                        .await
                    };
                    tokio::spawn(call.with_subscriber(dispatch.clone()))
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.expect("the task ends"));
            }
            outcomes
        })
    });
    let allowed = outcomes.iter().filter(|ok| **ok).count();
    assert_eq!(allowed, 100);
    assert_eq!(made.load(Ordering::SeqCst), 100, "refused calls never ran");
    assert_eq!(
        budgets.spent("burst", &[(Scope::Tenant, "acme")]),
        Some(1.0)
    );
    let refused = calls_named(&exported)
        .iter()
        .filter(|span| str_attr(span, "error.type").as_deref() == Some("budget_exceeded"))
        .count();
    assert_eq!(refused, 900);
}

/// A request whose input and `max_tokens` the call knows.
struct ChatRequest {
    prompt: &'static str,
    max_tokens: u64,
}

impl InputContent for ChatRequest {
    fn input_messages(&self) -> Vec<Message> {
        vec![Message::user(self.prompt)]
    }
}

impl ReportsParameters for ChatRequest {
    fn request_parameters(&self) -> tracing_ai::RequestParameters {
        tracing_ai::RequestParameters::default().with_max_tokens(self.max_tokens)
    }
}

#[ai_span(kind = "llm", model = "budget-model", provider = "openai", input = request, budget)]
fn chat_request(request: &ChatRequest) -> Result<Usage, ChatError> {
    let _ = request;
    Ok(Usage::new(1_000, 100))
}

/// With a token estimator, a call reserves its input's tokens and `max_tokens` of output:
/// 1,000 tokens in ($0.001) and 4,000 out ($0.008), $0.009; it spends what it reports,
/// 1,000 in and 100 out, $0.0012.
#[test]
fn the_reservation_is_the_inputs_tokens_and_max_tokens_of_output() {
    // One token per character of the prompt.
    let estimator = |_model: &str, text: &str| Some(text.chars().count() as u64);
    let prompt: &'static str = Box::leak("x".repeat(1_000).into_boxed_str());
    let request = ChatRequest {
        prompt,
        max_tokens: 4_000,
    };
    let (layer, budgets) = built(
        builder()
            .with_token_estimator(estimator)
            .with_budget(Budget::new("tenant", 0.01, Window::Day).per(Scope::Tenant)),
    );
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            [chat_request(&request), chat_request(&request)].map(|result| match result {
                Ok(_) => "made".to_owned(),
                Err(ChatError::OverBudget(refused)) => {
                    format!(
                        "refused: {} spent, {} more",
                        refused.spent(),
                        refused.estimate()
                    )
                }
                Err(other) => format!("{other}"),
            })
        })
    });
    // The first holds $0.009 of $0.01 and spends $0.0012; the second would hold
    // 0.0012 + 0.009 = 0.0102.
    assert_eq!(results, ["made", "refused: 0.0012 spent, 0.009 more"]);
    assert_eq!(
        budgets.spent("tenant", &[(Scope::Tenant, "acme")]),
        Some(0.0012)
    );
}

#[test]
fn budgets_change_at_run_time_and_keep_what_was_spent() {
    let (layer, budgets) = built(
        builder().with_budget(Budget::new("tenant-daily", 0.01, Window::Day).per(Scope::Tenant)),
    );
    let handle = budgets.clone();
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            let first = chat_sync().is_ok();
            let refused = chat_sync().is_err();
            handle
                .replace(vec![
                    Budget::new("tenant-daily", 0.02, Window::Day).per(Scope::Tenant)
                ])
                .expect("valid");
            let after_raise = chat_sync().is_ok();
            let refused_again = chat_sync().is_err();
            handle.replace(Vec::new()).expect("no budget is valid");
            let without = chat_sync().is_ok();
            [first, refused, after_raise, refused_again, without]
        })
    });
    assert_eq!(results, [true; 5]);
    let error = budgets
        .replace(vec![Budget::new("x", -1.0, Window::Day)])
        .expect_err("a negative limit");
    assert!(error.to_string().contains("0 or more"), "{error}");
}

#[test]
fn budgets_read_from_a_file_and_a_bad_file_says_where() {
    let dir = std::env::temp_dir().join(format!("tracing-ai-budgets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("budgets.toml");
    std::fs::write(
        &path,
        "[[budget]]\nname = \"tenant-daily\"\nlimit = 0.01\nwindow = \"day\"\nper = [\"tenant\"]\n",
    )
    .expect("written");
    let layer = builder().with_budgets_file(&path).build().expect("valid");
    let budgets = layer.budgets();
    let (results, _) = export_built(layer, || {
        in_request("acme", || [chat_sync().is_ok(), chat_sync().is_ok()])
    });
    assert_eq!(results, [true, false]);
    // A mistake in the file on reload: refused, the budgets kept.
    std::fs::write(
        &path,
        "[[budget]]\nname = \"tenant-daily\"\nlimit = 0.01\nwindow = \"fortnight\"\n",
    )
    .expect("written");
    let error = budgets.reload().expect_err("a bad window").to_string();
    assert!(
        error.contains("budgets.toml")
            && error.contains("line 4: budget \"tenant-daily\", `window`")
            && error.contains("\"30m\""),
        "{error}"
    );
    assert_eq!(budgets.budgets().len(), 1);
    // A negative limit: the file, the line and the field.
    std::fs::write(
        &path,
        "[[budget]]\nname = \"tenant-daily\"\nlimit = -1.0\nwindow = \"day\"\n",
    )
    .expect("written");
    let error = budgets.reload().expect_err("a negative limit").to_string();
    assert!(
        error.contains("budgets.toml")
            && error.contains("line 3: budget \"tenant-daily\", `limit`: -1 is not an amount"),
        "{error}"
    );
    let error = builder()
        .with_budgets_file(&path)
        .build()
        .expect_err("refused at build too");
    assert!(error.budget().is_some(), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_gauges_show_each_scopes_spend_and_limit_and_refusals_are_counted() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = builder()
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(Budget::new("tenant-daily", 0.02, Window::Day).per(Scope::Tenant))
        .build()
        .expect("valid");
    // The gauges read the ledger for as long as the layer (or a handle on it) lives.
    let _budgets = layer.budgets();
    let (_, _) = export_built(layer, || {
        in_request("acme", || (0..3).for_each(|_| drop(chat_sync())));
        in_request("globex", || drop(chat_sync()));
    });
    meters.force_flush().expect("metrics flush");
    let labels = |tenant: &str| {
        attrs(&[
            ("ai.budget.name", "tenant-daily"),
            ("tenant.id", tenant),
            ("ai.budget.currency", "USD"),
        ])
    };
    let spent = gauge_points(&metrics, "ai.budget.spent");
    assert_eq!(spent.get(&labels("acme")), Some(&0.02));
    assert_eq!(spent.get(&labels("globex")), Some(&0.01));
    let limit = gauge_points(&metrics, "ai.budget.limit");
    assert_eq!(limit.get(&labels("acme")), Some(&0.02));
    let remaining = gauge_points(&metrics, "ai.budget.remaining");
    assert_eq!(remaining.get(&labels("acme")), Some(&0.0));
    assert_eq!(remaining.get(&labels("globex")), Some(&0.01));
    // By budget and scope: acme's third call.
    let calls = points(&metrics, "ai.budget.calls");
    assert_eq!(
        calls,
        [(
            attrs(&[
                ("ai.budget.name", "tenant-daily"),
                ("ai.budget.outcome", "refused"),
                ("tenant.id", "acme"),
            ]),
            (1.0, 1)
        )]
        .into()
    );
    // A refused call is not a failed inference: no duration is counted for it.
    let durations: u64 = points(&metrics, "gen_ai.client.inference.duration")
        .values()
        .map(|(_, count)| count)
        .sum();
    assert_eq!(durations, 3, "the three calls made");
    // A refused call is not a call nothing was billed for that the cost counter misses.
    assert!(points(&metrics, "ai.client.unpriced_calls").is_empty());
}

#[test]
fn without_a_layer_a_budget_call_runs() {
    let before = calls();
    assert!(chat_sync().is_ok());
    assert!(block_on(chat(&AtomicUsize::new(0))).is_ok());
    assert_eq!(calls() - before, 1);
}

/// A real client's call: refused before the request is sent, so the model server never sees it.
#[ai_span(kind = "llm", model = request.model.as_str(), provider = "openai", input = request, budget)]
async fn openai_chat(
    client: &async_openai::Client<async_openai::config::OpenAIConfig>,
    request: async_openai::types::chat::CreateChatCompletionRequest,
) -> Result<
    async_openai::types::chat::CreateChatCompletionResponse,
    Box<dyn std::error::Error + Send + Sync>,
> {
    Ok(client.chat().create(request).await?)
}

#[test]
fn a_refused_call_never_reaches_the_model() {
    use async_openai::types::chat::{
        ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
    };
    let server = tracing_ai_tests::model_server::ModelServer::start();
    let client = async_openai::Client::with_config(
        async_openai::config::OpenAIConfig::new()
            .with_api_base(server.api_base())
            .with_api_key("test"),
    );
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("What is a span?")
            .build()
            .expect("a message")
            .into()])
        .build()
        .expect("a request");
    // Room for one call's $0.001 reservation; what it costs (well under that) stays spent.
    let layer = AiLayer::builder()
        .with_budget(
            Budget::new("tenant-daily", 0.001, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.001),
        )
        .build()
        .expect("valid");
    let ((first, second), _) = export_built(layer, || {
        in_request("acme", || {
            block_on(async {
                (
                    openai_chat(&client, request.clone()).await.is_ok(),
                    openai_chat(&client, request.clone()).await,
                )
            })
        })
    });
    assert!(first);
    let refused = second.expect_err("the budget has no room for a second call");
    assert!(
        refused.downcast_ref::<BudgetExceeded>().is_some(),
        "{refused}"
    );
    assert_eq!(server.requests(), 1, "the refused call was never sent");
}

#[test]
fn the_console_shows_a_refused_call_and_the_budgets_state_on_the_request_line() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = tracing_ai_tests::Buffer::default();
    let layer = builder()
        .with_budget(Budget::new("tenant-daily", 0.02, Window::Day).per(Scope::Tenant))
        .build()
        .expect("valid");
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_ai::ConsoleLayer::to_writer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        in_request("acme", || (0..3).for_each(|_| drop(chat_sync())));
    });
    let output = buffer.text();
    assert!(
        output.contains(
            "  REFUSED budget \"tenant-daily\" for tenant.id=acme: 0.02 of 0.02 USD spent or reserved this UTC day\n"
        ),
        "{output}"
    );
    assert!(
        output.contains(
            "= 3 AI calls · 20000 tokens in · 0 out · $0.02 · 1 refused by a budget · budget tenant-daily 100% (0.02 of 0.02 USD) · tenant acme\n"
        ),
        "{output}"
    );
}

/// A call covered by two budgets reserves in both or in neither: refused by the second, it
/// gives back what the first held.
#[test]
fn a_call_refused_by_one_of_its_budgets_holds_nothing_in_the_others() {
    let tenant = || {
        Budget::new("tenant-daily", 0.02, Window::Day)
            .per(Scope::Tenant)
            .per_call(0.01)
    };
    let (layer, budgets) = built(
        builder().with_budget(tenant()).with_budget(
            Budget::new("model-daily", 0.01, Window::Day)
                .only(Scope::Model, "budget-model")
                .per_call(0.01),
        ),
    );
    let handle = budgets.clone();
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            let first = chat_sync().is_ok();
            let refused_by_model = match chat_sync() {
                Err(ChatError::OverBudget(refused)) => refused.budget() == "model-daily",
                _ => false,
            };
            // Without the model's budget, the tenant's has room for one more call: $0.01
            // spent, nothing left held by the refused call.
            handle.replace(vec![tenant()]).expect("valid");
            let third = chat_sync().is_ok();
            [first, refused_by_model, third]
        })
    });
    assert_eq!(results, [true; 3]);
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.02)
    );
}

#[ai_span(
    kind = "llm",
    model = "budget-model",
    provider = "openai",
    stream,
    budget
)]
async fn chat_stream(
) -> Result<impl futures_core::Stream<Item = tracing_ai_tests::Delta>, ChatError> {
    let chunk = tracing_ai_tests::Delta {
        usage: None,
        finish_reason: None,
    };
    Ok(tokio_stream::iter(vec![
        chunk.clone(),
        chunk.clone(),
        chunk,
    ]))
}

/// A streamed call holds its reservation for as long as its stream lives, and gives it back
/// when the stream is dropped before its usage came (cancelled: nothing is known billed).
#[test]
fn a_stream_holds_its_reservation_until_it_ends_cancelled_or_not() {
    use tokio_stream::StreamExt as _;
    let (layer, budgets) = built(
        builder().with_budget(
            Budget::new("tenant-daily", 0.01, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        ),
    );
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            block_on(async {
                let mut first = chat_stream().await.expect("room for one stream");
                first.next().await;
                // The first stream is still open: it holds the whole budget.
                let while_open = matches!(chat_stream().await, Err(ChatError::OverBudget(_)));
                drop(first);
                let after_cancel = chat_stream().await.is_ok();
                [while_open, after_cancel]
            })
        })
    });
    assert_eq!(results, [true, true]);
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.0)
    );
}

/// The tenant ids on the calls' spans, in the order they ended.
fn tenant_ids(exported: &Exported) -> Vec<String> {
    calls_named(exported)
        .iter()
        .map(|span| str_attr(span, "tenant.id").expect("a tenant").into_owned())
        .collect()
}

/// The tenants `ai.client.cost` has a series for.
fn cost_series_tenants(
    metrics: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
) -> std::collections::BTreeSet<String> {
    points(metrics, "ai.client.cost")
        .keys()
        .filter_map(|labels| {
            labels
                .iter()
                .find(|(key, _)| key == "tenant.id")
                .map(|(_, value)| value.clone())
        })
        .collect()
}

/// Two tenants whose 50 KB ids share all but their last bytes (ids a service takes from a
/// request): two accounts, two metric series and two ids on the spans, not one (issue 33).
#[test]
fn two_long_tenant_ids_sharing_a_prefix_stay_two_accounts_and_two_series() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let (layer, budgets) = built(
        builder()
            .with_meter(meters.meter("tracing-ai"))
            .with_budget(Budget::new("tenant-daily", 0.015, Window::Day).per(Scope::Tenant)),
    );
    let prefix = "t".repeat(50_000);
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let (made, exported) = export_built(layer, || {
        [&a, &b].map(|tenant| in_request(tenant, chat_sync).is_ok())
    });
    meters.force_flush().expect("metrics flush");
    // Each has room for one $0.01 call: merged into one account, the second would be refused.
    assert_eq!(made, [true, true]);
    for tenant in [&a, &b] {
        assert_eq!(
            budgets.spent("tenant-daily", &[(Scope::Tenant, tenant)]),
            Some(0.01)
        );
    }
    let ids = tenant_ids(&exported);
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert_eq!(id.len(), 256, "{id:.40}");
        assert!(prefix.starts_with(id.split('…').next().expect("a cut")));
    }
    let series = cost_series_tenants(&metrics);
    assert_eq!(series, ids.iter().cloned().collect(), "one series a tenant");
}

/// A tab or a right-to-left override in an id the service records is escaped, the same on
/// the span, the metric label and the budget account.
#[test]
fn control_and_bidi_characters_in_an_id_are_escaped_everywhere() {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let (layer, budgets) = built(
        builder()
            .with_meter(meters.meter("tracing-ai"))
            .with_budget(Budget::new("tenant-daily", 1.0, Window::Day).per(Scope::Tenant)),
    );
    let ((), exported) = export_built(layer, || {
        in_request("acme\tcorp", || drop(chat_sync()));
        in_request("\u{202E}emca", || drop(chat_sync()));
    });
    meters.force_flush().expect("metrics flush");
    let ids = tenant_ids(&exported);
    assert_eq!(ids, ["acme\\u{9}corp", "\\u{202e}emca"]);
    let series = cost_series_tenants(&metrics);
    assert_eq!(series, ids.iter().cloned().collect());
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme\tcorp")]),
        Some(0.01)
    );
}

/// A restart mid-day with the spend kept on local disk (`LocalBudgets`): the next process's
/// budget refuses where the day's spend, before the restart and after, reaches the limit;
/// without it, the ledger starts again from zero, as the docs say (issue 33, item 3).
#[test]
fn a_restart_keeps_the_days_spend_with_local_budgets() {
    use tracing_ai::budget::LocalBudgets;

    let dir = std::env::temp_dir().join(format!("tracing-ai-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("budgets.redb");
    let layer = |local: bool| {
        let mut builder = builder()
            .with_budget(Budget::new("tenant-daily", 0.03, Window::Day).per(Scope::Tenant));
        if local {
            builder = builder.with_local_budgets(LocalBudgets::new(&file));
        }
        built(builder)
    };
    let made = |layer: AiLayer, calls: usize| -> usize {
        let (made, _) = export_built(layer, || {
            in_request("acme", || {
                (0..calls).filter(|_| chat_sync().is_ok()).count()
            })
        });
        made
    };

    // Three processes in a day, each asking: two of the three calls the day allows, then
    // room for one more (what the file kept counts), then none.
    for (spent_at_start, asked, allowed) in [(0.0, 2, 2), (0.02, 3, 1), (0.03, 1, 0)] {
        let (process, budgets) = layer(true);
        assert_eq!(
            budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
            Some(spent_at_start)
        );
        assert_eq!(made(process, asked), allowed, "with {spent_at_start} spent");
        drop(budgets);
    }
    // In process only, a restart forgets: three more calls.
    let (forgetful, _budgets) = layer(false);
    assert_eq!(made(forgetful, 3), 3);

    // A file this process cannot write is an error at build, naming the file.
    let error = builder()
        .with_budget(Budget::new("tenant-daily", 0.03, Window::Day).per(Scope::Tenant))
        .with_local_budgets(LocalBudgets::new(dir.join("missing/dir/budgets.redb")))
        .build()
        .expect_err("no such directory");
    assert!(
        error.to_string().contains("missing/dir/budgets.redb"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
