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
//! its offset becomes `frozen − t × weight`. Values and `t × weight` are
//! worked out in `i128` (`t × weight` alone could pass `i64::MAX` in a long
//! run with heavy weights); the offsets are kept in `i64` while they fit,
//! which they do but for enormous weights or ages of picks, and in `i128`
//! from then on (see `Offset`).

use super::weighted_random::thousandths;
use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::Instant;

/// A leaf's offset: `i64` while every offset of the fleet fits in it,
/// `i128` from the first that does not.
///
/// A pick walks a class's tree from the winner's leaf to the root (twelve
/// to fifteen levels in fleets of 10,000 to 100,000 agents), comparing
/// offsets at each: in `i128` a comparison takes two instructions and
/// reads two words, and the offsets fill twice the cache lines. Offsets
/// stay near the current values, which sit within a few total weights of
/// zero, so they fit in `i64` unless weights are enormous or a run picks
/// for ages; the first offset that would not fit turns every class to
/// `i128` (exactly the same values), and the picks go on as before.
trait Offset: Copy + Ord + std::fmt::Debug {
    /// The offset of an ineligible backend's leaf and of padding (offsets
    /// are far from it).
    const EMPTY: Self;
    fn wide(self) -> i128;
    /// `x` as an offset, if it fits and is not [`Offset::EMPTY`].
    fn narrow(x: i128) -> Option<Self>;
}

impl Offset for i64 {
    const EMPTY: i64 = i64::MIN;
    #[inline]
    fn wide(self) -> i128 {
        i128::from(self)
    }
    #[inline]
    fn narrow(x: i128) -> Option<i64> {
        i64::try_from(x).ok().filter(|&v| v != i64::EMPTY)
    }
}

impl Offset for i128 {
    const EMPTY: i128 = i128::MIN;
    #[inline]
    fn wide(self) -> i128 {
        self
    }
    #[inline]
    fn narrow(x: i128) -> Option<i128> {
        Some(x)
    }
}

/// An offset did not fit the classes' width.
#[derive(Debug)]
struct Overflow;

/// A node of a class's tree: the offset, leaf and backend of the largest
/// offset below it (the lowest leaf among equals); a leaf's node is its own.
#[derive(Clone, Copy, Debug)]
struct Node<O> {
    offset: O,
    leaf: u32,
    backend: u32,
}

/// The backends of one weight, in index order, as the leaves of a max
/// tree. Each node holds its winner's offset and backend beside the
/// winner's leaf number (16 bytes with `i64` offsets): a pick reads one
/// node a level, the sibling of the node it came from, which shares that
/// node's cache line, and the root says which backend won. Keeping the
/// offsets in an array by leaf, with nodes of leaf numbers only, made
/// each level a second, random read: in a fleet of thousands, a
/// first-level cache miss a level or two.
#[derive(Clone, Debug)]
struct Class<O> {
    weight: i128,
    /// The tree: `node[at]` for `at` in `1..size` holds the winner below
    /// node `at`, and `node[size + leaf]` the leaf itself (offset `EMPTY`
    /// while the backend is ineligible, and for the padding up to `size`);
    /// the root is `node[1]`.
    node: Vec<Node<O>>,
    size: usize,
}

impl<O: Offset> Class<O> {
    /// The class's largest offset (the lowest leaf among equals): its node.
    #[inline]
    fn top(&self) -> Node<O> {
        self.node[1]
    }

    /// Leaf `leaf`'s offset.
    #[inline]
    fn offset(&self, leaf: usize) -> O {
        self.node[self.size + leaf].offset
    }

    /// Give `leaf` a new offset and mend the path above it (see
    /// [`Class::mend`]).
    #[inline]
    fn set(&mut self, leaf: usize, offset: O) {
        self.mend::<true>(leaf, offset);
    }

