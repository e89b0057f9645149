//! Methods of `#[async_trait]` impls: the future is instrumented, not the function that boxes it.

use async_trait::async_trait;
use tracing_ai::{ai_span, Usage};
use tracing_ai_tests::{capture_async, s, FieldValue};

#[async_trait]
trait Llm {
    async fn complete(&self, prompt: &str) -> Result<Usage, String>;
    async fn complete_mut(&mut self, prompt: &str) -> Usage;
}

struct Hosted {
    model: String,
    calls: u32,
}

#[async_trait]
impl Llm for Hosted {
    #[ai_span(kind = "llm", model = self.model.as_str(), provider = "openai")]
    async fn complete(&self, prompt: &str) -> Result<Usage, String> {
        tokio::task::yield_now().await;
        tracing::info_span!("http.request").in_scope(|| ());
        if prompt.is_empty() {
            return Err("empty prompt".to_owned());
        }
        Ok(Usage::new(prompt.len() as u64, 2))
    }

    #[ai_span(kind = "llm", model = "gpt-4o-mini")]
    async fn complete_mut(&mut self, prompt: &str) -> Usage {
        self.calls += 1;
        tokio::task::yield_now().await;
        Usage::new(prompt.len() as u64, u64::from(self.calls))
    }
}

#[test]
fn async_trait_methods_record_usage_and_errors() {
    let (_, captured) = capture_async(async {
        let mut llm = Hosted {
            model: "gpt-4o".into(),
            calls: 0,
        };
        assert!(llm.complete("four").await.is_ok());
        assert!(llm.complete("").await.is_err());
        llm.complete_mut("xy").await;
        let dynamic: &dyn Llm = &llm;
        dynamic.complete("dyn").await.expect("ok");
    });
    let spans = captured.spans_named("chat");
    assert_eq!(spans.len(), 3);
    assert_eq!(
        spans[0].field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(4)
    );
    assert_eq!(spans[0].field("otel.name").as_text(), Some("chat gpt-4o"));
    assert_eq!(spans[1].field("otel.status_code"), &s("ERROR"));
    assert_eq!(spans[1].field("error.type"), &s("alloc::string::String"));
    assert_eq!(
        spans[2].field("gen_ai.usage.input_tokens"),
        &FieldValue::I64(3)
    );
    let http = &captured.spans_named("http.request")[0];
    assert_eq!(captured.parent_of(http).map(|p| p.name), Some("chat"));
    let mini = captured.span("chat gpt-4o-mini");
    assert_eq!(
        mini.field("gen_ai.usage.output_tokens"),
        &FieldValue::I64(1)
    );
}
