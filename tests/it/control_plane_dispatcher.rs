//! The dispatcher as a server (`[dispatcher]`): an M/D/1 queue checked
//! against Pollaczek–Khinchine, the `dispatcher_down` fault with and
//! without `queue_while_down` (exact counts on a deterministic arrival
//! process), conservation, and the validation errors.

use fleetsim::harness;
use fleetsim::metrics::{Cause, RunResult};
use fleetsim::scenario::{self, Override, Problem, ScenarioError};

use crate::support::{load_text, run_text};

/// A fleet that never queues: constant 5 ms service, one slot per agent,
/// zero latency. Behind a one-slot dispatcher with constant time `d`,
/// successive routings are at least `d` ≥ 5 ms apart, so even one agent
/// would never hold two tasks; four are given for good measure.
const MD1: &str = r#"name = "md1"
duration = "2000s"
warmup = "100s"
drain = "10s"

[[fleet.tiers]]
name = "a"
count = 4
concurrency = 1
service_time = { dist = "constant", value = "5ms" }

[workload]
arrivals = { process = "poisson", rate = 60.0 }

[balancer]
strategy = "round_robin"

[dispatcher]
service_time = { dist = "constant", value = "10ms" }
concurrency = 1
"#;

/// Mean and standard error of the mean of independent values.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[test]
fn a_one_slot_dispatcher_with_constant_time_is_m_d_1() {
    let (lambda, d, service) = (60.0, 0.010, 0.005);
    let rho = lambda * d;
    let wq = lambda * d * d / (2.0 * (1.0 - rho)); // Pollaczek–Khinchine, M/D/1
    let want_ms = (d + wq + service) * 1e3; // 22.5 ms
    let runs = harness::run_replications(&load_text(MD1, &[]), "v", 10, false);
    // Batches: each replication is one batch of ~114,000 measured tasks
    // after a 100 s warm-up; replications use independent seeds, so the
    // batch means are independent and their spread gives the standard
    // error directly (measured: 0.03 ms, 0.13 % of the mean).
    let lat: Vec<f64> = runs.iter().map(|r| r.result.latency_mean_ms).collect();
    let (m, se) = mean_se(&lat);
    assert!(
        se < 0.01 * want_ms,
        "batch means too spread to test anything: se {se} ms"
    );
    assert!(
        (m - want_ms).abs() < 4.0 * se,
        "mean latency {m:.4} ms, M/D/1 says {want_ms:.4} ms (se {se:.4} ms)"
    );
    // The queueing part alone, as summary.csv reports it.
    let waits: Vec<f64> = runs
        .iter()
        .map(|r| r.result.dispatcher_wait_mean_ms)
        .collect();
    let (w, wse) = mean_se(&waits);
    assert!(
        (w - wq * 1e3).abs() < 4.0 * wse,
        "dispatcher wait {w:.4} ms, M/D/1 says {:.4} ms (se {wse:.4} ms)",
        wq * 1e3
    );
    // Utilization is λd: the count of arrivals in the window is Poisson, so
    // its relative standard error is 1/√(λ·1900 s) ≈ 0.3 % per run.
    for r in &runs {
        let u = r.result.dispatcher_utilization;
        assert!((u - rho).abs() < 0.02, "utilization {u}, want {rho}");
        assert!(r.result.conserved());
        assert_eq!(r.result.failed, 0);
    }
}

#[test]
fn more_slots_cut_the_wait_and_no_table_costs_nothing() {
    // Four slots at the same load barely queue (M/D/4 at ρ = 0.15).
    let four = run_text(MD1, &["dispatcher.concurrency=4", "duration=\"200s\""]);
    assert!(
        four.dispatcher_wait_mean_ms < 0.1,
        "{}",
        four.dispatcher_wait_mean_ms
    );
    assert!((four.dispatcher_utilization - 0.15).abs() < 0.01);
    // Unlimited: never a wait; utilization is the mean number busy (λd).
    let free = run_text(MD1, &["dispatcher.concurrency=0", "duration=\"200s\""]);
    assert_eq!(free.dispatcher_wait_mean_ms, 0.0);
    assert!((free.dispatcher_utilization - 0.6).abs() < 0.03);
    let text = MD1.split("[dispatcher]").next().unwrap();
    let none = run_text(text, &["duration=\"200s\""]);
    assert_eq!(none.dispatcher_wait_mean_ms, 0.0);
    assert_eq!(none.dispatcher_utilization, 0.0);
    assert_eq!(none.latency_mean_ms, 5.0);
}

