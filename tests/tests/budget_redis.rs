//! Budgets shared across replicas through a real Redis (issue 22, item 3): two replicas (two
//! layers, each its own subscriber and threads, as two processes would be) against one budget
//! stop together at its limit; with Redis killed mid-run, a fail-open replica goes on and
//! counts the failures, a fail-closed one refuses with `budget_unavailable`. Skipped when
//! `scripts/test.sh` did not install redis-server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use tracing_ai::budget::{Budget, BudgetExceeded, OnStoreFailure, RedisBudgets, Scope, Window};
use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::metrics::{attrs, gauge_points, points};
use tracing_ai_tests::otel::{export_built, str_attr};
use tracing_ai_tests::poll_until;
use tracing_ai_tests::redis::Redis;

/// 10,000 input tokens at $1 per million: $0.01 a call.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
fn chat(made: &AtomicUsize) -> Result<Usage, BudgetExceeded> {
    made.fetch_add(1, Ordering::SeqCst);
    // In flight for a moment, as a real call is, so that the replicas' calls overlap.
    std::thread::sleep(Duration::from_millis(1));
    Ok(Usage::new(10_000, 0))
}

fn replica(redis: &Redis, prefix: &str, policy: OnStoreFailure) -> tracing_ai::AiLayerBuilder {
    with_store(
        store(redis, prefix)
            .with_timeout(Duration::from_millis(200))
            .on_failure(policy),
    )
}

fn store(redis: &Redis, prefix: &str) -> RedisBudgets {
    RedisBudgets::new(&redis.url)
        .expect("a Redis URL")
        .with_prefix(prefix)
}

/// A replica with $1.00 a day per tenant in `store`, each call reserving $0.01.
fn with_store(store: RedisBudgets) -> tracing_ai::AiLayerBuilder {
    AiLayer::builder()
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_budget(
            Budget::new("tenant-daily", 1.0, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .with_budget_store(store)
}

/// The keys under `prefix` but the writes' markers, sorted.
fn accounts_of(redis: &Redis, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis
        .command(&["KEYS", &format!("{prefix}:*")])
        .into_iter()
        .filter(|key| !key.contains(":#w:"))
        .collect();
    keys.sort();
    keys
}

fn call_as(tenant: &str, made: &AtomicUsize) -> Result<Usage, BudgetExceeded> {
    tracing::info_span!("request", tenant.id = tenant).in_scope(|| chat(made))
}

/// How many of `calls` calls as `tenant` its budgets let through.
fn allowed_of(tenant: &str, calls: usize, made: &AtomicUsize) -> usize {
    (0..calls).filter(|_| call_as(tenant, made).is_ok()).count()
}

/// Runs `calls` calls on each of `threads` threads under `layer`'s subscriber; how many were
/// allowed.
fn run_replica(layer: AiLayer, threads: usize, calls: usize, made: Arc<AtomicUsize>) -> usize {
    let allowed = Arc::new(AtomicUsize::new(0));
    let ((), _) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (dispatch, allowed, made) = (dispatch.clone(), allowed.clone(), made.clone());
                scope.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for _ in 0..calls {
                            if call_as("acme", &made).is_ok() {
                                allowed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                });
            }
        });
    });
    allowed.load(Ordering::SeqCst)
}

#[test]
fn two_replicas_stop_together_at_the_limit() {
    let Some(redis) = Redis::start() else { return };
    let a = replica(&redis, "two-replicas", OnStoreFailure::Open)
        .build()
        .expect("valid");
    let b = replica(&redis, "two-replicas", OnStoreFailure::Open)
        .build()
        .expect("valid");
    let budgets = a.budgets();
    let made = Arc::new(AtomicUsize::new(0));
    // 2 replicas x 4 threads x 40 calls = 320 calls of $0.01 against $1.00.
    let (allowed_a, allowed_b) = std::thread::scope(|scope| {
        let made_a = made.clone();
        let made_b = made.clone();
        let a = scope.spawn(move || run_replica(a, 4, 40, made_a));
        let b = scope.spawn(move || run_replica(b, 4, 40, made_b));
        (a.join().expect("replica a"), b.join().expect("replica b"))
    });
    assert_eq!(allowed_a + allowed_b, 100, "a {allowed_a}, b {allowed_b}");
    assert!(
        allowed_a > 0 && allowed_b > 0,
        "a {allowed_a}, b {allowed_b}"
    );
    assert_eq!(made.load(Ordering::SeqCst), 100, "refused calls never ran");
    // The settlements reach Redis from each replica's writer thread.
    let spent = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        |spent| *spent == Some(1.0),
    );
    assert_eq!(spent, Some(1.0));
    // One marker per settlement, kept an hour (a retry of it within the hour changes nothing).
    let markers = redis.command(&["KEYS", "two-replicas:#w:*"]);
    assert_eq!(markers.len(), 100);
    let marker_ttl: u64 = redis.command(&["PTTL", &markers[0]])[0]
        .parse()
        .expect("milliseconds");
    assert!(
        marker_ttl <= 3_600_000 && marker_ttl > 3_500_000,
        "{marker_ttl}"
    );
    // One account, and the budget's count of accounts for the day; both expire an hour after
    // the UTC day.
    let keys = accounts_of(&redis, "two-replicas");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys[0].starts_with("two-replicas:tenant-daily:#accounts:")
            && keys[1].starts_with("two-replicas:tenant-daily:acme:"),
        "{keys:?}"
    );
    assert_eq!(redis.command(&["GET", &keys[0]]), ["1"]);
    // Every reservation given back: nothing held, no reservation left.
    assert_eq!(redis.command(&["HGET", &keys[1], "held"]), ["0"]);
    let ttl: u64 = redis.command(&["PTTL", &keys[1]])[0]
        .parse()
        .expect("milliseconds");
    let count_ttl: u64 = redis.command(&["PTTL", &keys[0]])[0]
        .parse()
        .expect("milliseconds");
    assert!(count_ttl.abs_diff(ttl) < 60_000, "{count_ttl} {ttl}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let day_ends = (now / 86_400_000 + 1) * 86_400_000;
    // Written a moment before `now`: up to a minute earlier.
    let expected = day_ends - now + 3_600_000;
    assert!(
        ttl <= expected + 60_000 && ttl + 60_000 > expected,
        "expires in {ttl} ms; the day ends in {} ms",
        day_ends - now
    );
    // globex has its own account.
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "globex")]),
        Some(0.0)
    );
}

