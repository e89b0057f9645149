//! Usage taken from return values: every count as an integer, from every container, and
//! from `usage = ...` when the return type does not report it.

use std::sync::Arc;

use tracing_ai::{ai_span, CacheHit, ReportsUsage, Usage};
use tracing_ai_tests::{capture, s, FieldValue};

struct Completion {
    text: String,
    input: u64,
    output: u64,
}

impl ReportsUsage for Completion {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::new(self.input, self.output).with_response_model("gpt-4o-2024-08-06"))
    }
}

#[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
fn full_usage() -> Usage {
    Usage::new(1_200, 300)
        .with_cache_read(1_000)
        .with_cache_creation(100)
        .with_reasoning(120)
        .with_response_model("gpt-4o-2024-08-06")
        .with_response_id("chatcmpl-1")
}

#[test]
fn every_count_is_recorded_as_an_i64() {
    let (_, captured) = capture(full_usage);
    let span = captured.span("chat gpt-4o");
    assert_eq!(
        span.field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(1_200)
    );
    assert_eq!(
        span.field("gen_ai.usage.output_tokens"),
        &FieldValue::I64(300)
    );
    assert_eq!(
        span.field("gen_ai.usage.cache_read.input_tokens"),
        &FieldValue::I64(1_000)
    );
    assert_eq!(
        span.field("gen_ai.usage.cache_write.input_tokens"),
        &FieldValue::I64(100)
    );
    assert_eq!(
        span.field("gen_ai.usage.reasoning.output_tokens"),
        &FieldValue::I64(120)
    );
    assert_eq!(span.field("gen_ai.response.model"), &s("gpt-4o-2024-08-06"));
    assert_eq!(span.field("gen_ai.response.id"), &s("chatcmpl-1"));
    assert!(span.closed);
}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn minimal_usage() -> Usage {
    Usage::new(10, 2)
}

#[test]
fn counts_the_provider_did_not_report_are_not_exported() {
    let (_, captured) = capture(minimal_usage);
    let span = captured.span("chat gpt-4o");
    assert_eq!(
        span.field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(10)
    );
    for absent in [
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.response.model",
        "gen_ai.usage.cost",
        "ai.cost.source",
        "ai.cache_hit",
    ] {
        assert_eq!(span.get(absent), None, "{absent}");
    }
}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn huge_usage() -> Usage {
    Usage::new(u64::MAX, 1)
}

#[test]
fn a_count_beyond_i64_saturates_instead_of_becoming_a_string() {
    let (_, captured) = capture(huge_usage);
    assert_eq!(
        captured
            .span("chat gpt-4o")
            .field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(i64::MAX)
    );
}

#[ai_span(kind = "llm", model = "claude-sonnet-4-5", provider = "anthropic")]
fn provider_cost(cost: f64) -> Usage {
    Usage::new(100, 10).with_cost(cost)
}

#[test]
fn a_provider_reported_cost_is_exported_with_its_source() {
    let (_, captured) = capture(|| provider_cost(0.0125));
    let span = captured.span("chat claude-sonnet-4-5");
    assert_eq!(span.field("gen_ai.usage.cost"), &FieldValue::F64(0.0125));
    assert_eq!(span.field("ai.cost.source"), &s("provider"));
}

#[test]
fn a_provider_cost_that_is_not_an_amount_is_dropped() {
    for bad in [f64::NAN, f64::INFINITY, -0.5] {
        let (_, captured) = capture(|| provider_cost(bad));
        let span = captured.span("chat claude-sonnet-4-5");
        assert_eq!(span.get("gen_ai.usage.cost"), None, "{bad}");
        assert_eq!(span.get("ai.cost.source"), None, "{bad}");
        assert_eq!(
            span.field("gen_ai.usage.input_tokens"),
            &FieldValue::I64(100)
        );
    }
}

#[ai_span(kind = "llm", model = "gpt-4o")]
fn cached_answer() -> Usage {
    Usage::new(0, 0).with_cache_hit(CacheHit::Semantic)
}

#[test]
fn usage_may_carry_the_cache_hit() {
    let (_, captured) = capture(cached_answer);
    assert_eq!(
        captured.span("chat gpt-4o").field("ai.cache_hit"),
        &s("semantic")
    );
}

// ===== containers =====

#[ai_span(kind = "llm", model = "m-custom")]
fn custom_type() -> Completion {
    Completion {
        text: "hi".into(),
        input: 7,
        output: 3,
    }
}

#[ai_span(kind = "llm", model = "m-option")]
fn option_some() -> Option<Completion> {
    Some(Completion {
        text: "hi".into(),
        input: 7,
        output: 3,
    })
}

#[ai_span(kind = "llm", model = "m-none")]
fn option_none() -> Option<Completion> {
    None
}

#[ai_span(kind = "llm", model = "m-box")]
fn boxed() -> Box<Completion> {
    Box::new(Completion {
        text: "hi".into(),
        input: 7,
        output: 3,
    })
}

