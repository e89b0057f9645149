//! A reservation asked of Redis and waited for, by a sync function (blocking, at most the
//! timeout) or an `async fn` (awaited); what it holds, and how a reservation that could not be
//! answered follows the [`OnStoreFailure`] policy.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::scripts::{folded, millis, ttl, units, Account, RESERVE_SCRIPT, SPENT_SCRIPT, UNIT};
use super::writer::worth_a_warning;
use super::{Failure, OnStoreFailure, Shared};
use crate::budget::store::{Answer, BudgetState, Held, Passed, Reservation, Reserved, WaitBy};
use crate::budget::AccountKey;
use crate::budget::{Budget, BudgetExceeded, CallScope, OnLimit, Window};

/// A reservation's hold in Redis: its id and accounts, to settle.
#[derive(Debug)]
struct RemoteHold {
    id: String,
    accounts: Vec<(Account, Arc<str>)>,
    store: Arc<Shared>,
}

impl Held for RemoteHold {
    /// Queues the settlement: Redis says what the budget spent later, to the gauges.
    fn settle(
        self: Box<Self>,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) -> Option<BudgetState> {
        let RemoteHold {
            id,
            accounts,
            store,
        } = *self;
        store.settle(id, accounts, cost, now);
        None
    }
}

/// The reservation of one call, sent to Redis and waited for.
pub(super) struct Waiting {
    store: Arc<Shared>,
    budgets: Arc<[Budget]>,
    /// Each covering budget (by index in `budgets`), its account and its estimate.
    covering: Vec<(usize, AccountKey, f64)>,
    accounts: Vec<(Account, Arc<str>)>,
    id: String,
    now: SystemTime,
    answer: Reply,
}

/// Where the store's thread puts a reservation's answer: a channel a thread blocks on (for a
/// bounded time), or one a task awaits.
pub(super) enum Reply {
    /// Answered already, on the caller's thread.
    Ready(Option<Result<Vec<String>, Failure>>),
    Blocking(std::sync::mpsc::Receiver<Result<Vec<String>, Failure>>),
    Async(tokio::sync::oneshot::Receiver<Result<Vec<String>, Failure>>),
}

/// What a blocked caller waits beyond the timeout for the store's thread to answer.
const SLACK: Duration = Duration::from_millis(20);

impl Answer for Waiting {
    fn wait_blocking(self: Box<Self>) -> Reserved {
        let store = self.store.clone();
        store.wait_blocking(*self)
    }

