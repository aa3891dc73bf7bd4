//! Retries: a [`RetryPolicy`] that says how long to wait before the next
//! attempt of a failed task (backoff with jitter), and a [`RetryBudget`] that
//! says whether the fleet as a whole may afford one more retry.
//!
//! Why both: the policy spreads one task's retries out in time, so that tasks
//! failed by the same outage do not come back in lock-step; the budget caps
//! the retries of all tasks together, so that retries cannot multiply an
//! outage (see [`budget`]).
//!
//! The un-jittered delay `v` of retry `n` (1-based, [`RetryPolicy::ceiling`])
//! is `min(cap, base·multiplier^(n−1))` (exponential), `min(cap, base·n)`
//! (linear) or `min(cap, base)` (constant), in integer nanoseconds that
//! saturate rather than overflow, whatever `n`. Jitter follows the AWS
//! architecture blog, "Exponential Backoff And Jitter" (Brooker, 2015), as
//! `retry.jitter` in docs/scenario.md names them:
//!
//! - none: `v`;
//! - full: `U(0, v)`;
//! - equal: `v/2 + U(0, v/2)`;
//! - decorrelated: `min(cap, U(base, 3·prev))`, where `prev` is the delay
//!   returned before (`base` before the first retry). It ignores `backoff`
//!   and `multiplier`: its growth comes from `prev`, as in the article.
//!
//! Sans-IO: the policy holds no state and no RNG; the caller passes the
//! attempt count, the previous delay and the random stream. Every call that
//! returns a delay consumes exactly one `u64` from the stream (through
//! [`crate::rng::unit`]), whatever the jitter, so that two retry settings
//! compared on one seed stay aligned on their streams.

pub mod budget;

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use crate::rng::unit;
use crate::time::Duration;

pub use budget::RetryBudget;

/// How the un-jittered delay grows with the retry number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backoff {
    /// `base·multiplier^(n−1)`.
    Exponential,
    /// `base·n`.
    Linear,
    /// `base`.
    Constant,
}

impl Backoff {
    pub const ALL: [Backoff; 3] = [Backoff::Exponential, Backoff::Linear, Backoff::Constant];

    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Linear => "linear",
            Backoff::Constant => "constant",
        }
    }
}

/// How the delay is randomised below its ceiling `v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Jitter {
    /// `v`.
    None,
    /// `U(0, v)`.
    Full,
    /// `v/2 + U(0, v/2)`.
    Equal,
    /// `min(cap, U(base, 3·prev))`; ignores the backoff.
    Decorrelated,
}

