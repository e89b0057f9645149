//! The quickstart and the three services (examples/services.rs) export to a real Jaeger, over
//! gRPC and over HTTP, and the traces are read back through Jaeger's query API: one root per
//! request, parentage across the three processes, the `gen_ai.*` attributes, costs to the
//! cent, and the tenant, feature and request ids on every AI span of every service, whatever
//! baggage the caller sent.

use std::collections::{HashMap, HashSet};

use tracing_ai_tests::jaeger::{Jaeger, Span, Trace};
use tracing_ai_tests::{
    exporting_example, run_agent_example, run_to_success, spawn_listening, terminate,
};

/// text-embedding-3-small and gpt-4o-mini, USD per million tokens (OpenAI's price list).
const EMBEDDING_PER_MILLION: f64 = 0.02;
const GPT_4O_MINI_PER_MILLION: (f64, f64) = (0.15, 0.60);

/// A call's cost is its tokens at the list price, to a billionth of a cent.
fn assert_priced(span: &Span) {
    let cost = span.f64("gen_ai.usage.cost").unwrap_or_else(|| {
        panic!(
            "`{}` of {} has no cost: {:?}",
            span.name, span.service, span.tags
        )
    });
    let input = span.i64("gen_ai.usage.input_tokens").expect("input tokens") as f64;
    let output = span.i64("gen_ai.usage.output_tokens").unwrap_or(0) as f64;
    let expected = match span.name.as_str() {
        "embeddings text-embedding-3-small" => input * EMBEDDING_PER_MILLION / 1e6,
        "chat gpt-4o-mini" => {
            (input * GPT_4O_MINI_PER_MILLION.0 + output * GPT_4O_MINI_PER_MILLION.1) / 1e6
        }
        // Priced by GPU time: the duration is the span's own, so only its sign is known here
        // (tests/tests/calls/overrides.rs checks the arithmetic).
        "chat llama-3.1-8b-fp8" => {
            assert_eq!(span.str("ai.cost.source"), Some("self-hosted"));
            assert!(cost > 0.0, "{cost}");
            return;
        }
        other => panic!("an AI span `{other}` this test does not know"),
    };
    assert!(
        (cost - expected).abs() < 1e-11,
        "`{}`: {cost} exported, {expected} at list price",
        span.name
    );
}

const REQUESTS: usize = 8;

fn check_quickstart(traces: &[Trace]) {
    assert_eq!(traces.len(), REQUESTS, "one trace per request");
    let mut failed = 0;
    for trace in traces {
        let roots = trace.roots();
        assert_eq!(roots.len(), 1, "one root in {}", trace.id);
        assert_eq!(roots[0].name, "rag.query");
        assert!(trace.orphans().is_empty(), "{:?}", trace.orphans());
        let tenant = roots[0].str("tenant.id").expect("the root's tenant");
        failed += usize::from(roots[0].failed());
        let names: HashSet<&str> = trace.spans.iter().map(|s| s.name.as_str()).collect();
        for hop in [
            "embeddings text-embedding-3-small",
            "retrieval retrieve",
            "chat llama-3.1-8b-fp8",
        ] {
            assert!(names.contains(hop), "no `{hop}` in {names:?}");
        }
        for span in trace.ai_spans() {
            assert_eq!(span.str("tenant.id"), Some(tenant), "`{}`", span.name);
            assert!(span.str("request.id").is_some(), "`{}`", span.name);
            assert!(span.str("feature.id").is_some(), "`{}`", span.name);
            if span.name.starts_with("retrieval") {
                continue;
            }
            assert!(span.str("gen_ai.request.model").is_some());
            if span.failed() {
                assert!(span.str("error.type").is_some(), "`{}`", span.name);
            } else {
                assert_priced(span);
            }
        }
    }
    assert!(
        failed > 0,
        "--error-rate 0.3 over {REQUESTS} requests failed none"
    );
}

