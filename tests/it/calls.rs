//! Tiers that call other capabilities, checked against theory and against
//! invariants: tandem queues (Jackson, Burke), fork–join (Nelson &
//! Tantawi), retry amplification across three layers, the capacity of a
//! blocking server against an async one, run-twice determinism, common
//! random numbers across balancers, per-hop conservation, and the
//! validation errors of the call graph.
//!
//! Every statistical tolerance is set from a standard error, stated beside
//! it: the spread of independent replications (queues), a batch-means
//! estimate (the shadow model of fork–join) or an exact variance (retries).

use fleetsim::harness::{self, RunRecord};
use fleetsim::metrics::{CallStats, Cause, RunResult};
use fleetsim::report;
use fleetsim::rng::splitmix64;
use fleetsim::scenario::{self, Problem, ScenarioError};

use crate::support::{fleetsim, load_text, run_text, text};

/// Mean and standard error of the mean of independent values.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

fn rel(x: f64, want: f64) -> f64 {
    (x - want).abs() / want
}

/// `n` replications of a scenario given as text, in parallel (rayon).
fn replicate(text: &str, sets: &[&str], n: u32) -> Vec<RunRecord> {
    let runs = harness::run_replications(&load_text(text, sets), "v", n, false);
    for r in &runs {
        assert!(r.result.conserved(), "{:?}", r.result);
        for (route, c) in r.result.calls.iter().enumerate() {
            assert!(c.conserved(), "route {route}: {}", call_line(c));
        }
    }
    runs
}

fn call_line(c: &CallStats) -> String {
    format!(
        "calls {} attempts {} completed {} failed {} {:?} cancelled {}",
        c.calls, c.attempts, c.completed, c.failed, c.failed_by, c.cancelled
    )
}

// ---------------------------------------------------------------------------
// 1. Tandem queues.

/// Poisson λ = 600/s into `a` (one server, exponential, μ1 = 1000/s), whose
/// async calls go to `b` (one server, exponential, μ2 = 1250/s); no network
/// latency. About 600,000 tasks per replication.
const TANDEM: &str = r#"
name = "tandem"
seed = 7
duration = "1000s"
warmup = "2s"
drain = "10s"

[[fleet.tiers]]
name = "a"
capabilities = ["a"]
service_time = { dist = "exponential", mean = "1ms" }
calls = [{ capability = "b" }]
async = true

[[fleet.tiers]]
name = "b"
capabilities = ["b"]
service_time = { dist = "exponential", mean = "800us" }

[workload]
arrivals = { process = "poisson", rate = 600.0 }
capability = "a"
"#;

#[test]
fn async_tandem_queues_match_jackson() {
    // An async `a` frees its slot after its own service, so a task is an
    // M/M/1 customer at `a`, then (Burke: the departures of an M/M/1 queue
    // are Poisson λ, independent of its current sojourns) an M/M/1
    // customer at `b`: W = 1/(μ1 − λ) + 1/(μ2 − λ) = 2.5 + 1.538 ms.
    let (lambda, mu1, mu2) = (600.0, 1000.0, 1250.0);
    let w_b = 1e3 / (mu2 - lambda);
    let w = 1e3 / (mu1 - lambda) + w_b;
    let runs = replicate(TANDEM, &[], 12);
    let (m, se) = mean_se(
        &runs
            .iter()
            .map(|r| r.result.latency_mean_ms)
            .collect::<Vec<_>>(),
    );
    let (mb, se_b) = mean_se(
        &runs
            .iter()
            .map(|r| r.result.calls[1].latency_mean_ms())
            .collect::<Vec<_>>(),
    );
    println!(
        "tandem: W = {m:.4} ms (se {se:.4}), theory {w:.4}; at b {mb:.4} (se {se_b:.4}), theory {w_b:.4}"
    );
    // One replication's W has a standard deviation of 0.41 % (32 seeds),
    // so the mean of 12 has a standard error of 0.12 %: 0.6 % is 5 of
    // them. Dropping either queue moves W by 38 % or more, and a blocking
    // `a` (its slot held while b works: a load of 600/s × 2.54 ms > 1)
    // would not even be stable.
    assert!(rel(m, w) < 0.006, "W = {m} ms, theory {w} (se {se})");
    // The calls to b alone: an M/M/1 queue at ρ = 0.48, whose mean
    // sojourn has a per-replication sd of 0.45 % (32 seeds): 12 give a
    // standard error of 0.13 %, and 0.65 % is 5 of them.
    assert!(rel(mb, w_b) < 0.0065, "W at b = {mb} ms, theory {w_b}");
    for r in &runs {
        let [a, b] = [&r.result.calls[0], &r.result.calls[1]];
        assert_eq!(a.calls, r.result.submitted);
        assert_eq!((b.calls, b.completed), (a.completed, a.completed));
    }
}

// ---------------------------------------------------------------------------
// 2. Fork–join.