#[test]
fn with_redis_down_fail_open_goes_on_and_counts_and_fail_closed_refuses() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let open = replica(&redis, "killed", OnStoreFailure::Open)
        .with_meter(meters.meter("tracing-ai"))
        .build()
        .expect("valid");
    let budgets = open.budgets();
    let closed = replica(&redis, "killed", OnStoreFailure::Closed)
        .build()
        .expect("valid");
    let made = AtomicUsize::new(0);
    // Both work while Redis is up: 30 calls spend $0.30.
    let (before, _) = export_built(open, || {
        let before: Vec<bool> = (0..30).map(|_| call_as("acme", &made).is_ok()).collect();
        assert!(before.iter().all(|ok| *ok));
        budgets.flush(Duration::from_secs(10)).expect("written");
        redis.kill();
        assert!(!redis.answers());
        // Redis is gone: fail-open calls go on, each waiting at most the timeout.
        (0..5)
            .map(|_| call_as("acme", &made).is_ok())
            .collect::<Vec<_>>()
    });
    assert_eq!(before, [true; 5]);
    meters.force_flush().expect("metrics flush");
    let failures = points(&metrics, "ai.budget.store_failures");
    assert_eq!(
        failures.get(&attrs(&[("ai.budget.operation", "reserve")])),
        Some(&(5.0, 1)),
        "{failures:?}"
    );
    // Their costs wait in the queue for Redis to come back: nothing is given up yet, and a
    // flush at exit says what is left unwritten, with what it cost ($0.05).
    assert_eq!(
        failures.get(&attrs(&[("ai.budget.operation", "debit")])),
        Some(&(0.0, 1)),
        "{failures:?}"
    );
    let unflushed = budgets
        .flush(Duration::from_millis(300))
        .expect_err("Redis is down");
    assert!(
        unflushed
            .to_string()
            .contains("of calls that cost 0.05 USD"),
        "{unflushed}"
    );

    let (refused, exported) = export_built(closed, || call_as("acme", &made));
    let refused = refused.expect_err("fail-closed refuses without Redis");
    assert!(refused.is_store_failure());
    assert!(refused.to_string().contains("fail-closed"), "{refused}");
    let span = exported.span("chat budget-model");
    assert_eq!(
        str_attr(span, "error.type").as_deref(),
        Some("budget_unavailable")
    );
    assert_eq!(
        made.load(Ordering::SeqCst),
        35,
        "the refused call never ran"
    );
}

/// Each replica's gauges show the shared spend: what the account had spent, every replica's
/// calls included, when that replica last settled in it (the alert rule works on any of them).
#[test]
fn each_replicas_gauges_show_what_all_replicas_spent() {
    let Some(redis) = Redis::start() else { return };
    let (meters_a, metrics_a) = tracing_ai_tests::metrics::in_memory();
    let (meters_b, metrics_b) = tracing_ai_tests::metrics::in_memory();
    let a = replica(&redis, "gauges", OnStoreFailure::Open)
        .with_meter(meters_a.meter("tracing-ai"))
        .build()
        .expect("valid");
    let b = replica(&redis, "gauges", OnStoreFailure::Open)
        .with_meter(meters_b.meter("tracing-ai"))
        .build()
        .expect("valid");
    // The gauges read the budgets for as long as a layer or a handle on them lives.
    let (_budgets_a, _budgets_b) = (a.budgets(), b.budgets());
    let labels = attrs(&[
        ("ai.budget.name", "tenant-daily"),
        ("tenant.id", "acme"),
        ("ai.budget.currency", "USD"),
    ]);
    let gauge = |meters: &opentelemetry_sdk::metrics::SdkMeterProvider,
                 metrics: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
                 name: &str| {
        meters.force_flush().expect("metrics flush");
        gauge_points(metrics, name).get(&labels).copied()
    };
    let made = AtomicUsize::new(0);
    // a: 30 calls, $0.30; its gauge says so once its writer has settled them.
    let ((), _) = export_built(a, || (0..30).for_each(|_| drop(call_as("acme", &made))));
    let seen_by_a = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || gauge(&meters_a, &metrics_a, "ai.budget.spent"),
        |spent| *spent == Some(0.3),
    );
    assert_eq!(seen_by_a, Some(0.3));
    // b: 10 calls, $0.10; its gauges show the $0.40 both spent, not its own $0.10.
    let ((), _) = export_built(b, || (0..10).for_each(|_| drop(call_as("acme", &made))));
    let seen_by_b = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || gauge(&meters_b, &metrics_b, "ai.budget.spent"),
        |spent| *spent == Some(0.4),
    );
    assert_eq!(seen_by_b, Some(0.4));
    assert_eq!(
        gauge(&meters_b, &metrics_b, "ai.budget.remaining"),
        Some(0.6)
    );
    assert_eq!(gauge(&meters_b, &metrics_b, "ai.budget.limit"), Some(1.0));
}

