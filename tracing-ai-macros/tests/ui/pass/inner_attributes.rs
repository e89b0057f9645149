//! `#![inner]` attributes stay inside the body, in every shape the macro instruments
//! (issue 10: the boxed-future form re-emitted them before the signature).
#![deny(unused_variables)]

use std::future::Future;
use std::pin::Pin;

use tracing_ai::{ai_span, Usage};

#[ai_span(kind = "llm", model = "sync")]
fn sync_fn() -> Usage {
    #![allow(unused_variables)]
    let unused = 1;
    Usage::new(1, 1)
}

#[ai_span(kind = "llm", model = "async")]
async fn async_fn() -> Usage {
    #![allow(unused_variables)]
    let unused = 1;
    Usage::new(1, 1)
}

#[ai_span(kind = "llm", model = "boxed")]
fn boxed_future() -> Pin<Box<dyn Future<Output = Usage> + Send>> {
    #![allow(unused_variables)]
    let unused = 1;
    Box::pin(async move { Usage::new(1, 1) })
}

fn main() {
    let _ = sync_fn();
    let _ = async_fn();
    let _ = boxed_future();
}
