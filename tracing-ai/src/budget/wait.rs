//! Calls waiting for room in a budget that waits ([`OnLimit::Wait`](super::OnLimit::Wait)):
//! in order of arrival, each at most its deadline.
//!
//! An `async fn` call refused by such a budget takes a place in the queue of the budget's
//! account and parks. The first in the queue tries again when room may have come back: when a
//! call settles or gives back what it held (woken by [`Waiters::room_made`]), or when the
//! refusal said the window would have moved on ([`BudgetExceeded::retry_after`]); the others
//! wait for it to leave the queue, made or refused. A store out of this process (Redis) cannot
//! tell this replica that another one's call ended: there the first in the queue also looks
//! again every [`LOOK_AGAIN`]. No runtime is assumed: the parked futures are woken by wakers,
//! and the times by one thread of the library's, started on the first wait.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::store::{Answer, BudgetStore, Clock, Passed, Reserved, Reserving, WaitBy};
use super::{Budget, CallScope, ScopeLabels};

/// How often the first waiter looks again when nothing in this process wakes it (a store
/// shared with other replicas, whose calls end unseen).
pub(crate) const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// Whose queue a waiting call is in: a budget's account.
pub(crate) type QueueKey = (Arc<str>, ScopeLabels);

/// The calls waiting for room, by account, and their wakers.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    state: Mutex<State>,
    /// How many calls wait: a settlement with none waiting takes no lock.
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<QueueKey, VecDeque<u64>>,
    /// The waker of each parked ticket, and whether it was woken since it parked.
    parked: HashMap<u64, (Waker, bool)>,
    next_ticket: u64,
}

/// A call's place in a queue, given up when dropped (its call made, refused or cancelled):
/// the next in the queue is woken.
#[derive(Debug)]
pub(crate) struct Place {
    waiters: Arc<Waiters>,
    key: QueueKey,
    ticket: u64,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place at the end of `key`'s queue.
    pub(crate) fn enqueue(self: &Arc<Self>, key: QueueKey) -> Place {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state
            .queues
            .entry(key.clone())
            .or_default()
            .push_back(ticket);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Place {
            waiters: self.clone(),
            key,
            ticket,
        }
    }

    /// A call settled or gave back what it held: the first of each queue looks again.
    pub(crate) fn room_made(&self) {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut state = self.lock();
        let heads: Vec<u64> = state
            .queues
            .values()
            .filter_map(|queue| queue.front().copied())
            .collect();
        for head in heads {
            wake(&mut state, head);
        }
    }

    fn wake_ticket(&self, ticket: u64) {
        wake(&mut self.lock(), ticket);
    }
}

fn wake(state: &mut State, ticket: u64) {
    if let Some((waker, woken)) = state.parked.get_mut(&ticket) {
        *woken = true;
        waker.wake_by_ref();
    }
}

impl Place {
    /// Waits until this place is the first of its queue and room may have come back (a
    /// settlement in this process, or `look_again` has passed), or `deadline` has passed.
    pub(crate) fn turn(&self, look_again: Instant, deadline: Instant) -> Turn<'_> {
        Turn {
            place: self,
            wake_at: look_again.min(deadline),
            timed: false,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = self.waiters.lock();
        state.parked.remove(&self.ticket);
        if let Some(queue) = state.queues.get_mut(&self.key) {
            queue.retain(|ticket| *ticket != self.ticket);
            match queue.front().copied() {
                Some(next) => wake(&mut state, next),
                None => {
                    state.queues.remove(&self.key);
                }
            }
        }
        self.waiters.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The wait for a place's turn: see [`Place::turn`].
pub(crate) struct Turn<'a> {
    place: &'a Place,
    wake_at: Instant,
    timed: bool,
}

impl Future for Turn<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let place = self.place;
        let now = Instant::now();
        let mut state = place.waiters.lock();
        let first =
            state.queues.get(&place.key).and_then(|queue| queue.front()) == Some(&place.ticket);
        let woken = state
            .parked
            .get(&place.ticket)
            .is_some_and(|(_, woken)| *woken);
        if first && (woken || now >= self.wake_at) {
            state.parked.remove(&place.ticket);
            return Poll::Ready(());
        }
        state
            .parked
            .insert(place.ticket, (cx.waker().clone(), false));
        drop(state);
        // The first waiter wakes on time too; the others when the one before leaves.
        if first && !self.timed {
            self.timed = true;
            timer().wake_at(self.wake_at, place.waiters.clone(), place.ticket);
        }
        Poll::Pending
    }
}

/// The library's one timer thread: wakes parked tickets at their time.
struct Timer {
    due: Mutex<BinaryHeap<Reverse<(Instant, u64, usize)>>>,
    /// The waiters of each entry, by the entry's last number.
    owners: Mutex<HashMap<usize, Arc<Waiters>>>,
    changed: Condvar,
    next: AtomicUsize,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            due: Mutex::default(),
            owners: Mutex::default(),
            changed: Condvar::new(),
            next: AtomicUsize::new(0),
        }));
        // A thread that cannot be started leaves waits to be woken by settlements and by
        // the queue moving: a refused or late call, never a stuck one past its deadline, as
        // each waiter is woken again when the one before it leaves.
        let _ = std::thread::Builder::new()
            .name("tracing-ai-budget-waits".to_owned())
            .spawn(move || timer.run());
        timer
    })
}