#[test]
fn the_quickstart_arrives_in_jaeger_over_grpc_and_http() {
    let Some(jaeger) = Jaeger::start() else {
        return;
    };
    for (endpoint, protocol, service) in [
        (&jaeger.otlp_grpc, "grpc", "quickstart-grpc"),
        (&jaeger.otlp_http, "http/protobuf", "quickstart-http"),
    ] {
        run_to_success(
            exporting_example("quickstart", endpoint, protocol)
                .args([
                    "--requests",
                    &REQUESTS.to_string(),
                    "--error-rate",
                    "0.3",
                    "--seed",
                    "11",
                ])
                .env("OTEL_SERVICE_NAME", service),
        );
        let traces = jaeger.traces_when(service, |traces| traces.len() >= REQUESTS);
        check_quickstart(&traces);
    }
}

/// A request the test sends through the gateway.
struct Sent {
    request_id: &'static str,
    /// The API key's tenant; `None` sends no key.
    tenant: Option<&'static str>,
    question: &'static str,
    fail: bool,
    /// Baggage a caller outside sends, hoping to be billed as someone else.
    baggage: Option<&'static str>,
    expected_status: u16,
}

const SENT: [Sent; 6] = [
    Sent {
        request_id: "req-jaeger-0",
        tenant: Some("acme"),
        question: "What is a span?",
        fail: false,
        baggage: None,
        expected_status: 200,
    },
    Sent {
        request_id: "req-jaeger-1",
        tenant: Some("globex"),
        question: "What is a span?",
        fail: false,
        baggage: None,
        expected_status: 200,
    },
    // Both models fail: a 502 from the LLM service, then from the gateway.
    Sent {
        request_id: "req-jaeger-2",
        tenant: Some("acme"),
        question: "Why did my request fail?",
        fail: true,
        baggage: None,
        expected_status: 502,
    },
    // A long question: too long for the self-hosted model, answered by the hosted one.
    Sent {
        request_id: "req-jaeger-3",
        tenant: Some("globex"),
        question: "How do spans nest across await points in an async Rust service?",
        fail: false,
        baggage: None,
        expected_status: 200,
    },
    Sent {
        request_id: "req-jaeger-4",
        tenant: None,
        question: "What is a span?",
        fail: false,
        baggage: None,
        expected_status: 401,
    },
    Sent {
        request_id: "req-jaeger-5",
        tenant: Some("acme"),
        question: "What is a span?",
        fail: false,
        baggage: Some("tenant.id=mallory,request.id=forged,user.id=admin"),
        expected_status: 200,
    },
];

fn send_requests(gateway: &str) {
    let http = reqwest::blocking::Client::new();
    for sent in &SENT {
        let question = sent.question.replace(' ', "+").replace('?', "%3F");
        let mut request = http
            .get(format!(
                "http://{gateway}/ask?q={question}&fail={}",
                sent.fail
            ))
            .header("x-request-id", sent.request_id);
        if let Some(tenant) = sent.tenant {
            request = request.header("authorization", format!("Bearer {tenant}-key"));
        }
        if let Some(baggage) = sent.baggage {
            request = request.header("baggage", baggage);
        }
        let status = request.send().expect("the gateway answers").status();
        assert_eq!(status.as_u16(), sent.expected_status, "{}", sent.request_id);
    }
}

/// The client span of the gateway and the server span of the service it called, by route.
fn hop<'t>(trace: &'t Trace, route: &str, service: &str) -> (&'t Span, &'t Span) {
    let servers = trace.named(route);
    assert_eq!(servers.len(), 1, "one `{route}` in {}", trace.id);
    let server = servers[0];
    assert_eq!(server.service, service);
    assert_eq!(server.str("span.kind"), Some("server"));
    let client = trace
        .parent_of(server)
        .unwrap_or_else(|| panic!("`{route}` has no parent in the trace"));
    assert_eq!(client.service, "gateway");
    assert_eq!(client.str("span.kind"), Some("client"));
    assert_eq!(client.name, "POST");
    let path = route.trim_start_matches("POST ");
    assert!(
        client
            .str("url.full")
            .is_some_and(|url| url.ends_with(path)),
        "{:?}",
        client.str("url.full")
    );
    (client, server)
}

