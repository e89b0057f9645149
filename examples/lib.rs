//! The examples of tracing-ai live in this crate's `[[example]]` targets; run one with
//! `cargo run --example <name>` from the workspace root.
