//! Weighted random: each backend with probability weight / total weight
//! (binary search over cumulative weights: O(log n) per pick).

use super::{Loads, Pick};
use crate::rng::{Stream, Weighted};
use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct WeightedRandom {
    table: Weighted,
}

impl WeightedRandom {
    pub fn new(weights: &[f64]) -> Self {
        WeightedRandom {
            table: Weighted::new(weights).expect("validated: weights are positive"),
        }
    }
}

impl Pick for WeightedRandom {
    #[inline]
    fn pick(&mut self, _now: Instant, _loads: &Loads, rng: &mut Stream) -> Option<usize> {
        Some(self.table.sample(rng))
    }
}
