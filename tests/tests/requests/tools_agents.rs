//! `kind = "tool"` and `kind = "agent"` spans as the GenAI conventions name them:
//! `execute_tool {gen_ai.tool.name}` and `invoke_agent {gen_ai.agent.name}`, internal spans,
//! their names from `tool = ...` / `agent = ...` (a literal or an expression, as `model`), else
//! from the function.

use opentelemetry::trace::SpanKind;
use opentelemetry::Value;
use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::otel::{attr, export, str_attr};

/// A tool call as a model asks for it.
struct ToolCall {
    id: String,
    name: String,
}

#[ai_span(kind = "tool")]
fn get_weather(city: &str) -> String {
    format!("sunny in {city}")
}

#[ai_span(
    kind = "tool",
    tool = "web_search",
    fields(gen_ai.tool.call.id = call_id, gen_ai.tool.type = "function")
)]
fn search(call_id: &str) -> Vec<String> {
    vec!["a result".to_owned()]
}

#[ai_span(kind = "tool", tool = call.name.as_str(), fields(gen_ai.tool.call.id = call.id.as_str()))]
fn dispatch(call: &ToolCall) -> &'static str {
    "done"
}

#[ai_span(kind = "agent", agent = "support-bot", fields(gen_ai.agent.id = "agent-7"))]
async fn support(question: &str) -> String {
    let usage = answer(question);
    let weather = get_weather("Paris");
    format!("{weather} ({} tokens)", usage.input_tokens)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn answer(question: &str) -> Usage {
    Usage::new(question.len() as u64, 10)
}

#[ai_span(kind = "agent")]
fn planner() {}

#[test]
fn tool_spans_are_named_after_their_tool() {
    let (_, exported) = export(|| {
        get_weather("Lyon");
        search("call_1");
        dispatch(&ToolCall {
            id: "call_2".to_owned(),
            name: "lookup_order".to_owned(),
        });
    });
    let weather = exported.span("execute_tool get_weather");
    assert_eq!(
        str_attr(weather, "gen_ai.tool.name").as_deref(),
        Some("get_weather")
    );
    assert_eq!(
        str_attr(weather, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(weather.span_kind, SpanKind::Internal);
    // No model, so no model attribute and no cost.
    assert_eq!(attr(weather, "gen_ai.request.model"), None);
    assert_eq!(attr(weather, "gen_ai.usage.cost"), None);

    let search = exported.span("execute_tool web_search");
    assert_eq!(
        str_attr(search, "gen_ai.tool.name").as_deref(),
        Some("web_search")
    );
    assert_eq!(
        str_attr(search, "gen_ai.tool.call.id").as_deref(),
        Some("call_1")
    );
    assert_eq!(
        str_attr(search, "gen_ai.tool.type").as_deref(),
        Some("function")
    );

    // A name known at run time: the exported name is built then.
    let dispatched = exported.span("execute_tool lookup_order");
    assert_eq!(
        str_attr(dispatched, "gen_ai.tool.name").as_deref(),
        Some("lookup_order")
    );
    assert_eq!(
        str_attr(dispatched, "gen_ai.tool.call.id").as_deref(),
        Some("call_2")
    );
}

#[test]
fn agent_spans_are_named_after_their_agent_and_hold_its_calls() {
    let (_, exported) = export(|| {
        tracing_ai_tests::block_on(support("Will it rain?"));
        planner();
    });
    let agent = exported.span("invoke_agent support-bot");
    assert_eq!(
        str_attr(agent, "gen_ai.agent.name").as_deref(),
        Some("support-bot")
    );
    assert_eq!(
        str_attr(agent, "gen_ai.agent.id").as_deref(),
        Some("agent-7")
    );
    assert_eq!(
        str_attr(agent, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(agent.span_kind, SpanKind::Internal);
    let call = exported.span("chat gpt-4o-mini");
    let tool = exported.span("execute_tool get_weather");
    for child in [call, tool] {
        assert_eq!(child.parent_span_id, agent.span_context.span_id());
    }
    assert_eq!(
        attr(call, "gen_ai.usage.input_tokens"),
        Some(&Value::I64(13))
    );
    let planner = exported.span("invoke_agent planner");
    assert_eq!(
        str_attr(planner, "gen_ai.agent.name").as_deref(),
        Some("planner")
    );
}

/// An agent run by a service of its own (OpenAI's Assistants, say): a client span.
#[ai_span(kind = "agent", agent = "remote-researcher", remote)]
fn research() {}

#[test]
fn a_remote_agent_is_a_client_span_an_in_process_one_internal() {
    let (_, exported) = export(|| {
        research();
        planner();
    });
    assert_eq!(
        exported.span("invoke_agent remote-researcher").span_kind,
        SpanKind::Client
    );
    assert_eq!(
        exported.span("invoke_agent planner").span_kind,
        SpanKind::Internal
    );
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn plan(tokens: u64) -> Usage {
    Usage::new(tokens, 40)
}

#[ai_span(kind = "agent", agent = "researcher")]
fn researcher() {
    let _ = plan(300);
}

/// agent -> model -> tool -> model, with an agent inside the agent.
#[ai_span(kind = "agent", agent = "orchestrator")]
fn orchestrator() {
    let _ = plan(1_000);
    let _ = get_weather("Oslo");
    researcher();
    let _ = plan(2_000);
}

#[test]
fn an_agent_span_carries_the_totals_of_the_model_calls_under_it() {
    let (_, exported) = export(|| {
        let request = tracing::info_span!("handle request", tenant.id = "acme");
        let _entered = request.enter();
        orchestrator();
        // Not under any agent: in the request's totals only.
        let _ = plan(5);
    });
    let cost = |span: &opentelemetry_sdk::trace::SpanData| {
        tracing_ai_tests::otel::f64_attr(span, "gen_ai.usage.cost")
    };
    let calls = exported.spans_named("chat gpt-4o-mini");
    assert_eq!(calls.len(), 4);
    // gpt-4o-mini: $0.15 / M input, $0.60 / M output.
    let price = |input: f64| (input * 0.15 + 40.0 * 0.60) / 1e6;
    for call in &calls {
        let input = match attr(call, "gen_ai.usage.input_tokens") {
            Some(Value::I64(input)) => *input as f64,
            other => panic!("{other:?}"),
        };
        assert!((cost(call) - price(input)).abs() < 1e-15);
    }

    let orchestrator = exported.span("invoke_agent orchestrator");
    let researcher = exported.span("invoke_agent researcher");
    let f64_of = |span, key| tracing_ai_tests::otel::f64_attr(span, key);
    let expected = price(1_000.0) + price(300.0) + price(2_000.0);
    assert!((f64_of(orchestrator, "ai.agent.cost") - expected).abs() < 1e-15);
    assert_eq!(
        attr(orchestrator, "ai.agent.ai_calls"),
        Some(&Value::I64(3))
    );
    assert_eq!(
        attr(orchestrator, "ai.agent.input_tokens"),
        Some(&Value::I64(3_300))
    );
    assert_eq!(
        attr(orchestrator, "ai.agent.output_tokens"),
        Some(&Value::I64(120))
    );
    assert_eq!(
        attr(orchestrator, "ai.agent.unpriced_calls"),
        Some(&Value::I64(0))
    );
    // The inner agent: its own call only.
    assert!((f64_of(researcher, "ai.agent.cost") - price(300.0)).abs() < 1e-15);
    assert_eq!(attr(researcher, "ai.agent.ai_calls"), Some(&Value::I64(1)));
    // A tool is not a model call: no totals on it, and it adds nothing.
    let tool = exported.span("execute_tool get_weather");
    assert_eq!(attr(tool, "ai.agent.cost"), None);
    assert_eq!(attr(tool, "ai.request.cost"), None);
    // The request counts every call once, the agents' included.
    let request = exported.span("handle request");
    assert!((f64_of(request, "ai.request.cost") - (expected + price(5.0))).abs() < 1e-15);
    assert_eq!(attr(request, "ai.request.ai_calls"), Some(&Value::I64(4)));
    // And the agents are attributed like any AI span.
    assert_eq!(str_attr(orchestrator, "tenant.id").as_deref(), Some("acme"));
}

#[ai_span(kind = "llm", model = "claude-haiku-4-5", provider = "anthropic")]
fn second_opinion(question: &str) -> Usage {
    Usage::new(question.len() as u64, 5)
}

#[ai_span(kind = "agent", agent = "one-provider")]
fn one_provider() {
    answer("a");
    answer("b");
}

#[ai_span(kind = "agent", agent = "two-providers")]
fn two_providers() {
    answer("a");
    second_opinion("b");
}

#[ai_span(kind = "agent", agent = "named", provider = "aws.bedrock")]
fn named_provider() {
    answer("a");
}

#[test]
fn an_agent_runs_on_the_provider_of_its_model_calls_when_they_share_one() {
    let (_, exported) = export(|| {
        one_provider();
        two_providers();
        named_provider();
        planner();
    });
    let provider = |name: &str| str_attr(exported.span(name), "gen_ai.provider.name");
    // The conventions require the provider on an agent's span: its calls' one provider.
    assert_eq!(
        provider("invoke_agent one-provider").as_deref(),
        Some("openai")
    );
    // Several, or none at all: no provider is made up.
    assert_eq!(provider("invoke_agent two-providers"), None);
    assert_eq!(provider("invoke_agent planner"), None);
    // The agent's own says, once.
    let named = exported.span("invoke_agent named");
    let count = named
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == "gen_ai.provider.name")
        .count();
    assert_eq!(count, 1);
    assert_eq!(
        provider("invoke_agent named").as_deref(),
        Some("aws.bedrock")
    );
}
