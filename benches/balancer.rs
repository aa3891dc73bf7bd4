//! `pick` + the load bookkeeping around it, per strategy, at 120 and 10,000
//! agents with every agent eligible (group `pick`), and at 10,000 agents with
//! every 10th one ineligible (group `pick_tenth_ineligible`). Each iteration
//! picks, dispatches and completes one request, against a background of
//! requests already in flight on every eligible agent.

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use fleetsim::discovery::balancer::{Balancer, Strategy};
use fleetsim::rng::Seed;
use fleetsim::time::{Duration, Instant};

/// Benchmarks every strategy over `n` agents, those with `ineligible(i)` out.
fn bench_pool(g: &mut BenchmarkGroup<'_, WallTime>, n: usize, ineligible: impl Fn(usize) -> bool) {
    let weights: Vec<f64> = (0..n).map(|i| [10.0, 1.0, 0.3][i % 3]).collect();
    for s in Strategy::ALL {
        let mut b = Balancer::new(s, &weights);
        for i in (0..n).filter(|&i| ineligible(i)) {
            b.set_eligible(i, false);
        }
        let mut rng = Seed(1).stream("lb");
        let mut now = Instant::ZERO;
        // Background load: a few requests in flight everywhere.
        for _ in 0..3 * n {
            let i = b.pick(now, &mut rng).expect("an eligible agent");
            b.on_dispatch(now, i);
        }
        g.bench_with_input(BenchmarkId::new(s.as_str(), n), &n, |bench, _| {
            bench.iter(|| {
                now += Duration(1_000);
                let i = b.pick(now, &mut rng).expect("an eligible agent");
                b.on_dispatch(now, i);
                b.on_complete(now, i, Duration(20_000_000));
                i
            })
        });
    }
}

fn bench_pick(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick");
    g.sample_size(20);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    for n in [120usize, 10_000] {
        bench_pool(&mut g, n, |_| false);
    }
    g.finish();

    let mut g = c.benchmark_group("pick_tenth_ineligible");
    g.sample_size(20);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    bench_pool(&mut g, 10_000, |i| i % 10 == 0);
    g.finish();
}

criterion_group!(benches, bench_pick);
criterion_main!(benches);
