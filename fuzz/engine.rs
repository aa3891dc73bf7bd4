//! The libFuzzer side of the mutator: every other call is libFuzzer's own
//! byte-level mutation, the rest are fuzz/mutate.rs's structure-aware ones
//! (with the target's seeds to splice from and its keys to swap in).

use std::sync::OnceLock;

use crate::{mutate, seeds};

static SEEDS: OnceLock<(Vec<Vec<u8>>, Vec<String>)> = OnceLock::new();

pub fn mutate(target: &str, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    if seed % 2 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let (seeds, keys) = SEEDS.get_or_init(|| {
        let seeds = seeds::seeds(target);
        let keys = mutate::keys_of(&seeds);
        (seeds, keys)
    });
    let mut rng = mutate::Rng::new(u64::from(seed) ^ fleetsim::rng::fnv1a64(&data[..size]));
    let out = mutate::mutate(&mut rng, &data[..size], seeds, keys);
    let n = out.len().min(max_size);
    data[..n].copy_from_slice(&out[..n]);
    n
}