fn check_services(traces: &[Trace]) {
    let by_request: HashMap<Option<&str>, &Trace> = traces
        .iter()
        .map(|trace| {
            let roots = trace.roots();
            assert_eq!(roots.len(), 1, "one root in {}: {roots:?}", trace.id);
            (roots[0].str("request.id"), trace)
        })
        .collect();
    assert_eq!(by_request.len(), SENT.len(), "one trace per request");
    for sent in &SENT {
        let Some(tenant) = sent.tenant else {
            // Refused before anything was called: the gateway's span alone, for no one.
            let trace = by_request[&None];
            assert_eq!(trace.spans.len(), 1, "{:?}", trace.spans);
            let root = &trace.spans[0];
            assert_eq!(root.i64("http.response.status_code"), Some(401));
            assert!(
                !root.failed(),
                "a 401 is the caller's error, not the gateway's"
            );
            assert_eq!(root.str("tenant.id"), None);
            continue;
        };
        let trace = by_request[&Some(sent.request_id)];
        assert!(trace.orphans().is_empty(), "{:?}", trace.orphans());
        let root = trace.roots()[0];
        assert_eq!(
            (root.name.as_str(), root.service.as_str()),
            ("GET /ask", "gateway")
        );
        assert_eq!(root.str("http.route"), Some("/ask"));
        assert_eq!(
            root.i64("http.response.status_code"),
            Some(i64::from(sent.expected_status))
        );
        let services: HashSet<&str> = trace.spans.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(
            services,
            HashSet::from(["gateway", "embedding-service", "llm-service"]),
            "{}",
            sent.request_id
        );
        let (embed_client, _) = hop(trace, "POST /embed", "embedding-service");
        assert_eq!(
            trace.parent_of(embed_client).map(|s| s.id.as_str()),
            Some(root.id.as_str())
        );
        let (generate_client, generate_server) = hop(trace, "POST /generate", "llm-service");
        assert_eq!(
            trace.parent_of(generate_client).map(|s| s.id.as_str()),
            Some(root.id.as_str())
        );

        let ai_spans = trace.ai_spans();
        let ai_services: HashSet<&str> = ai_spans.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(
            ai_services.len(),
            3,
            "AI spans in every service: {ai_services:?}"
        );
        for span in &ai_spans {
            // The caller's baggage named someone else: the ids are the gateway's.
            assert_eq!(
                span.str("tenant.id"),
                Some(tenant),
                "`{}` in {}",
                span.name,
                span.service
            );
            assert_eq!(span.str("feature.id"), Some("ask"), "`{}`", span.name);
            assert_eq!(
                span.str("request.id"),
                Some(sent.request_id),
                "`{}`",
                span.name
            );
            assert_eq!(span.str("user.id"), None, "`{}`", span.name);
            if span.name.starts_with("retrieval") {
                continue;
            }
            if !span.failed() {
                assert_priced(span);
            }
        }

        let chats: Vec<&&Span> = ai_spans
            .iter()
            .filter(|s| s.name.starts_with("chat"))
            .collect();
        if sent.fail {
            assert!(root.failed() && generate_server.failed() && generate_client.failed());
            assert_eq!(generate_client.str("error.type"), Some("502"));
            assert_eq!(chats.len(), 2);
            assert!(chats
                .iter()
                .all(|s| s.failed() && s.str("error.type").is_some()));
        } else {
            assert!(!root.failed(), "{}", sent.request_id);
            let answered = chats.iter().filter(|s| !s.failed()).count();
            assert_eq!(answered, 1, "{}", sent.request_id);
        }
        // The LLM service's request roll-up: the costs of its own calls (one process).
        let llm_calls: f64 = chats
            .iter()
            .filter_map(|s| s.f64("gen_ai.usage.cost"))
            .sum();
        let rolled_up = generate_server.f64("ai.request.cost").unwrap_or(0.0);
        assert!(
            (rolled_up - llm_calls).abs() < 1e-12,
            "{rolled_up} != {llm_calls}"
        );
    }
}

