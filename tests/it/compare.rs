//! `fleetsim compare` through the real binary: common random numbers (every
//! strategy sees the same tasks on a seed), one `comparison.csv` row per
//! strategy, and a paired interval that is narrower than the unpaired one
//! when the strategies are correlated on a seed.

use crate::support::{fleetsim, text};
use std::fs;
use std::path::Path;

/// The rows of a CSV file as (header → value) lookups.
fn rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let header = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// Four servers with exponential service (μ = 10/s) at λ = 34/s (ρ =
/// 0.85), routed on arrival: at this load one seed's mean latency differs
/// a lot from another's, and the strategies move together on a seed.
const MMC: &str = r#"
name = "mmc4"
seed = 3
duration = "30s"
drain = "60s"

[[fleet.tiers]]
name = "server"
count = 4
service_time = { dist = "exponential", mean = "100ms" }

[workload]
arrivals = { process = "poisson", rate = 34.0 }
"#;

#[test]
fn every_strategy_sees_the_same_workload_on_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    // steady_load has agents that go down at random and a tier's own
    // failure draws: the same tasks must arrive whatever the strategy.
    let o = fleetsim(
        dir.path(),
        &[
            "compare",
            "steady_load",
            "--strategies",
            "weighted,least_connections,p2c",
            "--replications",
            "3",
            "--set",
            "duration=\"5s\"",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("3 strategies × 3 replications"), "{stdout}");
    assert!(stdout.contains("reports/steady_load/compare/"), "{stdout}");
    let out = dir.path().join("reports/steady_load/compare");
    let summary = rows(&out.join("summary.csv"));
    assert_eq!(summary.len(), 9);
    let strategies: Vec<&str> = summary.iter().map(|r| r["variant"].as_str()).collect();
    assert_eq!(
        strategies,
        [
            "weighted",
            "weighted",
            "weighted",
            "least_connections",
            "least_connections",
            "least_connections",
            "p2c",
            "p2c",
            "p2c"
        ],
        "runs ordered by strategy, then replication"
    );
    for r in 0..3 {
        let of = |s: usize| &summary[s * 3 + r];
        for s in 1..3 {
            assert_eq!(of(s)["replication"], r.to_string());
            assert_eq!(of(s)["seed"], of(0)["seed"], "replication {r}");
            assert_eq!(
                of(s)["tasks_submitted"],
                of(0)["tasks_submitted"],
                "replication {r}: {} and {} saw different workloads",
                of(s)["variant"],
                of(0)["variant"]
            );
        }
    }
    assert_ne!(summary[0]["seed"], summary[1]["seed"]);
    // The strategies differ (else the test could not fail).
    assert_ne!(summary[0]["latency_mean_ms"], summary[3]["latency_mean_ms"]);
    for f in ["agents.csv", "timeseries.csv", "bus.csv", "perf.csv"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

#[test]
fn comparison_csv_has_one_row_per_strategy_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("mmc4.toml"), MMC).unwrap();
    let o = fleetsim(
        dir.path(),
        &[
            "compare",
            "mmc4.toml",
            "--strategies",
            "random,least_connections,round_robin",
            "--replications",
            "4",
            "--out",
            "c",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    let csv = fs::read_to_string(dir.path().join("c/comparison.csv")).unwrap();
    let mut want = String::from("scenario,strategy,baseline,seed,replications");
    for m in [
        "success_rate",
        "throughput_per_s",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p99_ms",
        "wait_mean_ms",
        "tasks_failed",
        "breaker_trips",
    ] {
        want.push_str(&format!(",{m}_mean,{m}_ci95,{m}_diff,{m}_diff_ci95"));
    }
    assert_eq!(csv.lines().next().unwrap(), want);
    let table = rows(&dir.path().join("c/comparison.csv"));
    let names: Vec<&str> = table.iter().map(|r| r["strategy"].as_str()).collect();
    assert_eq!(names, ["random", "least_connections", "round_robin"]);
    for r in &table {
        assert_eq!(r["baseline"], "random");
        assert_eq!(r["replications"], "4");
        assert_eq!(r["scenario"], "mmc4");
    }
    // The baseline's differences are against itself.
    assert_eq!(table[0]["latency_mean_ms_diff"], "0.000");
    assert_eq!(table[0]["latency_mean_ms_diff_ci95"], "0.000");
    // Least connections beats random at ρ = 0.85.
    assert!(num(&table[1], "latency_mean_ms_diff") < 0.0);
    // Same inputs, same bytes.
    let again = fleetsim(
        dir.path(),
        &[
            "compare",
            "mmc4.toml",
            "--strategies",
            "random,least_connections,round_robin",
            "--replications",
            "4",
            "--out",
            "d",
            "--quiet",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        csv,
        fs::read_to_string(dir.path().join("d/comparison.csv")).unwrap()
    );
}

/// Paired vs unpaired. The unpaired interval of a difference of two means
/// is taken as sqrt(ci_a² + ci_b²), the half-width obtained by combining
/// the two strategies' own 95% intervals as if their runs were independent
/// (close to a Welch interval at equal R). The paired interval is the t
/// interval (R − 1 df) of the per-replication differences.
#[test]
fn the_paired_interval_is_narrower_than_the_unpaired_one() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("mmc4.toml"), MMC).unwrap();
    let o = fleetsim(
        dir.path(),
        &[
            "compare",
            "mmc4.toml",
            "--strategies",
            "round_robin,least_connections,p2c,random",
            "--replications",
            "10",
            "--out",
            "c",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    // Ranked by p99: least connections first, random last.
    let rank = |s: &str| stdout.find(&format!("  {s} ")).unwrap_or(usize::MAX);
    assert!(
        rank("least_connections") < rank("round_robin") && rank("round_robin") < rank("random"),
        "{stdout}"
    );
    let table = rows(&dir.path().join("c/comparison.csv"));
    let base = &table[0];
    for row in &table[1..] {
        // Measured: about 0.5 for the means, 0.75 for p99.
        for (m, at_most) in [
            ("latency_mean_ms", 0.7),
            ("wait_mean_ms", 0.7),
            ("latency_p99_ms", 1.0),
        ] {
            let paired = num(row, &format!("{m}_diff_ci95"));
            let unpaired = num(row, &format!("{m}_ci95")).hypot(num(base, &format!("{m}_ci95")));
            assert!(
                paired > 0.0 && paired < at_most * unpaired,
                "{} {m}: paired ±{paired} is not narrower than unpaired ±{unpaired}",
                row["strategy"]
            );
            // The mean of the differences is the difference of the means.
            let d = num(row, &format!("{m}_mean")) - num(base, &format!("{m}_mean"));
            assert!((num(row, &format!("{m}_diff")) - d).abs() < 0.0015, "{m}");
        }
    }
}

#[test]
fn unknown_or_repeated_strategies_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = fleetsim(
        dir.path(),
        &["compare", "steady_load", "--strategies", "weighted,fastest"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("unknown strategy `fastest`; one of round_robin, least_connections"),
        "{err}"
    );
    let o = fleetsim(
        dir.path(),
        &["compare", "steady_load", "--strategies", "p2c,p2c"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("`p2c` is listed twice"));
    assert!(!dir.path().join("reports").exists());
}
