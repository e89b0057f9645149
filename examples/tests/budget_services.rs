//! Budgets across replicas of the three services (examples/services.rs, issue 22 item 3): two
//! replicas, each its gateway, embedding and LLM processes, check one per-tenant budget kept in
//! a real Redis. Together they stop at its limit (a refused call is answered 429 and never
//! made); another tenant goes on; with Redis killed, fail-open replicas go on unchecked and a
//! fail-closed one refuses. Skipped when `scripts/test.sh` did not install redis-server.

use std::time::Duration;

use tracing_ai::budget::{Budget, RedisBudgets, Scope, Window};
use tracing_ai_tests::receiver::Receiver;
use tracing_ai_tests::redis::Redis;
use tracing_ai_tests::{exporting_example, spawn_listening, terminate};

/// Each tenant's daily budget, and what a model call reserves: the calls themselves cost far
/// less (the self-hosted model's GPU time, a few tokens of embedding), so the limit is reached
/// when what is spent leaves no room for one more reservation.
const LIMIT: &str = "0.0002";
const PER_CALL: &str = "0.00002";

/// The launcher of one replica (it starts the three services), exporting to `receiver`: the
/// services behind the gateway learn the tenant from the request's baggage, which their
/// OpenTelemetry layer carries (a service in console mode has none).
fn replica(receiver: &Receiver, redis: &str, policy: &str) -> Replica {
    replica_with(
        receiver,
        &["--budget-redis", redis, "--budget-fail", policy],
    )
}

/// A replica whose budget is kept as `store` says (`--budget-redis URL` or `--budget-dir DIR`).
fn replica_with(receiver: &Receiver, store: &[&str]) -> Replica {
    let (launcher, gateway) = spawn_listening(
        exporting_example("services", &format!("http://{}", receiver.grpc), "grpc")
            .args([
                "--port",
                "0",
                "--budget",
                LIMIT,
                "--budget-per-call",
                PER_CALL,
            ])
            .args(store)
            .stdin(std::process::Stdio::null()),
    );
    Replica {
        launcher: Some(launcher),
        gateway,
    }
}

/// A replica's launcher, stopped (SIGTERM: it stops its three services) when dropped, also
/// when an assertion fails: no service outlives the test.
struct Replica {
    launcher: Option<std::process::Child>,
    gateway: String,
}

impl Replica {
    fn stop(mut self) {
        if let Some(launcher) = self.launcher.take() {
            terminate(launcher);
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut launcher) = self.launcher.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &launcher.id().to_string()])
                .status();
            let _ = launcher.wait();
        }
    }
}

/// `GET /ask` as `tenant`: the status, and the body.
fn ask(gateway: &str, tenant: &str) -> (u16, String) {
    let (status, _, body) = ask_with_retry_after(gateway, tenant);
    (status, body)
}