    fn wait(
        self: Box<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reserved> + Send>> {
        Box::pin(async move {
            let store = self.store.clone();
            store.wait(*self).await
        })
    }
}

impl Shared {
    /// Sends the reservation of a call of `scope` (what [`Ledger::reserve_now`](crate::budget::ledger::Ledger::reserve_now)
    /// does, in Redis) to the store's thread; `Err` with what to return at once when no budget
    /// covers the call.
    pub(super) fn send_reservation(
        self: &Arc<Self>,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        wait: WaitBy,
    ) -> Option<Waiting> {
        let covering: Vec<(usize, AccountKey, f64)> = budgets
            .iter()
            .enumerate()
            .filter_map(|(index, budget)| {
                let key = budget.account(scope)?;
                Some((index, key, estimate(budget)))
            })
            .collect();
        if covering.is_empty() {
            return None;
        }
        let id = self.next_id();
        let now_ms = millis(now);
        let mut invocation = RESERVE_SCRIPT.prepare_invoke();
        invocation
            .arg(&id)
            .arg(now_ms)
            .arg(now_ms + self.config.lease.as_millis() as u64)
            .arg(self.config.max_accounts);
        let mut accounts = Vec::with_capacity(covering.len());
        for (index, key, amount) in &covering {
            let budget = &budgets[*index];
            let account = self.account(key.clone(), budget.window, now);
            let period = budget.window.period(now);
            for name in account.keys() {
                invocation.key(name);
            }
            invocation
                .arg(budget.window.oldest_counted(period.index))
                .arg(units(budget.limit))
                .arg(units(*amount))
                .arg(u8::from(budget.on_limit.refuses()))
                .arg(ttl(&budget.window, period.ends, now));
            accounts.push((account, budget.currency.clone()));
        }
        invocation.key(self.marker(&id));
        let link = self.link.clone();
        let timeout = self.config.timeout;
        // A sync function on a connection of its own, on its thread: one round trip, not two
        // hops through the store's thread (which cost 150 µs a call on a two-core VM).
        let connection = match wait {
            WaitBy::Blocking => self.blocking.take(self),
            WaitBy::Awaiting => None,
        };
        let answer = match (wait, connection) {
            (WaitBy::Blocking, Some(mut connection)) => {
                let answer = invocation.invoke::<Vec<String>>(&mut connection);
                match answer {
                    Ok(answer) => {
                        self.blocking.give_back(connection);
                        Reply::Ready(Some(Ok(answer)))
                    }
                    // Its state is unknown (an answer may come late): it is closed.
                    Err(error) => {
                        self.blocking.closed(self);
                        Reply::Ready(Some(Err(Failure {
                            reason: error.to_string(),
                            maybe_sent: true,
                        })))
                    }
                }
            }
            (WaitBy::Blocking, None) => {
                let (answered, answer) = std::sync::mpsc::sync_channel(1);
                self.runtime.spawn(async move {
                    let _ = answered.send(link.run(&invocation, timeout).await);
                });
                Reply::Blocking(answer)
            }
            (WaitBy::Awaiting, _) => {
                let (answered, answer) = tokio::sync::oneshot::channel();
                self.runtime.spawn(async move {
                    let _ = answered.send(link.run(&invocation, timeout).await);
                });
                Reply::Async(answer)
            }
        };
        Some(Waiting {
            store: self.clone(),
            budgets,
            covering,
            accounts,
            id,
            now,
            answer,
        })
    }

    /// Waits for `waiting`'s answer, blocking the thread at most the timeout.
    fn wait_blocking(self: &Arc<Self>, mut waiting: Waiting) -> Reserved {
        let answer = match &mut waiting.answer {
            Reply::Ready(answer) => answer.take().unwrap_or_else(|| Err(self.unanswered())),
            Reply::Blocking(answer) => answer
                .recv_timeout(self.config.timeout + SLACK)
                .unwrap_or_else(|_| Err(self.unanswered())),
            Reply::Async(answer) => answer.try_recv().unwrap_or_else(|_| Err(self.unanswered())),
        };
        self.answered(waiting, answer)
    }

    /// Waits for `waiting`'s answer in a task: the thread goes on with other tasks meanwhile.
    async fn wait(self: &Arc<Self>, mut waiting: Waiting) -> Reserved {
        let answer = match &mut waiting.answer {
            Reply::Ready(answer) => answer.take().unwrap_or_else(|| Err(self.unanswered())),
            // The store's thread answers within the timeout, always.
            Reply::Async(answer) => answer.await.unwrap_or_else(|_| Err(self.unanswered())),
            Reply::Blocking(answer) => answer
                .recv_timeout(self.config.timeout + SLACK)
                .unwrap_or_else(|_| Err(self.unanswered())),
        };
        self.answered(waiting, answer)
    }

    fn unanswered(&self) -> Failure {
        Failure {
            reason: "the budget store's thread did not answer".to_owned(),
            maybe_sent: true,
        }
    }

