//! The harness: runs (one, or replications in parallel with rayon), their
//! reports on disk, and the terminal summary.
//!
//! Parallelism is across runs only; each run is single-threaded and results
//! are collected in replication order, so the files are the same whatever
//! the number of threads. Wall-clock time is measured here and reaches only
//! `perf.csv`. Comparisons of strategies are in [`compare`], grids of
//! variants, shards and their merge in [`sweep`].

pub mod compare;
pub mod sweep;

pub mod check;
pub mod diff;
pub mod precision;
pub mod swarm;
pub mod trace;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::metrics::registry;
use crate::report::{self, fixed};
use crate::scenario::{Override, Scenario};
use crate::world;

pub use crate::results::RunRecord;
pub use crate::stats::{mean_ci, t95};

/// The peak resident set size of this process so far (`VmHWM` in
/// `/proc/self/status`), where the platform reports it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Run replication `replication` of `sc`.
pub fn run_one(sc: &Scenario, variant: &str, replication: u32) -> RunRecord {
    run_one_with_progress(sc, variant, replication, &mut |_| {})
}

/// [`run_one`], reporting the fraction of simulated time done.
pub fn run_one_with_progress(
    sc: &Scenario,
    variant: &str,
    replication: u32,
    progress: &mut dyn FnMut(f64),
) -> RunRecord {
    run_one_opts(sc, variant, replication, false, progress)
}

/// [`run_one_with_progress`], keeping the latency series of the run
/// (`RunResult::latency_series`) when `keep_series`.
pub fn run_one_opts(
    sc: &Scenario,
    variant: &str,
    replication: u32,
    keep_series: bool,
    progress: &mut dyn FnMut(f64),
) -> RunRecord {
    let mut rec = run_alone(sc, variant, replication, keep_series, progress);
    rec.result.compact();
    rec
}

/// [`run_one_opts`] for the only run a command keeps: its per-agent
/// results stay in the memory the agents had (see `RunResult::compact`).
fn run_alone(
    sc: &Scenario,
    variant: &str,
    replication: u32,
    keep_series: bool,
    progress: &mut dyn FnMut(f64),
) -> RunRecord {
    timed_run(sc, variant, replication, |seed| {
        let mut world = world::World::new(sc, seed);
        if keep_series {
            world = world.keep_latency_series();
        }
        world.run_with_progress(progress)
    })
}

/// Replication `replication` of `sc`, run by `run` on its seed, with its
/// wall time and the process's peak RSS after it.
fn timed_run(
    sc: &Scenario,
    variant: &str,
    replication: u32,
    run: impl FnOnce(crate::rng::Seed) -> crate::metrics::RunResult,
) -> RunRecord {
    let seed = sc.seed.replication(replication);
    let started = WallClock::now();
    let result = run(seed);
    RunRecord {
        scenario: sc.name.clone(),
        variant: variant.to_string(),
        seed: seed.0,
        replication,
        result,
        wall: started.elapsed(),
        peak_rss: peak_rss(),
    }
}

/// A run met a problem that makes its results invalid.
#[derive(Debug, thiserror::Error)]
#[error("{scenario}, replication {replication}: {message}")]
pub struct RunFailed {
    pub scenario: String,
    pub replication: u32,
    pub message: String,
}

/// The first run of `runs` whose results are invalid, as an error.
pub fn check_runs(runs: &[RunRecord]) -> Result<(), RunFailed> {
    match runs.iter().find(|r| !r.result.errors.is_empty()) {
        None => Ok(()),
        Some(r) => Err(RunFailed {
            scenario: r.scenario.clone(),
            replication: r.replication,
            message: r.result.errors.join("; "),
        }),
    }
}

/// Should progress be shown? Only on a terminal, and never in CI.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("CI").is_none() && io::stderr().is_terminal()
}

/// Run `replications` replications in parallel, results in replication order.
pub fn run_replications(
    sc: &Scenario,
    variant: &str,
    replications: u32,
    progress: bool,
) -> Vec<RunRecord> {
    run_replications_opts(sc, variant, replications, false, progress)
}

/// [`run_replications`], keeping each run's latency series when
/// `keep_series` (for batch means).
pub fn run_replications_opts(
    sc: &Scenario,
    variant: &str,
    replications: u32,
    keep_series: bool,
    progress: bool,
) -> Vec<RunRecord> {
    if replications == 1 {
        // One run: a bar over simulated time.
        const STEPS: u64 = 1000;
        let bar = if progress {
            progress_bar(STEPS, "{percent}% of simulated time", &sc.name)
        } else {
            ProgressBar::hidden()
        };
        let rec = run_alone(sc, variant, 0, keep_series, &mut |f| {
            bar.set_position((f * STEPS as f64) as u64)
        });
        bar.finish_and_clear();
        return vec![rec];
    }
    // Several runs: a bar over finished runs.
    let bar = if progress {
        progress_bar(u64::from(replications), "{pos}/{len} runs", &sc.name)
    } else {
        ProgressBar::hidden()
    };
    let runs = precision::run_range(sc, variant, 0..replications, keep_series, &bar);
    bar.finish_and_clear();
    runs
}

