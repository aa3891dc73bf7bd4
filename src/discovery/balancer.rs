//! The load balancer: picks which agent of a pool serves the next request.
//!
//! Why one struct with a strategy inside: the balancer tracks what every
//! strategy may need — requests in flight per backend, in an argmin tree so
//! that least-connections is O(1) per pick and O(log n) per update, and which
//! backends are eligible, both in that tree (an ineligible leaf holds a
//! sentinel) and as a dense list for the random strategies ([`Loads`]) — and
//! delegates the choice to a small [`Pick`] implementation, one per sibling
//! file. Strategies follow their sources: nginx smooth weighted round robin,
//! Mitzenmacher's power of two choices (Finagle's P2C), tower's balancers.
//!
//! Eligibility: the simulator marks a backend ineligible while it is
//! unhealthy, its circuit breaker is open or its registry lease has expired
//! ([`Balancer::set_eligible`], O(log n)); `pick` never returns an ineligible
//! backend and returns `None` when none is eligible. Envoy's panic threshold
//! ([`Balancer::set_panic_threshold`]): while fewer than that fraction of the
//! backends are eligible, the balancer ignores eligibility and picks among
//! all of them. Entering or leaving panic rebuilds the strategy's view of
//! eligibility, O(n log n), which is rare.
//!
//! Two levels of eligibility, after Envoy's degraded hosts
//! ([`Balancer::set_degraded`]): an eligible backend marked degraded is a
//! fallback. While at least one eligible backend is not degraded, the
//! strategies see only those; when none is, they see the degraded ones
//! (Envoy's overprovisioning factor is not modelled: degraded backends take
//! traffic only when no healthy one is eligible). Switching level rebuilds
//! the strategy's view like panic does, O(n log n), only when the level
//! changes; each pick stays as cheap as before. Panic counts degraded
//! backends as eligible (Envoy's healthy + degraded).
//!
//! [`Balancer::set_strategy`] switches strategy mid-run, keeping in-flight
//! counts and eligibility; the new strategy starts fresh.
//!
//! With every backend eligible, each strategy picks exactly as it did before
//! eligibility existed (same picks, same random draws), except
//! `weighted_random`: it now draws an integer below the total of the integer
//! weights (thousandths) instead of a float, which picks the same backend
//! unless the draw falls within rounding of a boundary between two backends,
//! `below`'s rare rejection fires, or a weight is not a whole number of
//! thousandths.

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
    /// Does the strategy pick by [`Loads::argmin`]? Then the balancer's
    /// tree follows the loads ([`Loads::track_loads`]).
    fn uses_argmin(self) -> bool {
        self == Strategy::LeastConnections
    }

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

/// How the world routes to agents its health monitor holds DEGRADED
/// (`[balancer] degraded`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DegradedRouting {
    /// Envoy's rule: only when no eligible agent is HEALTHY
    /// ([`Balancer::set_degraded`]).
    #[default]
    Fallback,
    /// As if they were HEALTHY.
    Equal,
}

impl DegradedRouting {
    pub const ALL: [DegradedRouting; 2] = [DegradedRouting::Fallback, DegradedRouting::Equal];

    pub fn as_str(self) -> &'static str {
        match self {
            DegradedRouting::Fallback => "fallback",
            DegradedRouting::Equal => "equal",
        }
    }
}

impl FromStr for DegradedRouting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DegradedRouting::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown value `{s}`; one of fallback, equal"))
    }
}

/// Sentinel leaf of the argmin tree: an ineligible backend, or padding.
const NONE_LEAF: u64 = u64::MAX;
/// Position-map value of a backend that is not in the eligible list.
const ABSENT: u32 = u32::MAX;

