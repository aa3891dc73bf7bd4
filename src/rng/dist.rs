//! [`Dist`]: the distributions of durations a scenario names (service
//! times, network latency, routing and broker times, async finish times),
//! each sampled by its quantile function.
//!
//! Why by quantile: a task draws one uniform number once, and its size on
//! every tier is that quantile of the tier's distribution (common random
//! numbers), so comparing two fleets compares them on the same tasks. Every
//! distribution therefore has an exact quantile function, or one inverted
//! numerically with a bounded, deterministic iteration that uses only
//! `libm` and IEEE arithmetic (the same bits on every machine).
//!
//! The distributions and where their quantiles come from:
//! - constant, uniform, exponential (`-mean · ln(1 - q)`), lognormal
//!   (`exp(mu + sigma · z(q))`, Acklam's normal quantile);
//! - gamma and Erlang (integer shape): the inverse of the regularized lower
//!   incomplete gamma function, [`super::gamma`];
//! - Weibull: `scale · (-ln(1 - q))^(1/shape)`;
//! - Pareto with minimum `L`, optionally truncated at `H`:
//!   `L · (1 - q (1 - (L/H)^α))^(-1/α)` (with no `H`, `L · (1 - q)^(-1/α)`);
//! - hyperexponential (a mixture of exponentials): the mixture's survival
//!   function `S(x) = Σ pᵢ e^(-x/mᵢ)` inverted by Newton's method on
//!   `ln S(x) = ln(1 - q)`. `ln S` is a log-sum-exp of affine functions,
//!   hence convex and decreasing, so Newton started at the lower bound
//!   `m_min · (-ln(1 - q))` climbs monotonically to the root without
//!   overshooting; it stops when a step is below 1e-14 relative, at most 100
//!   steps (the count depends only on `q` and the parameters);
//! - empirical: the inverse of the sample's (weighted) empirical CDF, a
//!   step function: see [`Empirical`].

use std::sync::Arc;

use rand::Rng;

use super::{gamma, normal_quantile, unit};
use crate::time::{Duration, saturating_nanos};

/// A distribution of durations, sampled by quantile so that one uniform draw
/// per task gives that task's size on every tier (common random numbers).
/// Cheap to clone: the variants with many parameters hold an [`Arc`].
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Constant(Duration),
    Uniform {
        min: Duration,
        max: Duration,
    },
    Exponential {
        mean: Duration,
    },
    /// `ln X ~ N(mu, sigma²)`, with `mu = ln(median)` in nanoseconds.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// Gamma with shape `shape` and scale `mean / shape` (Erlang-k is
    /// `shape = k`). Variance `mean² / shape`.
    Gamma {
        shape: f64,
        mean: Duration,
    },
    /// `P(X > x) = exp(-(x/scale)^shape)`.
    Weibull {
        shape: f64,
        scale: Duration,
    },
    /// `P(X > x) = (min/x)^alpha` for `x ≥ min`; truncated to `[min, max]`
    /// (renormalized) when `max` is given.
    Pareto {
        alpha: f64,
        min: Duration,
        max: Option<Duration>,
    },
    /// With probability `probs[i]`, an exponential of mean `means[i]`.
    HyperExponential(Arc<[Phase]>),
    /// The sample's own distribution: see [`Empirical`].
    Empirical(Arc<Empirical>),
}

/// One branch of a hyperexponential.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    pub prob: f64,
    pub mean: Duration,
}

/// A sample of durations (sorted) with optional weights, sampled by the
/// inverse of its empirical CDF.
///
/// Step, not linear interpolation: `quantile(q)` is always one of the
/// sample's values (the smallest whose cumulative weight exceeds
/// `q · total`). So the draws have exactly the sample's mean and variance
/// (the load `λ · E[S]` and the `E[S²]` of Pollaczek–Khinchine are the
/// data's), atoms in the data (a cache hit that always takes 1 ms) stay
/// atoms, and weights mean what they say. Linear interpolation between
/// order statistics would smooth a small sample but shift its mean and
/// shrink its variance, and invent values never observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Empirical {
    /// Ascending.
    values: Box<[Duration]>,
    /// Cumulative weights in the order of `values`; `None`: equal weights.
    cumulative: Option<Box<[f64]>>,
}

