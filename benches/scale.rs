//! Scale: the cost of a task as the fleet grows at constant utilisation.
//!
//! The fleet is steady_load's three tiers (20 % premium, 50 % standard,
//! 30 % budget; uptimes 99/95/90 %, health probes every second, breakers,
//! leases) at 120, 1,200, 12,000 and 100,000 agents, with the Poisson
//! arrival rate scaled with it (agents / 6 tasks/s, the reference's 20/s at
//! 120) and the duration chosen so that every size runs about 120,000
//! tasks. Ideally the cost of a task does not depend on the fleet's size.
//!
//! Two measurements per size:
//! - **ns per task**: criterion times `world::run` in process (throughput
//!   in tasks, so `thrpt` is tasks/s; the figure printed first is the mean
//!   time of a run divided by its tasks).
//! - **peak memory**: the `fleetsim` binary runs the same scenario as a
//!   child process and its `perf.csv` gives `peak_rss_mb` (the child's own
//!   peak resident set from the kernel: the only reliable peak, since an
//!   in-process figure would include criterion and every earlier size).
//!   The child also reports the CPU time the kernel charged it
//!   (`getrusage` of children), which is steadier than wall time on a
//!   shared machine; it runs five times, and the least CPU time counts.
//! - **fixed and marginal cost**: a second child run of each size stops
//!   after 1 ms of arrivals, so its CPU time is what the fleet costs
//!   whatever the tasks (set-up, the first round of probes and
//!   heartbeats, reports for every agent). With only about 1.2 tasks an
//!   agent at 100,000 agents, that share is large there; the CPU time of
//!   the full run less it, per task, is what a task costs the fleet once
//!   running, and is printed beside the whole-process figure.
//!
//! `cargo bench --bench scale` (about two minutes);
//! `FLEETSIM_SCALE_SIZES=120,12000 cargo bench --bench scale` for a subset;
//! `FLEETSIM_SCALE_NO_FAILURES=1` runs the same fleets with every tier's
//! uptime at 1.0. Most of what a task costs more at 12,000 agents than at
//! 120 comes from the reference fleet's failures (their events read cold
//! per-agent state, and they scramble smooth weighted round robin's sweep
//! through the agents into random access): the two runs side by side
//! separate that from the request path's own growth.

use std::path::Path;
use std::process::Command;
use std::time::Instant as WallInstant;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use fleetsim::rng::Seed;
use fleetsim::scenario::{self, Override, Scenario};

/// Tasks per run at every size.
const TASKS: f64 = 120_000.0;

/// Child runs of each kind per size (their least CPU time is reported).
const CHILD_RUNS: usize = 5;

/// The arrival rate of the fleet of `agents` agents (the reference's
/// 20 tasks/s at 120).
fn rate(agents: u64) -> f64 {
    agents as f64 / 6.0
}

/// The `--set` overrides of the steady fleet of `agents` agents.
fn overrides(agents: u64) -> Vec<String> {
    let duration_ms = (TASKS / rate(agents) * 1e3).round() as u64;
    overrides_for(agents, duration_ms, 5_000)
}

/// The same fleet with `duration_ms` of arrivals and `drain_ms` of drain.
fn overrides_for(agents: u64, duration_ms: u64, drain_ms: u64) -> Vec<String> {
    let premium = agents / 5;
    let standard = agents / 2;
    let budget = agents - premium - standard;
    let rate = rate(agents);
    let mut sets = vec![
        format!("fleet.tiers[0].count={premium}"),
        format!("fleet.tiers[1].count={standard}"),
        format!("fleet.tiers[2].count={budget}"),
        format!("workload.arrivals={{process=\"poisson\",rate={rate:?}}}"),
        format!("duration=\"{duration_ms}ms\""),
        format!("drain=\"{drain_ms}ms\""),
    ];
    if no_failures() {
        sets.extend((0..3).map(|t| format!("fleet.tiers[{t}].uptime=1.0")));
    }
    sets
}

/// `FLEETSIM_SCALE_NO_FAILURES` is set (to anything but 0 or empty).
fn no_failures() -> bool {
    std::env::var("FLEETSIM_SCALE_NO_FAILURES").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn scenario(agents: u64) -> Scenario {
    let sets: Vec<Override> = overrides(agents)
        .iter()
        .map(|s| s.parse().expect("valid override"))
        .collect();
    scenario::load("steady_load", &sets).expect("the scaled steady load is valid")
}

fn sizes() -> Vec<u64> {
    match std::env::var("FLEETSIM_SCALE_SIZES") {
        Ok(s) => s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .expect("FLEETSIM_SCALE_SIZES: agents,agents,..")
            })
            .collect(),
        Err(_) => vec![120, 1_200, 12_000, 100_000],
    }
}