/// Requests in flight per backend, with an argmin tree over the eligible
/// ones, and the eligible backends as a dense list.
///
/// The tree packs `(load, index)` into one `u64` per node (`load << 32 |
/// index`), so that the minimum of two nodes is one integer comparison and
/// ties go to the lowest index; an ineligible backend's leaf holds
/// [`NONE_LEAF`] and the root is [`NONE_LEAF`] when no backend is eligible.
/// The dense list (`members`, with the position of each backend in it) lets
/// the random strategies draw among the eligible backends in O(1); removal
/// swaps the last member into the hole. While no backend was ever made
/// ineligible, `members` is `0, 1, .., n − 1`, so a draw `j` picks backend `j`.
///
/// Only least connections asks for the argmin. For the other strategies
/// ([`Loads::track_loads`] off) the leaves hold `(0, index)` for every
/// eligible backend: the tree still knows which backends are eligible
/// (round robin's `next_eligible`), and a change of load, two a request,
/// writes only its count, not a leaf of a large pool's tree.
#[derive(Clone, Debug)]
pub struct Loads {
    inflight: Vec<u32>,
    /// Segment tree of packed `(load, index)` minima; leaves at `size..size + n`.
    /// While `scan` is set only the leaves are kept up to date.
    tree: Vec<u64>,
    size: usize,
    /// A pool of at most [`SCAN_UP_TO`] backends answers `argmin` by
    /// scanning the leaves and `next_eligible` by scanning `position`,
    /// which costs less than keeping the tree on every change of a load
    /// (two changes a request, one scan a pick); larger pools keep the
    /// tree. Same answers either way.
    scan: bool,
    /// The eligible backends, in no particular order.
    members: Vec<u32>,
    /// `position[i]`: where backend `i` is in `members`, or [`ABSENT`].
    position: Vec<u32>,
    /// The leaves carry the loads (else `(0, index)`): see above.
    loads_in_tree: bool,
}

/// The largest pool [`Loads`] scans instead of keeping its tree.
const SCAN_UP_TO: usize = 16;

/// The least of a scanned pool's leaves, halving pairwise: a fixed number
/// of comparisons, which compile to conditional moves. A loop over the
/// pool's own length compiled to a branch per leaf (LLVM turns a chain of
/// conditional moves in a loop into branches), and which leaf holds the
/// least load is a coin toss the branch predictor lost about once a pick.
#[inline(always)]
fn min_of_leaves(mut leaves: [u64; SCAN_UP_TO]) -> u64 {
    let mut half = SCAN_UP_TO / 2;
    while half > 0 {
        for i in 0..half {
            leaves[i] = leaves[i].min(leaves[i + half]);
        }
        half /= 2;
    }
    leaves[0]
}

#[inline]
fn pack(load: u32, i: usize) -> u64 {
    (u64::from(load) << 32) | i as u64
}

impl Loads {
    /// `n` backends, all eligible, none loaded.
    pub fn new(n: usize) -> Loads {
        assert!(n < ABSENT as usize, "at most {} backends", ABSENT - 1);
        // A scanned pool keeps all `SCAN_UP_TO` leaves (the unused ones
        // `NONE_LEAF`), so that its scan has a fixed length: see `argmin`.
        let size = if n <= SCAN_UP_TO {
            SCAN_UP_TO
        } else {
            n.next_power_of_two()
        };
        let mut tree = vec![NONE_LEAF; 2 * size];
        for i in 0..n {
            tree[size + i] = pack(0, i);
        }
        for i in (1..size).rev() {
            tree[i] = tree[2 * i].min(tree[2 * i + 1]);
        }
        Loads {
            inflight: vec![0; n],
            tree,
            size,
            scan: n <= SCAN_UP_TO,
            members: (0..n as u32).collect(),
            position: (0..n as u32).collect(),
            loads_in_tree: true,
        }
    }

    /// Eligible backend `i`'s leaf: its load and index, or `(0, i)` while
    /// the tree does not follow the loads.
    #[inline]
    fn leaf(&self, i: usize) -> u64 {
        pack(
            if self.loads_in_tree {
                self.inflight[i]
            } else {
                0
            },
            i,
        )
    }

