//! The macro and the layer on one call: its span, fields, usage, errors, streams and retries.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod async_fn;
mod async_trait;
mod audio;
mod composition;
mod construction;
mod err;
mod error_type;
mod estimate;
mod fields;
mod fmt;
mod kind;
mod layer;
mod never;
mod no_usage;
mod not_money;
mod overrides;
mod record;
mod retry;
mod secrets;
mod shapes;
mod span_events;
mod stream;
mod stream_ancestors;
mod usage;