impl Empirical {
    /// `None` if there are no values, if `weights` is given with another
    /// length, or if a weight is negative or not finite or none is
    /// positive.
    pub fn new(values: &[Duration], weights: Option<&[f64]>) -> Option<Empirical> {
        if values.is_empty() {
            return None;
        }
        let Some(weights) = weights else {
            let mut v = values.to_vec();
            v.sort_unstable();
            return Some(Empirical {
                values: v.into(),
                cumulative: None,
            });
        };
        if weights.len() != values.len()
            || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
            || !weights.iter().any(|w| *w > 0.0)
        {
            return None;
        }
        let mut pairs: Vec<(Duration, f64)> = values
            .iter()
            .copied()
            .zip(weights.iter().copied())
            .collect();
        // Stable: equal values keep their order, so the sums are the same
        // on every run.
        pairs.sort_by_key(|p| p.0);
        let mut total = 0.0;
        let cumulative = pairs
            .iter()
            .map(|p| {
                total += p.1;
                total
            })
            .collect();
        Some(Empirical {
            values: pairs.iter().map(|p| p.0).collect(),
            cumulative: Some(cumulative),
        })
    }

    /// The sample, ascending.
    pub fn values(&self) -> &[Duration] {
        &self.values
    }

    /// The weight of the `j`-th value in ascending order (1 when the
    /// sample is unweighted).
    pub fn weight(&self, j: usize) -> f64 {
        match &self.cumulative {
            None => 1.0,
            Some(c) if j == 0 => c[0],
            Some(c) => c[j] - c[j - 1],
        }
    }

    /// The smallest value whose cumulative weight exceeds `q · total`.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.values.len();
        let i = match &self.cumulative {
            None => (q * n as f64) as usize,
            Some(c) => {
                let x = q * c[n - 1];
                c.partition_point(|&w| w <= x)
            }
        };
        self.values[i.min(n - 1)]
    }

    /// The (weighted) sample mean in nanoseconds.
    pub fn mean_nanos(&self) -> f64 {
        match &self.cumulative {
            None => {
                self.values.iter().map(|v| v.as_nanos() as f64).sum::<f64>()
                    / self.values.len() as f64
            }
            Some(c) => {
                let mut prev = 0.0;
                let mut sum = 0.0;
                for (v, &cw) in self.values.iter().zip(c.iter()) {
                    sum += v.as_nanos() as f64 * (cw - prev);
                    prev = cw;
                }
                sum / prev
            }
        }
    }
}

/// A quantile, with its exponential transform `−ln(1 − q)` worked out
/// ahead when asked for ([`Quantile::with_exp`]).
///
/// Why: a task draws its size as a quantile when it arrives, and an
/// exponential service time of it is `mean · −ln(1 − q)`. Computing the
/// logarithm at arrival, long before the service starts, takes its latency
/// off the path that schedules the service's end; the result is the same
/// bits ([`Dist::quantile_of`] does the same operations as
/// [`Dist::quantile`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantile {
    pub q: f64,
    /// `−ln(1 − q)`, or NaN when not worked out.
    exp: f64,
}

impl Quantile {
    /// `q` alone.
    pub fn new(q: f64) -> Quantile {
        Quantile { q, exp: f64::NAN }
    }

    /// `q` with `−ln(1 − q)` worked out now.
    pub fn with_exp(q: f64) -> Quantile {
        Quantile {
            q,
            exp: super::ln::neg_ln_1m(q),
        }
    }
}

/// The exponential of mean `mean` at the quantile whose `−ln(1 − q)` is
/// `e`: the one expression both [`Dist::quantile`] and
/// [`Dist::quantile_of`] use, so they agree to the bit.
#[inline(always)]
fn exponential_at(mean: Duration, e: f64) -> Duration {
    Duration(saturating_nanos(mean.as_nanos() as f64 * e))
}

impl Dist {
    /// [`Dist::quantile`] at `q.q`, reading the exponential transform from
    /// `q` when it was worked out.
    #[inline(always)]
    pub fn quantile_of(&self, q: Quantile) -> Duration {
        match self {
            Dist::Exponential { mean } if !q.exp.is_nan() => exponential_at(*mean, q.exp),
            _ => self.quantile(q.q),
        }
    }

    /// Whether [`Dist::quantile_of`] reads the exponential transform.
    pub fn uses_exp(&self) -> bool {
        matches!(self, Dist::Exponential { .. })
    }

    /// A lognormal with the given median and 99th percentile (p99 > median).
    pub fn lognormal(median: Duration, p99: Duration) -> Dist {
        let mu = libm::log(median.as_nanos() as f64);
        let sigma = (libm::log(p99.as_nanos() as f64) - mu) / super::Z99;
        Dist::LogNormal { mu, sigma }
    }