    /// Whether the tree follows the loads, for [`Loads::argmin`]: turned
    /// on, the leaves and the nodes above them are rebuilt from the counts
    /// (O(n), at a change of strategy).
    pub fn track_loads(&mut self, on: bool) {
        if on == self.loads_in_tree {
            return;
        }
        self.loads_in_tree = on;
        for i in 0..self.inflight.len() {
            if self.position[i] != ABSENT {
                self.tree[self.size + i] = self.leaf(i);
            }
        }
        for node in (1..self.size).rev() {
            self.tree[node] = self.tree[2 * node].min(self.tree[2 * node + 1]);
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

    /// Whether the strategies may pick backend `i` (in panic, every backend).
    #[inline]
    pub fn is_eligible(&self, i: usize) -> bool {
        self.position[i] != ABSENT
    }

    /// The eligible backends, in no particular order (`0..n` in order while
    /// none was ever made ineligible).
    #[inline]
    pub fn members(&self) -> &[u32] {
        &self.members
    }

    /// The least-loaded eligible backend, lowest index on ties. O(1) (a
    /// scan of at most [`SCAN_UP_TO`] backends in a small pool).
    #[inline]
    pub fn argmin(&self) -> Option<usize> {
        debug_assert!(self.loads_in_tree, "argmin with the loads untracked");
        let root = if self.scan {
            // The leaves alone are kept: their minimum, without a branch.
            let leaves = self.tree[SCAN_UP_TO..2 * SCAN_UP_TO]
                .try_into()
                .expect("a scanned pool has SCAN_UP_TO leaves");
            min_of_leaves(leaves)
        } else {
            self.tree[1]
        };
        (root != NONE_LEAF).then_some(root as u32 as usize)
    }

    /// The first eligible backend at or after `from`, wrapping around past
    /// the last one; `None` if none is eligible. O(log n): climbs from the
    /// leaf to the first subtree on the right holding an eligible backend,
    /// then descends to its leftmost eligible leaf.
    #[inline]
    pub fn next_eligible(&self, from: usize) -> Option<usize> {
        if self.scan {
            let n = self.position.len();
            return (from..n)
                .chain(0..from.min(n))
                .find(|&i| self.position[i] != ABSENT);
        }
        let mut node = self.size + from;
        if self.tree[node] != NONE_LEAF {
            return Some(from);
        }
        loop {
            // Climb while `node` is a right child (the root, 1, is odd too).
            while node & 1 == 1 {
                node >>= 1;
            }
            if node == 0 {
                // Nothing at or after `from`: wrap around to the first one.
                node = 1;
                break;
            }
            node += 1;
            if self.tree[node] != NONE_LEAF {
                break;
            }
        }
        if self.tree[node] == NONE_LEAF {
            return None;
        }
        while node < self.size {
            node *= 2;
            if self.tree[node] == NONE_LEAF {
                node += 1;
            }
        }
        Some(node - self.size)
    }

    /// Sets backend `i`'s load.
    #[inline]
    fn set(&mut self, i: usize, load: u32) {
        self.inflight[i] = load;
        if self.loads_in_tree && self.position[i] != ABSENT {
            self.set_leaf(i, pack(load, i));
        }
    }

    /// Makes backend `i` eligible or not; the caller changes it only when it
    /// differs. O(log n).
    fn set_eligible(&mut self, i: usize, eligible: bool) {
        debug_assert_ne!(self.is_eligible(i), eligible);
        if eligible {
            self.position[i] = self.members.len() as u32;
            self.members.push(i as u32);
            self.set_leaf(i, self.leaf(i));
        } else {
            let at = self.position[i] as usize;
            let last = self.members.pop().expect("backend i is a member");
            if last as usize != i {
                self.members[at] = last;
                self.position[last as usize] = at as u32;
            }
            self.position[i] = ABSENT;
            self.set_leaf(i, NONE_LEAF);
        }
    }

    /// Writes a leaf and restores the minima above it, stopping as soon as
    /// an ancestor keeps its value (those above it cannot change then).
    #[inline]
    fn set_leaf(&mut self, i: usize, value: u64) {
        let mut node = self.size + i;
        self.tree[node] = value;
        if self.scan {
            return;
        }
        while node > 1 {
            let m = self.tree[node].min(self.tree[node ^ 1]);
            node >>= 1;
            if self.tree[node] == m {
                break;
            }
            self.tree[node] = m;
        }
    }
}

/// One balancing strategy: choose an eligible backend (see
/// [`Loads::is_eligible`]), `None` if none is.
pub trait Pick {
    fn pick(&mut self, now: Instant, loads: &Loads, rng: &mut Stream) -> Option<usize>;

    /// Backend `i` answered after `rtt` (for strategies that learn).
    fn on_complete(&mut self, _now: Instant, _i: usize, _rtt: Duration) {}

    /// Backend `i` became eligible or ineligible (for strategies that keep
    /// their own structures over the eligible backends). Called only on a
    /// change, after [`Loads`] has been updated.
    fn on_eligibility(&mut self, _i: usize, _eligible: bool) {}
}

/// Peak-EWMA's settings (tower's defaults: a 30 ms first guess, τ = 10 s).
pub const PEAK_EWMA_DEFAULT_RTT: Duration = Duration::from_millis(30);
pub const PEAK_EWMA_DECAY: Duration = Duration::from_secs(10);

/// The strategies, dispatched by `match` (a `dyn Pick` cost 20–30 % per pick).
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

impl Policy {
    /// A fresh `strategy` over the backends `loads` marks eligible.
    fn new(strategy: Strategy, weights: &[f64], now: Instant, loads: &Loads) -> Policy {
        let n = weights.len();
        let eligible = |i: usize| loads.is_eligible(i);
        match strategy {
            Strategy::RoundRobin => Policy::RoundRobin(RoundRobin::new(n)),
            Strategy::LeastConnections => Policy::LeastConnections(LeastConnections),
            Strategy::Weighted => Policy::Weighted(SmoothWeighted::new(weights, eligible)),
            Strategy::Random => Policy::Random(UniformRandom),
            Strategy::WeightedRandom => {
                Policy::WeightedRandom(WeightedRandom::new(weights, eligible))
            }
            Strategy::P2c => Policy::P2c(PowerOfTwo),
            Strategy::PeakEwma => Policy::PeakEwma(PeakEwma::new(
                n,
                PEAK_EWMA_DEFAULT_RTT,
                PEAK_EWMA_DECAY,
                now,
            )),
        }
    }

    fn on_eligibility(&mut self, i: usize, eligible: bool) {
        match self {
            Policy::RoundRobin(p) => p.on_eligibility(i, eligible),
            Policy::LeastConnections(p) => p.on_eligibility(i, eligible),
            Policy::Weighted(p) => p.on_eligibility(i, eligible),
            Policy::Random(p) => p.on_eligibility(i, eligible),
            Policy::WeightedRandom(p) => p.on_eligibility(i, eligible),
            Policy::P2c(p) => p.on_eligibility(i, eligible),
            Policy::PeakEwma(p) => p.on_eligibility(i, eligible),
        }
    }
}

/// A balancer over a pool of `n` backends (indices `0..n`).
#[derive(Clone, Debug)]
pub struct Balancer {
    strategy: Strategy,
    policy: Policy,
    /// In-flight counts and the eligibility the strategies see: `wanted`,
    /// or every backend while in panic.
    loads: Loads,
    /// The weights given to [`Balancer::new`], to rebuild a strategy.
    weights: Vec<f64>,
    /// The eligibility set by [`Balancer::set_eligible`].
    wanted: Vec<bool>,
    wanted_count: usize,
    /// Backends marked degraded by [`Balancer::set_degraded`], and how
    /// many backends are eligible and not degraded.
    degraded: Vec<bool>,
    preferred_count: usize,
    /// No eligible backend is healthy but some degraded one is: the
    /// strategies see the degraded ones.
    fallback: bool,
    panic_threshold: f64,
    panic: bool,
}

impl Balancer {
    /// A balancer for backends with the given weights (used by the weighted
    /// strategies; must be positive). Every backend starts eligible.
    pub fn new(strategy: Strategy, weights: &[f64]) -> Balancer {
        let n = weights.len();
        let mut loads = Loads::new(n);
        loads.track_loads(strategy.uses_argmin());
        Balancer {
            strategy,
            policy: Policy::new(strategy, weights, Instant::ZERO, &loads),
            loads,
            weights: weights.to_vec(),
            wanted: vec![true; n],
            wanted_count: n,
            degraded: vec![false; n],
            preferred_count: n,
            fallback: false,
            panic_threshold: 0.0,
            panic: false,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Switches to `strategy`, keeping the in-flight counts, eligibility and
    /// panic threshold. The new strategy starts fresh: round robin at backend
    /// 0, smooth weighted round robin with every current value 0, peak-EWMA
    /// with every estimate at its default as of `now`. O(n).
    pub fn set_strategy(&mut self, now: Instant, strategy: Strategy) {
        self.strategy = strategy;
        self.loads.track_loads(strategy.uses_argmin());
        self.policy = Policy::new(strategy, &self.weights, now, &self.loads);
    }

    /// The number of backends, eligible or not.
    pub fn len(&self) -> usize {
        self.wanted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Requests in flight at backend `i`, as the balancer counts them.
    pub fn inflight(&self, i: usize) -> u32 {
        self.loads.get(i)
    }

    /// Whether backend `i` is marked eligible (whatever the panic state).
    pub fn is_eligible(&self, i: usize) -> bool {
        self.wanted[i]
    }

    /// How many backends are marked eligible.
    pub fn eligible_count(&self) -> usize {
        self.wanted_count
    }

    /// Marks backend `i` eligible or not. O(log n); setting the value it
    /// already has does nothing; entering or leaving panic costs O(n log n).
    pub fn set_eligible(&mut self, i: usize, eligible: bool) {
        if self.wanted[i] == eligible {
            return;
        }
        self.wanted[i] = eligible;
        let preferred = usize::from(!self.degraded[i]);
        if eligible {
            self.wanted_count += 1;
            self.preferred_count += preferred;
        } else {
            self.wanted_count -= 1;
            self.preferred_count -= preferred;
        }
        self.update(i);
    }

    /// Marks backend `i` degraded or not: while eligible and degraded it is
    /// picked only when no eligible backend is healthy. O(log n); setting
    /// the value it already has does nothing; changing level (some healthy
    /// eligible backend, or none) costs O(n log n).
    pub fn set_degraded(&mut self, i: usize, degraded: bool) {
        if self.degraded[i] == degraded {
            return;
        }
        self.degraded[i] = degraded;
        if self.wanted[i] {
            if degraded {
                self.preferred_count -= 1;
            } else {
                self.preferred_count += 1;
            }
        }
        self.update(i);
    }

    /// Whether backend `i` is marked degraded.
    pub fn is_degraded(&self, i: usize) -> bool {
        self.degraded[i]
    }

    /// True while no eligible backend is healthy and the strategies pick
    /// among the degraded ones.
    pub fn in_fallback(&self) -> bool {
        self.fallback
    }

    /// After backend `i` changed: rebuild the strategies' view if the
    /// panic state or the level changed, else change `i` alone.
    fn update(&mut self, i: usize) {
        if self.should_panic() != self.panic || self.should_fall_back() != self.fallback {
            self.refresh_panic();
        } else if !self.panic {
            let e = self.sees(i);
            if self.loads.is_eligible(i) != e {
                self.apply(i, e);
            }
        }
    }

    fn should_fall_back(&self) -> bool {
        self.preferred_count == 0 && self.wanted_count > 0
    }

    /// Whether the strategies see backend `i` in the current state.
    fn sees(&self, i: usize) -> bool {
        self.panic || (self.wanted[i] && (self.fallback || !self.degraded[i]))
    }

    /// Envoy's panic threshold, a fraction of the pool in `0.0..=1.0`
    /// (default 0.0, never): while fewer than `fraction × len` backends are
    /// eligible, picks ignore eligibility. Panics if `fraction` is outside
    /// `0.0..=1.0` (or NaN).
    pub fn set_panic_threshold(&mut self, fraction: f64) {
        assert!(
            (0.0..=1.0).contains(&fraction),
            "panic threshold {fraction} is not in 0.0..=1.0"
        );
        self.panic_threshold = fraction;
        if self.should_panic() != self.panic {
            self.refresh_panic();
        }
    }

    /// The panic threshold set by [`Balancer::set_panic_threshold`].
    pub fn panic_threshold(&self) -> f64 {
        self.panic_threshold
    }

    /// True while too few backends are eligible, so picks ignore eligibility.
    pub fn in_panic(&self) -> bool {
        self.panic
    }

    fn should_panic(&self) -> bool {
        (self.wanted_count as f64) < self.panic_threshold * self.len() as f64
    }

    /// Enters or leaves panic or fallback: applies every backend, or the
    /// wanted ones of the current level, to what the strategies see.
    /// O(n log n).
    fn refresh_panic(&mut self) {
        self.panic = self.should_panic();
        self.fallback = self.should_fall_back();
        for i in 0..self.len() {
            let e = self.sees(i);
            if self.loads.is_eligible(i) != e {
                self.apply(i, e);
            }
        }
    }

    /// Changes backend `i`'s eligibility as the strategies see it.
    fn apply(&mut self, i: usize, eligible: bool) {
        self.loads.set_eligible(i, eligible);
        self.policy.on_eligibility(i, eligible);
    }

    /// Chooses the backend for the next request; `None` if no backend is
    /// eligible (never an ineligible one, unless in panic).
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

    #[test]
    fn set_strategy_keeps_the_loads_and_eligibility() {
        let mut b = Balancer::new(Strategy::RoundRobin, &[1.0; 4]);
        let mut rng = Seed(0).stream("t");
        let t = Instant::ZERO;
        // Round robin loads backends 0..4 with 3, 3, 2, 2 requests.
        for _ in 0..10 {
            let i = b.pick(t, &mut rng).unwrap();
            b.on_dispatch(t, i);
        }
        b.set_eligible(2, false);
        b.set_strategy(t, Strategy::LeastConnections);
        assert_eq!(b.strategy(), Strategy::LeastConnections);
        let loads = |b: &Balancer| (0..4).map(|i| b.inflight(i)).collect::<Vec<_>>();
        assert_eq!(loads(&b), [3, 3, 2, 2]);
        assert!(!b.is_eligible(2));
        // Backend 2 is the least loaded but ineligible: 3 it is.
        assert_eq!(b.pick(t, &mut rng), Some(3));
        b.on_dispatch(t, 3);
        assert_eq!(b.pick(t, &mut rng), Some(0), "all at 3: the lowest index");
        b.on_complete(t, 1, Duration::ZERO);
        assert_eq!(b.pick(t, &mut rng), Some(1));
        assert_eq!(loads(&b), [3, 2, 2, 3]);
        // Back to round robin: a fresh cursor, still skipping backend 2.
        b.set_strategy(t, Strategy::RoundRobin);
        let got: Vec<_> = (0..4).map(|_| b.pick(t, &mut rng).unwrap()).collect();
        assert_eq!(got, [0, 1, 3, 0]);
    }

    #[test]
    fn set_strategy_starts_peak_ewma_at_now() {
        let mut b = Balancer::new(Strategy::RoundRobin, &[1.0; 2]);
        let later = Instant::ZERO + Duration::from_secs(100);
        b.set_strategy(later, Strategy::PeakEwma);
        let Policy::PeakEwma(p) = &b.policy else {
            panic!("peak_ewma expected")
        };
        // Not decayed: the estimate is the default as of `later`.
        assert_eq!(
            p.rtt_estimate(later, 0),
            PEAK_EWMA_DEFAULT_RTT.as_nanos() as f64
        );
    }

    #[test]
    fn degraded_backends_are_a_fallback() {
        let mut b = Balancer::new(Strategy::RoundRobin, &[1.0; 4]);
        let mut rng = Seed(1).stream("t");
        let mut picks = |b: &mut Balancer| -> Vec<usize> {
            (0..8)
                .map(|_| b.pick(Instant::ZERO, &mut rng).unwrap())
                .collect()
        };
        b.set_degraded(1, true);
        b.set_degraded(2, true);
        assert!(picks(&mut b).iter().all(|&i| i == 0 || i == 3));
        b.set_eligible(0, false);
        b.set_eligible(3, false);
        assert!(b.in_fallback());
        let p = picks(&mut b);
        assert!(p.contains(&1) && p.contains(&2) && !p.contains(&0) && !p.contains(&3));
        b.set_degraded(2, false);
        assert!(!b.in_fallback());
        assert!(picks(&mut b).iter().all(|&i| i == 2));
        b.set_eligible(2, false);
        b.set_eligible(1, false);
        assert_eq!(b.pick(Instant::ZERO, &mut rng), None);
        assert!(!b.in_fallback());
    }

    #[test]
    fn panic_threshold_ignores_eligibility_below_it() {
        let n = 10;
        let mut b = Balancer::new(Strategy::RoundRobin, &[1.0; 10]);
        b.set_panic_threshold(0.5);
        let mut rng = Seed(0).stream("t");
        let t = Instant::ZERO;
        for i in 0..6 {
            b.set_eligible(i, false);
        }
        assert_eq!(b.eligible_count(), 4);
        assert!(b.in_panic(), "4 < 0.5 × 10");
        let mut seen = [false; 10];
        for _ in 0..2 * n {
            seen[b.pick(t, &mut rng).unwrap()] = true;
        }
        assert!(seen.iter().all(|&s| s), "in panic every backend is picked");
        b.set_eligible(0, true);
        assert!(!b.in_panic(), "5 is not < 5");
        b.set_eligible(1, true);
        assert!(!b.in_panic());
        for s in Strategy::ALL {
            b.set_strategy(t, s);
            for _ in 0..3 * n {
                let i = b.pick(t, &mut rng).unwrap();
                assert!(b.is_eligible(i), "{s}: picked ineligible {i}");
            }
        }
        // Lowering the threshold, or raising it, takes effect at once.
        b.set_panic_threshold(0.7);
        assert!(b.in_panic());
        b.set_panic_threshold(0.0);
        assert!(!b.in_panic());
    }

    #[test]
    fn none_when_no_backend_is_eligible() {
        let mut rng = Seed(0).stream("t");
        for s in Strategy::ALL {
            let mut b = Balancer::new(s, &[1.0, 2.0, 3.0]);
            for i in 0..3 {
                b.set_eligible(i, false);
            }
            assert_eq!(b.pick(Instant::ZERO, &mut rng), None, "{s}");
            b.set_eligible(2, true);
            assert_eq!(b.pick(Instant::ZERO, &mut rng), Some(2), "{s}");
            assert_eq!(Balancer::new(s, &[]).pick(Instant::ZERO, &mut rng), None);
        }
    }

    #[test]
    fn all_eligible_draws_are_the_plain_ones() {
        // While nothing was ever ineligible, random and p2c draw backend `j`
        // exactly as they did without eligibility: `below(n)` and
        // `two_choices(n)` over `0..n`.
        let n = 37;
        let mut rng = Seed(3).stream("t");
        let mut twin = rng.clone();
        let mut b = Balancer::new(Strategy::Random, &vec![1.0; n]);
        for _ in 0..1_000 {
            let want = crate::rng::below(&mut twin, n as u64) as usize;
            assert_eq!(b.pick(Instant::ZERO, &mut rng), Some(want));
        }
        let mut b = Balancer::new(Strategy::P2c, &vec![1.0; n]);
        for k in 0..1_000 {
            let (a, c) = p2c::two_choices(&mut twin, n);
            let want = if b.inflight(c) < b.inflight(a) { c } else { a };
            assert_eq!(b.pick(Instant::ZERO, &mut rng), Some(want));
            b.on_dispatch(Instant::ZERO, want);
            if k % 3 == 0 {
                b.on_complete(Instant::ZERO, want, Duration::ZERO);
            }
        }
    }

    /// Whether `loads` is consistent: members and positions agree, and every
    /// tree node is the minimum of its children.
    fn check_loads(l: &Loads, eligible: &[bool]) {
        assert_eq!(l.len(), eligible.len());
        assert_eq!(l.members.len(), eligible.iter().filter(|&&e| e).count());
        for (p, &m) in l.members.iter().enumerate() {
            assert_eq!(l.position[m as usize] as usize, p);
        }
        for (i, &e) in eligible.iter().enumerate() {
            assert_eq!(l.is_eligible(i), e);
        }
        if l.scan {
            return;
        }
        for (i, &e) in eligible.iter().enumerate() {
            let leaf = l.tree[l.size + i];
            let load = if l.loads_in_tree { l.get(i) } else { 0 };
            assert_eq!(leaf, if e { pack(load, i) } else { NONE_LEAF });
        }
        for node in 1..l.size {
            assert_eq!(l.tree[node], l.tree[2 * node].min(l.tree[2 * node + 1]));
        }
    }

    /// One step of the eligibility property test.
    #[derive(Clone, Debug)]
    enum Op {
        Toggle(usize, bool),
        Pick,
        Complete(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::Strategy as _;
        proptest::prop_oneof![
            1 => (0usize..30, any::<bool>()).prop_map(|(i, e)| Op::Toggle(i, e)),
            2 => proptest::strategy::Just(Op::Pick),
            1 => any::<usize>().prop_map(Op::Complete),
        ]
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

        /// With eligibility toggled, the tree, the member list and
        /// `next_eligible` agree with scans.
        #[test]
        fn eligibility_structures_match_scans(
            n in 1usize..40,
            ops in proptest::collection::vec((0usize..40, 0u32..5, any::<bool>()), 0..200),
        ) {
            let mut l = Loads::new(n);
            let mut eligible = vec![true; n];
            for (k, (i, v, e)) in ops.into_iter().enumerate() {
                let i = i % n;
                // The loads untracked for a stretch now and then, as under
                // a strategy other than least connections.
                l.track_loads(k % 23 < 13);
                l.set(i, v);
                if eligible[i] != e {
                    eligible[i] = e;
                    l.set_eligible(i, e);
                }
                check_loads(&l, &eligible);
                if l.loads_in_tree {
                    let scan = (0..n).filter(|&j| eligible[j]).min_by_key(|&j| (l.get(j), j));
                    prop_assert_eq!(l.argmin(), scan);
                }
                for from in 0..n {
                    let next = (from..n).chain(0..from).find(|&j| eligible[j]);
                    prop_assert_eq!(l.next_eligible(from), next);
                }
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

        /// Under any eligibility masks and toggles interleaved with picks,
        /// dispatches and completions, no strategy picks an ineligible
        /// backend; `pick` is `None` exactly when none is eligible (threshold
        /// 0); in panic it picks some backend; in-flight counts stay right.
        #[test]
        fn never_picks_an_ineligible_backend(
            n in 1usize..30,
            seed in any::<u64>(),
            mask in proptest::collection::vec(any::<bool>(), 30),
            threshold in proptest::prop_oneof![proptest::strategy::Just(0.0), 0.0..=1.0],
            ops in proptest::collection::vec(op(), 0..150),
        ) {
            let weights: Vec<f64> = (0..n).map(|i| [10.0, 1.0, 0.3][i % 3]).collect();
            let mut rng = Seed(seed).stream("lb");
            for s in Strategy::ALL {
                let mut b = Balancer::new(s, &weights);
                b.set_panic_threshold(threshold);
                for (i, &e) in mask.iter().take(n).enumerate() {
                    b.set_eligible(i, e);
                }
                let mut inflight: Vec<usize> = Vec::new();
                let mut now = Instant::ZERO;
                for op in &ops {
                    now += Duration::from_millis(1);
                    match *op {
                        Op::Toggle(i, e) => b.set_eligible(i % n, e),
                        Op::Pick => {
                            let count = (0..n).filter(|&j| b.is_eligible(j)).count();
                            prop_assert_eq!(b.eligible_count(), count);
                            let panic = (count as f64) < threshold * n as f64;
                            prop_assert_eq!(b.in_panic(), panic);
                            match b.pick(now, &mut rng) {
                                Some(i) => {
                                    prop_assert!(i < n);
                                    prop_assert!(panic || b.is_eligible(i), "{} picked {}", s, i);
                                    b.on_dispatch(now, i);
                                    inflight.push(i);
                                }
                                None => prop_assert!(!panic && count == 0, "{}: None", s),
                            }
                        }
                        Op::Complete(k) => {
                            if !inflight.is_empty() {
                                let i = inflight.swap_remove(k % inflight.len());
                                b.on_complete(now, i, Duration::from_millis(5));
                            }
                        }
                    }
                }
                for i in 0..n {
                    let want = inflight.iter().filter(|&&j| j == i).count() as u32;
                    prop_assert_eq!(b.inflight(i), want);
                }
                let wanted: Vec<bool> = (0..n).map(|i| b.in_panic() || b.is_eligible(i)).collect();
                check_loads(&b.loads, &wanted);
            }
        }
    }
}
