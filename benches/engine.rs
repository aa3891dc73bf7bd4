//! Event-queue throughput on the classic *hold* model: keep `n` events
//! pending; each step pops the earliest and schedules one at `now + x`, with
//! `x` exponential (mean 1 ms in ns). One pop + one push = one element, so
//! criterion's throughput line reads in events/s.
//!
//! `hold/radix/*` is `fleetsim::engine::Engine`; `hold/binaryheap/*` is a
//! `std::collections::BinaryHeap<Reverse<(time, seq, payload)>>` with the same
//! ordering, for reference.
//!
//! Run: `cargo bench --bench engine` (about a minute).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration as StdDuration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::engine::Engine;
use fleetsim::time::{Duration, Instant};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 16-byte payload, about what a simulator event carries.
type Payload = (u32, u32, u64);

/// Size of the pre-generated increment table (a power of two).
const TABLE: usize = 1 << 16;

/// Exponential increments with mean 1 ms, in ns, so the RNG is not measured.
fn increments() -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    (0..TABLE)
        .map(|_| {
            let u: f64 = rng.random::<f64>();
            // 1 - u is in (0, 1], so ln is finite.
            (-(1.0 - u).ln() * 1e6) as u64
        })
        .collect()
}

fn hold_radix(c: &mut Criterion, name: &str, n: usize, inc: &[u64]) {
    let mut engine: Engine<Payload> = Engine::with_capacity(n);
    for (i, &x) in inc.iter().cycle().take(n).enumerate() {
        engine.schedule_after(Duration(x), (i as u32, 0, x));
    }
    let mut i = n;
    let mut group = c.benchmark_group("hold/radix");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            let (_, ev) = engine.step().expect("hold model keeps the queue full");
            let x = inc[i & (TABLE - 1)];
            i += 1;
            engine.schedule_after(Duration(x), (ev.0, ev.1.wrapping_add(1), x));
        })
    });
    group.finish();
    black_box(engine.now());
    assert_eq!(engine.len(), n, "hold model changed the queue size");
}

fn hold_binaryheap(c: &mut Criterion, name: &str, n: usize, inc: &[u64]) {
    let mut heap: BinaryHeap<Reverse<(u64, u64, Payload)>> = BinaryHeap::with_capacity(n + 1);
    let mut seq = 0u64;
    for (i, &x) in inc.iter().cycle().take(n).enumerate() {
        heap.push(Reverse((x, seq, (i as u32, 0, x))));
        seq += 1;
    }
    let mut i = n;
    let mut group = c.benchmark_group("hold/binaryheap");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            let Reverse((now, _, ev)) = heap.pop().expect("hold model keeps the heap full");
            let x = inc[i & (TABLE - 1)];
            i += 1;
            let at = Instant(now) + Duration(x);
            heap.push(Reverse((at.0, seq, (ev.0, ev.1.wrapping_add(1), x))));
            seq += 1;
        })
    });
    group.finish();
    assert_eq!(heap.len(), n, "hold model changed the heap size");
}

fn hold(c: &mut Criterion) {
    let inc = increments();
    for (name, n) in [("10k", 10_000), ("1M", 1_000_000)] {
        hold_radix(c, name, n, &inc);
        hold_binaryheap(c, name, n, &inc);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(3));
    targets = hold
}
criterion_main!(benches);
