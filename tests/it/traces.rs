//! Trace replay end to end: exact FIFO multi-server timing against a direct
//! computation, bad traces as exit-2 errors with file, line and column, the
//! example scenario, and a 10-million-row replay in bounded memory.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use fleetsim::harness;
use fleetsim::scenario;

use super::support::{self, fleetsim, peak_rss_mb, text};

/// A seeded sequence of (arrival ns, work) for the tests: exponential-ish
/// gaps from a splitmix64 stream, so the test does not share the
/// simulator's own random streams.
fn arrivals(n: usize, mean_gap_ns: u64, seed: u64) -> Vec<(u64, u64)> {
    let mut state = seed;
    let mut next = || fleetsim::rng::splitmix64(&mut state);
    let mut t = 1_000_000_000u64; // the log starts at 1 s, not 0
    (0..n)
        .map(|_| {
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
            t += 1 + (-(1.0 - u).ln() * mean_gap_ns as f64) as u64;
            (t, next() % 5_000)
        })
        .collect()
}

/// Write `rows` as a trace with times in seconds (9 fractional digits).
fn write_trace(path: &Path, rows: &[(u64, u64)]) {
    let mut s = String::from("time,bytes\n");
    for &(t, w) in rows {
        writeln!(s, "{}.{:09},{w}", t / 1_000_000_000, t % 1_000_000_000).unwrap();
    }
    std::fs::write(path, s).unwrap();
}

/// The FIFO multi-server queue computed directly: each arrival, in order,
/// takes the server that frees first. Returns (sum, max) of latencies.
fn fifo(rows: &[(u64, u64)], servers: usize, service: impl Fn(u64) -> u64) -> (u128, u64) {
    let mut free = vec![0u64; servers];
    let (mut sum, mut max) = (0u128, 0u64);
    let t0 = rows[0].0;
    for &(t, w) in rows {
        let a = t - t0;
        let (k, &f) = free
            .iter()
            .enumerate()
            .min_by_key(|&(i, &f)| (f, i))
            .unwrap();
        let end = a.max(f) + service(w);
        free[k] = end;
        sum += u128::from(end - a);
        max = max.max(end - a);
    }
    (sum, max)
}

#[test]
fn a_replayed_trace_gives_the_exact_fifo_multi_server_latencies() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 requests at 90 % load on 4 servers: mean service
    // 2 ms + 2,500 × 400 ns = 3 ms, one arrival every 0.833 ms.
    let rows = arrivals(20_000, 833_333, 17);
    write_trace(&dir.path().join("log.csv"), &rows);
    let scenario = dir.path().join("fifo.toml");
    std::fs::write(
        &scenario,
        r#"name = "fifo"
duration = "1h"

[[fleet.tiers]]
name = "servers"
count = 4
concurrency = 1
service_time = { dist = "per_work", base = "2ms", per_unit = "400ns" }

[workload]
arrivals = { process = "trace", file = "log.csv", time_column = "time", work_column = "bytes" }

[dispatch]
workers = 4

[balancer]
strategy = "least_connections"
"#,
    )
    .unwrap();
    let sc = scenario::load_file(&scenario, &[]).unwrap();
    let r = harness::run_one(&sc, "v", 0).result;
    assert_eq!(r.submitted, 20_000);
    assert_eq!(r.completed, 20_000);
    let (sum, max) = fifo(&rows, 4, |w| 2_000_000 + w * 400);
    assert_eq!(r.latency_exact.count, 20_000);
    assert_eq!(r.latency_exact.sum_ns, sum, "total latency differs");
    assert_eq!(r.latency_exact.max_ns, max, "maximum latency differs");
    // The queue really formed: the worst wait is many service times.
    assert!(max > 20_000_000, "max latency {max} ns: no queueing tested");

    // Twice as fast: the same computation over halved gaps, rounded to
    // the nanosecond as the replay rounds them.
    let t0 = rows[0].0;
    let halved: Vec<(u64, u64)> = rows
        .iter()
        .map(|&(t, w)| (t0 + ((t - t0) as f64 / 2.0).round() as u64, w))
        .collect();
    let fast = scenario::load_file(
        &scenario,
        &support::overrides(&["workload.arrivals.speedup=2"]),
    )
    .unwrap();
    let f = harness::run_one(&fast, "v", 0).result;
    let (sum, max) = fifo(&halved, 4, |w| 2_000_000 + w * 400);
    assert_eq!((f.latency_exact.sum_ns, f.latency_exact.max_ns), (sum, max));
}

