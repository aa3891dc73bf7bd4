//! Integration tests: one binary, files by topic.

mod charts;
mod cli;
mod determinism;
mod discovery;
mod orchestration;
mod scenario_errors;
mod support;
mod theory;
