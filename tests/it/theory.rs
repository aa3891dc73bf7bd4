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

/// Erlang C mean wait in queue for M/M/c (Kleinrock, *Queueing Systems*,
/// vol. 1, ch. 3).
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

/// Mean sojourn over 8 replications of a strategy on the supermarket file.
fn supermarket_w(sets: &[&str]) -> f64 {
    let sc = load("scenarios/theory/supermarket.toml", sets);
    let runs = harness::run_replications(&sc, "theory", 8, false);
    mean(&runs, |r| r.result.latency_mean_ms / 1e3)
}

/// Supermarket model, N → ∞: Σ_{i≥1} λ^(2^i − 1) / λ (d = 2).
fn p2c_mean_field(lambda: f64) -> f64 {
    (1..30)
        .map(|i| lambda.powf(2f64.powi(i) - 1.0))
        .sum::<f64>()
        / lambda
}

/// E_k/M/1 mean sojourn: σ solves σ = (kλ / (kλ + μ(1 − σ)))^k; W = 1/(μ(1 − σ)).
/// Round robin over N servers gives each an Erlang-N arrival stream.
fn ek_m1_w(k: u32, lambda: f64, mu: f64) -> f64 {
    let kl = f64::from(k) * lambda;
    let mut s = 0.5;
    for _ in 0..500 {
        s = (kl / (kl + mu * (1.0 - s))).powi(k as i32);
    }
    1.0 / (mu * (1.0 - s))
}

#[test]
fn power_of_two_choices_matches_the_supermarket_model() {
    // Per-run sd at N = 100 (about 1.8M tasks): p2c 0.4 %, random 0.7 %;
    // over 8 replications the tolerances below are over 7 sd wide.
    let mf = p2c_mean_field(0.9);
    assert!((mf - 2.614).abs() < 0.001, "mean-field value {mf}");
    let w = supermarket_w(&[]);
    // Finite N sits just above the N → ∞ value: about 2.64 at N = 100.
    assert!(w > mf && w < mf * 1.03, "p2c W = {w}, mean-field {mf}");
    let w = supermarket_w(&["balancer.strategy=random"]);
    assert!(
        rel(w, 10.0) < 0.02,
        "random W = {w}, M/M/1 at ρ = 0.9 gives 10"
    );
}

#[test]
fn strategies_rank_as_theory_says_at_n_10() {
    let n10 = |strategy: &str| {
        let s = format!("balancer.strategy={strategy}");
        supermarket_w(&[
            &s,
            "fleet.tiers[0].count=10",
            "workload.arrivals.rate=8",
            "duration=\"125000s\"",
        ])
    };
    let (jsq, p2c, rr, random) = (
        n10("least_connections"),
        n10("p2c"),
        n10("round_robin"),
        n10("random"),
    );
    // Random: ten independent M/M/1 queues at ρ = 0.8.
    assert!(rel(random, 5.0) < 0.02, "random W = {random}, theory 5");
    // Round robin: each server sees Erlang-10 interarrivals (E10/M/1).
    let rr_theory = ek_m1_w(10, 0.8, 1.0);
    assert!((rr_theory - 2.9223).abs() < 1e-3);
    assert!(
        rel(rr, rr_theory) < 0.02,
        "round robin W = {rr}, E10/M/1 gives {rr_theory}"
    );
    // p2c at finite N lies above its mean-field value and below round robin.
    let mf = p2c_mean_field(0.8);
    assert!(
        p2c > mf && p2c < rr,
        "p2c W = {p2c}, mean-field {mf}, round robin {rr}"
    );
    // Joining the shortest queue cannot beat one central queue (M/M/10).
    let mmc = erlang_c_wq(8.0, 1.0, 10) + 1.0;
    assert!(
        jsq > mmc && jsq < p2c,
        "least_connections W = {jsq}, M/M/10 {mmc}, p2c {p2c}"
    );
}
