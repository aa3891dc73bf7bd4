//! Compare: several balancer strategies on one scenario, each on the same
//! replications, ranked with confidence intervals.
//!
//! Why paired: replication `r` of every strategy uses the seed
//! `seed.replication(r)`, and a task's own randomness (its size as a
//! quantile, its priority, its failure draws) is drawn where it arises, so
//! on one seed every strategy sees the same tasks (common random numbers).
//! The difference between two strategies is then estimated from the
//! per-replication differences, whose spread leaves out most of the
//! seed-to-seed variation both strategies share: the interval is the usual
//! t interval of a mean, on the differences, with R − 1 degrees of freedom
//! (Law, *Simulation Modeling and Analysis*, "paired-t confidence
//! interval"; common random numbers as a variance-reduction technique).

use std::io;
use std::path::{Path, PathBuf};

use crate::discovery::balancer::Strategy;
use crate::metrics::registry;
use crate::report::{self, chart::Chart, compare_page};
use crate::results::RunRecord;
use crate::rng::Seed;
use crate::scenario::{self, Override, Scenario, ScenarioError};
use crate::stats::mean_ci;

pub use crate::results::comparison::{Comparison, Row, Stat};

/// The comparison charts (`report::compare_page::charts`): the forest plot
/// of paired differences, the pooled latency CDFs with their bands, p99
/// and success rate with their CIs, and each strategy's time series.
pub fn charts(sc: &Scenario, c: &Comparison, runs: &[RunRecord]) -> Vec<(String, Chart)> {
    compare_page::charts(sc, c, runs)
}

/// Write a compare directory into `dir`: the run CSVs of every run,
/// `comparison.csv`, the comparison charts, `report.html` (the compare
/// page) and `results.json`; returns the paths written.
pub fn write_reports(
    dir: &Path,
    sc: &Scenario,
    set: &[Override],
    c: &Comparison,
    runs: &[RunRecord],
) -> io::Result<Vec<PathBuf>> {
    let mut files = vec![("comparison.csv", report::csv::comparison(c))];
    files.extend(super::run_csvs(sc, runs));
    files.push((
        "results.json",
        super::results_json("compare", sc, set, runs, Some(c)),
    ));
    let mut written = report::write_files(dir, &files)?;
    let charts = charts(sc, c, runs);
    written.extend(report::chart::write_all(dir, &charts)?);
    let html = dir.join("report.html");
    let set: Vec<String> = set
        .iter()
        .map(|o| format!("{}={}", o.path, o.value))
        .collect();
    report::write_atomic(
        &html,
        compare_page::page(sc, &set, c, runs, &charts).as_bytes(),
    )?;
    written.push(html);
    Ok(written)
}

/// Why a comparison cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("`{0}` is listed twice in --strategies")]
    Duplicate(Strategy),
}

/// The scenario once per strategy: `spec` with `set`, then
/// `balancer.strategy` set to the strategy; `seed` replaces the root seed.
pub fn plan(
    spec: &str,
    set: &[Override],
    seed: Option<u64>,
    strategies: &[Strategy],
) -> Result<Vec<Scenario>, CompareError> {
    for (i, s) in strategies.iter().enumerate() {
        if strategies[..i].contains(s) {
            return Err(CompareError::Duplicate(*s));
        }
    }
    strategies
        .iter()
        .map(|s| {
            let mut overrides = set.to_vec();
            overrides.push(Override {
                path: "balancer.strategy".to_string(),
                value: s.as_str().to_string(),
            });
            let mut sc = scenario::load(spec, &overrides)?;
            if let Some(n) = seed {
                sc.seed = Seed(n);
            }
            Ok(sc)
        })
        .collect()
}

/// Run `replications` replications of every scenario (one per strategy) in
/// parallel; runs in strategy order, then replication order, each labelled
/// with its strategy.
pub fn run(scenarios: &[Scenario], replications: u32, progress: bool) -> Vec<RunRecord> {
    let points: Vec<(&Scenario, &str)> = scenarios
        .iter()
        .map(|sc| (sc, sc.balancer.strategy.as_str()))
        .collect();
    let indices: Vec<usize> = (0..scenarios.len() * replications as usize).collect();
    super::sweep::run_indexed(&points, replications, &indices, progress, |_, rec| rec)
}

/// The statistics of `runs` (strategy-major, `replications` per strategy).
pub fn compare(runs: &[RunRecord], strategies: &[Strategy], replications: u32) -> Comparison {
    let r = replications as usize;
    assert_eq!(
        runs.len(),
        strategies.len() * r,
        "{} runs for {} strategies × {r} replications",
        runs.len(),
        strategies.len()
    );
    let of = |s: usize| &runs[s * r..(s + 1) * r];
    let rows = strategies
        .iter()
        .enumerate()
        .map(|(s, &strategy)| {
            let stats = registry::named(registry::COMPARED)
                .map(|m| {
                    let xs: Vec<f64> = of(s).iter().map(|x| (m.get)(&x.result)).collect();
                    let diffs: Vec<f64> = of(s)
                        .iter()
                        .zip(of(0))
                        .map(|(x, base)| {
                            debug_assert_eq!(x.seed, base.seed, "paired runs share a seed");
                            (m.get)(&x.result) - (m.get)(&base.result)
                        })
                        .collect();
                    let (mean, ci95) = mean_ci(&xs);
                    let (diff, diff_ci95) = mean_ci(&diffs);
                    Stat {
                        mean,
                        ci95,
                        diff,
                        diff_ci95,
                    }
                })
                .collect();
            Row { strategy, stats }
        })
        .collect();
    Comparison {
        scenario: runs.first().map(|x| x.scenario.clone()).unwrap_or_default(),
        seed: runs.first().map_or(0, |x| x.seed),
        replications,
        rows,
    }
}

/// The terminal table: strategies ranked by mean p99 (lowest first), with
/// success rate and p99 as mean ± 95% CI and the paired differences
/// against the first strategy (`report::compare_page::ranking_rows`, which
/// the compare page shows too).
pub fn table(c: &Comparison) -> String {
    let n = c.rows.len();
    let mut s = format!(
        "{} — {n} strateg{} × {} replication{} on common random numbers, seed {}\n",
        c.scenario,
        if n == 1 { "y" } else { "ies" },
        c.replications,
        if c.replications == 1 { "" } else { "s" },
        c.seed
    );
    s.push_str(&align(&compare_page::ranking_rows(c), &[1]));
    s.push_str(&format!("  {}\n", compare_page::ranking_note(c)));
    s
}

pub(crate) use compare_page::pm;

/// Columns padded to their widest cell, the columns in `left`
/// left-aligned and the others right-aligned; each line indented by two.
pub(crate) fn align(rows: &[Vec<String>], left: &[usize]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = " ".repeat(width[c] - s.chars().count());
                if left.contains(&c) {
                    format!("{s}{pad}")
                } else {
                    format!("{pad}{s}")
                }
            })
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare_page::signed_pm;

    #[test]
    fn signs_and_alignment() {
        assert_eq!(signed_pm((1.5, 0.25), 2), "+1.50 ± 0.25");
        assert_eq!(signed_pm((-1.5, 0.25), 2), "-1.50 ± 0.25");
        assert_eq!(signed_pm((0.0, 0.0), 2), "0.00 ± 0.00");
        assert_eq!(pm((2.0, f64::NAN), 1), "2.0");
        let t = align(
            &[
                vec!["a".into(), "1".into()],
                vec!["bbb".into(), "22".into()],
            ],
            &[0],
        );
        assert_eq!(t, "  a     1\n  bbb  22\n");
    }
}
