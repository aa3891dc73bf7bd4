//! Smooth weighted round robin, as nginx does it (ngx_http_upstream_round_robin):
//! on each pick every eligible backend's current value grows by its weight,
//! the largest current value wins (the lowest index on ties), and the
//! winner's value drops by the total weight of the eligible backends. An
//! ineligible backend is skipped and its current value frozen until it is
//! eligible again (nginx skips down or failed peers the same way). Weights
//! 5, 1, 1 pick `a a b a c a a`.
//!
//! Weights are scenario floats (0.3 is common); they are kept as integer
//! thousandths so the arithmetic is exact and the sequence never drifts.
//!
//! Cost: O(k + log n) per pick and O(log n) per eligibility change, k being
//! the number of distinct weights (fleet tiers, so a handful), instead of
//! nginx's O(n) scan. With `t` the number of picks so far, each eligible
//! backend stores an offset with `current = offset + t × weight`, so the
//! growth step costs nothing. Backends of equal weight grow alike and keep
//! their order, so each weight class keeps a max tree over its eligible
//! members' offsets (leaves in index order, ties to the left: the lowest
//! index); a pick compares the k class maxima at `t + 1` (value, then lowest
//! index), and only the winner's offset changes. A backend made ineligible
//! has its current value frozen (`offset + t × weight`); made eligible again,
//! its offset becomes `frozen − t × weight`. The arithmetic is in `i128`:
//! `t × weight` alone could pass `i64::MAX` in a long run with heavy weights.

use super::weighted_random::thousandths;
use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::Instant;

/// Offset of an ineligible backend's leaf or of padding (offsets are far from it).
const EMPTY: i128 = i128::MIN;

/// The backends of one weight, in index order, as the leaves of a max
/// tree. The offsets sit in one array by leaf and the tree's nodes hold
/// only leaf numbers: 4 bytes a node where an offset and an index took 32,
/// so the nodes a pick walks through share a few cache lines.
#[derive(Clone, Debug)]
struct Class {
    weight: i128,
    /// Each leaf's offset (`EMPTY` while the backend is ineligible, and for
    /// the padding up to `size`).
    offset: Vec<i128>,
    /// The tree: `win[at]` for `at` in `1..size` is the leaf with the
    /// largest offset below node `at` (the lowest leaf among equals), and
    /// `win[size + leaf] = leaf`; the root is `win[1]`.
    win: Vec<u32>,
    /// The backend at each leaf.
    backend: Vec<u32>,
    size: usize,
}

impl Class {
    /// The leaf holding the class's largest offset (the lowest among equals).
    #[inline]
    fn top(&self) -> usize {
        self.win[1] as usize
    }