/// `f` does next to nothing itself (1 ns, 64 slots, async) and calls `b`
/// and `c` in parallel, each one exponential server with μ = 1000/s;
/// Poisson λ = 600/s, so ρ = 0.6.
const FORK_JOIN: &str = r#"
name = "forkjoin"
seed = 7
duration = "1000s"
warmup = "2s"
drain = "10s"

[[fleet.tiers]]
name = "f"
capabilities = ["f"]
concurrency = 64
service_time = { dist = "constant", value = "1ns" }
calls = [{ all = ["b", "c"] }]
async = true

[[fleet.tiers]]
name = "b"
capabilities = ["b"]
service_time = { dist = "exponential", mean = "1ms" }

[[fleet.tiers]]
name = "c"
capabilities = ["c"]
service_time = { dist = "exponential", mean = "1ms" }

[workload]
arrivals = { process = "poisson", rate = 600.0 }
capability = "f"
"#;

/// Nelson & Tantawi (1988), exact for two servers (from Flatto & Hahn,
/// 1984): the mean response of a 2-way fork–join of M/M/1 queues is
/// (12 − ρ)/8 · 1/(μ − λ).
fn nelson_tantawi(lambda: f64, mu: f64) -> f64 {
    (12.0 - lambda / mu) / 8.0 / (mu - lambda)
}

/// A shadow model of the 2-way fork–join, independent of the simulator:
/// the Lindley recursion of each FIFO queue (sojourn T_n = max(T_{n−1} −
/// A_n, 0) + S_n) and the join R_n = max(T_n^b, T_n^c). Returns the means
/// of `batches` consecutive batches of `per_batch` customers, after a
/// warm-up of 10,000.
fn fork_join_batches(lambda: f64, mu: f64, batches: usize, per_batch: usize) -> Vec<f64> {
    let mut state = 0x5eed_f00d_u64;
    let mut exp = |rate: f64| {
        let u = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        -(1.0 - u).ln() / rate
    };
    let (mut tb, mut tc) = (0.0f64, 0.0f64);
    let mut out = Vec::with_capacity(batches);
    for k in 0..=batches {
        let n = if k == 0 { 10_000 } else { per_batch };
        let mut sum = 0.0;
        for _ in 0..n {
            let a = exp(lambda);
            tb = (tb - a).max(0.0) + exp(mu);
            tc = (tc - a).max(0.0) + exp(mu);
            sum += tb.max(tc);
        }
        if k > 0 {
            out.push(sum / n as f64);
        }
    }
    out
}

#[test]
fn nelson_tantawi_formula_matches_a_shadow_model() {
    // ρ → 0: the max of two Exp(μ) has mean 1.5/μ; the formula gives 12/8.
    assert!((nelson_tantawi(1e-9, 1.0) - 1.5).abs() < 1e-6);
    for rho in [0.3, 0.6, 0.8] {
        let xs = fork_join_batches(rho, 1.0, 64, 1 << 15);
        let (m, se) = mean_se(&xs);
        let want = nelson_tantawi(rho, 1.0);
        // Batches of 32,768 customers are hundreds of relaxation times
        // (1/(1 − √ρ)² ≤ 90 services at ρ = 0.8) long, so their means are
        // nearly independent and `se` is a batch-means standard error
        // (0.1 % to 0.6 % of the mean): 5 of them is the tolerance.
        println!("shadow fork–join ρ = {rho}: R = {m:.4} (se {se:.4}), formula {want:.4}");
        assert!(
            (m - want).abs() < 5.0 * se,
            "ρ = {rho}: R = {m}, formula {want}, se {se}"
        );
        // The check has power: treating the two sojourns as independent
        // (E max = 1.5/(μ − λ)) is off by 5 standard errors or more.
        let independent = 1.5 / (1.0 - rho);
        assert!(
            (m - independent).abs() > 5.0 * se,
            "ρ = {rho}: {m} vs {independent}"
        );
    }
}

#[test]
fn fork_join_matches_nelson_tantawi() {
    let (lambda, mu) = (600.0, 1000.0);
    let want = 1e3 * nelson_tantawi(lambda, mu); // 3.5625 ms
    let runs = replicate(FORK_JOIN, &[], 12);
    let (m, se) = mean_se(
        &runs
            .iter()
            .map(|r| r.result.latency_mean_ms)
            .collect::<Vec<_>>(),
    );
    let branch: Vec<f64> = runs
        .iter()
        .map(|r| (r.result.calls[1].latency_mean_ms() + r.result.calls[2].latency_mean_ms()) / 2.0)
        .collect();
    let (mb, se_b) = mean_se(&branch);
    println!(
        "fork–join: R = {m:.4} ms (se {se:.4}), Nelson–Tantawi {want:.4}; branch {mb:.4} (se {se_b:.4})"
    );
    // One replication's R has a standard deviation of 0.50 % (32 seeds):
    // 12 give a standard error of 0.15 %, and 0.75 % is 5 of them. Both
    // alternatives are far outside: the two sojourns as if independent
    // (3.75 ms, +5 %) or waiting for one branch only (under 2.5 ms).
    assert!(rel(m, want) < 0.0075, "R = {m} ms, theory {want} (se {se})");
    // Each branch alone is M/M/1 at ρ = 0.6: 1/(μ − λ) = 2.5 ms. The
    // average of b's and c's mean sojourn has a per-replication sd of
    // 0.48 % (32 seeds; b and c share their arrivals, so averaging gains
    // little): 12 give a standard error of 0.14 %, and 0.7 % is 5 of them.
    assert!(rel(mb, 2.5) < 0.007, "branch W = {mb} ms, M/M/1 gives 2.5");
    for r in &runs {
        let c = &r.result.calls;
        assert_eq!(c[1].calls, c[0].completed, "one call to b per task");
        assert_eq!(c[2].calls, c[0].completed, "one call to c per task");
    }
}