impl Timer {
    fn wake_at(&self, at: Instant, waiters: Arc<Waiters>, ticket: u64) {
        let entry = self.next.fetch_add(1, Ordering::Relaxed);
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry, waiters);
        self.due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Reverse((at, ticket, entry)));
        self.changed.notify_one();
    }

    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while let Some(Reverse((at, ticket, entry))) = due.peek().copied() {
                if at > now {
                    break;
                }
                due.pop();
                let owner = self
                    .owners
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&entry);
                if let Some(waiters) = owner {
                    waiters.wake_ticket(ticket);
                }
            }
            due = match due.peek().map(|Reverse((at, _, _))| *at) {
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    self.changed
                        .wait_timeout(due, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(due)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// A reservation that may wait for room: its first answer, and what it takes to ask again.
pub(crate) struct WaitingForRoom {
    pub(crate) first: Reserving,
    pub(crate) store: Arc<dyn BudgetStore>,
    pub(crate) budgets: Arc<[Budget]>,
    pub(crate) scope: CallScope,
    /// What the call reserves in each budget (by index), as first estimated.
    pub(crate) estimates: Vec<Option<f64>>,
    pub(crate) clock: Clock,
    pub(crate) waiters: Arc<Waiters>,
}

impl Answer for WaitingForRoom {
    /// A sync function's call is refused at once: waiting would block its thread.
    fn wait_blocking(self: Box<Self>) -> Reserved {
        self.first.wait_blocking()
    }

    fn wait(self: Box<Self>) -> Pin<Box<dyn Future<Output = Reserved> + Send>> {
        Box::pin(self.until_room())
    }
}

impl WaitingForRoom {
    /// Asks again each time its turn comes, until the call is reserved, or refused by a
    /// budget that does not wait, or its deadline has passed.
    async fn until_room(self) -> Reserved {
        let Self {
            first,
            store,
            budgets,
            scope,
            estimates,
            clock,
            waiters,
        } = self;
        let started = Instant::now();
        let mut place: Option<Place> = None;
        let mut first_refusal = None;
        let mut reserving = first;
        loop {
            let refused = match reserving.wait().await {
                Err(refused) => refused,
                Ok((reservation, mut passed)) => {
                    // Made after waiting: the span and the metrics say so.
                    if let Some(over) = first_refusal {
                        passed.push(Passed {
                            over,
                            waited: Some(started.elapsed()),
                        });
                    }
                    return Ok((reservation, passed));
                }
            };
            let patience = budgets
                .iter()
                .find(|budget| budget.name() == refused.budget())
                .and_then(|budget| budget.on_limit().patience());
            let (Some(patience), false) = (patience, refused.is_store_failure()) else {
                return Err(refused);
            };
            let deadline = started + patience;
            let now = Instant::now();
            if now >= deadline {
                return Err(refused);
            }
            // When the window will have moved on enough, or, when calls ending make room,
            // soon: settlements in this process wake the first waiter at once, but not those
            // of other replicas.
            let look_again = now
                + refused
                    .fits_in()
                    .unwrap_or(LOOK_AGAIN)
                    .max(Duration::from_millis(1));
            // The queue of the refusing budget's account.
            let place = place.get_or_insert_with(|| {
                waiters.enqueue((refused.0.budget.clone(), refused.0.scope.clone()))
            });
            if first_refusal.is_none() {
                first_refusal = Some(refused);
            }
            place.turn(look_again, deadline).await;
            let mut estimate = |budget: &Budget| {
                budgets
                    .iter()
                    .position(|candidate| std::ptr::eq(candidate, budget))
                    .and_then(|index| estimates[index])
                    .unwrap_or(0.0)
            };
            reserving = store.reserve(
                budgets.clone(),
                &scope,
                &mut estimate,
                clock.now(),
                WaitBy::Awaiting,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> QueueKey {
        (name.into(), Vec::new())
    }

    #[test]
    fn the_first_place_is_woken_by_room_made_and_the_next_when_it_leaves() {
        let waiters = Arc::new(Waiters::default());
        let first = waiters.enqueue(key("a"));
        let second = waiters.enqueue(key("a"));
        let later = Instant::now() + Duration::from_secs(60);
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut turn = std::pin::pin!(first.turn(later, later));
            assert!(turn.as_mut().poll(&mut cx).is_pending());
            waiters.room_made();
            assert!(turn.as_mut().poll(&mut cx).is_ready());
        }
        let mut turn = std::pin::pin!(second.turn(later, later));
        assert!(turn.as_mut().poll(&mut cx).is_pending(), "not first yet");
        drop(first);
        assert!(
            turn.as_mut().poll(&mut cx).is_ready(),
            "first once the one before left"
        );
        drop(second);
        assert_eq!(waiters.waiting.load(Ordering::Relaxed), 0);
        assert!(waiters.lock().queues.is_empty());
    }

    #[test]
    fn the_timer_wakes_the_first_place_at_its_time() {
        let waiters = Arc::new(Waiters::default());
        let place = waiters.enqueue(key("b"));
        let soon = Instant::now() + Duration::from_millis(20);
        let started = Instant::now();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(place.turn(soon, soon + Duration::from_secs(60)));
        assert!(started.elapsed() >= Duration::from_millis(15));
    }
}