fn services_in_jaeger(protocol: &str) {
    let Some(jaeger) = Jaeger::start() else {
        return;
    };
    let endpoint = if protocol == "grpc" {
        &jaeger.otlp_grpc
    } else {
        &jaeger.otlp_http
    };
    let (launcher, gateway) =
        spawn_listening(exporting_example("services", endpoint, protocol).args(["--port", "0"]));
    send_requests(&gateway);
    // The launcher stops the three, each exporting its last spans before it exits.
    terminate(launcher);
    // Every request but the refused one crosses the three services.
    let complete = |traces: &[Trace]| {
        let crossed = traces.iter().filter(|t| {
            let services: HashSet<&str> = t.spans.iter().map(|s| s.service.as_str()).collect();
            services.len() == 3 && t.orphans().is_empty()
        });
        traces.len() >= SENT.len() && crossed.count() == SENT.len() - 1
    };
    let traces = jaeger.traces_when("gateway", complete);
    check_services(&traces);
}

#[test]
fn the_three_services_make_one_trace_per_request_in_jaeger_over_grpc() {
    services_in_jaeger("grpc");
}

#[test]
fn the_three_services_make_one_trace_per_request_in_jaeger_over_http() {
    services_in_jaeger("http/protobuf");
}

/// The agent example (issue 14), content captured, in Jaeger: the agent, its model calls and
/// its tool nested, the messages and the tool's arguments and result as tags, the judge's
/// score as a log of the agent's span, and the user's late score as a span under it.
#[test]
fn the_agent_arrives_in_jaeger_with_its_messages_and_scores() {
    let Some(jaeger) = Jaeger::start() else {
        return;
    };
    let (scored_trace, scored_span) = run_agent_example(&jaeger.otlp_grpc, "grpc");
    let (scored_trace, scored_span) = (scored_trace.as_str(), scored_span.as_str());

    let traces = jaeger.traces_when("agent", |traces| {
        traces.len() == 2 && traces.iter().map(|t| t.spans.len()).sum::<usize>() == 11
    });
    assert_eq!(
        traces.len(),
        2,
        "one trace per request, the late score in the first"
    );
    for trace in &traces {
        let agent = trace.named("invoke_agent trip_assistant");
        assert_eq!(agent.len(), 1);
        let agent = agent[0];
        assert_eq!(agent.str("gen_ai.agent.name"), Some("trip_assistant"));
        assert_eq!(agent.i64("ai.agent.ai_calls"), Some(2));
        let judged = agent
            .logs
            .iter()
            .find(|log| {
                log.get("event").and_then(|v| v.as_str()) == Some("gen_ai.evaluation.result")
            })
            .expect("the judge's score on the agent's span");
        assert_eq!(judged["gen_ai.evaluation.name"], "relevance");
        assert_eq!(judged["gen_ai.evaluation.score.value"], 0.9);
        for child in trace.named("chat gpt-4o-mini") {
            assert_eq!(child.parent.as_deref(), Some(agent.id.as_str()));
            assert_priced(child);
            let input: serde_json::Value = serde_json::from_str(
                child
                    .str("gen_ai.input.messages")
                    .expect("captured messages"),
            )
            .expect("JSON");
            assert_eq!(input[0]["role"], "system");
        }
        let tool = trace.named("execute_tool get_weather");
        assert_eq!(tool[0].parent.as_deref(), Some(agent.id.as_str()));
        let arguments: serde_json::Value = serde_json::from_str(
            tool[0]
                .str("gen_ai.tool.call.arguments")
                .expect("captured arguments"),
        )
        .expect("JSON");
        assert!(arguments["city"].is_string(), "{arguments}");
        let late = trace.named("evaluation user_feedback");
        if trace.id.trim_start_matches('0') == scored_trace.trim_start_matches('0') {
            assert_eq!(late.len(), 1);
            assert_eq!(late[0].parent.as_deref(), Some(scored_span));
            assert_eq!(agent.id, scored_span);
            assert_eq!(
                late[0].str("gen_ai.evaluation.score.label"),
                Some("thumbs_up")
            );
        } else {
            assert!(late.is_empty());
        }
    }
}
