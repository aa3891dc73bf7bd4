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

use crate::discovery::balancer::Strategy;
use crate::metrics::registry;
use crate::report::chart::{self, Chart};
use crate::report::fixed;
use crate::results::RunRecord;
use crate::rng::Seed;
use crate::scenario::{self, Override, Scenario, ScenarioError};
use crate::stats::mean_ci;

pub use crate::results::comparison::{Comparison, Row, Stat};

/// The comparison charts: p99 latency and success rate per strategy with
/// their 95 % confidence intervals, and the latency CDFs of replication 0
/// of every strategy overlaid.
pub fn charts(c: &Comparison, runs: &[RunRecord]) -> Vec<(&'static str, Chart)> {
    let bars = |metric: &str, scale: f64| -> Vec<(String, f64, f64)> {
        c.rows
            .iter()
            .map(|r| {
                let s = r.stat(metric);
                (r.strategy.to_string(), s.mean * scale, s.ci95 * scale)
            })
            .collect()
    };
    let firsts: Vec<(&str, &hdrhistogram::Histogram<u64>)> = runs
        .iter()
        .filter(|r| r.replication == 0)
        .map(|r| (r.variant.as_str(), &r.result.latency))
        .collect();
    vec![
        (
            "compare_p99",
            chart::bars_with_ci(
                "p99 latency by strategy (mean, 95 % CI)",
                "ms",
                &bars("latency_p99_ms", 1.0),
            ),
        ),
        (
            "compare_success",
            chart::bars_with_ci(
                "Success rate by strategy (mean, 95 % CI)",
                "%",
                &bars("success_rate", 100.0),
            ),
        ),
        ("compare_cdf", chart::cdf_overlay(&firsts)),
    ]
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
/// against the first strategy.
pub fn table(c: &Comparison) -> String {
    let base = c.baseline();
    let mut ranked: Vec<&Row> = c.rows.iter().collect();
    ranked.sort_by(|a, b| {
        a.stat("latency_p99_ms")
            .mean
            .total_cmp(&b.stat("latency_p99_ms").mean)
    });
    let mut rows = vec![vec![
        "rank".to_string(),
        "strategy".to_string(),
        "success %".to_string(),
        format!("Δ success pp vs {base}"),
        "p99 ms".to_string(),
        format!("Δ p99 ms vs {base}"),
        "mean ms".to_string(),
    ]];
    for (i, row) in ranked.iter().enumerate() {
        let sr = row.stat("success_rate");
        let p99 = row.stat("latency_p99_ms");
        let mean = row.stat("latency_mean_ms");
        let is_base = row.strategy == base;
        rows.push(vec![
            (i + 1).to_string(),
            row.strategy.to_string(),
            pm((sr.mean * 100.0, sr.ci95 * 100.0), 2),
            if is_base {
                "(baseline)".to_string()
            } else {
                signed_pm((sr.diff * 100.0, sr.diff_ci95 * 100.0), 2)
            },
            pm((p99.mean, p99.ci95), 3),
            if is_base {
                "(baseline)".to_string()
            } else {
                signed_pm((p99.diff, p99.diff_ci95), 3)
            },
            pm((mean.mean, mean.ci95), 3),
        ]);
    }
    let n = c.rows.len();
    let mut s = format!(
        "{} — {n} strateg{} × {} replication{} on common random numbers, seed {}\n",
        c.scenario,
        if n == 1 { "y" } else { "ies" },
        c.replications,
        if c.replications == 1 { "" } else { "s" },
        c.seed
    );
    s.push_str(&align(&rows, &[1]));
    s.push_str(&format!(
        "  ranked by mean p99; ± is a 95% CI; Δ is the paired difference against {base} \
         (mean of per-replication differences, t with R−1 df)\n"
    ));
    s
}

/// `mean ± half` with `d` decimals (no `±` part when the half-width is
/// unknown, as with one replication).
pub(crate) fn pm((mean, half): (f64, f64), d: usize) -> String {
    if half.is_finite() {
        format!("{} ± {}", fixed(mean, d), fixed(half, d))
    } else {
        fixed(mean, d)
    }
}

/// [`pm`] with an explicit `+` on a positive mean.
fn signed_pm((mean, half): (f64, f64), d: usize) -> String {
    let s = pm((mean, half), d);
    let zero = fixed(0.0, d);
    if s.starts_with('-') || s.starts_with(&zero) {
        s
    } else {
        format!("+{s}")
    }
}

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
