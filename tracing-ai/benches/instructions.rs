//! The instructions one request costs, counted by callgrind rather than timed: the figure
//! does not move with the machine's load, so the ratios of `BENCHMARKS.md` can be checked on a
//! shared or virtual machine where criterion's times spread.
//!
//! ```sh
//! cargo bench -p tracing-ai --features __bench --bench instructions --no-run
//! valgrind --tool=callgrind --toggle-collect='instructions::measured*' \
//!     target/release/deps/instructions-<hash> llm_call/ai_span
//! ```
//!
//! Each id runs 10,000 requests after 1,000 of warm-up (which fill the caches: callsite
//! interest, prices); divide callgrind's total by 10,000. Run under criterion's harness (`cargo
//! bench` without valgrind) it runs each id once, as a smoke test.

mod common;

use std::hint::black_box;

use common::{
    annotated, annotated_with_budget, baseline, budget_stack, in_request, in_request_by_hand,
    in_request_numbered, rate_limit_stack, same_output_by_hand, stacks,
};
use tracing::Dispatch;

const REQUESTS: usize = 10_000;
const WARM_UP: usize = 1_000;

/// The one function callgrind collects in: everything it calls is counted, nothing else (not
/// the setting of the thread's default dispatcher, not the warm-up).
#[inline(never)]
fn measured(request: &dyn Fn()) {
    request()
}

fn main() {
    let (otel_only, with_ai) = stacks();
    let with_budget = budget_stack();
    let with_rate_limit = rate_limit_stack();
    let none = Dispatch::none();
    let request_id = std::cell::Cell::new(0_i64);
    let ids: [(&str, &Dispatch, &dyn Fn()); 11] = [
        ("llm_call/baseline", &otel_only, &|| {
            black_box(in_request(|| baseline(1_000, "acme")));
        }),
        ("llm_call/same_output_by_hand", &otel_only, &|| {
            black_box(in_request_by_hand(|ids, totals| {
                same_output_by_hand(1_000, ids, totals)
            }));
        }),
        ("llm_call/ai_span", &with_ai, &|| {
            black_box(in_request(|| annotated(1_000)));
        }),
        // The same with a request id of its own each time, which the layer cannot share with
        // the request before (`clean_id::bounded`).
        ("llm_call/ai_span_new_request_ids", &with_ai, &|| {
            request_id.set(request_id.get() + 1);
            black_box(in_request_numbered(request_id.get(), || annotated(1_000)));
        }),
        ("llm_call/ai_span_budget", &with_budget, &|| {
            let _ = black_box(in_request(|| annotated_with_budget(1_000)));
        }),
        ("llm_call/ai_span_rate_limit", &with_rate_limit, &|| {
            let _ = black_box(in_request(|| annotated_with_budget(1_000)));
        }),
        // No subscriber at all: `#[ai_span]` against `#[instrument]`.
        ("no_subscriber/instrument", &none, &|| {
            black_box(baseline(1_000, "acme"));
        }),
        ("no_subscriber/ai_span", &none, &|| {
            black_box(annotated(1_000));
        }),
        ("plain_span/otel_only", &otel_only, &|| {
            tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ())
        }),
        ("plain_span/ai_layer", &with_ai, &|| {
            tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ())
        }),
        // The same, while 100 model calls are open (see `held_calls`).
        ("plain_span/ai_layer_busy", &with_ai, &|| {
            tracing::info_span!("db.query", db.system = "postgresql").in_scope(|| ())
        }),
    ];
    // `cargo bench` passes `--bench`; the ids asked for are the other arguments.
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let under_valgrind = !asked.is_empty();
    if !under_valgrind {
        // The hand-written request exports what the annotated one does, or its count means
        // nothing.
        let annotated = common::exported(|| drop(in_request(|| annotated(1_000))), true);
        let by_hand = common::exported(
            || {
                drop(in_request_by_hand(|ids, totals| {
                    same_output_by_hand(1_000, ids, totals)
                }))
            },
            false,
        );
        assert_eq!(
            annotated, by_hand,
            "llm_call/same_output_by_hand exports something else"
        );
    }
    for (id, dispatch, request) in ids {
        if under_valgrind && !asked.iter().any(|a| a == id) {
            continue;
        }
        let (warm_up, requests) = if under_valgrind {
            (WARM_UP, REQUESTS)
        } else {
            (0, 1)
        };
        tracing::dispatcher::with_default(dispatch, || {
            let _held = id.ends_with("_busy").then(held_calls);
            (0..warm_up).for_each(|_| request());
            (0..requests).for_each(|_| measured(request));
        });
        println!("{id}: {requests} requests");
    }
}

/// 100 model calls left open, as in a service with that many in flight: the layer watches
/// their ids, and a plain span closing is looked up when its id shares their slot.
fn held_calls() -> Vec<tracing::Span> {
    (0..100)
        .map(|_| {
            tracing::info_span!(
                "chat gpt-4o-mini",
                gen_ai.operation.name = "chat",
                gen_ai.request.model = "gpt-4o-mini"
            )
        })
        .collect()
}