    /// [`Class::set`] for the class's top leaf, as a pick lowers it. The
    /// top won every node on its path, so every node's winner was `leaf`
    /// and the walk always reaches the root: no early stop to test for.
    #[inline]
    fn set_top(&mut self, leaf: usize, offset: O) {
        self.mend::<false>(leaf, offset);
    }

    /// Give `leaf` a new offset and mend the path above it. The winner of
    /// the subtree below the path is carried up, so each level reads only
    /// the sibling's node, whose address does not wait on the level below;
    /// which side wins is data, chosen without a branch (a mispredicted
    /// jump a level would cost more than the level). With `EARLY_STOP`,
    /// the walk stops where a node's winner neither was nor is `leaf` and
    /// did not change: nothing above it can change then.
    #[inline(always)]
    fn mend<const EARLY_STOP: bool>(&mut self, leaf: usize, offset: O) {
        let mut at = self.size + leaf;
        self.node[at].offset = offset;
        let mut w = self.node[at];
        while at > 1 {
            let s = self.node[at ^ 1];
            // The left child wins ties: it holds the lower leaves.
            let ours = (w.offset > s.offset) | ((w.offset == s.offset) & (at & 1 == 0));
            w = std::hint::select_unpredictable(ours, w, s);
            at >>= 1;
            let was = std::mem::replace(&mut self.node[at], w);
            if EARLY_STOP && was.leaf == w.leaf && w.leaf as usize != leaf {
                break;
            }
        }
    }

    /// The same class with `i128` offsets.
    fn widen(self) -> Class<i128> {
        Class {
            weight: self.weight,
            node: (self.node.into_iter())
                .map(|n| Node {
                    offset: if n.offset == O::EMPTY {
                        i128::EMPTY
                    } else {
                        n.offset.wide()
                    },
                    leaf: n.leaf,
                    backend: n.backend,
                })
                .collect(),
            size: self.size,
        }
    }
}

/// The classes at one offset width (see [`Offset`]).
#[derive(Clone, Debug)]
enum Classes {
    Narrow(Vec<Class<i64>>),
    Wide(Vec<Class<i128>>),
}

/// One pick among `classes` at pick number `t` (see [`SmoothWeighted`]):
/// the winner's backend, `None` if no backend is eligible, or
/// [`Overflow`] (nothing changed) if the winner's new offset does not fit.
#[inline]
fn pick_in<O: Offset>(
    classes: &mut [Class<O>],
    t: i128,
    total: i128,
) -> Result<Option<usize>, Overflow> {
    // (current value at t, class, top node) of the best class maximum; on
    // a tie of values the lower backend index wins.
    let mut best: Option<(i128, usize, Node<O>)> = None;
    for (c, cl) in classes.iter().enumerate() {
        let top = cl.top();
        if top.offset == O::EMPTY {
            continue;
        }
        let value = top.offset.wide() + t * cl.weight;
        let better = match best {
            None => true,
            Some((v, _, b)) => value > v || (value == v && top.backend < b.backend),
        };
        if better {
            best = Some((value, c, top));
        }
    }
    let Some((_, c, top)) = best else {
        return Ok(None);
    };
    let lowered = O::narrow(top.offset.wide() - total).ok_or(Overflow)?;
    classes[c].set_top(top.leaf as usize, lowered);
    Ok(Some(top.backend as usize))
}