/// [`run_replications`] with the event log and records of
/// `trace.options` streamed into `dir` as each run goes (one set of files
/// per replication, see `harness/trace.rs`); no progress bar.
pub fn run_replications_traced(
    sc: &Scenario,
    variant: &str,
    replications: u32,
    dir: &Path,
    options: &trace::TraceOptions,
) -> io::Result<Vec<RunRecord>> {
    (0..replications)
        .into_par_iter()
        .map(|r| {
            let mut sink = trace::CsvSink::create(dir, options, r, replications)?;
            let mut run = timed_run(sc, variant, r, |seed| {
                world::World::new(sc, seed).with_sink(&mut sink).run()
            });
            run.result.compact();
            sink.finish()?;
            Ok(run)
        })
        .collect()
}

/// A bar on stderr: `{spinner} name [====>   ] <what> (eta)`.
fn progress_bar(len: u64, what: &str, name: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{msg}} [{{bar:30}}] {what} ({{eta}})"
        ))
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar
}

/// The CSV files of a run directory: [`report::csv::RUN_FILES`]
/// (`summary.csv`, `agents.csv`, `timeseries.csv`, `bus.csv`, `calls.csv`
/// and `perf.csv`), and `jobs.csv` when there are jobs and `tiers.csv`
/// when the fleet changes.
pub fn run_csvs(sc: &Scenario, runs: &[RunRecord]) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = run_csvs_but_agents(sc, runs);
    files.insert(1, ("agents.csv", report::csv::agents(sc, runs)));
    files
}

/// [`run_csvs`] without `agents.csv`, the one that grows with the fleet.
fn run_csvs_but_agents(sc: &Scenario, runs: &[RunRecord]) -> Vec<(&'static str, Vec<u8>)> {
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("summary.csv", report::csv::summary(runs)),
        ("timeseries.csv", report::csv::timeseries(runs)),
        ("bus.csv", report::csv::bus(runs)),
        ("calls.csv", report::csv::calls(runs)),
        ("perf.csv", report::csv::perf(runs)),
    ];
    if !sc.workload.jobs.is_empty() {
        files.push(("jobs.csv", report::csv::jobs(sc, runs)));
    }
    if sc.fleet_changes() {
        files.push(("tiers.csv", report::csv::tiers(sc, runs)));
    }
    files
}

/// Write the CSVs of [`run_csvs`] into `dir` (`agents.csv` streamed, not
/// built whole), then the charts (`charts/NAME.svg` and `.png`, names in
/// [`report::chart::RUN_CHARTS`]) and `report.html`, each atomically;
/// returns the paths written.
pub fn write_run_reports(
    dir: &Path,
    sc: &Scenario,
    runs: &[RunRecord],
) -> io::Result<Vec<PathBuf>> {
    let mut written = report::write_files(dir, &run_csvs_but_agents(sc, runs))?;
    let agents = dir.join("agents.csv");
    report::write_atomic_with(&agents, |w| report::csv::write_agents(w, sc, runs))?;
    written.insert(1, agents);
    let charts = report::chart::run_charts(sc, runs);
    written.extend(report::chart::write_all(dir, &charts)?);
    let html = dir.join("report.html");
    report::write_atomic(
        &html,
        report::html::run_report(sc, runs, &charts).as_bytes(),
    )?;
    written.push(html);
    Ok(written)
}

/// `results.json` of `runs` of `sc` (docs/outputs.md, "results.json"):
/// `command` is `run` or `compare`, `set` the `--set` overrides given.
pub fn results_json(
    command: &str,
    sc: &Scenario,
    set: &[Override],
    runs: &[RunRecord],
    comparison: Option<&compare::Comparison>,
) -> Vec<u8> {
    let set: Vec<String> = set
        .iter()
        .map(|o| format!("{}={}", o.path, o.value))
        .collect();
    let meta = report::json::Meta {
        command,
        scenario: &sc.name,
        source: &sc.origin.file,
        scenario_hash: sc.origin.hash,
        seed: sc.seed.0,
        set: &set,
        replications: runs.iter().map(|r| r.replication + 1).max().unwrap_or(0),
    };
    report::json::results(&meta, &report::csv::summary(runs), comparison, None)
        .unwrap_or_else(|e| panic!("summary.csv as written cannot be read back: {e}"))
        .into_bytes()
}

/// The default report directory of a scenario.
pub fn default_out_dir(sc: &Scenario) -> PathBuf {
    Path::new("reports").join(&sc.name)
}

/// The terminal summary: one value per metric of `registry::SUMMARY` for a
/// single run, mean ± 95% CI over replications.
pub fn summary_table(sc: &Scenario, runs: &[RunRecord]) -> String {
    let mut out = String::new();
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let agents = sc.agent_count() as usize;
    out.push_str(&format!(
        "{} — {agents} agent{}, {} run{}, seed {}\n",
        sc.name,
        s(agents),
        runs.len(),
        s(runs.len()),
        sc.seed.0
    ));
    for m in registry::named(registry::SUMMARY) {
        let xs: Vec<f64> = runs.iter().map(|r| m.shown(&r.result)).collect();
        let (mean, half) = mean_ci(&xs);
        let d = m.decimals;
        let value = if runs.len() > 1 {
            format!("{} ± {}", fixed(mean, d), fixed(half, d))
        } else {
            fixed(mean, d)
        };
        out.push_str(&format!("  {:<18} {value:>16}\n", m.label));
    }
    let events: u64 = runs.iter().map(|r| r.result.events).sum();
    let wall: f64 = runs.iter().map(|r| r.wall.as_secs_f64()).sum();
    if wall > 0.0 {
        out.push_str(&format!(
            "  {:<18} {:>16}\n",
            "events/s",
            fixed(events as f64 / wall, 0)
        ));
    }
    out
}
