//! `fleetsim swarm`: a few hundred random scenarios, each run twice with
//! every invariant checked (the CI's share of the nightly swarm), the
//! report, `--save`, and the bugs the swarm found, each
//! kept as a plain scenario.

use std::process::Command;

use fleetsim::harness;
use fleetsim::harness::swarm;
use fleetsim::scenario;

fn fleetsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleetsim"))
}

/// 1,000 seeds, as CI runs them: every invariant holds (about 3.5 s on
/// two cores; `fleetsim swarm --seeds 100000` is the nightly run).
#[test]
fn a_thousand_seeds_keep_every_invariant() {
    let out = fleetsim()
        .args(["swarm", "--seeds", "1000", "--start", "0"])
        .output()
        .expect("fleetsim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "swarm failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(1000 seeds, 2000 runs)") && stdout.contains("every invariant held"),
        "{stdout}"
    );
    // Every feature family shows up in 1,000 seeds.
    for f in [
        "arrivals:poisson",
        "arrivals:constant",
        "arrivals:bursts",
        "arrivals:ramp",
        "arrivals:diurnal",
        "arrivals:trace",
        "fault:crash",
        "fault:recover",
        "fault:slow",
        "fault:partition",
        "fault:dispatcher_down",
        "fault:broker_down",
        "fault:drain",
        "fault:join",
        "fault:rolling_restart",
        "dist:constant",
        "dist:uniform",
        "dist:exponential",
        "dist:lognormal",
        "dist:gamma",
        "dist:erlang",
        "dist:weibull",
        "dist:pareto",
        "dist:hyperexponential",
        "dist:empirical",
        "per_work",
        "jobs",
        "sagas",
        "calls:async",
        "capability policies",
        "broker",
        "bus subscriptions",
        "health degraded",
        "breaker",
        "retry budget",
        "autoscale",
        "network loss",
        "dispatcher",
        "tags:routed",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{f} "))),
            "feature {f} not covered:\n{stdout}"
        );
    }
}

/// A seed's scenario can be saved and run on its own, and it is the same
/// text every time.
#[test]
fn a_seed_is_saved_and_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsim()
        .args(["swarm", "--seeds", "1", "--start", "7", "--save"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("swarm-7.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&swarm::generate(7).toml));
    let run = fleetsim()
        .arg("run")
        .arg(&path)
        .args(["--quiet", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A broken invariant is a failure with the seed and the command that
/// reruns it (checked on a doctored result: the simulator keeps them all).
#[test]
fn a_breach_names_the_seed_and_how_to_rerun_it() {
    let g = swarm::generate(3);
    let sc = scenario::load_str("swarm-3.toml", "x", &g.toml, &[]).unwrap();
    let mut r = harness::run_one(&sc, "x", 0).result;
    assert_eq!(swarm::check_run(&sc, &r), Vec::<String>::new());
    r.invariants.illegal_health_transitions = 1;
    r.bus.by_kind[0].delivered = r.bus.by_kind[0].sent + 1;
    let bad = swarm::check_run(&sc, &r);
    assert!(
        bad.iter().any(|b| b.contains("health: 1 illegal")),
        "{bad:?}"
    );
    assert!(bad.iter().any(|b| b.starts_with("bus ")), "{bad:?}");
    assert_eq!(
        swarm::reproduce(3),
        "fleetsim swarm --seeds 1 --start 3 --save swarm-failures"
    );
}

/// Found by the swarm: a job whose stage failed ended while the stage's
/// other tasks ran on; its slot was reused by a newer job (here of a
/// kind with fewer stages), and the late tasks' outcomes were counted
/// against that job (an index out of bounds, or a stage of the wrong job
/// completing). Two kinds of job over flaky agents reuse slots often.
#[test]
fn late_tasks_of_an_ended_job_leave_the_next_job_alone() {
    let text = r#"
duration = "4s"
drain = "2s"
[[fleet.tiers]]
name = "a"
count = 2
concurrency = 1
service_time = { dist = "uniform", min = "1ms", max = "30ms" }
error_rate = 0.3
capabilities = ["a"]

[[workload.jobs]]
name = "wide"
arrivals = { process = "poisson", rate = 10.0 }
[[workload.jobs.stages]]
name = "s0"
capability = "a"
tasks = 4
[[workload.jobs.stages]]
name = "s1"
capability = "a"
tasks = 3
after = ["s0"]
[[workload.jobs.stages]]
name = "s2"
capability = "a"
tasks = 3
after = ["s1"]

[[workload.jobs]]
name = "narrow"
arrivals = { process = "poisson", rate = 10.0 }
[[workload.jobs.stages]]
name = "only"
capability = "a"
tasks = 1
"#;
    let sc = scenario::load_str("jobs.toml", "jobs", text, &[]).unwrap();
    for rep in 0..5 {
        let r = harness::run_one(&sc, "x", rep).result;
        assert_eq!(swarm::check_run(&sc, &r), Vec::<String>::new());
        // Each job's stages completed never exceed its kind's stages.
        for j in &r.jobs {
            let stages = sc.workload.jobs[j.kind as usize].stages.len() as u32;
            assert!(j.stages_completed <= stages, "{j:?}");
        }
    }
}
