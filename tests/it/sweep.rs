//! `fleetsim sweep` and `fleetsim merge` through the real binary: the grid's
//! order and labels, thread-count independence, shards merged back into
//! exactly the unsharded files, and the errors that name what is wrong.

use std::fs;
use std::path::Path;

use crate::support::{fleetsim, root, text};

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = fleetsim(dir, args);
    assert!(
        o.status.success(),
        "fleetsim {args:?} failed: {}",
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Four agents in two tiers, 5 simulated seconds.
const SMALL: &str = r#"
name = "small"
seed = 7
duration = "5s"

[[fleet.tiers]]
name = "fast"
count = 2
service_time = { dist = "exponential", mean = "20ms" }

[[fleet.tiers]]
name = "slow"
count = 2
service_time = { dist = "uniform", min = "50ms", max = "90ms" }
error_rate = 0.05

[workload]
arrivals = { process = "poisson", rate = 30.0 }

[balancer]
strategy = "round_robin"
"#;

/// 2 strategies × 2 rates × 2 replications = 8 runs.
const GRID: &[&str] = &[
    "--vary",
    "balancer.strategy=round_robin,p2c",
    "--vary",
    "workload.arrivals.rate=20,40",
    "--replications",
    "2",
    "--quiet",
];

fn sweep(dir: &Path, out: &str, extra: &[&str]) {
    let mut args = vec!["sweep", "small.toml", "--out", out];
    args.extend_from_slice(GRID);
    args.extend_from_slice(extra);
    ok(dir, &args);
}

fn small_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    dir
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Column `name` of every row of a CSV file.
fn column(csv: &[u8], name: &str) -> Vec<String> {
    let mut rd = csv::Reader::from_reader(csv);
    let i = rd
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rd.records().map(|r| r.unwrap()[i].to_string()).collect()
}

#[test]
fn the_grid_is_in_order_with_a_column_per_key_and_common_seeds() {
    let dir = small_dir();
    sweep(dir.path(), "s", &[]);
    let summary = read(dir.path(), "s/summary.csv");
    let header = text(&summary).lines().next().unwrap().to_string();
    assert!(
        header.starts_with("scenario,variant,seed,replication,tasks_submitted,")
            && header.ends_with(
                ",attempts_per_task,failed_no_dispatcher,dispatcher_wait_mean_ms,dispatcher_utilization,failed_broker,agent_seconds,work_done,work_per_s,warmup_s,fingerprint,balancer.strategy,workload.arrivals.rate"
            ),
        "{header}"
    );
    let variants = column(&summary, "variant");
    let want: Vec<String> = [
        "balancer.strategy=round_robin,workload.arrivals.rate=20",
        "balancer.strategy=round_robin,workload.arrivals.rate=40",
        "balancer.strategy=p2c,workload.arrivals.rate=20",
        "balancer.strategy=p2c,workload.arrivals.rate=40",
    ]
    .iter()
    .flat_map(|v| [v.to_string(), v.to_string()])
    .collect();
    assert_eq!(variants, want, "run = point × R + r, the last key fastest");
    assert_eq!(
        column(&summary, "balancer.strategy"),
        ["round_robin"; 4]
            .into_iter()
            .chain(["p2c"; 4])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        column(&summary, "workload.arrivals.rate"),
        ["20", "20", "40", "40", "20", "20", "40", "40"]
    );
    // Replication r uses the same seed at every point.
    let seeds = column(&summary, "seed");
    let reps = column(&summary, "replication");
    for (i, s) in seeds.iter().enumerate() {
        assert_eq!(reps[i], (i % 2).to_string());
        assert_eq!(s, &seeds[i % 2], "run {i}");
    }
    assert_eq!(seeds[0], "7");
    assert_ne!(seeds[0], seeds[1]);
    // The same strategy at the same rate and seed is the same run: the two
    // strategies at one rate see the same arrivals.
    let submitted = column(&summary, "tasks_submitted");
    for i in 0..4 {
        assert_eq!(submitted[i], submitted[i + 4], "run {i} and {}", i + 4);
    }
    // The other files list the runs in the same order.
    let runs = |csv: &[u8]| {
        let mut v: Vec<(String, String)> = column(csv, "variant")
            .into_iter()
            .zip(column(csv, "replication"))
            .collect();
        v.dedup();
        v
    };
    for f in ["agents.csv", "timeseries.csv", "bus.csv", "perf.csv"] {
        assert_eq!(
            runs(&read(dir.path(), &format!("s/{f}"))),
            runs(&summary),
            "{f} in run order"
        );
    }
    assert!(!dir.path().join("s/shard.csv").exists());
}

#[test]
fn the_files_do_not_depend_on_the_thread_count() {
    let dir = small_dir();
    sweep(dir.path(), "one", &["--jobs", "1"]);
    sweep(dir.path(), "two", &["--jobs", "2"]);
    for f in ["summary.csv", "agents.csv", "timeseries.csv", "bus.csv"] {
        assert_eq!(
            read(dir.path(), &format!("one/{f}")),
            read(dir.path(), &format!("two/{f}")),
            "{f} differs between --jobs 1 and --jobs 2"
        );
    }
}

#[test]
fn merged_shards_are_the_unsharded_sweep_byte_for_byte() {
    let dir = small_dir();
    sweep(dir.path(), "all", &[]);
    // 8 runs in 3 shards: 0 3 6 / 1 4 7 / 2 5.
    for i in 0..3 {
        sweep(
            dir.path(),
            &format!("shard{i}"),
            &["--shard", &format!("{i}/3")],
        );
    }
    let manifest = text(&read(dir.path(), "shard1/shard.csv"));
    assert!(manifest.contains("\nshard,1\nshards,3\n"), "{manifest}");
    assert!(manifest.contains("\nruns,1 4 7\n"), "{manifest}");
    assert!(
        manifest.contains("\nvary,\"balancer.strategy=round_robin,p2c\"\n"),
        "{manifest}"
    );
    assert_eq!(
        column(&read(dir.path(), "shard2/summary.csv"), "variant").len(),
        2
    );
    // Shards given in any order.
    let out = ok(
        dir.path(),
        &["merge", "shard2", "shard0", "shard1", "--out", "merged"],
    );
    assert!(out.contains("merged 3 shards of small: 8 runs"), "{out}");
    for f in ["summary.csv", "agents.csv", "timeseries.csv", "bus.csv"] {
        assert_eq!(
            text(&read(dir.path(), &format!("all/{f}"))),
            text(&read(dir.path(), &format!("merged/{f}"))),
            "merged {f} differs from the unsharded sweep's"
        );
    }
    // perf.csv: the same rows in the same order (its wall-clock values differ).
    let key = |f: &str| {
        let b = read(dir.path(), f);
        column(&b, "variant")
            .into_iter()
            .zip(column(&b, "replication"))
            .collect::<Vec<_>>()
    };
    assert_eq!(key("all/perf.csv"), key("merged/perf.csv"));
    // One shard of one is a whole sweep, too.
    sweep(dir.path(), "whole", &["--shard", "0/1"]);
    ok(dir.path(), &["merge", "whole", "--out", "merged1"]);
    assert_eq!(
        read(dir.path(), "all/summary.csv"),
        read(dir.path(), "merged1/summary.csv")
    );
}

#[test]
fn a_sweep_with_jobs_merges_its_jobs_and_per_point_tiers() {
    // Varying a tier's size changes agents.csv's rows per point; jobs.csv
    // is written and merged like the rest.
    let dir = tempfile::tempdir().unwrap();
    let scenario = root().join("scenarios/etl_pipeline.toml");
    let scenario = scenario.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            scenario,
            "--set",
            "duration=\"5s\"",
            "--vary",
            "fleet.tiers[2].count=1,3",
            "--out",
            out,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        ok(dir.path(), &args);
    };
    run("all", &[]);
    run("a", &["--shard", "0/2"]);
    run("b", &["--shard", "1/2"]);
    ok(dir.path(), &["merge", "a", "b", "--out", "m"]);
    for f in ["summary.csv", "agents.csv", "timeseries.csv", "jobs.csv"] {
        assert_eq!(
            read(dir.path(), &format!("all/{f}")),
            read(dir.path(), &format!("m/{f}")),
            "{f}"
        );
    }
    let agents = read(dir.path(), "all/agents.csv");
    assert_eq!(column(&agents, "agent").len(), (12 - 2) + 12);
}

