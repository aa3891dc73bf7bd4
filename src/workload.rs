//! Arrival processes: when tasks arrive.
//!
//! Poisson arrivals have exponential gaps (mean 1/rate); constant arrivals
//! come every 1/rate exactly, the k-th at `round(k / rate)` so the schedule
//! never drifts; bursts put `size` tasks at the start of each of `count`
//! bursts, `every` apart, optionally spread evenly over `spread`.
//!
//! Ramps (rate linear from `from` to `to` over the run, then `to`) and
//! daily cycles (`mean + amplitude · sin(2π (t + phase) / period)`) are
//! non-homogeneous Poisson processes, generated exactly by thinning (Lewis
//! and Shedler 1979): candidates come at the peak rate and each is kept with
//! probability rate(t) / peak. Two draws per candidate, from the source's
//! own stream.

pub mod trace;

use crate::rng::{Dist, Stream, unit};
use crate::time::{Duration, Instant, NS_PER_S};

/// A distribution of work amounts (records, bytes, tokens…): what a task
/// drawn from it carries to a `per_work` tier, which serves it in
/// `base + work × per_unit`.
///
/// It is a [`Dist`] whose "nanoseconds" count millionths of a unit, so every
/// distribution the simulator knows serves for work amounts too and is
/// sampled the same way, by quantile; a drawn amount is exact to a
/// millionth of a unit, and amounts up to [`WorkDist::MAX`] are allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkDist(Dist);

impl WorkDist {
    /// Millionths of a unit per unit.
    const SCALE: f64 = 1e6;
    /// The largest amount a distribution may name (so that it fits).
    pub const MAX: f64 = 1e12;

    /// An amount as the underlying distribution holds it.
    pub fn scaled(units: f64) -> Duration {
        Duration((units * Self::SCALE).round() as u64)
    }

    /// A scaled amount back in units.
    pub fn units(scaled: Duration) -> f64 {
        scaled.as_nanos() as f64 / Self::SCALE
    }

    /// A distribution built from amounts given by [`WorkDist::scaled`].
    pub fn new(dist: Dist) -> WorkDist {
        WorkDist(dist)
    }

    /// The amount at quantile `q` in `[0, 1)`.
    pub fn quantile(&self, q: f64) -> f64 {
        Self::units(self.0.quantile(q))
    }

    /// The mean amount.
    pub fn mean(&self) -> f64 {
        self.0.mean_nanos() / Self::SCALE
    }
}

/// An arrival process as a scenario states it.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// A recorded request log, replayed ([`trace`]).
    Trace(Box<Trace>),
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
    /// Rate from `from` at 0 to `to` at `over`, linearly; `to` afterwards.
    Ramp {
        from: f64,
        to: f64,
        over: Duration,
    },
    /// Rate `mean + amplitude · sin(2π (t + phase) / period)`.
    Diurnal {
        mean: f64,
        amplitude: f64,
        period: Duration,
        phase: Duration,
    },
}

impl Arrivals {
    /// Does the process bring its tasks at distinct instants, none due at
    /// the instant of the one before (Poisson, constant, ramp, diurnal; not
    /// a trace's equal timestamps or a burst)?
    pub fn at_distinct_instants(&self) -> bool {
        match self {
            Arrivals::Poisson { .. } | Arrivals::Ramp { .. } | Arrivals::Diurnal { .. } => true,
            Arrivals::Constant { rate } => *rate <= 1e9,
            Arrivals::Trace(_) | Arrivals::Bursts { .. } => false,
        }
    }

    /// The rate (per second) at `t` seconds, for the time-varying processes.
    pub fn rate_at(&self, t: f64) -> f64 {
        match *self {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate,
            Arrivals::Ramp { from, to, over } => {
                let span = over.as_secs_f64();
                if span <= 0.0 || t >= span {
                    to
                } else {
                    from + (to - from) * (t / span)
                }
            }
            Arrivals::Diurnal {
                mean,
                amplitude,
                period,
                phase,
            } => {
                let x = (t + phase.as_secs_f64()) / period.as_secs_f64();
                (mean + amplitude * libm::sin(std::f64::consts::TAU * x)).max(0.0)
            }
            Arrivals::Bursts { .. } | Arrivals::Trace(_) => f64::NAN,
        }
    }

    /// The peak rate of a thinned process.
    fn peak(&self) -> f64 {
        match *self {
            Arrivals::Ramp { from, to, .. } => from.max(to),
            Arrivals::Diurnal {
                mean, amplitude, ..
            } => mean + amplitude,
            _ => self.rate_at(0.0),
        }
    }
}

/// A trace as a validated scenario holds it: what to read, and what the
/// scan at load found in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub spec: trace::TraceSpec,
    pub info: trace::TraceInfo,
}

/// The generator of an arrival process: yields arrival times in order.
#[derive(Debug)]
pub struct ArrivalProcess {
    arrivals: Arrivals,
    /// Index of the next arrival.
    k: u64,
    /// Time of the previous arrival.
    last: Instant,
    /// A Poisson process's next gap, drawn one arrival early: the same
    /// draws in the same order, but nothing waits for the logarithm and
    /// division of the gap being scheduled, so the processor overlaps them
    /// with the rest of the arrival.
    ahead: Option<Duration>,
    /// A trace's reader, and the row of the last arrival it gave.
    reader: Option<trace::TraceReader>,
    row: Option<trace::TraceRow>,
    /// Why a trace ended early (the file changed or vanished since it was
    /// scanned): the run is not valid and says so.
    error: Option<trace::TraceError>,
}

