//! The real binary on real scenario files in temporary directories.

use std::fs;

use crate::support::{fleetsim, root, text};

const SMALL: &str = r#"
name = "small"
seed = 7
duration = "20s"

[[fleet.tiers]]
name = "fast"
count = 2
service_time = { dist = "exponential", mean = "20ms" }

[[fleet.tiers]]
name = "slow"
count = 2
service_time = { dist = "uniform", min = "50ms", max = "90ms" }

[workload]
arrivals = { process = "poisson", rate = 30.0 }

[balancer]
strategy = "round_robin"
"#;

#[test]
fn the_default_run_writes_the_reports_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsim(dir.path(), &["run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("steady_load") && stdout.contains("120 agents"),
        "{stdout}"
    );
    assert!(stdout.contains("reports/steady_load/"), "{stdout}");
    let reports = dir.path().join("reports/steady_load");
    let summary = fs::read_to_string(reports.join("summary.csv")).unwrap();
    assert!(summary.starts_with(
        "scenario,variant,seed,replication,tasks_submitted,tasks_completed,tasks_failed,tasks_rejected,tasks_cancelled,success_rate,throughput_per_s,latency_mean_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_p999_ms,latency_max_ms,wait_mean_ms,attempts_mean,breaker_trips,events"
    ));
    let agents = fs::read_to_string(reports.join("agents.csv")).unwrap();
    assert!(agents.starts_with("variant,replication,agent,tier,tasks,failures,utilization,latency_mean_ms,latency_p99_ms,breaker_trips,unhealthy_s,down_s,breaker_open_s,degraded_s\n"));
    assert_eq!(agents.lines().count(), 121, "one row per agent");
    let perf = fs::read_to_string(reports.join("perf.csv")).unwrap();
    assert!(
        perf.starts_with("variant,replication,events,wall_ms,events_per_s,speedup,peak_rss_mb\n")
    );
    let ts = fs::read_to_string(reports.join("timeseries.csv")).unwrap();
    assert!(ts.starts_with("variant,replication,t_s,arrivals,completions,failures,in_flight,queue_len,latency_p99_ms,healthy_agents,open_breakers,agents_down,queue_critical,queue_high,queue_normal,queue_low,degraded_agents,dispatcher_queue,agents_serving\n"));
    let bus = fs::read_to_string(reports.join("bus.csv")).unwrap();
    assert!(bus.starts_with("variant,replication,kind,sent,delivered,lost,lost_partition,lost_dropped,timed_out,latency_mean_ms,latency_p50_ms,latency_p99_ms,latency_max_ms,replayed,lost_overflow,lost_broker,lost_crash\n"));
    let kinds: Vec<&str> = bus
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "request",
            "reply",
            "probe",
            "probe_reply",
            "heartbeat",
            "publish",
            "all"
        ],
        "one row per kind, then the totals"
    );
}

#[test]
fn two_runs_through_the_cli_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    for out in ["a", "b"] {
        let o = fleetsim(dir.path(), &["run", "small.toml", "--out", out, "--quiet"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "--quiet prints nothing");
    }
    for f in ["summary.csv", "agents.csv", "timeseries.csv", "bus.csv"] {
        let a = fs::read(dir.path().join("a").join(f)).unwrap();
        let b = fs::read(dir.path().join("b").join(f)).unwrap();
        assert_eq!(a, b, "{f} differs between two identical runs");
    }
}

#[test]
fn set_overrides_keys_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let o = fleetsim(
        dir.path(),
        &[
            "run",
            "small.toml",
            "--out",
            "o",
            "--set",
            "fleet.tiers[1].count=5",
            "--set",
            "balancer.strategy=p2c",
            "--seed",
            "99",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let agents = fs::read_to_string(dir.path().join("o/agents.csv")).unwrap();
    assert_eq!(agents.lines().count(), 1 + 2 + 5);
    let summary = fs::read_to_string(dir.path().join("o/summary.csv")).unwrap();
    assert!(
        summary
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("small,default,99,0,"),
        "{summary}"
    );
}

#[test]
fn replications_give_one_row_each() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let o = fleetsim(
        dir.path(),
        &["run", "small.toml", "--out", "o", "--replications", "3"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(" ± "), "mean ± CI in the table");
    let summary = fs::read_to_string(dir.path().join("o/summary.csv")).unwrap();
    let seeds: Vec<&str> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(seeds.len(), 3);
    assert_eq!(seeds[0], "7", "replication 0 uses the scenario seed");
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2]);
}

