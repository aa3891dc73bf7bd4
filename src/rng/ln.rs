//! `−ln(1 − q)`, the exponential quantile, in a few multiplications.
//!
//! Why here: every exponential draw (Poisson gaps, exponential service and
//! latency) is `mean · −ln(1 − q)`, and `libm::log1p` costs a tenth of a
//! whole M/M/10 run. A ziggurat would be faster still but cannot serve
//! service times, which are drawn at the task's own quantile (common random
//! numbers across tiers and strategies), so the quantile itself must be fast.
//!
//! How: only IEEE-754 `+ − × ÷` on `f64`, which are correctly rounded on
//! every platform, so the bits are the same everywhere (no FMA: Rust never
//! contracts float operations).
//! - For `q < 1/128`, the series `q + q²/2 + … + q⁹/9` (the first term
//!   left out is below `q · 2⁻⁶³`).
//! - Otherwise `y = 1 − q` is split as `y = 2ᵉ · m`, `m ∈ [1, 2)`; the top
//!   eight bits of `m` pick a centre `c` (the middle of a 1/256-wide
//!   interval), `r = (m − c)/c` (`m − c` is exact, so `r` carries one
//!   rounding and `|r| ≤ 1/512`), and `ln y = e·ln 2 + ln c + ln(1 + r)`
//!   with `ln(1 + r)` to degree 5 (error below `r⁶/6 < 2⁻⁵⁶`, against
//!   `|ln y| > 1/128`), evaluated in Estrin's grouping. Centres above 1.5
//!   are halved (and `e` raised) so that `y` just below 1 adds no large
//!   terms that would cancel. The table holds `1/c` and `ln c`, computed
//!   once from `libm`.
//!
//! Accuracy: within a few units in the last place of `libm::log1p(−q)`
//! (the test bounds the relative difference by `1e−14` over a million
//! draws and at the ends of the range); at nanosecond resolution the draws
//! differ from `libm`'s only where a value falls within `1e−5` ns of a
//! rounding boundary.

use std::sync::LazyLock;

const BITS: u32 = 8;
const N: usize = 1 << BITS;
const LN2: f64 = std::f64::consts::LN_2;

/// One interval of the mantissa: its centre `c`, `1/c`, `ln c'` and the
/// exponent's adjustment, with `c' = c` or `c/2` (the exponent raised by
/// one) for centres above 1.5. A draw reads one entry: the four values sit
/// in one 32-byte entry, so one cache line, where four arrays took four
/// (in a large fleet's run the table is evicted between draws, and each
/// line missed cost a draw more than its arithmetic).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Entry {
    centre: f64,
    inv: f64,
    ln: f64,
    raise: i32,
}

static TABLE: LazyLock<[Entry; N]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let c = 1.0 + (i as f64 + 0.5) / N as f64;
        let (ln, raise) = if c > 1.5 {
            (libm::log(c / 2.0), 1)
        } else {
            (libm::log(c), 0)
        };
        Entry {
            centre: c,
            inv: 1.0 / c,
            ln,
            raise,
        }
    })
});

/// `−ln(1 − q)` for `q ∈ [0, 1]` (`q = 1` gives infinity, NaN stays NaN).
#[inline]
pub fn neg_ln_1m(q: f64) -> f64 {
    if q < 1.0 / 128.0 {
        // Horner on q·(1 + q/2 + q²/3 + … + q⁸/9); q ≤ 0 gives −0 or q.
        let p = 1.0 / 9.0;
        let p = 1.0 / 8.0 + q * p;
        let p = 1.0 / 7.0 + q * p;
        let p = 1.0 / 6.0 + q * p;
        let p = 1.0 / 5.0 + q * p;
        let p = 1.0 / 4.0 + q * p;
        let p = 1.0 / 3.0 + q * p;
        let p = 1.0 / 2.0 + q * p;
        let p = 1.0 + q * p;
        return q * p;
    }
    let y = 1.0 - q;
    if q.is_nan() {
        return q;
    }
    if y <= 0.0 {
        return f64::INFINITY;
    }
    -ln_normal(y)
}

/// `ln y` for a normal `y` in `(0, 1)` (no subnormals: `1 − q` for
/// `q ≤ 1` is at least `2⁻⁵³` or zero).
#[inline]
fn ln_normal(y: f64) -> f64 {
    let bits = y.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let i = ((bits >> (52 - BITS)) & (N as u64 - 1)) as usize;
    let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | 1.0f64.to_bits());
    let t = &TABLE[i];
    let r = (m - t.centre) * t.inv;
    // ln(1 + r) = r − r²/2 + r³/3 − r⁴/4 + r⁵/5, grouped (Estrin) so the
    // multiplications overlap instead of waiting on each other.
    let r2 = r * r;
    let low = -0.5 + r * (1.0 / 3.0);
    let high = -0.25 + r * 0.2;
    let p = r + (r2 * low + (r2 * r2) * high);
    f64::from(e + t.raise) * LN2 + t.ln + p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, unit};

    fn rel(a: f64, b: f64) -> f64 {
        if a == b { 0.0 } else { ((a - b) / b).abs() }
    }

    #[test]
    fn agrees_with_libm_over_the_whole_range() {
        let mut rng = Seed(7).stream("ln-test");
        let mut worst = 0.0f64;
        for _ in 0..1_000_000 {
            let q = unit(&mut rng);
            worst = worst.max(rel(neg_ln_1m(q), -libm::log1p(-q)));
        }
        // Both ends, both sides of the series' switch, every exponent.
        let mut edges = vec![
            0.0,
            f64::MIN_POSITIVE,
            1e-300,
            1e-17,
            (1u64 << 11) as f64 / (1u64 << 53) as f64,
            1.0 / 128.0 - 1e-17,
            1.0 / 128.0,
            1.0 / 128.0 + 1e-17,
            0.25,
            0.5,
            0.75,
            1.0 - 1.0 / (1u64 << 53) as f64,
        ];
        for k in 1..53 {
            edges.push(1.0 - libm::ldexp(1.0, -k));
            edges.push(1.0 - libm::ldexp(1.0, -k) * 1.000001);
        }
        for &q in &edges {
            let r = rel(neg_ln_1m(q), -libm::log1p(-q));
            assert!(r < 1e-14, "q = {q:e}: relative error {r:e}");
            worst = worst.max(r);
        }
        assert!(worst < 1e-14, "worst relative error {worst:e}");
    }

    #[test]
    fn ends_and_bad_values() {
        assert_eq!(neg_ln_1m(0.0), 0.0);
        assert_eq!(neg_ln_1m(1.0), f64::INFINITY);
        assert!(neg_ln_1m(f64::NAN).is_nan());
        assert!(rel(neg_ln_1m(0.5), std::f64::consts::LN_2) < 1e-15);
    }
}
