//! Looking inside runs: the trajectory fingerprint (same across runs,
//! threads and shards), `check`'s exact mode, the event log and per-task
//! records (byte-identical across runs, consistent with summary.csv),
//! `fleetsim diff` and `run --check-determinism`.

use std::path::Path;

use crate::support::{fleetsim, text};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = fleetsim(dir, args);
    assert!(
        out.status.success(),
        "fleetsim {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The values of column `name` of a CSV, by row.
fn column(csv: &str, name: &str) -> Vec<String> {
    let mut r = ::csv::Reader::from_reader(csv.as_bytes());
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    r.records().map(|x| x.unwrap()[i].to_string()).collect()
}

/// A fleet with breakers, health probes, retries and a crash at 10 s.
const FLEET: &str = r#"name = "fleet"
seed = 3
duration = "30s"
warmup = "2s"
drain = "10s"

[[fleet.tiers]]
name = "a"
count = 6
concurrency = 2
service_time = { dist = "exponential", mean = "40ms" }
error_rate = 0.02

[workload]
arrivals = { process = "poisson", rate = 80.0 }

[health]
interval = "500ms"
timeout = "250ms"

[breaker]
failure_threshold = 2
open_for = "2s"

[request]
timeout = "1s"

[retry]
strategy = "exponential"
max_attempts = 3
base = "50ms"

[[faults]]
at = "10s"
kind = "crash"
target = { agents = ["agent-0", "agent-1"] }
for = "5s"
"#;

#[test]
fn the_fingerprint_is_the_same_across_runs_threads_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    let sweep = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "f.toml",
            "--vary",
            "dispatch.workers=0,4",
            "--replications",
            "2",
            "--quiet",
            "--out",
            out,
        ];
        args.extend(extra);
        ok(d, &args);
        column(&read(d, &format!("{out}/summary.csv")), "fingerprint")
    };
    let one = sweep("j1", &["--jobs", "1"]);
    assert_eq!(one.len(), 4);
    assert!(one.iter().all(|f| f.len() == 16), "{one:?}");
    // Every run of the grid has its own trajectory.
    let mut distinct = one.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{one:?}");
    assert_eq!(sweep("j2", &["--jobs", "2"]), one);
    assert_eq!(sweep("j1b", &["--jobs", "1"]), one);
    sweep("s0", &["--shard", "0/2"]);
    sweep("s1", &["--shard", "1/2"]);
    ok(d, &["merge", "s1", "s0", "--out", "merged", "--quiet"]);
    assert_eq!(column(&read(d, "merged/summary.csv"), "fingerprint"), one);
    // `run` gives replication r the fingerprint the sweep gave it.
    ok(
        d,
        &[
            "run",
            "f.toml",
            "--replications",
            "2",
            "--quiet",
            "--out",
            "run",
        ],
    );
    assert_eq!(column(&read(d, "run/summary.csv"), "fingerprint"), one[..2]);
}

#[test]
fn a_pinned_fingerprint_fails_check_even_when_every_metric_is_within_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    ok(d, &["check", "f.toml", "--baseline", "b", "--update"]);
    let base = read(d, "b/fleet.csv");
    assert!(base.contains("\nfingerprint,"), "{base}");
    ok(d, &["check", "f.toml", "--baseline", "b"]);
    // Another trajectory with the same metrics: fake it by changing the pin.
    let line = base
        .lines()
        .find(|l| l.starts_with("fingerprint,"))
        .unwrap();
    let other = format!("fingerprint,{}", "0123456789abcdef");
    std::fs::write(d.join("b/fleet.csv"), base.replace(line, &other)).unwrap();
    let out = fleetsim(d, &["check", "f.toml", "--baseline", "b"]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains("trajectory changed")
            && report.contains("every metric is within tolerance")
            && report.contains("0123456789abcdef"),
        "{report}"
    );
    // A baseline without the pin is checked on its metrics alone.
    std::fs::write(
        d.join("b/fleet.csv"),
        base.replace(&format!("{line}\n"), ""),
    )
    .unwrap();
    ok(d, &["check", "f.toml", "--baseline", "b"]);
}

