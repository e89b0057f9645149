//! Estimated usage, for the calls a provider bills but never reported usage for: a stream the
//! client dropped before its last chunk, a self-hosted server that reports no counts.
//!
//! Without an estimate such a call has no cost, and a tenant's spend silently reads low. With a
//! [`TokenEstimator`] on the layer, an `#[ai_span]` call that has an `input = ...` keeps its
//! input's text until it ends; if it ends without usage, the layer counts the input's tokens
//! with the estimator, takes one output token per chunk its stream yielded (a provider's
//! stream sends about one token a chunk), and prices that. The span then says so:
//!
//! | attribute | value |
//! |---|---|
//! | `gen_ai.usage.cost` | the estimated cost |
//! | `ai.cost.source` | `estimated` (also a label of the `ai.client.cost` metric) |
//! | `ai.usage.estimated.input_tokens`, `.output_tokens` | the counts it was priced by |
//! | `ai.cost.estimated_because` | why there was no usage to price |
//!
//! The reported usage attributes (`gen_ai.usage.*_tokens`) are never written from an
//! estimate, and the request's roll-up says which share of its cost is estimated
//! (`ai.request.cost_estimated`). A call that failed is not estimated: most failures (a rate
//! limit, a bad request) are refused before any work and not billed; it stays unpriced, and
//! counted in `ai.client.unpriced_calls`.
//!
//! ```
//! use tracing_ai::AiLayer;
//!
//! // The seed's own tokenizer for a self-hosted model, as a closure: `None` for the models it
//! // does not know.
//! let layer = AiLayer::builder()
//!     .with_token_estimator(|model: &str, text: &str| {
//!         (model == "llama-3.1-8b-fp8").then(|| text.split_whitespace().count() as u64)
//!     })
//!     .build()?;
//! # Ok::<(), tracing_ai::ConfigError>(())
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::content::{InputContent, Message, Part};

/// Counts the tokens a text makes for a model, to estimate the usage of a call that reported
/// none. Implemented for closures `Fn(&str, &str) -> Option<u64>` (model, text) and, with the
/// `tiktoken-rs` feature, by [`Tiktoken`] for OpenAI's models.
pub trait TokenEstimator: Send + Sync + 'static {
    /// The tokens `text` makes for `model`; `None` when this estimator does not know the
    /// model's tokenizer (the call then stays unpriced).
    fn count_tokens(&self, model: &str, text: &str) -> Option<u64>;

    /// Called once when the layer is built: load what the first count would otherwise load
    /// when a span closes (a tokenizer's tables), off the thread that builds the layer. Does
    /// nothing by default.
    fn warm_up(&self) {}
}

impl<F> TokenEstimator for F
where
    F: Fn(&str, &str) -> Option<u64> + Send + Sync + 'static,
{
    fn count_tokens(&self, model: &str, text: &str) -> Option<u64> {
        self(model, text)
    }
}

/// OpenAI's tokenizers, as `tiktoken-rs` ships them (o200k_base for the gpt-4o and o-series
/// models, cl100k_base for gpt-4, gpt-3.5 and the text-embedding-3 models, ...), picked by the
/// model's name; `None` for a model it does not know.
///
/// ```
/// use tracing_ai::estimate::{Tiktoken, TokenEstimator};
///
/// assert_eq!(Tiktoken.count_tokens("gpt-4o-mini", "Hello, world!"), Some(4));
/// assert_eq!(Tiktoken.count_tokens("llama-3.1-8b-fp8", "Hello, world!"), None);
/// ```
#[cfg(feature = "tiktoken-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "tiktoken-rs")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Tiktoken;

#[cfg(feature = "tiktoken-rs")]
impl TokenEstimator for Tiktoken {
    fn count_tokens(&self, model: &str, text: &str) -> Option<u64> {
        let bpe = tiktoken_rs::bpe_for_model(model).ok()?;
        u64::try_from(bpe.encode_ordinary(text).len()).ok()
    }

    /// Loads o200k_base and cl100k_base (a few hundred milliseconds in a debug build) on a
    /// thread of its own: the first estimate then finds them loaded rather than stalling the
    /// thread that closes its span.
    fn warm_up(&self) {
        let _ = std::thread::Builder::new()
            .name("tracing-ai-tiktoken".to_owned())
            .spawn(|| {
                tiktoken_rs::o200k_base_singleton();
                tiktoken_rs::cl100k_base_singleton();
            });
    }
}

/// A layer's estimator, shared.
#[derive(Clone)]
pub(crate) struct Estimator(pub(crate) Arc<dyn TokenEstimator>);

impl std::fmt::Debug for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Estimator")
    }
}

/// Whether some layer ever had an estimator: until then, an `input = ...` costs nothing more.
static EVER_ON: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_ever_on() {
    EVER_ON.store(true, Ordering::Relaxed);
}

pub(crate) fn is_ever_on() -> bool {
    EVER_ON.load(Ordering::Relaxed)
}

/// The text of `input` a tokenizer counts: its system instructions and its messages' texts,
/// tool calls and tool responses, a line each.
pub(crate) fn text_of<T: InputContent + ?Sized>(input: &T) -> String {
    let mut text = String::new();
    let instructions = input.system_instructions();
    let messages = input.input_messages();
    let parts = instructions
        .iter()
        .chain(messages.iter().flat_map(Message::parts));
    for part in parts {
        let piece = match part {
            Part::Text(text) | Part::Reasoning(text) => text.as_str(),
            Part::ToolCall { arguments, .. } => arguments.as_deref().unwrap_or_default(),
            Part::ToolCallResponse { response, .. } => response.as_str(),
        };
        if !piece.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(piece);
        }
    }
    text
}

/// The usage a call was priced by when it reported none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) input: u64,
    pub(crate) output: u64,
    /// Why there was no usage: the unpriced reason it replaces.
    pub(crate) reason: &'static str,
}
