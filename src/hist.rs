//! A recording front for HdrHistogram: the same buckets, a record that is
//! a handful of instructions, and the real histogram built once at the end.
//!
//! Why: every completed task records its latency twice (the run's
//! histogram and its time bucket's) and its agent's service time once, and
//! the bus records the latency of every message it delivers.
//! `Histogram::saturating_record` is a call with range checks, a count
//! overflow check and min/max upkeep, about a hundred instructions; the
//! three of them were a tenth of an M/M/10 run. [`Counts`] keeps only the
//! count array, indexed exactly as HdrHistogram indexes it (Tene's
//! log-linear layout: `bucket = base − lzcnt(v | mask)`,
//! `sub = v >> bucket`, `index = (bucket + 1)·half + sub − half`), so
//! [`Counts::to_histogram`] gives a histogram equal to one fed the same
//! values (same counts, total, minimum and maximum as HdrHistogram reports
//! them), and [`Counts::value_at_quantile`] reports what HdrHistogram's
//! `value_at_quantile` would. Both are checked against the crate in the
//! tests below.
//!
//! The lowest discernible value is 1 (unit magnitude 0), as for every
//! histogram fleetsim keeps. Values past the last bucket count as the
//! highest trackable value, as `saturating_record` does.

use hdrhistogram::{Counter, Histogram};

/// The count type: `u32` or `u64`, as the histogram's.
pub trait Count: Counter + Copy + Default {
    /// One more, saturating as the histogram's own counts do.
    fn bump(&mut self);
    /// The sum, saturating.
    fn plus(self, other: Self) -> Self;
    /// `n` as a count, saturating.
    fn of(n: u64) -> Self;
}

impl Count for u32 {
    #[inline(always)]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    fn plus(self, other: u32) -> u32 {
        self.saturating_add(other)
    }
    fn of(n: u64) -> u32 {
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl Count for u64 {
    #[inline(always)]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    fn plus(self, other: u64) -> u64 {
        self.saturating_add(other)
    }
    fn of(n: u64) -> u64 {
        n
    }
}

/// Counts of values in HdrHistogram's buckets for a histogram with bounds
/// `1..=high` and `digits` significant digits.
#[derive(Clone, Debug)]
pub struct Counts<C> {
    counts: Vec<C>,
    total: u64,
    high: u64,
    /// `64 − sub-bucket magnitude`: `bucket = base − lzcnt(v | mask)`.
    base: u32,
    mask: u64,
    /// log2 of half the sub-buckets.
    half_magnitude: u32,
    /// The lowest and highest index recorded since the last reset
    /// (`lowest > highest` when empty), so a reset and a quantile only
    /// visit the part that was used.
    lowest: usize,
    highest: usize,
    digits: u8,
}

impl<C: Count> Counts<C> {
    /// Empty counts laid out like `template` (lowest discernible value 1).
    pub fn like(template: &Histogram<C>) -> Counts<C> {
        assert_eq!(template.low(), 1, "only histograms from 1 are supported");
        let digits = template.sigfig();
        // 2·10^digits distinct values at full precision, rounded up to a
        // power of two: HdrHistogram's sub-bucket count.
        let largest = 2 * 10u64.pow(u32::from(digits));
        let magnitude = 64 - (largest - 1).leading_zeros();
        let counts = vec![C::default(); template.distinct_values()];
        Counts {
            counts,
            total: 0,
            high: template.high(),
            base: 64 - magnitude,
            mask: (1u64 << magnitude) - 1,
            half_magnitude: magnitude - 1,
            lowest: usize::MAX,
            highest: 0,
            digits,
        }
    }

    /// HdrHistogram's index of `v` (at most the highest trackable value).
    #[inline(always)]
    fn index(&self, v: u64) -> usize {
        let bucket = self.base - (v | self.mask).leading_zeros();
        let sub = (v >> bucket) as usize;
        ((bucket as usize + 1) << self.half_magnitude) + sub - (1 << self.half_magnitude)
    }

