//! The statistics the harness applies around runs: warm-up detection
//! (`warmup = "auto"`), batch means of one long run (`--batch-means`) and
//! replications to a target precision (`--target-ci`).
//!
//! The arithmetic lives in [`crate::stats`] (MSER-5 in `stats::mser`,
//! batch means in `stats::batch`, targets in `stats::target`, each with
//! its sources); this file decides which runs it reads and in what order.
//!
//! - Warm-up: replication 0 is run once with the window starting at 0,
//!   keeping every completed task's latency. MSER-5 reads them in
//!   **arrival order**, because that is the order the window is defined
//!   in: a task is measured when it *arrives* after the warm-up, so a
//!   truncation after `d` observations maps exactly onto a time, the
//!   arrival of the first observation kept. (In completion order, tasks
//!   that arrived early but finished late would straddle the cut.) That
//!   time becomes `warmup` for every replication, replication 0 included,
//!   which is then run again like the others.
//! - Batch means read each replication's latencies in completion order
//!   (the order a single server's output appears, which is what the batch
//!   correlation argument is about).
//! - Target precision runs replications in batches of `stats::target::STEP`
//!   and evaluates the targets only at those fixed checkpoints, so the
//!   result is the same whatever the number of threads.

use std::ops::Range;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::{RunRecord, progress_bar, run_one_opts};
use crate::scenario::Scenario;
use crate::stats::batch::{self, BatchMeans};
use crate::stats::mser;
use crate::stats::target::{self, Standing, Target};
use crate::time::{Duration, NS_PER_MS};

/// What `warmup = "auto"` chose.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupChoice {
    /// The start of the measured window now set in the scenario.
    pub warmup: Duration,
    /// Completed tasks of replication 0 dropped, and in all.
    pub dropped: usize,
    pub observations: usize,
    /// MSER-5's minimum was at the end of the first half of the series:
    /// the run may be too short to see the end of the transient.
    pub at_limit: bool,
}

/// When `sc` has `warmup = "auto"`, run replication 0 with the window at
/// 0, apply MSER-5 to its latencies in arrival order and set
/// `sc.warmup` to the arrival time of the first task kept (0 when none
/// are dropped, or when there are fewer than 10 completed tasks). `None`
/// when the scenario's warm-up is a duration.
pub fn detect_warmup(sc: &mut Scenario) -> Option<WarmupChoice> {
    if !sc.warmup_auto {
        return None;
    }
    sc.warmup = Duration::ZERO;
    let rec = run_one_opts(sc, "warmup", 0, true, &mut |_| {});
    let mut series = rec.result.latency_series;
    // Stable: tasks arriving together stay in completion order.
    series.sort_by_key(|o| o.arrival);
    let xs: Vec<f64> = series.iter().map(|o| o.latency_ns as f64).collect();
    let choice = match mser::mser5(&xs) {
        Some(t) if t.observations > 0 => WarmupChoice {
            warmup: Duration(series[t.observations].arrival.0),
            dropped: t.observations,
            observations: xs.len(),
            at_limit: t.at_limit,
        },
        t => WarmupChoice {
            warmup: Duration::ZERO,
            dropped: 0,
            observations: xs.len(),
            at_limit: t.is_some_and(|t| t.at_limit),
        },
    };
    sc.warmup = choice.warmup;
    Some(choice)
}

/// The terminal line of a detected warm-up.
pub fn warmup_line(c: &WarmupChoice) -> String {
    let mut line = format!(
        "warm-up (auto, MSER-5 on replication 0): {} s, {} of {} completed tasks dropped",
        crate::report::fixed(c.warmup.as_secs_f64(), 3),
        c.dropped,
        c.observations
    );
    if c.at_limit {
        line.push_str(
            "\nwarning: the truncation is at the end of the first half of the run; the transient may be longer: run longer",
        );
    }
    line
}

/// Batch means of the mean latency (ms) of each run's measured completed
/// tasks in completion order, in `batches` batches; `None` for a run with
/// fewer tasks than batches. Frees the runs' latency series.
pub fn batch_means(runs: &mut [RunRecord], batches: u32) -> Vec<(u32, Option<BatchMeans>)> {
    runs.iter_mut()
        .map(|r| {
            let xs: Vec<f64> = r
                .result
                .latency_series
                .iter()
                .map(|o| o.latency_ns as f64 / NS_PER_MS as f64)
                .collect();
            r.result.latency_series = Vec::new();
            (r.replication, batch::batch_means(&xs, batches))
        })
        .collect()
}

