//! Special functions for fitting: digamma, trigamma, the regularised lower
//! incomplete gamma function and the standard normal CDF and quantile.
//!
//! Sources: the asymptotic series of ψ and ψ′ after the recurrence
//! ψ(x) = ψ(x + 1) − 1/x (Abramowitz & Stegun 6.3.18, 6.4.12); the series
//! and continued fraction of P(a, x) (Numerical Recipes, §6.2); Acklam's
//! rational approximation of Φ⁻¹ refined by one Halley step. Elementary
//! functions come from `libm`, so results do not depend on the platform.

/// ψ(x), the digamma function, for x > 0.
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    acc + libm::log(x)
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// ψ′(x), the trigamma function, for x > 0.
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    acc + 1.0 / x + f / 2.0 + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f / 30.0)))
}

/// P(a, x) = γ(a, x) / Γ(a), the regularised lower incomplete gamma
/// function (the CDF of a gamma with shape `a` and scale 1 at `x`).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_front = a * libm::log(x) - x - libm::lgamma(a);
    if x < a + 1.0 {
        // Series: Σ xⁿ / (a (a+1) … (a+n)).
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum * libm::exp(ln_front)).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - libm::exp(ln_front) * h).clamp(0.0, 1.0)
    }
}

/// Φ(z), the standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p), the standard normal quantile, for 0 < p < 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail(libm::sqrt(-2.0 * libm::log(p)))
    } else if p > 1.0 - 0.02425 {
        -tail(libm::sqrt(-2.0 * libm::log(1.0 - p)))
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step brings the 1e-9 approximation to full precision.
    let e = normal_cdf(x) - p;
    let u = e * libm::sqrt(2.0 * std::f64::consts::PI) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_and_trigamma_match_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-12);
        assert!((digamma(0.5) + euler + 2.0 * std::f64::consts::LN_2).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-12);
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-11);
        assert!((trigamma(2.0) - (pi2 / 6.0 - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn incomplete_gamma_matches_closed_forms() {
        // a = 1: 1 − e^{−x}; a = 2: 1 − (1 + x) e^{−x}.
        for x in [0.01, 0.5, 1.0, 2.0, 3.0, 10.0, 40.0] {
            assert!(
                (gamma_p(1.0, x) - (1.0 - libm::exp(-x))).abs() < 1e-13,
                "x={x}"
            );
            let two = 1.0 - (1.0 + x) * libm::exp(-x);
            assert!((gamma_p(2.0, x) - two).abs() < 1e-13, "x={x}");
        }
        assert_eq!(gamma_p(3.0, 0.0), 0.0);
    }

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        for p in [1e-10, 1e-4, 0.01, 0.2, 0.5, 0.8, 0.99, 0.999_99] {
            let z = normal_quantile(p);
            assert!((normal_cdf(z) - p).abs() < 1e-13 * p.max(1e-3), "p={p}");
        }
        assert!((normal_quantile(0.99) - 2.326_347_874_040_841).abs() < 1e-12);
    }
}
