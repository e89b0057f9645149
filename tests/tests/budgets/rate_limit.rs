//! Rate limits in process (issue 36, items 1 and 2): tokens and requests per minute and calls
//! in flight, per scope, kept as budgets are. A call reserves its estimate (its input's tokens
//! and `max_tokens`, one request, one call in flight) and settles with what it used; past the
//! limit it is not made, returns a `BudgetExceeded` that says when to retry, and exports
//! `error.type = rate_limited`. The windows are read from a clock the tests move, so that a
//! minute passes without waiting for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::MeterProvider as _;
use tracing::instrument::WithSubscriber as _;
use tracing_ai::budget::{Budget, BudgetExceeded, Scope};
use tracing_ai::content::{InputContent, Message};
use tracing_ai::{ai_span, AiLayer, AiLayerBuilder, ReportsParameters, Usage};
use tracing_ai_tests::otel::{export_built, str_attr, Exported};

use super::budget::ChatError;

/// A request whose input (one token a character, by the tests' estimator) and `max_tokens`
/// the call knows, and the usage its provider will report.
struct ChatRequest {
    prompt: String,
    max_tokens: u64,
    used: (u64, u64),
}

impl ChatRequest {
    fn new(input_tokens: usize, max_tokens: u64, used: (u64, u64)) -> Self {
        Self {
            prompt: "x".repeat(input_tokens),
            max_tokens,
            used,
        }
    }
}

impl InputContent for ChatRequest {
    fn input_messages(&self) -> Vec<Message> {
        vec![Message::user(self.prompt.clone())]
    }
}

impl ReportsParameters for ChatRequest {
    fn request_parameters(&self) -> tracing_ai::RequestParameters {
        tracing_ai::RequestParameters::default().with_max_tokens(self.max_tokens)
    }
}

#[ai_span(kind = "llm", model = "limited-model", provider = "openai", input = request, budget)]
fn chat(request: &ChatRequest) -> Result<Usage, ChatError> {
    Ok(Usage::new(request.used.0, request.used.1))
}

#[ai_span(kind = "llm", model = "limited-model", provider = "openai", budget)]
fn chat_failing() -> Result<Usage, ChatError> {
    Err(ChatError::Provider)
}

/// Not annotated with `budget`: not checked, but counted.
#[ai_span(kind = "llm", model = "limited-model", provider = "openai")]
fn chat_unchecked() -> Result<Usage, ChatError> {
    Ok(Usage::new(10, 10))
}

/// A call that runs until `gate` opens.
#[ai_span(kind = "llm", model = "limited-model", provider = "openai", budget)]
async fn chat_until(gate: Arc<tokio::sync::Notify>) -> Result<Usage, ChatError> {
    gate.notified().await;
    Ok(Usage::new(10, 10))
}

