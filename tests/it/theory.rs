//! Whole models with known answers: M/M/1, M/M/c (Erlang C), Little's law.
//!
//! Tolerances are set from the measured spread, not from luck: one run of
//! 1,000,000 tasks has a standard deviation of about 0.9 % of W and 1.1 % of
//! Wq for M/M/1 at ρ = 0.8, and 0.4 % of W and 1.9 % of Wq for M/M/10 at
//! λ = 8 (20 seeds each). Averaging 8 independent replications divides these
//! by √8, so the 2 % (W) and 5 % (Wq) tolerances are at least 5.4 standard
//! deviations wide, while a model error of a few percent still fails.

use fleetsim::harness::{self, RunRecord};

use crate::support::load;

/// Erlang C mean wait in queue for M/M/c (DESIGN.md, references).
fn erlang_c_wq(lambda: f64, mu: f64, c: u32) -> f64 {
    let a = lambda / mu;
    let rho = a / f64::from(c);
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let top = term * a / f64::from(c) / (1.0 - rho); // a^c / c! / (1 - ρ)
    let prob_wait = top / (sum + top);
    prob_wait / (f64::from(c) * mu - lambda)
}

fn mean(runs: &[RunRecord], f: impl Fn(&RunRecord) -> f64) -> f64 {
    runs.iter().map(f).sum::<f64>() / runs.len() as f64
}

fn rel(x: f64, want: f64) -> f64 {
    (x - want).abs() / want
}

/// Little's law per run: L (time average in system over the window) =
/// λ (arrival rate over the window) × W (mean sojourn of those tasks).
fn assert_little(runs: &[RunRecord], tol: f64) {
    for r in runs {
        let s = &r.result;
        let lw = s.arrival_rate_per_s * s.latency_mean_ms / 1e3;
        let e = rel(s.in_system_mean, lw);
        assert!(
            e < tol,
            "Little's law off by {e:.5}: L = {}, λW = {lw} (replication {})",
            s.in_system_mean,
            r.replication
        );
    }
}

#[test]
fn erlang_c_formula_matches_the_published_value() {
    assert!((erlang_c_wq(8.0, 1.0, 10) - 0.204_590).abs() < 5e-7);
    // c = 1 reduces to M/M/1: Wq = ρ / (μ - λ).
    assert!((erlang_c_wq(0.8, 1.0, 1) - 4.0).abs() < 1e-12);
}

#[test]
fn mm1_matches_theory() {
    let sc = load("scenarios/theory/mm1.toml", &[]);
    let runs = harness::run_replications(&sc, "theory", 8, false);
    let w = mean(&runs, |r| r.result.latency_mean_ms / 1e3);
    let wq = mean(&runs, |r| r.result.wait_mean_ms / 1e3);
    // ρ = 0.8: W = 1/(μ-λ) = 5 s, Wq = ρ/(μ-λ) = 4 s.
    assert!(rel(w, 5.0) < 0.02, "W = {w}, theory 5");
    assert!(rel(wq, 4.0) < 0.05, "Wq = {wq}, theory 4");
    assert_little(&runs, 0.01);
    for r in &runs {
        assert!(
            r.result.submitted > 990_000,
            "about a million tasks per run"
        );
        assert_eq!(
            r.result.completed, r.result.submitted,
            "the drain finishes every task"
        );
    }
}

#[test]
fn mmc_matches_erlang_c() {
    let sc = load("scenarios/theory/mmc.toml", &[]);
    let runs = harness::run_replications(&sc, "theory", 8, false);
    let wq_theory = erlang_c_wq(8.0, 1.0, 10);
    let w_theory = wq_theory + 1.0;
    let w = mean(&runs, |r| r.result.latency_mean_ms / 1e3);
    let wq = mean(&runs, |r| r.result.wait_mean_ms / 1e3);
    assert!(rel(w, w_theory) < 0.02, "W = {w}, Erlang C {w_theory}");
    assert!(rel(wq, wq_theory) < 0.05, "Wq = {wq}, Erlang C {wq_theory}");
    assert_little(&runs, 0.01);
    // Utilisation per server = λ / (c μ) = 0.8.
    for r in &runs {
        let u: f64 = r.result.agents.iter().map(|a| a.utilization).sum::<f64>() / 10.0;
        assert!(rel(u, 0.8) < 0.01, "utilisation {u}");
    }
}

#[test]
fn a_wrong_model_fails_the_same_check() {
    // The check above must be able to fail: with μ 5 % slower, M/M/10's W
    // moves by far more than the tolerance.
    let sc = load(
        "scenarios/theory/mmc.toml",
        &["fleet.tiers[0].service_time.mean=\"1.05s\""],
    );
    let runs = harness::run_replications(&sc, "theory", 2, false);
    let w = mean(&runs, |r| r.result.latency_mean_ms / 1e3);
    assert!(rel(w, erlang_c_wq(8.0, 1.0, 10) + 1.0) > 0.05, "W = {w}");
}

#[test]
fn littles_law_holds_with_network_latency_priorities_and_tiers() {
    let sc = load(
        "scenarios/steady_load.toml",
        &[
            "dispatch.workers=6",
            "workload.arrivals.rate=150",
            "workload.priorities={critical=1,high=2,normal=5,low=2}",
            "network.latency={dist=\"lognormal\",median=\"2ms\",p99=\"20ms\"}",
            "duration=\"600s\"",
            "warmup=\"10s\"",
        ],
    );
    let runs = harness::run_replications(&sc, "little", 2, false);
    assert_little(&runs, 0.01);
    for r in &runs {
        assert!(
            r.result.wait_mean_ms > 0.0,
            "with 6 workers tasks queue centrally"
        );
    }
}
