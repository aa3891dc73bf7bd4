//! `fleetsim swarm`: swarm testing of the whole simulator. Each seed draws
//! a random but valid scenario ([`generate`]: a random subset of the
//! features, then random details), runs it twice and checks the
//! simulator's invariants after each run and between the two.
//!
//! The idea is TigerBeetle's VOPR (a seed-driven simulator run over and
//! over, every failure replayable from its seed) combined with the swarm
//! testing of Groce et al. (ISSTA 2012): each seed enables only some
//! features, which finds more bugs than always enabling all of them. The
//! scenario is TOML text, so it goes through the same parser and
//! validator as a user's file and a failing one can be saved and rerun
//! with `fleetsim run`.
//!
//! Checked after every run ([`check_run`]):
//! - tasks: submitted = completed + failed + rejected + cancelled, failed =
//!   the sum of failures by cause, and no task ended twice;
//! - messages, per kind (`bus.csv`): delivered + lost ≤ sent (the rest
//!   were still on the wire when the run ended) and timed out ≤ sent;
//! - calls, per capability (`calls.csv`): completed + failed + cancelled =
//!   calls, failed = the sum by cause, attempts ≥ calls that got an
//!   outcome other than a cancellation;
//! - time: no event handled before the previous one (a counter in the run
//!   loop), and none scheduled before now (the engine refuses it; the world
//!   panics, and a panic is a failure here);
//! - breakers and health monitors changed state only along their legal
//!   transitions (`discovery::breaker::legal`, `discovery::health::legal`);
//! - gauges in `timeseries.csv` stay within bounds (in flight and queued
//!   never above the tasks submitted, agent counts never above the agents
//!   there were): a counter that went below zero would wrap far beyond;
//! - no run error (a trace read after it was checked).
//!
//! Between the two runs: every CSV a run writes (summary, agents,
//! timeseries, bus, calls, jobs, tiers; not perf.csv) is byte-identical.

pub mod generate;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::metrics::RunResult;
use crate::report;
use crate::scenario::{self, Scenario};

pub use generate::{Generated, generate};

/// What one seed gave.
#[derive(Clone, Debug)]
pub struct SeedReport {
    pub seed: u64,
    /// Runs made (0 if the scenario did not load, 1 if the first panicked).
    pub runs: u32,
    pub features: BTreeSet<&'static str>,
    /// Broken invariants, one line each; empty when the seed passed.
    pub failures: Vec<String>,
    /// The scenario, kept for a failed seed (and for `--save`).
    pub generated: Generated,
}

/// What a whole swarm gave.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub runs: u64,
    /// For each feature, how many seeds used it.
    pub features: BTreeMap<&'static str, u64>,
    /// The seeds that failed, in seed order.
    pub failed: Vec<SeedReport>,
}

impl Summary {
    fn add(mut self, r: SeedReport, keep: bool) -> Summary {
        self.seeds += 1;
        self.runs += u64::from(r.runs);
        for f in &r.features {
            *self.features.entry(f).or_insert(0) += 1;
        }
        if keep || !r.failures.is_empty() {
            self.failed.push(r);
        }
        self
    }

    fn merge(mut self, other: Summary) -> Summary {
        self.seeds += other.seeds;
        self.runs += other.runs;
        for (f, n) in other.features {
            *self.features.entry(f).or_insert(0) += n;
        }
        self.failed.extend(other.failed);
        self
    }
}

/// Run seeds `start .. start + seeds` on `jobs` threads (default: one per
/// core); `progress` is called once per finished seed. With `keep_all`
/// every seed's report is kept (for `--save` of a single seed), else only
/// failed ones.
pub fn run(
    start: u64,
    seeds: u64,
    jobs: Option<usize>,
    keep_all: bool,
    progress: &(dyn Fn() + Sync),
) -> Summary {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .expect("a thread pool can be built");
    // Panics are failures reported with their seed: keep the default hook
    // from printing each one in the middle of the progress.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut summary = pool.install(|| {
        (start..start.saturating_add(seeds))
            .into_par_iter()
            .map(|seed| {
                let r = run_seed(seed);
                progress();
                r
            })
            .fold(Summary::default, |s, r| s.add(r, keep_all))
            .reduce(Summary::default, Summary::merge)
    });
    std::panic::set_hook(hook);
    summary.failed.sort_by_key(|r| r.seed);
    summary
}