/// A clock the tests move by hand, starting on a whole minute.
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000 / 60 * 60)))
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }

    fn seconds(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// A builder with one token per character as its estimator, its budgets on `clock`.
fn builder(clock: &TestClock) -> AiLayerBuilder {
    let clock = clock.clone();
    AiLayer::builder()
        .with_token_estimator(|_model: &str, text: &str| Some(text.chars().count() as u64))
        .with_budget_clock(move || clock.now())
}

fn in_request<T>(tenant: &str, f: impl FnOnce() -> T) -> T {
    tracing::info_span!("request", tenant.id = tenant).in_scope(f)
}

fn refused(result: &Result<Usage, ChatError>) -> &BudgetExceeded {
    match result {
        Err(ChatError::OverBudget(refused)) => refused,
        other => panic!("the call was not refused: {other:?}"),
    }
}

fn rate_limited(exported: &Exported) -> Vec<&opentelemetry_sdk::trace::SpanData> {
    exported
        .spans_named("chat limited-model")
        .into_iter()
        .filter(|span| str_attr(span, "error.type").as_deref() == Some("rate_limited"))
        .collect()
}

/// 10,000 tokens a minute; each call reserves 1,000 input tokens and 4,000 of output, and
/// uses 1,000 and 100: five fit (1,100 each settled, 5,000 held by the last), the sixth
/// would take 5,500 + 5,000 past the limit. The window moves on a minute and a second after
/// the first calls (their second, and the 60 after it), and then there is room again.
#[test]
fn a_token_limit_reserves_the_estimate_settles_the_use_and_says_when_to_retry() {
    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::tokens_per_minute("tenant-tpm", 10_000).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let request = ChatRequest::new(1_000, 4_000, (1_000, 100));
    let (results, exported) = export_built(layer, || {
        in_request("acme", || {
            let first: Vec<_> = (0..6).map(|_| chat(&request)).collect();
            clock.advance(60);
            let a_minute_on = chat(&request);
            clock.advance(1);
            let a_minute_and_a_second_on = chat(&request);
            (first, a_minute_on, a_minute_and_a_second_on)
        })
    });
    let (first, a_minute_on, a_minute_and_a_second_on) = results;
    assert!(first[..5].iter().all(Result::is_ok), "{first:?}");
    let over = refused(&first[5]);
    assert!(over.is_rate_limit());
    assert_eq!(over.error_type(), "rate_limited");
    assert_eq!(over.budget(), "tenant-tpm");
    assert_eq!(over.currency(), "{token}");
    assert_eq!(
        (over.spent(), over.estimate(), over.limit()),
        (5_500.0, 5_000.0, 10_000.0)
    );
    assert_eq!(over.retry_after(), Some(Duration::from_secs(61)));
    assert_eq!(
        over.to_string(),
        "rate limit \"tenant-tpm\" for tenant.id=acme: 5500 of 10000 tokens used or reserved in \
         the last minute, and this call may use up to 5000; the call was not made. Retry in 61 \
         s, or raise the limit"
    );
    // Still counted a minute on; the second after, the first minute's tokens left.
    assert!(refused(&a_minute_on).retry_after() == Some(Duration::from_secs(1)));
    assert!(a_minute_and_a_second_on.is_ok());
    assert_eq!(
        budgets.spent("tenant-tpm", &[(Scope::Tenant, "acme")]),
        Some(1_100.0),
        "the tokens of the calls made, as they reported them, in the last minute"
    );
    let spans = rate_limited(&exported);
    assert_eq!(spans.len(), 2, "each refused call's span says rate_limited");
    assert_eq!(
        spans[0].status,
        opentelemetry::trace::Status::error(over.to_string()),
        "the status says what the error says"
    );
    for span in spans {
        assert_eq!(
            str_attr(span, "ai.budget.name").as_deref(),
            Some("tenant-tpm"),
            "the span says which limit"
        );
        for absent in ["gen_ai.usage.cost", "gen_ai.usage.input_tokens"] {
            assert!(
                !span.attributes.iter().any(|kv| kv.key.as_str() == absent),
                "a refused call has no {absent}"
            );
        }
    }
}

/// A limit of input or output tokens counts those alone, settled as the call reported them.
#[test]
fn input_and_output_token_limits_count_their_own_side() {
    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::input_tokens_per_minute("in", 2_500))
        .with_budget(Budget::output_tokens_per_minute("out", 1_000_000))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    // 1,000 in and 4,000 out reserved; 1,000 in and 300 out used.
    let request = ChatRequest::new(1_000, 4_000, (1_000, 300));
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            (0..3).map(|_| chat(&request)).collect::<Vec<_>>()
        })
    });
    assert!(results[0].is_ok() && results[1].is_ok());
    let over = refused(&results[2]);
    assert_eq!((over.budget(), over.spent()), ("in", 2_000.0));
    assert_eq!(over.currency(), "{input_token}");
    assert_eq!(budgets.spent("in", &[]), Some(2_000.0));
    assert_eq!(budgets.spent("out", &[]), Some(600.0));
}

