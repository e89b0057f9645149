//! Metrics, sampling, and the exported names against the conventions.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod conformance;
mod metrics;
mod sampling;
mod weaver_registry;
