//! Statistics over replications and within a run: the mean of a sample
//! and the half-width of its 95% confidence interval, exact Student t
//! quantiles, batch means ([`batch`]) and warm-up detection ([`mser`]).
//!
//! Why here, below reports and the harness: the terminal tables, the HTML
//! report, comparisons and sweeps all summarise replications the same way,
//! so they share one definition. The interval is the usual Student t
//! interval of a mean, `t(0.975, n − 1) · s / √n` (Law, *Simulation
//! Modeling and Analysis*, 5th ed., §4.5, "confidence interval for the
//! mean").
//!
//! The t quantile is exact for every df: the t CDF is written through the
//! regularized incomplete beta function,
//! `P(T > t) = ½ · I_{ν/(ν+t²)}(ν/2, ½)` (Abramowitz & Stegun 26.7.1,
//! 26.5.27), `I` is evaluated by its continued fraction with the modified
//! Lentz method (A&S 26.5.8; Press et al., *Numerical Recipes*, §6.4), and
//! the quantile is found by bisection on `x = ν/(ν+t²)` in (0, 1), where
//! `I_x` is monotone, to the last bit. Own code rather than `statrs`: the
//! function is forty lines, `statrs` would bring `nalgebra` and its own
//! `rand` into the dependency tree for it, and with `libm` for `lgamma`,
//! `exp` and `ln` the quantile is the same on every platform, like every
//! other float the simulator writes. The tests check it against a
//! published table to 4 significant digits and to 1e-9 against values
//! computed with 30-digit arithmetic (mpmath).

pub mod batch;
pub mod mser;
pub mod target;

use crate::rng::gamma::lentz_step;

/// Two-sided 95% Student t quantile for `df` degrees of freedom:
/// `t(0.975, df)`, exact (`NaN` for df 0).
pub fn t95(df: u32) -> f64 {
    t_quantile(0.975, df)
}

/// The `p` quantile of Student's t with `df` degrees of freedom, for
/// `p` in (0, 1) (`NaN` for df 0 or `p` outside).
pub fn t_quantile(p: f64, df: u32) -> f64 {
    if df == 0 || !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    // Upper tail α = 1 − p = ½ · I_x(ν/2, ½) with x = ν/(ν + t²): I_x
    // rises with x, so bisect x for I_x = 2α.
    let (a, b) = (f64::from(df) / 2.0, 0.5);
    let target = 2.0 * (1.0 - p);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_inc(a, b, mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let x = 0.5 * (lo + hi);
    libm::sqrt(f64::from(df) * (1.0 - x) / x)
}

/// The regularized incomplete beta function `I_x(a, b)` for `a, b > 0`
/// and `x` in [0, 1] (A&S 26.5.8 continued fraction, modified Lentz; the
/// symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where the fraction converges
/// slowly).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b)
        + a * libm::log(x)
        + b * libm::log1p(-x);
    let front = libm::exp(ln_front);
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of `I_x(a, b)` (Numerical Recipes' `betacf`).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        h *= lentz_step(&mut c, &mut d, aa, 1.0, TINY);
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        let del = lentz_step(&mut c, &mut d, aa, 1.0, TINY);
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Mean and the half-width of its 95% confidence interval (`NaN` for the
/// half-width of one value, and for both of none).
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t95(n as u32 - 1) * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_a_known_sample() {
        // Sample 1..=5: mean 3, sd sqrt(2.5), t(4) = 2.776445.
        let (m, h) = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m, 3.0);
        assert!((h - 2.776445 * (2.5f64 / 5.0).sqrt()).abs() < 1e-6);
        assert!(mean_ci(&[1.0]).1.is_nan());
        assert!(mean_ci(&[]).0.is_nan());
    }

    /// Rounded to `digits` significant digits.
    fn sig(x: f64, digits: i32) -> f64 {
        let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
        (x * scale).round() / scale
    }

    #[test]
    fn t_quantiles_match_a_published_table() {
        // The 0.975 column of the t table of the NIST/SEMATECH
        // e-Handbook of Statistical Methods, §1.3.6.7.2 (every df to 100),
        // and the df 120 row of the classical tables (Fisher & Yates);
        // df 1000 is the 30-digit value below rounded to 4 digits.
        let table = [
            (1, 12.71),
            (2, 4.303),
            (5, 2.571),
            (10, 2.228),
            (30, 2.042),
            (31, 2.040),
            (45, 2.014),
            (60, 2.000),
            (61, 2.000),
            (120, 1.980),
            (1000, 1.962),
        ];
        for (df, want) in table {
            assert_eq!(sig(t95(df), 4), want, "t95({df}) = {}", t95(df));
        }
        // Computed with mpmath at 30 digits (findroot on 1 − ½·betainc).
        let exact = [
            (1, 12.70620474),
            (2, 4.30265273),
            (5, 2.570581836),
            (10, 2.228138852),
            (30, 2.042272456),
            (31, 2.039513446),
            (45, 2.014103389),
            (60, 2.000297822),
            (61, 1.999623585),
            (120, 1.979930405),
            (1000, 1.962339081),
        ];
        for (df, want) in exact {
            let got = t95(df);
            assert!((got - want).abs() < 1e-8, "t95({df}) = {got}, want {want}");
        }
    }

    #[test]
    fn t_quantiles_fall_towards_the_normal_one() {
        assert!(t95(0).is_nan());
        for df in 1..2000 {
            assert!(t95(df + 1) < t95(df), "t95({}) >= t95({df})", df + 1);
        }
        assert!((t95(1_000_000) - 1.959964).abs() < 1e-5);
        // Other levels: the Cauchy (df 1) quantile is tan(π(p − ½)).
        for p in [0.6f64, 0.9, 0.99, 0.999] {
            let want = (std::f64::consts::PI * (p - 0.5)).tan();
            assert!((t_quantile(p, 1) - want).abs() < 1e-9 * want);
            assert_eq!(t_quantile(1.0 - p, 1), -t_quantile(p, 1));
        }
        // df 2 has a closed form: t = (2p − 1)·sqrt(2 / (4p(1 − p))).
        for p in [0.75f64, 0.95, 0.995] {
            let want = (2.0 * p - 1.0) * (2.0 / (4.0 * p * (1.0 - p))).sqrt();
            assert!((t_quantile(p, 2) - want).abs() < 1e-9 * want);
        }
    }

    #[test]
    fn incomplete_beta_closed_forms() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b.
        for x in [0.01, 0.3, 0.5, 0.9] {
            assert!((beta_inc(1.0, 1.0, x) - x).abs() < 1e-14);
            assert!((beta_inc(3.5, 1.0, x) - x.powf(3.5)).abs() < 1e-14);
            assert!((beta_inc(1.0, 2.5, x) - (1.0 - (1.0 - x).powf(2.5))).abs() < 1e-14);
        }
    }
}
