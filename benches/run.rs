//! Whole-model benchmarks: events per second of real scenarios through the
//! world (arrivals, balancer, agents, metrics), reports excluded.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::rng::Seed;
use fleetsim::scenario::{self, Override};

fn scenario(name: &str, sets: &[&str]) -> fleetsim::scenario::Scenario {
    let overrides: Vec<Override> = sets
        .iter()
        .map(|s| s.parse().expect("valid override"))
        .collect();
    scenario::load(name, &overrides).expect("built-in scenario is valid")
}

fn bench_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("run");
    g.sample_size(10);
    // M/M/10, about 100,000 tasks (2 events each).
    let mmc = scenario("mmc", &["duration=\"12500s\"", "warmup=\"100s\""]);
    let events = fleetsim::world::run(&mmc, Seed(1)).events;
    g.throughput(Throughput::Elements(events));
    g.bench_function("mmc_100k_tasks", |b| {
        b.iter(|| fleetsim::world::run(&mmc, Seed(1)))
    });
    // The reference steady-load scenario.
    let steady = scenario("steady_load", &[]);
    let events = fleetsim::world::run(&steady, Seed(42)).events;
    g.throughput(Throughput::Elements(events));
    g.bench_function("steady_load", |b| {
        b.iter(|| fleetsim::world::run(&steady, Seed(42)))
    });
    // A three-layer call graph (front → middle → storage and cache), every
    // hop a request over the bus with its own balancer, breakers and
    // retries: about 100,000 top-level tasks.
    let calls = scenario::load_str("calls.toml", "calls", CALL_GRAPH, &[])
        .expect("the call-graph scenario is valid");
    let result = fleetsim::world::run(&calls, Seed(7));
    g.throughput(Throughput::Elements(result.events));
    g.bench_function("call_graph_3_layers", |b| {
        b.iter(|| fleetsim::world::run(&calls, Seed(7)))
    });
    g.finish();
}

const CALL_GRAPH: &str = r#"
duration = "100s"
[[fleet.tiers]]
name = "front"
count = 8
concurrency = 16
capabilities = ["front"]
service_time = { dist = "exponential", mean = "2ms" }
calls = [ { capability = "middle" }, { capability = "audit", probability = 0.1, optional = true } ]
[[fleet.tiers]]
name = "middle"
count = 8
concurrency = 16
capabilities = ["middle"]
service_time = { dist = "exponential", mean = "3ms" }
calls = [ { all = ["storage", "cache"] } ]
[[fleet.tiers]]
name = "storage"
count = 8
concurrency = 8
capabilities = ["storage", "cache", "audit"]
service_time = { dist = "exponential", mean = "4ms" }
error_rate = 0.01
[workload]
arrivals = { process = "poisson", rate = 1000 }
capability = "front"
[network]
latency = { dist = "constant", value = "200us" }
[request]
timeout = "1s"
[retry]
max_attempts = 2
base = "5ms"
[capabilities.storage]
breaker = { failure_threshold = 5, open_for = "1s" }
balancer = "p2c"
"#;

criterion_group!(benches, bench_runs);
criterion_main!(benches);
