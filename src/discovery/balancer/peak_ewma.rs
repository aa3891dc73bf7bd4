//! Peak-EWMA (Finagle; tower's `PeakEwma`): each backend's cost is its
//! round-trip-time estimate × (requests in flight + 1), and the request goes
//! to the cheaper of two distinct random eligible backends (power of two
//! choices, drawn from [`Loads::members`]). O(1) per pick and per completion.
//!
//! The estimate is peak-sensitive: a sample above it replaces it at once; a
//! lower one is blended in with weight `1 − e^(−Δt/τ)`, Δt being the time
//! since the last update; and between samples the estimate decays towards
//! zero as `e^(−Δt/τ)`, so an idle backend is tried again. Backends start at
//! `default_rtt`, as of the time the strategy is created. An ineligible
//! backend keeps its estimate.

use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Estimate {
    rtt_ns: f64,
    at: Instant,
}

#[derive(Clone, Debug)]
pub struct PeakEwma {
    tau_ns: f64,
    estimates: Vec<Estimate>,
}

impl PeakEwma {
    /// `n` backends, each estimated at `default_rtt` as of `now`.
    pub fn new(n: usize, default_rtt: Duration, decay: Duration, now: Instant) -> Self {
        PeakEwma {
            tau_ns: decay.as_nanos().max(1) as f64,
            estimates: vec![
                Estimate {
                    rtt_ns: default_rtt.as_nanos() as f64,
                    at: now,
                };
                n
            ],
        }
    }

    fn recency(&self, since: Instant, now: Instant) -> f64 {
        libm::exp(-(now.saturating_since(since).as_nanos() as f64) / self.tau_ns)
    }

    /// Backend `i`'s decayed RTT estimate at `now`, in nanoseconds.
    pub fn rtt_estimate(&self, now: Instant, i: usize) -> f64 {
        let e = self.estimates[i];
        e.rtt_ns * self.recency(e.at, now)
    }

    /// Backend `i`'s cost: estimate × (in flight + 1).
    pub fn cost(&self, now: Instant, loads: &Loads, i: usize) -> f64 {
        self.rtt_estimate(now, i) * f64::from(loads.get(i) + 1)
    }
}

impl Pick for PeakEwma {
    #[inline]
    fn pick(&mut self, now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize> {
        let (a, b) = super::p2c::two_members(rng, loads)?;
        Some(if self.cost(now, loads, b) < self.cost(now, loads, a) {
            b
        } else {
            a
        })
    }

    fn on_complete(&mut self, now: Instant, i: usize, rtt: Duration) {
        let sample = rtt.as_nanos() as f64;
        let recency = self.recency(self.estimates[i].at, now);
        let e = &mut self.estimates[i];
        e.rtt_ns = if sample > e.rtt_ns {
            sample
        } else {
            e.rtt_ns * recency + sample * (1.0 - recency)
        };
        e.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;

    #[test]
    fn a_peak_replaces_the_estimate_and_a_dip_blends_in() {
        let tau = Duration::from_secs(10);
        let mut p = PeakEwma::new(1, Duration::from_millis(30), tau, Instant::ZERO);
        let t1 = Instant::ZERO + Duration::from_secs(1);
        p.on_complete(t1, 0, Duration::from_millis(100));
        assert_eq!(
            p.rtt_estimate(t1, 0),
            100.0 * MS,
            "a sample above replaces at once"
        );
        let t2 = t1 + Duration::from_secs(10);
        p.on_complete(t2, 0, Duration::from_millis(20));
        // 100 ms · e^−1 + 20 ms · (1 − e^−1).
        let want = 100.0 * MS * (-1f64).exp() + 20.0 * MS * (1.0 - (-1f64).exp());
        assert!(
            (p.rtt_estimate(t2, 0) - want).abs() < 1.0,
            "{}",
            p.rtt_estimate(t2, 0)
        );
        // Without samples the estimate decays: one τ later it is e^−1 of itself.
        let t3 = t2 + tau;
        assert!((p.rtt_estimate(t3, 0) - want * (-1f64).exp()).abs() < 1.0);
    }

    #[test]
    fn the_slow_backend_loses_traffic() {
        use crate::rng::Seed;
        let mut p = PeakEwma::new(
            2,
            Duration::from_millis(30),
            Duration::from_secs(10),
            Instant::ZERO,
        );
        let now = Instant::ZERO + Duration::from_secs(1);
        p.on_complete(now, 0, Duration::from_millis(10));
        p.on_complete(now, 1, Duration::from_millis(500));
        let loads = Loads::new(2);
        let mut rng = Seed(1).stream("t");
        let picks = (0..100)
            .filter(|_| p.pick(now, &loads, &mut rng) == Some(0))
            .count();
        assert_eq!(picks, 100, "with two backends p2c compares both every time");
    }
}
