//! Every function shape `#[instrument]` accepts keeps its signature and behaviour.

#![deny(unsafe_op_in_unsafe_fn)]

use std::fmt::Debug;

use tracing_ai::{ai_span, ReportsUsage, Usage};
use tracing_ai_tests::{capture, FieldValue};

struct Model<T> {
    name: T,
    seen: Vec<String>,
}

impl<T: AsRef<str>> Model<T> {
    #[ai_span(kind = "llm", model = self.name.as_ref())]
    fn by_ref(&self, prompt: &str) -> Usage {
        Usage::new(prompt.len() as u64, 1)
    }

    #[ai_span(kind = "llm", model = self.name.as_ref())]
    fn by_mut(&mut self, prompt: &str) -> Usage {
        self.seen.push(prompt.to_owned());
        Usage::new(self.seen.len() as u64, 1)
    }

    #[ai_span(kind = "llm", model = self.name.as_ref())]
    fn by_value(self) -> Usage {
        Usage::new(self.seen.len() as u64, 1)
    }
}

#[ai_span(kind = "llm", model = "generic")]
fn generic<U, I>(usage: U, items: I) -> U
where
    U: ReportsUsage + Clone + Debug,
    I: IntoIterator<Item = u8>,
{
    let _count = items.into_iter().count();
    usage
}

#[ai_span(kind = "llm", model = "impl-arg")]
fn impl_trait_arg(tokens: impl Into<u64>, _names: impl IntoIterator<Item = String>) -> Usage {
    Usage::new(tokens.into(), 0)
}

/// # Safety
/// `ptr` must be valid for reads.
#[ai_span(kind = "llm", model = "unsafe")]
unsafe fn read_tokens(ptr: *const u64) -> Usage {
    // SAFETY: the caller guarantees that `ptr` is valid.
    Usage::new(unsafe { *ptr }, 0)
}

/// Doc comments stay on the function.
#[must_use]
#[ai_span(kind = "llm", model = "must-use")]
#[inline]
pub(crate) fn attributes_kept() -> Usage {
    #![allow(clippy::let_and_return)]
    let usage = Usage::new(1, 2);
    usage
}

#[ai_span(kind = "llm", model = "lifetimes")]
fn lifetimes<'a>(usage: &'a Usage, _other: &'_ str) -> Result<&'a Usage, String> {
    Ok(usage)
}

#[ai_span(kind = "llm", model = "destructured")]
fn destructured((a, b): (u64, u64), Model { name, .. }: Model<&str>) -> Usage {
    Usage::new(a + b + name.len() as u64, 0)
}

#[test]
fn methods_on_generic_impls() {
    let (_, captured) = capture(|| {
        let mut model = Model {
            name: "mistral-large".to_owned(),
            seen: Vec::new(),
        };
        assert_eq!(model.by_ref("abcd").input_tokens, 4);
        assert_eq!(model.by_mut("x").input_tokens, 1);
        assert_eq!(model.by_mut("y").input_tokens, 2);
        assert_eq!(model.by_value().input_tokens, 2);
    });
    let inputs: Vec<_> = captured
        .spans_named("chat")
        .iter()
        .map(|s| s.field("gen_ai.usage.input_tokens").clone())
        .collect();
    assert_eq!(
        inputs,
        [
            FieldValue::I64(4),
            FieldValue::I64(1),
            FieldValue::I64(2),
            FieldValue::I64(2)
        ]
    );
}

#[test]
fn return_values_are_unchanged() {
    let (_, captured) = capture(|| {
        let usage = Usage::new(5, 6).with_response_model("x");
        assert_eq!(generic(usage.clone(), [1, 2, 3]), usage);
        assert_eq!(
            impl_trait_arg(9_u32, vec!["a".to_owned()]),
            Usage::new(9, 0)
        );
        let tokens = 77_u64;
        // SAFETY: `tokens` lives on this stack frame for the whole call.
        assert_eq!(unsafe { read_tokens(&tokens) }.input_tokens, 77);
        assert_eq!(attributes_kept(), Usage::new(1, 2));
        let borrowed = Usage::new(8, 0);
        assert_eq!(lifetimes(&borrowed, "x"), Ok(&borrowed));
        assert_eq!(
            destructured(
                (1, 2),
                Model {
                    name: "abc",
                    seen: vec![]
                }
            ),
            Usage::new(6, 0)
        );
    });
    let tokens = |name: &str| {
        captured
            .span(name)
            .field("gen_ai.usage.input_tokens")
            .clone()
    };
    assert_eq!(tokens("chat generic"), FieldValue::I64(5));
    assert_eq!(tokens("chat impl-arg"), FieldValue::I64(9));
    assert_eq!(tokens("chat unsafe"), FieldValue::I64(77));
    assert_eq!(tokens("chat must-use"), FieldValue::I64(1));
    assert_eq!(tokens("chat lifetimes"), FieldValue::I64(8));
    assert_eq!(tokens("chat destructured"), FieldValue::I64(6));
}

#[test]
fn recursion_nests_spans() {
    #[ai_span(kind = "agent")]
    fn countdown(n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        1 + countdown(n - 1)
    }
    let (ret, captured) = capture(|| countdown(3));
    assert_eq!(ret, 3);
    let spans = captured.spans_named("invoke_agent countdown");
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0].parent, None);
    for pair in spans.windows(2) {
        assert_eq!(
            captured.parent_of(pair[1]).map(|p| p.name),
            Some(pair[0].name)
        );
    }
}