#[test]
fn two_replicas_of_the_services_stop_together_at_one_budget_in_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let receiver = Receiver::start();
    let replicas = [
        replica(&receiver, &redis.url, "open"),
        replica(&receiver, &redis.url, "open"),
    ];
    let gateways: Vec<&str> = replicas.iter().map(|r| r.gateway.as_str()).collect();

    // acme's requests, one replica then the other, until its budget refuses.
    let mut answers = Vec::new();
    for n in 0..200 {
        let replica = n % 2;
        let (status, body) = ask(gateways[replica], "acme");
        answers.push((replica, status, body));
        if answers
            .iter()
            .rev()
            .take(4)
            .filter(|(_, s, _)| *s == 429)
            .count()
            == 4
        {
            break;
        }
    }
    let allowed = |replica: usize| {
        answers
            .iter()
            .filter(|(r, s, _)| *r == replica && *s == 200)
            .count()
    };
    assert!(
        allowed(0) > 0 && allowed(1) > 0,
        "both replicas served acme before the budget ran out: {} and {}",
        allowed(0),
        allowed(1)
    );
    let first_refusal = answers
        .iter()
        .position(|(_, status, _)| *status == 429)
        .expect("the budget refused acme");
    assert!(
        answers[first_refusal..]
            .iter()
            .all(|(_, status, _)| *status == 429),
        "once spent, the budget refuses on both replicas: {:?}",
        answers.iter().map(|(_, s, _)| s).collect::<Vec<_>>()
    );
    let (_, _, refusal) = &answers[first_refusal];
    assert!(
        refusal.contains("budget \"tenant-daily\" for tenant.id=acme"),
        "{refusal}"
    );
    assert!(answers
        .iter()
        .all(|(_, status, _)| [200, 429].contains(status)));

    // What both replicas spent, as Redis holds it: within the limit, and near it.
    let limit: f64 = LIMIT.parse().expect("a number");
    let per_call: f64 = PER_CALL.parse().expect("a number");
    let reader = tracing_ai::AiLayer::builder()
        .with_budget(Budget::new("tenant-daily", limit, Window::Day).per(Scope::Tenant))
        .with_budget_store(RedisBudgets::new(&redis.url).expect("a Redis URL"))
        .build()
        .expect("valid");
    let spent = tracing_ai_tests::poll_until(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            reader
                .budgets()
                .spent("tenant-daily", &[(Scope::Tenant, "acme")])
        },
        |spent| spent.is_some_and(|spent| spent > limit - 2.0 * per_call),
    )
    .expect("Redis answers");
    assert!(
        spent <= limit && spent > limit - 2.0 * per_call,
        "acme spent {spent} of {limit}"
    );

    // Another tenant has its own budget.
    assert_eq!(ask(gateways[0], "globex").0, 200);

    // Redis dies: these replicas are fail-open, so acme goes on, unchecked.
    redis.kill();
    assert_eq!(ask(gateways[1], "acme").0, 200);
    // A fail-closed replica refuses what it cannot check.
    let closed = replica(&receiver, &redis.url, "closed");
    let (status, body) = ask(&closed.gateway, "globex");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("fail-closed"), "{body}");

    for replica in replicas.into_iter().chain([closed]) {
        replica.stop();
    }
}

