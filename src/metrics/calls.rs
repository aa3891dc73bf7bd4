//! Calls to one capability, from the dispatcher (a task is its logical
//! call) or from agents: how many were made, how many requests they took
//! (retries included), how they ended, and how long a completed one took.
//! The rows of `calls.csv` and the per-capability chart of the HTML page.

use hdrhistogram::Histogram;

use super::{Cause, HIGHEST_NS, latency_histogram};
use crate::time::Duration;

/// One capability's calls in one run.
#[derive(Clone, Debug)]
pub struct CallStats {
    /// The capability called (`*`: tasks that ask for none).
    pub capability: String,
    /// Logical calls made (a task counts once, however often retried).
    pub calls: u64,
    /// Requests sent for them, retries included.
    pub attempts: u64,
    pub completed: u64,
    pub failed: u64,
    /// Failed calls by [`Cause`], in `Cause::ALL` order.
    pub failed_by: [u64; Cause::ALL.len()],
    /// Ended otherwise: cancelled (a task's deadline, the end of the
    /// drain) or rejected by a full queue.
    pub cancelled: u64,
    /// Latency of completed calls: first attempt sent (a task: its
    /// arrival) to outcome, after warm-up.
    pub latency: Histogram<u64>,
    pub latency_sum: u128,
    /// Trips of the callers' breakers for this capability.
    pub breaker_trips: u64,
    /// Per `timeseries.csv` bucket: attempts sent and calls failed.
    pub series: Vec<(u64, u64)>,
    /// The current bucket's.
    current: (u64, u64),
}

impl Default for CallStats {
    fn default() -> CallStats {
        CallStats {
            capability: String::new(),
            calls: 0,
            attempts: 0,
            completed: 0,
            failed: 0,
            failed_by: [0; Cause::ALL.len()],
            cancelled: 0,
            latency: latency_histogram(),
            latency_sum: 0,
            breaker_trips: 0,
            series: Vec::new(),
            current: (0, 0),
        }
    }
}

impl CallStats {
    pub(super) fn on_attempt(&mut self) {
        self.attempts += 1;
        self.current.0 += 1;
    }

    /// A call ended: `None` completed (in `latency`, measured or not), or
    /// failed with a cause.
    pub(super) fn on_end(&mut self, cause: Option<Cause>, latency: Option<Duration>) {
        match cause {
            None => {
                self.completed += 1;
                if let Some(l) = latency {
                    let ns = l.as_nanos();
                    self.latency_sum += u128::from(ns);
                    self.latency.saturating_record(ns.clamp(1, HIGHEST_NS));
                }
            }
            Some(c) => {
                self.failed += 1;
                self.failed_by[c as usize] += 1;
                self.current.1 += 1;
            }
        }
    }

    pub(super) fn close_bucket(&mut self) {
        self.series.push(std::mem::take(&mut self.current));
    }

    /// Every call ended in exactly one way.
    pub fn conserved(&self) -> bool {
        self.calls == self.completed + self.failed + self.cancelled
    }

    /// Mean latency of the measured completed calls, in ms.
    pub fn latency_mean_ms(&self) -> f64 {
        let n = self.latency.len();
        if n == 0 {
            0.0
        } else {
            self.latency_sum as f64 / n as f64 / 1e6
        }
    }

    /// A latency quantile of the measured completed calls, in ms.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            0.0
        } else {
            self.latency.value_at_quantile(q) as f64 / 1e6
        }
    }

    /// Completed over ended.
    pub fn success_rate(&self) -> f64 {
        let ended = self.completed + self.failed + self.cancelled;
        if ended == 0 {
            0.0
        } else {
            self.completed as f64 / ended as f64
        }
    }
}