/// Records what it reports without reserving first: its cost is debited after the call.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai")]
fn unchecked_chat() -> Usage {
    Usage::new(10_000, 0)
}

/// Past its most accounts, a budget's new tenants share one account, `other`, under one limit
/// (made-up ids cannot fill Redis); the tenants it has keep theirs. Both ways into an account
/// are capped: a reservation, and the debit of a call that reserved nothing.
#[test]
fn past_its_max_accounts_new_tenants_share_other_under_one_limit() {
    let Some(redis) = Redis::start() else { return };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = with_store(store(&redis, "cap").with_max_accounts(2))
        .with_meter(meters.meter("tracing-ai"))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let allowed = |tenant: &str, calls: usize| allowed_of(tenant, calls, &made);
    let ((t1, new_1, new_2, t1_again, refusal), _) = export_built(layer, || {
        let t1 = allowed("t1", 1);
        assert_eq!(allowed("t2", 1), 1);
        // $0.60 of other's $1.00, then new-2 has the $0.40 left.
        let new_1 = allowed("new-1", 60);
        let new_2 = allowed("new-2", 60);
        let refusal = call_as("new-2", &made).expect_err("other is spent");
        // t1 has its own dollar.
        let t1_again = allowed("t1", 50);
        tracing::info_span!("request", tenant.id = "new-3").in_scope(unchecked_chat);
        (t1, new_1, new_2, t1_again, refusal)
    });
    assert_eq!((t1, new_1, new_2, t1_again), (1, 60, 40, 50));
    assert_eq!(
        refusal.scope().collect::<Vec<_>>(),
        [("tenant.id", "other")],
        "{refusal}"
    );
    // Settled by the writer thread: other holds new-1's, new-2's and new-3's spend.
    let spent = |tenant: &str| budgets.spent("tenant-daily", &[(Scope::Tenant, tenant)]);
    let other = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || spent("other"),
        |spent| *spent == Some(1.01),
    );
    assert_eq!(other, Some(1.01));
    assert_eq!(spent("t1"), Some(0.51));
    assert_eq!(spent("new-1"), Some(0.0));
    let keys = accounts_of(&redis, "cap");
    let accounts: Vec<&str> = keys
        .iter()
        .map(|key| key.split(':').nth(2).unwrap_or_default())
        .collect();
    assert_eq!(accounts, ["#accounts", "other", "t1", "t2"], "{keys:?}");
    assert_eq!(redis.command(&["GET", &keys[0]]), ["2"]);
    // The gauges say which account the spend is in.
    let labels = attrs(&[
        ("ai.budget.name", "tenant-daily"),
        ("tenant.id", "other"),
        ("ai.budget.currency", "USD"),
    ]);
    let gauge = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            meters.force_flush().expect("metrics flush");
            gauge_points(&metrics, "ai.budget.spent")
                .get(&labels)
                .copied()
        },
        |spent| *spent == Some(1.01),
    );
    assert_eq!(gauge, Some(1.01));
}

/// The budgets' clock, which a test moves instead of sleeping: it starts now, 0.2 s into a
/// second (a rolling bucket of 1 s).
#[derive(Clone)]
struct TestClock(Arc<std::sync::Mutex<std::time::SystemTime>>);

impl TestClock {
    fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        let start =
            std::time::UNIX_EPOCH + Duration::from_secs(now.as_secs()) + Duration::from_millis(200);
        Self(Arc::new(std::sync::Mutex::new(start)))
    }

    fn now(&self) -> std::time::SystemTime {
        *self.0.lock().expect("the clock")
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().expect("the clock") += by;
    }
}

