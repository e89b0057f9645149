//! What every budget store shares: how a reservation waits for its store, a reservation on its
//! way, and what a flush could not write.

use super::ledger::{Passed, Reservation};
use super::BudgetExceeded;

/// How a reservation waits for a store that is not in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitBy {
    /// Its thread blocks, at most the store's timeout (a sync function).
    Blocking,
    /// Its task awaits (an `async fn`): a stalled store parks the task, not the thread.
    Awaiting,
}

/// A reservation made, or sent to the store and waited for.
pub(crate) enum Reserving {
    Done(Result<(Reservation, Vec<Passed>), BudgetExceeded>),
    #[cfg(feature = "redis")]
    Waiting(super::redis::Waiting, std::sync::Arc<super::LiveBudgets>),
}

impl Reserving {
    /// The reservation, the thread blocked at most the store's timeout.
    pub(crate) fn wait_blocking(self) -> Result<(Reservation, Vec<Passed>), BudgetExceeded> {
        match self {
            Reserving::Done(done) => done,
            #[cfg(feature = "redis")]
            Reserving::Waiting(waiting, budgets) => match &budgets.store {
                Some(store) => store.wait_blocking(waiting),
                None => Ok((Reservation::default(), Vec::new())),
            },
        }
    }

    /// The reservation, awaited.
    pub(crate) async fn wait(self) -> Result<(Reservation, Vec<Passed>), BudgetExceeded> {
        match self {
            Reserving::Done(done) => done,
            #[cfg(feature = "redis")]
            Reserving::Waiting(waiting, budgets) => match &budgets.store {
                Some(store) => store.wait(waiting).await,
                None => Ok((Reservation::default(), Vec::new())),
            },
        }
    }
}

/// Settlements still unwritten when a [flush](super::BudgetsHandle::flush) ran out of time.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = tracing_ai::AiLayer::builder().build()?;
/// // At exit, for a layer built by hand (the guard of `init()` does it itself):
/// if let Err(unflushed) = layer.budgets().flush(std::time::Duration::from_secs(5)) {
///     eprintln!("{unflushed}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Unflushed {
    what: String,
    store: String,
}

impl Unflushed {
    /// `what` (`3 settlement(s) of calls that cost 0.0125 USD`) was not written to `store`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn new(what: String, store: String) -> Self {
        Self { what, store }
    }
}

impl std::fmt::Display for Unflushed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} were not written to the budget store at {} in time; their spend is missing from \
             the shared budgets unless this process goes on running until Redis answers",
            self.what, self.store
        )
    }
}

impl std::error::Error for Unflushed {}
