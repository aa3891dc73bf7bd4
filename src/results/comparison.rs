//! The result of comparing balancer strategies on one scenario: per
//! strategy and per compared metric (`registry::COMPARED`), the mean over
//! replications and the paired difference against the first strategy, each
//! with its 95% confidence interval.
//!
//! The harness computes it (`harness::compare`, which explains the paired
//! design); `report::csv::comparison` writes it as `comparison.csv`.

use crate::discovery::balancer::Strategy;
use crate::metrics::registry;

/// One metric of one strategy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Mean over replications, and the half-width of its 95% CI.
    pub mean: f64,
    pub ci95: f64,
    /// Mean of the per-replication differences against the first strategy,
    /// and the half-width of its 95% CI (t with R − 1 df).
    pub diff: f64,
    pub diff_ci95: f64,
}

/// One strategy's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub strategy: Strategy,
    /// In [`registry::COMPARED`] order.
    pub stats: Vec<Stat>,
}

impl Row {
    /// The statistics of the metric called `name`.
    pub fn stat(&self, name: &str) -> Stat {
        let i = registry::COMPARED
            .iter()
            .position(|&m| m == name)
            .unwrap_or_else(|| panic!("no metric called {name}"));
        self.stats[i]
    }
}

/// A whole comparison: rows in the order the strategies were given; the
/// first is the baseline of the differences.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub scenario: String,
    pub seed: u64,
    pub replications: u32,
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn baseline(&self) -> Strategy {
        self.rows[0].strategy
    }
}
