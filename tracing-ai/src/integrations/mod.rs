//! Client crates, each behind a feature named after it: their responses report their usage
//! and their errors say what kind of failure they are, with no glue in the user's code (which
//! the orphan rule would forbid anyway).
//!
//! | feature | crate | what it gets |
//! | --- | --- | --- |
//! | `async-openai` | [async-openai](https://docs.rs/async-openai) 0.43 | chat completions and responses (whole and streamed), embeddings: usage with cached and reasoning tokens, response model and id; `OpenAIError` as `error.type`; [`async_openai::AttemptLayer`]: a span per HTTP attempt under its retries |
//! | `ollama-rs` | [ollama-rs](https://docs.rs/ollama-rs) 0.3 | chat and generation responses: `prompt_eval_count`, `eval_count`, response model; `OllamaError` as `error.type` |
//! | `genai` | [genai](https://docs.rs/genai) 0.7 | `ChatResponse`; the `chat` spans of genai's own `otel` feature are priced with no annotation |

#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod async_openai;
#[cfg(feature = "genai")]
mod genai;
#[cfg(feature = "ollama-rs")]
mod ollama_rs;
