//! Results: what the harness hands to the reports. A [`RunRecord`] is one
//! run's [`RunResult`] with its labels; a [`comparison`] holds the
//! statistics of strategies compared; [`shard`] describes which part of a
//! sweep a shard directory holds.
//!
//! Why a layer of its own: reports are pure functions of results, and the
//! harness both produces results and calls the reports. With the types in
//! between, `report` depends only on what lies below it and the harness on
//! `report`, never the other way round.

pub mod comparison;
pub mod shard;

use crate::metrics::RunResult;

/// One run and its labels.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub replication: u32,
    pub result: RunResult,
    /// Wall-clock time of the run (for `perf.csv` only).
    pub wall: std::time::Duration,
    /// The process's peak resident memory when the run ended, in bytes
    /// (Linux only; for `perf.csv` only).
    pub peak_rss: Option<u64>,
}