/// A layer with `limit` per tenant over the last 2 s (buckets of 1 s), in Redis under
/// `prefix`, each call reserving $0.01; its budgets read `clock`.
fn burst(redis: &Redis, prefix: &str, limit: f64, clock: &TestClock) -> AiLayer {
    let clock = clock.clone();
    AiLayer::builder()
        .with_budget_clock(move || clock.now())
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_budget(
            Budget::new("burst", limit, Window::Rolling(Duration::from_secs(2)))
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .with_budget_store(store(redis, prefix))
        .build()
        .expect("valid")
}

/// A rolling window in Redis: the spend is counted for the whole window after it (the calls
/// stay refused), then leaves it (they go through again); the account expires soon after.
#[test]
fn a_rolling_window_in_redis_lets_calls_through_once_the_spend_has_left_it() {
    let Some(redis) = Redis::start() else { return };
    let clock = TestClock::new();
    let layer = burst(&redis, "rolling", 0.05, &clock);
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let allowed = |calls: usize| {
        let allowed = allowed_of("acme", calls, &made);
        budgets.flush(Duration::from_secs(10)).expect("settled");
        allowed
    };
    let (counts, _) = export_built(layer, || {
        let first = allowed(8);
        // Still in the window.
        clock.advance(Duration::from_millis(1_500));
        let within = allowed(1);
        // 2.8 s after the calls, 0.2 s into their bucket: past the window's 2 s and the rest
        // of the bucket they were made in.
        clock.advance(Duration::from_millis(1_300));
        let after = allowed(8);
        (first, within, after)
    });
    assert_eq!(counts, (5, 0, 5));
    let keys = redis.command(&["KEYS", "rolling:burst:acme:*"]);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: u64 = redis.command(&["PTTL", &keys[0]])[0]
        .parse()
        .expect("milliseconds");
    // Kept no longer than a cost written now can count: 3 s.
    assert!(ttl > 0 && ttl <= 3_000, "expires in {ttl} ms");
}

/// A call's cost counts in the rolling bucket it started in, as in-process, not the one it
/// ended in: it leaves the window 2 s (and at most a bucket) after it was checked.
#[test]
fn in_redis_a_calls_cost_counts_when_the_call_started() {
    let Some(redis) = Redis::start() else { return };
    let clock = TestClock::new();
    let layer = burst(&redis, "started", 0.01, &clock);
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let (results, _) = export_built(layer, || {
        // A call of 1.2 s, as a long answer takes.
        let slow = tracing::info_span!("request", tenant.id = "acme")
            .in_scope(|| chat_during(|| clock.advance(Duration::from_millis(1_200))));
        budgets.flush(Duration::from_secs(10)).expect("settled");
        let after_it = call_as("acme", &made).is_ok();
        // 2.85 s after it started: past its bucket and the window's two; 1.65 s after it
        // ended, which a cost counted at its end would not have left.
        clock.advance(Duration::from_millis(1_650));
        (slow.is_ok(), after_it, call_as("acme", &made).is_ok())
    });
    assert_eq!(results, (true, false, true));
}

/// A call longer than its rolling window (a slow answer under a one-minute rate limit): its
/// account, which Redis would drop a window after its last write, is kept while the call holds
/// part of it, so the next call is refused until it ends; once it has ended, its cost (counted
/// when it started) has left the window and calls go through again.
#[test]
fn a_call_longer_than_its_rolling_window_keeps_its_place() {
    let Some(redis) = Redis::start() else { return };
    let layer = AiLayer::builder()
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_budget(
            Budget::new("short", 0.01, Window::Rolling(Duration::from_secs(2)))
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .with_budget_store(store(&redis, "outlived"))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let (results, _) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let (started, has_started) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let slow = scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
                        chat_during(|| {
                            started.send(()).expect("the test waits");
                            std::thread::sleep(Duration::from_secs(4));
                        })
                    })
                })
            });
            has_started.recv().expect("the slow call started");
            // 3.5 s into it: past the 3 s a 2 s window's account is kept after a write.
            std::thread::sleep(Duration::from_millis(3_500));
            let during = call_as("acme", &made).is_ok();
            let slow = slow.join().expect("no panic").is_ok();
            budgets.flush(Duration::from_secs(10)).expect("settled");
            (slow, during, call_as("acme", &made).is_ok())
        })
    });
    assert_eq!(results, (true, false, true));
}

/// A call whose replica died mid-call never settles: what it reserved is held until its lease
/// ends, then given back, and what the calls in flight hold (`held`) comes back to zero.
#[test]
fn a_reservation_never_settled_is_given_back_when_its_lease_ends() {
    let Some(redis) = Redis::start() else { return };
    let lease = Duration::from_secs(60);
    let clock = TestClock::new();
    let now = clock.clone();
    let layer = with_store(store(&redis, "lease").with_lease(lease))
        .with_budget_clock(move || now.now())
        .build()
        .expect("valid");
    let made = AtomicUsize::new(0);
    let allowed = |calls: usize| allowed_of("acme", calls, &made);
    let ((during, after), _) = export_built(layer, || {
        tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
            for _ in 0..60 {
                let call = tracing::info_span!(
                    "chat budget-model",
                    gen_ai.operation.name = "chat",
                    gen_ai.request.model = "budget-model",
                    gen_ai.usage.input_tokens = tracing::field::Empty,
                    gen_ai.usage.output_tokens = tracing::field::Empty,
                    error.type = tracing::field::Empty,
                );
                tracing_ai::budget::reserve(&call).expect("room for it");
                // Its replica died: the span never closes, the reservation never settles.
                std::mem::forget(call);
            }
        });
        // $0.60 held, $0.40 left.
        let during = allowed(60);
        clock.advance(lease + Duration::from_millis(1));
        // The leases have ended: the $0.60 is back.
        (during, allowed(80))
    });
    assert_eq!((during, after), (40, 60));
    let account = redis.command(&["KEYS", "lease:tenant-daily:acme:*"]);
    let account: Vec<&String> = account.iter().filter(|key| !key.ends_with(":#r")).collect();
    assert_eq!(account.len(), 1, "{account:?}");
    let held = poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || redis.command(&["HGET", account[0], "held"]),
        |held| held == &["0"],
    );
    assert_eq!(held, ["0"]);
}

/// A Redis that accepts connections and never answers: a reservation waits the timeout, no
/// more, then follows the policy (fail-open: the call is made), and the failure is counted.
#[test]
fn a_redis_that_never_answers_costs_a_call_the_timeout_not_more() {
    let silent = tracing_ai_tests::silent_backend();
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(Budget::new("tenant-daily", 1.0, Window::Day).per(Scope::Tenant))
        .with_budget_store(
            RedisBudgets::new(&format!("redis://{silent}/"))
                .expect("a Redis URL")
                .with_timeout(Duration::from_millis(100)),
        )
        .build()
        .expect("valid");
    let made = AtomicUsize::new(0);
    let (results, _) = export_built(layer, || {
        (0..3)
            .map(|_| call_as("acme", &made).is_ok())
            .collect::<Vec<_>>()
    });
    // Had a reservation waited for an answer, this test would never end.
    assert_eq!(results, [true; 3]);
    meters.force_flush().expect("metrics flush");
    assert_eq!(
        points(&metrics, "ai.budget.store_failures")
            .get(&attrs(&[("ai.budget.operation", "reserve")])),
        Some(&(3.0, 1))
    );
}

/// A call that runs `during` in its body: a Redis stopped, killed or restarted mid-call.
#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
fn chat_during(during: impl FnOnce()) -> Result<Usage, BudgetExceeded> {
    during();
    Ok(Usage::new(10_000, 0))
}