/// The terminal lines of batch means, one per replication.
pub fn batch_means_lines(bms: &[(u32, Option<BatchMeans>)], batches: u32) -> String {
    let mut out = format!(
        "batch means of latency (ms), {batches} batches, 95% CI; lag-1 autocorrelation vs ±{} (1.96/√k):\n",
        crate::report::fixed(batch::lag1_threshold(batches), 3)
    );
    for (rep, bm) in bms {
        match bm {
            None => out.push_str(&format!(
                "  replication {rep}: fewer completed tasks than batches, no estimate\n"
            )),
            Some(b) => {
                out.push_str(&format!(
                    "  replication {rep}: {} ± {} ms (batches of {}), lag-1 {}\n",
                    crate::report::fixed(b.mean, 3),
                    crate::report::fixed(b.half_width, 3),
                    b.batch_size,
                    crate::report::fixed(b.lag1, 3)
                ));
                if b.lag1_significant {
                    out.push_str(&format!(
                        "  warning: replication {rep}'s batch means are correlated (lag-1 {} > {}): the interval is too narrow; run longer or use fewer batches\n",
                        crate::report::fixed(b.lag1, 3),
                        crate::report::fixed(batch::lag1_threshold(batches), 3)
                    ));
                }
            }
        }
    }
    out
}

/// How a run to a target precision ended.
#[derive(Clone, Debug)]
pub struct Precision {
    pub targets: Vec<Target>,
    /// Each target's standing at the last checkpoint.
    pub standings: Vec<Standing>,
    pub replications: u32,
    pub max_replications: u32,
    /// Every target met (else the maximum was reached first).
    pub met: bool,
}

/// Run replications of `sc` in batches up to each checkpoint of
/// `stats::target::checkpoints(max)` until every target is met, or the
/// maximum is reached. Replication `i` always runs on the seed of
/// replication `i`; results are in replication order.
pub fn run_to_precision(
    sc: &Scenario,
    variant: &str,
    targets: &[Target],
    max: u32,
    keep_series: bool,
    progress: bool,
) -> (Vec<RunRecord>, Precision) {
    let bar = if progress {
        progress_bar(u64::from(max), "{pos}/{len} runs (at most)", &sc.name)
    } else {
        ProgressBar::hidden()
    };
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut standings = Vec::new();
    let mut met = false;
    for cp in target::checkpoints(max) {
        runs.extend(run_range(
            sc,
            variant,
            runs.len() as u32..cp,
            keep_series,
            &bar,
        ));
        standings = targets
            .iter()
            .map(|t| {
                let xs: Vec<f64> = runs.iter().map(|r| (t.metric.get)(&r.result)).collect();
                t.standing(&xs)
            })
            .collect::<Vec<_>>();
        met = standings.iter().all(|s| s.met);
        if met {
            break;
        }
    }
    bar.finish_and_clear();
    let precision = Precision {
        targets: targets.to_vec(),
        standings,
        replications: runs.len() as u32,
        max_replications: max,
        met,
    };
    (runs, precision)
}

/// Replications `range` of `sc` in parallel, in replication order.
pub fn run_range(
    sc: &Scenario,
    variant: &str,
    range: Range<u32>,
    keep_series: bool,
    bar: &ProgressBar,
) -> Vec<RunRecord> {
    range
        .into_par_iter()
        .map(|r| {
            let rec = run_one_opts(sc, variant, r, keep_series, &mut |_| {});
            bar.inc(1);
            rec
        })
        .collect()
}

/// The terminal lines of a run to a target precision.
pub fn precision_lines(p: &Precision) -> String {
    let mut out = if p.met {
        format!(
            "target precision met after {} replications (checked every {}):\n",
            p.replications,
            target::STEP
        )
    } else {
        format!(
            "target precision NOT met: stopped at --max-replications {}:\n",
            p.max_replications
        )
    };
    for (t, s) in p.targets.iter().zip(&p.standings) {
        out.push_str(&format!(
            "  {:<18} ± {} (target {}) {}\n",
            t.metric.name,
            t.show(s.half_width, s.mean),
            t.width_text(),
            if s.met { "met" } else { "not met" }
        ));
    }
    out
}