/// Each call made counts one request, failed or not, checked or not; a refused call was not
/// made and counts none.
#[test]
fn requests_per_minute_count_the_calls_made_and_not_the_refused() {
    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::requests_per_minute("tenant-rpm", 4).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let request = ChatRequest::new(10, 10, (10, 10));
    let (results, exported) = export_built(layer, || {
        in_request("acme", || {
            let made = [
                chat(&request).is_ok(),
                matches!(chat_failing(), Err(ChatError::Provider)),
                chat_unchecked().is_ok(),
                chat(&request).is_ok(),
            ];
            let past = [chat(&request), chat(&request)];
            let other_tenant = in_request("globex", || chat(&request).is_ok());
            clock.advance(61);
            let later = chat(&request).is_ok();
            (made, past, other_tenant, later)
        })
    });
    let (made, past, other_tenant, later) = results;
    assert_eq!(made, [true; 4]);
    for result in &past {
        let over = refused(result);
        assert_eq!((over.spent(), over.limit()), (4.0, 4.0));
        assert_eq!(over.currency(), "{request}");
    }
    assert!(other_tenant, "each tenant has its own limit");
    assert!(later);
    assert_eq!(rate_limited(&exported).len(), 2);
    assert_eq!(
        budgets.spent("tenant-rpm", &[(Scope::Tenant, "acme")]),
        Some(1.0),
        "a minute on, the one request made since"
    );
}

/// A call holds its place from its reservation until it ends: returned, failed, or its
/// future dropped before it ended; with none left, a call is refused until one ends.
#[test]
fn calls_in_flight_hold_their_place_until_they_end_however_they_end() {
    let clock = TestClock::new();
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = builder(&clock)
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(Budget::in_flight("tenant-parallel", 2).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let (outcomes, exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(
            async {
                let request = tracing::info_span!("request", tenant.id = "acme");
                let _entered = request.enter();
                let (gate_1, gate_2) = (
                    Arc::new(tokio::sync::Notify::new()),
                    Arc::new(tokio::sync::Notify::new()),
                );
                let first = tokio::spawn(
                    tracing::Instrument::in_current_span(chat_until(gate_1.clone()))
                        .with_current_subscriber(),
                );
                let second = tokio::spawn(
                    tracing::Instrument::in_current_span(chat_until(gate_2.clone()))
                        .with_current_subscriber(),
                );
                // Both reserved their place and wait for their gate.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let third = chat_until(Arc::new(tokio::sync::Notify::new())).await;
                let full = refused(&third).to_string();
                // The gauge of a limit of calls in flight is the calls in flight.
                meters.force_flush().expect("metrics flush");
                let in_use = tracing_ai_tests::metrics::gauge_points(&metrics, "ai.budget.spent")
                    .get(&tracing_ai_tests::metrics::attrs(&[
                        ("ai.budget.name", "tenant-parallel"),
                        ("tenant.id", "acme"),
                        ("ai.budget.currency", "{call}"),
                    ]))
                    .copied();
                assert_eq!(in_use, Some(2.0), "two calls in flight");
                let retry = refused(&third).retry_after();
                gate_1.notify_one();
                first.await.expect("ends").expect("made");
                // One place is free: a call that fails gives it back too.
                let failing = matches!(chat_failing(), Err(ChatError::Provider));
                // A call dropped before it ends gives back its place.
                let dropped = tokio::time::timeout(
                    Duration::from_millis(10),
                    chat_until(Arc::new(tokio::sync::Notify::new())),
                )
                .await
                .is_err();
                let after_drop = {
                    let gate = Arc::new(tokio::sync::Notify::new());
                    gate.notify_one();
                    chat_until(gate).await.is_ok()
                };
                gate_2.notify_one();
                second.await.expect("ends").expect("made");
                (full, retry, failing, dropped, after_drop)
            }
            .with_subscriber(dispatch),
        )
    });
    let (full, retry, failing, dropped, after_drop) = outcomes;
    assert_eq!(
        full,
        "rate limit \"tenant-parallel\" for tenant.id=acme: 2 of 2 calls in flight; the call \
         was not made. Retry when a call in flight ends, or raise the limit"
    );
    assert_eq!(retry, None, "only a call ending makes room");
    assert!(failing && dropped && after_drop);
    assert_eq!(rate_limited(&exported).len(), 1);
    assert_eq!(
        budgets.spent("tenant-parallel", &[(Scope::Tenant, "acme")]),
        Some(0.0),
        "nothing is held once every call ended"
    );
}

/// 1,000 calls from 1,000 concurrent tasks against 100,000 tokens a minute, each reserving
/// 3,000 (1,000 in, `max_tokens` 2,000) and using what its request says (1,000 in, and 2,000
/// or 500 out). A refused call waits as long as its `retry_after` says, on the tests' clock,
/// which moves on a second at a time while no call is running. In every minute the calls
/// made used at most the limit, and the limit was used: the busy minutes took most of it.
#[test]
fn a_thousand_concurrent_calls_use_at_most_the_limit_in_any_minute() {
    let clock = TestClock::new();
    a_thousand_concurrent_calls(&clock, builder(&clock));
}