    /// Give `leaf` a new offset and mend the path above it. The winner of
    /// the subtree below the path and its offset are carried up, so each
    /// level reads only the sibling's winner and offset: loads whose
    /// addresses do not wait on the level below. The walk stops early
    /// where a node's winner neither was nor is `leaf` and did not change:
    /// nothing above it can change then.
    #[inline]
    fn set(&mut self, leaf: usize, offset: i128) {
        self.offset[leaf] = offset;
        let (mut w, mut ow) = (leaf as u32, offset);
        let mut at = self.size + leaf;
        while at > 1 {
            let s = self.win[at ^ 1];
            let os = self.offset[s as usize];
            // The left child wins ties: it holds the lower leaves.
            let ours = if at & 1 == 0 { ow >= os } else { ow > os };
            if !ours {
                (w, ow) = (s, os);
            }
            at >>= 1;
            let was = std::mem::replace(&mut self.win[at], w);
            if was == w && w as usize != leaf {
                break;
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct SmoothWeighted {
    classes: Vec<Class>,
    /// Backend `i` is leaf `leaf[i]` of class `class[i]`.
    class: Vec<u32>,
    leaf: Vec<u32>,
    /// The current value of each ineligible backend (stale for eligible ones).
    frozen: Vec<i128>,
    /// Picks so far.
    t: i128,
    /// Total weight of the eligible backends.
    total: i128,
}

impl SmoothWeighted {
    /// Backends with the given weights, every current value 0; those for
    /// which `eligible` is false start ineligible.
    pub fn new(weights: &[f64], eligible: impl Fn(usize) -> bool) -> Self {
        let n = weights.len();
        let mut classes: Vec<Class> = Vec::new();
        let mut class = Vec::with_capacity(n);
        let mut leaf = Vec::with_capacity(n);
        // Backends of one weight usually come in runs (a tier's agents):
        // the class of the last weight is kept.
        let mut last: Option<(f64, usize)> = None;
        for (i, &w) in weights.iter().enumerate() {
            let c = match last {
                Some((lw, c)) if lw == w => c,
                _ => {
                    let wt = i128::from(thousandths(w));
                    let c = match classes.iter().position(|cl| cl.weight == wt) {
                        Some(c) => c,
                        None => {
                            classes.push(Class {
                                weight: wt,
                                offset: Vec::new(),
                                win: Vec::new(),
                                backend: Vec::new(),
                                size: 0,
                            });
                            classes.len() - 1
                        }
                    };
                    last = Some((w, c));
                    c
                }
            };
            class.push(c as u32);
            leaf.push(classes[c].backend.len() as u32);
            classes[c].backend.push(i as u32);
        }
        let mut total = 0;
        for cl in &mut classes {
            let members = cl.backend.len();
            cl.size = members.next_power_of_two();
            cl.offset = vec![EMPTY; cl.size];
            for (l, &b) in cl.backend.iter().enumerate() {
                if eligible(b as usize) {
                    total += cl.weight;
                    cl.offset[l] = 0;
                }
            }
            cl.win = vec![0; 2 * cl.size];
            for l in 0..cl.size {
                cl.win[cl.size + l] = l as u32;
            }
            for at in (1..cl.size).rev() {
                let (l, r) = (cl.win[2 * at], cl.win[2 * at + 1]);
                cl.win[at] = if cl.offset[l as usize] >= cl.offset[r as usize] {
                    l
                } else {
                    r
                };
            }
        }
        SmoothWeighted {
            classes,
            class,
            leaf,
            frozen: vec![0; n],
            t: 0,
            total,
        }
    }

    /// Backend `i`'s current value (nginx's `current_weight`), in thousandths.
    pub fn current(&self, i: usize) -> i128 {
        let cl = &self.classes[self.class[i] as usize];
        let offset = cl.offset[self.leaf[i] as usize];
        if offset == EMPTY {
            self.frozen[i]
        } else {
            offset + self.t * cl.weight
        }
    }
}

impl Pick for SmoothWeighted {
    #[inline]
    fn pick(&mut self, _now: Instant, _loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        let t = self.t + 1;
        // (current value at t, class, leaf) of the best class maximum; on a
        // tie of values the lower backend index wins.
        let mut best: Option<(i128, usize, usize)> = None;
        for (c, cl) in self.classes.iter().enumerate() {
            let top = cl.top();
            let offset = cl.offset[top];
            if offset == EMPTY {
                continue;
            }
            let value = offset + t * cl.weight;
            let better = match best {
                None => true,
                Some((v, bc, bl)) => {
                    value > v || (value == v && cl.backend[top] < self.classes[bc].backend[bl])
                }
            };
            if better {
                best = Some((value, c, top));
            }
        }
        let (_, c, top) = best?;
        self.t = t;
        let total = self.total;
        let cl = &mut self.classes[c];
        cl.set(top, cl.offset[top] - total);
        Some(cl.backend[top] as usize)
    }

    fn on_eligibility(&mut self, i: usize, eligible: bool) {
        let cl = &mut self.classes[self.class[i] as usize];
        let leaf = self.leaf[i] as usize;
        let offset = cl.offset[leaf];
        if eligible == (offset != EMPTY) {
            return;
        }
        if eligible {
            self.total += cl.weight;
            cl.set(leaf, self.frozen[i] - self.t * cl.weight);
        } else {
            self.total -= cl.weight;
            self.frozen[i] = offset + self.t * cl.weight;
            cl.set(leaf, EMPTY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Balancer, Strategy};
    use super::*;
    use crate::rng::Seed;
    use proptest::prelude::{any, prop_assert_eq, proptest};

    /// nginx's O(n) scan, with ineligible backends skipped: the oracle.
    struct Naive {
        weight: Vec<i64>,
        current: Vec<i64>,
        eligible: Vec<bool>,
    }

    impl Naive {
        fn new(weights: &[f64]) -> Self {
            Naive {
                weight: weights.iter().map(|&w| thousandths(w) as i64).collect(),
                current: vec![0; weights.len()],
                eligible: vec![true; weights.len()],
            }
        }

        fn pick(&mut self) -> Option<usize> {
            let mut best: Option<usize> = None;
            let mut total = 0;
            for i in 0..self.weight.len() {
                if !self.eligible[i] {
                    continue;
                }
                total += self.weight[i];
                self.current[i] += self.weight[i];
                if best.is_none_or(|b| self.current[i] > self.current[b]) {
                    best = Some(i);
                }
            }
            let b = best?;
            self.current[b] -= total;
            Some(b)
        }
    }

    fn sequence(weights: &[f64], n: usize) -> Vec<usize> {
        let mut w = SmoothWeighted::new(weights, |_| true);
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

    #[test]
    fn with_one_backend_ineligible_the_others_share_exactly() {
        // Tiers 10, 1, 0.3 twice over, the second weight-10 backend out:
        // per 12,600 picks (the eligible total in thousandths) exactly
        // 10,000 / 1,000 / 300 / 1,000 / 300, and twice that over two periods.
        let weights = [10.0, 1.0, 0.3, 10.0, 1.0, 0.3];
        let mut b = Balancer::new(Strategy::Weighted, &weights);
        b.set_eligible(3, false);
        let mut rng = Seed(0).stream("t");
        for periods in 1..=2 {
            let mut count = [0usize; 6];
            for _ in 0..12_600 {
                count[b.pick(Instant::ZERO, &mut rng).unwrap()] += 1;
            }
            assert_eq!(
                count,
                [10_000, 1_000, 300, 0, 1_000, 300],
                "period {periods}"
            );
        }
    }

    #[test]
    fn a_frozen_backend_resumes_where_it_stopped() {
        let mut w = SmoothWeighted::new(&[5.0, 1.0, 1.0], |_| true);
        let loads = Loads::new(3);
        let mut rng = Seed(0).stream("t");
        w.pick(Instant::ZERO, &loads, &mut rng);
        let before = w.current(1);
        w.on_eligibility(1, false);
        for _ in 0..5 {
            w.pick(Instant::ZERO, &loads, &mut rng);
        }
        assert_eq!(w.current(1), before);
        w.on_eligibility(1, true);
        assert_eq!(w.current(1), before);
    }

    proptest! {
        /// The class trees pick exactly what nginx's scan picks, under any
        /// eligibility toggles between picks.
        #[test]
        fn matches_the_naive_scan_under_toggles(
            tiers in proptest::collection::vec(0usize..4, 1..70),
            ops in proptest::collection::vec((any::<bool>(), 0usize..70, any::<bool>()), 0..400),
        ) {
            let table = [10.0, 1.0, 0.3, 2.5];
            let weights: Vec<f64> = tiers.iter().map(|&t| table[t]).collect();
            let n = weights.len();
            let mut fast = SmoothWeighted::new(&weights, |_| true);
            let mut naive = Naive::new(&weights);
            let loads = Loads::new(n);
            let mut rng = Seed(0).stream("t");
            for (toggle, i, e) in ops {
                if toggle {
                    let i = i % n;
                    if naive.eligible[i] != e {
                        naive.eligible[i] = e;
                        fast.on_eligibility(i, e);
                    }
                } else {
                    prop_assert_eq!(fast.pick(Instant::ZERO, &loads, &mut rng), naive.pick());
                }
                for j in 0..n {
                    prop_assert_eq!(fast.current(j), i128::from(naive.current[j]));
                }
            }
        }
    }
}