impl ArrivalProcess {
    pub fn new(arrivals: Arrivals) -> Self {
        let (reader, error) = match &arrivals {
            Arrivals::Trace(t) => match trace::TraceReader::open(&t.spec, &t.info) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e)),
            },
            _ => (None, None),
        };
        ArrivalProcess {
            arrivals,
            k: 0,
            last: Instant::ZERO,
            ahead: None,
            reader,
            row: None,
            error,
        }
    }

    /// The trace row of the last arrival (`None` for other processes).
    pub fn row(&self) -> Option<&trace::TraceRow> {
        self.row.as_ref()
    }

    /// Why the trace stopped before its end, if it did.
    pub fn error(&self) -> Option<&trace::TraceError> {
        self.error.as_ref()
    }

    /// The time of the next arrival, or `None` when the process has ended
    /// (bursts and traces end; the world stops others at the scenario
    /// duration).
    pub fn next_arrival(&mut self, rng: &mut Stream) -> Option<Instant> {
        let k = self.k;
        let t = match self.arrivals {
            Arrivals::Trace(_) => {
                let reader = self.reader.as_mut()?;
                match reader.next_row() {
                    Ok(Some(row)) => {
                        self.row = Some(row);
                        row.at
                    }
                    Ok(None) => return None,
                    Err(e) => {
                        self.error = Some(e);
                        self.reader = None;
                        return None;
                    }
                }
            }
            Arrivals::Poisson { rate } => {
                let gap = |rng: &mut Stream| {
                    Duration::from_secs_f64(crate::rng::ln::neg_ln_1m(unit(rng)) / rate)
                };
                let this = match self.ahead {
                    Some(d) => d,
                    None => gap(rng),
                };
                self.ahead = Some(gap(rng));
                self.last + this
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
            Arrivals::Ramp { .. } | Arrivals::Diurnal { .. } => {
                let peak = self.arrivals.peak();
                let mut t = self.last;
                loop {
                    let gap = crate::rng::ln::neg_ln_1m(unit(rng)) / peak;
                    t += Duration::from_secs_f64(gap);
                    let dead = matches!(self.arrivals, Arrivals::Ramp { to, over, .. }
                        if to == 0.0 && t.0 >= over.as_nanos());
                    if t == Instant::MAX || dead {
                        // A ramp down to 0 has nothing left to send.
                        return None;
                    }
                    if unit(rng) * peak < self.arrivals.rate_at(t.as_secs_f64()) {
                        break t;
                    }
                }
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

    /// Arrivals per window against the integral of the rate: Poisson counts
    /// have variance = mean, so each window is checked within 5 sd.
    fn counts_follow_the_rate(a: Arrivals, horizon: f64, window: f64) {
        let mut p = ArrivalProcess::new(a.clone());
        let mut rng = Seed(8).stream("arrivals");
        let windows = (horizon / window) as usize;
        let mut counts = vec![0u64; windows];
        while let Some(t) = p.next_arrival(&mut rng) {
            let w = (t.as_secs_f64() / window) as usize;
            if w >= windows {
                break;
            }
            counts[w] += 1;
        }
        for (w, &n) in counts.iter().enumerate() {
            // Integral of the rate over the window (Simpson's rule, fine
            // enough for these smooth rates).
            let (lo, hi) = (w as f64 * window, (w + 1) as f64 * window);
            let steps = 200;
            let h = (hi - lo) / steps as f64;
            let expect: f64 = (0..=steps)
                .map(|i| {
                    let coef = if i == 0 || i == steps {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    coef * a.rate_at(lo + i as f64 * h)
                })
                .sum::<f64>()
                * h
                / 3.0;
            let sd = expect.sqrt().max(1.0);
            assert!(
                (n as f64 - expect).abs() < 5.0 * sd,
                "window {w}: {n} arrivals, expected {expect:.1}"
            );
        }
    }

    #[test]
    fn a_ramp_thins_to_its_linear_rate() {
        let a = Arrivals::Ramp {
            from: 10.0,
            to: 1000.0,
            over: Duration::from_secs(100),
        };
        counts_follow_the_rate(a, 120.0, 10.0);
        // Down-ramps too, and the rate holds at `to` after `over`.
        let down = Arrivals::Ramp {
            from: 500.0,
            to: 0.0,
            over: Duration::from_secs(50),
        };
        assert_eq!(down.rate_at(60.0), 0.0);
        counts_follow_the_rate(down, 50.0, 5.0);
    }

    #[test]
    fn a_daily_cycle_thins_to_its_sine() {
        let a = Arrivals::Diurnal {
            mean: 200.0,
            amplitude: 150.0,
            period: Duration::from_secs(86_400),
            phase: Duration::from_secs(21_600),
        };
        // Peak at t = 0 (phase a quarter period), trough half a day later.
        assert!((a.rate_at(0.0) - 350.0).abs() < 1e-9);
        assert!((a.rate_at(43_200.0) - 50.0).abs() < 1e-9);
        counts_follow_the_rate(a, 86_400.0, 3_600.0);
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