    /// The value at quantile `q` in `[0, 1)`, rounded to the nanosecond
    /// (saturating at the largest duration).
    pub fn quantile(&self, q: f64) -> Duration {
        match self {
            Dist::Constant(d) => *d,
            Dist::Uniform { min, max } => {
                let span = (max.as_nanos() - min.as_nanos()) as f64;
                Duration(min.as_nanos() + (q * span) as u64)
            }
            Dist::Exponential { mean } => exponential_at(*mean, super::ln::neg_ln_1m(q)),
            Dist::LogNormal { mu, sigma } => {
                // Clamp away from 0 so that the normal quantile is finite.
                let q = q.max(f64::MIN_POSITIVE);
                let x = libm::exp(mu + sigma * normal_quantile(q));
                Duration(saturating_nanos(x))
            }
            Dist::Gamma { shape, mean } => {
                let scale = mean.as_nanos() as f64 / shape;
                Duration(saturating_nanos(scale * gamma::gamma_p_inv(*shape, q)))
            }
            Dist::Weibull { shape, scale } => {
                let e = -libm::log1p(-q);
                Duration(saturating_nanos(
                    scale.as_nanos() as f64 * libm::pow(e, 1.0 / shape),
                ))
            }
            Dist::Pareto { alpha, min, max } => {
                let lo = min.as_nanos() as f64;
                // The fraction of the untruncated tail beyond max.
                let beyond = max.map_or(0.0, |h| libm::pow(lo / h.as_nanos() as f64, *alpha));
                let x = lo * libm::pow(1.0 - q * (1.0 - beyond), -1.0 / alpha);
                let x = Duration(saturating_nanos(x));
                match max {
                    Some(h) => x.min(*h),
                    None => x,
                }
            }
            Dist::HyperExponential(phases) => hyperexponential_quantile(phases, q),
            Dist::Empirical(e) => e.quantile(q),
        }
    }

    /// One draw.
    #[inline]
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match self {
            Dist::Constant(d) => *d,
            _ => self.quantile(unit(rng)),
        }
    }

    /// The mean, in nanoseconds (infinite for a Pareto with `alpha ≤ 1`
    /// and no `max`, which validation does not allow).
    pub fn mean_nanos(&self) -> f64 {
        match self {
            Dist::Constant(d) => d.as_nanos() as f64,
            Dist::Uniform { min, max } => (min.as_nanos() + max.as_nanos()) as f64 / 2.0,
            Dist::Exponential { mean } | Dist::Gamma { mean, .. } => mean.as_nanos() as f64,
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Dist::Weibull { shape, scale } => {
                scale.as_nanos() as f64 * libm::tgamma(1.0 + 1.0 / shape)
            }
            Dist::Pareto { alpha, min, max } => {
                let (a, l) = (*alpha, min.as_nanos() as f64);
                match max {
                    None if a <= 1.0 => f64::INFINITY,
                    None => a * l / (a - 1.0),
                    Some(h) => {
                        let h = h.as_nanos() as f64;
                        let norm = 1.0 - libm::pow(l / h, a);
                        if (a - 1.0).abs() < 1e-12 {
                            l * libm::log(h / l) / norm
                        } else {
                            a * l / (a - 1.0) * (1.0 - libm::pow(l / h, a - 1.0)) / norm
                        }
                    }
                }
            }
            Dist::HyperExponential(phases) => phases
                .iter()
                .map(|p| p.prob * p.mean.as_nanos() as f64)
                .sum(),
            Dist::Empirical(e) => e.mean_nanos(),
        }
    }

    /// True if every draw is zero (lets the world skip an event).
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Constant(d) if d.is_zero())
    }
}