/// Generate, load, run twice and check seed `seed`.
pub fn run_seed(seed: u64) -> SeedReport {
    let generated = generate(seed);
    let mut report = SeedReport {
        seed,
        runs: 0,
        features: generated.features.clone(),
        failures: Vec::new(),
        generated,
    };
    // A trace scenario needs its file beside it: both go to a scratch
    // directory for the two runs (the trace is read during the run).
    let scratch = report.generated.trace.as_ref().map(|_| {
        std::env::temp_dir().join(format!("fleetsim-swarm-{}-{seed}", std::process::id()))
    });
    let loaded: Result<Scenario, String> = match &scratch {
        None => scenario::load_str(
            &format!("swarm-{seed}.toml"),
            "swarm",
            &report.generated.toml,
            &[],
        )
        .map_err(|e| e.to_string()),
        Some(dir) => write_scenario(dir, &report.generated, seed)
            .map_err(|e| format!("cannot write the scenario to {}: {e}", dir.display()))
            .and_then(|path| scenario::load_file(&path, &[]).map_err(|e| e.to_string())),
    };
    match loaded {
        Err(e) => report
            .failures
            .push(format!("the generated scenario is invalid: {e}")),
        Ok(sc) => check_seed(&sc, &mut report),
    }
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    report
}

/// Run `sc` twice, check each run and compare their files.
fn check_seed(sc: &Scenario, report: &mut SeedReport) {
    let mut files = Vec::new();
    for run in ["first", "second"] {
        let rec = match catch_unwind(AssertUnwindSafe(|| super::run_one(sc, "swarm", 0))) {
            Ok(rec) => rec,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".to_string());
                report
                    .failures
                    .push(format!("the {run} run panicked: {msg}"));
                return;
            }
        };
        report.runs += 1;
        for f in check_run(sc, &rec.result) {
            report.failures.push(format!("{run} run: {f}"));
        }
        files.push(csv_files(sc, std::slice::from_ref(&rec)));
    }
    for ((name, a), (_, b)) in files[0].iter().zip(&files[1]) {
        if a != b {
            let line = a
                .split(|&c| c == b'\n')
                .zip(b.split(|&c| c == b'\n'))
                .position(|(x, y)| x != y)
                .map_or_else(|| "in length".to_string(), |i| format!("at line {}", i + 1));
            report.failures.push(format!(
                "replay: {name} differs between the two runs {line}"
            ));
        }
    }
}

/// Every CSV a run writes except `perf.csv` (wall-clock figures).
fn csv_files(sc: &Scenario, runs: &[super::RunRecord]) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![
        ("summary.csv", report::csv::summary(runs)),
        ("agents.csv", report::csv::agents(sc, runs)),
        ("timeseries.csv", report::csv::timeseries(runs)),
        ("bus.csv", report::csv::bus(runs)),
        ("calls.csv", report::csv::calls(runs)),
    ];
    if !sc.workload.jobs.is_empty() {
        files.push(("jobs.csv", report::csv::jobs(sc, runs)));
    }
    if sc.fleet_changes() {
        files.push(("tiers.csv", report::csv::tiers(sc, runs)));
    }
    files
}

/// The invariants one run must keep (see the module docs); one line per
/// breach.
pub fn check_run(sc: &Scenario, r: &RunResult) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    // Tasks.
    expect(
        r.conserved(),
        format!(
            "tasks: submitted {} != completed {} + failed {} + rejected {} + cancelled {}",
            r.submitted, r.completed, r.failed, r.rejected, r.cancelled
        ),
    );
    let by_cause: u64 = r.failed_by.iter().sum();
    expect(
        by_cause == r.failed,
        format!("tasks: failed {} != {by_cause}, the sum by cause", r.failed),
    );
    let inv = r.invariants;
    expect(
        inv.double_outcomes == 0,
        format!("tasks: {} ended twice", inv.double_outcomes),
    );
    expect(
        inv.time_reversals == 0,
        format!(
            "time: {} events handled before the one before",
            inv.time_reversals
        ),
    );
    expect(
        inv.illegal_breaker_transitions == 0,
        format!(
            "breakers: {} illegal state changes",
            inv.illegal_breaker_transitions
        ),
    );
    expect(
        inv.illegal_health_transitions == 0,
        format!(
            "health: {} illegal status changes",
            inv.illegal_health_transitions
        ),
    );
    expect(
        r.errors.is_empty(),
        format!("run errors: {}", r.errors.join("; ")),
    );
    // Messages, per kind.
    for (kind, k) in crate::bus::Kind::ALL.iter().zip(&r.bus.by_kind) {
        let lost =
            k.lost_partition + k.lost_dropped + k.lost_overflow + k.lost_broker + k.lost_crash;
        expect(
            k.delivered + lost <= k.sent,
            format!(
                "bus {kind:?}: delivered {} + lost {lost} > sent {}",
                k.delivered, k.sent
            ),
        );
        expect(
            k.timed_out <= k.sent,
            format!("bus {kind:?}: timed out {} > sent {}", k.timed_out, k.sent),
        );
    }
    // Calls, per capability.
    for c in &r.calls {
        let ended = c.completed + c.failed + c.cancelled;
        expect(
            ended == c.calls,
            format!(
                "calls {}: completed {} + failed {} + cancelled {} != calls {}",
                c.capability, c.completed, c.failed, c.cancelled, c.calls
            ),
        );
        let by_cause: u64 = c.failed_by.iter().sum();
        expect(
            by_cause == c.failed,
            format!(
                "calls {}: failed {} != {by_cause}, the sum by cause",
                c.capability, c.failed
            ),
        );
        expect(
            c.attempts >= c.completed,
            format!(
                "calls {}: {} completed with only {} attempts",
                c.capability, c.completed, c.attempts
            ),
        );
    }
    // Gauges: a count that went below zero wraps far above these bounds.
    let agents = r.agents.len() as u64;
    let (mut arrivals, mut completions) = (0u64, 0u64);
    for (i, b) in r.buckets.iter().enumerate() {
        arrivals += b.arrivals;
        completions += b.completions;
        let at = format!("timeseries bucket {i}");
        expect(
            b.in_flight <= r.submitted,
            format!(
                "{at}: in flight {} > submitted {}",
                b.in_flight, r.submitted
            ),
        );
        expect(
            b.queue_len <= r.submitted,
            format!("{at}: queued {} > submitted {}", b.queue_len, r.submitted),
        );
        expect(
            b.dispatcher_queue <= r.submitted,
            format!(
                "{at}: dispatcher queue {} > submitted {}",
                b.dispatcher_queue, r.submitted
            ),
        );
        for (name, v) in [
            ("healthy agents", b.healthy_agents),
            ("agents down", b.agents_down),
            ("degraded agents", b.degraded_agents),
            ("agents serving", b.agents_serving),
        ] {
            expect(v <= agents, format!("{at}: {name} {v} > {agents} agents"));
        }
    }
    expect(
        arrivals <= r.submitted,
        format!(
            "timeseries: arrivals {arrivals} > submitted {}",
            r.submitted
        ),
    );
    expect(
        completions <= r.completed,
        format!(
            "timeseries: completions {completions} > completed {}",
            r.completed
        ),
    );
    let _ = sc;
    bad
}

