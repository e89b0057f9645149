//! The real client crates under `#[ai_span]`, and trace context across real HTTP.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod async_openai;
mod genai;
mod ollama_rs;
mod propagation;
mod rig_core;
