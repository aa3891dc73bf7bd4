//! Virtual time: integer nanoseconds since the start of a run, and the
//! duration strings of scenario files (`"250us"`, `"10ms"`, `"1.5s"`, `"2m"`).
//!
//! Why integers: floating-point time drifts and compares differently after
//! harmless refactorings; `u64` nanoseconds cover 584 years exactly and make
//! `(time, seq)` event order total (docs/determinism.md).
//! Duration strings are parsed with integer arithmetic, so `"0.1s"` is exactly
//! 100,000,000 ns, never 99,999,999.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond, millisecond, second, minute, hour.
pub const NS_PER_US: u64 = 1_000;
pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_S: u64 = 1_000_000_000;
pub const NS_PER_MIN: u64 = 60 * NS_PER_S;
pub const NS_PER_H: u64 = 60 * NS_PER_MIN;

/// A point in virtual time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

/// An instant or none, in the 8 bytes of an `Instant` (`Option<Instant>`
/// takes 16): `Instant::MAX`, which no run reaches, stands for none. For
/// per-agent times a large fleet keeps by the hundred thousand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment(Instant);

impl Moment {
    pub const NONE: Moment = Moment(Instant::MAX);

    /// The instant `t` (not `Instant::MAX`, which stands for none).
    #[inline]
    pub fn at(t: Instant) -> Moment {
        debug_assert!(t != Instant::MAX, "Instant::MAX stands for none");
        Moment(t)
    }

    pub fn get(self) -> Option<Instant> {
        (self.0 != Instant::MAX).then_some(self.0)
    }

    pub fn is_some(self) -> bool {
        self.0 != Instant::MAX
    }

    /// The instant, leaving none.
    pub fn take(&mut self) -> Option<Instant> {
        std::mem::replace(self, Moment::NONE).get()
    }
}

impl From<Option<Instant>> for Moment {
    fn from(t: Option<Instant>) -> Moment {
        t.map_or(Moment::NONE, Moment::at)
    }
}

/// A span of virtual time in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);
    pub const MAX: Instant = Instant(u64::MAX);

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub const fn from_nanos(ns: u64) -> Duration {
        Duration(ns)
    }
    pub const fn from_micros(us: u64) -> Duration {
        Duration(us * NS_PER_US)
    }
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms * NS_PER_MS)
    }
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s * NS_PER_S)
    }

    /// Seconds as a float, rounded to the nearest nanosecond; negative,
    /// NaN and too-large values saturate at 0 and `u64::MAX` nanoseconds.
    pub fn from_secs_f64(s: f64) -> Duration {
        Duration(secs_to_nanos(s))
    }

    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Seconds (float) to nanoseconds, rounded, saturating.
pub fn secs_to_nanos(s: f64) -> u64 {
    saturating_nanos(s * NS_PER_S as f64)
}