#[test]
fn a_window_of_the_log_loops_and_capabilities_route() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("log.csv"),
        "ts,cap,prio\n\
         09:00:00.5,a,high\n\
         09:00:01,b,low\n\
         09:00:02.25,a,\n\
         09:00:03,b,critical\n\
         09:00:09,a,normal\n",
    )
    .unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        r#"name = "window"
duration = "20s"

[[fleet.tiers]]
name = "a"
count = 1
service_time = { dist = "constant", value = "1ms" }
capabilities = ["a"]

[[fleet.tiers]]
name = "b"
count = 1
service_time = { dist = "constant", value = "1ms" }
capabilities = ["b"]

[workload]
arrivals = { process = "trace", file = "log.csv", time_column = "ts", capability_column = "cap", priority_column = "prio", start = "09:00:01", end = "4s", loop = true }
"#,
    )
    .unwrap();
    let sc = scenario::load_file(&scenario, &[]).unwrap();
    let r = harness::run_one(&sc, "v", 0).result;
    // The window [09:00:01, 09:00:04.5) holds rows 2–4 (b, a, b), replayed
    // every 3.5 s from t = 0: laps start at 0, 3.5, …, 17.5 s; the lap at
    // 17.5 s has its rows at 17.5 and 18.75 s (its third, 19.5 s, too).
    assert_eq!(r.submitted, 6 * 3);
    assert_eq!(r.agents[0].tasks, 6, "capability a");
    assert_eq!(r.agents[1].tasks, 12, "capability b");
}

