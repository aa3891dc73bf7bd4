//! The event-loop floor: M/M/10 (λ = 8/s, μ = 1/s, one million customers)
//! as the smallest loop that can simulate it, against fleetsim running the
//! same model through the whole world and writing every report.
//!
//! The minimal loop is a binary heap of `(time, seq)` events, ChaCha8
//! exponential draws by inversion, a FIFO and one sum: no balancer, bus,
//! retries, metrics or reports. What fleetsim costs above it is the price of
//! everything else it does, and the goal is to keep that within 2×.
//!
//! Besides criterion's two timings, the bench prints the ratio from runs
//! interleaved in one process (the machine may be shared and noisy:
//! interleaving exposes both sides to the same noise), as
//! `floor ratio: fleetsim / minimal loop = R×` (medians of nine runs each),
//! followed by the ratio of each side's least run: CPU time of every
//! thread where Linux reports it (`/proc/self/task/*/schedstat`), else
//! wall-clock time.
//!
//! Run: `cargo bench --bench floor`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::harness;
use fleetsim::scenario::{self, Override};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CUSTOMERS: u64 = 1_000_000;
const LAMBDA: f64 = 8.0;
const MU: f64 = 1.0;
const SERVERS: u32 = 10;
const WARMUP: u64 = 8_000;

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Event {
    Arrival,
    Departure,
}

fn exponential_ns(rng: &mut ChaCha8Rng, rate: f64) -> u64 {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (-(1.0 - u).ln() / rate * 1e9) as u64
}

/// The floor: returns the mean wait of customers after the warm-up, in
/// seconds (Erlang C: 0.2046 s).
fn minimal_loop(customers: u64) -> f64 {
    let mut arrivals = ChaCha8Rng::seed_from_u64(1);
    let mut services = ChaCha8Rng::seed_from_u64(2);
    let mut heap = BinaryHeap::new();
    let mut queue: VecDeque<(u64, u64)> = VecDeque::new();
    let (mut seq, mut arrived, mut busy) = (0u64, 0u64, 0u32);
    let (mut wait_sum, mut measured) = (0u128, 0u64);
    heap.push(Reverse((
        exponential_ns(&mut arrivals, LAMBDA),
        seq,
        Event::Arrival,
    )));
    while let Some(Reverse((t, _, event))) = heap.pop() {
        seq += 1;
        match event {
            Event::Arrival => {
                let id = arrived;
                arrived += 1;
                if arrived < customers {
                    let next = t + exponential_ns(&mut arrivals, LAMBDA);
                    heap.push(Reverse((next, seq, Event::Arrival)));
                }
                if busy < SERVERS {
                    busy += 1;
                    measured += u64::from(id >= WARMUP);
                    let done = t + exponential_ns(&mut services, MU);
                    heap.push(Reverse((done, seq, Event::Departure)));
                } else {
                    queue.push_back((id, t));
                }
            }
            Event::Departure => match queue.pop_front() {
                Some((id, at)) => {
                    if id >= WARMUP {
                        measured += 1;
                        wait_sum += u128::from(t - at);
                    }
                    let done = t + exponential_ns(&mut services, MU);
                    heap.push(Reverse((done, seq, Event::Departure)));
                }
                None => busy -= 1,
            },
        }
    }
    wait_sum as f64 / 1e9 / measured as f64
}

/// fleetsim's `run mmc` with one million customers, reports included
/// (CSVs, charts, the page) into a temporary directory, on `pool`: this
/// thread alone, as `fleetsim run` runs one replication (its charts drawn
/// in turn, no worker threads to wake).
fn fleetsim_run(
    pool: &rayon::ThreadPool,
    sc: &fleetsim::scenario::Scenario,
    dir: &std::path::Path,
) -> u64 {
    pool.install(|| {
        let run = harness::run_one(sc, "default", 0);
        let events = run.result.events;
        harness::write_run_reports(dir, sc, &[run]).expect("reports are written");
        events
    })
}

fn bench_floor(c: &mut Criterion) {
    // The built-in mmc is 125,000 s at λ = 8: one million customers.
    let overrides: Vec<Override> = Vec::new();
    let sc = scenario::load("mmc", &overrides).expect("built-in scenario is valid");
    let dir = std::env::temp_dir().join(format!("fleetsim-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .expect("a pool of this thread");

    let mut g = c.benchmark_group("floor");
    g.sample_size(10);
    g.throughput(Throughput::Elements(CUSTOMERS));
    g.bench_function("minimal_loop_mm10_1m", |b| {
        b.iter(|| black_box(minimal_loop(CUSTOMERS)))
    });
    g.bench_function("fleetsim_mm10_1m_with_reports", |b| {
        b.iter(|| black_box(fleetsim_run(&pool, &sc, &dir)))
    });
    g.finish();

    // The ratio, from interleaved runs: the median of nine of each, and the
    // least of each (on a shared machine, noise only ever adds time, so the
    // least run is the one it disturbed least). In CPU time where the
    // system reports it per thread, as the goal is stated; else in
    // wall-clock time.
    let clock = if cpu_ns().is_some() {
        "CPU"
    } else {
        "wall-clock"
    };
    let spent = |f: &mut dyn FnMut()| -> f64 {
        let (wall, cpu) = (Instant::now(), cpu_ns());
        f();
        match (cpu, cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
            _ => wall.elapsed().as_secs_f64(),
        }
    };
    let (mut floor, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        floor.push(spent(&mut || {
            black_box(minimal_loop(CUSTOMERS));
        }));
        ours.push(spent(&mut || {
            black_box(fleetsim_run(&pool, &sc, &dir));
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, o) = (median(&mut floor), median(&mut ours));
    let (f_least, o_least) = (floor[0], ours[0]);
    println!(
        "floor ratio: fleetsim / minimal loop = {:.2}× ({:.0} ms / {:.0} ms of {clock} time per million \
         customers); least of each {:.2}× ({:.0} ms / {:.0} ms)",
        o / f,
        o * 1e3,
        f * 1e3,
        o_least / f_least,
        o_least * 1e3,
        f_least * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CPU time of every thread of this process so far, in nanoseconds:
/// the sum of the first field (time on a CPU) of each thread's
/// `/proc/self/task/TID/schedstat`. `None` where there is no such
/// directory (not Linux, or no `/proc`).
fn cpu_ns() -> Option<u64> {
    let threads = std::fs::read_dir("/proc/self/task").ok()?;
    // A thread that ended between the listing and the read is left out.
    let on_cpu = |entry: std::fs::DirEntry| -> Option<u64> {
        let stat = std::fs::read_to_string(entry.path().join("schedstat")).ok()?;
        stat.split_whitespace().next()?.parse().ok()
    };
    Some(threads.filter_map(|e| e.ok().and_then(on_cpu)).sum())
}

criterion_group!(benches, bench_floor);
criterion_main!(benches);
