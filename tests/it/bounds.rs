//! Scenarios no machine can run are refused before anything runs: each
//! blow-up (a huge count or rate, a nanosecond period, an endless file, a
//! megabyte name, a run over `--max-events` or `--max-memory`) exits 2
//! naming the key, in milliseconds. The real binary runs with a kill after
//! 10 s, so a regression fails the test instead of hanging it; the wall
//! time is printed, not asserted (the machine may be loaded).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetsim::harness;
use fleetsim::scenario::cost;

use crate::support::{root, text};

/// A small scenario to break one key of.
const BASE: &str = r#"name = "b"
duration = "10s"
[[fleet.tiers]]
name = "a"
count = 2
service_time = { dist = "constant", value = "1ms" }
[workload]
arrivals = { process = "poisson", rate = 10.0 }
"#;

const BURSTS: &str = r#"name = "b"
duration = "10s"
[[fleet.tiers]]
count = 2
service_time = { dist = "constant", value = "1ms" }
[workload]
arrivals = { process = "bursts", count = 2, size = 10, every = "1s" }
"#;

/// Run the binary in `dir`, killed after 10 s: (exit code, stderr, wall time).
fn run_guarded(dir: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            child.kill().expect("kill");
            let _ = child.wait();
            panic!("fleetsim {args:?} ran for more than 10 s: it should have been refused");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("output");
    (out.status.code(), text(&out.stderr), t0.elapsed())
}

/// Each case exits 2 with a message naming `key`.
fn refused(dir: &Path, args: &[&str], key: &str) {
    let (code, err, wall) = run_guarded(dir, args);
    eprintln!("{:>6.0} ms  {args:?}", wall.as_secs_f64() * 1e3);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert!(err.contains(key), "{args:?} should name {key}: {err}");
}

#[test]
fn blow_ups_exit_2_at_once_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("b.toml"), BASE).unwrap();
    std::fs::write(d.join("bursts.toml"), BURSTS).unwrap();
    let long = "n".repeat(1 << 20);
    std::fs::write(
        d.join("long.toml"),
        BASE.replace("name = \"b\"", &format!("name = \"{long}\"")),
    )
    .unwrap();
    let run = |file: &str, set: &[&str], key: &str| {
        let mut args = vec!["run", file, "--quiet", "--out", "out"];
        for s in set {
            args.extend(["--set", s]);
        }
        refused(d, &args, key);
    };
    run(
        "b.toml",
        &["fleet.tiers[0].count=10000000"],
        "fleet.tiers[0].count",
    );
    run(
        "b.toml",
        &["fleet.tiers[0].count=1000000000"],
        "fleet.tiers[0].count",
    );
    run(
        "b.toml",
        &["workload.arrivals.rate=1e12"],
        "workload.arrivals.rate",
    );
    run(
        "etl_pipeline",
        &["workload.jobs[0].stages[0].tasks=1000000000"],
        "workload.jobs[0].stages[0].tasks",
    );
    run(
        "bursts.toml",
        &["workload.arrivals.size=1000000000"],
        "workload.arrivals.size",
    );
    run(
        "b.toml",
        &["fleet.tiers[0].uptime=0.9", "fleet.tiers[0].mttr=\"1ns\""],
        "fleet.tiers[0].mttr",
    );
    run(
        "steady_load",
        &["registry.heartbeat=\"1ns\""],
        "registry.heartbeat",
    );
    run(
        "steady_load",
        &[
            "health.interval=\"100ns\"",
            "health.timeout=\"10ns\"",
            "health.degraded_threshold=\"10ns\"",
        ],
        "health.interval",
    );
    run(
        "partition",
        &["bus.topics[0].every=\"1ns\""],
        "bus.topics[0].every",
    );
    run("b.toml", &["report.bucket=\"1ns\""], "report.bucket");
    run("b.toml", &["duration=\"4380000h\""], "duration");
    run("long.toml", &[], "name: is 1048576 characters long");
    run("/dev/zero", &[], "larger than 16 MiB");
    refused(
        d,
        &["run", "b.toml", "--replications", "1000000", "--quiet"],
        "--replications",
    );
    refused(d, &["validate", "/dev/zero"], "larger than 16 MiB");
    // In bounds one by one, over the limits together.
    // A million agents (about 3 GB) fit the default 4 GiB; not 2 GB.
    refused(
        d,
        &[
            "run",
            "b.toml",
            "--quiet",
            "--out",
            "out",
            "--set",
            "fleet.tiers[0].count=1000000",
            "--max-memory",
            "2GB",
        ],
        "fleet.tiers[..].count",
    );
    run(
        "b.toml",
        &["workload.arrivals.rate=1e9", "duration=\"1h\""],
        "workload.arrivals.rate × duration",
    );
    refused(
        d,
        &[
            "run",
            "steady_load",
            "--set",
            "duration=\"600s\"",
            "--replications",
            "100000",
            "--quiet",
        ],
        "--replications (100000 runs)",
    );
    refused(
        d,
        &["check", "b.toml", "--baseline", ".", "--max-events", "100"],
        "--max-events",
    );
    refused(
        d,
        &[
            "compare",
            "b.toml",
            "--strategies",
            "p2c,round_robin",
            "--max-memory",
            "1MB",
        ],
        "--max-memory",
    );
    refused(
        d,
        &[
            "sweep",
            "b.toml",
            "--vary",
            "fleet.tiers[0].count=2,1000000",
            "--quiet",
        ],
        "--max-memory",
    );
}

