//! The discovery layer wired into whole runs: health probes, breakers and
//! registry leases take failed agents out of rotation; crashes are refused,
//! partitions time out; the balancer never routes to an ineligible agent;
//! strategy changes and the availability model do what they say.
//!
//! The base fleet is 4 identical agents, constant service of 10 ms, a
//! constant 40 tasks/s routed round robin: each agent gets exactly one task
//! in four, 10 per second, so expected counts follow by arithmetic.

use crate::support::run_text as run;
use fleetsim::harness;
use fleetsim::metrics::RunResult;

const BASE: &str = r#"name = "d"
seed = 7
duration = "60s"
drain = "10s"

[[fleet.tiers]]
name = "a"
count = 4
service_time = { dist = "constant", value = "10ms" }

[workload]
arrivals = { process = "constant", rate = 40.0 }

[balancer]
strategy = "round_robin"
"#;

const FAST_HEALTH: &str =
    "[health]\ninterval = \"100ms\"\ntimeout = \"50ms\"\nunhealthy_after = 2\n";

fn fault(at: &str, kind: &str, target: &str, lasts: Option<&str>) -> String {
    let lasts = lasts.map_or(String::new(), |d| format!("for = \"{d}\"\n"));
    format!("[[faults]]\nat = \"{at}\"\nkind = \"{kind}\"\ntarget = {target}\n{lasts}")
}

/// `Cause::ALL` order: error, refused, timeout, no agent. These
/// scenarios make no calls, carry no deadline, keep the dispatcher up and
/// have no broker outage, so the causes added later (deadline, dependency,
/// no dispatcher, broker) stay at zero.
fn causes(r: &RunResult) -> [u64; 4] {
    let [error, refused, timeout, no_agent, rest @ ..] = r.failed_by;
    assert!(rest.iter().all(|&n| n == 0), "{r:?}");
    [error, refused, timeout, no_agent]
}

#[test]
fn health_probes_take_a_crashed_agent_out_of_rotation() {
    let crash = fault("10s", "crash", "{ agents = [\"agent-0\"] }", None);
    let with_health = run(&format!("{BASE}{FAST_HEALTH}{crash}"), &[]);
    // agent-0 is probed at 10.025 s (refused) and 10.125 s (refused again:
    // UNHEALTHY). Round robin sends it one task per 100 ms meanwhile.
    let [error, refused, timeout, no_agent] = causes(&with_health);
    assert_eq!((error, timeout, no_agent), (0, 0, 0), "{with_health:?}");
    assert!((1..=3).contains(&refused), "refused {refused}");
    // Before the crash it served 100 tasks; after detection, none.
    assert!(
        (100..=102).contains(&with_health.agents[0].tasks),
        "{}",
        with_health.agents[0].tasks
    );
    assert!(with_health.agents[0].unhealthy_s > 49.0);
    assert!((with_health.agents[0].down_s - 50.0).abs() < 1e-6);
    // Without health-based routing only the registry notices: the lease
    // (3 s, renewed every 1 s) runs out 2–3 s after the crash, at 10/s.
    let registry_only = run(
        &format!("{BASE}{FAST_HEALTH}{crash}"),
        &["balancer.healthy_only=false"],
    );
    assert!(
        (20..=31).contains(&causes(&registry_only)[1]),
        "{registry_only:?}"
    );
    // And with a lease too long to matter, every fourth task after 10 s is
    // refused: 50 s · 10/s = 500.
    let blind = run(
        &format!("{BASE}{FAST_HEALTH}{crash}"),
        &["balancer.healthy_only=false", "registry.ttl=\"1000s\""],
    );
    assert!((499..=501).contains(&causes(&blind)[1]), "{blind:?}");
}