    fn answered(
        self: &Arc<Self>,
        waiting: Waiting,
        answer: Result<Vec<String>, Failure>,
    ) -> Reserved {
        let Waiting {
            budgets,
            covering,
            mut accounts,
            id,
            now,
            ..
        } = waiting;
        let answer = match answer {
            Ok(answer) if answer.first().map(String::as_str) != Some("late") => answer,
            Ok(_) => {
                return self.failed(&budgets, &covering, accounts, id, &self.unanswered(), now)
            }
            Err(failure) => return self.failed(&budgets, &covering, accounts, id, &failure, now),
        };
        let used = |text: Option<&String>| {
            text.and_then(|text| text.parse::<f64>().ok())
                .map_or(0.0, |units| units / UNIT)
        };
        match answer.first().map(String::as_str) {
            Some("refused") => {
                let index: usize = answer
                    .get(1)
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(1);
                let index = index.clamp(1, covering.len()) - 1;
                let (budget, key, amount) = &covering[index];
                let key = if folded(answer.get(3), index) {
                    &key.other()
                } else {
                    key
                };
                let budget = &budgets[*budget];
                let refused = BudgetExceeded::new(
                    budget,
                    key,
                    crate::money::round_money(used(answer.get(2))),
                    *amount,
                    now,
                );
                // A rolling window: when the period Redis named leaves it.
                Err(match (budget.window, answer.get(4)) {
                    (Window::Rolling(_), Some(period)) => {
                        refused.fitting_at(period.parse::<u64>().ok().map(|period| {
                            UNIX_EPOCH
                                + Duration::from_secs(
                                    (period + budget.window.buckets() + 1)
                                        * budget.window.bucket_secs(),
                                )
                        }))
                    }
                    _ => refused,
                })
            }
            _ => {
                let flags = answer.get(covering.len() + 1);
                let mut passed = Vec::new();
                for (index, (budget, _, amount)) in covering.iter().enumerate() {
                    let budget = &budgets[*budget];
                    let account = &mut accounts[index].0;
                    if folded(flags, index) {
                        account.fold();
                    }
                    let spent = used(answer.get(index + 1));
                    if budget.on_limit == OnLimit::Warn
                        && (spent >= budget.limit || spent + amount > budget.limit)
                    {
                        let over = BudgetExceeded::new(
                            budget,
                            &account.key,
                            crate::money::round_money(spent),
                            *amount,
                            now,
                        );
                        passed.push(Passed { over, waited: None });
                    }
                }
                let reservation = Reservation::new(RemoteHold {
                    id,
                    accounts,
                    store: self.clone(),
                });
                Ok((Some(reservation), passed))
            }
        }
    }

    /// The store did not answer the reservation `id` in time: the failure is counted and
    /// logged, the reservation given back (if Redis runs it late, the release finds it, or
    /// comes first and it is not made), and the policy applied.
    fn failed(
        &self,
        budgets: &[Budget],
        covering: &[(usize, AccountKey, f64)],
        accounts: Vec<(Account, Arc<str>)>,
        id: String,
        failure: &Failure,
        now: SystemTime,
    ) -> Reserved {
        if failure.maybe_sent {
            let accounts = accounts
                .into_iter()
                .map(|(account, _)| (account, 0))
                .collect();
            self.write(id, accounts, None, now);
        }
        let count = self.failures.reservations.fetch_add(1, Ordering::Relaxed) + 1;
        if worth_a_warning(count) {
            tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "the budget store did not answer ({}); {count} reservation(s) so far {}",
                failure.reason,
                match self.config.on_failure {
                    OnStoreFailure::Open => "went ahead without a budget check (fail-open)",
                    OnStoreFailure::Closed => "were refused (fail-closed)",
                }
            );
        }
        match self.config.on_failure {
            OnStoreFailure::Open => Ok((None, Vec::new())),
            OnStoreFailure::Closed => {
                let (budget, key, amount) = &covering[0];
                let mut refused = BudgetExceeded::new(&budgets[*budget], key, 0.0, *amount, now);
                refused.0.store_failure = Some(failure.reason.as_str().into());
                Err(refused)
            }
        }
    }

    /// What the account of `key` spent in `budget`'s window, read from Redis within the
    /// timeout.
    pub(super) fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64> {
        let name = self.key(key, &budget.window, now);
        let oldest = budget
            .window
            .oldest_counted(budget.window.period(now).index);
        let mut invocation = SPENT_SCRIPT.prepare_invoke();
        invocation.key(&name).arg(oldest);
        let (answered, answer) = std::sync::mpsc::sync_channel(1);
        let (link, timeout) = (self.link.clone(), self.config.timeout);
        self.runtime.spawn(async move {
            let _ = answered.send(link.run::<String>(&invocation, timeout).await);
        });
        answer
            .recv_timeout(timeout + SLACK)
            .ok()?
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .map(|units| crate::money::round_money(units / UNIT))
    }
}