/// [`a_thousand_concurrent_calls_use_at_most_the_limit_in_any_minute`] with the limit kept in
/// a real `redis-server`: the reservations are Redis's script, the settlements its writer's.
#[test]
fn a_thousand_concurrent_calls_use_at_most_the_limit_in_any_minute_in_redis() {
    let Some(redis) = tracing_ai_tests::redis::Redis::start() else {
        return;
    };
    let clock = TestClock::new();
    // A reservation that waited past the store's timeout would go on unchecked (the default
    // policy, fail-open): the timeout is long enough that none does, on a loaded machine too.
    let store = tracing_ai::budget::RedisBudgets::new(&redis.url)
        .expect("a Redis URL")
        .with_prefix("thousand")
        .with_timeout(Duration::from_secs(5));
    a_thousand_concurrent_calls(&clock, builder(&clock).with_budget_store(store));
}

/// 1,000 calls from 1,000 tasks against 100,000 tokens a minute, under `builder`'s layer.
fn a_thousand_concurrent_calls(clock: &TestClock, builder: AiLayerBuilder) {
    const LIMIT: u64 = 100_000;
    let layer = builder
        .with_budget(Budget::tokens_per_minute("tpm", LIMIT))
        .build()
        .expect("valid");
    let start = clock.seconds();
    // Calls run under the read side; the clock moves under the write side, between calls.
    let running = Arc::new(RwLock::new(()));
    let made: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let refusals = Arc::new(AtomicU64::new(0));
    // Each second the clock moves on, told to the calls waiting for it.
    let (ticks, tick) = tokio::sync::watch::channel(clock.seconds());
    let (_, exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let tasks: Vec<_> = (0..1_000_u64)
                .map(|task| {
                    let (clock, running, made, refusals, mut tick) = (
                        clock.clone(),
                        running.clone(),
                        made.clone(),
                        refusals.clone(),
                        tick.clone(),
                    );
                    let output = if task % 2 == 0 { 2_000 } else { 500 };
                    let call = async move {
                        let request = ChatRequest::new(1_000, 2_000, (1_000, output));
                        loop {
                            let outcome = {
                                let _running = running.read().expect("not poisoned");
                                let at = clock.seconds();
                                in_request("acme", || match chat(&request) {
                                    Ok(_) => Ok(at),
                                    Err(ChatError::OverBudget(over)) => Err(over.retry_after()),
                                    Err(other) => panic!("{other}"),
                                })
                            };
                            match outcome {
                                Ok(at) => {
                                    made.lock()
                                        .expect("not poisoned")
                                        .push((at, 1_000 + output));
                                    return;
                                }
                                Err(retry_after) => {
                                    refusals.fetch_add(1, Ordering::SeqCst);
                                    let wait =
                                        retry_after.expect("a token limit says when").as_secs();
                                    let until = clock.seconds() + wait;
                                    tick.wait_for(|now| *now >= until).await.expect("ticking");
                                }
                            }
                        }
                    };
                    tokio::spawn(call.with_subscriber(dispatch.clone()))
                })
                .collect();
            let ticking = {
                let (clock, running) = (clock.clone(), running.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        {
                            let _between_calls = running.write().expect("not poisoned");
                            clock.advance(1);
                        }
                        let _ = ticks.send(clock.seconds());
                    }
                })
            };
            for task in tasks {
                task.await.expect("the task ends");
            }
            ticking.abort();
        });
    });
    let made = made.lock().expect("not poisoned").clone();
    assert_eq!(made.len(), 1_000, "every call was made in the end");
    let end = made.iter().map(|(at, _)| *at).max().expect("calls");
    let mut busiest = 0;
    for minute_start in start..=end {
        let used: u64 = made
            .iter()
            .filter(|(at, _)| (minute_start..minute_start + 60).contains(at))
            .map(|(_, tokens)| tokens)
            .sum();
        assert!(
            used <= LIMIT,
            "{used} tokens in the minute from second {}",
            minute_start - start
        );
        busiest = busiest.max(used);
    }
    // 1,000 calls of 2,250 tokens on average: 2,250,000 tokens, at most 100,000 a minute.
    assert!(
        busiest >= LIMIT * 9 / 10,
        "the limit was used: the busiest minute took {busiest}"
    );
    // At most 100,000 tokens in any 60 seconds: 2,250,000 take more than 21 minutes.
    assert!(end - start >= 21 * 60, "it took {} s", end - start);
    assert!(refusals.load(Ordering::SeqCst) > 0);
    assert_eq!(
        rate_limited(&exported).len() as u64,
        refusals.load(Ordering::SeqCst)
    );
}