#[test]
fn a_partition_is_revealed_by_timeouts_or_lost_without_them() {
    let cut = fault("10s", "partition", "{ agents = [\"agent-0\"] }", Some("5s"));
    // With a request timeout: requests sent to agent-0 time out until its
    // registry lease (3 s, renewed every 1 s) runs out, 2–3 s into the
    // partition; nothing is refused.
    let timed = run(&format!("{BASE}[request]\ntimeout = \"200ms\"\n{cut}"), &[]);
    let c = causes(&timed);
    assert_eq!(c[1], 0);
    assert!((20..=31).contains(&c[2]), "{timed:?}");
    assert_eq!(timed.cancelled, 0);
    // Without one they wait forever and are cancelled at the end of the drain.
    let lost = run(&format!("{BASE}{cut}"), &[]);
    assert_eq!(lost.failed, 0);
    assert!((20..=31).contains(&lost.cancelled), "{lost:?}");
    assert!(
        (lost.simulated_s - 70.0).abs() < 1e-9,
        "ran to the end of the drain"
    );
    assert!(lost.conserved());
    // With health probes too, the partition is found after 2 missed probes
    // (each failing at its 50 ms timeout): only a few time out.
    let probed = run(
        &format!("{BASE}{FAST_HEALTH}[request]\ntimeout = \"200ms\"\n{cut}"),
        &[],
    );
    assert!((1..=4).contains(&causes(&probed)[2]), "{probed:?}");
}

#[test]
fn registry_leases_expire_after_the_ttl_and_come_back_on_recovery() {
    let registry = "[registry]\nttl = \"1s\"\nheartbeat = \"250ms\"\n";
    let crash = fault("10s", "crash", "{ agents = [\"agent-0\"] }", None);
    let expired = run(&format!("{BASE}{registry}{crash}"), &[]);
    // The last heartbeat came at most 250 ms before the crash; the lease
    // ends 1 s after it: 0.75–1 s of refusals at 10/s.
    let refused = causes(&expired)[1];
    assert!((7..=11).contains(&refused), "refused {refused}");
    let recover = fault("30s", "recover", "{ agents = [\"agent-0\"] }", None);
    let back = run(&format!("{BASE}{registry}{crash}{recover}"), &[]);
    // Back at 30 s, it heartbeats at once and takes its share again:
    // 100 before + 300 after.
    let tasks = back.agents[0].tasks;
    assert!((395..=405).contains(&tasks), "agent-0 served {tasks}");
    assert!((back.agents[0].down_s - 20.0).abs() < 1e-6);
}

#[test]
fn breakers_isolate_an_agent_that_always_fails() {
    let no_breaker = BASE.replace("count = 4\n", "count = 3\n")
        + "\n[[fleet.tiers]]\nname = \"bad\"\ncount = 1\nerror_rate = 1.0\nservice_time = { dist = \"constant\", value = \"10ms\" }\n";
    let text = no_breaker.clone()
        + "\n[breaker]\nfailure_threshold = 3\nopen_for = \"5s\"\nhalf_open_probes = 1\n";
    let r = run(&text, &[]);
    // Three failures open it (in the first 0.3 s); then every ~5.1 s a
    // HALF_OPEN probe fails and it opens again: 1 + 59.7 / 5.1 ≈ 12 trips.
    let trips = r.agents[3].breaker_trips;
    assert!((11..=13).contains(&trips), "trips {trips}");
    assert_eq!(r.breaker_trips, trips);
    // Open all the time but for the first 0.3 s and the probe round trips.
    assert!(
        r.agents[3].breaker_open_s > 59.0,
        "{}",
        r.agents[3].breaker_open_s
    );
    assert_eq!(r.failed, 3 + trips - 1, "{r:?}");
    // Without breakers it fails a quarter of everything.
    assert_eq!(run(&no_breaker, &[]).failed, 600);
}