#[test]
fn events_and_records_are_byte_identical_across_runs_and_agree_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    for out in ["a", "b"] {
        ok(
            d,
            &[
                "run",
                "f.toml",
                "--events",
                "--records",
                "--quiet",
                "--out",
                out,
            ],
        );
    }
    for f in ["events.csv", "tasks.csv", "attempts.csv", "summary.csv"] {
        assert_eq!(
            read(d, &format!("a/{f}")),
            read(d, &format!("b/{f}")),
            "{f}"
        );
    }
    // The manifest lists them; verify checks them.
    let manifest = read(d, "a/manifest.json");
    for f in ["events.csv", "tasks.csv", "attempts.csv"] {
        assert!(manifest.contains(&format!("\"{f}\"")), "{manifest}");
    }
    ok(d, &["verify", "a"]);
    let summary = read(d, "a/summary.csv");
    let get = |name: &str| column(&summary, name)[0].clone();
    // One row per event handled.
    let events = read(d, "a/events.csv");
    assert_eq!(
        (events.lines().count() - 1).to_string(),
        get("events"),
        "events.csv rows vs summary's events"
    );
    // One row per task; outcomes counted as the summary counts them.
    let tasks = read(d, "a/tasks.csv");
    let outcome = column(&tasks, "outcome");
    let count = |o: &str| outcome.iter().filter(|x| *x == o).count().to_string();
    assert_eq!(outcome.len().to_string(), get("tasks_submitted"));
    assert_eq!(count("completed"), get("tasks_completed"));
    assert_eq!(count("failed"), get("tasks_failed"));
    assert_eq!(count("cancelled"), get("tasks_cancelled"));
    assert_eq!(count("rejected"), get("tasks_rejected"));
    let cause = column(&tasks, "cause");
    let failed_timeout = cause.iter().filter(|c| *c == "timeout").count();
    assert_eq!(failed_timeout.to_string(), get("failed_timeout"));
    // The mean latency of completed tasks that arrived after the warm-up
    // (2 s), from exact nanoseconds, equals the summary's to its 3 decimals.
    let arrival = column(&tasks, "arrival_s");
    let latency = column(&tasks, "latency_ms");
    let measured: Vec<f64> = (0..outcome.len())
        .filter(|&i| outcome[i] == "completed" && arrival[i].parse::<f64>().unwrap() >= 2.0)
        .map(|i| latency[i].parse().unwrap())
        .collect();
    let mean = measured.iter().sum::<f64>() / measured.len() as f64;
    assert_eq!(format!("{mean:.3}"), get("latency_mean_ms"));
    // Attempts: the summary's mean attempts per task (rejected tasks
    // excluded) from the records.
    let attempts = column(&tasks, "attempts");
    let (n, sum) = (0..outcome.len())
        .filter(|&i| outcome[i] != "rejected")
        .fold((0u64, 0u64), |(n, s), i| {
            (n + 1, s + attempts[i].parse::<u64>().unwrap())
        });
    assert_eq!(
        format!("{:.4}", sum as f64 / n as f64),
        get("attempts_mean")
    );
    // attempts.csv has one row per attempt sent.
    let sent: u64 = attempts.iter().map(|a| a.parse::<u64>().unwrap()).sum();
    let rows = read(d, "a/attempts.csv").lines().count() as u64 - 1;
    let no_agent = column(&events, "decision")
        .iter()
        .map(|x| x.matches("no eligible agent").count() as u64)
        .sum::<u64>();
    assert_eq!(
        rows + no_agent,
        sent,
        "attempts rows + attempts with no agent"
    );
}