// ---------------------------------------------------------------------------
// 3. Retry amplification.

/// Three layers, each with `max_attempts = 3`: the dispatcher → `a`
/// (`[retry]`), `a` → `b` and `b` → `c` (`[capabilities.X] retry`), with a
/// 1 µs constant backoff and budgets too large to bind (ratio 10 > the 2
/// retries a call can make; a reserve of 10⁵ retries a second). Only `c`
/// fails, with probability p = 0.9 per attempt.
const AMPLIFY: &str = r#"
name = "amplify"
seed = 5
duration = "400s"
drain = "10s"

[[fleet.tiers]]
name = "a"
capabilities = ["a"]
concurrency = 64
service_time = { dist = "constant", value = "100us" }
calls = [{ capability = "b" }]

[[fleet.tiers]]
name = "b"
capabilities = ["b"]
concurrency = 64
service_time = { dist = "constant", value = "100us" }
calls = [{ capability = "c" }]

[[fleet.tiers]]
name = "c"
capabilities = ["c"]
concurrency = 64
service_time = { dist = "constant", value = "100us" }
error_rate = 0.9

[workload]
arrivals = { process = "poisson", rate = 100.0 }
capability = "a"

[retry]
max_attempts = 3
strategy = "constant"
base = "1us"
jitter = "none"
budget = { ratio = 10.0, min_per_s = 100000 }

[capabilities.b]
retry = { max_attempts = 3, strategy = "constant", base = "1us", jitter = "none", budget = { ratio = 10.0, min_per_s = 100000 } }

[capabilities.c]
retry = { max_attempts = 3, strategy = "constant", base = "1us", jitter = "none", budget = { ratio = 10.0, min_per_s = 100000 } }
"#;

/// The joint law of a call's outcome and of the attempts it counts at
/// some layer: `ok[n]` (`failed[n]`) is the probability that it succeeds
/// (fails) having counted `n` attempts.
#[derive(Clone, Debug)]
struct Law {
    ok: Vec<f64>,
    failed: Vec<f64>,
}

fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