#[test]
fn with_no_eligible_agent_tasks_fail_fast_unless_panic_routing_is_on() {
    let all = fault("10s", "crash", "{ tier = \"a\" }", None);
    let fast = run(&format!("{BASE}{FAST_HEALTH}{all}"), &[]);
    let c = causes(&fast);
    // Detected within ~125 ms: every later task finds nobody (≈ 1,995).
    assert!(c[3] > 1_980 && c[1] < 10, "{c:?}");
    assert_eq!(fast.completed, 400);
    // Envoy's panic threshold: below half eligible, route to everyone.
    let panic = run(
        &format!("{BASE}{FAST_HEALTH}{all}"),
        &["balancer.panic_threshold=0.5"],
    );
    let c = causes(&panic);
    assert_eq!(c[3], 0);
    assert_eq!(c[1], 2000, "{c:?}");
}

#[test]
fn the_strategy_can_change_mid_run() {
    let text = BASE
        .replace("count = 4\n", "count = 1\nweight = 9.0\n")
        .replace("strategy = \"round_robin\"\n", "strategy = \"weighted\"\n[[balancer.changes]]\nat = \"30s\"\nstrategy = \"round_robin\"\n")
        + "\n[[fleet.tiers]]\nname = \"b\"\ncount = 1\nweight = 1.0\nservice_time = { dist = \"constant\", value = \"10ms\" }\n";
    let r = run(&text, &[]);
    // 1,200 tasks at 9:1, then 1,200 at 1:1.
    assert_eq!(r.agents[0].tasks, 1_080 + 600, "{:?}", r.agents);
    assert_eq!(r.agents[1].tasks, 120 + 600);
}

#[test]
fn the_availability_model_keeps_agents_up_for_their_uptime() {
    // 20 agents at uptime 0.8, 1 s mean repair, 500 s: about 2,000 up/down
    // cycles; the fraction down has sd ≈ 0.005 (alternating renewal with
    // exponential periods); tolerance 0.02 is 4 sd.
    let text = BASE
        .replace("count = 4\n", "count = 20\nuptime = 0.8\nmttr = \"1s\"\n")
        .replace("duration = \"60s\"", "duration = \"500s\"")
        .replace("rate = 40.0", "rate = 5.0");
    let r = run(&text, &["drain=\"0s\""]);
    let down: f64 = r.agents.iter().map(|a| a.down_s).sum::<f64>() / (20.0 * r.simulated_s);
    assert!((down - 0.2).abs() < 0.02, "fraction down {down}");
    let mean_gauge =
        r.buckets.iter().map(|b| b.agents_down as f64).sum::<f64>() / r.buckets.len() as f64;
    assert!(
        (mean_gauge / 20.0 - 0.2).abs() < 0.03,
        "agents_down gauge {mean_gauge}"
    );
}

#[test]
fn health_routing_keeps_success_high_with_ten_percent_of_agents_failing() {
    // The reference platform's claim shape, on scenarios/agent_failures.toml
    // (10 % of agents down at any moment) with its retries turned off. Over
    // 20 replications (fleetsim run agent_failures --replications 20 --set
    // retry.max_attempts=1): 99.17 % ± 0.27 with the discovery layer,
    // 93.1 % ± 1.1 routing blind. Per-run sd ≈ 0.6 % and
    // 2.4 %, so the means of 5 runs have sd ≈ 0.25 % and 1.1 %: the bounds
    // below are over 4 and 3.5 sd away.
    let mean_success = |sets: &[&str]| {
        let sc = crate::support::load("scenarios/agent_failures.toml", sets);
        let runs = harness::run_replications(&sc, "v", 5, false);
        runs.iter().map(|r| r.result.success_rate).sum::<f64>() / runs.len() as f64
    };
    let on = mean_success(&["retry.max_attempts=1"]);
    let blind = mean_success(&[
        "retry.max_attempts=1",
        "balancer.healthy_only=false",
        "registry.ttl=\"1000s\"",
        "breaker.failure_threshold=100000",
    ]);
    assert!(on >= 0.98, "with discovery: {on}");
    assert!(blind < 0.97, "blind: {blind}");
}