impl Jitter {
    pub const ALL: [Jitter; 4] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];

    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backoff or jitter name that is not one of the choices.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{got}`; one of {choices}")]
pub struct UnknownName {
    /// `"backoff"` or `"jitter"`.
    pub what: &'static str,
    pub got: String,
    /// The valid names, comma-separated.
    pub choices: String,
}

impl FromStr for Backoff {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backoff::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "backoff",
                got: s.to_string(),
                choices: Backoff::ALL.map(Backoff::as_str).join(", "),
            })
    }
}

impl FromStr for Jitter {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jitter::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "jitter",
                got: s.to_string(),
                choices: Jitter::ALL.map(Jitter::as_str).join(", "),
            })
    }
}

/// When and how often a failed task is tried again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// Total attempts including the first (≥ 1); 1 = never retry (nor
    /// does 0).
    pub max_attempts: u32,
    pub base: Duration,
    /// Growth per retry for [`Backoff::Exponential`] (≥ 1); values below 1,
    /// and NaN, are read as 1.
    pub multiplier: f64,
    /// The cap on every delay.
    pub max_delay: Duration,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// Exponential, 3 attempts, 100 ms base, ×2, 5 s cap, full jitter.
    fn default() -> Self {
        RetryPolicy {
            backoff: Backoff::Exponential,
            max_attempts: 3,
            base: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(5),
            jitter: Jitter::Full,
        }
    }
}

impl RetryPolicy {
    /// After `attempts` attempts have failed (≥ 1): the delay before the
    /// next attempt, or `None` exactly when `attempts >= max_attempts`
    /// (`attempts` = 0 gets the delay of retry 1).
    /// `prev` is the previous delay returned for this task (`None` before
    /// the first retry); only decorrelated jitter uses it. A `Some` consumes
    /// exactly one draw from `rng`, a `None` none.
    pub fn next_delay(
        &self,
        attempts: u32,
        prev: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let u = unit(rng);
        let ns = match self.jitter {
            Jitter::None => self.ceiling(attempts).0,
            Jitter::Full => scaled(u, self.ceiling(attempts).0),
            Jitter::Equal => {
                let v = self.ceiling(attempts).0;
                let half = v / 2;
                half + scaled(u, v - half)
            }
            Jitter::Decorrelated => {
                let lo = self.base.0;
                let hi = prev.unwrap_or(self.base).0.saturating_mul(3);
                let x = if hi > lo { lo + scaled(u, hi - lo) } else { lo };
                x.min(self.max_delay.0)
            }
        };
        Some(Duration(ns))
    }

    /// The un-jittered delay `v` for retry number `n` (1-based; 0 is read as
    /// 1): exponential `min(cap, base·multiplier^(n−1))`, linear
    /// `min(cap, base·n)`, constant `min(cap, base)`. Saturates, never
    /// overflows; exact in integers when the multiplier is a whole number.
    pub fn ceiling(&self, n: u32) -> Duration {
        let n = n.max(1);
        let base = self.base.0;
        let v = match self.backoff {
            Backoff::Exponential => grow(base, self.multiplier, n - 1),
            Backoff::Linear => base.saturating_mul(u64::from(n)),
            Backoff::Constant => base,
        };
        Duration(v.min(self.max_delay.0))
    }
}

/// `base·multiplier^k`, saturating at `u64::MAX`.
fn grow(base: u64, multiplier: f64, k: u32) -> u64 {
    // `max` ignores NaN: a NaN multiplier is read as 1, like one below 1.
    let m = multiplier.max(1.0);
    if base == 0 || k == 0 || m == 1.0 {
        return base;
    }
    if m.fract() == 0.0 && m < u64::MAX as f64 {
        // A whole multiplier: exact integers (3^40 ns is not exact in f64).
        return match (m as u64).checked_pow(k) {
            Some(p) => base.saturating_mul(p),
            None => u64::MAX,
        };
    }
    // libm, not the platform's pow, so every machine gets the same bits.
    let x = base as f64 * libm::pow(m, f64::from(k));
    if x.is_nan() || x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x.round() as u64
    }
}

/// `floor(u·span)` for `u` from [`unit`], in exact integers: `u` is `j/2^53`
/// for an integer `j < 2^53`, so this is `floor(j·span / 2^53)`, in
/// `[0, span)` when `span > 0`.
fn scaled(u: f64, span: u64) -> u64 {
    const TWO_53: f64 = (1u64 << 53) as f64;
    let j = (u * TWO_53) as u128; // exact: u·2^53 is an integer below 2^53
    ((j * u128::from(span)) >> 53) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest};

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn policy(backoff: Backoff, base: u64, multiplier: f64, cap: u64) -> RetryPolicy {
        RetryPolicy {
            backoff,
            max_attempts: u32::MAX,
            base: Duration(base),
            multiplier,
            max_delay: Duration(cap),
            jitter: Jitter::None,
        }
    }

    fn table(p: &RetryPolicy, ns: &[u32]) -> Vec<u64> {
        ns.iter().map(|&n| p.ceiling(n).0).collect()
    }

    #[test]
    fn exponential_ceiling_table() {
        let p = policy(Backoff::Exponential, 100 * MS, 2.0, 5 * S);
        assert_eq!(
            table(&p, &[1, 2, 3, 4, 5, 6, 7, 8, 64, 65, 1000, u32::MAX]),
            vec![
                100 * MS,
                200 * MS,
                400 * MS,
                800 * MS,
                1_600 * MS,
                3_200 * MS,
                5 * S, // 6.4 s, capped
                5 * S,
                5 * S,
                5 * S,
                5 * S,
                5 * S
            ]
        );
        assert_eq!(p.ceiling(0), p.ceiling(1), "n = 0 reads as 1");
        // Whole multipliers are exact integers, and saturate just past u64.
        let p = policy(Backoff::Exponential, 1, 3.0, u64::MAX);
        assert_eq!(
            table(&p, &[1, 2, 41, 42, u32::MAX]),
            vec![1, 3, 12_157_665_459_056_928_801, u64::MAX, u64::MAX]
        );
        // A fractional multiplier: 100 ms · 1.5^k.
        let p = policy(Backoff::Exponential, 100 * MS, 1.5, 5 * S);
        assert_eq!(
            table(&p, &[1, 2, 3, 4, 9, 10, 11, u32::MAX]),
            vec![
                100 * MS,
                150 * MS,
                225 * MS,
                337_500_000,
                2_562_890_625, // 100 ms · 1.5^8
                3_844_335_938, // 100 ms · 1.5^9 = 3 844 335 937.5, rounded
                5 * S,
                5 * S
            ]
        );
        let p = policy(Backoff::Exponential, 7, 1.5, u64::MAX);
        assert_eq!(p.ceiling(u32::MAX).0, u64::MAX, "saturates uncapped");
        // Multipliers below 1, NaN or infinite do not panic.
        for (m, want) in [
            (0.5, 100 * MS),
            (f64::NAN, 100 * MS),
            (f64::INFINITY, 5 * S),
        ] {
            let p = policy(Backoff::Exponential, 100 * MS, m, 5 * S);
            assert_eq!(p.ceiling(3).0, want, "multiplier {m}");
        }
    }

    #[test]
    fn linear_ceiling_table() {
        let p = policy(Backoff::Linear, 100 * MS, 2.0, 5 * S);
        assert_eq!(
            table(&p, &[0, 1, 2, 3, 49, 50, 51, u32::MAX]),
            vec![
                100 * MS,
                100 * MS,
                200 * MS,
                300 * MS,
                4_900 * MS,
                5 * S,
                5 * S,
                5 * S
            ]
        );
        let p = policy(Backoff::Linear, S, 2.0, u64::MAX);
        assert_eq!(p.ceiling(u32::MAX).0, u64::from(u32::MAX) * S);
        let p = policy(Backoff::Linear, u64::MAX / 2 + 1, 2.0, u64::MAX);
        assert_eq!(p.ceiling(2).0, u64::MAX, "saturates");
    }

    #[test]
    fn constant_ceiling_table() {
        let p = policy(Backoff::Constant, 100 * MS, 2.0, 5 * S);
        assert_eq!(table(&p, &[0, 1, 2, 100, u32::MAX]), vec![100 * MS; 5]);
        let p = policy(Backoff::Constant, 10 * S, 2.0, 5 * S);
        assert_eq!(p.ceiling(1).0, 5 * S, "capped");
    }

    #[test]
    fn names_round_trip_and_errors_list_the_choices() {
        for b in Backoff::ALL {
            assert_eq!(b.as_str().parse::<Backoff>(), Ok(b));
            assert_eq!(b.to_string(), b.as_str());
        }
        for j in Jitter::ALL {
            assert_eq!(j.as_str().parse::<Jitter>(), Ok(j));
            assert_eq!(j.to_string(), j.as_str());
        }
        let e = "fibonacci".parse::<Backoff>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown backoff `fibonacci`; one of exponential, linear, constant"
        );
        let e = "Full".parse::<Jitter>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown jitter `Full`; one of none, full, equal, decorrelated"
        );
    }

    #[test]
    fn the_default_is_the_documented_one() {
        let p = RetryPolicy::default();
        assert_eq!(
            p,
            RetryPolicy {
                backoff: Backoff::Exponential,
                max_attempts: 3,
                base: Duration(100 * MS),
                multiplier: 2.0,
                max_delay: Duration(5 * S),
                jitter: Jitter::Full,
            }
        );
    }

    #[test]
    fn first_decorrelated_retry_uses_base_as_prev() {
        let p = RetryPolicy {
            jitter: Jitter::Decorrelated,
            max_delay: Duration(100 * S),
            ..RetryPolicy::default()
        };
        // With prev = None, U(base, 3·base); with prev = 10 s, U(base, 30 s).
        let mut rng = Seed(3).stream("test/decorrelated-first");
        for _ in 0..1000 {
            let d = p.next_delay(1, None, &mut rng).unwrap().0;
            assert!((100 * MS..300 * MS).contains(&d), "{d}");
        }
        let far = (0..1000)
            .map(|_| p.next_delay(1, Some(Duration(10 * S)), &mut rng).unwrap().0)
            .max()
            .unwrap();
        assert!(far > 20 * S, "prev drives the range: max {far}");
    }

    /// Every `Some` takes exactly one `u64` from the stream, whatever the
    /// jitter, and a `None` takes none.
    #[test]
    fn each_delay_consumes_one_draw() {
        for jitter in Jitter::ALL {
            let p = RetryPolicy {
                jitter,
                max_attempts: 3,
                ..RetryPolicy::default()
            };
            let mut a = Seed(9).stream("test/draws");
            let mut b = a.clone();
            assert!(p.next_delay(1, None, &mut a).is_some());
            assert!(p.next_delay(3, None, &mut a).is_none());
            b.next_u64();
            assert_eq!(a.next_u64(), b.next_u64(), "{jitter}");
        }
    }

    /// Sample mean against the exact mean of `U(lo, hi)`.
    ///
    /// Tolerance: the mean of `N` independent draws of `U(lo, hi)` has
    /// standard deviation `σ/√N` with `σ = (hi − lo)/√12`; we allow 5 of
    /// those (a false alarm has probability about 6e-7 for a random seed,
    /// and the seed is fixed, so the test is deterministic). With N = 20 000
    /// the tolerance is `(hi − lo)·5/√240 000 ≈ 1 %` of the range, far below
    /// the gap between the jitters' means (v/4 between full and equal).
    /// Flooring to whole nanoseconds lowers the mean by at most 1 ns.
    fn assert_mean(samples: &[u64], lo: u64, hi: u64, what: &str) {
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
        let want = (lo as f64 + hi as f64) / 2.0;
        let sd = (hi - lo) as f64 / 12f64.sqrt();
        let tol = 5.0 * sd / n.sqrt() + 1.0;
        assert!(
            (mean - want).abs() <= tol,
            "{what}: mean {mean} ns, expected {want} ± {tol}"
        );
    }

    #[test]
    fn jitter_means_match_the_formulas() {
        const N: usize = 20_000;
        let mut rng = Seed(42).stream("test/jitter-means");
        let v = S; // exponential, 3rd retry: 250 ms · 2² = 1 s, under the cap
        let base = RetryPolicy {
            base: Duration(250 * MS),
            max_delay: Duration(10 * S),
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        assert_eq!(base.ceiling(3).0, v);
        let mut draw = |jitter: Jitter, prev: Option<Duration>| -> Vec<u64> {
            let p = RetryPolicy { jitter, ..base };
            (0..N)
                .map(|_| p.next_delay(3, prev, &mut rng).unwrap().0)
                .collect()
        };
        // Full: U(0, v), mean v/2.
        assert_mean(&draw(Jitter::Full, None), 0, v, "full");
        // Equal: v/2 + U(0, v/2), mean 3v/4.
        assert_mean(&draw(Jitter::Equal, None), v / 2, v, "equal");
        // Decorrelated, uncapped (3·prev = 3 s < 10 s): U(base, 3·prev),
        // mean (base + 3·prev)/2.
        let prev = Duration(S);
        assert_mean(
            &draw(Jitter::Decorrelated, Some(prev)),
            250 * MS,
            3 * S,
            "decorrelated",
        );
        // Before the first retry prev = base: U(base, 3·base), mean 2·base.
        assert_mean(
            &draw(Jitter::Decorrelated, None),
            250 * MS,
            750 * MS,
            "decorrelated, first retry",
        );
        // None: exactly v.
        assert!(draw(Jitter::None, None).iter().all(|&d| d == v));
    }

    proptest! {
        /// `next_delay` is `None` exactly when `attempts >= max_attempts`.
        #[test]
        fn none_exactly_when_attempts_are_used_up(
            max_attempts in 0u32..12,
            attempts in 0u32..16,
            jitter in 0usize..4,
            seed: u64,
        ) {
            let p = RetryPolicy {
                max_attempts,
                jitter: Jitter::ALL[jitter],
                ..RetryPolicy::default()
            };
            let mut rng = Seed(seed).stream("test/none");
            let d = p.next_delay(attempts, Some(Duration(S)), &mut rng);
            prop_assert_eq!(d.is_none(), attempts >= max_attempts);
        }

        /// Each jitter stays within its bounds: full in [0, v], equal in
        /// [v/2, v], decorrelated in [base, min(cap, 3·prev)] (both ends
        /// capped, and the range is {base} when 3·prev < base).
        #[test]
        fn jitter_stays_in_bounds(
            backoff in 0usize..3,
            base in 0u64..10 * S,
            multiplier in 1.0f64..4.0,
            cap in 0u64..60 * S,
            attempts in 1u32..200,
            prev in proptest::option::of(0u64..60 * S),
            seed: u64,
        ) {
            let mut rng = Seed(seed).stream("test/bounds");
            let p = RetryPolicy {
                backoff: Backoff::ALL[backoff],
                max_attempts: u32::MAX,
                base: Duration(base),
                multiplier,
                max_delay: Duration(cap),
                jitter: Jitter::None,
            };
            let v = p.ceiling(attempts).0;
            prop_assert!(v <= cap);
            let prev_d = prev.map(Duration);
            let at = |jitter: Jitter, rng: &mut Stream| {
                RetryPolicy { jitter, ..p }.next_delay(attempts, prev_d, rng).unwrap().0
            };
            prop_assert_eq!(at(Jitter::None, &mut rng), v);
            let full = at(Jitter::Full, &mut rng);
            prop_assert!(full <= v, "full {} > v {}", full, v);
            let equal = at(Jitter::Equal, &mut rng);
            prop_assert!(v / 2 <= equal && equal <= v, "equal {} not in [{}/2, {}]", equal, v, v);
            let dec = at(Jitter::Decorrelated, &mut rng);
            let three_prev = prev.unwrap_or(base).saturating_mul(3);
            let lo = base.min(cap);
            let hi = three_prev.max(base).min(cap);
            prop_assert!(lo <= dec && dec <= hi, "decorrelated {} not in [{}, {}]", dec, lo, hi);
        }

        /// The ceiling never decreases with n and never exceeds the cap,
        /// even for huge n.
        #[test]
        fn ceiling_is_monotone_and_capped(
            backoff in 0usize..3,
            base in 0u64..u64::MAX,
            multiplier in 1.0f64..10.0,
            cap: u64,
            n in 1u32..u32::MAX,
        ) {
            let p = policy(Backoff::ALL[backoff], base, multiplier, cap);
            let (a, b) = (p.ceiling(n), p.ceiling(n + 1));
            prop_assert!(a <= b && b.0 <= cap);
        }

        /// `scaled` is floor(u·span) in exact integers, below span.
        #[test]
        fn scaled_is_exact(span: u64, seed: u64) {
            let mut rng = Seed(seed).stream("test/scaled");
            let u = unit(&mut rng);
            let x = scaled(u, span);
            prop_assert!(span == 0 || x < span);
            // Against the f64 product, which is within 1 ulp of it.
            let f = u * span as f64;
            prop_assert!((x as f64 - f).abs() <= f * 1e-15 + 1.0);
        }
    }
}
