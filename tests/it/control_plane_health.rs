//! DEGRADED health for real: probes are served through the agent's own
//! FIFO and slots, so a loaded or slowed agent answers late and its
//! monitor holds it DEGRADED; with `[balancer] degraded = "fallback"` the
//! balancers then route to it only when no HEALTHY agent is eligible.
//!
//! Three oracles: a property test of the balancer's two eligibility levels
//! under random health states (every strategy), a whole run where a slowed
//! agent goes DEGRADED and loses traffic in fallback mode only, and a
//! hand-computed timeline of probes queued behind requests.

use crate::support::run_text as run;
use fleetsim::discovery::balancer::{Balancer, Strategy};
use fleetsim::rng::Seed;
use fleetsim::time::Instant;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// In fallback mode a degraded backend is never picked while a healthy
    /// eligible one exists; with none, a degraded eligible one is picked
    /// (never an ineligible one); with no eligible backend, none is.
    #[test]
    fn degraded_backends_get_nothing_while_a_healthy_one_is_eligible(
        strategy in 0usize..Strategy::ALL.len(),
        n in 1usize..10,
        ops in prop::collection::vec((0usize..10, any::<bool>(), any::<bool>()), 1..60),
        seed in any::<u64>(),
    ) {
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let mut b = Balancer::new(Strategy::ALL[strategy], &weights);
        let mut rng = Seed(seed).stream("prop");
        let mut eligible = vec![true; n];
        let mut degraded = vec![false; n];
        for (step, (i, e, d)) in ops.into_iter().enumerate() {
            let i = i % n;
            b.set_degraded(i, d);
            b.set_eligible(i, e);
            (eligible[i], degraded[i]) = (e, d);
            let any_healthy = (0..n).any(|k| eligible[k] && !degraded[k]);
            let any_eligible = eligible.iter().any(|&x| x);
            for _ in 0..4 {
                let now = Instant(step as u64 * 1_000);
                match b.pick(now, &mut rng) {
                    None => prop_assert!(!any_eligible, "nothing picked with {eligible:?}"),
                    Some(k) => {
                        prop_assert!(eligible[k], "picked ineligible {k}: {eligible:?}");
                        prop_assert!(
                            !(any_healthy && degraded[k]),
                            "picked degraded {k} while a healthy one is eligible: \
                             eligible {eligible:?}, degraded {degraded:?}"
                        );
                        b.on_dispatch(now, k);
                        b.on_complete(now, k, fleetsim::time::Duration::from_millis(5));
                    }
                }
            }
            prop_assert_eq!(b.in_fallback(), any_eligible && !any_healthy);
        }
    }
}

/// 4 agents of 8 slots, constant 10 ms service, 40 tasks/s round robin;
/// agent-0 is slowed 30× (300 ms) from 10 s to 40 s. Its probes take
/// 300 ms against a 100 ms threshold: DEGRADED from the second probe of
/// the slowdown on until the fourth after it.
fn slowed(mode: &str) -> fleetsim::metrics::RunResult {
    let text = format!(
        r#"name = "slowed"
seed = 3
duration = "60s"
drain = "10s"

[[fleet.tiers]]
name = "a"
count = 4
concurrency = 8
service_time = {{ dist = "constant", value = "10ms" }}

[workload]
arrivals = {{ process = "constant", rate = 40.0 }}

[balancer]
strategy = "round_robin"
degraded = "{mode}"

[health]
interval = "1s"
timeout = "1s"
degraded_threshold = "100ms"

[[faults]]
at = "10s"
kind = "slow"
factor = 30.0
target = {{ agents = ["agent-0"] }}
for = "30s"
"#
    );
    run(&text, &[])
}

