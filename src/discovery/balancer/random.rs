//! Uniform random choice.

use super::{Loads, Pick};
use crate::rng::{Stream, below};
use crate::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
pub struct UniformRandom;

impl Pick for UniformRandom {
    #[inline]
    fn pick(&mut self, _now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize> {
        Some(below(rng, loads.len() as u64) as usize)
    }
}
