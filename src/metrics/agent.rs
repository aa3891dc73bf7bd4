//! One agent's service-latency recorder: exact values while they are few, an
//! HDR histogram once they are many, with the same p99 either way.
//!
//! Why: a fleet of 100,000 agents that each hold an eagerly allocated
//! HdrHistogram (2 significant digits up to 10⁸ µs: 16 KB of counts) needs
//! 1.6 GB before a task arrives, and zeroing those pages was a quarter of a
//! large run's CPU. Most agents of a large fleet serve a few requests in a
//! run, so each starts as a small sorted-on-demand list of microsecond
//! values and converts to the histogram only past [`EXACT_UP_TO`] records
//! (the list then costs as much as 1/16 of the histogram and the histogram
//! is the cheaper record).
//!
//! The p99 read from the list is the one the histogram would report
//! (HdrHistogram's `value_at_quantile`: the rank `max(1, ⌈q·n⌉)`, then the
//! highest value equivalent to the value at that rank), so `agents.csv` is
//! the same bytes whichever form an agent ends in. Values the histogram
//! would clamp (above its highest trackable value) convert at once, so the
//! list only holds values the histogram records at their own bucket.

use hdrhistogram::Histogram;

use crate::hist::Counts;

/// Values kept exactly before an agent's recorder becomes a histogram.
pub const EXACT_UP_TO: usize = 256;

/// Values kept in the recorder itself, before a list is allocated: most
/// agents of a large fleet serve fewer than this in a run, and a list of
/// their own was an allocation per agent, a second cache line at each
/// request's end and a free at the end of the run.
pub const INLINE: usize = 12;

/// Room an agent's list takes when it first outgrows [`INLINE`].
const FIRST_ROOM: usize = 32;

/// Per-agent latency in microseconds.
#[derive(Clone, Debug)]
pub enum AgentLatency {
    /// At most [`INLINE`] values, the first `n` of `values`, each at most
    /// the template's highest trackable value, in arrival order.
    Inline { n: u32, values: [u32; INLINE] },
    /// Fewer than [`EXACT_UP_TO`] values, each at most the template's
    /// highest trackable value, in arrival order.
    Few(Vec<u32>),
    /// HdrHistogram's counts for the template's layout ([`Counts`]).
    Many(Box<Counts<u32>>),
}

impl Default for AgentLatency {
    fn default() -> Self {
        AgentLatency::Inline {
            n: 0,
            values: [0; INLINE],
        }
    }
}

impl AgentLatency {
    /// Record `us` (≥ 1). `template` is an empty histogram with the bounds
    /// every agent's histogram has.
    #[inline(always)]
    pub fn record(&mut self, us: u64, template: &Histogram<u32>) {
        match self {
            // A busy agent's: a few instructions, inline where a request
            // ends.
            AgentLatency::Many(h) => h.record(us),
            // Most agents' of a large fleet: in place.
            AgentLatency::Inline { n, values }
                if (*n as usize) < INLINE && us <= template.high() =>
            {
                values[*n as usize] = us as u32;
                *n += 1;
            }
            _ => self.record_few(us, template),
        }
    }

    /// [`Self::record`] past the room in place, or of a value too large
    /// for a list: kept in a list, or past [`EXACT_UP_TO`] (or too large)
    /// turned into counts.
    #[inline(never)]
    fn record_few(&mut self, us: u64, template: &Histogram<u32>) {
        let fits = us <= template.high();
        let values: &[u32] = match self {
            AgentLatency::Many(h) => {
                h.record(us);
                return;
            }
            AgentLatency::Few(values) if fits && values.len() + 1 < EXACT_UP_TO => {
                values.push(us as u32);
                return;
            }
            AgentLatency::Few(values) => values,
            AgentLatency::Inline { n, values } => {
                let kept = &values[..*n as usize];
                if fits && kept.len() + 1 < EXACT_UP_TO {
                    let mut list = Vec::with_capacity(FIRST_ROOM);
                    list.extend_from_slice(kept);
                    list.push(us as u32);
                    *self = AgentLatency::Few(list);
                    return;
                }
                kept
            }
        };
        let mut h = Box::new(Counts::like(template));
        for &v in values {
            h.record(u64::from(v));
        }
        h.record(us);
        *self = AgentLatency::Many(h);
    }

    pub fn is_empty(&self) -> bool {
        match self {
            AgentLatency::Inline { n, .. } => *n == 0,
            AgentLatency::Few(values) => values.is_empty(),
            AgentLatency::Many(h) => h.is_empty(),
        }
    }

    /// The value at `quantile` as the histogram reports it (0 when empty),
    /// at the end of a run: the kept values are sorted where they are, not
    /// copied first (one allocation per agent that served, in a fleet of
    /// 100,000).
    pub fn into_value_at_quantile(self, quantile: f64, template: &Histogram<u32>) -> u64 {
        match self {
            AgentLatency::Inline { n, mut values } => {
                let kept = &mut values[..n as usize];
                kept.sort_unstable();
                quantile_of_sorted(kept, quantile, template)
            }
            AgentLatency::Few(mut values) => {
                values.sort_unstable();
                quantile_of_sorted(&values, quantile, template)
            }
            AgentLatency::Many(h) => h.value_at_quantile(quantile),
        }
    }
}

/// HdrHistogram's `value_at_quantile` over `sorted` values (0 when none).
fn quantile_of_sorted(sorted: &[u32], quantile: f64, template: &Histogram<u32>) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let q = quantile.min(1.0);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    let v = u64::from(sorted[rank - 1]);
    if q == 0.0 {
        template.lowest_equivalent(v)
    } else {
        template.highest_equivalent(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Histogram<u32> {
        Histogram::new_with_bounds(1, 100_000_000, 2).unwrap()
    }

    /// A shadow histogram fed the same values gives the same quantiles,
    /// before and after the conversion.
    #[test]
    fn quantiles_match_a_histogram_of_the_same_values() {
        let t = template();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for n in [
            1usize, 2, 3, 7, 11, 12, 13, 99, 100, 101, 255, 256, 257, 1000,
        ] {
            let mut a = AgentLatency::default();
            let mut shadow = t.clone();
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Spread over many magnitudes, with repeats.
                let v = 1 + (state % 1_000) * 10u64.pow((state >> 40) as u32 % 6);
                a.record(v, &t);
                shadow.saturating_record(v);
            }
            let kind = match a {
                AgentLatency::Inline { .. } => "inline",
                AgentLatency::Few(_) => "few",
                AgentLatency::Many(_) => "many",
            };
            let expected = if n <= INLINE {
                "inline"
            } else if n < EXACT_UP_TO {
                "few"
            } else {
                "many"
            };
            assert_eq!(kind, expected, "n={n}");
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(
                    a.clone().into_value_at_quantile(q, &t),
                    shadow.value_at_quantile(q),
                    "n={n} q={q}"
                );
            }
        }
    }

    #[test]
    fn values_past_the_range_convert_at_once() {
        let t = template();
        let mut a = AgentLatency::default();
        assert!(a.is_empty());
        assert_eq!(a.clone().into_value_at_quantile(0.99, &t), 0);
        a.record(5, &t);
        a.record(u64::MAX, &t);
        assert!(matches!(a, AgentLatency::Many(_)));
        let mut shadow = t.clone();
        shadow.saturating_record(5);
        shadow.saturating_record(u64::MAX);
        assert_eq!(
            a.clone().into_value_at_quantile(0.99, &t),
            shadow.value_at_quantile(0.99)
        );
    }
}
