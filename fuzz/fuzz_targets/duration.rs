//! libFuzzer entry for the `duration` target (fuzz/targets.rs), with the
//! structure-aware mutator of fuzz/mutate.rs beside libFuzzer's own.
#![no_main]

#[path = "../mutate.rs"]
mod mutate;
#[path = "../seeds.rs"]
mod seeds;
#[path = "../targets.rs"]
mod targets;
#[path = "../engine.rs"]
mod engine;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::duration(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    engine::mutate("duration", data, size, max_size, seed)
});