#[test]
fn merge_without_a_shard_exits_2_naming_it() {
    let dir = small_dir();
    for i in [0, 2] {
        sweep(
            dir.path(),
            &format!("s{i}"),
            &["--shard", &format!("{i}/3")],
        );
    }
    let o = fleetsim(dir.path(), &["merge", "s0", "s2", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("missing shard: 1/3"), "{err}");
    assert!(!dir.path().join("m").exists(), "nothing is written");
    // The same shard twice is not the missing one.
    let o = fleetsim(dir.path(), &["merge", "s0", "s2", "s2", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("shard 2/3 is given twice"));
    // A directory that is not a finished shard.
    fs::create_dir(dir.path().join("empty")).unwrap();
    let o = fleetsim(dir.path(), &["merge", "s0", "empty", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("empty: no shard.csv"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_shard_with_a_missing_bus_row_is_refused() {
    // bus.csv has a row per message kind and one of totals for each run: a
    // truncated shard must not merge into a plausible-looking file.
    let dir = small_dir();
    for i in 0..2 {
        sweep(
            dir.path(),
            &format!("s{i}"),
            &["--shard", &format!("{i}/2")],
        );
    }
    let bus = dir.path().join("s1/bus.csv");
    let full = text(&read(dir.path(), "s1/bus.csv"));
    let mut lines: Vec<&str> = full.lines().collect();
    assert_eq!(lines.len(), 1 + 4 * 7, "4 runs × (6 kinds + all)");
    lines.remove(3);
    fs::write(&bus, lines.join("\n") + "\n").unwrap();
    let o = fleetsim(dir.path(), &["merge", "s0", "s1", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    // The file no longer matches the shard's manifest.json.
    assert!(
        err.contains("s1: bus.csv has size") && err.contains("manifest.json says"),
        "{err}"
    );
}

#[test]
fn shards_of_different_sweeps_do_not_merge() {
    let dir = small_dir();
    sweep(dir.path(), "a", &["--shard", "0/2"]);
    sweep(
        dir.path(),
        "b",
        &["--shard", "1/2", "--set", "fleet.tiers[0].count=3"],
    );
    sweep(dir.path(), "c", &["--shard", "1/2", "--seed", "8"]);
    let o = fleetsim(dir.path(), &["merge", "a", "b", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("b is not a shard of the same sweep as a: scenario_hash"),
        "{}",
        text(&o.stderr)
    );
    let o = fleetsim(dir.path(), &["merge", "a", "c", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("seed is `8` there and `7` in a"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_bad_vary_value_exits_2_naming_it_before_anything_runs() {
    let dir = small_dir();
    let o = fleetsim(
        dir.path(),
        &[
            "sweep",
            "small.toml",
            "--vary",
            "balancer.strategy=p2c,round_robin",
            "--vary",
            "workload.arrivals.rate=10,-5",
            "--out",
            "o",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "small.toml (--vary workload.arrivals.rate=-5): workload.arrivals.rate: is -5"
        ),
        "{err}"
    );
    assert_eq!(err.matches("rate=-5").count(), 1, "said once: {err}");
    assert!(!dir.path().join("o").exists(), "nothing ran");
    // Not KEY=V1,V2: a usage error.
    let o = fleetsim(
        dir.path(),
        &["sweep", "small.toml", "--vary", "balancer.strategy"],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = fleetsim(
        dir.path(),
        &["sweep", "small.toml", "--vary", "a=1", "--shard", "2/2"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("0 ≤ I < N"));
}