/// What each `ai.budget.store_failures` operation counted, as (reserve, debit).
fn store_failures(
    meters: &opentelemetry_sdk::metrics::SdkMeterProvider,
    metrics: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
) -> (f64, f64) {
    meters.force_flush().expect("metrics flush");
    let failures = points(metrics, "ai.budget.store_failures");
    let count = |operation: &str| {
        failures
            .get(&attrs(&[("ai.budget.operation", operation)]))
            .map_or(0.0, |(count, _)| *count)
    };
    (count("reserve"), count("debit"))
}

/// What `tenant`'s account holds for calls in flight, and how many reservations it keeps.
fn held(redis: &Redis, prefix: &str, tenant: &str) -> (String, String) {
    let account = accounts_of(redis, prefix)
        .into_iter()
        .find(|key| key.contains(&format!(":{tenant}:")) && !key.ends_with(":#r"))
        .expect("the tenant's account");
    let held = redis.command(&["HGET", &account, "held"]);
    let reservations = redis.command(&["HLEN", &format!("{account}:#r")]);
    (held.concat(), reservations.concat())
}

/// A Redis stalled (SIGSTOP) during a call's body for 0.5 to 4 s, then resumed: the call's
/// settlement, tried and timed out while Redis was stopped and tried again, is counted once,
/// and nothing is counted as lost.
#[test]
fn a_settlement_across_a_stall_of_half_a_second_to_four_counts_once() {
    let Some(redis) = Redis::start() else { return };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = replica(&redis, "stall", OnStoreFailure::Open)
        .with_meter(meters.meter("tracing-ai"))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let stalls = [500, 1_000, 2_000, 4_000];
    let (made, _) = export_built(layer, || {
        stalls
            .iter()
            .filter(|stall| {
                let tenant = format!("stalled-{stall}");
                let made = tracing::info_span!("request", tenant.id = tenant)
                    .in_scope(|| chat_during(|| redis.stop()).is_ok());
                // The call ended with Redis stopped: its settlement is queued, and tried.
                std::thread::sleep(Duration::from_millis(**stall));
                redis.resume();
                budgets
                    .flush(Duration::from_secs(20))
                    .expect("written once Redis answers");
                made
            })
            .count()
    });
    assert_eq!(made, stalls.len());
    for stall in stalls {
        let tenant = format!("stalled-{stall}");
        assert_eq!(
            budgets.spent("tenant-daily", &[(Scope::Tenant, &tenant)]),
            Some(0.01),
            "{tenant} is charged one call's cost"
        );
        assert_eq!(held(&redis, "stall", &tenant), ("0".into(), "0".into()));
    }
    assert_eq!(store_failures(&meters, &metrics), (0.0, 0.0));
}

/// Eight calls in flight, Redis stopped, four more calls time out (fail-closed: refused),
/// Redis resumed: the four reservations Redis received late are given back, not held for the
/// lease (10 minutes), and a budget with room for ten calls has room for the two left.
#[test]
fn reservations_that_timed_out_are_given_back_not_held_for_the_lease() {
    let Some(redis) = Redis::start() else { return };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(
            Budget::new("tenant-daily", 0.10, Window::Day)
                .per(Scope::Tenant)
                .per_call(0.01),
        )
        .with_budget_store(
            store(&redis, "timed-out")
                .with_timeout(Duration::from_millis(200))
                .on_failure(OnStoreFailure::Closed),
        )
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let ((in_flight, timed_out, left), _) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let (reserved, all_reserved) = std::sync::mpsc::channel();
        let (go, going) = std::sync::mpsc::channel::<()>();
        let going = std::sync::Mutex::new(going);
        let (in_flight, timed_out) = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let (dispatch, reserved, going) = (dispatch.clone(), reserved.clone(), &going);
                    scope.spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            tracing::info_span!("request", tenant.id = "acme").in_scope(|| {
                                chat_during(|| {
                                    reserved.send(()).expect("the test waits");
                                    let _ = going.lock().expect("one at a time").recv();
                                })
                                .is_ok()
                            })
                        })
                    })
                })
                .collect();
            for _ in 0..8 {
                all_reserved.recv().expect("a call reserved");
            }
            redis.stop();
            let timed_out: Vec<bool> = (0..4)
                .map(|_| {
                    call_as("acme", &made)
                        .expect_err("fail-closed")
                        .is_store_failure()
                })
                .collect();
            redis.resume();
            for _ in 0..8 {
                go.send(()).expect("a call waits");
            }
            let in_flight = calls
                .into_iter()
                .map(|call| call.join().expect("a call"))
                .filter(|made| *made)
                .count();
            (in_flight, timed_out)
        });
        budgets
            .flush(Duration::from_secs(10))
            .expect("written once Redis answers");
        (in_flight, timed_out, allowed_of("acme", 10, &made))
    });
    assert_eq!(in_flight, 8);
    assert_eq!(timed_out, [true; 4]);
    // $0.08 spent, nothing held: room for two more.
    assert_eq!(left, 2);
    budgets.flush(Duration::from_secs(10)).expect("written");
    assert_eq!(
        budgets.spent("tenant-daily", &[(Scope::Tenant, "acme")]),
        Some(0.10)
    );
    assert_eq!(held(&redis, "timed-out", "acme"), ("0".into(), "0".into()));
    assert_eq!(store_failures(&meters, &metrics), (4.0, 0.0));
}