#[test]
fn bad_traces_exit_2_naming_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |file: &str, extra: &str| {
        format!(
            "name = \"bad\"\n[[fleet.tiers]]\nname = \"a\"\ncount = 1\n\
             service_time = {{ dist = \"constant\", value = \"1ms\" }}\n\
             [workload]\narrivals = {{ process = \"trace\", file = \"{file}\", time_column = \"time\"{extra} }}\n"
        )
    };
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "missing_column.csv",
            "when,bytes\n1,2\n",
            "",
            "missing_column.csv:1",
        ),
        (
            "garbage.csv",
            "time,bytes\n1.5,10\n2.x,10\n",
            "",
            "garbage.csv:3:1: column `time`",
        ),
        (
            "backwards.csv",
            "time,bytes\n1.5,10\n1.25,10\n",
            "",
            "backwards.csv:3:1: column `time`",
        ),
        ("empty.csv", "", "", "empty.csv"),
        (
            "bad_work.csv",
            "time,bytes\n1.5,10\n2,-4\n",
            ", work_column = \"bytes\"",
            "bad_work.csv:3:2: column `bytes`",
        ),
    ];
    for (file, body, extra, expect) in cases {
        std::fs::write(dir.path().join(file), body).unwrap();
        let toml = dir.path().join(format!("{file}.toml"));
        std::fs::write(&toml, scenario(file, extra)).unwrap();
        let out = fleetsim(dir.path(), &["validate", toml.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(expect), "{file}: {err:?} lacks {expect:?}");
    }
    // The missing column is named and the header listed.
    std::fs::write(
        dir.path().join("m.toml"),
        scenario("missing_column.csv", ""),
    )
    .unwrap();
    let out = fleetsim(dir.path(), &["run", "m.toml", "--quiet"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("`time`") && err.contains("when, bytes"),
        "{err}"
    );
    // A missing file names the scenario key.
    std::fs::write(dir.path().join("n.toml"), scenario("nowhere.csv", "")).unwrap();
    let out = fleetsim(dir.path(), &["validate", "n.toml"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("workload.arrivals.file") && err.contains("nowhere.csv"),
        "{err}"
    );
}

#[test]
fn the_example_replay_runs_and_a_speedup_compresses_it() {
    let sc = support::load("scenarios/api_gateway_replay.toml", &[]);
    let r = harness::run_one(&sc, "v", 0).result;
    assert_eq!(r.submitted, 2_974);
    assert!(r.conserved());
    assert!(r.success_rate > 0.95, "{}", r.success_rate);
    let fast = support::load(
        "scenarios/api_gateway_replay.toml",
        &["workload.arrivals.speedup=2"],
    );
    let f = harness::run_one(&fast, "v", 0).result;
    assert_eq!(f.submitted, 2_974);
    // The same requests in half the time: the last arrival near 150 s.
    let last = f
        .buckets
        .iter()
        .filter(|b| b.arrivals > 0)
        .map(|b| b.start.as_secs_f64())
        .fold(0.0, f64::max);
    assert!((145.0..=150.0).contains(&last), "last arrivals at {last} s");
    assert!(f.latency_mean_ms > r.latency_mean_ms);
}

/// Ten million rows replayed with the process's peak memory under 100 MB:
/// the trace is streamed, and nothing in the world grows with the number
/// of tasks that have ended. Measured in the real binary (`peak_rss_mb` in
/// perf.csv, from the kernel's high-water mark), so the test process's own
/// memory does not count.
#[test]
fn a_ten_million_row_trace_replays_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(b"time,bytes\n").unwrap();
        // 10,000 requests a second for 1,000 s, evenly spaced.
        for i in 0..10_000_000u64 {
            writeln!(w, "{}.{:04},{}", i / 10_000, i % 10_000, i % 997).unwrap();
        }
        w.flush().unwrap();
    }
    std::fs::write(
        dir.path().join("big.toml"),
        r#"name = "big"
duration = "1001s"
drain = "10s"

[[fleet.tiers]]
name = "fast"
count = 20
service_time = { dist = "per_work", base = "500us", per_unit = "1us" }

[workload]
arrivals = { process = "trace", file = "big.csv", time_column = "time", work_column = "bytes" }
"#,
    )
    .unwrap();
    let out = fleetsim(dir.path(), &["run", "big.toml", "--quiet", "--out", "out"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[4], "10000000", "tasks submitted");
    let Some(mb) = peak_rss_mb(&dir.path().join("out")) else {
        eprintln!("peak memory is not reported on this platform; not checked");
        return;
    };
    eprintln!("10M-row replay: peak resident memory {mb} MB");
    assert!(mb < 100.0, "peak resident memory {mb} MB");
}

/// A trace that changes after the scenario was loaded (and checked) makes
/// the run invalid: the CLI exits 2 instead of reporting partial numbers.
#[test]
fn a_trace_changed_after_loading_invalidates_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    std::fs::write(&log, "time\n0.5\n1.0\n1.5\n").unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"changed\"\nduration = \"10s\"\n[[fleet.tiers]]\nname = \"a\"\n\
         service_time = { dist = \"constant\", value = \"1ms\" }\n[workload]\n\
         arrivals = { process = \"trace\", file = \"log.csv\", time_column = \"time\" }\n",
    )
    .unwrap();
    let sc = scenario::load_file(&scenario, &[]).unwrap();
    let ok = harness::run_replications(&sc, "v", 1, false);
    assert!(harness::check_runs(&ok).is_ok());
    assert_eq!(ok[0].result.submitted, 3);
    std::fs::write(&log, "time\n0.5\n1.0\n").unwrap();
    let runs = harness::run_replications(&sc, "v", 1, false);
    let err = harness::check_runs(&runs).unwrap_err().to_string();
    assert!(err.contains("the file changed"), "{err}");
}