/// A replica keeping its budget on local disk (`--budget-dir`), its processes killed with
/// SIGKILL mid-day and started again on the same directory, as a crash or a deploy does: the
/// day's spend before the kill and after it add up to the limit, not to twice it (issue 33,
/// item 3).
#[test]
fn a_replica_killed_mid_day_keeps_its_budgets_spend_on_local_disk() {
    let receiver = Receiver::start();
    let dir = std::env::temp_dir().join(format!("tracing-ai-budget-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let start = || {
        replica_with(
            &receiver,
            &["--budget-dir", dir.to_str().expect("a UTF-8 path")],
        )
    };
    // What the LLM service's file says acme spent today.
    let spent_on_disk = || {
        let reader = tracing_ai::AiLayer::builder()
            .with_budget(
                Budget::new(
                    "tenant-daily",
                    LIMIT.parse().expect("a number"),
                    Window::Day,
                )
                .per(Scope::Tenant),
            )
            .with_local_budgets(tracing_ai::budget::LocalBudgets::new(dir.join("llm.redb")))
            .build()
            .expect("the file opens once the services are gone");
        reader
            .budgets()
            .spent("tenant-daily", &[(Scope::Tenant, "acme")])
            .unwrap_or(0.0)
    };
    let until_refused = |replica: &Replica| -> usize {
        let mut allowed = 0;
        let mut refused = 0;
        for _ in 0..300 {
            match ask(&replica.gateway, "acme").0 {
                200 => allowed += 1,
                429 => refused += 1,
                other => panic!("the gateway answered {other}"),
            }
            if refused == 4 {
                break;
            }
        }
        assert_eq!(refused, 4, "the budget never refused");
        allowed
    };

    // Before the kill: ten requests.
    let before = start();
    for _ in 0..10 {
        assert_eq!(ask(&before.gateway, "acme").0, 200);
    }
    // Each cost is committed as it settles; a moment for the last one to reach the disk.
    std::thread::sleep(Duration::from_millis(500));
    kill_hard(before);
    let spent_before = spent_on_disk();
    let limit: f64 = LIMIT.parse().expect("a number");
    let per_call: f64 = PER_CALL.parse().expect("a number");
    assert!(
        spent_before > 0.0 && spent_before < limit / 2.0,
        "ten requests spent {spent_before}"
    );

    // After it: the same day, the same budget, what was spent still counted.
    let after = start();
    let allowed_after = until_refused(&after);
    after.stop();
    let spent = spent_on_disk();
    assert!(
        spent <= limit && spent > limit - 2.0 * per_call,
        "acme spent {spent} of {limit} over the day ({spent_before} before the kill)"
    );
    // Had the restart forgotten, the day would have spent the limit after it as well.
    let average = spent_before / 10.0;
    assert!(
        (allowed_after as f64) * average < limit - spent_before + 2.0 * per_call,
        "{allowed_after} requests after the restart, at about {average} each"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// SIGKILL to a replica's launcher and its three services: nothing of theirs runs after it.
fn kill_hard(mut replica: Replica) {
    let launcher = replica.launcher.take().expect("a running replica");
    let pid = launcher.id().to_string();
    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-P", &pid])
        .status();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    let mut launcher = launcher;
    let _ = launcher.wait();
    // The services are gone once their files can be opened: a moment for the kernel.
    std::thread::sleep(Duration::from_millis(200));
}

/// `GET /ask` as `tenant`: the status, the `Retry-After` header, and the body.
fn ask_with_retry_after(gateway: &str, tenant: &str) -> (u16, Option<String>, String) {
    let response = reqwest::blocking::Client::new()
        .get(format!("http://{gateway}/ask?q=What+is+a+span"))
        .header("authorization", format!("Bearer {tenant}-key"))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, retry_after, response.text().unwrap_or_default())
}

/// A rate limit across three replicas (issue 36, items 3 and 4), as users run them:
/// `--budget-rpm 30 --budget-redis URL`, nine processes. A request makes two model calls (an
/// embedding and a completion, in two processes of its replica), each counting one request
/// of the tenant's 30 a minute: fifteen requests pass, one replica after another, not 45, and
/// the next are answered 429 with `Retry-After` (the model service's, passed on by the
/// gateway) and the limit's message; another tenant goes on.
#[test]
fn three_replicas_of_the_services_share_a_rate_limit_and_answer_429_with_retry_after() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let receiver = Receiver::start();
    let replica = || {
        let (launcher, gateway) = spawn_listening(
            exporting_example("services", &format!("http://{}", receiver.grpc), "grpc")
                .args(["--port", "0", "--budget-rpm", "30"])
                .args(["--budget-redis", &redis.url])
                .stdin(std::process::Stdio::null()),
        );
        Replica {
            launcher: Some(launcher),
            gateway,
        }
    };
    let replicas = [replica(), replica(), replica()];
    let answers: Vec<_> = (0..18)
        .map(|n| ask_with_retry_after(&replicas[n % 3].gateway, "acme"))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    assert_eq!(
        statuses,
        [[200; 15].as_slice(), &[429; 3]].concat(),
        "{answers:?}"
    );
    let (_, retry_after, body) = &answers[15];
    let seconds: u64 = retry_after
        .as_deref()
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!((1..=61).contains(&seconds), "Retry-After: {seconds}");
    assert!(
        body.contains("rate limit \"tenant-rpm\" for tenant.id=acme: 30 of 30 requests used"),
        "{body}"
    );
    assert_eq!(ask_with_retry_after(&replicas[1].gateway, "globex").0, 200);
    for replica in replicas {
        replica.stop();
    }
}