/// Write the scenario of `seed` (and its trace) into `dir`; returns the
/// scenario's path.
pub fn write_scenario(dir: &Path, g: &Generated, seed: u64) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    if let Some((name, text)) = &g.trace {
        report::write_durable(&dir.join(name), text.as_bytes())?;
    }
    let path = dir.join(format!("swarm-{seed}.toml"));
    let text = format!(
        "# Drawn by `fleetsim swarm --seeds 1 --start {seed}`.\n{}",
        g.toml
    );
    report::write_durable(&path, text.as_bytes())?;
    Ok(path)
}

/// The command that reruns one seed.
pub fn reproduce(seed: u64) -> String {
    format!("fleetsim swarm --seeds 1 --start {seed} --save swarm-failures")
}

/// The terminal report: a line per failed seed with its breaches and the
/// command that reproduces it, then the totals and the features covered.
pub fn render(s: &Summary, start: u64, wall_s: f64) -> String {
    let mut out = String::new();
    for r in s.failed.iter().filter(|r| !r.failures.is_empty()) {
        out.push_str(&format!("seed {} FAILED:\n", r.seed));
        for f in &r.failures {
            out.push_str(&format!("  - {f}\n"));
        }
        out.push_str(&format!("  reproduce: {}\n", reproduce(r.seed)));
    }
    let failed = s.failed.iter().filter(|r| !r.failures.is_empty()).count();
    let end = start + s.seeds;
    out.push_str(&format!(
        "swarm: seeds {start}..{end} ({} seeds, {} runs) in {wall_s:.1} s: {}\n",
        s.seeds,
        s.runs,
        if failed == 0 {
            "every invariant held".to_string()
        } else {
            format!("{failed} seed{} FAILED", if failed == 1 { "" } else { "s" })
        }
    ));
    out.push_str("features covered (seeds using each):\n");
    let width = s.features.keys().map(|k| k.len()).max().unwrap_or(0);
    for (f, n) in &s.features {
        out.push_str(&format!("  {f:<width$}  {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_seeds_pass() {
        let s = run(0, 4, Some(1), false, &|| {});
        assert_eq!(s.seeds, 4);
        if let Some(r) = s.failed.first() {
            panic!("seed {}: {:?}\n{}", r.seed, r.failures, r.generated.toml);
        }
    }

    #[test]
    fn a_broken_count_is_reported() {
        let g = generate(1);
        let sc = scenario::load_str("x.toml", "x", &g.toml, &[]).expect("valid");
        let mut r = crate::harness::run_one(&sc, "x", 0).result;
        assert!(check_run(&sc, &r).is_empty());
        r.submitted += 1;
        r.invariants.illegal_breaker_transitions = 2;
        let bad = check_run(&sc, &r);
        assert!(
            bad.iter().any(|b| b.starts_with("tasks: submitted")),
            "{bad:?}"
        );
        assert!(
            bad.iter().any(|b| b.contains("2 illegal state changes")),
            "{bad:?}"
        );
    }
}