/// 10 tasks/s at 0, 0.1, …, 29.9 s (300 tasks); the dispatcher is down
/// over [10 s, 15 s), when exactly 50 of them arrive.
const DOWN: &str = r#"name = "down"
duration = "30s"
drain = "5s"

[[fleet.tiers]]
name = "a"
count = 2
concurrency = 1
service_time = { dist = "constant", value = "5ms" }

[workload]
arrivals = { process = "constant", rate = 10.0 }

[[faults]]
at = "10s"
kind = "dispatcher_down"
for = "5s"
"#;

const TABLE: &str = r#"
[dispatcher]
service_time = { dist = "constant", value = "1ms" }
concurrency = 1
"#;

fn no_dispatcher(r: &RunResult) -> u64 {
    r.failed_by[Cause::NoDispatcher as usize]
}

#[test]
fn while_the_dispatcher_is_down_arrivals_fail_with_no_dispatcher() {
    for text in [DOWN.to_string(), format!("{DOWN}{TABLE}")] {
        let r = run_text(&text, &[]);
        assert_eq!(r.submitted, 300);
        assert_eq!(no_dispatcher(&r), 50, "{r:?}");
        assert_eq!(r.failed, 50);
        assert_eq!(r.completed, 250);
        assert!(r.conserved());
        let calls = &r.calls[0];
        assert_eq!(calls.failed_by[Cause::NoDispatcher as usize], 50);
        assert!(calls.conserved());
    }
}

#[test]
fn queue_while_down_holds_arrivals_until_the_dispatcher_is_back() {
    let text = format!("{DOWN}{TABLE}queue_while_down = true\n");
    let r = run_text(&text, &[]);
    assert_eq!(r.submitted, 300);
    assert_eq!(r.completed, 300);
    assert_eq!(no_dispatcher(&r), 0);
    // The 50 tasks of the outage (arrived at 10 + 0.1k s) are routed one
    // per millisecond from 15 s: task k waits 5 − 0.1k + 0.001k s; the
    // task arriving at 15 s queues behind all 50 and waits 50 ms. No
    // other task waits. Mean over the 300 tasks, in ms:
    let total_s: f64 = (0..50).map(|k| 5.0 - 0.099 * f64::from(k)).sum::<f64>() + 0.050;
    let want_ms = total_s / 300.0 * 1e3;
    assert!(
        (r.dispatcher_wait_mean_ms - want_ms).abs() < 1e-6,
        "{} vs {want_ms}",
        r.dispatcher_wait_mean_ms
    );
}

#[test]
fn retries_due_while_the_dispatcher_is_down_fail_with_no_dispatcher() {
    // Every attempt fails (error_rate = 1); the retry of the task arriving
    // at 9.9 s would be due at 10.4 s, inside the outage.
    let text = r#"name = "retry"
duration = "10s"
drain = "20s"

[[fleet.tiers]]
name = "a"
count = 1
service_time = { dist = "constant", value = "5ms" }
error_rate = 1.0

[workload]
arrivals = { process = "constant", rate = 10.0 }

[retry]
strategy = "constant"
base = "500ms"
max_attempts = 2
jitter = "none"

[[faults]]
at = "10s"
kind = "dispatcher_down"
for = "5s"
"#;
    let r = run_text(text, &[]);
    assert_eq!(r.submitted, 100);
    // Retries fall due at 0.505 s + 0.1k: those of the tasks from 9.5 s
    // on (k = 95..99) are due inside [10 s, 15 s).
    assert_eq!(no_dispatcher(&r), 5, "{r:?}");
    assert_eq!(r.failed_by[Cause::Error as usize], 95);
}

fn problems(text: &str) -> Vec<Problem> {
    let none: Vec<Override> = Vec::new();
    match scenario::load_str("t.toml", "t", text, &none) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ScenarioError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn bad_dispatcher_tables_are_named() {
    let base = DOWN.split("[[faults]]").next().unwrap();
    let ps = problems(&format!("{base}[dispatcher]\nconcurrency = 2\n"));
    assert!(
        ps.iter()
            .any(|p| p.path == "dispatcher.service_time" && p.message.contains("missing")),
        "{ps:#?}"
    );
    let ps = problems(&format!(
        "{base}[[faults]]\nat = \"1s\"\nkind = \"dispatcher_down\"\ntarget = {{ fraction = 0.5 }}\n"
    ));
    assert!(
        ps.iter()
            .any(|p| p.path == "faults[0].target" && p.message.contains("dispatcher_down")),
        "{ps:#?}"
    );
}