#[test]
fn a_slowed_agent_goes_degraded_and_loses_its_traffic_in_fallback_mode_only() {
    let fallback = slowed("fallback");
    let equal = slowed("equal");
    for r in [&fallback, &equal] {
        // agent-0 is probed at 0.25 s + k (the first of 4 staggered
        // probes), with no network delay. α = 0.3, 10 ms samples before
        // the slowdown; then 300 ms samples: 97 ms after the one answered
        // at 10.55 s, 158 ms (> 100 ms: DEGRADED) at 11.55 s. After 40 s,
        // 10 ms samples from an EMA of 300 ms: 213, 152, 110, then 80 ms
        // (HEALTHY) at 43.26 s. DEGRADED for 43.26 − 11.55 = 31.71 s, in
        // either mode: the probes alone decide.
        let d = r.agents[0].degraded_s;
        assert!((d - 31.71).abs() < 1e-6, "degraded_s {d}");
        assert!(r.agents[1..].iter().all(|a| a.degraded_s == 0.0));
        assert_eq!(r.completed, r.submitted);
    }
    // Equal: round robin gives agent-0 one task in four, 600 over 60 s.
    assert_eq!(equal.agents[0].tasks, 600);
    // Fallback: none of the 10/s it would get while DEGRADED, 317 in
    // 31.71 s (± 1 for where round robin stands at each switch).
    let (f, e) = (fallback.agents[0].tasks, equal.agents[0].tasks);
    assert!(f.abs_diff(e - 317) <= 1, "fallback {f}, equal {e}");
    assert_eq!(
        fallback.agents.iter().map(|a| a.tasks).sum::<u64>(),
        fallback.submitted
    );
    // The healthy ones take what agent-0 does not.
    assert!(fallback.agents[1].tasks > equal.agents[1].tasks + 80);
    // The gauge counts it over the slowdown.
    assert!(fallback.buckets.iter().any(|b| b.degraded_agents == 1));
    assert!(fallback.buckets.iter().all(|b| b.degraded_agents <= 1));
}

#[test]
fn a_probe_queued_behind_a_request_answers_late_exactly() {
    // One agent, one slot, constant 300 ms service (so probes take 300 ms
    // too), no network delay. Tasks at 0.9 s + k (k = 0..4) hold the slot
    // over [k + 0.9, k + 1.2]; probes leave at k + 1 (k ≥ 0: first at
    // one interval, the agent being the only one), wait for the slot until
    // k + 1.2 and answer at k + 1.5: a 500 ms round trip instead of 300.
    // With a 400 ms threshold the first answer (1.5 s) makes it DEGRADED,
    // and every later one keeps the EMA at 500 ms. The run ends with the
    // last task at 5.2 s: 3.7 s DEGRADED. Busy time: 5 requests and the
    // four probes answered by then, 9 × 300 ms = 2.7 s of 5.2 s; the
    // fifth probe holds the slot from 5.2 s, unfinished. Probes are not
    // tasks.
    let text = r#"name = "queued_probe"
seed = 1
duration = "5s"
drain = "5s"

[[fleet.tiers]]
name = "a"
count = 1
concurrency = 1
service_time = { dist = "constant", value = "300ms" }

[workload]
arrivals = { process = "bursts", count = 5, size = 1, every = "1s", start = "900ms" }

[health]
interval = "1s"
timeout = "1s"
degraded_threshold = "400ms"
"#;
    let r = run(text, &[]);
    assert_eq!(r.completed, 5);
    let a = &r.agents[0];
    assert_eq!(a.tasks, 5);
    assert!(
        (a.degraded_s - 3.7).abs() < 1e-9,
        "degraded_s {}",
        a.degraded_s
    );
    let utilization = 2.7 / 5.2;
    assert!(
        (a.utilization - utilization).abs() < 1e-9,
        "utilization {} (expected {utilization})",
        a.utilization
    );
    // Unloaded, the same probes answer in 300 ms: never DEGRADED.
    let idle = run(&text.replace("start = \"900ms\"", "start = \"300ms\""), &[]);
    assert_eq!(idle.agents[0].degraded_s, 0.0);
}
