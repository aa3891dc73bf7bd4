//! The families `fleetsim fit` knows: each with its CDF, log-density,
//! quantile and maximum-likelihood estimate from a sample.
//!
//! The estimators are the textbook MLEs: the sample mean (exponential), the
//! mean and standard deviation of ln x with divisor n (lognormal); for the
//! gamma, Newton on ln k − ψ(k) = ln x̄ − mean(ln x) from the Minka/Thom
//! starting point; for the Weibull, Newton on the profile equation
//! Σ xᵏ ln x / Σ xᵏ − 1/k − mean(ln x) = 0, then λ = (Σ xᵏ / n)^{1/k}; for
//! the Pareto, min = the sample minimum and α = n / Σ ln(x / min).

use super::special::{digamma, normal_cdf, trigamma};
use crate::rng::gamma::gamma_pq;
use crate::rng::normal_quantile;

/// z such that Φ(z) = 0.99: a lognormal's p99 is median · e^{z σ}.
pub const Z99: f64 = 2.326_347_874_040_841;

/// A fitted distribution (values in seconds).
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// Every value is `value` (the sample mean).
    Constant {
        value: f64,
    },
    Exponential {
        mean: f64,
    },
    /// ln x ~ Normal(mu, sigma).
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
    },
    Weibull {
        shape: f64,
        scale: f64,
    },
    Pareto {
        alpha: f64,
        min: f64,
    },
    /// The sample itself, sorted.
    Empirical {
        sorted: Vec<f64>,
    },
}

/// Why a family could not be fitted to a sample.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("needs at least {0} values")]
    TooFew(usize),
    #[error("needs every value above zero")]
    NotPositive,
    #[error("needs values that are not all equal")]
    AllEqual,
    #[error("the estimate did not converge")]
    NoConvergence,
}

/// The names of the families, in the order `fit` tries them.
pub const NAMES: [&str; 7] = [
    "constant",
    "exponential",
    "lognormal",
    "gamma",
    "weibull",
    "pareto",
    "empirical",
];

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn positive(xs: &[f64]) -> Result<(), FitError> {
    if xs.len() < 2 {
        return Err(FitError::TooFew(2));
    }
    if xs.iter().any(|&x| x <= 0.0) {
        return Err(FitError::NotPositive);
    }
    Ok(())
}

fn varied(xs: &[f64]) -> Result<(), FitError> {
    if xs.iter().all(|&x| x == xs[0]) {
        return Err(FitError::AllEqual);
    }
    Ok(())
}

