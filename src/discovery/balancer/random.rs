//! Uniform random choice among the eligible backends: one draw below their
//! number, mapped through [`Loads::members`]. O(1).

use super::{Loads, Pick};
use crate::rng::{Stream, below};
use crate::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
pub struct UniformRandom;

impl Pick for UniformRandom {
    #[inline]
    fn pick(&mut self, _now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize> {
        let members = loads.members();
        if members.is_empty() {
            return None;
        }
        Some(members[below(rng, members.len() as u64) as usize] as usize)
    }
}