#[test]
fn filters_select_events_by_kind_agent_and_time_and_tasks_by_sample() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    ok(
        d,
        &[
            "run",
            "f.toml",
            "--quiet",
            "--out",
            "o",
            "--events",
            "ev.csv",
            "--events-kind",
            "done,fault_start",
            "--events-agent",
            "0,1",
            "--events-window",
            "5s..20s",
            "--records",
            "--records-sample",
            "10",
            "--records-window",
            "..20s",
        ],
    );
    let ev = read(d, "o/ev.csv");
    let kinds = column(&ev, "kind");
    assert!(!kinds.is_empty());
    assert!(
        kinds.iter().all(|k| k == "done" || k == "fault_start"),
        "{kinds:?}"
    );
    assert!(column(&ev, "agent").iter().all(|a| a == "0" || a == "1"));
    assert!(column(&ev, "time_s").iter().all(|t| {
        let t: f64 = t.parse().unwrap();
        (5.0..20.0).contains(&t)
    }));
    let tasks = read(d, "o/tasks.csv");
    let ids = column(&tasks, "task");
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|i| i.parse::<u64>().unwrap() % 10 == 0));
    assert!(
        column(&tasks, "arrival_s")
            .iter()
            .all(|t| t.parse::<f64>().unwrap() < 20.0)
    );
    let att = column(&read(d, "o/attempts.csv"), "task");
    assert!(att.iter().all(|i| ids.contains(i)));
    // Replications get a file each.
    ok(
        d,
        &[
            "run",
            "f.toml",
            "--quiet",
            "--out",
            "r",
            "--events",
            "--replications",
            "2",
        ],
    );
    assert!(d.join("r/events-r0.csv").exists() && d.join("r/events-r1.csv").exists());
    // Bad filters are usage errors.
    let out = fleetsim(d, &["run", "f.toml", "--events", "--events-kind", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown event kind `nope`"));
}

#[test]
fn diff_of_identical_sides_reports_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    let out = ok(d, &["diff", "f.toml", "--vs", "dispatch.workers=0"]);
    assert!(out.starts_with("no difference"), "{out}");
    let out = ok(d, &["diff", "f.toml", "f.toml"]);
    assert!(out.starts_with("no difference"), "{out}");
    let out = ok(d, &["run", "f.toml", "--check-determinism"]);
    assert!(out.contains("no difference"), "{out}");
}

