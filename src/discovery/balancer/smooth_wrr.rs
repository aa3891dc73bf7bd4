//! Smooth weighted round robin, as nginx does it (ngx_http_upstream_round_robin):
//! on each pick every backend's current value grows by its weight, the
//! largest current value wins (the first on ties), and the winner's value
//! drops by the total weight. Weights 5, 1, 1 pick `a a b a c a a`.
//!
//! Weights are scenario floats (0.3 is common); they are kept as integer
//! thousandths so the arithmetic is exact and the sequence never drifts.

use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct SmoothWeighted {
    weight: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl SmoothWeighted {
    pub fn new(weights: &[f64]) -> Self {
        let weight: Vec<i64> = weights
            .iter()
            .map(|w| ((w * 1000.0).round() as i64).max(1))
            .collect();
        SmoothWeighted {
            total: weight.iter().sum(),
            current: vec![0; weight.len()],
            weight,
        }
    }
}

impl Pick for SmoothWeighted {
    fn pick(&mut self, _now: Instant, _loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in 0..self.weight.len() {
            self.current[i] += self.weight[i];
            if best.is_none_or(|b| self.current[i] > self.current[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.current[b] -= self.total;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    fn sequence(weights: &[f64], n: usize) -> Vec<usize> {
        let mut w = SmoothWeighted::new(weights);
        let loads = Loads::new(weights.len());
        let mut rng = Seed(0).stream("t");
        (0..n)
            .map(|_| w.pick(Instant::ZERO, &loads, &mut rng).unwrap())
            .collect()
    }

    #[test]
    fn nginx_sequence_for_5_1_1() {
        // a a b a c a a, repeating.
        let expect = [0, 0, 1, 0, 2, 0, 0];
        let got = sequence(&[5.0, 1.0, 1.0], 14);
        assert_eq!(&got[..7], &expect);
        assert_eq!(&got[7..], &expect);
    }

    #[test]
    fn shares_equal_the_weights_over_a_period() {
        // Weights 10, 1, 0.3 => per 11,300 picks exactly 10,000 / 1,000 / 300.
        let got = sequence(&[10.0, 1.0, 0.3], 11_300);
        let count = |k| got.iter().filter(|&&i| i == k).count();
        assert_eq!((count(0), count(1), count(2)), (10_000, 1_000, 300));
    }
}
