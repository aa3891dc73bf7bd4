//! Warm-up detection by MSER-5 (White, 1997, "An effective truncation
//! heuristic for bias reduction in simulation output", *Simulation* 69(6);
//! White, Cobb & Spratt, WSC 2000).
//!
//! Why: a run that starts empty (or with a backlog) is biased at first;
//! dropping too little keeps the bias, dropping too much wastes data and
//! widens the interval. MSER picks the truncation `d` that minimises the
//! marginal standard error of what is left,
//! `MSER(d) = Σ_{j>d} (Zⱼ − Z̄_d)² / (m − d)²`, which is small when the
//! rest of the series is both flat (small spread) and long. MSER-5 applies
//! it to the means `Zⱼ` of consecutive batches of 5 observations (which
//! smooths the noise of single observations), and, as White recommends,
//! looks for `d` only in the first half of the batches: a minimum found
//! later means the series is too short to tell, and is reported so.
//!
//! On a stationary series `MSER(d)` is about `σ²_Z/(m − d)`, rising in
//! `d`, so the choice stays near 0 (a few batches dropped by chance at
//! most); on a series with an initial transient it drops the transient.
//! Ties go to the smallest `d`.

/// Observations per batch in MSER-5.
pub const BATCH: usize = 5;

/// What MSER-5 chose.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truncation {
    /// Observations to drop (a multiple of 5).
    pub observations: usize,
    /// Batches of 5 in the series, and the number dropped (`d`).
    pub batches: usize,
    pub dropped_batches: usize,
    /// The minimum was at the end of the first half: the transient may be
    /// longer than half the series, which is then too short to tell.
    pub at_limit: bool,
}

/// MSER-5 on `xs`; `None` when there are fewer than 2 batches of 5.
pub fn mser5(xs: &[f64]) -> Option<Truncation> {
    let m = xs.len() / BATCH;
    if m < 2 {
        return None;
    }
    let z: Vec<f64> = xs
        .chunks_exact(BATCH)
        .map(|c| c.iter().sum::<f64>() / BATCH as f64)
        .collect();
    // Welford from the end: after adding zⱼ, (mean, m2) describe z[j..].
    let half = m / 2;
    let mut best = (f64::INFINITY, 0usize);
    let (mut mean, mut m2) = (0.0f64, 0.0f64);
    let mut stats = vec![(0.0f64, 0.0f64); m];
    for (j, &zj) in z.iter().enumerate().rev() {
        let n = (m - j) as f64;
        let delta = zj - mean;
        mean += delta / n;
        m2 += delta * (zj - mean);
        stats[j] = (mean, m2);
    }
    for (d, &(_, m2)) in stats.iter().enumerate().take(half + 1) {
        let rest = (m - d) as f64;
        let se = m2 / (rest * rest);
        if se < best.0 {
            best = (se, d);
        }
    }
    let d = best.1;
    Some(Truncation {
        observations: d * BATCH,
        batches: m,
        dropped_batches: d,
        at_limit: d == half && half > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_cut_where_it_ends() {
        // 100 observations at 50, then 900 alternating 9 and 11: the
        // transient is exactly the first 20 batches.
        let xs: Vec<f64> = (0..1000)
            .map(|i| {
                if i < 100 {
                    50.0
                } else if i % 2 == 0 {
                    9.0
                } else {
                    11.0
                }
            })
            .collect();
        let t = mser5(&xs).expect("200 batches");
        assert_eq!(
            (t.batches, t.dropped_batches, t.observations),
            (200, 20, 100)
        );
        assert!(!t.at_limit);
    }

    #[test]
    fn a_flat_series_is_not_cut_and_a_long_transient_hits_the_limit() {
        let flat: Vec<f64> = (0..1000).map(|i| f64::from(i % 5)).collect();
        assert_eq!(mser5(&flat).expect("200 batches").observations, 0);
        // A decay over the whole series: the minimum is at the half.
        let decay: Vec<f64> = (0..1000).map(|i| 1000.0 - f64::from(i)).collect();
        let t = mser5(&decay).expect("200 batches");
        assert!(t.at_limit && t.dropped_batches == 100, "{t:?}");
        assert!(mser5(&[1.0; 9]).is_none());
    }

    #[test]
    fn independent_data_is_cut_within_the_first_few_batches() {
        // 5,000 independent exponential values (1,000 batches), 20 seeds
        // of a SplitMix64 generator. Criterion: never more than 3 % of the
        // batches (30), and nothing at all on at least half the seeds
        // (MSER(d) ≈ σ²/(m − d) rises with d; a cut is a chance dip).
        let mut uncut = 0;
        for seed in 0..20u64 {
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let xs: Vec<f64> = (0..5000)
                .map(|_| {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                    -libm::log(u)
                })
                .collect();
            let t = mser5(&xs).expect("1000 batches");
            assert!(t.dropped_batches <= 30, "seed {seed}: {t:?}");
            uncut += usize::from(t.dropped_batches == 0);
        }
        assert!(uncut >= 10, "only {uncut} of 20 seeds uncut");
    }
}
