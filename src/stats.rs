//! Statistics over replications: the mean of a sample and the half-width of
//! its 95% confidence interval.
//!
//! Why here, below reports and the harness: the terminal tables, the HTML
//! report, comparisons and sweeps all summarise replications the same way,
//! so they share one definition. The interval is the usual Student t
//! interval of a mean, `t(0.975, n − 1) · s / √n` (Law, *Simulation
//! Modeling and Analysis*, "confidence interval for the mean"); the
//! quantiles are the two-sided 95% column of a standard t table.

/// Two-sided 95% Student t quantile for `df` degrees of freedom.
pub fn t95(df: u32) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df as usize - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
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
        // Sample 1..=5: mean 3, sd sqrt(2.5), t(4) = 2.776.
        let (m, h) = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m, 3.0);
        assert!((h - 2.776 * (2.5f64 / 5.0).sqrt()).abs() < 1e-12);
        assert!(mean_ci(&[1.0]).1.is_nan());
        assert!(mean_ci(&[]).0.is_nan());
    }

    #[test]
    fn t_quantiles_fall_towards_the_normal_one() {
        assert!(t95(0).is_nan());
        assert_eq!(t95(1), 12.706);
        assert_eq!(t95(30), 2.042);
        assert_eq!(t95(31), 2.000);
        assert_eq!(t95(1000), 1.960);
        for df in 1..200 {
            assert!(t95(df + 1) <= t95(df), "t95({}) > t95({df})", df + 1);
        }
    }
}
