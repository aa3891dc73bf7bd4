//! The orchestration layer in whole runs: deadlines, priorities and aging,
//! retries, dependency-graph jobs and sagas.

use fleetsim::harness;
use fleetsim::metrics::RunResult;
use fleetsim::scenario::{self, Override};

/// One agent serving constant 100 ms tasks, Poisson arrivals at 8/s, one
/// worker: an M/D/1 queue at ρ = 0.8 in front of the central priority queue.
const BASE: &str = r#"name = "o"
seed = 11
duration = "120s"
drain = "60s"

[[fleet.tiers]]
name = "a"
count = 1
service_time = { dist = "constant", value = "100ms" }

[workload]
arrivals = { process = "poisson", rate = 8.0 }

[dispatch]
workers = 1
"#;

fn run(text: &str, sets: &[&str]) -> RunResult {
    let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
    let sc = scenario::load_str("t.toml", "t", text, &overrides).unwrap_or_else(|e| panic!("{e}"));
    harness::run_one(&sc, "v", 0).result
}

#[test]
fn a_deadline_cancels_what_is_not_done_in_time() {
    // Offered 12/s to a server of 10/s: the queue grows without bound, so
    // without a deadline latency keeps rising; with one, nothing completes
    // later than the deadline and the rest is cancelled.
    let r = run(
        BASE,
        &["workload.arrivals.rate=12", "workload.deadline=\"2s\""],
    );
    assert!(r.cancelled > 200, "{r:?}");
    assert!(r.latency_max_ms <= 2_000.0, "{}", r.latency_max_ms);
    assert!(r.conserved());
    let open = run(BASE, &["workload.arrivals.rate=12"]);
    assert!(open.latency_max_ms > 10_000.0, "{}", open.latency_max_ms);
    // Routed on arrival, the deadline cancels requests waiting at the agent.
    let routed = run(
        BASE,
        &[
            "workload.arrivals.rate=12",
            "workload.deadline=\"2s\"",
            "dispatch.workers=0",
        ],
    );
    assert!(
        routed.cancelled > 200 && routed.latency_max_ms <= 2_000.0,
        "{routed:?}"
    );
}

#[test]
fn priorities_order_the_waits_as_cobham_predicts_and_aging_lifts_the_lowest() {
    // Non-preemptive priority M/D/1 (Cobham 1954): class k waits
    // W0 / ((1 - σ_{k-1})(1 - σ_k)) with W0 = λ E[S²] / 2 = 8 · 0.01 / 2 =
    // 40 ms and σ_k the load of classes 1..k (0.2 each): critical 50, high
    // 83.3, normal 166.7, low 500 ms. Over 3,000 s (24,000 tasks) the
    // per-run sd of the class means is 2.0, 2.4, 3.0 and 5.5 % (30
    // replications); the mean of 4 runs halves that, so the tolerances of
    // 5, 5, 6 and 12 % are over 4 sd.
    let mixed = "workload.priorities={critical=1,high=1,normal=1,low=1}";
    let overrides: Vec<Override> = [mixed, "duration=\"3000s\""]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let sc = scenario::load_str("t.toml", "t", BASE, &overrides).unwrap();
    let runs = harness::run_replications(&sc, "v", 4, false);
    let mut w = [0.0; 4];
    for r in &runs {
        for (k, x) in r.result.wait_mean_ms_by_priority.iter().enumerate() {
            w[k] += x / runs.len() as f64;
        }
    }
    for (k, (theory, tol)) in [(50.0, 0.05), (83.333, 0.05), (166.667, 0.06), (500.0, 0.12)]
        .into_iter()
        .enumerate()
    {
        assert!(
            (w[k] / theory - 1.0).abs() < tol,
            "class {k}: {} vs {theory}",
            w[k]
        );
    }
    // Aging (one level per 200 ms waited) trades the classes' waits.
    let plain = run(BASE, &[mixed]);
    let aged = run(BASE, &[mixed, "dispatch.aging=\"200ms\""]);
    let (p, a) = (
        plain.wait_mean_ms_by_priority,
        aged.wait_mean_ms_by_priority,
    );
    assert!(a[3] < p[3] && a[0] > p[0], "aging {a:?} vs {p:?}");
}
