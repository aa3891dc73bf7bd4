//! The load balancer: picks which agent of a pool serves the next request.
//!
//! Why one struct with a strategy inside: the balancer tracks what every
//! strategy may need (requests in flight per backend, in an argmin tree so
//! that least-connections is O(1) per pick and O(log n) per update) and
//! delegates the choice to a small [`Pick`] implementation, one per sibling
//! file. Strategies follow their sources: nginx smooth weighted round robin,
//! Mitzenmacher's power of two choices (Finagle's P2C), tower's balancers.

mod least_connections;
mod p2c;
mod peak_ewma;
mod random;
mod round_robin;
mod smooth_wrr;
mod weighted_random;

use std::fmt;
use std::str::FromStr;

use crate::rng::Stream;
use crate::time::{Duration, Instant};

pub use least_connections::LeastConnections;
pub use p2c::PowerOfTwo;
pub use peak_ewma::PeakEwma;
pub use random::UniformRandom;
pub use round_robin::RoundRobin;
pub use smooth_wrr::SmoothWeighted;
pub use weighted_random::WeightedRandom;

/// The strategies a scenario can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    RoundRobin,
    LeastConnections,
    Weighted,
    Random,
    WeightedRandom,
    P2c,
    PeakEwma,
}

impl Strategy {
    pub const ALL: [Strategy; 7] = [
        Strategy::RoundRobin,
        Strategy::LeastConnections,
        Strategy::Weighted,
        Strategy::Random,
        Strategy::WeightedRandom,
        Strategy::P2c,
        Strategy::PeakEwma,
    ];

    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastConnections => "least_connections",
            Strategy::Weighted => "weighted",
            Strategy::Random => "random",
            Strategy::WeightedRandom => "weighted_random",
            Strategy::P2c => "p2c",
            Strategy::PeakEwma => "peak_ewma",
        }
    }

    /// One line on what it does, for `fleetsim list`.
    pub fn describe(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "each agent in turn",
            Strategy::LeastConnections => {
                "the agent with the fewest requests in flight (lowest index on ties)"
            }
            Strategy::Weighted => "nginx smooth weighted round robin over tier weights",
            Strategy::Random => "uniformly at random",
            Strategy::WeightedRandom => "at random, in proportion to tier weights",
            Strategy::P2c => {
                "power of two choices: two distinct random agents, the less loaded one"
            }
            Strategy::PeakEwma => {
                "peak-EWMA (Finagle, tower): p2c on RTT estimate x (in flight + 1)"
            }
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown strategy `{s}`; one of {}",
                    Strategy::ALL.map(Strategy::as_str).join(", ")
                )
            })
    }
}

/// Requests in flight per backend, with an argmin tree over them.
#[derive(Clone, Debug)]
pub struct Loads {
    inflight: Vec<u32>,
    /// Segment tree of (load, index) minima; leaves at `size..size + n`.
    tree: Vec<(u32, u32)>,
    size: usize,
}

impl Loads {
    pub fn new(n: usize) -> Loads {
        let size = n.max(1).next_power_of_two();
        let mut tree = vec![(u32::MAX, u32::MAX); 2 * size];
        for i in 0..n {
            tree[size + i] = (0, i as u32);
        }
        for i in (1..size).rev() {
            tree[i] = tree[2 * i].min(tree[2 * i + 1]);
        }
        Loads {
            inflight: vec![0; n],
            tree,
            size,
        }
    }

    pub fn len(&self) -> usize {
        self.inflight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Requests in flight at backend `i`.
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        self.inflight[i]
    }

    /// The least-loaded backend, lowest index on ties. O(1).
    #[inline]
    pub fn argmin(&self) -> Option<usize> {
        let (load, i) = self.tree[1];
        (load != u32::MAX).then_some(i as usize)
    }

    #[inline]
    fn set(&mut self, i: usize, load: u32) {
        self.inflight[i] = load;
        let mut node = self.size + i;
        self.tree[node] = (load, i as u32);
        while node > 1 {
            node /= 2;
            self.tree[node] = self.tree[2 * node].min(self.tree[2 * node + 1]);
        }
    }
}