#[test]
fn validate_reports_a_bad_file_with_exit_2_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = SMALL.replace("rate = 30.0", "rate = -30.0");
    fs::write(dir.path().join("bad.toml"), bad).unwrap();
    fs::write(dir.path().join("good.toml"), SMALL).unwrap();
    let o = fleetsim(dir.path(), &["validate", "good.toml", "bad.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("bad.toml:17:42: workload.arrivals.rate: is -30"),
        "{err}"
    );
    assert!(text(&o.stdout).contains("ok: good.toml"));
}

#[test]
fn a_bad_override_names_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let o = fleetsim(
        dir.path(),
        &["run", "small.toml", "--set", "dispatch.workers=-1"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("(--set dispatch.workers=-1): dispatch.workers"),
        "{err}"
    );
}

#[test]
fn usage_errors_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        fleetsim(dir.path(), &["run", "--bogus"]).status.code(),
        Some(2)
    );
    let o = fleetsim(dir.path(), &["run", "missing.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("built-ins: steady_load"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        fleetsim(dir.path(), &["run", "--replications", "0"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn list_names_the_built_ins_and_strategies() {
    let o = fleetsim(&root(), &["list"]);
    assert!(o.status.success());
    let s = text(&o.stdout);
    for want in [
        "steady_load",
        "mmc",
        "least_connections",
        "p2c",
        "lognormal",
        "bursts",
    ] {
        assert!(s.contains(want), "list lacks {want}: {s}");
    }
}

#[test]
fn every_shipped_scenario_validates() {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/theory"] {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p.display().to_string());
            }
        }
    }
    files.sort();
    assert!(files.len() >= 3);
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let o = fleetsim(&root(), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn a_stage_cycle_exits_2_naming_every_stage_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let job = r#"
name = "cyclic"

[[fleet.tiers]]
count = 1
service_time = { dist = "constant", value = "5ms" }

[[workload.jobs]]
name = "etl"
arrivals = { process = "constant", rate = 1.0 }

[[workload.jobs.stages]]
name = "extract"
after = ["load"]

[[workload.jobs.stages]]
name = "transform"
after = ["extract"]

[[workload.jobs.stages]]
name = "load"
after = ["transform"]
"#;
    fs::write(dir.path().join("cyclic.toml"), job).unwrap();
    for cmd in ["validate", "run"] {
        let o = fleetsim(dir.path(), &[cmd, "cyclic.toml"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = text(&o.stderr);
        assert!(
            err.contains(
                "workload.jobs[0].stages: stages form a cycle: extract → transform → load → extract"
            ),
            "{err}"
        );
    }
}

#[test]
fn every_shipped_scenario_runs_and_ends_every_task_and_job_once() {
    // Conservation on every file in scenarios/ (the theory ones shortened).
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/theory"] {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let rel = f.strip_prefix(root()).unwrap().display().to_string();
        let sets: &[&str] = if rel.contains("theory") {
            &["duration=\"2000s\""]
        } else {
            &[]
        };
        let sc = crate::support::load(&rel, sets);
        let r = fleetsim::harness::run_one(&sc, "v", 0).result;
        assert!(r.conserved(), "{rel}: {r:?}");
        assert!(r.submitted > 0, "{rel}");
        // Job ids are 0..n: every job that arrived has exactly one record.
        for (i, j) in r.jobs.iter().enumerate() {
            assert_eq!(j.id, i as u64, "{rel}");
        }
        assert_eq!(sc.workload.jobs.is_empty(), r.jobs.is_empty(), "{rel}");
    }
}

#[test]
fn a_directory_named_like_a_built_in_does_not_shadow_it() {
    // `fleetsim run` writes reports/steady_load/; a directory of that name
    // in the current directory must not be taken for the scenario.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("steady_load")).unwrap();
    let out = fleetsim(dir.path(), &["validate", "steady_load"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    fs::create_dir(dir.path().join("mine")).unwrap();
    let out = fleetsim(dir.path(), &["validate", "mine"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("mine"));
}