#[ai_span(kind = "llm", model = "m-arc")]
fn arced() -> Arc<Completion> {
    Arc::new(Completion {
        text: "hi".into(),
        input: 7,
        output: 3,
    })
}

static STATIC_USAGE: Usage = Usage::new(7, 3);

#[ai_span(kind = "llm", model = "m-ref")]
fn by_reference() -> &'static Usage {
    &STATIC_USAGE
}

#[ai_span(kind = "llm", model = "m-dyn")]
fn trait_object() -> Box<dyn ReportsUsage> {
    Box::new(Usage::new(7, 3))
}

#[ai_span(kind = "llm", model = "m-impl")]
fn impl_trait() -> impl ReportsUsage {
    Usage::new(7, 3)
}

#[test]
fn every_container_reports_the_usage_it_holds() {
    let (_, captured) = capture(|| {
        assert_eq!(custom_type().text, "hi");
        option_some();
        boxed();
        arced();
        by_reference();
        trait_object();
        impl_trait();
    });
    for model in [
        "m-custom", "m-option", "m-box", "m-arc", "m-ref", "m-dyn", "m-impl",
    ] {
        let span = captured.span(&format!("chat {model}"));
        assert_eq!(
            span.field("gen_ai.usage.input_tokens"),
            &FieldValue::I64(7),
            "{model}"
        );
        assert_eq!(
            span.field("gen_ai.usage.output_tokens"),
            &FieldValue::I64(3),
            "{model}"
        );
    }
}

#[test]
fn none_records_no_usage() {
    let (ret, captured) = capture(option_none);
    assert!(ret.is_none());
    let span = captured.span("chat m-none");
    assert_eq!(span.get("gen_ai.usage.input_tokens"), None);
    assert_eq!(span.get("error.type"), None, "None is not an error");
    assert!(span.closed);
}

// ===== usage = ... =====

struct Meta {
    prompt_tokens: u64,
    completion_tokens: u64,
}

struct Response {
    text: String,
    meta: Meta,
}

#[ai_span(
    kind = "llm",
    model = "m-expr",
    usage = Usage::new(ret.meta.prompt_tokens, ret.meta.completion_tokens)
)]
fn foreign_response() -> Response {
    Response {
        text: "x".into(),
        meta: Meta {
            prompt_tokens: 40,
            completion_tokens: 4,
        },
    }
}

#[ai_span(
    kind = "llm",
    model = "m-expr-result",
    usage = Usage::new(ret.meta.prompt_tokens, ret.meta.completion_tokens)
)]
fn foreign_result(fail: bool) -> Result<Response, String> {
    if fail {
        return Err("rate limited".into());
    }
    Ok(Response {
        text: "x".into(),
        meta: Meta {
            prompt_tokens: 41,
            completion_tokens: 5,
        },
    })
}

#[ai_span(kind = "llm", model = "m-expr-option", usage = ret.as_ref().map(|r| Usage::new(r.meta.prompt_tokens, 0)))]
fn foreign_option() -> Option<Response> {
    Some(Response {
        text: "x".into(),
        meta: Meta {
            prompt_tokens: 42,
            completion_tokens: 0,
        },
    })
}

#[ai_span(kind = "agent", usage = Usage::new(1_000, 100))]
fn agent_with_explicit_usage() {}

#[ai_span(kind = "agent")]
fn agent_returning_usage() -> Usage {
    Usage::new(5, 5)
}

#[test]
fn usage_expression_sees_the_return_value_as_ret() {
    let (_, captured) = capture(|| {
        assert_eq!(foreign_response().text, "x");
        assert!(foreign_result(false).is_ok());
        foreign_option();
    });
    let tokens = |name: &str| {
        captured
            .span(name)
            .field("gen_ai.usage.input_tokens")
            .clone()
    };
    assert_eq!(tokens("chat m-expr"), FieldValue::I64(40));
    assert_eq!(
        tokens("chat m-expr-result"),
        FieldValue::I64(41),
        "ret is the Ok value"
    );
    assert_eq!(tokens("chat m-expr-option"), FieldValue::I64(42));
}

#[test]
fn usage_expression_is_not_evaluated_on_err() {
    let (_, captured) = capture(|| foreign_result(true));
    let span = captured.span("chat m-expr-result");
    assert_eq!(span.get("gen_ai.usage.input_tokens"), None);
    assert_eq!(span.field("otel.status_code"), &s("ERROR"));
}

#[test]
fn kinds_that_do_not_call_a_model_record_usage_only_when_asked() {
    let (_, captured) = capture(|| {
        agent_with_explicit_usage();
        agent_returning_usage();
    });
    assert_eq!(
        captured
            .span("invoke_agent agent_with_explicit_usage")
            .field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(1_000)
    );
    // An agent's usage is that of the calls under it: recording it again would count it twice.
    assert_eq!(
        captured
            .span("invoke_agent agent_returning_usage")
            .get("gen_ai.usage.input_tokens"),
        None
    );
}
