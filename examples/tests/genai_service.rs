//! The genai service example (issue 33), run as a user would, exporting over OTLP to a receiver
//! in this process: each request is one trace whose one model call is priced once, although
//! genai's own `otel` span and the annotated function both describe it; the streamed answer
//! counts the model's chunks only; the budget reserved from genai's `ChatOptions`.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_ai_tests::receiver::{by_trace, Receiver};
use tracing_ai_tests::{exporting_example, run_to_success};

/// The model server's answer to gpt-4o-mini, at OpenAI's published prices: 314 uncached input
/// tokens at $0.15, 1,536 cached at $0.075 and 120 output at $0.60 a million.
const ONE_CALL_USD: f64 = 0.0002343;

#[test]
fn each_request_of_the_genai_service_is_priced_once() {
    let receiver = Receiver::start();
    let output = run_to_success(
        exporting_example(
            "genai_service",
            &format!("http://{}", receiver.grpc),
            "grpc",
        )
        .args(["--port", "0", "--self-test", "4"]),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches(": 200").count(), 4, "{stdout}");

    let spans = receiver.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 4, "one trace a request");
    let mut streams = 0;
    for trace in traces.values() {
        let root = trace
            .iter()
            .find(|span| span.span.parent_span_id.is_empty())
            .expect("the server span");
        let tenant = root.str_attr("tenant.id").expect("the tenant");
        assert_eq!(
            root.attr("ai.request.ai_calls"),
            Some(&Value::IntValue(1)),
            "{}",
            root.span.name
        );
        let Some(Value::DoubleValue(total)) = root.attr("ai.request.cost") else {
            panic!("no request cost on {}", root.span.name);
        };
        assert!((total - ONE_CALL_USD).abs() < 1e-12, "{total}");
        let calls: Vec<_> = trace
            .iter()
            .filter(|span| span.str_attr("gen_ai.operation.name") == Some("chat"))
            .collect();
        assert_eq!(calls.len(), 2, "genai's span and the annotated one");
        let priced: Vec<_> = calls
            .iter()
            .filter(|span| span.attr("gen_ai.usage.cost").is_some())
            .collect();
        assert_eq!(priced.len(), 1, "one cost");
        let carried = calls
            .iter()
            .find(|span| span.attr("ai.cost.carried_by").is_some())
            .expect("the annotated span says which span carries its cost");
        assert_eq!(
            carried.str_attr("ai.cost.carried_by"),
            Some(hex(&priced[0].span.span_id).as_str())
        );
        assert_eq!(
            carried.str_attr("ai.budget.reserved_by"),
            Some("max_tokens")
        );
        for call in &calls {
            assert_eq!(call.str_attr("tenant.id"), Some(tenant));
        }
        if root.span.name == "GET /chat/stream" {
            streams += 1;
            assert_eq!(carried.attr("ai.stream.chunks"), Some(&Value::IntValue(4)));
        }
    }
    assert_eq!(streams, 2, "two of the four requests streamed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
