//! Weighted random: each eligible backend with probability weight / total
//! eligible weight. Weights are kept as integer thousandths (as smooth
//! weighted round robin does) in a Fenwick tree, an ineligible backend
//! counting 0; a pick draws `r` uniformly below the total and descends the
//! tree to the backend whose cumulative range holds `r`. O(log n) per pick
//! and per eligibility change, O(n) to build.

use super::{Loads, Pick};
use crate::rng::{Stream, below};
use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct WeightedRandom {
    /// Each backend's weight in thousandths (at least 1).
    weight: Vec<u64>,
    /// Fenwick tree, 1-based: `tree[j]` sums the eligible weights of
    /// backends `j − lowbit(j) .. j` (0-based, half-open).
    tree: Vec<u64>,
    /// Sum of the eligible weights.
    total: u64,
    /// The largest power of two ≤ n (0 when n = 0): the descent's first step.
    top: usize,
}

/// A weight in integer thousandths, at least 1.
pub(super) fn thousandths(w: f64) -> u64 {
    ((w * 1000.0).round() as u64).max(1)
}

impl WeightedRandom {
    /// Backends with the given weights; those for which `eligible` is false
    /// count 0 until they become eligible.
    pub fn new(weights: &[f64], eligible: impl Fn(usize) -> bool) -> Self {
        let n = weights.len();
        let weight: Vec<u64> = weights.iter().map(|&w| thousandths(w)).collect();
        let mut tree = vec![0u64; n + 1];
        for i in 0..n {
            if eligible(i) {
                tree[i + 1] = weight[i];
            }
        }
        // Linear build: push each node's sum into its parent.
        for j in 1..=n {
            let parent = j + (j & j.wrapping_neg());
            if parent <= n {
                tree[parent] += tree[j];
            }
        }
        let total = (0..n).filter(|&i| eligible(i)).map(|i| weight[i]).sum();
        WeightedRandom {
            weight,
            tree,
            total,
            top: if n == 0 { 0 } else { 1 << n.ilog2() },
        }
    }

    /// The backend whose cumulative range holds `r` (`r < total`): the
    /// smallest `i` whose eligible prefix sum through `i` exceeds `r`, so
    /// a backend of weight 0 is never it.
    #[inline]
    fn find(&self, mut r: u64) -> usize {
        let n = self.weight.len();
        let mut pos = 0;
        let mut step = self.top;
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= r {
                pos = next;
                r -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }
}

impl Pick for WeightedRandom {
    #[inline]
    fn pick(&mut self, _now: Instant, _loads: &Loads, rng: &mut Stream) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        Some(self.find(below(rng, self.total)))
    }

    fn on_eligibility(&mut self, i: usize, eligible: bool) {
        let w = self.weight[i];
        let n = self.weight.len();
        let mut j = i + 1;
        if eligible {
            self.total += w;
            while j <= n {
                self.tree[j] += w;
                j += j & j.wrapping_neg();
            }
        } else {
            self.total -= w;
            while j <= n {
                self.tree[j] -= w;
                j += j & j.wrapping_neg();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Balancer, Strategy};
    use super::*;
    use crate::rng::Seed;
    use proptest::prelude::{prop_assert_eq, proptest};

    /// The backend holding `r` by a linear scan over the eligible weights.
    fn scan(weight: &[u64], eligible: &[bool], r: u64) -> usize {
        let mut acc = 0;
        for i in 0..weight.len() {
            if eligible[i] {
                acc += weight[i];
                if acc > r {
                    return i;
                }
            }
        }
        unreachable!("r is below the total")
    }

    proptest! {
        /// After any eligibility changes, the Fenwick descent finds the
        /// same backend as a scan, for every `r` below the total.
        #[test]
        fn descent_matches_a_scan(
            ws in proptest::collection::vec(1u64..50, 1..20),
            toggles in proptest::collection::vec((0usize..20, proptest::bool::ANY), 0..30),
        ) {
            let n = ws.len();
            let weights: Vec<f64> = ws.iter().map(|&w| w as f64 / 1000.0).collect();
            let mut eligible = vec![true; n];
            let mut wr = WeightedRandom::new(&weights, |_| true);
            for (i, e) in toggles {
                let i = i % n;
                if eligible[i] != e {
                    eligible[i] = e;
                    wr.on_eligibility(i, e);
                }
                let total: u64 = (0..n).filter(|&j| eligible[j]).map(|j| ws[j]).sum();
                prop_assert_eq!(wr.total, total);
                for r in 0..total {
                    prop_assert_eq!(wr.find(r), scan(&ws, &eligible, r));
                }
            }
            // Building with a mask gives the same tree as toggling.
            let built = WeightedRandom::new(&weights, |i| eligible[i]);
            prop_assert_eq!(built.tree, wr.tree);
        }
    }

    #[test]
    fn shares_follow_the_weights_and_skip_the_ineligible() {
        let weights = [10.0, 1.0, 0.3, 5.0];
        let mut b = Balancer::new(Strategy::WeightedRandom, &weights);
        b.set_eligible(3, false);
        let mut rng = Seed(5).stream("t");
        let n = 200_000;
        let mut count = [0u32; 4];
        for _ in 0..n {
            count[b.pick(Instant::ZERO, &mut rng).unwrap()] += 1;
        }
        assert_eq!(count[3], 0, "an ineligible backend is never drawn");
        let total = 11.3;
        for (i, &c) in count[..3].iter().enumerate() {
            // A share of n draws has sd sqrt(p(1 − p)/n): 0.00071 for
            // p = 10/11.3, 0.00065 for 1/11.3, 0.00036 for 0.3/11.3. Allow 5 sd.
            let p = weights[i] / total;
            let sd = (p * (1.0 - p) / f64::from(n)).sqrt();
            let share = f64::from(c) / f64::from(n);
            assert!((share - p).abs() < 5.0 * sd, "backend {i}: {share} vs {p}");
        }
    }

    #[test]
    fn none_when_nothing_is_eligible() {
        let mut b = Balancer::new(Strategy::WeightedRandom, &[1.0, 2.0]);
        let mut rng = Seed(0).stream("t");
        b.set_eligible(0, false);
        b.set_eligible(1, false);
        assert_eq!(b.pick(Instant::ZERO, &mut rng), None);
        b.set_eligible(1, true);
        assert_eq!(b.pick(Instant::ZERO, &mut rng), Some(1));
    }
}