impl Family {
    /// The maximum-likelihood fit of the family called `name` (one of
    /// [`NAMES`]) to `xs` (seconds, in any order, not empty).
    pub fn fit(name: &str, xs: &[f64]) -> Result<Family, FitError> {
        if xs.is_empty() {
            return Err(FitError::TooFew(1));
        }
        match name {
            "constant" => Ok(Family::Constant { value: mean(xs) }),
            "exponential" => {
                let m = mean(xs);
                if m <= 0.0 {
                    return Err(FitError::NotPositive);
                }
                Ok(Family::Exponential { mean: m })
            }
            "lognormal" => {
                positive(xs)?;
                varied(xs)?;
                let mu = xs.iter().map(|&x| libm::log(x)).sum::<f64>() / xs.len() as f64;
                let var =
                    xs.iter().map(|&x| (libm::log(x) - mu).powi(2)).sum::<f64>() / xs.len() as f64;
                Ok(Family::Lognormal {
                    mu,
                    sigma: libm::sqrt(var),
                })
            }
            "gamma" => {
                positive(xs)?;
                varied(xs)?;
                let m = mean(xs);
                let s =
                    libm::log(m) - xs.iter().map(|&x| libm::log(x)).sum::<f64>() / xs.len() as f64;
                // Thom's approximation, then Newton on ln k − ψ(k) − s = 0
                // (decreasing and convex in k, so Newton from below is safe).
                let mut k = (3.0 - s + libm::sqrt((s - 3.0).powi(2) + 24.0 * s)) / (12.0 * s);
                for _ in 0..100 {
                    let f = libm::log(k) - digamma(k) - s;
                    let df = 1.0 / k - trigamma(k);
                    let next = k - f / df;
                    let next = if next <= 0.0 { k / 2.0 } else { next };
                    let done = (next - k).abs() <= 1e-12 * k;
                    k = next;
                    if done {
                        return Ok(Family::Gamma {
                            shape: k,
                            scale: m / k,
                        });
                    }
                }
                Err(FitError::NoConvergence)
            }
            "weibull" => {
                positive(xs)?;
                varied(xs)?;
                // Scale by the maximum so that xᵏ never overflows.
                let top = xs.iter().copied().fold(0.0, f64::max);
                let ln: Vec<f64> = xs.iter().map(|&x| libm::log(x / top)).collect();
                let n = xs.len() as f64;
                let mean_ln = ln.iter().sum::<f64>() / n;
                let sd_ln = libm::sqrt(ln.iter().map(|l| (l - mean_ln).powi(2)).sum::<f64>() / n);
                let mut k = 1.2825 / sd_ln; // π/√6 over the sd of ln x
                for _ in 0..200 {
                    let (mut s0, mut s1, mut s2) = (0.0, 0.0, 0.0);
                    for &l in &ln {
                        let w = libm::exp(k * l);
                        s0 += w;
                        s1 += w * l;
                        s2 += w * l * l;
                    }
                    let g = s1 / s0 - 1.0 / k - mean_ln;
                    let dg = (s2 * s0 - s1 * s1) / (s0 * s0) + 1.0 / (k * k);
                    let next = k - g / dg;
                    let next = if next <= 0.0 { k / 2.0 } else { next };
                    let done = (next - k).abs() <= 1e-12 * k;
                    k = next;
                    if done {
                        let s0: f64 = ln.iter().map(|&l| libm::exp(k * l)).sum();
                        let scale = top * libm::pow(s0 / n, 1.0 / k);
                        return Ok(Family::Weibull { shape: k, scale });
                    }
                }
                Err(FitError::NoConvergence)
            }
            "pareto" => {
                positive(xs)?;
                varied(xs)?;
                let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let sum: f64 = xs.iter().map(|&x| libm::log(x / min)).sum();
                Ok(Family::Pareto {
                    alpha: xs.len() as f64 / sum,
                    min,
                })
            }
            "empirical" => {
                let mut sorted = xs.to_vec();
                sorted.sort_by(f64::total_cmp);
                Ok(Family::Empirical { sorted })
            }
            other => panic!("unknown family {other:?}; the families are {NAMES:?}"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Family::Constant { .. } => "constant",
            Family::Exponential { .. } => "exponential",
            Family::Lognormal { .. } => "lognormal",
            Family::Gamma { .. } => "gamma",
            Family::Weibull { .. } => "weibull",
            Family::Pareto { .. } => "pareto",
            Family::Empirical { .. } => "empirical",
        }
    }

    /// Free parameters (for AIC); `None` for the families without a density
    /// (constant, empirical), which get no likelihood.
    pub fn parameters(&self) -> Option<usize> {
        match self {
            Family::Constant { .. } | Family::Empirical { .. } => None,
            Family::Exponential { .. } => Some(1),
            _ => Some(2),
        }
    }

    /// P(X ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Family::Constant { value } => f64::from(u8::from(x >= value)),
            Family::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -libm::expm1(-x / mean)
                }
            }
            Family::Lognormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    normal_cdf((libm::log(x) - mu) / sigma)
                }
            }
            Family::Gamma { shape, scale } => gamma_pq(shape, x / scale).0,
            Family::Weibull { shape, scale } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -libm::expm1(-libm::pow(x / scale, shape))
                }
            }
            Family::Pareto { alpha, min } => {
                if x < min {
                    0.0
                } else {
                    1.0 - libm::pow(min / x, alpha)
                }
            }
            Family::Empirical { ref sorted } => {
                sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64
            }
        }
    }

    /// ln f(x), the log-density (`None` for constant and empirical).
    pub fn ln_pdf(&self, x: f64) -> Option<f64> {
        let ln = libm::log;
        Some(match *self {
            Family::Constant { .. } | Family::Empirical { .. } => return None,
            _ if x <= 0.0 => f64::NEG_INFINITY,
            Family::Exponential { mean } => -ln(mean) - x / mean,
            Family::Lognormal { mu, sigma } => {
                let z = (ln(x) - mu) / sigma;
                -ln(x) - ln(sigma) - 0.5 * ln(2.0 * std::f64::consts::PI) - z * z / 2.0
            }
            Family::Gamma { shape, scale } => {
                (shape - 1.0) * ln(x) - x / scale - libm::lgamma(shape) - shape * ln(scale)
            }
            Family::Weibull { shape, scale } => {
                ln(shape / scale) + (shape - 1.0) * ln(x / scale) - libm::pow(x / scale, shape)
            }
            Family::Pareto { alpha, min } => {
                if x < min {
                    f64::NEG_INFINITY
                } else {
                    ln(alpha) + alpha * ln(min) - (alpha + 1.0) * ln(x)
                }
            }
        })
    }

    /// The smallest x with P(X ≤ x) ≥ p, for 0 < p < 1.
    pub fn quantile(&self, p: f64) -> f64 {
        match *self {
            Family::Constant { value } => value,
            Family::Exponential { mean } => -mean * libm::log1p(-p),
            Family::Lognormal { mu, sigma } => libm::exp(mu + sigma * normal_quantile(p)),
            Family::Gamma { .. } => {
                // Bisection on the CDF: bracket, then halve to 1e-12.
                let mut hi = 1.0_f64;
                while self.cdf(hi) < p {
                    hi *= 2.0;
                }
                let mut lo = 0.0;
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if self.cdf(mid) < p {
                        lo = mid
                    } else {
                        hi = mid
                    }
                    if hi - lo <= 1e-12 * hi {
                        break;
                    }
                }
                0.5 * (lo + hi)
            }
            Family::Weibull { shape, scale } => scale * libm::pow(-libm::log1p(-p), 1.0 / shape),
            Family::Pareto { alpha, min } => min * libm::pow(1.0 - p, -1.0 / alpha),
            Family::Empirical { ref sorted } => {
                let i = (p * sorted.len() as f64).ceil() as usize;
                sorted[i.clamp(1, sorted.len()) - 1]
            }
        }
    }

    /// The mean, where it is finite.
    pub fn mean(&self) -> f64 {
        match *self {
            Family::Constant { value } => value,
            Family::Exponential { mean } => mean,
            Family::Lognormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Family::Gamma { shape, scale } => shape * scale,
            Family::Weibull { shape, scale } => scale * libm::tgamma(1.0 + 1.0 / shape),
            Family::Pareto { alpha, min } => {
                if alpha > 1.0 {
                    alpha * min / (alpha - 1.0)
                } else {
                    f64::INFINITY
                }
            }
            Family::Empirical { ref sorted } => mean(sorted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FITTED: [Family; 6] = [
        Family::Exponential { mean: 0.04 },
        Family::Lognormal {
            mu: -3.0,
            sigma: 0.7,
        },
        Family::Gamma {
            shape: 2.5,
            scale: 0.02,
        },
        Family::Gamma {
            shape: 0.6,
            scale: 0.1,
        },
        Family::Weibull {
            shape: 1.5,
            scale: 0.05,
        },
        Family::Pareto {
            alpha: 2.5,
            min: 0.01,
        },
    ];

    #[test]
    fn quantile_inverts_cdf() {
        for f in &FITTED {
            for p in [0.001, 0.1, 0.5, 0.9, 0.999] {
                let x = f.quantile(p);
                assert!((f.cdf(x) - p).abs() < 1e-9, "{f:?} p={p} x={x}");
            }
        }
    }

    #[test]
    fn densities_integrate_to_the_cdf() {
        // Trapezoid rule of e^{ln f} from q(0.05) to q(0.95): 0.9 within 1e-4.
        for f in &FITTED {
            let (a, b) = (f.quantile(0.05), f.quantile(0.95));
            let n = 20_000;
            let h = (b - a) / n as f64;
            let pdf = |x: f64| libm::exp(f.ln_pdf(x).unwrap());
            let area: f64 = (0..n)
                .map(|i| 0.5 * h * (pdf(a + i as f64 * h) + pdf(a + (i + 1) as f64 * h)))
                .sum();
            assert!((area - 0.9).abs() < 1e-4, "{f:?}: {area}");
        }
    }

    #[test]
    fn degenerate_samples_are_refused_not_fitted() {
        assert_eq!(
            Family::fit("gamma", &[1.0, 1.0, 1.0]),
            Err(FitError::AllEqual)
        );
        assert_eq!(
            Family::fit("pareto", &[0.0, 1.0]),
            Err(FitError::NotPositive)
        );
        assert_eq!(Family::fit("weibull", &[1.0]), Err(FitError::TooFew(2)));
        assert_eq!(
            Family::fit("constant", &[2.0, 4.0]),
            Ok(Family::Constant { value: 3.0 })
        );
    }

    #[test]
    fn empirical_quantile_and_cdf_agree() {
        let f = Family::fit("empirical", &[3.0, 1.0, 2.0, 4.0]).unwrap();
        assert_eq!(f.quantile(0.5), 2.0);
        assert_eq!(f.quantile(0.51), 3.0);
        assert_eq!(f.cdf(2.0), 0.5);
        assert_eq!(f.cdf(0.5), 0.0);
    }
}