#[test]
fn the_limits_are_flags_and_validate_prints_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("b.toml"), BASE).unwrap();
    // Refused at 100 events, run when the limit is raised.
    refused(
        d,
        &["run", "b.toml", "--quiet", "--max-events", "100"],
        "--max-events",
    );
    let (code, err, _) = run_guarded(
        d,
        &[
            "run",
            "b.toml",
            "--quiet",
            "--out",
            "o",
            "--max-events",
            "1e4",
            "--max-memory",
            "1GiB",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    refused(
        d,
        &["run", "b.toml", "--max-memory", "4 parsecs"],
        "unknown unit",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["validate", "b.toml"])
        .current_dir(d)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("ok: b.toml (b: 2 agents, 1 tier, ")
            && stdout.contains("balancing; about ")
            && stdout.trim_end().ends_with(" MB)"),
        "{stdout}"
    );
    // A period longer than the run is allowed, with a note.
    std::fs::write(
        d.join("idle.toml"),
        format!("{BASE}[health]\ninterval = \"1h\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["validate", "idle.toml"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "note: idle.toml: health.interval (1h) is longer than the run (40s with the drain): it fires at most once"
        ),
        "{}",
        text(&out.stderr)
    );
}

/// The event estimate against the `events` a run counts, for three
/// reference scenarios of different shapes (probes and heartbeats; a
/// partition with retries; a broker with bus traffic). The model is a
/// sum of first-order means, so it is held to a factor of 2 either way
/// (README, "Cost estimate", gives every reference scenario's ratio).
#[test]
fn the_event_estimate_is_within_a_factor_of_2_of_the_events_counted() {
    for name in ["steady_load", "partition", "broker_outage"] {
        let sc = fleetsim::scenario::load(name, &[]).unwrap();
        let est = cost::estimate(&sc).events;
        let actual = harness::run_one(&sc, "default", 0).result.events as f64;
        let ratio = est / actual;
        eprintln!("{name}: estimate {est:.0}, counted {actual:.0}, ratio {ratio:.2}");
        assert!((0.5..=2.0).contains(&ratio), "{name}: ratio {ratio}");
    }
    // The control plane's costs on lossy and slow networks: probes that
    // sleep between failed exchanges, heartbeats that are events only
    // where one is lost, or not at all behind a constant latency, or
    // behind a random one only where one is late (a third of them at a
    // uniform 0–1.5 s: past `ttl − heartbeat`); a crash on an instant
    // network.
    for set in [
        "network.loss=0.01",
        "network.loss=0.2",
        "network.latency={dist=\"constant\",value=\"1ms\"}",
        "network.latency={dist=\"exponential\",mean=\"2ms\"}",
        "network.latency={dist=\"uniform\",min=\"0ms\",max=\"1500ms\"}",
        // A fault's targets keep every probe an event.
        "faults=[{at=\"20s\",kind=\"crash\",target={tier=\"standard\",fraction=0.5},for=\"30s\"}]",
    ] {
        let sc = fleetsim::scenario::load("steady_load", &[set.parse().unwrap()]).unwrap();
        let est = cost::estimate(&sc).events;
        let actual = harness::run_one(&sc, "default", 0).result.events as f64;
        let ratio = est / actual;
        eprintln!("{set}: estimate {est:.0}, counted {actual:.0}, ratio {ratio:.2}");
        assert!((0.5..=2.0).contains(&ratio), "{set}: ratio {ratio}");
    }
    // Every reference scenario is under the default limits.
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let sc = fleetsim::scenario::load_file(&path, &[]).unwrap();
            let c = cost::estimate(&sc);
            c.check(&sc.name, 30, 4, &cost::Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
