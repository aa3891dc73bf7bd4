//! Power of two choices (Mitzenmacher 2001; Finagle's P2C): draw two
//! distinct eligible backends uniformly, send to the one with fewer requests
//! in flight (the first drawn on ties). O(1) per pick: the draws index the
//! dense list of eligible backends, [`Loads::members`].

use super::{Loads, Pick};
use crate::rng::{Stream, below};
use crate::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
pub struct PowerOfTwo;

impl Pick for PowerOfTwo {
    #[inline]
    fn pick(&mut self, _now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize> {
        let (a, b) = two_members(rng, loads)?;
        Some(if loads.get(b) < loads.get(a) { b } else { a })
    }
}

/// Two distinct backends drawn uniformly from `0..n` (the same one twice
/// only when `n == 1`): the second draw is among the other `n − 1`.
#[inline]
pub(super) fn two_choices(rng: &mut Stream, n: usize) -> (usize, usize) {
    if n == 1 {
        return (0, 0);
    }
    let a = below(rng, n as u64) as usize;
    let mut b = below(rng, n as u64 - 1) as usize;
    if b >= a {
        b += 1;
    }
    (a, b)
}

/// Two distinct eligible backends drawn uniformly (the same one twice only
/// when a single backend is eligible); `None` if none is.
#[inline]
pub(super) fn two_members(rng: &mut Stream, loads: &Loads) -> Option<(usize, usize)> {
    let members = loads.members();
    if members.is_empty() {
        return None;
    }
    let (a, b) = two_choices(rng, members.len());
    Some((members[a] as usize, members[b] as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn never_picks_the_busier_of_its_two_draws() {
        // With one idle backend among busy ones, p2c picks it exactly when
        // it is among the two draws: probability 2/n.
        let n = 10;
        let mut loads = Loads::new(n);
        for i in 1..n {
            loads.set(i, 5);
        }
        let mut rng = Seed(9).stream("t");
        let trials = 100_000;
        let hits = (0..trials)
            .filter(|_| PowerOfTwo.pick(Instant::ZERO, &loads, &mut rng) == Some(0))
            .count();
        let p = hits as f64 / trials as f64;
        // Expected 0.2; sd = sqrt(0.2*0.8/1e5) = 0.00126; 5 sd.
        assert!((p - 0.2).abs() < 0.0065, "p = {p}");
    }
}