fn add(a: &mut Vec<f64>, b: &[f64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0.0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

impl Law {
    /// One counted attempt that succeeds with probability `s`.
    fn attempt(s: f64) -> Law {
        Law {
            ok: vec![0.0, s],
            failed: vec![0.0, 1.0 - s],
        }
    }

    /// A call of up to `m` independent attempts, each an attempt of the
    /// layer above `self` (which makes one call distributed as `self`, and
    /// fails iff it fails), until one succeeds.
    fn retried(&self, m: u32) -> Law {
        let mut ok = vec![0.0];
        let mut all_failed = vec![1.0];
        for _ in 0..m {
            add(&mut ok, &convolve(&all_failed, &self.ok));
            all_failed = convolve(&all_failed, &self.failed);
        }
        Law {
            ok,
            failed: all_failed,
        }
    }

    fn success(&self) -> f64 {
        self.ok.iter().sum()
    }

    /// Mean and variance of the attempts counted.
    fn count_moments(&self) -> (f64, f64) {
        let mut pmf = self.ok.clone();
        add(&mut pmf, &self.failed);
        let m1: f64 = pmf.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
        let m2: f64 = pmf
            .iter()
            .enumerate()
            .map(|(n, p)| (n * n) as f64 * p)
            .sum();
        (m1, m2 - m1 * m1)
    }
}

#[test]
fn retries_multiply_across_layers_as_the_product_formulas_say() {
    // With p the failure probability of one attempt at c and 3 attempts
    // per call at every layer, failure draws independent per attempt:
    //   a call b → c fails iff its 3 attempts fail:   q1 = p³,
    //   so a request at b fails with q1, and a call a → b fails with
    //   q2 = q1³ = p⁹; a request at a fails with q2, and a task fails with
    //   q2³ = p²⁷: top-level success 1 − p²⁷ (0.9419 at p = 0.9).
    // Attempts: a call whose attempts fail with q makes 1 + q + q² of
    // them on average, and (Wald) the layers multiply:
    //   a per task = 1 + q2 + q2²,
    //   b per task = (1 + q2 + q2²)(1 + q1 + q1²),
    //   c per task = (1 + q2 + q2²)(1 + q1 + q1²)(1 + p + p²)  (9.42).
    let p: f64 = 0.9;
    let geo = |q: f64| 1.0 + q + q * q;
    let (q1, q2) = (p.powi(3), p.powi(9));
    let want_success = 1.0 - p.powi(27);
    let want = [geo(q2), geo(q2) * geo(q1), geo(q2) * geo(q1) * geo(p)];
    // The exact laws, for the variances: count attempts at a, b or c.
    let laws = [
        Law::attempt(1.0 - q2).retried(3),
        Law::attempt(1.0 - q1).retried(3).retried(3),
        Law::attempt(1.0 - p).retried(3).retried(3).retried(3),
    ];
    for (law, w) in laws.iter().zip(want) {
        assert!((law.count_moments().0 - w).abs() < 1e-12, "{law:?}");
        assert!((law.success() - want_success).abs() < 1e-12);
    }

    // Four replications of about 40,000 tasks each.
    let runs = replicate(AMPLIFY, &[], 4);
    let (mut tasks, mut completed, mut attempts) = (0, 0, [0; 3]);
    for r in runs.iter().map(|r| &r.result) {
        assert_eq!(r.completed + r.failed, r.submitted, "{r:?}");
        assert_eq!(r.retry_budget_exhausted, 0, "the budgets never bind");
        let calls = &r.calls;
        // Every attempt at a makes one call to b, every attempt at b one
        // to c.
        assert_eq!(calls[1].calls, calls[0].attempts);
        assert_eq!(calls[2].calls, calls[1].attempts);
        // A task fails only because its call to b did: `dependency`.
        let dependency = Cause::Dependency as usize;
        assert_eq!(calls[0].failed_by[dependency], r.failed);
        assert_eq!(r.failed_by[dependency], r.failed);
        // Every retry, at every hop, is counted once.
        let retries: u64 = calls.iter().map(|c| c.attempts - c.calls).sum();
        assert_eq!(r.retries, retries);
        let per_task: u64 = calls.iter().map(|c| c.attempts).sum();
        assert!((r.attempts_per_task - per_task as f64 / r.submitted as f64).abs() < 1e-12);
        tasks += r.submitted;
        completed += r.completed;
        for (sum, c) in attempts.iter_mut().zip(calls) {
            *sum += c.attempts;
        }
    }

    // Tasks are independent (no timeouts: timing cannot change an
    // outcome), so each mean's standard error is √(var / n), the variance
    // exact from the laws above; the tolerance is 5 of them.
    let n = tasks as f64;
    let success = completed as f64 / n;
    let se = (want_success * (1.0 - want_success) / n).sqrt();
    println!(
        "amplification, {n} tasks: success {success:.5}, theory {want_success:.5} (se {se:.5})"
    );
    assert!(
        (success - want_success).abs() < 5.0 * se,
        "success {success}"
    );
    for (layer, (law, sum)) in laws.iter().zip(attempts).enumerate() {
        let (m, var) = law.count_moments();
        let got = sum as f64 / n;
        let se = (var / n).sqrt();
        let name = ["a", "b", "c"][layer];
        println!("  attempts at {name} per task: {got:.4}, theory {m:.4} (se {se:.4})");
        assert!((got - m).abs() < 5.0 * se, "{name}: {got} vs {m} (se {se})");
    }
}

#[test]
fn every_budget_that_refuses_a_retry_is_counted() {
    // An empty budget (no ratio, no reserve) refuses every retry: each
    // call that fails its first attempt is refused exactly once.
    let empty = "{ max_attempts = 3, budget = { ratio = 0.0, min_per_s = 0 } }";
    for (cap, route) in [("c", 2), ("b", 1), ("a", 0)] {
        let r = run_text(AMPLIFY, &[&format!("capabilities.{cap}.retry={empty}")]);
        let c = &r.calls[route];
        assert_eq!(c.attempts, c.calls, "{cap}: no retries");
        assert_eq!(
            r.retry_budget_exhausted,
            c.failed,
            "{cap}: one refusal per failed call ({})",
            call_line(c)
        );
        let retries: u64 = r.calls.iter().map(|c| c.attempts - c.calls).sum();
        assert_eq!(r.retries, retries, "retries at every hop are counted");
    }
}

// ---------------------------------------------------------------------------
// 4. Blocking against async.

/// `front`: one agent with 4 slots, 2 ms of its own service, then a call to
/// `back` that takes 8 ms (constant, 256 slots: it never queues). Poisson
/// λ = 1000/s. Blocking, a slot is held for s + D = 10 ms: at most
/// c/(s + D) = 400 tasks a second. Async, it is held for s only: up to
/// c/s = 2000 a second, above the offered load.
const BLOCKING: &str = r#"
name = "blocking"
seed = 3
duration = "20s"
drain = "0s"

[[fleet.tiers]]
name = "front"
capabilities = ["front"]
concurrency = 4
service_time = { dist = "constant", value = "2ms" }
calls = [{ capability = "back" }]

[[fleet.tiers]]
name = "back"
capabilities = ["back"]
concurrency = 256
service_time = { dist = "constant", value = "8ms" }

[workload]
arrivals = { process = "poisson", rate = 1000.0 }
capability = "front"
"#;

#[test]
fn a_blocking_server_is_capped_at_c_over_s_plus_d_and_an_async_one_is_not() {
    let blocking = run_text(BLOCKING, &[]);
    let cap = 4.0 / 0.010;
    // Saturated, the 4 slots cycle in lock-step every 10 ms (constant
    // times, no network): throughput is exactly 400/s but for the first
    // and last cycle, 4 tasks of 8,000 (0.05 %). No randomness reaches
    // it, so 1 % is a margin for edge effects only.
    println!(
        "blocking: {:.2}/s (cap {cap}), offered {:.1}/s, utilisation {:.4}",
        blocking.throughput_per_s, blocking.arrival_rate_per_s, blocking.agents[0].utilization
    );
    assert!(rel(blocking.throughput_per_s, cap) < 0.01, "{blocking:?}");
    assert!(
        blocking.agents[0].utilization > 0.99,
        "slots held for s + D"
    );
    // The slot is held until the reply leaves, so the call's two network
    // crossings (1 ms each) count too: c/(s + D + 2L) = 333.3/s.
    let slow = run_text(
        BLOCKING,
        &["network.latency={dist=\"constant\",value=\"1ms\"}"],
    );
    println!("blocking, 1 ms network: {:.2}/s", slow.throughput_per_s);
    assert!(rel(slow.throughput_per_s, 4.0 / 0.012) < 0.01, "{slow:?}");

    let async_ = run_text(BLOCKING, &["fleet.tiers[0].async=true"]);
    // Nothing caps it: it serves what arrives but for the ~10 tasks in
    // flight when the run ends (0.05 %); 0.5 % leaves room for that.
    let offered = async_.arrival_rate_per_s;
    println!(
        "async: {:.2}/s, offered {offered:.1}/s",
        async_.throughput_per_s
    );
    assert!(rel(async_.throughput_per_s, offered) < 0.005, "{async_:?}");
    // 20,000 Poisson arrivals: the rate's standard error is 0.7 %; 3.5 %
    // is 5 of them.
    assert!(rel(offered, 1000.0) < 0.035, "offered {offered}");
    assert!(async_.throughput_per_s > 2.0 * cap);
    // Slots held 2 ms per task, λ tasks a second, over 4 slots: 0.5 but
    // for the few tasks in service at the end (their time is not counted).
    let u = async_.agents[0].utilization;
    assert!(
        rel(u, offered * 0.002 / 4.0) < 0.01,
        "async utilisation {u}"
    );

    // Async with finish_time f = 3 ms, overloaded (c/(s + f) = 800/s <
    // λ): a finish re-enters the FIFO behind new requests. Fluid limit:
    // the server takes items in the order they entered, arrivals at λ and
    // re-entries at r1 (own services done a second), so finishes leave at
    // r2 = r1 · r1/λ, and the saturated slots give s·r1 + f·r2 = c:
    // r1 = λ(−s + √(s² + 4fc/λ))/(2f), throughput r2 ≈ 754/s, not 800.
    let finish = run_text(
        BLOCKING,
        &[
            "fleet.tiers[0].async=true",
            "fleet.tiers[0].finish_time={dist=\"constant\",value=\"3ms\"}",
        ],
    );
    let (l, s, f, c) = (finish.arrival_rate_per_s, 0.002, 0.003, 4.0);
    let r1 = l * (-s + (s * s + 4.0 * f * c / l).sqrt()) / (2.0 * f);
    let r2 = r1 * r1 / l;
    println!(
        "async with finish_time: {:.2}/s, fluid limit {r2:.2}/s",
        finish.throughput_per_s
    );
    // Throughput over the fluid value has a per-run sd of 0.1 % (16
    // seeds, mean 0.9992: the start-up transient); 0.5 % is 5 sd.
    assert!(rel(finish.throughput_per_s, r2) < 0.005, "{finish:?}");
    assert!(finish.agents[0].utilization > 0.99);
}

// ---------------------------------------------------------------------------
// 5. Determinism, common random numbers, conservation.

/// Every mechanism a call can meet: errors at two tiers, a tight timeout
/// on a lognormal tail, retries with jitter, a per-caller breaker, a crash
/// (refusals), a propagated deadline, an optional conditional step, an
/// `any` step, an async tier with `finish_time`, network latency, and a
/// drain too short for the calls still out at the end.
const MESH: &str = r#"
name = "mesh"
seed = 11
duration = "12s"
warmup = "1s"
drain = "5ms"

[[fleet.tiers]]
name = "api"
count = 2
concurrency = 8
capabilities = ["api"]
service_time = { dist = "exponential", mean = "1ms" }
calls = [
  { capability = "auth" },
  { all = ["search", "ads"] },
  { any = ["x", "y"], need = 1 },
  { capability = "audit", probability = 0.3, optional = true },
]

[[fleet.tiers]]
name = "auth"
count = 2
concurrency = 4
capabilities = ["auth"]
service_time = { dist = "exponential", mean = "1ms" }
error_rate = 0.05

[[fleet.tiers]]
name = "search"
count = 3
concurrency = 4
capabilities = ["search"]
service_time = { dist = "lognormal", median = "2ms", p99 = "20ms" }
calls = [{ capability = "index" }]
async = true
finish_time = { dist = "constant", value = "300us" }

[[fleet.tiers]]
name = "index"
count = 2
concurrency = 4
capabilities = ["index"]
service_time = { dist = "exponential", mean = "1ms" }
error_rate = 0.3

[[fleet.tiers]]
name = "ads"
count = 2
concurrency = 4
capabilities = ["ads"]
service_time = { dist = "exponential", mean = "2ms" }

[[fleet.tiers]]
name = "xy"
count = 2
concurrency = 4
capabilities = ["x", "y"]
service_time = { dist = "exponential", mean = "1ms" }

[[fleet.tiers]]
name = "audit"
count = 1
concurrency = 2
capabilities = ["audit"]
service_time = { dist = "exponential", mean = "3ms" }
error_rate = 0.2

[workload]
arrivals = { process = "poisson", rate = 300.0 }
capability = "api"
deadline = "40ms"

[request]
propagate_deadline = true

[network]
latency = { dist = "exponential", mean = "200us" }

[retry]
max_attempts = 2
base = "1ms"
jitter = "full"

[capabilities.search]
timeout = "8ms"
retry = { max_attempts = 3, base = "500us", jitter = "equal" }

[capabilities.index]
breaker = { failure_threshold = 3, open_for = "50ms" }

[capabilities.ads]
balancer = "p2c"
timeout = "10ms"

[[faults]]
at = "4s"
kind = "crash"
target = { tier = "ads", fraction = 0.5 }
for = "2s"
"#;

/// The fields of a route's calls a report shows.
fn call_fields(c: &CallStats) -> impl PartialEq + std::fmt::Debug {
    (
        (
            c.calls,
            c.attempts,
            c.completed,
            c.failed,
            c.failed_by,
            c.cancelled,
        ),
        (
            c.latency_sum,
            c.latency.len(),
            c.latency_ms(0.5),
            c.latency_ms(0.99),
        ),
        (c.breaker_trips, c.series.clone()),
    )
}

fn summary_fields(r: &RunResult) -> impl PartialEq + std::fmt::Debug {
    (
        (
            r.submitted,
            r.completed,
            r.failed,
            r.rejected,
            r.cancelled,
            r.failed_by,
        ),
        (
            r.retries,
            r.latency_exact.sum_ns,
            r.latency_exact.max_ns,
            r.latency_p99_ms,
        ),
        (
            r.events,
            r.attempts_per_task.to_bits(),
            r.in_system_mean.to_bits(),
        ),
    )
}

#[test]
fn a_call_graph_run_twice_gives_identical_results() {
    let sc = load_text(MESH, &[]);
    let a = harness::run_one(&sc, "v", 0);
    let b = harness::run_one(&sc, "v", 0);
    assert_eq!(summary_fields(&a.result), summary_fields(&b.result));
    assert_eq!(a.result.calls.len(), b.result.calls.len());
    for (x, y) in a.result.calls.iter().zip(&b.result.calls) {
        assert_eq!(call_fields(x), call_fields(y));
    }
    let csvs = |r: &RunRecord| {
        let runs = std::slice::from_ref(r);
        [
            report::csv::summary(runs),
            report::csv::agents(&sc, runs),
            report::csv::timeseries(runs),
        ]
    };
    assert_eq!(csvs(&a), csvs(&b));
    // Another seed draws other numbers: the comparison can fail.
    let c = harness::run_one(&sc, "v", 1);
    assert_ne!(summary_fields(&a.result), summary_fields(&c.result));
}

/// A call tree with conditional and `any` steps and no failures: which
/// calls are made depends on the paths of the calls only.
const TREE: &str = r#"
name = "tree"
seed = 13
duration = "20s"
drain = "10s"

[[fleet.tiers]]
name = "api"
count = 3
concurrency = 4
capabilities = ["api"]
service_time = { dist = "exponential", mean = "1ms" }
calls = [
  { capability = "auth", probability = 0.3 },
  { any = ["search", "ads"], need = 1 },
  { capability = "audit", probability = 0.3, optional = true },
]

[[fleet.tiers]]
name = "search"
count = 3
concurrency = 2
capabilities = ["search"]
service_time = { dist = "exponential", mean = "2ms" }
calls = [{ any = ["index", "cache"], need = 1 }, { capability = "rank", probability = 0.3 }]
async = true

[[fleet.tiers]]
name = "leaves"
count = 4
concurrency = 2
capabilities = ["auth", "ads", "audit", "index", "cache", "rank"]
service_time = { dist = "exponential", mean = "1ms" }

[workload]
arrivals = { process = "poisson", rate = 400.0 }
capability = "api"
"#;

#[test]
fn balancers_compared_on_one_seed_see_the_same_call_trees() {
    let strategies = ["round_robin", "p2c", "least_connections", "random"];
    let runs: Vec<RunResult> = strategies
        .iter()
        .map(|s| run_text(TREE, &[&format!("balancer.strategy={s}")]))
        .collect();
    let calls = |r: &RunResult| r.calls.iter().map(|c| c.calls).collect::<Vec<_>>();
    let first = &runs[0];
    for (s, r) in strategies.iter().zip(&runs) {
        assert_eq!(calls(r), calls(first), "{s}: logical calls per capability");
        for c in &r.calls {
            // No failures: one attempt per call, and every call completes
            // but for the loser of an `any` step still out when the last
            // task ends, which the end of the run cancels.
            assert_eq!(
                (c.attempts, c.failed),
                (c.calls, 0),
                "{s}: {}",
                call_line(c)
            );
            // A handful at most: those still out at the last task's end.
            assert_eq!(c.completed + c.cancelled, c.calls, "{s}: {}", call_line(c));
            assert!(c.cancelled <= 5, "{s}: {}", call_line(c));
        }
    }
    // The strategies did route differently (else the test proves nothing).
    let served = |r: &RunResult| r.agents.iter().map(|a| a.tasks).collect::<Vec<_>>();
    for i in 1..runs.len() {
        assert_ne!(
            served(&runs[i]),
            served(first),
            "{} routes as round_robin",
            strategies[i]
        );
    }
    // The conditions are drawn: auth, audit and rank run in about 30 % of
    // their requests (binomial standard error √(0.21/n); 5 of them).
    let caps = load_text(TREE, &[]).capabilities_in_use();
    let route = |name: &str| {
        caps.iter()
            .position(|c| c.capability.as_deref() == Some(name))
            .unwrap()
    };
    let c = &first.calls;
    for (cap, parent) in [("auth", "api"), ("audit", "api"), ("rank", "search")] {
        let n = c[route(parent)].calls as f64;
        let f = c[route(cap)].calls as f64 / n;
        assert!(
            (f - 0.3).abs() < 5.0 * (0.21 / n).sqrt(),
            "{cap}: {f} of {n}"
        );
    }
    // `any` steps send to every target (a request to search that the end
    // of the run cancels may not have made its calls yet).
    assert_eq!(c[route("search")].calls, c[route("api")].calls);
    assert_eq!(c[route("ads")].calls, c[route("api")].calls);
    let search = &c[route("search")];
    for leaf in ["index", "cache"] {
        let n = c[route(leaf)].calls;
        assert!(
            (search.completed..=search.calls).contains(&n),
            "{leaf}: {n} calls; search {}",
            call_line(search)
        );
    }
}

#[test]
fn every_call_ends_exactly_once_at_every_hop() {
    // `replicate` asserts conservation for the run and every route.
    let runs = replicate(MESH, &[], 4);
    let caps = load_text(MESH, &[]).capabilities_in_use();
    let mut by_cause = [0u64; Cause::ALL.len()];
    let (mut cancelled, mut trips) = (0, 0);
    for r in &runs {
        for (route, c) in r.result.calls.iter().enumerate() {
            println!("seed {} {:?}: {}", r.seed, caps[route], call_line(c));
            for (t, x) in by_cause.iter_mut().zip(c.failed_by) {
                *t += x;
            }
            assert_eq!(c.failed, c.failed_by.iter().sum::<u64>());
            cancelled += c.cancelled;
            trips += c.breaker_trips;
        }
    }
    // The scenario meets what it claims to: every cause (no_agent when
    // the breakers of both index agents are open), cancellations at the
    // end of the drain, breaker trips. (Not `no_dispatcher` nor `broker`:
    // neither the dispatcher nor the broker goes down here.)
    for cause in Cause::ALL
        .into_iter()
        .filter(|&c| c != Cause::NoDispatcher && c != Cause::Broker)
    {
        assert!(
            by_cause[cause as usize] > 0,
            "no {} failures",
            cause.as_str()
        );
    }
    assert!(
        cancelled > 0 && trips > 0,
        "cancelled {cancelled}, trips {trips}"
    );
}

/// A workload whose only capability fails 90 % of the time, for breakers.
const FLAKY: &str = r#"
name = "flaky"
duration = "10s"

[[fleet.tiers]]
name = "a"
count = 2
concurrency = 8
capabilities = ["a"]
error_rate = 0.9
service_time = { dist = "constant", value = "1ms" }

[workload]
arrivals = { process = "poisson", rate = 100.0 }
capability = "a"
"#;

#[test]
fn a_capability_breaker_guards_the_dispatcher_too() {
    // The dispatcher keeps a breaker per agent of a capability that has
    // breaker settings of its own. With one capability whose agents serve
    // nothing else, that is one breaker per agent with the same settings
    // as [breaker] would give: the runs must be the same, trip for trip.
    let shared = run_text(
        &format!("{FLAKY}[breaker]\nfailure_threshold = 3\nopen_for = \"1s\"\n"),
        &[],
    );
    let own = run_text(
        &format!(
            "{FLAKY}[capabilities.a]\nbreaker = {{ failure_threshold = 3, open_for = \"1s\" }}\n"
        ),
        &[],
    );
    let no_agent = Cause::NoAgent as usize;
    // The breakers trip and tasks fail fast.
    assert!(shared.failed_by[no_agent] > 0, "{:?}", shared.failed_by);
    assert!(shared.breaker_trips > 0);
    assert_eq!(own.failed_by, shared.failed_by);
    assert_eq!(own.completed, shared.completed);
    assert_eq!(own.breaker_trips, shared.breaker_trips);
    let trips = |r: &RunResult| r.agents.iter().map(|a| a.breaker_trips).collect::<Vec<_>>();
    assert_eq!(trips(&own), trips(&shared));
    let open = |r: &RunResult| {
        r.buckets
            .iter()
            .map(|b| b.open_breakers)
            .collect::<Vec<_>>()
    };
    assert_eq!(open(&own), open(&shared));
    // The capability's breakers are the dispatcher's, counted for it.
    assert_eq!(own.calls[0].breaker_trips, own.breaker_trips);
}

// ---------------------------------------------------------------------------
// 6. Validation.

const SMALL: &str = r#"name = "small"
duration = "10s"

[[fleet.tiers]]
name = "api"
capabilities = ["api"]
service_time = { dist = "constant", value = "1ms" }
calls = [{ capability = "search" }]

[[fleet.tiers]]
name = "search"
capabilities = ["search"]
service_time = { dist = "constant", value = "1ms" }

[workload]
arrivals = { process = "poisson", rate = 10.0 }
capability = "api"
"#;

/// The problems of an invalid scenario text.
fn problems(text: &str) -> Vec<Problem> {
    match scenario::load_str("t.toml", "t", text, &[]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ScenarioError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

/// The one problem at `path`, which says each of `fragments`.
fn expect(text: &str, path: &str, fragments: &[&str]) -> String {
    let ps = problems(text);
    let p = ps
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at `{path}`; got {ps:#?}"));
    for f in fragments {
        assert!(
            p.message.contains(f),
            "`{path}`: {:?} lacks {f:?}",
            p.message
        );
    }
    p.to_string()
}

#[test]
fn the_small_call_graph_is_valid() {
    let sc = load_text(SMALL, &[]);
    assert_eq!(sc.capabilities_in_use().len(), 2);
}

#[test]
fn a_cycle_is_an_error_that_names_it() {
    let cyclic = SMALL.replace(
        "name = \"search\"\ncapabilities = [\"search\"]\n",
        "name = \"search\"\ncapabilities = [\"search\"]\ncalls = [{ capability = \"api\" }]\n",
    );
    let line = expect(
        &cyclic,
        "fleet.tiers[0].calls",
        &["cycle", "api (api) → search (search) → api (api)"],
    );
    println!("{line}");
    // The binary says the same and exits 2.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cyclic.toml"), &cyclic).unwrap();
    let o = fleetsim(dir.path(), &["validate", "cyclic.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("cyclic.toml:") && err.contains("search (search) → api (api)"),
        "{err}"
    );
}

#[test]
fn a_call_to_a_capability_no_tier_serves_is_an_error() {
    let line = expect(
        &SMALL.replace("{ capability = \"search\" }", "{ capability = \"serch\" }"),
        "fleet.tiers[0].calls[0]",
        &["serch"],
    );
    println!("{line}");
}

#[test]
fn need_must_be_between_one_and_the_number_of_targets() {
    for need in [0, 3] {
        let text = SMALL.replace(
            "{ capability = \"search\" }",
            &format!("{{ any = [\"search\", \"api\"], need = {need} }}"),
        );
        let line = expect(
            &text,
            "fleet.tiers[0].calls[0].need",
            &[
                &format!("is {need}"),
                "from 1 to the number of capabilities in `any` (2)",
            ],
        );
        println!("{line}");
    }
    expect(
        &SMALL.replace(
            "{ capability = \"search\" }",
            "{ all = [\"search\"], need = 1 }",
        ),
        "fleet.tiers[0].calls[0].need",
        &["applies only to `any`"],
    );
}

#[test]
fn finish_time_needs_an_async_tier() {
    let text = SMALL.replace(
        "calls = [{ capability = \"search\" }]",
        "calls = [{ capability = \"search\" }]\nfinish_time = { dist = \"constant\", value = \"1ms\" }",
    );
    let line = expect(&text, "fleet.tiers[0].finish_time", &["async = true"]);
    println!("{line}");
    load_text(&text, &["fleet.tiers[0].async=true"]);
}

#[test]
fn propagating_a_deadline_needs_one() {
    let text = format!("{SMALL}\n[request]\npropagate_deadline = true\n");
    let line = expect(&text, "request.propagate_deadline", &["workload.deadline"]);
    println!("{line}");
    load_text(&text, &["workload.deadline=\"1s\""]);
}
