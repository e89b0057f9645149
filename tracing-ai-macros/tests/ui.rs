//! Compile-time behaviour of `#[ai_span]`: every accepted shape compiles, every misuse fails
//! with the message checked in the `.stderr` beside it.
//!
//! rustc's wording changes between releases, so the snapshots are for one toolchain: refresh
//! them with `TRYBUILD=overwrite cargo test -p tracing-ai-macros --test ui` and review the diff.

#[rustversion::attr(not(stable(1.95)), ignore = "the .stderr snapshots are for rustc 1.95")]
#[test]
fn pass() {
    trybuild::TestCases::new().pass("tests/ui/pass/*.rs");
}

#[rustversion::attr(not(stable(1.95)), ignore = "the .stderr snapshots are for rustc 1.95")]
#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}