    /// The lowest value counted at `index` (HdrHistogram's `value_for`).
    fn value_at(&self, index: usize) -> u64 {
        let half = 1usize << self.half_magnitude;
        let bucket = (index >> self.half_magnitude) as i64 - 1;
        let sub = (index & (half - 1)) + half;
        if bucket < 0 {
            (sub - half) as u64
        } else {
            (sub as u64) << bucket
        }
    }

    /// The highest value counted at `index`.
    fn highest_at(&self, index: usize) -> u64 {
        let v = self.value_at(index);
        let bucket = self.base - (v | self.mask).leading_zeros();
        v.saturating_add(1u64 << bucket) - 1
    }

    /// Count `v`. Like `saturating_record`, a value past the last bucket
    /// counts as the highest trackable value (one above it but within the
    /// last bucket still counts in its own).
    #[inline(always)]
    pub fn record(&mut self, v: u64) {
        let i = self.slot(v);
        self.counts[i].bump();
        self.mark(i, 1);
    }

    /// Count `v` `n` times (as `n` calls of [`Counts::record`]).
    pub fn record_n(&mut self, v: u64, n: u64) {
        if n == 0 {
            return;
        }
        let i = self.slot(v);
        self.counts[i] = self.counts[i].plus(C::of(n));
        self.mark(i, n);
    }

    /// Where `v` counts: its index, or the highest trackable value's when
    /// it is past the last bucket.
    #[inline(always)]
    fn slot(&self, v: u64) -> usize {
        let i = self.index(v);
        if i < self.counts.len() {
            i
        } else {
            self.index(self.high)
        }
    }

    /// `n` values were counted at index `i`.
    #[inline(always)]
    fn mark(&mut self, i: usize, n: u64) {
        self.total += n;
        self.lowest = self.lowest.min(i);
        self.highest = self.highest.max(i);
    }

