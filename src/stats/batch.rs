//! Batch means: a confidence interval for a steady-state mean from one
//! long run.
//!
//! Why: the observations of one run (task latencies in completion order)
//! are correlated, so the textbook `s/√n` of the raw series is far too
//! narrow. Splitting the series into `k` non-overlapping batches of `b`
//! consecutive observations makes the batch means nearly independent and
//! nearly normal once `b` is long compared with the series' correlation,
//! and the t interval of the `k` batch means is then valid (Law,
//! *Simulation Modeling and Analysis*, 5th ed., §9.5.3). Law, after
//! Schmeiser (1982, "Batch size effects in the analysis of simulation
//! output"), recommends 10 ≤ k ≤ 30: fewer batches widen the t quantile,
//! more shorten the batches and let correlation back in; the default here
//! is 20.
//!
//! The check that the batches are long enough is the lag-1
//! autocorrelation of the batch means, `r₁ = Σ (Yᵢ − Ȳ)(Yᵢ₊₁ − Ȳ) / Σ (Yᵢ − Ȳ)²`.
//! For `k` independent values its standard error is about `1/√k`
//! (Bartlett; Box & Jenkins, *Time Series Analysis*, §2.1.6), so
//! `|r₁| > 1.96/√k` (0.44 for 20 batches) is flagged as significant at 5 %:
//! the interval is then too narrow (positive r₁) and the run should be
//! longer, or use fewer, longer batches.
//!
//! When `n` is not a multiple of `k`, the `n mod k` earliest observations
//! are dropped: the end of a run is nearer steady state than its start.

use super::t95;

/// The default number of batches (Law's 10 ≤ k ≤ 30).
pub const DEFAULT_BATCHES: u32 = 20;

/// The batch-means estimate of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchMeans {
    /// Number of batches `k`.
    pub batches: u32,
    /// Observations per batch `b`.
    pub batch_size: u64,
    /// Earliest observations left out so that `k · b` fit.
    pub dropped: u64,
    /// Mean of the batch means (the mean of the `k · b` observations used).
    pub mean: f64,
    /// Half-width of its 95% confidence interval: `t(0.975, k − 1) · s_Y / √k`.
    pub half_width: f64,
    /// Lag-1 autocorrelation of the batch means.
    pub lag1: f64,
    /// `|lag1| > 1.96 / √k`.
    pub lag1_significant: bool,
}

/// Batch means of `xs` in `batches` batches, or `None` when there are
/// fewer than 2 batches or fewer observations than batches.
pub fn batch_means(xs: &[f64], batches: u32) -> Option<BatchMeans> {
    let k = batches as usize;
    if k < 2 || xs.len() < k {
        return None;
    }
    let b = xs.len() / k;
    let dropped = xs.len() - k * b;
    let used = &xs[dropped..];
    let ys: Vec<f64> = used
        .chunks_exact(b)
        .map(|c| c.iter().sum::<f64>() / b as f64)
        .collect();
    let mean = ys.iter().sum::<f64>() / k as f64;
    let ss: f64 = ys.iter().map(|y| (y - mean) * (y - mean)).sum();
    let var = ss / (k - 1) as f64;
    let half_width = t95(batches - 1) * libm::sqrt(var / k as f64);
    let lag1 = if ss > 0.0 {
        ys.windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>()
            / ss
    } else {
        0.0
    };
    Some(BatchMeans {
        batches,
        batch_size: b as u64,
        dropped: dropped as u64,
        mean,
        half_width,
        lag1,
        lag1_significant: lag1.abs() > lag1_threshold(batches),
    })
}

/// The 5 % bound on `|r₁|` for `k` independent batch means: `1.96/√k`.
pub fn lag1_threshold(batches: u32) -> f64 {
    1.96 / libm::sqrt(f64::from(batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_of_a_known_series() {
        // 0..10 in 4 batches of 2, the 2 earliest dropped: batches
        // (2,3) (4,5) (6,7) (8,9) → means 2.5, 4.5, 6.5, 8.5.
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        let bm = batch_means(&xs, 4).expect("enough observations");
        assert_eq!((bm.batch_size, bm.dropped), (2, 2));
        assert_eq!(bm.mean, 5.5);
        // s_Y² = (9 + 1 + 1 + 9) / 3; t(0.975, 3) = 3.182446.
        let want = 3.182446 * (20.0f64 / 3.0 / 4.0).sqrt();
        assert!((bm.half_width - want).abs() < 1e-5, "{}", bm.half_width);
        // r₁ = ((−3)(−1) + (−1)(1) + (1)(3)) / 20 = 0.25.
        assert!((bm.lag1 - 0.25).abs() < 1e-12);
        assert!(!bm.lag1_significant, "0.25 < 1.96/2");
        assert!(batch_means(&xs, 1).is_none());
        assert!(batch_means(&xs[..3], 4).is_none());
    }

    #[test]
    fn a_trend_is_flagged() {
        // A linear trend: consecutive batch means are strongly correlated.
        let xs: Vec<f64> = (0..2000).map(|i| f64::from(i) + f64::from(i % 7)).collect();
        let bm = batch_means(&xs, 20).expect("enough observations");
        assert!(bm.lag1 > 0.8 && bm.lag1_significant, "{bm:?}");
        assert!((lag1_threshold(20) - 0.438).abs() < 1e-3);
    }
}
