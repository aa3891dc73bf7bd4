//! Fuzzing on stable: each target of `fuzz/targets.rs` runs on its seeds,
//! on every saved crasher in `tests/fuzz_regressions/<target>/`, then on a
//! bounded number of structure-aware mutations of the seeds
//! (`fuzz/mutate.rs`). A panic saves the input under
//! `target/fuzz-crashes/<target>/` and fails the test, naming the file.
//!
//! Longer runs: `FLEETSIM_FUZZ_SECS=300 cargo test --release --test it fuzz::
//! -- --nocapture` runs each target for that many seconds;
//! `FLEETSIM_FUZZ_SEED` picks another sequence of mutations (the default is
//! fixed, so a plain `cargo test` is deterministic). Coverage-guided runs
//! with libFuzzer (nightly): see `fuzz/README.md`.

#[path = "../../fuzz/mutate.rs"]
mod mutate;
#[path = "../../fuzz/seeds.rs"]
mod seeds;
#[path = "../../fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Mutations per target in a plain test run: a few seconds each in release.
fn iterations(target: &str) -> u64 {
    match target {
        "duration" => 300_000,
        "set" => 8_000,
        "scenario" => 10_000,
        _ => 10_000,
    }
}

fn crash_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("../fuzz-crashes")
        .join(target)
}

/// Run `f` on `input`; on a panic, save the input and return its path.
fn run_one(target: &str, f: fn(&[u8]), input: &[u8]) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| f(input))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let dir = crash_dir(target);
            std::fs::create_dir_all(&dir).expect("a crash folder");
            let name = format!("crash-{:016x}", fleetsim::rng::fnv1a64(input));
            let path = dir.join(name);
            std::fs::write(&path, input).expect("the crasher saved");
            Err(format!("{}: {msg}", path.display()))
        }
    }
}

fn fuzz(target: &str) {
    let f = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .expect("a target")
        .1;
    // Saved crashers first: each must now pass.
    for (name, input) in seeds::regressions(target) {
        if let Err(e) = run_one(target, f, &input) {
            panic!("tests/fuzz_regressions/{target}/{name} fails again: {e}");
        }
    }
    let seeds = seeds::seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for (i, s) in seeds.iter().enumerate() {
        if let Err(e) = run_one(target, f, s) {
            panic!("seed {i} of {target}: {e}");
        }
    }
    let keys = mutate::keys_of(&seeds);
    let secs: Option<u64> = std::env::var("FLEETSIM_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let base: u64 = std::env::var("FLEETSIM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let started = Instant::now();
    let (mut n, mut slowest) = (0_u64, (Duration::ZERO, Vec::new()));
    let mut failures = Vec::new();
    loop {
        match secs {
            Some(s) if started.elapsed() >= Duration::from_secs(s) => break,
            None if n >= iterations(target) => break,
            _ => {}
        }
        // One rng per iteration, so iteration `n` is reproducible alone.
        let mut rng = mutate::Rng::new(fleetsim::rng::fnv1a64(
            format!("{target}/{base}/{n}").as_bytes(),
        ));
        let seed = rng.pick(&seeds).clone();
        let input = mutate::mutate(&mut rng, &seed, &seeds, &keys);
        let t = Instant::now();
        if let Err(e) = run_one(target, f, &input) {
            failures.push(format!("iteration {n} (seed {base}): {e}"));
            if failures.len() >= 10 {
                break;
            }
        }
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, input);
        }
        n += 1;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "fuzz {target}: {n} executions in {:.1} s ({:.0}/s), slowest {:.1} ms ({} bytes), {} failures",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64().max(1e-9),
        slowest.0.as_secs_f64() * 1e3,
        slowest.1.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{target}:\n{}", failures.join("\n"));
}

#[test]
fn fuzz_scenario() {
    fuzz("scenario");
}

#[test]
fn fuzz_set() {
    fuzz("set");
}

#[test]
fn fuzz_trace() {
    fuzz("trace");
}

#[test]
fn fuzz_duration() {
    fuzz("duration");
}

#[test]
fn the_mutator_is_deterministic_and_changes_its_input() {
    let seeds = seeds::seeds("scenario");
    let keys = mutate::keys_of(&seeds);
    let run = |s: u64| {
        let mut rng = mutate::Rng::new(s);
        mutate::mutate(&mut rng, &seeds[0], &seeds, &keys)
    };
    assert_eq!(run(1), run(1));
    let changed = (0..100).filter(|&s| run(s) != seeds[0]).count();
    assert!(
        changed >= 90,
        "only {changed} of 100 mutations changed the seed"
    );
    assert!(keys.iter().any(|k| k == "[[fleet.tiers]]"), "{keys:?}");
}

/// The seeds as files, for libFuzzer: `fuzz/corpus/<target>/seed-NNN`.
#[test]
#[ignore = "writes fuzz/corpus/ for `cargo fuzz run`; run by hand (fuzz/README.md)"]
fn write_fuzz_corpus() {
    for (target, _) in targets::TARGETS {
        let dir = seeds::root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).expect("a corpus folder");
        for (i, s) in seeds::seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), s).expect("a seed file");
        }
    }
}