#[ai_span(kind = "llm", model = "limited-model", provider = "openai", budget)]
async fn chat_for_http() -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(10, 10))
}

/// A refused call's error is the handler's answer: `429 Too Many Requests` with
/// `Retry-After` and the refusal as the body, from a real axum server to a real client.
#[test]
fn an_axum_service_answers_a_rate_limited_call_429_with_retry_after() {
    use axum::extract::State;

    async fn chat_handler(
        State(dispatch): State<tracing::Dispatch>,
    ) -> Result<String, BudgetExceeded> {
        // The request's span is made under the service's subscriber, as its own layer would.
        async {
            let request = tracing::info_span!("request", tenant.id = "acme");
            tracing::Instrument::instrument(chat_for_http(), request).await
        }
        .with_subscriber(dispatch)
        .await
        .map(|usage| format!("{} tokens", usage.input_tokens + usage.output_tokens))
    }

    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::requests_per_minute("tenant-rpm", 2).per(Scope::Tenant))
        .build()
        .expect("valid");
    let (answers, exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        let app = axum::Router::new()
            .route("/chat", axum::routing::post(chat_handler))
            .with_state(dispatch);
        runtime.spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::blocking::Client::new();
        let answers: Vec<_> = (0..3)
            .map(|_| {
                let response = client
                    .post(format!("http://{address}/chat"))
                    .send()
                    .expect("the service answers");
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|value| value.to_str().expect("text").to_owned());
                (
                    response.status().as_u16(),
                    retry_after,
                    response.text().expect("a body"),
                )
            })
            .collect();
        runtime.shutdown_background();
        answers
    });
    assert_eq!(answers[0], (200, None, "20 tokens".to_owned()));
    assert_eq!(answers[1].0, 200);
    assert_eq!(answers[2].0, 429);
    assert_eq!(answers[2].1.as_deref(), Some("61"));
    assert!(
        answers[2]
            .2
            .starts_with("rate limit \"tenant-rpm\" for tenant.id=acme: 2 of 2 requests used"),
        "{}",
        answers[2].2
    );
    assert_eq!(rate_limited(&exported).len(), 1);
}

/// A call that says when its body runs, then runs a moment.
#[ai_span(kind = "llm", model = "limited-model", provider = "openai", budget)]
async fn chat_in_turn(
    name: &'static str,
    order: Arc<Mutex<Vec<&'static str>>>,
) -> Result<Usage, ChatError> {
    order.lock().expect("not poisoned").push(name);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(Usage::new(10, 10))
}

/// The calls that come while the first runs, in this order, 7 ms apart.
const ARRIVALS: [&str; 8] = ["b", "c", "d", "e", "f", "g", "h", "i"];

/// With one call at a time that waits up to 2 s: while a call runs, the calls after it wait
/// (none runs), and each runs when the one before ends, in the order they came; a call that
/// waits up to 100 ms past a call that does not end is refused after 100 ms.
#[test]
fn a_limit_that_waits_serves_the_calls_in_the_order_they_came() {
    calls_served_in_order(AiLayer::builder());
}

/// [`a_limit_that_waits_serves_the_calls_in_the_order_they_came`] with the limit kept in a
/// real `redis-server`: a settlement there is written by the store's thread, so the first
/// waiting call also looks again every 50 ms until Redis has taken it.
#[test]
fn a_limit_that_waits_in_redis_serves_the_calls_in_the_order_they_came() {
    let Some(redis) = tracing_ai_tests::redis::Redis::start() else {
        return;
    };
    let store = tracing_ai::budget::RedisBudgets::new(&redis.url)
        .expect("a Redis URL")
        .with_prefix("in-order")
        .with_timeout(Duration::from_secs(5));
    calls_served_in_order(AiLayer::builder().with_budget_store(store));
}