#[derive(Clone, Debug)]
pub struct SmoothWeighted {
    classes: Classes,
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
        // Each class's weight and backends, in index order.
        let mut members: Vec<(i128, Vec<u32>)> = Vec::new();
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
                    let c = match members.iter().position(|m| m.0 == wt) {
                        Some(c) => c,
                        None => {
                            members.push((wt, Vec::new()));
                            members.len() - 1
                        }
                    };
                    last = Some((w, c));
                    c
                }
            };
            class.push(c as u32);
            leaf.push(members[c].1.len() as u32);
            members[c].1.push(i as u32);
        }
        let mut total = 0;
        let classes: Vec<Class<i64>> = (members.into_iter())
            .map(|(weight, backends)| {
                let size = backends.len().next_power_of_two();
                let mut node = vec![
                    Node {
                        offset: i64::EMPTY,
                        leaf: 0,
                        backend: u32::MAX,
                    };
                    2 * size
                ];
                for l in 0..size {
                    node[size + l].leaf = l as u32;
                }
                for (l, &b) in backends.iter().enumerate() {
                    node[size + l].backend = b;
                    if eligible(b as usize) {
                        total += weight;
                        node[size + l].offset = 0;
                    }
                }
                for at in (1..size).rev() {
                    let (l, r) = (node[2 * at], node[2 * at + 1]);
                    node[at] = if l.offset >= r.offset { l } else { r };
                }
                Class { weight, node, size }
            })
            .collect();
        SmoothWeighted {
            classes: Classes::Narrow(classes),
            class,
            leaf,
            frozen: vec![0; n],
            t: 0,
            total,
        }
    }

    /// Backend `i`'s current value (nginx's `current_weight`), in thousandths.
    pub fn current(&self, i: usize) -> i128 {
        let (weight, offset) = self.member(i);
        match offset {
            None => self.frozen[i],
            Some(o) => o + self.t * weight,
        }
    }

    /// Backend `i`'s class weight and offset (`None` while ineligible).
    fn member(&self, i: usize) -> (i128, Option<i128>) {
        fn of<O: Offset>(cl: &Class<O>, leaf: usize) -> (i128, Option<i128>) {
            let o = cl.offset(leaf);
            (cl.weight, (o != O::EMPTY).then(|| o.wide()))
        }
        let (c, leaf) = (self.class[i] as usize, self.leaf[i] as usize);
        match &self.classes {
            Classes::Narrow(cs) => of(&cs[c], leaf),
            Classes::Wide(cs) => of(&cs[c], leaf),
        }
    }

    /// Whether the offsets went to `i128`.
    #[cfg(test)]
    fn is_wide(&self) -> bool {
        matches!(self.classes, Classes::Wide(_))
    }

    /// Turn every class's offsets to `i128` (if they are not yet), and
    /// return the classes.
    #[cold]
    fn widen(&mut self) -> &mut [Class<i128>] {
        if let Classes::Narrow(cs) = &mut self.classes {
            let wide = std::mem::take(cs).into_iter().map(Class::widen).collect();
            self.classes = Classes::Wide(wide);
        }
        match &mut self.classes {
            Classes::Wide(cs) => cs,
            Classes::Narrow(_) => unreachable!("just widened"),
        }
    }

    /// Backend `i` leaves (`None`) or rejoins (`Some(offset)`, its frozen
    /// value less `t × weight`) its class's tree; [`Overflow`] (nothing
    /// changed) if the offset does not fit.
    fn set_member<O: Offset>(
        classes: &mut [Class<O>],
        c: usize,
        leaf: usize,
        offset: Option<i128>,
    ) -> Result<(), Overflow> {
        let cl = &mut classes[c];
        let o = match offset {
            None => O::EMPTY,
            Some(x) => O::narrow(x).ok_or(Overflow)?,
        };
        cl.set(leaf, o);
        Ok(())
    }
}

impl Pick for SmoothWeighted {
    #[inline]
    fn pick(&mut self, _now: Instant, _loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        let t = self.t + 1;
        let picked = match &mut self.classes {
            Classes::Narrow(cs) => pick_in(cs, t, self.total),
            Classes::Wide(cs) => pick_in(cs, t, self.total),
        };
        let picked = match picked {
            Ok(p) => p,
            Err(Overflow) => {
                let total = self.total;
                pick_in(self.widen(), t, total).expect("i128 offsets always fit")
            }
        };
        if picked.is_some() {
            self.t = t;
        }
        picked
    }

