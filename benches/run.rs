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
    g.finish();
}

criterion_group!(benches, bench_runs);
criterion_main!(benches);