/// A nanosecond count from a float: rounded, clamped to `0..=u64::MAX`
/// (NaN is 0).
///
/// Rounds half away from zero like `f64::round`, without its call into the
/// C library (x86-64 has no rounding instruction before SSE4.1): the
/// integer part comes from the truncating conversion and the fraction
/// `ns − ⌊ns⌋` is exact, so the result is the same on every platform. Below
/// 2⁶³ the conversions are the one-instruction signed ones, and the
/// half-way test adds a 0 or a 1 instead of branching (it is a coin toss
/// for random durations, so a branch would be mispredicted half the time).
#[inline]
pub fn saturating_nanos(ns: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns < TWO_63 {
        let whole = ns as i64;
        whole as u64 + u64::from(ns - whole as f64 >= 0.5)
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        // A float this large is a whole number.
        ns as u64
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at `Instant::MAX` ("never") rather than wrapping.
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Panics in debug builds if `rhs` is later: that is a broken invariant.
    fn sub(self, rhs: Instant) -> Duration {
        debug_assert!(rhs <= self, "instant {rhs:?} is after {self:?}");
        Duration(self.0 - rhs.0)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form in the largest unit that keeps it an integer
    /// or a short decimal: `250us`, `10ms`, `1.5s`, `2m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        for (unit, per) in [
            ("h", NS_PER_H),
            ("m", NS_PER_MIN),
            ("s", NS_PER_S),
            ("ms", NS_PER_MS),
            ("us", NS_PER_US),
        ] {
            if ns >= per {
                let whole = ns / per;
                let rest = ns % per;
                if rest == 0 {
                    return write!(f, "{whole}{unit}");
                }
                if unit == "s" || unit == "ms" || unit == "us" {
                    // Exact decimal: trim trailing zeros of the fraction.
                    let digits = per.ilog10() as usize;
                    let frac = format!("{rest:0digits$}");
                    return write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'));
                }
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", Duration(self.0))
    }
}

/// Why a duration string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write a number and a unit, e.g. \"250ms\"")]
    Empty,
    #[error("`{0}` has no unit; add one of ns, us, ms, s, m, h (e.g. \"{0}ms\")")]
    MissingUnit(String),
    #[error("`{input}` has unknown unit `{unit}`; use one of ns, us, ms, s, m, h")]
    UnknownUnit { input: String, unit: String },
    #[error("`{0}` is not a number followed by a unit, e.g. \"1.5s\"")]
    Malformed(String),
    #[error("`{0}` is negative; durations are zero or more")]
    Negative(String),
    #[error("`{0}` is finer than one nanosecond")]
    TooPrecise(String),
    #[error("`{0}` is too long (the limit is about 584 years)")]
    Overflow(String),
}

/// Parse a duration string: a non-negative decimal number followed by a unit
/// (`ns`, `us` or `µs`, `ms`, `s`, `m`, `h`), without spaces inside.
///
/// ```
/// use fleetsim::time::{parse_duration, Duration};
/// assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
/// assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(s.to_string()));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '+'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number = number.strip_prefix('+').unwrap_or(number).replace('_', "");
    if number.is_empty() {
        return Err(DurationError::Malformed(s.to_string()));
    }
    if unit.is_empty() {
        return Err(DurationError::MissingUnit(s.to_string()));
    }
    let per: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => NS_PER_US,
        "ms" => NS_PER_MS,
        "s" => NS_PER_S,
        "m" | "min" => NS_PER_MIN,
        "h" => NS_PER_H,
        _ => {
            return Err(DurationError::UnknownUnit {
                input: s.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    let digits_ok = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
    {
        return Err(DurationError::Malformed(s.to_string()));
    }
    let overflow = || DurationError::Overflow(s.to_string());
    let whole: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| overflow())?
    };
    let mut ns = whole.checked_mul(per).ok_or_else(overflow)?;
    // The fraction, digit by digit: each digit is worth per / 10^k exactly
    // or the input is finer than a nanosecond.
    let mut scale = per;
    for c in frac_part.chars() {
        let d = u64::from(c as u8 - b'0');
        if !scale.is_multiple_of(10) {
            // Trailing zeros beyond nanosecond precision are harmless.
            if d != 0 {
                return Err(DurationError::TooPrecise(s.to_string()));
            }
            continue;
        }
        scale /= 10;
        ns = ns.checked_add(d * scale).ok_or_else(overflow)?;
    }
    Ok(Duration(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("7ns").unwrap(), Duration(7));
        assert_eq!(parse_duration("250us").unwrap(), Duration(250_000));
        assert_eq!(parse_duration("250µs").unwrap(), Duration(250_000));
        assert_eq!(parse_duration("10ms").unwrap(), Duration(10_000_000));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration(1_500_000_000));
        assert_eq!(parse_duration("2m").unwrap(), Duration(120 * NS_PER_S));
        assert_eq!(parse_duration("1h").unwrap(), Duration(3600 * NS_PER_S));
        assert_eq!(parse_duration("0s").unwrap(), Duration(0));
        assert_eq!(parse_duration(".5s").unwrap(), Duration(500_000_000));
        assert_eq!(parse_duration("1_000ms").unwrap(), Duration(NS_PER_S));
    }

    #[test]
    fn decimal_fractions_are_exact() {
        assert_eq!(parse_duration("0.1s").unwrap(), Duration(100_000_000));
        assert_eq!(parse_duration("0.000000001s").unwrap(), Duration(1));
        assert_eq!(parse_duration("1.10ms").unwrap(), Duration(1_100_000));
        assert_eq!(parse_duration("0.5us").unwrap(), Duration(500));
        assert_eq!(parse_duration("1.0ns").unwrap(), Duration(1));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert_eq!(
            parse_duration("ten seconds"),
            Err(DurationError::Malformed("ten seconds".into()))
        );
        assert!(matches!(
            parse_duration("10 parsecs"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("10d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert_eq!(
            parse_duration("1.2.3s"),
            Err(DurationError::Malformed("1.2.3s".into()))
        );
        assert_eq!(
            parse_duration("s"),
            Err(DurationError::Malformed("s".into()))
        );
        assert_eq!(
            parse_duration("1.5ns"),
            Err(DurationError::TooPrecise("1.5ns".into()))
        );
        assert_eq!(
            parse_duration("99999999999h"),
            Err(DurationError::Overflow("99999999999h".into()))
        );
        // Messages say how to fix it.
        let msg = parse_duration("10").unwrap_err().to_string();
        assert!(msg.contains("10ms"), "{msg}");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "250us",
            "10ms",
            "1.5s",
            "2m",
            "1h",
            "7ns",
            "0s",
            "1.000001s",
        ] {
            let d = parse_duration(s).unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d);
        }
    }

    #[test]
    fn instant_arithmetic_saturates() {
        assert_eq!(Instant::MAX + Duration(5), Instant::MAX);
        assert_eq!(Instant(10) - Instant(4), Duration(6));
        assert_eq!(Instant(3).saturating_since(Instant(9)), Duration::ZERO);
        assert_eq!(Duration::from_secs_f64(-1.0), Duration::ZERO);
        assert_eq!(Duration::from_secs_f64(0.25), Duration(250_000_000));
    }

    /// The branch-free rounding agrees with `f64::round` (half away from
    /// zero) everywhere, and saturates at both ends.
    #[test]
    fn saturating_nanos_rounds_like_round_and_saturates() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut cases = vec![
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            1e15 + 0.5,
            4_503_599_627_370_495.5,
            9_223_372_036_854_774_784.0,
            9_223_372_036_854_775_808.0,
            1.8e19,
        ];
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            cases.push(mantissa * 2f64.powi((state % 64) as i32));
        }
        for ns in cases {
            assert_eq!(saturating_nanos(ns), ns.round() as u64, "{ns:e}");
        }
        for ns in [f64::NAN, -0.0, -1.0, f64::NEG_INFINITY] {
            assert_eq!(saturating_nanos(ns), 0, "{ns}");
        }
        for ns in [u64::MAX as f64, 1e30, f64::INFINITY] {
            assert_eq!(saturating_nanos(ns), u64::MAX, "{ns}");
        }
    }
}