    fn on_eligibility(&mut self, i: usize, eligible: bool) {
        let (weight, offset) = self.member(i);
        if eligible == offset.is_some() {
            return;
        }
        let change = if eligible {
            self.total += weight;
            Some(self.frozen[i] - self.t * weight)
        } else {
            self.total -= weight;
            self.frozen[i] = offset.expect("an eligible backend has an offset") + self.t * weight;
            None
        };
        let (c, leaf) = (self.class[i] as usize, self.leaf[i] as usize);
        let done = match &mut self.classes {
            Classes::Narrow(cs) => Self::set_member(cs, c, leaf, change),
            Classes::Wide(cs) => Self::set_member(cs, c, leaf, change),
        };
        if done.is_err() {
            Self::set_member(self.widen(), c, leaf, change).expect("i128 offsets always fit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Balancer, Strategy};
    use super::*;
    use crate::rng::Seed;
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

    /// nginx's O(n) scan, with ineligible backends skipped: the oracle.
    struct Naive {
        weight: Vec<i128>,
        current: Vec<i128>,
        eligible: Vec<bool>,
    }

    impl Naive {
        fn new(weights: &[f64]) -> Self {
            Naive {
                weight: weights
                    .iter()
                    .map(|&w| i128::from(thousandths(w)))
                    .collect(),
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
                    prop_assert_eq!(fast.current(j), naive.current[j]);
                }
            }
            prop_assert!(!fast.is_wide(), "these weights keep the offsets in i64");
        }
    }

    #[test]
    fn offsets_past_i64_go_on_in_i128_exactly() {
        // Weights of 10^15 and more are 10^18 thousandths and up: the first
        // lowered offset (0 less the total, 1.3 × 10^19) already passes
        // i64's range, so the classes turn to i128 at once and go on picking
        // what nginx's scan picks, through toggles that freeze and thaw.
        let weights = [4e15, 1e15, 3e15, 1e15, 2.0, 4e15];
        let n = weights.len();
        let mut fast = SmoothWeighted::new(&weights, |_| true);
        let mut naive = Naive::new(&weights);
        let loads = Loads::new(n);
        let mut rng = Seed(0).stream("t");
        for step in 0..600 {
            if step % 7 == 3 {
                let i = (step / 7) % n;
                let e = !naive.eligible[i];
                naive.eligible[i] = e;
                fast.on_eligibility(i, e);
            } else {
                assert_eq!(fast.pick(Instant::ZERO, &loads, &mut rng), naive.pick());
            }
            for j in 0..n {
                assert_eq!(
                    fast.current(j),
                    naive.current[j],
                    "backend {j}, step {step}"
                );
            }
        }
        assert!(fast.is_wide());
    }

    #[test]
    fn a_thawed_offset_past_i64_widens_the_classes() {
        // Narrow until a heavy backend frozen at the start rejoins after
        // 1,000 picks of the others: its offset `frozen − t × weight`,
        // −10^19 thousandths, is the first that does not fit.
        let weights = [1e9, 1e9, 1e13];
        let mut fast = SmoothWeighted::new(&weights, |_| true);
        let mut naive = Naive::new(&weights);
        let loads = Loads::new(3);
        let mut rng = Seed(0).stream("t");
        fast.on_eligibility(2, false);
        naive.eligible[2] = false;
        for _ in 0..1_000 {
            assert_eq!(fast.pick(Instant::ZERO, &loads, &mut rng), naive.pick());
        }
        assert!(!fast.is_wide());
        fast.on_eligibility(2, true);
        naive.eligible[2] = true;
        assert!(fast.is_wide(), "t × weight = 10^19 thousandths is past i64");
        for _ in 0..100 {
            assert_eq!(fast.pick(Instant::ZERO, &loads, &mut rng), naive.pick());
        }
        for j in 0..3 {
            assert_eq!(fast.current(j), naive.current[j]);
        }
    }
}
