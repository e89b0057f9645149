//! A tenant id a caller controls is exported bounded the same on every span: the AI spans the
//! layer writes it on, and the application's own request span it was recorded on (through
//! `init()`'s export queue, over OTLP/gRPC to a receiver in this process).
//!
//! The guard `init()` returns gives the installed layer's budgets and prices.
//!
//! One test in this file: `init()` installs the global subscriber.

use tracing_ai::budget::{Budget, Scope, Window};
use tracing_ai::{ai_span, attr, Protocol, Usage};
use tracing_ai_tests::receiver::Receiver;

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn ask() -> Usage {
    Usage::new(10, 2)
}

#[test]
fn a_100_kb_tenant_id_is_exported_as_the_same_256_bytes_on_every_span() {
    let receiver = Receiver::start();
    let guard = tracing_ai::builder()
        .with_layer(
            tracing_ai::AiLayer::builder()
                .with_budget(Budget::new("tenant-daily", 1.0, Window::Day).per(Scope::Tenant)),
        )
        .with_endpoint(format!("http://{}", receiver.grpc))
        .with_protocol(Protocol::Grpc)
        .with_console(false)
        .try_init()
        .expect("tracing is set up");
    let tenant = "é".repeat(50_000);
    tracing::info_span!("request", tenant.id = tenant.as_str(), feature.id = "chat").in_scope(
        || {
            tracing::info!("asking");
            ask()
        },
    );
    // The guard gives the installed layer's budgets and prices: the 50 KB tenant's account
    // holds the call's cost (10 input and 2 output tokens of gpt-4o-mini), under its own id.
    let budgets = guard.budgets();
    let spent = budgets
        .spent("tenant-daily", &[(Scope::Tenant, tenant.as_str())])
        .expect("the tenant's account");
    assert!((spent - 0.0000027).abs() < 1e-12, "{spent}");
    guard
        .prices()
        .reload()
        .expect("the default prices read again");
    drop(guard);
    // Logs are opt-in (`with_logs`), and a log line is no span event by default.
    assert!(receiver.logs().is_empty());
    // ...and without them no log counts among the export's metrics.
    assert!(!receiver.sum_points("ai.export.exported_spans").is_empty());
    assert!(receiver.sum_points("ai.export.exported_logs").is_empty());
    assert!(receiver.sum_points("ai.export.dropped_logs").is_empty());
    assert!(receiver
        .spans()
        .iter()
        .all(|span| span.span.events.is_empty()));

    let spans = receiver.spans();
    let exported: Vec<(&str, &str)> = spans
        .iter()
        .filter_map(|span| Some((span.span.name.as_str(), span.str_attr(attr::TENANT_ID)?)))
        .collect();
    assert_eq!(exported.len(), 2, "{exported:?}");
    let (_, on_call) = exported[0];
    assert!(on_call.len() <= 256, "{}", on_call.len());
    // The cut is marked, and followed by a hash of the whole id that keeps ids distinct.
    let (kept, hash) = on_call.split_once("…#").expect("the cut is marked");
    assert_eq!(hash.len(), 16, "{hash}");
    assert!(tenant.starts_with(kept));
    for (name, value) in &exported {
        assert_eq!(*value, on_call, "`{name}` exports another tenant id");
    }
    // A short id is left as it is.
    let features: Vec<&str> = spans
        .iter()
        .filter_map(|span| span.str_attr(attr::FEATURE_ID))
        .collect();
    assert_eq!(features, ["chat", "chat"]);
}
