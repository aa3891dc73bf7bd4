//! Special functions for fitting: digamma, trigamma and the standard
//! normal CDF. The incomplete gamma function and the normal quantile are
//! the samplers' own (`rng::gamma::gamma_pq`, `rng::normal_quantile`), so
//! a fitted family's CDF is the one the simulator samples from.
//!
//! Sources: the asymptotic series of ψ and ψ′ after the recurrence
//! ψ(x) = ψ(x + 1) − 1/x (Abramowitz & Stegun 6.3.18, 6.4.12). Elementary
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

/// Φ(z), the standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::normal_quantile;

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

    /// The shared incomplete gamma, as the fits use it.
    fn gamma_p(a: f64, x: f64) -> f64 {
        crate::rng::gamma::gamma_pq(a, x).0
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
