//! Parallel replications: 8 replications of one scenario with `--jobs 1`
//! and with `--jobs 2`, and the ratio of their wall times.
//!
//! The whole command runs as a child process (`fleetsim sweep` with one
//! grid point: parsing, the runs on rayon's pool, every report), so the
//! ratio includes whatever is serial around the runs. Each replication is
//! steady_load over 6,000 s (about 120,000 tasks, 4.7 M events, a quarter
//! of a second of CPU), long enough that start-up and report writing are a
//! small part of the command. On an idle machine with at least 2 cores the
//! ratio should be close to 2; on a loaded one it measures the cores the
//! machine lent, so the child CPU time (user + system, from the kernel) is
//! printed beside it: equal CPU at both settings means no work was added by
//! running in parallel.
//!
//! `cargo bench --bench jobs`.

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

const REPLICATIONS: &str = "8";

fn sweep(jobs: u32, out: &std::path::Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args([
            "sweep",
            "steady_load",
            "--vary",
            "balancer.strategy=weighted",
            "--set",
            "duration=\"6000s\"",
            "--replications",
            REPLICATIONS,
            "--jobs",
            &jobs.to_string(),
            "--quiet",
            "--out",
        ])
        .arg(out)
        .status()
        .expect("fleetsim runs");
    assert!(status.success(), "fleetsim sweep --jobs {jobs} failed");
}

/// CPU seconds (user + system) of the children waited for so far.
#[cfg(target_os = "linux")]
fn children_cpu_s() -> f64 {
    #[repr(C)]
    struct Rusage {
        utime: [i64; 2],
        stime: [i64; 2],
        rest: [i64; 14],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    let mut ru = std::mem::MaybeUninit::<Rusage>::zeroed();
    // SAFETY: getrusage(RUSAGE_CHILDREN) writes a `struct rusage`.
    let rc = unsafe { getrusage(-1, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    tv(ru.utime) + tv(ru.stime)
}

#[cfg(not(target_os = "linux"))]
fn children_cpu_s() -> f64 {
    f64::NAN
}

fn bench_jobs(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut g = c.benchmark_group("jobs");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    let mut measured = Vec::new();
    for jobs in [1, 2] {
        let out = dir.path().join(format!("jobs{jobs}"));
        let (mut wall, mut cpu, mut n) = (Duration::ZERO, 0.0, 0u64);
        g.bench_function(format!("replications_8_jobs_{jobs}"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                let cpu0 = children_cpu_s();
                for _ in 0..iters {
                    sweep(jobs, &out);
                }
                let took = started.elapsed();
                wall += took;
                cpu += children_cpu_s() - cpu0;
                n += iters;
                took
            })
        });
        measured.push((jobs, wall.as_secs_f64() / n as f64, cpu / n as f64));
    }
    g.finish();
    println!("\njobs summary (8 replications of steady_load over 6000 s, whole command):");
    for &(jobs, wall, cpu) in &measured {
        println!("--jobs {jobs}: {wall:.3} s wall, {cpu:.3} s CPU");
    }
    let speedup = measured[0].1 / measured[1].1;
    println!(
        "speed-up of --jobs 2 over --jobs 1: {speedup:.2}x (on {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}

criterion_group!(benches, bench_jobs);
criterion_main!(benches);