/// Redis killed (SIGKILL) and restarted 1.25 s later on the same data directory: the calls
/// made meanwhile (fail-open) are all debited once it is back, none twice, none lost.
#[test]
fn calls_during_a_short_outage_are_all_debited_once_redis_is_back() {
    let Some(mut redis) = Redis::start_durable("outage") else {
        return;
    };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = replica(&redis, "outage", OnStoreFailure::Open)
        .with_meter(meters.meter("tracing-ai"))
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let made = AtomicUsize::new(0);
    let (during, _) = export_built(layer, || {
        assert_eq!(allowed_of("acme", 10, &made), 10);
        budgets.flush(Duration::from_secs(10)).expect("written");
        redis.kill();
        let killed = std::time::Instant::now();
        let mut during = 0;
        while killed.elapsed() < Duration::from_millis(1_250) {
            during += allowed_of("acme", 1, &made);
            std::thread::sleep(Duration::from_millis(100));
        }
        redis.restart();
        budgets
            .flush(Duration::from_secs(10))
            .expect("written once Redis is back");
        during
    });
    assert!(during >= 5, "{during} calls during the outage");
    let expected = (10 + during) as f64 * 0.01;
    let spent = budgets
        .spent("tenant-daily", &[(Scope::Tenant, "acme")])
        .expect("Redis answers");
    assert!((spent - expected).abs() < 1e-9, "{spent} != {expected}");
    assert_eq!(held(&redis, "outage", "acme"), ("0".into(), "0".into()));
    assert_eq!(
        store_failures(&meters, &metrics).1,
        0.0,
        "no debit given up"
    );
}

/// The Redis URL a replica process of
/// [`replicas_exiting_right_after_their_calls_leave_the_exact_spend_and_nothing_held`] uses.
const REPLICA_REDIS: &str = "TRACING_AI_TEST_REPLICA_REDIS";
/// A replica's calls with Redis up, then with Redis stopped (fail-open: made, their debits
/// queued).
const CALLS_BEFORE: usize = 250;
const CALLS_STALLED: usize = 50;

/// One replica, as a process of its own (this test binary run again by the test below): the
/// layer installed by `init()` as users do, 250 budgeted calls on four threads; it says `made`
/// and waits for a line, while the test stops Redis; 50 more calls, `done`, and the process
/// exits at once, its guard dropped: the settlements and debits still queued are written then,
/// once Redis answers.
#[test]
#[ignore = "a replica process of replicas_exiting_right_after_their_calls_leave_the_exact_spend_and_nothing_held"]
fn a_replica_that_exits_right_after_its_calls() {
    let url = std::env::var(REPLICA_REDIS).expect("run by the test below");
    let guard = tracing_ai::builder()
        .with_layer(
            AiLayer::builder()
                .with_model_price("budget-model", ModelPrice::per_million_tokens(1.0, 2.0))
                .with_budget(
                    Budget::new("tenant-daily", 100.0, Window::Day)
                        .per(Scope::Tenant)
                        .per_call(0.01),
                )
                .with_budget_store(
                    RedisBudgets::new(&url)
                        .expect("a Redis URL")
                        .with_prefix("exits"),
                ),
        )
        .with_shutdown_timeout(Duration::from_secs(10))
        .try_init()
        .expect("installs");
    let made = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let calls = CALLS_BEFORE / 4 + usize::from(thread < CALLS_BEFORE % 4);
            let made = &made;
            scope.spawn(move || {
                for _ in 0..calls {
                    call_as("acme", made).expect("room for every call");
                }
            });
        }
    });
    println!("made");
    std::io::stdin()
        .read_line(&mut String::new())
        .expect("the test says go on");
    for _ in 0..CALLS_STALLED {
        call_as("acme", &made).expect("fail-open: made");
    }
    assert_eq!(made.load(Ordering::SeqCst), CALLS_BEFORE + CALLS_STALLED);
    println!("done");
    drop(guard);
    // As a service's `main` returns: the process ends now, its threads with it.
    std::process::exit(0);
}

/// Two replicas exit right after their calls, while Redis is stopped (resumed half a second
/// later): Redis has every call's cost, 600 of them, and holds no reservation.
#[test]
fn replicas_exiting_right_after_their_calls_leave_the_exact_spend_and_nothing_held() {
    use std::io::{BufRead as _, Write as _};
    let Some(redis) = Redis::start() else { return };
    let receiver = tracing_ai_tests::receiver::Receiver::start();
    let mut replicas: Vec<std::process::Child> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().expect("this test binary"))
                .args([
                    "--exact",
                    "a_replica_that_exits_right_after_its_calls",
                    "--ignored",
                    "--nocapture",
                    "--quiet",
                ])
                .env(REPLICA_REDIS, &redis.url)
                .env(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("http://{}", receiver.grpc),
                )
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("a replica starts")
        })
        .collect();
    let mut outputs: Vec<_> = replicas
        .iter_mut()
        .map(|replica| std::io::BufReader::new(replica.stdout.take().expect("piped")).lines())
        .collect();
    let mut wait_for = |word: &str| {
        for output in &mut outputs {
            let said = output
                .by_ref()
                .map_while(Result::ok)
                .find(|line| line.trim() == word);
            assert!(said.is_some(), "a replica never said {word}");
        }
    };
    wait_for("made");
    redis.stop();
    for replica in &mut replicas {
        let stdin = replica.stdin.as_mut().expect("piped");
        stdin.write_all(b"go\n").expect("the replica reads");
    }
    wait_for("done");
    std::thread::sleep(Duration::from_millis(500));
    redis.resume();
    for mut replica in replicas {
        assert!(replica.wait().expect("a replica ends").success());
    }
    let layer = with_store(store(&redis, "exits")).build().expect("valid");
    let spent = layer
        .budgets()
        .spent("tenant-daily", &[(Scope::Tenant, "acme")])
        .expect("Redis answers");
    let expected = (2 * (CALLS_BEFORE + CALLS_STALLED)) as f64 * 0.01;
    assert!((spent - expected).abs() < 1e-9, "{spent} != {expected}");
    assert_eq!(held(&redis, "exits", "acme"), ("0".into(), "0".into()));
}

