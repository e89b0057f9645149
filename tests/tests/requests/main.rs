//! A request of many calls: its roll-up, agents and tools, content, evaluations and the console.
//!
//! One test binary for these files (each a module): linking one binary per file was most of a
//! fresh `.ci/run`.

mod console;
mod content;
mod evaluation;
mod handoff;
mod rollup;
mod tools_agents;
