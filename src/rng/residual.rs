//! [`Dist::residual`]: how much is left of a period in progress at a random
//! instant, for processes that start in their long-run state.
//!
//! An agent that alternates between up and down periods and is seen at an
//! arbitrary instant is more likely to be inside a long period than a short
//! one: the period it is in is *length-biased* (density `x f(x) / E[X]`),
//! and the instant falls uniformly inside it. So the time left is `U · L`
//! with `U` uniform and `L` length-biased, the stationary excess
//! distribution, of mean `E[X²] / (2 E[X])`. Drawing a fresh period instead
//! would start every agent as if it had just failed, which is right only
//! for the exponential (memoryless) distribution.
//!
//! The length-biased version of each family, in closed form:
//! - constant `c`: `c`;
//! - uniform on `[a, b]`: density ∝ `x`, so `L = √(a² + q (b² − a²))`;
//! - exponential: memoryless, so the residual is a fresh draw;
//! - lognormal `(μ, σ)`: lognormal `(μ + σ², σ)`;
//! - gamma with shape `k` and mean `m`: gamma with shape `k + 1`, same scale;
//! - Weibull `(k, λ)`: `λ · Y^(1/k)` with `Y` gamma of shape `1 + 1/k`;
//! - Pareto `(α, L)`: Pareto `(α − 1, L)`; bounded at `H`, density ∝
//!   `x^(−α)` on `[L, H]`, inverted in closed form (log-uniform at `α = 1`);
//! - hyperexponential: phase `i` with probability ∝ `pᵢ mᵢ`, then gamma of
//!   shape 2 and scale `mᵢ`;
//! - empirical: value `xⱼ` with probability ∝ `wⱼ xⱼ`.

use rand::Rng;

use super::{Dist, gamma, unit};
use crate::time::{Duration, saturating_nanos};

impl Dist {
    /// The time left of a period drawn from this distribution that is in
    /// progress at a random instant (see the module docs). Exponential
    /// periods draw one number, exactly as [`Dist::sample`] does.
    pub fn residual(&self, rng: &mut impl Rng) -> Duration {
        if let Dist::Exponential { .. } = self {
            return self.sample(rng);
        }
        let l = self.length_biased(rng);
        Duration(saturating_nanos(unit(rng) * l))
    }

