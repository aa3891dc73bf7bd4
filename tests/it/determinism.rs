//! Same scenario and seed ⇒ byte-identical CSVs, in process and across
//! thread counts; a different seed ⇒ different numbers.

use fleetsim::harness::{self, RunRecord};
use fleetsim::report;
use fleetsim::scenario::Scenario;

use crate::support::load;

/// A scenario that draws from every stream: priorities, a central queue,
/// network latency, p2c, failures.
fn busy_scenario() -> Scenario {
    load(
        "scenarios/steady_load.toml",
        &[
            "balancer.strategy=p2c",
            "dispatch.workers=10",
            "dispatch.queue_capacity=50",
            "workload.arrivals.rate=400",
            "workload.priorities={critical=1,high=1,normal=1,low=1}",
            "network.latency={dist=\"exponential\",mean=\"1ms\"}",
            "fleet.tiers[2].error_rate=0.2",
            "duration=\"20s\"",
        ],
    )
}

fn csvs(sc: &Scenario, runs: &[RunRecord]) -> [Vec<u8>; 5] {
    [
        report::csv::summary(runs),
        report::csv::agents(sc, runs),
        report::csv::timeseries(runs),
        report::csv::jobs(sc, runs),
        report::csv::bus(runs),
    ]
}

/// `n` replications of `sc` on a pool of `threads` threads.
fn replications_on(threads: usize, sc: &Scenario, n: u32) -> Vec<RunRecord> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| harness::run_replications(sc, "v", n, false))
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let sc = busy_scenario();
    let a = harness::run_one(&sc, "v", 0);
    let b = harness::run_one(&sc, "v", 0);
    assert_eq!(csvs(&sc, std::slice::from_ref(&a)), csvs(&sc, &[b]));
    // The scenario exercises what it claims to.
    let s = &a.result;
    assert!(s.failed > 0 && s.rejected > 0 && s.completed > 0, "{s:?}");
}

#[test]
fn a_different_seed_gives_different_numbers() {
    let mut sc = busy_scenario();
    let a = harness::run_one(&sc, "v", 0);
    sc.seed = fleetsim::rng::Seed(sc.seed.0 + 1);
    let b = harness::run_one(&sc, "v", 0);
    assert_ne!(
        report::csv::summary(std::slice::from_ref(&a)),
        report::csv::summary(std::slice::from_ref(&b))
    );
    assert_ne!(a.result.latency_mean_ms, b.result.latency_mean_ms);
}

#[test]
fn thread_count_does_not_change_the_output() {
    let sc = busy_scenario();
    let one = replications_on(1, &sc, 4);
    let two = replications_on(2, &sc, 4);
    assert_eq!(csvs(&sc, &one), csvs(&sc, &two));
    // Replications differ from each other.
    assert_ne!(one[0].result.latency_mean_ms, one[1].result.latency_mean_ms);
}

#[test]
fn every_task_ends_in_exactly_one_outcome() {
    // A drain too short to finish: the rest is cancelled, and still counted.
    let sc = load(
        "scenarios/steady_load.toml",
        &[
            "dispatch.workers=2",
            "workload.arrivals.rate=300",
            "duration=\"5s\"",
            "drain=\"1s\"",
        ],
    );
    let r = harness::run_one(&sc, "v", 0).result;
    assert!(r.cancelled > 0, "{r:?}");
    assert_eq!(
        r.submitted,
        r.completed + r.failed + r.rejected + r.cancelled
    );
}

#[test]
fn the_failure_scenarios_replay_byte_for_byte() {
    // Crashes, partitions, slowdowns, the availability model, probes,
    // breakers, leases, timeouts and random message loss all draw from
    // named streams or follow from them: two runs agree to the byte,
    // across thread counts.
    for file in [
        "scenarios/agent_failures.toml",
        "scenarios/fault_tolerant_service.toml",
        "scenarios/saga_orders.toml",
        "scenarios/partition.toml",
    ] {
        let sc = load(file, &[]);
        let one = replications_on(1, &sc, 3);
        let two = replications_on(2, &sc, 3);
        assert_eq!(csvs(&sc, &one), csvs(&sc, &two), "{file}");
        let r = &one[0].result;
        assert!(
            r.failed + r.retries > 0 && r.agents.iter().any(|a| a.down_s > 0.0),
            "{file}: {r:?}"
        );
    }
}

#[test]
fn a_replayed_trace_and_control_plane_traffic_replay_byte_for_byte() {
    // The trace is streamed anew by every run; per-request work and
    // priorities come from the file, the rest from named streams.
    let replay = load(
        "scenarios/api_gateway_replay.toml",
        &["workload.arrivals.speedup=3"],
    );
    let one = replications_on(1, &replay, 2);
    let two = replications_on(2, &replay, 2);
    assert_eq!(csvs(&replay, &one), csvs(&replay, &two));
    assert!(one[0].result.cancelled > 0, "the overload was exercised");
    // Publications, retention and replays after a crash, with loss.
    let text = r#"name = "pubsub"
duration = "20s"
[[fleet.tiers]]
name = "a"
count = 6
uptime = 0.8
mttr = "2s"
service_time = { dist = "exponential", mean = "5ms" }
[workload]
arrivals = { process = "poisson", rate = 50.0 }
[request]
timeout = "100ms"
[network]
latency = { dist = "uniform", min = "1ms", max = "3ms" }
loss = 0.05
[[bus.topics]]
name = "config.a"
every = "500ms"
retain = 4
[[bus.subscriptions]]
pattern = "config.*"
agents = { fraction = 0.5 }
"#;
    let sc = super::support::load_text(text, &[]);
    let one = replications_on(1, &sc, 3);
    let two = replications_on(2, &sc, 3);
    assert_eq!(csvs(&sc, &one), csvs(&sc, &two));
    assert!(one.iter().any(|r| r.result.bus.replayed > 0));
}