#[ai_span(kind = "llm", model = "budget-model", provider = "openai", budget)]
async fn chat_async() -> Result<Usage, BudgetExceeded> {
    Ok(Usage::new(10_000, 0))
}

/// An axum service on a two-worker tokio runtime, its budgets in a Redis that is stopped: its
/// budgeted calls (`async fn`s) wait for Redis, each at most its timeout, while its endpoint
/// without budgets goes on answering at once. Were the reservation a blocking round trip on
/// the worker threads, two waiting calls would hold both workers and every endpoint with them.
#[test]
fn a_stalled_redis_parks_the_budgeted_calls_not_the_services_other_endpoints() {
    use axum::extract::State;
    use axum::routing::get;
    use tracing::instrument::WithSubscriber as _;
    use tracing::Instrument as _;

    let Some(redis) = Redis::start() else { return };
    let timeout = Duration::from_millis(200);
    let layer = with_store(
        store(&redis, "parked")
            .with_timeout(timeout)
            .on_failure(OnStoreFailure::Closed),
    )
    .build()
    .expect("valid");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer.with_tracer(opentelemetry::trace::TracerProvider::tracer(
            &provider, "test",
        )),
    ));

    /// The budgeted call, timed on the server: its duration in microseconds.
    async fn ask(State(dispatch): State<tracing::Dispatch>) -> String {
        let started = std::time::Instant::now();
        // The request's span is made under the service's subscriber, as its own layer would.
        let made = async {
            chat_async()
                .instrument(tracing::info_span!("request", tenant.id = "acme"))
                .await
                .is_ok()
        }
        .with_subscriber(dispatch)
        .await;
        format!("{} {made}", started.elapsed().as_micros())
    }

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
        .route("/ask", get(ask))
        .route("/health", get(|| async { "ok" }))
        .with_state(dispatch);
    runtime.spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::blocking::Client::new();
    let get_text = |path: &str| {
        client
            .get(format!("http://{address}{path}"))
            .send()
            .and_then(|response| response.text())
            .expect("the service answers")
    };
    // Warm: Redis up, a budgeted call made (the connection is open).
    assert!(get_text("/ask").ends_with(" true"));
    redis.stop();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (health, asked) = std::thread::scope(|scope| {
        let askers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut durations = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let answer = get_text("/ask");
                        let (micros, made) = answer.split_once(' ').expect("two words");
                        // Fail-closed: refused once Redis does not answer.
                        assert_eq!(made, "false", "a budgeted call made with Redis stopped");
                        let micros: u64 = micros.parse().expect("microseconds");
                        durations.push(Duration::from_micros(micros));
                    }
                    durations
                })
            })
            .collect();
        // The budgeted calls are waiting on Redis now.
        std::thread::sleep(Duration::from_millis(100));
        let mut health: Vec<Duration> = (0..200)
            .map(|_| {
                let started = std::time::Instant::now();
                assert_eq!(get_text("/health"), "ok");
                started.elapsed()
            })
            .collect();
        stop.store(true, Ordering::SeqCst);
        let asked: Vec<Duration> = askers
            .into_iter()
            .flat_map(|asker| asker.join().expect("an asker"))
            .collect();
        health.sort();
        (health, asked)
    });
    redis.resume();
    let p99 = health[health.len() * 99 / 100 - 1];
    assert!(
        p99 < Duration::from_millis(10),
        "the endpoint without budgets took {p99:?} at p99 while Redis was stopped"
    );
    assert!(asked.len() >= 8, "{} budgeted calls", asked.len());
    let longest = asked.iter().max().expect("calls");
    assert!(
        *longest <= timeout + Duration::from_millis(20),
        "a budgeted call took {longest:?}, past its timeout ({timeout:?}) and 20 ms"
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// What `RedisBudgets`' docs say Redis keeps, measured with `MEMORY USAGE`: an account with a
/// short tenant id and with a 256-byte one (ids are cut there), and a call's marker.
#[test]
fn redis_keeps_what_the_docs_say_an_account_and_a_call_take() {
    let Some(redis) = Redis::start() else { return };
    let layer = with_store(store(&redis, "memory")).build().expect("valid");
    let budgets = layer.budgets();
    let long = "t".repeat(256);
    let made = AtomicUsize::new(0);
    export_built(layer, || {
        assert_eq!(allowed_of("acme", 1, &made), 1);
        assert_eq!(allowed_of(&long, 1, &made), 1);
    });
    budgets.flush(Duration::from_secs(10)).expect("written");
    let usage = |key: &str| -> u64 {
        redis.command(&["MEMORY", "USAGE", key])[0]
            .parse()
            .expect("bytes")
    };
    let accounts = accounts_of(&redis, "memory");
    let account = |tenant: &str| {
        let key = accounts
            .iter()
            .find(|key| key.contains(&format!(":{tenant}:")) && !key.ends_with(":#r"))
            .expect("an account");
        usage(key)
    };
    let (short, long) = (account("acme"), account(&long));
    let marker = usage(&redis.command(&["KEYS", "memory:#w:*"])[0]);
    println!(
        "account {short} bytes, with a 256-byte id {long} bytes; a call's marker {marker} bytes"
    );
    // RedisBudgets' docs: "about 140 bytes (410 with a 256-byte id)", "about 70 bytes".
    assert!((100..=180).contains(&short), "{short}");
    assert!((350..=480).contains(&long), "{long}");
    assert!((50..=100).contains(&marker), "{marker}");
    // A settled call leaves no reservation behind: the account and its marker only.
    assert_eq!(accounts.len(), 3, "{accounts:?}");
}

/// A request of 500 tokens in (one token a character) and `max_tokens` 500, that uses both:
/// 1,000 tokens reserved, 1,000 used.
struct TokenRequest(String);

impl tracing_ai::content::InputContent for TokenRequest {
    fn input_messages(&self) -> Vec<tracing_ai::content::Message> {
        vec![tracing_ai::content::Message::user(self.0.clone())]
    }
}

impl tracing_ai::ReportsParameters for TokenRequest {
    fn request_parameters(&self) -> tracing_ai::RequestParameters {
        tracing_ai::RequestParameters::default().with_max_tokens(500)
    }
}

#[ai_span(kind = "llm", model = "budget-model", provider = "openai", input = request, budget)]
fn chat_tokens(request: &TokenRequest) -> Result<Usage, BudgetExceeded> {
    std::thread::sleep(Duration::from_millis(1));
    Ok(Usage::new(500, 500))
}

/// Three replicas (three layers, each its own store, subscriber and threads, as three
/// processes would be) against one limit of 100,000 tokens a minute in one Redis: together
/// they make the 100 calls of 1,000 tokens it has room for, not 300; a refusal says when the
/// minute's tokens leave the window, and a minute and a second on there is room again.
#[test]
fn three_replicas_share_one_token_limit() {
    let Some(redis) = Redis::start() else { return };
    let clock = TestClock::new();
    let replica = || {
        let clock = clock.clone();
        AiLayer::builder()
            .with_budget_clock(move || clock.now())
            .with_token_estimator(|_model: &str, text: &str| Some(text.chars().count() as u64))
            .with_budget(Budget::tokens_per_minute("tenant-tpm", 100_000).per(Scope::Tenant))
            // Long enough that no reservation times out and goes on unchecked (fail-open) on
            // a loaded machine.
            .with_budget_store(store(&redis, "three-replicas").with_timeout(Duration::from_secs(5)))
            .build()
            .expect("valid")
    };
    let replicas = [replica(), replica(), replica()];
    let handles: Vec<_> = replicas.iter().map(AiLayer::budgets).collect();
    // Each replica: 4 threads of 25 calls, 300 calls against room for 100.
    let run = |layer: AiLayer| {
        let request = TokenRequest("x".repeat(500));
        let (outcomes, _) = export_built(layer, || {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            std::thread::scope(|scope| {
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        let (dispatch, request) = (dispatch.clone(), &request);
                        scope.spawn(move || {
                            tracing::dispatcher::with_default(&dispatch, || {
                                (0..25)
                                    .map(|_| {
                                        tracing::info_span!("request", tenant.id = "acme")
                                            .in_scope(|| chat_tokens(request))
                                            .map_err(|refused| refused.retry_after())
                                    })
                                    .collect::<Vec<_>>()
                            })
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .flat_map(|thread| thread.join().expect("a thread"))
                    .collect::<Vec<_>>()
            })
        });
        outcomes
    };
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = replicas
            .into_iter()
            .map(|layer| scope.spawn(move || run(layer)))
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().expect("a replica"))
            .collect()
    });
    let made = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(made, 100, "the three replicas share the limit");
    for outcome in &outcomes {
        if let Err(retry_after) = outcome {
            assert_eq!(*retry_after, Some(Duration::from_secs(61)));
        }
    }
    for handle in &handles {
        handle.flush(Duration::from_secs(10)).expect("settled");
    }
    assert_eq!(
        handles[0].spent("tenant-tpm", &[(Scope::Tenant, "acme")]),
        Some(100_000.0),
        "every replica's tokens, in Redis"
    );
}