    /// How many values were counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at `quantile` exactly as HdrHistogram's
    /// `value_at_quantile` reports it: the rank `max(1, ⌈q·n⌉)`, then the
    /// highest value equivalent to that rank's bucket (the lowest for
    /// `q = 0`); 0 when empty.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let quantile = quantile.min(1.0);
        let target = ((quantile * self.total as f64).ceil() as u64).max(1);
        // The answer is the lowest index whose running count reaches the
        // target. High quantiles are found from the top: index `i` is it
        // when the count below it falls short of the target.
        let index = if target > self.total / 2 {
            let mut above = 0u64;
            let mut found = self.lowest;
            for i in (self.lowest..=self.highest).rev() {
                let c = self.counts[i].as_u64();
                if self.total - above - c < target {
                    found = i;
                    break;
                }
                above += c;
            }
            found
        } else {
            let mut seen = 0u64;
            let mut found = self.highest;
            for i in self.lowest..=self.highest {
                seen += self.counts[i].as_u64();
                if seen >= target {
                    found = i;
                    break;
                }
            }
            found
        };
        if quantile == 0.0 {
            self.value_at(index)
        } else {
            self.highest_at(index)
        }
    }

    /// Add `other`'s counts (laid out the same way), to merge runs.
    pub fn add(&mut self, other: &Counts<C>) {
        assert_eq!(
            (self.counts.len(), self.high, self.digits),
            (other.counts.len(), other.high, other.digits),
            "counts merged must share their layout"
        );
        if other.lowest <= other.highest {
            for i in other.lowest..=other.highest {
                self.counts[i] = self.counts[i].plus(other.counts[i]);
            }
            self.total += other.total;
            self.lowest = self.lowest.min(other.lowest);
            self.highest = self.highest.max(other.highest);
        }
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        if self.lowest <= self.highest {
            self.counts[self.lowest..=self.highest].fill(C::default());
        }
        self.total = 0;
        self.lowest = usize::MAX;
        self.highest = 0;
    }

    /// The histogram HdrHistogram would hold had it recorded the same
    /// values.
    pub fn to_histogram(&self) -> Histogram<C> {
        let mut h = Histogram::new_with_bounds(1, self.high, self.digits)
            .expect("the bounds came from a valid histogram");
        if self.lowest <= self.highest {
            for i in self.lowest..=self.highest {
                let c = self.counts[i];
                if c.as_u64() > 0 {
                    h.record_n(self.value_at(i), c)
                        .expect("a bucket's lowest value is trackable");
                }
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(seed: u64, n: usize, high: u64) -> Vec<u64> {
        let mut state = seed | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Every magnitude, zero and values past the top included.
                match state % 50 {
                    0 => 0,
                    1 => high + state % 1000,
                    _ => (state >> 8) >> ((state >> 2) % 60),
                }
            })
            .collect()
    }

    fn same_as_hdr<C: Count + PartialEq + std::fmt::Debug>(digits: u8, high: u64) {
        let template = Histogram::<C>::new_with_bounds(1, high, digits).unwrap();
        for (seed, n) in [(1, 1), (2, 7), (3, 100), (4, 5_000), (5, 50_000)] {
            let mut hdr = template.clone();
            let mut ours = Counts::like(&template);
            for v in values(seed, n, high) {
                hdr.saturating_record(v);
                ours.record(v);
            }
            let built = ours.to_histogram();
            assert!(built == hdr, "digits {digits}, n {n}: histograms differ");
            assert_eq!(built.max(), hdr.max());
            assert_eq!(built.min(), hdr.min());
            assert_eq!(built.mean(), hdr.mean());
            for q in [0.0, 1e-9, 0.25, 0.5, 0.9, 0.99, 0.999, 0.99999, 1.0, 1.5] {
                assert_eq!(
                    ours.value_at_quantile(q),
                    hdr.value_at_quantile(q),
                    "digits {digits}, n {n}, q {q}"
                );
            }
        }
    }

    #[test]
    fn counts_and_quantiles_are_hdrhistograms() {
        // The bounds fleetsim uses: 10^5 s in ns (3 and 2 digits), the same
        // in µs, and the bus's hour in ns.
        same_as_hdr::<u64>(3, 100_000_000_000_000);
        same_as_hdr::<u32>(2, 100_000_000_000_000);
        same_as_hdr::<u32>(2, 100_000_000_000);
        same_as_hdr::<u64>(3, 3_600_000_000_000);
    }

    #[test]
    fn every_index_maps_back_to_its_lowest_value() {
        let template = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
        let c = Counts::like(&template);
        for i in 0..template.distinct_values() {
            let v = c.value_at(i);
            if v > template.high() {
                break;
            }
            assert_eq!(c.index(v), i, "index {i}");
            assert_eq!(template.lowest_equivalent(v), v, "index {i}");
            assert_eq!(c.highest_at(i), template.highest_equivalent(v), "index {i}");
        }
    }

    #[test]
    fn record_n_counts_like_n_records() {
        let template = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        let (mut once, mut each) = (Counts::like(&template), Counts::like(&template));
        for (v, n) in [(0, 5), (7_777, 3), (u64::MAX, 2), (42, 0)] {
            once.record_n(v, n);
            for _ in 0..n {
                each.record(v);
            }
        }
        assert!(once.to_histogram() == each.to_histogram());
        assert_eq!(once.len(), 10);
    }

    #[test]
    fn reset_forgets_and_an_empty_quantile_is_zero() {
        let template = Histogram::<u32>::new_with_bounds(1, 1_000_000, 2).unwrap();
        let mut c = Counts::like(&template);
        assert_eq!(c.value_at_quantile(0.99), 0);
        for v in [5, 50_000, 999] {
            c.record(v);
        }
        c.reset();
        assert!(c.is_empty());
        assert_eq!(c.value_at_quantile(0.99), 0);
        assert!(c.to_histogram().is_empty());
        c.record(7);
        assert_eq!(c.value_at_quantile(0.99), 7);
    }
}
