//! Shapes `#[instrument]` accepts (issue #3).
#![deny(warnings, unused_must_use)]
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;

use tracing_ai::{ai_span, ReportsUsage, Usage};

pub struct Client<M> {
    model: M,
}

impl<M: AsRef<str> + Send + Sync> Client<M> {
    #[ai_span(kind = "llm", model = self.model.as_ref())]
    pub fn by_ref(&self) -> Usage {
        Usage::new(1, 1)
    }

    #[ai_span(kind = "llm", model = self.model.as_ref())]
    pub async fn by_mut(&mut self) -> Option<Usage> {
        None
    }

    #[ai_span(kind = "llm", model = self.model.as_ref())]
    pub fn by_value(self) -> Box<Usage> {
        Box::new(Usage::new(1, 1))
    }
}

#[ai_span(kind = "llm", model = "m")]
pub fn generic<T, U>(t: T, u: impl Into<u64>) -> Result<T, String>
where
    T: ReportsUsage + Clone,
{
    let _ = u.into();
    Ok(t)
}

#[ai_span(kind = "llm", model = "m")]
pub fn returns_impl() -> impl ReportsUsage {
    Usage::new(1, 2)
}

#[ai_span(kind = "llm", model = "m")]
pub fn pinned_future() -> Pin<Box<dyn Future<Output = Usage> + Send>> {
    Box::pin(async move { Usage::new(1, 1) })
}

/// Docs are kept.
#[must_use]
#[ai_span(kind = "tool")]
pub fn must_use_kept() -> u32 {
    1
}

#[ai_span(kind = "llm", model = "m")]
pub unsafe fn unsafe_fn(ptr: *const u64) -> Usage {
    Usage::new(unsafe { *ptr }, 0)
}

#[ai_span(kind = "agent")]
pub extern "C" fn with_abi() {}

pub trait Tool {
    fn run(&self) -> impl Future<Output = u32> + Send;
}

impl Tool for Client<String> {
    #[ai_span(kind = "tool")]
    async fn run(&self) -> u32 {
        3
    }
}

#[ai_span(kind = "workflow", skip_all, level = "debug", target = "app", name = "wf")]
fn private_fn(_x: u8) -> Result<(), std::io::Error> {
    Ok(())
}

// A user's own `tracing` module cannot hijack the expansion's paths.
mod tracing {}
mod core {}

fn main() {
    let _ = must_use_kept();
}