/// A rate limit across a Redis stalled (SIGSTOP) during a call's body for a second: the call's
/// settlement, timed out and tried again, counts its request once, and its place in flight is
/// given back, not held for the lease; nothing is counted as lost.
#[test]
fn a_rate_limits_settlement_across_a_stall_counts_the_request_once_and_frees_its_place() {
    let Some(redis) = Redis::start() else { return };
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_meter(meters.meter("tracing-ai"))
        .with_budget(Budget::requests_per_minute("tenant-rpm", 10).per(Scope::Tenant))
        .with_budget(Budget::in_flight("tenant-parallel", 1).per(Scope::Tenant))
        .with_budget_store(
            store(&redis, "limit-stall")
                .with_timeout(Duration::from_millis(200))
                .on_failure(OnStoreFailure::Open),
        )
        .build()
        .expect("valid");
    let budgets = layer.budgets();
    let (outcomes, _) = export_built(layer, || {
        let call = || {
            tracing::info_span!("request", tenant.id = "acme")
                .in_scope(|| chat_during(|| redis.stop()).is_ok())
        };
        let stalled = call();
        std::thread::sleep(Duration::from_secs(1));
        redis.resume();
        budgets
            .flush(Duration::from_secs(20))
            .expect("written once Redis answers");
        // Its place in flight was given back: a second call has room.
        let next = tracing::info_span!("request", tenant.id = "acme")
            .in_scope(|| chat_during(|| ()).is_ok());
        budgets.flush(Duration::from_secs(20)).expect("written");
        (stalled, next)
    });
    assert_eq!(outcomes, (true, true));
    assert_eq!(
        budgets.spent("tenant-rpm", &[(Scope::Tenant, "acme")]),
        Some(2.0),
        "each call's request counted once"
    );
    let in_flight = accounts_of(&redis, "limit-stall")
        .into_iter()
        .find(|key| key.contains(":tenant-parallel:acme") && !key.ends_with(":#r"))
        .expect("the limit's account");
    assert_eq!(redis.command(&["HGET", &in_flight, "held"]).concat(), "0");
    assert_eq!(store_failures(&meters, &metrics), (0.0, 0.0));
}