/// Invert `S(x) = Σ pᵢ e^(-x/mᵢ) = 1 - q` by Newton on `ln S`, from the
/// left (see the module docs for why that converges without overshoot).
fn hyperexponential_quantile(phases: &[Phase], q: f64) -> Duration {
    let t = -libm::log1p(-q);
    if t.is_nan() || t <= 0.0 {
        return Duration::ZERO;
    }
    let live = || phases.iter().filter(|p| p.prob > 0.0);
    let m_min = live()
        .map(|p| p.mean.as_nanos() as f64)
        .fold(f64::INFINITY, f64::min);
    let m_max = live().map(|p| p.mean.as_nanos() as f64).fold(0.0, f64::max);
    if m_max == 0.0 {
        return Duration::ZERO;
    }
    // S(x) ≥ e^(-x/m_min) and ≤ e^(-x/m_max): the root is in
    // [m_min·t, m_max·t].
    let (lo, hi) = (m_min * t, m_max * t);
    let mut x = lo;
    for _ in 0..100 {
        // ln S(x) + t and its derivative, factoring out the largest term.
        let big = live()
            .map(|p| libm::log(p.prob) - x / p.mean.as_nanos() as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut s, mut ds) = (0.0, 0.0);
        for p in live() {
            let m = p.mean.as_nanos() as f64;
            let e = libm::exp(libm::log(p.prob) - x / m - big);
            s += e;
            ds += e / m;
        }
        let g = big + libm::log(s) + t;
        let step = g * s / ds;
        if step.is_nan() || step <= 0.0 {
            break;
        }
        x = (x + step).min(hi);
        if step <= 1e-14 * x {
            break;
        }
    }
    Duration(saturating_nanos(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quantiles_of_each_distribution() {
        assert_eq!(Dist::Constant(ms(5)).quantile(0.3), ms(5));
        let u = Dist::Uniform {
            min: ms(10),
            max: ms(30),
        };
        assert_eq!(u.quantile(0.0), ms(10));
        assert_eq!(u.quantile(0.5), ms(20));
        let e = Dist::Exponential { mean: ms(100) };
        // Median of an exponential is mean * ln 2.
        let med = e.quantile(0.5).as_nanos() as f64;
        assert!((med - 100e6 * std::f64::consts::LN_2).abs() < 1.0);
        let l = Dist::lognormal(ms(20), ms(200));
        assert!((l.quantile(0.5).as_nanos() as i64 - 20_000_000).abs() <= 1);
        assert!((l.quantile(0.99).as_nanos() as i64 - 200_000_000).abs() <= 2);
    }

    /// A quantile with its transform worked out ahead gives the very same
    /// durations as the plain quantile, for every distribution.
    #[test]
    fn a_quantile_worked_out_ahead_gives_the_same_duration() {
        let dists = [
            Dist::Exponential {
                mean: Duration::from_millis(1),
            },
            Dist::Exponential {
                mean: Duration(1_234_567_891),
            },
            Dist::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(3),
            },
            Dist::Constant(Duration::from_millis(5)),
        ];
        let mut rng = crate::rng::Seed(3).stream("quantile-ahead");
        let mut qs = vec![0.0, 1e-300, 1.0 / 128.0, 0.5, 1.0 - 1e-16];
        qs.extend((0..100_000).map(|_| crate::rng::unit(&mut rng)));
        for d in &dists {
            for &q in &qs {
                assert_eq!(
                    d.quantile_of(Quantile::with_exp(q)),
                    d.quantile(q),
                    "{d:?} {q}"
                );
                assert_eq!(d.quantile_of(Quantile::new(q)), d.quantile(q), "{d:?} {q}");
            }
        }
    }

    #[test]
    fn gamma_of_shape_one_is_the_exponential() {
        let g = Dist::Gamma {
            shape: 1.0,
            mean: ms(100),
        };
        let e = Dist::Exponential { mean: ms(100) };
        for q in [0.0, 0.001, 0.3, 0.5, 0.9, 0.999_999] {
            let (a, b) = (g.quantile(q).as_nanos(), e.quantile(q).as_nanos());
            assert!(a.abs_diff(b) <= 1, "q = {q}: {a} vs {b}");
        }
        // Erlang-2's median: x with e^-x (1 + x) = 1/2, x = 1.678346990016661
        // (in units of the scale, mean/2).
        let e2 = Dist::Gamma {
            shape: 2.0,
            mean: ms(2000),
        };
        let med = e2.quantile(0.5).as_nanos() as f64 / 1e9;
        assert!((med - 1.678_346_990_016_661).abs() < 1e-8, "{med}");
    }

    #[test]
    fn weibull_and_pareto_quantiles_are_closed_forms() {
        let w = Dist::Weibull {
            shape: 2.0,
            scale: ms(1000),
        };
        // Median: scale · sqrt(ln 2).
        let med = w.quantile(0.5).as_nanos() as f64;
        assert!((med - 1e9 * libm::sqrt(std::f64::consts::LN_2)).abs() <= 1.0);
        let p = Dist::Pareto {
            alpha: 2.0,
            min: ms(10),
            max: None,
        };
        assert_eq!(p.quantile(0.0), ms(10));
        // (1 - q)^(-1/2) at q = 3/4 is 2.
        assert_eq!(p.quantile(0.75), ms(20));
        let t = Dist::Pareto {
            alpha: 1.0,
            min: ms(10),
            max: Some(ms(20)),
        };
        // Truncated α = 1 on [10, 20]: F(x) = 2 (1 - 10/x), so F⁻¹(1/2) = 40/3.
        let x = t.quantile(0.5).as_nanos() as f64;
        assert!((x - 40e6 / 3.0).abs() <= 1.0, "{x}");
        assert!(t.quantile(1.0 - 2f64.powi(-53)) <= ms(20));
        // Never past the largest duration.
        let heavy = Dist::Pareto {
            alpha: 0.1,
            min: ms(1000),
            max: None,
        };
        assert_eq!(heavy.quantile(1.0 - 2f64.powi(-53)), Duration(u64::MAX));
    }

    #[test]
    fn hyperexponential_inverts_its_cdf() {
        let h = Dist::HyperExponential(
            vec![
                Phase {
                    prob: 0.9,
                    mean: ms(1),
                },
                Phase {
                    prob: 0.1,
                    mean: ms(100),
                },
            ]
            .into(),
        );
        for q in [
            1e-9,
            0.01,
            0.3,
            0.5,
            0.9,
            0.99,
            0.999_999,
            1.0 - 2f64.powi(-53),
        ] {
            let x = h.quantile(q).as_nanos() as f64;
            let s = 0.9 * libm::exp(-x / 1e6) + 0.1 * libm::exp(-x / 1e8);
            // Rounding x to the nanosecond moves S by at most density · 0.5 ns.
            let dens = 0.9e-6 * libm::exp(-x / 1e6) + 0.1e-8 * libm::exp(-x / 1e8);
            assert!(
                (s - (1.0 - q)).abs() <= 1e-12 * (1.0 - q) + dens,
                "q = {q}: x = {x}, S = {s}"
            );
        }
        assert_eq!(h.quantile(0.0), Duration::ZERO);
        // One phase is the exponential.
        let one = Dist::HyperExponential(
            vec![Phase {
                prob: 1.0,
                mean: ms(7),
            }]
            .into(),
        );
        let e = Dist::Exponential { mean: ms(7) };
        for q in [0.1, 0.5, 0.99] {
            assert!(
                one.quantile(q)
                    .as_nanos()
                    .abs_diff(e.quantile(q).as_nanos())
                    <= 1
            );
        }
    }

    #[test]
    fn empirical_is_the_step_inverse_of_its_cdf() {
        let v = [ms(30), ms(10), ms(20), ms(40)];
        let e = Empirical::new(&v, None).unwrap();
        assert_eq!(e.values(), &[ms(10), ms(20), ms(30), ms(40)]);
        assert_eq!(e.quantile(0.0), ms(10));
        assert_eq!(e.quantile(0.2499), ms(10));
        assert_eq!(e.quantile(0.25), ms(20));
        assert_eq!(e.quantile(0.9999), ms(40));
        assert_eq!(e.mean_nanos(), 25e6);
        let w = Empirical::new(&v, Some(&[1.0, 0.0, 3.0, 0.0])).unwrap();
        // Sorted: 10 (w 0), 20 (w 3), 30 (w 1), 40 (w 0).
        assert_eq!(w.quantile(0.0), ms(20));
        assert_eq!(w.quantile(0.7499), ms(20));
        assert_eq!(w.quantile(0.75), ms(30));
        assert_eq!(w.quantile(0.9999), ms(30));
        assert_eq!(w.mean_nanos(), 22.5e6);
        assert!(Empirical::new(&[], None).is_none());
        assert!(Empirical::new(&v, Some(&[1.0])).is_none());
        assert!(Empirical::new(&v, Some(&[0.0; 4])).is_none());
        assert!(Empirical::new(&v, Some(&[1.0, -1.0, 1.0, 1.0])).is_none());
    }

    #[test]
    fn means_match_closed_forms() {
        let w = Dist::Weibull {
            shape: 1.0,
            scale: ms(10),
        };
        assert!((w.mean_nanos() - 1e7).abs() < 1e-3);
        let p = Dist::Pareto {
            alpha: 3.0,
            min: ms(10),
            max: None,
        };
        assert!((p.mean_nanos() - 1.5e7).abs() < 1e-3);
        let t = Dist::Pareto {
            alpha: 1.0,
            min: ms(10),
            max: Some(ms(20)),
        };
        // 2·10·ln 2 ms.
        assert!((t.mean_nanos() - 2e7 * std::f64::consts::LN_2).abs() < 1.0);
    }
}
