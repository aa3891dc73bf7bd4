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

/// Leaf value of an ineligible backend or of padding (offsets are far from it).
const EMPTY: i128 = i128::MIN;

/// One node of a class's max tree: the largest offset below it and the
/// backend holding it (the lowest index among equals).
#[derive(Clone, Copy, Debug)]
struct Node {
    offset: i128,
    backend: u32,
}

const EMPTY_NODE: Node = Node {
    offset: EMPTY,
    backend: u32::MAX,
};

/// The backends of one weight, in index order.
#[derive(Clone, Debug)]
struct Class {
    weight: i128,
    /// Max tree with leaves at `size..size + members`; the root is `tree[1]`.
    tree: Vec<Node>,
    size: usize,
}

impl Class {
    #[inline]
    fn set(&mut self, leaf: usize, node: Node) {
        let mut at = self.size + leaf;
        self.tree[at] = node;
        while at > 1 {
            at >>= 1;
            let (l, r) = (self.tree[2 * at], self.tree[2 * at + 1]);
            self.tree[at] = if l.offset >= r.offset { l } else { r };
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
        let mut members: Vec<u32> = Vec::new();
        let mut class = Vec::with_capacity(n);
        let mut leaf = Vec::with_capacity(n);
        // Backends of one weight usually come in runs (a tier's agents):
        // the class of the last weight is kept.
        let mut last: Option<(f64, usize)> = None;
        for &w in weights {
            let c = match last {
                Some((lw, c)) if lw == w => c,
                _ => {
                    let wt = i128::from(thousandths(w));
                    let c = match classes.iter().position(|cl| cl.weight == wt) {
                        Some(c) => c,
                        None => {
                            classes.push(Class {
                                weight: wt,
                                tree: Vec::new(),
                                size: 0,
                            });
                            members.push(0);
                            classes.len() - 1
                        }
                    };
                    last = Some((w, c));
                    c
                }
            };
            class.push(c as u32);
            leaf.push(members[c]);
            members[c] += 1;
        }
        for (cl, &m) in classes.iter_mut().zip(&members) {
            cl.size = (m as usize).next_power_of_two();
            cl.tree = vec![EMPTY_NODE; 2 * cl.size];
        }
        let mut total = 0;
        for i in 0..n {
            if eligible(i) {
                let cl = &mut classes[class[i] as usize];
                total += cl.weight;
                cl.tree[cl.size + leaf[i] as usize] = Node {
                    offset: 0,
                    backend: i as u32,
                };
            }
        }
        for cl in &mut classes {
            for at in (1..cl.size).rev() {
                let (l, r) = (cl.tree[2 * at], cl.tree[2 * at + 1]);
                cl.tree[at] = if l.offset >= r.offset { l } else { r };
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
        let node = cl.tree[cl.size + self.leaf[i] as usize];
        if node.offset == EMPTY {
            self.frozen[i]
        } else {
            node.offset + self.t * cl.weight
        }
    }
}

impl Pick for SmoothWeighted {
    #[inline]
    fn pick(&mut self, _now: Instant, _loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        let t = self.t + 1;
        // (current value at t, backend, class) of the best class maximum.
        let mut best: Option<(i128, u32, usize)> = None;
        for (c, cl) in self.classes.iter().enumerate() {
            let top = cl.tree[1];
            if top.offset == EMPTY {
                continue;
            }
            let value = top.offset + t * cl.weight;
            if best.is_none_or(|(v, b, _)| value > v || (value == v && top.backend < b)) {
                best = Some((value, top.backend, c));
            }
        }
        let (_, b, c) = best?;
        self.t = t;
        let cl = &mut self.classes[c];
        let node = cl.tree[1];
        let leaf = self.leaf[b as usize] as usize;
        cl.set(
            leaf,
            Node {
                offset: node.offset - self.total,
                backend: b,
            },
        );
        Some(b as usize)
    }

    fn on_eligibility(&mut self, i: usize, eligible: bool) {
        let cl = &mut self.classes[self.class[i] as usize];
        let leaf = self.leaf[i] as usize;
        let node = cl.tree[cl.size + leaf];
        if eligible == (node.offset != EMPTY) {
            return;
        }
        if eligible {
            self.total += cl.weight;
            let offset = self.frozen[i] - self.t * cl.weight;
            cl.set(
                leaf,
                Node {
                    offset,
                    backend: i as u32,
                },
            );
        } else {
            self.total -= cl.weight;
            self.frozen[i] = node.offset + self.t * cl.weight;
            cl.set(leaf, EMPTY_NODE);
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
            tiers in proptest::collection::vec(0usize..4, 1..25),
            ops in proptest::collection::vec((any::<bool>(), 0usize..25, any::<bool>()), 0..400),
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
