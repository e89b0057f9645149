//! With no subscriber, an annotated call costs what `#[instrument]` costs: no allocation, the
//! same return value, no panic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tracing_ai::{ai_span, record_cache_hit, CacheHit, ReportsUsage, Usage};

struct CountingAllocator;

thread_local! {
    /// Allocations made by this thread: the test harness allocates on other threads at any
    /// time. Const-initialised, so reading it from the allocator allocates nothing.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

struct Completion {
    text: &'static str,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        // Allocates: it must not be called when nothing listens.
        Some(Usage::new(1, 1).with_response_model(self.text.to_owned()))
    }
}

struct Client {
    model: String,
}

impl Client {
    #[ai_span(kind = "llm", model = self.model.as_str(), provider = "openai")]
    fn generate(&self, _prompt: &str) -> Result<Completion, std::fmt::Error> {
        record_cache_hit(CacheHit::Miss);
        Ok(Completion { text: "answer" })
    }

    #[ai_span(kind = "llm", model = "gpt-4o", fields(extra = 1))]
    async fn generate_async(&self) -> Result<Completion, std::fmt::Error> {
        Err(std::fmt::Error)
    }
}

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let value = f();
    (value, ALLOCATIONS.with(Cell::get) - before)
}

fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn no_subscriber_means_no_allocation_and_the_same_result() {
    let client = Client {
        model: "gpt-4o".to_owned(),
    };
    // Warm up: the first call registers callsites, which may allocate once.
    let _ = client.generate("warm up");
    let _ = poll_once(client.generate_async());

    let (ret, allocations) = allocations_during(|| client.generate("a secret prompt"));
    assert_eq!(ret.map(|c| c.text), Ok("answer"));
    assert_eq!(allocations, 0, "a sync call allocated with no subscriber");

    let (ret, allocations) = allocations_during(|| poll_once(client.generate_async()));
    assert!(matches!(ret, Poll::Ready(Err(std::fmt::Error))));
    assert_eq!(allocations, 0, "an async call allocated with no subscriber");
}

#[test]
fn the_counter_sees_the_allocations_of_a_recorded_call() {
    // Proves the test above can fail: with a subscriber, usage is read, which allocates.
    let client = Client {
        model: "gpt-4o".to_owned(),
    };
    let ((_, captured), allocations) =
        allocations_during(|| tracing_ai_tests::capture(|| client.generate("x")));
    assert!(allocations > 0);
    assert_eq!(
        captured.spans[0].field("gen_ai.response.model"),
        &tracing_ai_tests::s("answer")
    );
}

#[test]
fn no_subscriber_on_this_thread_means_no_allocation_while_another_has_one() {
    // A subscriber in use elsewhere (here, alive and used once) makes every callsite ask the
    // thread's dispatcher, which on this thread is the no-op one: still nothing to record.
    let elsewhere = tracing::Dispatch::new(tracing_subscriber::registry());
    let client = Client {
        model: "gpt-4o".to_owned(),
    };
    tracing::dispatcher::with_default(&elsewhere, || client.generate("warm up")).expect("answers");
    let _ = client.generate("warm up");

    let (ret, allocations) = allocations_during(|| client.generate("a secret prompt"));
    assert_eq!(ret.map(|c| c.text), Ok("answer"));
    assert_eq!(allocations, 0, "usage was read for the no-op subscriber");
    drop(elsewhere);
}