fn calls_served_in_order(builder: AiLayerBuilder) {
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = builder
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(
            Budget::in_flight("one-at-a-time", 1)
                .per(Scope::Tenant)
                .wait_up_to(Duration::from_secs(2)),
        )
        .with_budget(
            Budget::in_flight("impatient", 1)
                .per(Scope::User)
                .wait_up_to(Duration::from_millis(100)),
        )
        .build()
        .expect("valid");
    // The metrics read the budgets for as long as the layer, or a handle on them, lives.
    let _budgets = layer.budgets();
    let order: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (outcome, exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        // One thread: each call spawned runs up to its wait before the next is spawned, so
        // that the order they came in is the order they were spawned in.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let in_tenant = |call: std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<Usage, ChatError>> + Send>,
            >| {
                let dispatch = dispatch.clone();
                tokio::spawn(
                    async move {
                        let request = tracing::info_span!("request", tenant.id = "acme");
                        tracing::Instrument::instrument(call, request).await
                    }
                    .with_subscriber(dispatch),
                )
            };
            let gate = Arc::new(tokio::sync::Notify::new());
            let first = in_tenant(Box::pin(chat_until(gate.clone())));
            tokio::time::sleep(Duration::from_millis(30)).await;
            let mut waiting = Vec::new();
            for name in ARRIVALS {
                waiting.push(in_tenant(Box::pin(chat_in_turn(name, order.clone()))));
                tokio::time::sleep(Duration::from_millis(7)).await;
            }
            let while_first_runs = order.lock().expect("not poisoned").clone();
            gate.notify_one();
            first.await.expect("ends").expect("made");
            for call in waiting {
                call.await.expect("ends").expect("made in its turn");
            }
            // A call that does not end, and one that waits 100 ms for it.
            let never = {
                let dispatch = dispatch.clone();
                tokio::spawn(
                    async move {
                        let request = tracing::info_span!("request", user.id = "u1");
                        tracing::Instrument::instrument(
                            chat_until(Arc::new(tokio::sync::Notify::new())),
                            request,
                        )
                        .await
                    }
                    .with_subscriber(dispatch.clone()),
                )
            };
            tokio::time::sleep(Duration::from_millis(30)).await;
            let started = std::time::Instant::now();
            let impatient = async {
                let request = tracing::info_span!("request", user.id = "u1");
                tracing::Instrument::instrument(chat_until(gate.clone()), request).await
            }
            .with_subscriber(dispatch.clone())
            .await;
            let waited = started.elapsed();
            never.abort();
            (
                while_first_runs,
                impatient.map(drop).map_err(|e| e.to_string()),
                waited,
            )
        })
    });
    let (while_first_runs, impatient, waited) = outcome;
    assert_eq!(
        while_first_runs,
        Vec::<&str>::new(),
        "none ran past the limit"
    );
    assert_eq!(*order.lock().expect("not poisoned"), ARRIVALS,);
    let refusal = impatient.expect_err("refused once its 100 ms had passed");
    assert!(
        refusal.starts_with("rate limit \"impatient\" for user.id=u1: 1 of 1 calls in flight"),
        "{refusal}"
    );
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(2),
        "waited {waited:?}"
    );
    assert_eq!(
        rate_limited(&exported).len(),
        1,
        "only the impatient call was refused"
    ); // Each call that waited says so on its span, with how long, and in the metric.
    let waits: Vec<f64> = exported
        .spans_named("chat limited-model")
        .iter()
        .flat_map(|span| span.events.iter())
        .filter(|event| event.name == "ai.budget.waited")
        .map(|event| {
            let attribute = |key: &str| {
                event
                    .attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == key)
                    .map(|kv| kv.value.clone())
            };
            assert_eq!(
                attribute("ai.budget.name"),
                Some(opentelemetry::Value::from("one-at-a-time"))
            );
            match attribute("ai.budget.wait") {
                Some(opentelemetry::Value::F64(seconds)) => seconds,
                other => panic!("no wait in seconds: {other:?}"),
            }
        })
        .collect();
    assert_eq!(waits.len(), ARRIVALS.len());
    assert!(
        waits.iter().all(|seconds| *seconds > 0.0 && *seconds < 2.0),
        "{waits:?}"
    );
    meters.force_flush().expect("metrics flush");
    let calls = tracing_ai_tests::metrics::points(&metrics, "ai.budget.calls");
    let count = |budget: &str, outcome: &str, scope: (&str, &str)| {
        calls
            .get(&tracing_ai_tests::metrics::attrs(&[
                ("ai.budget.name", budget),
                ("ai.budget.outcome", outcome),
                scope,
            ]))
            .map(|(sum, _)| *sum)
    };
    assert_eq!(
        count("one-at-a-time", "waited", ("tenant.id", "acme")),
        Some(8.0)
    );
    assert_eq!(count("impatient", "refused", ("user.id", "u1")), Some(1.0));
    // The waits' histogram sums the waits the spans say, by budget; the refused call's wait
    // is not in it.
    let durations = tracing_ai_tests::metrics::points(&metrics, "ai.budget.wait.duration");
    let (sum, calls) = durations
        .get(&tracing_ai_tests::metrics::attrs(&[(
            "ai.budget.name",
            "one-at-a-time",
        )]))
        .copied()
        .expect("the waits of one-at-a-time");
    assert_eq!(calls, 8);
    let spans_say: f64 = waits.iter().sum();
    assert!(
        (sum - spans_say).abs() < 0.05,
        "{sum} s, the spans say {spans_say} s"
    );
    assert_eq!(durations.len(), 1, "{durations:?}");
}

