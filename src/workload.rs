//! Arrival processes: when tasks arrive.
//!
//! Poisson arrivals have exponential gaps (mean 1/rate); constant arrivals
//! come every 1/rate exactly, the k-th at `round(k / rate)` so the schedule
//! never drifts; bursts put `size` tasks at the start of each of `count`
//! bursts, `every` apart, optionally spread evenly over `spread`.

use crate::rng::{Stream, unit};
use crate::time::{Duration, Instant, NS_PER_S};

/// An arrival process as a scenario states it.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    Poisson {
        rate: f64,
    },
    Constant {
        rate: f64,
    },
    Bursts {
        count: u32,
        size: u32,
        every: Duration,
        start: Duration,
        spread: Duration,
    },
}

/// The generator of an arrival process: yields arrival times in order.
#[derive(Clone, Debug)]
pub struct ArrivalProcess {
    arrivals: Arrivals,
    /// Index of the next arrival.
    k: u64,
    /// Time of the previous arrival.
    last: Instant,
}

impl ArrivalProcess {
    pub fn new(arrivals: Arrivals) -> Self {
        ArrivalProcess {
            arrivals,
            k: 0,
            last: Instant::ZERO,
        }
    }

    /// The time of the next arrival, or `None` when the process has ended
    /// (only bursts end; the world stops others at the scenario duration).
    pub fn next_arrival(&mut self, rng: &mut Stream) -> Option<Instant> {
        let k = self.k;
        let t = match self.arrivals {
            Arrivals::Poisson { rate } => {
                let gap = -libm::log1p(-unit(rng)) / rate;
                self.last + Duration::from_secs_f64(gap)
            }
            Arrivals::Constant { rate } => {
                Instant(crate::time::secs_to_nanos(k as f64 / rate).max(self.last.0))
            }
            Arrivals::Bursts {
                count,
                size,
                every,
                start,
                spread,
            } => {
                let (b, j) = (k / u64::from(size), k % u64::from(size));
                if b >= u64::from(count) {
                    return None;
                }
                let offset =
                    (u128::from(spread.as_nanos()) * u128::from(j) / u128::from(size)) as u64;
                Instant(start.as_nanos())
                    + Duration(every.as_nanos().saturating_mul(b))
                    + Duration(offset)
            }
        };
        self.k += 1;
        self.last = t;
        Some(t)
    }
}

/// Nanoseconds between arrivals at `rate` per second (for documentation and tests).
pub fn period_nanos(rate: f64) -> f64 {
    NS_PER_S as f64 / rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    fn times(a: Arrivals, n: usize) -> Vec<u64> {
        let mut p = ArrivalProcess::new(a);
        let mut rng = Seed(5).stream("arrivals");
        std::iter::from_fn(|| p.next_arrival(&mut rng))
            .take(n)
            .map(|t| t.0)
            .collect()
    }

    #[test]
    fn constant_arrivals_do_not_drift() {
        let t = times(Arrivals::Constant { rate: 3.0 }, 4);
        assert_eq!(t, vec![0, 333_333_333, 666_666_667, 1_000_000_000]);
    }

    #[test]
    fn bursts_spread_evenly_and_end() {
        let t = times(
            Arrivals::Bursts {
                count: 2,
                size: 4,
                every: Duration::from_secs(10),
                start: Duration::from_secs(1),
                spread: Duration::from_secs(2),
            },
            100,
        );
        let s = NS_PER_S;
        assert_eq!(
            t,
            vec![
                s,
                s + s / 2,
                2 * s,
                2 * s + s / 2,
                11 * s,
                11 * s + s / 2,
                12 * s,
                12 * s + s / 2
            ]
        );
    }

    #[test]
    fn poisson_gaps_have_mean_one_over_rate() {
        let n = 200_000;
        let t = times(Arrivals::Poisson { rate: 20.0 }, n);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        let mean_gap = *t.last().unwrap() as f64 / n as f64;
        // sd of the mean gap = 50 ms / sqrt(n) = 0.11 ms; 5 sd.
        assert!((mean_gap - period_nanos(20.0)).abs() < 0.56e6, "{mean_gap}");
    }
}