/// CPU seconds (user + system) of the children waited for so far (NaN
/// off Linux).
#[cfg(not(target_os = "linux"))]
fn children_cpu_s() -> f64 {
    f64::NAN
}

/// CPU seconds (user + system) of the children waited for so far.
#[cfg(target_os = "linux")]
fn children_cpu_s() -> f64 {
    let mut ru = std::mem::MaybeUninit::<Rusage>::zeroed();
    // SAFETY: getrusage writes a `struct rusage` into the buffer.
    let rc = unsafe { getrusage(RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    tv(ru.utime) + tv(ru.stime)
}

/// Linux's `struct rusage` on 64-bit targets (two `timeval`s, then 14
/// longs).
#[cfg(target_os = "linux")]
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}
#[cfg(target_os = "linux")]
const RUSAGE_CHILDREN: i32 = -1;
#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// Run the binary on the scaled fleet with `sets`; (peak RSS MB, tasks,
/// CPU s).
fn child_run(agents: u64, sets: &[String], out: &Path) -> (f64, u64, f64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetsim"));
    cmd.args(["run", "steady_load", "--quiet", "--out"])
        .arg(out);
    for s in sets {
        cmd.arg("--set").arg(s);
    }
    let before = children_cpu_s();
    let status = cmd.status().expect("fleetsim runs");
    let cpu = children_cpu_s() - before;
    assert!(status.success(), "fleetsim run failed for {agents} agents");
    let column = |file: &str, name: &str| -> String {
        let text = std::fs::read_to_string(out.join(file)).expect("the run wrote its CSVs");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let row: Vec<&str> = lines.next().expect("a row").split(',').collect();
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{file} has a {name} column"));
        row[i].to_string()
    };
    let rss = column("perf.csv", "peak_rss_mb")
        .parse()
        .unwrap_or(f64::NAN);
    let tasks = column("summary.csv", "tasks_submitted")
        .parse()
        .expect("a task count");
    (rss, tasks, cpu)
}

fn bench_scale(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lines = Vec::new();
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    for agents in sizes() {
        let sc = scenario(agents);
        let started = WallInstant::now();
        let result = fleetsim::world::run(&sc, Seed(42));
        let wall = started.elapsed().as_secs_f64();
        let tasks = result.submitted;
        g.throughput(Throughput::Elements(tasks));
        let suffix = if no_failures() { "_no_failures" } else { "" };
        g.bench_function(format!("agents_{agents}{suffix}"), |b| {
            b.iter(|| fleetsim::world::run(&sc, Seed(42)))
        });
        let out = dir.path().join(agents.to_string());
        let fixed_out = dir.path().join("fixed");
        // The least CPU time of a few runs of each, alternating: a shared
        // machine only ever adds to it.
        let (mut rss, mut child_tasks, mut cpu) = (0.0, 0, f64::INFINITY);
        let (mut fixed_tasks, mut fixed_cpu) = (0, f64::INFINITY);
        for _ in 0..CHILD_RUNS {
            let (r, t, c) = child_run(agents, &overrides(agents), &out);
            (rss, child_tasks, cpu) = (r, t, cpu.min(c));
            let (_, t, c) = child_run(agents, &overrides_for(agents, 1, 1), &fixed_out);
            (fixed_tasks, fixed_cpu) = (t, fixed_cpu.min(c));
        }
        lines.push(format!(
            "{agents:>7} agents  {tasks:>7} tasks  first run {:>7.0} ns/task  \
             child CPU {:>7.0} ns/task (whole process, reports included)  peak RSS {rss:>7.1} MB\n\
             {:>22}fixed {:>6.1} ms (1 ms of arrivals: set-up, reports)  \
             marginal {:>7.0} ns/task (the full run's CPU less that)",
            wall * 1e9 / tasks as f64,
            cpu * 1e9 / child_tasks as f64,
            "",
            fixed_cpu * 1e3,
            (cpu - fixed_cpu) * 1e9 / child_tasks.saturating_sub(fixed_tasks).max(1) as f64,
        ));
    }
    g.finish();
    let fleet = if no_failures() {
        "without failures"
    } else {
        "the reference fleet"
    };
    println!("\nscale summary, {fleet} (criterion's thrpt above is tasks/s in process):");
    for l in lines {
        println!("{l}");
    }
}

criterion_group!(benches, bench_scale);
criterion_main!(benches);