#[test]
fn diff_names_the_moved_fault_as_the_first_difference_at_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    // The crash moves from 10 s to 11 s: nothing before 10 s can differ,
    // and at 10 s side A's crash is the first event that does.
    let out = fleetsim(d, &["diff", "f.toml", "--vs", "faults[0].at=\"11s\""]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let first = report.lines().next().unwrap();
    assert!(first.contains("t = 10.000000000 s"), "{report}");
    let a = report.split("\nA (").nth(1).unwrap();
    assert!(
        a.lines().nth(1).unwrap().contains("fault_start"),
        "{report}"
    );
    assert!(report.contains("divergence:"), "{report}");
    assert!(report.contains("events differing per second"), "{report}");
    // Bad input is exit 2.
    let out = fleetsim(d, &["diff", "f.toml", "--vs", "nope=1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_shows_the_decisions_and_agent_state_of_the_first_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    // A breaker that opens on the first failure instead of the second:
    // the first difference is a failure whose row on side B opens it.
    let out = fleetsim(
        d,
        &["diff", "f.toml", "--vs", "breaker.failure_threshold=1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    let b = report.split("\nB (").nth(1).unwrap();
    assert!(b.contains("closed -> open"), "{report}");
    assert!(
        b.contains("after it: agent") && b.contains("breaker open until"),
        "{report}"
    );
    let a = report
        .split("\nA (")
        .nth(1)
        .unwrap()
        .split("\nB (")
        .next()
        .unwrap();
    assert!(
        a.contains("breaker closed (1 consecutive failures)"),
        "{report}"
    );
}

#[test]
fn diff_against_a_recorded_log_finds_the_first_event_a_change_alters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f.toml"), FLEET).unwrap();
    ok(
        d,
        &["run", "f.toml", "--events", "--out", "base", "--quiet"],
    );
    // The same scenario now: nothing differs.
    let out = ok(d, &["diff", "f.toml", "--against", "base"]);
    assert!(out.starts_with("no difference"), "{out}");
    // The crash recorded at 10 s now happens at 11 s: the first event that
    // differs is the recorded crash, at exactly 10 s.
    let out = fleetsim(
        d,
        &[
            "diff",
            "f.toml",
            "--set",
            "faults[0].at=\"11s\"",
            "--against",
            "base",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report
            .lines()
            .next()
            .unwrap()
            .contains("t = 10.000000000 s"),
        "{report}"
    );
    let recorded = report.split("\nrecorded (").nth(1).unwrap();
    assert!(
        recorded.lines().nth(1).unwrap().contains("fault_start"),
        "{report}"
    );
    assert!(report.contains("divergence:"), "{report}");
    // A filtered log cannot be compared event by event: exit 2, saying why.
    ok(
        d,
        &[
            "run",
            "f.toml",
            "--events",
            "--events-kind",
            "done",
            "--out",
            "done",
            "--quiet",
        ],
    );
    let out = fleetsim(d, &["diff", "f.toml", "--against", "done"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the log is filtered"),
        "{}",
        text(&out.stderr)
    );
    let out = fleetsim(d, &["diff", "f.toml", "--against", "missing"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Two layers: `front` calls `middle` (and sometimes `audit`), with
/// failures and retries on the way.
const CALL_GRAPH: &str = r#"name = "cg"
seed = 5
duration = "5s"
warmup = "1s"
[[fleet.tiers]]
name = "front"
count = 3
concurrency = 8
capabilities = ["front"]
service_time = { dist = "exponential", mean = "2ms" }
calls = [ { capability = "middle" }, { capability = "audit", probability = 0.3, optional = true } ]
[[fleet.tiers]]
name = "middle"
count = 3
concurrency = 8
capabilities = ["middle", "audit"]
service_time = { dist = "exponential", mean = "3ms" }
error_rate = 0.05
[workload]
arrivals = { process = "poisson", rate = 200 }
capability = "front"
[network]
latency = { dist = "constant", value = "200us" }
[request]
timeout = "1s"
[retry]
max_attempts = 3
base = "5ms"
"#;

#[test]
fn attempts_of_calls_between_agents_are_recorded_and_match_calls_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("cg.toml"), CALL_GRAPH).unwrap();
    ok(d, &["run", "cg.toml", "--records", "--out", "o", "--quiet"]);
    let attempts = read(d, "o/attempts.csv");
    let caps = column(&attempts, "capability");
    let callers = column(&attempts, "caller");
    let tasks = column(&attempts, "task");
    // One row per attempt of every call: per capability, as many rows as
    // calls.csv counts attempts (every agent is up, so every attempt is
    // sent).
    let calls = read(d, "o/calls.csv");
    for (cap, n) in column(&calls, "capability")
        .iter()
        .zip(column(&calls, "attempts"))
    {
        let rows = caps.iter().filter(|c| *c == cap).count();
        assert_eq!(rows.to_string(), n, "capability {cap}");
        assert!(rows > 0, "capability {cap} has no rows");
    }
    // The dispatcher's attempts have no caller; the calls name theirs, a
    // front agent (ids 0 to 2), and belong to a recorded task.
    let known: std::collections::BTreeSet<String> = column(&read(d, "o/tasks.csv"), "task")
        .into_iter()
        .collect();
    for ((cap, caller), task) in caps.iter().zip(&callers).zip(&tasks) {
        if cap == "front" {
            assert_eq!(caller, "");
        } else {
            assert!(["0", "1", "2"].contains(&caller.as_str()), "{caller}");
        }
        assert!(known.contains(task), "task {task} has no record");
    }
    // Retries of calls show as attempts 2 and 3.
    let retried = caps
        .iter()
        .zip(column(&attempts, "attempt"))
        .filter(|(c, a)| *c != "front" && a != "1")
        .count();
    assert!(retried > 0);
}