/// One balancing strategy: choose a backend in `0..loads.len()`.
pub trait Pick {
    fn pick(&mut self, now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize>;

    /// Backend `i` answered after `rtt` (for strategies that learn).
    fn on_complete(&mut self, _now: Instant, _i: usize, _rtt: Duration) {}
}

/// Peak-EWMA's settings (tower's defaults: a 30 ms first guess, τ = 10 s).
pub const PEAK_EWMA_DEFAULT_RTT: Duration = Duration::from_millis(30);
pub const PEAK_EWMA_DECAY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
enum Policy {
    RoundRobin(RoundRobin),
    LeastConnections(LeastConnections),
    Weighted(SmoothWeighted),
    Random(UniformRandom),
    WeightedRandom(WeightedRandom),
    P2c(PowerOfTwo),
    PeakEwma(PeakEwma),
}

/// A balancer over a pool of `n` backends (indices `0..n`).
#[derive(Clone, Debug)]
pub struct Balancer {
    strategy: Strategy,
    policy: Policy,
    loads: Loads,
}

impl Balancer {
    /// A balancer for backends with the given weights (used by the weighted
    /// strategies; must be positive).
    pub fn new(strategy: Strategy, weights: &[f64]) -> Balancer {
        let n = weights.len();
        let policy = match strategy {
            Strategy::RoundRobin => Policy::RoundRobin(RoundRobin::new(n)),
            Strategy::LeastConnections => Policy::LeastConnections(LeastConnections),
            Strategy::Weighted => Policy::Weighted(SmoothWeighted::new(weights)),
            Strategy::Random => Policy::Random(UniformRandom),
            Strategy::WeightedRandom => Policy::WeightedRandom(WeightedRandom::new(weights)),
            Strategy::P2c => Policy::P2c(PowerOfTwo),
            Strategy::PeakEwma => {
                Policy::PeakEwma(PeakEwma::new(n, PEAK_EWMA_DEFAULT_RTT, PEAK_EWMA_DECAY))
            }
        };
        Balancer {
            strategy,
            policy,
            loads: Loads::new(n),
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Requests in flight at backend `i`, as the balancer counts them.
    pub fn inflight(&self, i: usize) -> u32 {
        self.loads.get(i)
    }

    /// Choose the backend for the next request; `None` if the pool is empty.
    #[inline]
    pub fn pick(&mut self, now: Instant, rng: &mut Stream) -> Option<usize> {
        if self.loads.is_empty() {
            return None;
        }
        let loads = &self.loads;
        match &mut self.policy {
            Policy::RoundRobin(p) => p.pick(now, loads, rng),
            Policy::LeastConnections(p) => p.pick(now, loads, rng),
            Policy::Weighted(p) => p.pick(now, loads, rng),
            Policy::Random(p) => p.pick(now, loads, rng),
            Policy::WeightedRandom(p) => p.pick(now, loads, rng),
            Policy::P2c(p) => p.pick(now, loads, rng),
            Policy::PeakEwma(p) => p.pick(now, loads, rng),
        }
    }

    /// A request was sent to backend `i`.
    #[inline]
    pub fn on_dispatch(&mut self, _now: Instant, i: usize) {
        let l = self.loads.get(i);
        self.loads.set(i, l + 1);
    }

    /// Backend `i` answered a request after `rtt`.
    #[inline]
    pub fn on_complete(&mut self, now: Instant, i: usize, rtt: Duration) {
        let l = self.loads.get(i);
        debug_assert!(l > 0, "backend {i} completed a request it did not have");
        self.loads.set(i, l.saturating_sub(1));
        if let Policy::PeakEwma(p) = &mut self.policy {
            p.on_complete(now, i, rtt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

    #[test]
    fn strategy_names_round_trip_and_unknowns_list_the_choices() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        let e = "fastest".parse::<Strategy>().unwrap_err();
        assert!(e.contains("round_robin") && e.contains("p2c"), "{e}");
    }

    #[test]
    fn argmin_tracks_updates_with_lowest_index_on_ties() {
        let mut l = Loads::new(5);
        assert_eq!(l.argmin(), Some(0));
        l.set(0, 2);
        l.set(1, 1);
        assert_eq!(l.argmin(), Some(2));
        l.set(2, 1);
        l.set(3, 1);
        l.set(4, 1);
        assert_eq!(l.argmin(), Some(1));
        assert_eq!(Loads::new(0).argmin(), None);
    }

    proptest! {
        /// The argmin tree agrees with a linear scan after any updates.
        #[test]
        fn argmin_matches_a_scan(n in 1usize..40, ops in proptest::collection::vec((0usize..40, 0u32..5), 0..200)) {
            let mut l = Loads::new(n);
            for (i, v) in ops {
                l.set(i % n, v);
                let scan = (0..n).min_by_key(|&j| (l.get(j), j));
                prop_assert_eq!(l.argmin(), scan);
            }
        }

        /// Every strategy picks a valid backend.
        #[test]
        fn picks_are_in_range(n in 1usize..30, seed in any::<u64>(), picks in 1usize..100) {
            let weights: Vec<f64> = (0..n).map(|i| 0.3 + i as f64).collect();
            let mut rng = Seed(seed).stream("lb");
            for s in Strategy::ALL {
                let mut b = Balancer::new(s, &weights);
                for _ in 0..picks {
                    let i = b.pick(Instant::ZERO, &mut rng).unwrap();
                    prop_assert!(i < n);
                    b.on_dispatch(Instant::ZERO, i);
                }
            }
        }
    }
}