    /// One draw of the length-biased distribution, in nanoseconds.
    fn length_biased(&self, rng: &mut impl Rng) -> f64 {
        let q = unit(rng);
        match self {
            Dist::Constant(d) => d.as_nanos() as f64,
            Dist::Uniform { min, max } => {
                let (a, b) = (min.as_nanos() as f64, max.as_nanos() as f64);
                (a * a + q * (b * b - a * a)).sqrt()
            }
            Dist::Exponential { mean } => {
                // Gamma of shape 2 (unused: `residual` draws it directly).
                mean.as_nanos() as f64 * gamma::gamma_p_inv(2.0, q)
            }
            Dist::LogNormal { mu, sigma } => Dist::LogNormal {
                mu: mu + sigma * sigma,
                sigma: *sigma,
            }
            .quantile(q)
            .as_nanos() as f64,
            Dist::Gamma { shape, mean } => {
                let scale = mean.as_nanos() as f64 / shape;
                scale * gamma::gamma_p_inv(shape + 1.0, q)
            }
            Dist::Weibull { shape, scale } => {
                let y = gamma::gamma_p_inv(1.0 + 1.0 / shape, q);
                scale.as_nanos() as f64 * libm::pow(y, 1.0 / shape)
            }
            Dist::Pareto { alpha, min, max } => {
                let lo = min.as_nanos() as f64;
                match max {
                    // Validation requires alpha > 1 without a max.
                    None => lo * libm::pow(1.0 - q, -1.0 / (alpha - 1.0)),
                    Some(h) => {
                        let hi = h.as_nanos() as f64;
                        let beta = 1.0 - alpha;
                        if beta.abs() < 1e-12 {
                            lo * libm::pow(hi / lo, q)
                        } else {
                            let (a, b) = (libm::pow(lo, beta), libm::pow(hi, beta));
                            libm::pow(a + q * (b - a), 1.0 / beta).clamp(lo, hi)
                        }
                    }
                }
            }
            Dist::HyperExponential(phases) => {
                let total: f64 = phases
                    .iter()
                    .map(|p| p.prob * p.mean.as_nanos() as f64)
                    .sum();
                let mut x = q * total;
                let mut pick = phases.len() - 1;
                for (i, p) in phases.iter().enumerate() {
                    let w = p.prob * p.mean.as_nanos() as f64;
                    if x < w {
                        pick = i;
                        break;
                    }
                    x -= w;
                }
                let m = phases[pick].mean.as_nanos() as f64;
                m * gamma::gamma_p_inv(2.0, unit(rng))
            }
            Dist::Empirical(e) => {
                // Weights ∝ w_j x_j, walked in the sample's (sorted) order.
                let values = e.values();
                let weight = |j: usize| e.weight(j) * values[j].as_nanos() as f64;
                let total: f64 = (0..values.len()).map(weight).sum();
                if total <= 0.0 {
                    return 0.0;
                }
                let mut x = q * total;
                for (j, v) in values.iter().enumerate() {
                    let w = weight(j);
                    if x < w {
                        return v.as_nanos() as f64;
                    }
                    x -= w;
                }
                values[values.len() - 1].as_nanos() as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Empirical, Phase, Seed};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The mean residual `E[X²] / (2 E[X])` against a large sample of
    /// residuals. The residual `R = U·L` has `E[R²] = E[X³] / (3 E[X])`;
    /// rather than derive that per family, the tolerance is 5 standard
    /// errors of the sample itself (its own standard deviation / √n).
    fn check(d: &Dist, second_moment: f64, name: &str) {
        let mut rng = Seed(11).stream(&format!("residual/{name}"));
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let r = d.residual(&mut rng).as_nanos() as f64;
            s += r;
            s2 += r * r;
        }
        let mean = s / n as f64;
        let sd = (s2 / n as f64 - mean * mean).sqrt();
        let want = second_moment / (2.0 * d.mean_nanos());
        let se = sd / (n as f64).sqrt();
        assert!(
            (mean - want).abs() < 5.0 * se,
            "{name}: mean residual {mean} vs E[X²]/2E[X] = {want} (se {se})"
        );
    }

    #[test]
    fn mean_residual_of_each_family() {
        let m = 100e6;
        check(&Dist::Constant(ms(100)), m * m, "constant");
        let (a, b) = (20e6, 180e6);
        check(
            &Dist::Uniform {
                min: ms(20),
                max: ms(180),
            },
            (a * a + a * b + b * b) / 3.0,
            "uniform",
        );
        check(
            &Dist::Exponential { mean: ms(100) },
            2.0 * m * m,
            "exponential",
        );
        let l = Dist::lognormal(ms(50), ms(400));
        let Dist::LogNormal { mu, sigma } = l else {
            unreachable!()
        };
        check(&l, libm::exp(2.0 * mu + 2.0 * sigma * sigma), "lognormal");
        let k = 2.5;
        check(
            &Dist::Gamma {
                shape: k,
                mean: ms(100),
            },
            m * m * (1.0 + 1.0 / k),
            "gamma",
        );
        let (wk, lam) = (0.7, 80e6);
        check(
            &Dist::Weibull {
                shape: wk,
                scale: ms(80),
            },
            lam * lam * libm::tgamma(1.0 + 2.0 / wk),
            "weibull",
        );
        // Pareto alpha = 3.5: E[X²] = α L² / (α − 2) (finite third moment
        // too, so the sample sd is meaningful).
        let (al, lo) = (3.5, 10e6);
        check(
            &Dist::Pareto {
                alpha: al,
                min: ms(10),
                max: None,
            },
            al * lo * lo / (al - 2.0),
            "pareto",
        );
        // Bounded Pareto, α = 1.2 on [10ms, 1s]: E[X²] = c ∫ x^(1−α) dx with
        // c = α L^α / (1 − (L/H)^α).
        let (al, lo, hi) = (1.2, 10e6, 1e9);
        let c = al * libm::pow(lo, al) / (1.0 - libm::pow(lo / hi, al));
        let e2 = c * (libm::pow(hi, 2.0 - al) - libm::pow(lo, 2.0 - al)) / (2.0 - al);
        check(
            &Dist::Pareto {
                alpha: al,
                min: ms(10),
                max: Some(Duration::from_secs(1)),
            },
            e2,
            "bounded-pareto",
        );
        let phases = [
            Phase {
                prob: 0.9,
                mean: ms(10),
            },
            Phase {
                prob: 0.1,
                mean: ms(500),
            },
        ];
        let e2: f64 = phases
            .iter()
            .map(|p| 2.0 * p.prob * (p.mean.as_nanos() as f64).powi(2))
            .sum();
        check(
            &Dist::HyperExponential(phases.to_vec().into()),
            e2,
            "hyperexponential",
        );
        let values = [ms(5), ms(20), ms(20), ms(300)];
        let weights = [1.0, 2.0, 1.0, 0.5];
        let e = Empirical::new(&values, Some(&weights)).unwrap();
        let tw: f64 = weights.iter().sum();
        let e2: f64 = values
            .iter()
            .zip(weights)
            .map(|(v, w)| w * (v.as_nanos() as f64).powi(2))
            .sum::<f64>()
            / tw;
        check(&Dist::Empirical(e.into()), e2, "empirical");
    }

    #[test]
    fn bounded_pareto_at_alpha_one_is_log_uniform() {
        // α = 1 on [1ms, 1s]: length-biased density ∝ 1/x, so ln L is
        // uniform: its median is √(1ms · 1s) ≈ 31.6 ms. With 100,000 draws
        // the sample median's sd is about 0.5 % of the range in log terms.
        let d = Dist::Pareto {
            alpha: 1.0,
            min: ms(1),
            max: Some(Duration::from_secs(1)),
        };
        let mut rng = Seed(5).stream("residual/log-uniform");
        let mut v: Vec<f64> = (0..100_000).map(|_| d.length_biased(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let med = v[v.len() / 2];
        let want = (1e6f64 * 1e9).sqrt();
        assert!(
            (libm::log(med / want)).abs() < 0.02 * libm::log(1000.0),
            "median {med} vs {want}"
        );
    }

    #[test]
    fn exponential_residual_is_one_fresh_draw() {
        let d = Dist::Exponential { mean: ms(7) };
        let mut a = Seed(9).stream("x");
        let mut b = Seed(9).stream("x");
        for _ in 0..100 {
            assert_eq!(d.residual(&mut a), d.sample(&mut b));
        }
    }
}