/// A limit changed at run time keeps what the minute used: raised from 2 to 4 requests a
/// minute after two calls, it lets two more through.
#[test]
fn a_rate_limit_changed_at_run_time_keeps_what_the_minute_used() {
    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::requests_per_minute("tenant-rpm", 2).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let request = ChatRequest::new(10, 10, (10, 10));
    let (made, _) = export_built(layer, || {
        in_request("acme", || {
            let before: Vec<bool> = (0..3).map(|_| chat(&request).is_ok()).collect();
            budgets
                .replace(vec![
                    Budget::requests_per_minute("tenant-rpm", 4).per(Scope::Tenant)
                ])
                .expect("a valid limit");
            let after: Vec<bool> = (0..3).map(|_| chat(&request).is_ok()).collect();
            (before, after)
        })
    });
    assert_eq!(made, (vec![true, true, false], vec![true, true, false]));
}

#[ai_span(
    kind = "llm",
    model = "limited-model",
    provider = "openai",
    stream,
    budget
)]
async fn chat_stream(
) -> Result<impl futures_core::Stream<Item = tracing_ai_tests::Delta>, ChatError> {
    let chunk = |usage| tracing_ai_tests::Delta {
        usage,
        finish_reason: None,
    };
    Ok(tokio_stream::iter(vec![
        chunk(None),
        chunk(None),
        chunk(Some(Usage::new(300, 200))),
    ]))
}

/// A streamed call holds its place in flight for as long as its stream lives, and settles
/// its tokens when the stream ends: with one stream at a time, a second is refused while the
/// first is read, and made once it was dropped, cancelled or read to its end; a token limit
/// counts the 500 tokens the read stream reported.
#[test]
fn a_stream_holds_its_place_in_flight_until_it_ends_and_settles_its_tokens() {
    use tokio_stream::StreamExt as _;
    let clock = TestClock::new();
    let layer = builder(&clock)
        .with_budget(Budget::in_flight("one-stream", 1).per(Scope::Tenant))
        .with_budget(Budget::tokens_per_minute("tpm", 1_000_000).per(Scope::Tenant))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let (results, _) = export_built(layer, || {
        in_request("acme", || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let mut first = chat_stream().await.expect("room for one stream");
                    first.next().await;
                    let while_open = matches!(chat_stream().await, Err(ChatError::OverBudget(_)));
                    drop(first);
                    let mut read = chat_stream().await.expect("room once it was dropped");
                    while read.next().await.is_some() {}
                    drop(read);
                    let after_read = chat_stream().await.is_ok();
                    [while_open, after_read]
                })
        })
    });
    assert_eq!(results, [true, true]);
    assert_eq!(
        budgets.spent("tpm", &[(Scope::Tenant, "acme")]),
        Some(500.0),
        "the tokens of the stream read to its end; none of the one dropped before its usage"
    );
}
