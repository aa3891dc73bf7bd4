//! `pick` + the load bookkeeping around it, per strategy, at 120 and 10,000
//! agents. Each iteration picks, dispatches and completes one request,
//! against a background of requests already in flight on every agent.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::discovery::balancer::{Balancer, Strategy};
use fleetsim::rng::Seed;
use fleetsim::time::{Duration, Instant};

fn bench_pick(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick");
    g.sample_size(20);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    for n in [120usize, 10_000] {
        let weights: Vec<f64> = (0..n).map(|i| [10.0, 1.0, 0.3][i % 3]).collect();
        for s in Strategy::ALL {
            let mut b = Balancer::new(s, &weights);
            let mut rng = Seed(1).stream("lb");
            let mut now = Instant::ZERO;
            // Background load: a few requests in flight everywhere.
            for _ in 0..3 * n {
                let i = b.pick(now, &mut rng).expect("non-empty pool");
                b.on_dispatch(now, i);
            }
            g.bench_with_input(BenchmarkId::new(s.as_str(), n), &n, |bench, _| {
                bench.iter(|| {
                    now += Duration(1_000);
                    let i = b.pick(now, &mut rng).expect("non-empty pool");
                    b.on_dispatch(now, i);
                    b.on_complete(now, i, Duration(20_000_000));
                    i
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_pick);
criterion_main!(benches);
