//! The simulated fleet: agents built from the scenario's tiers, each with
//! `concurrency` service slots and a local FIFO for requests that find every
//! slot busy.
//!
//! An agent's health is ground truth here (down, cut off, slowed by
//! `faults`); what the dispatcher *believes* lives in the discovery
//! components the world keeps beside it.
//!
//! Agents are numbered tier by tier in scenario order (`agent-0` is the first
//! agent of the first tier), so ids are stable for a given scenario. A
//! tier that can grow (`join` faults, `[[autoscale]]`) has `spares`:
//! agents allocated at the start but absent, numbered after *every* tier's
//! own agents, tier by tier, so adding a join never renumbers the agents
//! a scenario already names.
//!
//! An agent's [`Presence`] is its place in the fleet's lifecycle:
//! absent → starting (booting, for `startup`) → joining (registered,
//! waiting for a passing probe; skipped without probes) → serving →
//! draining (deregistered, finishing what it holds) → absent.

pub mod calls;

use std::collections::VecDeque;

use crate::rng::{Dist, Quantile};
use crate::time::{Duration, Instant, Moment};

/// How long a tier takes to serve a task.
///
/// A distribution is sampled at the task's own quantile (one draw per task,
/// the same on every tier: common random numbers). `per_work` serves a task
/// that carries a work amount (a replayed request's size) in
/// `base + work × per_unit`, so a large request is slow on every agent and
/// slower on a slow tier; a task without one falls back to `otherwise`.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceTime {
    Dist(Dist),
    PerWork {
        base: Duration,
        /// Nanoseconds per unit of work (may be fractional: 0.5 ns/byte).
        per_unit_ns: f64,
        otherwise: Dist,
    },
}

impl ServiceTime {
    /// The service time of a task at quantile `q` carrying `work`.
    #[inline(always)]
    pub fn of(&self, q: Quantile, work: Option<f64>) -> Duration {
        match self {
            ServiceTime::Dist(d) => d.quantile_of(q),
            ServiceTime::PerWork {
                base,
                per_unit_ns,
                otherwise,
            } => match work {
                Some(w) => *base + Duration(crate::time::saturating_nanos(w * per_unit_ns)),
                None => otherwise.quantile_of(q),
            },
        }
    }

    /// Whether the service time of a quantile reads its exponential
    /// transform (worth working out ahead, [`Quantile::with_exp`]).
    pub fn uses_exp(&self) -> bool {
        match self {
            ServiceTime::Dist(d) => d.uses_exp(),
            ServiceTime::PerWork { otherwise, .. } => otherwise.uses_exp(),
        }
    }

    /// A typical service time (probes answer in it): the median of the
    /// distribution, or `base` for work-dependent service.
    pub fn typical(&self) -> Duration {
        match self {
            ServiceTime::Dist(d) => d.quantile(0.5),
            ServiceTime::PerWork { base, .. } => *base,
        }
    }
}

/// A validated tier of the fleet: `count` identical agents.
#[derive(Clone, Debug)]
pub struct Tier {
    pub name: String,
    pub count: u32,
    pub weight: f64,
    pub concurrency: u32,
    pub service_time: ServiceTime,
    pub error_rate: f64,
    pub capabilities: Vec<String>,
    pub tags: Vec<String>,
    /// The calls its agents make after their own service.
    pub calls: calls::Calls,
    /// Long-run fraction of time an agent is up (1.0 = never fails).
    pub uptime: f64,
    /// The down periods (exponential of mean `mttr`, or the distribution
    /// `mttr` names); up periods are exponential with the mean that makes
    /// `uptime` the long-run fraction up: `E[repair] · uptime / (1 − uptime)`.
    pub repair: Dist,
    /// Pre-allocated agents that start absent and may join later.
    pub spares: u32,
}

impl Tier {
    /// Do this tier's agents go down on their own?
    pub fn fails(&self) -> bool {
        self.uptime < 1.0
    }
}

/// Where an agent is in the fleet's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Not part of the fleet (a spare, or gone after a drain).
    Absent,
    /// Booting: not registered yet.
    Starting,
    /// Registered, waiting for its first passing probe.
    Joining,
    /// Registered and eligible for traffic.
    Serving,
    /// Deregistered: serves what it holds, then leaves.
    Draining,
}

impl Presence {
    /// Counted in agent-seconds: running, whether serving or not.
    pub fn present(self) -> bool {
        self != Presence::Absent
    }

    /// Registered with the registry (heartbeats, probes answered).
    pub fn registered(self) -> bool {
        matches!(self, Presence::Joining | Presence::Serving)
    }
}

/// What holds an agent's slots, in the order a `Vec` with `push` and
/// `swap_remove` would keep it, with the first entry stored inline.
///
/// Why: most agents have one slot, and a probe or a request ending at an
/// agent of a large fleet used to follow the `Vec`'s pointer to a buffer
/// of its own, one more cache miss per event; with the first entry in the
/// agent itself, a one-slot agent needs none. The order is part of the
/// results (an agent that goes down refuses what it held in this order),
/// so it is exactly the `Vec`'s.
#[derive(Clone, Debug, Default)]
pub struct Slots {
    /// The first entry, or `None`; never `None` while `rest` has entries.
    first: Option<u32>,
    rest: Vec<u32>,
}

impl Slots {
    /// Add `x` at the end.
    #[inline]
    pub fn push(&mut self, x: u32) {
        match self.first {
            None => self.first = Some(x),
            Some(_) => self.rest.push(x),
        }
    }

    /// Remove `x` if held, moving the last entry into its place (as
    /// `Vec::swap_remove` at its position). Returns whether it was held.
    #[inline]
    pub fn remove(&mut self, x: u32) -> bool {
        if self.first == Some(x) {
            // The last entry (if any) moves into the hole.
            self.first = self.rest.pop();
            return true;
        }
        match self.rest.iter().position(|&r| r == x) {
            Some(k) => {
                self.rest.swap_remove(k);
                true
            }
            None => false,
        }
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &u32> + '_ {
        self.first.iter().chain(self.rest.iter())
    }

    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Take every entry, in order, leaving none.
    pub fn take_all(&mut self) -> Vec<u32> {
        let mut all = Vec::with_capacity(self.len());
        all.extend(self.first.take());
        all.append(&mut self.rest);
        all
    }
}

/// One agent's state in a run.
///
/// Laid out by hand (`repr(C)`, whole cache lines): a large fleet's agents
/// do not stay in cache, and a request or a probe reaching one reads it
/// from memory. What every request and probe reads and writes fits in the
/// first two lines: the first holds what a probe or a request checks
/// (slots, presence, whether a fault is in effect, the tier) and the slots
/// in service; the second the send times a request writes, the queue and
/// the counts a finished request updates. The lifecycle's times fill the
/// third; the faults themselves and what async tiers use, which few
/// agents ever hold, are boxed apart ([`Extra`]).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Agent {
    // First line.
    /// Index into the scenario's tiers.
    pub tier: u32,
    pub concurrency: u32,
    /// Slots in use.
    pub busy: u32,
    /// Requests sent to it and not yet answered by it (on their way, queued,
    /// in service, calling): a draining agent leaves when this is zero.
    pub held: u32,
    /// Down in the availability model.
    pub unavailable: bool,
    /// Its place in the fleet's lifecycle (see [`Agent::set_presence`]).
    presence: Presence,
    /// A drain that ends while it is still draining: rejoin once it left.
    pub rejoin_when_gone: bool,
    /// Some scheduled fault is in effect (`faults` is not empty): checked
    /// here so that an agent with none never reads that list.
    faulted: bool,
    /// Bumped each time it starts, so a stale start timer is ignored.
    pub start_epoch: u32,
    /// Requests in service (at most `concurrency`).
    pub in_service: Slots,
    /// Slot-time spent serving.
    pub busy_time: Duration,
    // Second line.
    /// When the first request after its last registration, and the last
    /// request, were sent to it (none yet: see [`Agent::first_sent`]).
    first_sent: Moment,
    last_sent: Moment,
    /// Requests waiting for a slot, oldest first (request slots in the world).
    pub queue: VecDeque<u32>,
    /// Requests served (successfully or not).
    pub served: u64,
    /// Requests that failed.
    pub failures: u64,
    // Third line.
    /// Faults in effect and requests waiting for calls, if the agent ever
    /// had any.
    extra: Option<Box<Extra>>,
    /// Since when the agent is down or cut off, if it is.
    silent_since: Moment,
    silent_total: Duration,
    present_since: Moment,
    present_total: Duration,
    /// The last time it registered, became eligible, began to drain, left.
    pub registered_at: Moment,
    pub serving_at: Moment,
    pub drained_at: Moment,
}

/// An agent's ground truth at one moment (see [`Agent::condition`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub down: bool,
    pub cut: bool,
}

impl Condition {
    /// Down or cut off.
    pub fn silent(self) -> bool {
        self.down || self.cut
    }
}

/// What a fault in effect does to an agent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultEffect {
    Crash,
    Partition,
    Slow(f64),
}

impl Agent {
    pub fn has_free_slot(&self) -> bool {
        self.busy < self.concurrency
    }

    /// The process is gone: requests are refused, probes fail at once.
    pub fn is_down(&self) -> bool {
        self.unavailable
            || (self.faulted && self.faults().iter().any(|f| f.1 == FaultEffect::Crash))
    }

    /// Nothing reaches the agent or leaves it.
    pub fn is_cut_off(&self) -> bool {
        self.faulted && self.faults().iter().any(|f| f.1 == FaultEffect::Partition)
    }

    /// Is some scheduled fault in effect?
    #[inline]
    pub fn faulted(&self) -> bool {
        self.faulted
    }

    /// Scheduled faults in effect, by fault index, in the order they took
    /// effect.
    fn faults(&self) -> &[(u32, FaultEffect)] {
        self.extra.as_deref().map_or(&[], |e| &e.faults)
    }

    /// Fault `fault` takes effect (after those in effect).
    pub fn add_fault(&mut self, fault: u32, effect: FaultEffect) {
        self.extra
            .get_or_insert_default()
            .faults
            .push((fault, effect));
        self.faulted = true;
    }

    /// Fault `fault` ends.
    pub fn remove_fault(&mut self, fault: u32) {
        if let Some(e) = &mut self.extra {
            e.faults.retain(|&(j, _)| j != fault);
        }
        self.faulted = !self.faults().is_empty();
    }

    /// Every fault in effect ends (a `recover`).
    pub fn clear_faults(&mut self) {
        if let Some(e) = &mut self.extra {
            e.faults.clear();
        }
        self.faulted = false;
    }

    /// Request `r` of an async tier waits for its calls, holding no slot.
    pub fn start_calling(&mut self, r: u32) {
        self.extra.get_or_insert_default().calling.push(r);
    }

    /// Request `r` no longer waits for its calls (if it did). The last one
    /// waiting takes its place (as `Vec::swap_remove`).
    pub fn stop_calling(&mut self, r: u32) {
        if let Some(e) = &mut self.extra
            && let Some(i) = e.calling.iter().position(|&x| x == r)
        {
            e.calling.swap_remove(i);
        }
    }

    /// Move every request waiting for its calls to the end of `out`, in
    /// the order they began to wait.
    pub fn take_calling_into(&mut self, out: &mut Vec<u32>) {
        if let Some(e) = &mut self.extra {
            out.append(&mut e.calling);
        }
    }

    /// A request is sent to it now.
    #[inline]
    pub fn note_sent(&mut self, now: Instant) {
        if !self.first_sent.is_some() {
            self.first_sent = Moment::at(now);
        }
        self.last_sent = Moment::at(now);
    }

    /// The first request sent to it since it last registered, if any.
    pub fn first_sent(&self) -> Option<Instant> {
        self.first_sent.get()
    }

    /// The last request sent to it, if any.
    pub fn last_sent(&self) -> Option<Instant> {
        self.last_sent.get()
    }

    /// It registers again: the next request sent is its first.
    pub fn forget_first_sent(&mut self) {
        self.first_sent = Moment::NONE;
    }

    /// Down or cut off: no heartbeats, no answers.
    pub fn is_silent(&self) -> bool {
        self.condition().silent()
    }

    /// Whether it is down and whether it is cut off, as one value to
    /// compare before and after a change.
    pub fn condition(&self) -> Condition {
        Condition {
            down: self.is_down(),
            cut: self.is_cut_off(),
        }
    }

    /// How many times longer service takes now (1 = normal).
    pub fn slowdown(&self) -> f64 {
        if !self.faulted {
            return 1.0;
        }
        self.faults()
            .iter()
            .filter_map(|f| match f.1 {
                FaultEffect::Slow(x) => Some(x),
                _ => None,
            })
            .product()
    }

    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Move to `p` at `now`, accounting present time.
    pub fn set_presence(&mut self, now: Instant, p: Presence) {
        match (self.presence.present(), p.present()) {
            (false, true) => self.present_since = Moment::at(now),
            (true, false) => {
                if let Some(since) = self.present_since.take() {
                    self.present_total = self.present_total + now.saturating_since(since);
                }
            }
            _ => {}
        }
        self.presence = p;
    }

    /// Time spent present (starting, joining, serving or draining) up to
    /// `now`.
    pub fn present_time(&self, now: Instant) -> Duration {
        match self.present_since.get() {
            Some(since) => self.present_total + now.saturating_since(since),
            None => self.present_total,
        }
    }

    /// Account silent time after a change of state at `now`.
    pub fn note_state(&mut self, now: Instant) {
        match (self.silent_since.get(), self.is_silent()) {
            (None, true) => self.silent_since = Moment::at(now),
            (Some(since), false) => {
                self.silent_total = self.silent_total + now.saturating_since(since);
                self.silent_since = Moment::NONE;
            }
            _ => {}
        }
    }

    /// Time spent down or cut off up to `now`.
    pub fn silent_time(&self, now: Instant) -> Duration {
        match self.silent_since.get() {
            Some(since) => self.silent_total + now.saturating_since(since),
            None => self.silent_total,
        }
    }
}

/// The agents of a fleet, tier by tier, then every tier's spares (absent),
/// tier by tier.
pub fn build(tiers: &[Tier]) -> Vec<Agent> {
    // Sized up front: a chain of `flat_map`s has no exact length, and
    // growing a vector of 100,000 agents (192 bytes each) by doubling
    // copied it all some seventeen times.
    let total = tiers.iter().map(|t| (t.count + t.spares) as usize).sum();
    let mut agents = Vec::with_capacity(total);
    for presence in [Presence::Serving, Presence::Absent] {
        for (ti, t) in tiers.iter().enumerate() {
            let n = if presence == Presence::Serving {
                t.count
            } else {
                t.spares
            };
            agents.extend((0..n).map(|_| new_agent(ti, t, presence)));
        }
    }
    agents
}

// Three cache lines: the two a request touches, and one for the rest.
const _: () = assert!(std::mem::size_of::<Agent>() == 192);

/// What few agents need, boxed on first use ([`Agent`]'s third line has a
/// pointer to it instead of two vectors of 24 bytes each).
#[derive(Clone, Debug, Default)]
struct Extra {
    /// Scheduled faults in effect, by fault index (a handful at most).
    faults: Vec<(u32, FaultEffect)>,
    /// Requests of an async tier waiting for their calls, holding no slot.
    calling: Vec<u32>,
}

/// A new agent of tier `t` (index `ti`), idle.
fn new_agent(ti: usize, t: &Tier, presence: Presence) -> Agent {
    Agent {
        tier: ti as u32,
        concurrency: t.concurrency,
        busy: 0,
        queue: VecDeque::new(),
        in_service: Slots::default(),
        unavailable: false,
        extra: None,
        faulted: false,
        silent_since: Moment::NONE,
        silent_total: Duration::ZERO,
        served: 0,
        failures: 0,
        busy_time: Duration::ZERO,
        presence,
        held: 0,
        start_epoch: 0,
        rejoin_when_gone: false,
        present_since: presence.present().then_some(Instant::ZERO).into(),
        present_total: Duration::ZERO,
        registered_at: presence.present().then_some(Instant::ZERO).into(),
        serving_at: presence.present().then_some(Instant::ZERO).into(),
        drained_at: Moment::NONE,
        first_sent: Moment::NONE,
        last_sent: Moment::NONE,
    }
}

/// The tier index of each agent id (its own agents, then spares).
pub fn tier_of(tiers: &[Tier]) -> Vec<u32> {
    let mut out = vec![0; tiers.iter().map(|t| (t.count + t.spares) as usize).sum()];
    for (t, ids) in tier_ids(tiers).iter().enumerate() {
        for &a in ids {
            out[a as usize] = t as u32;
        }
    }
    out
}

/// The ids of each tier's agents, its own then its spares, in id order.
pub fn tier_ids(tiers: &[Tier]) -> Vec<Vec<u32>> {
    let own: u32 = tiers.iter().map(|t| t.count).sum();
    let (mut first, mut spare) = (0u32, own);
    tiers
        .iter()
        .map(|t| {
            let mut ids: Vec<u32> = (first..first + t.count).collect();
            ids.extend(spare..spare + t.spares);
            first += t.count;
            spare += t.spares;
            ids
        })
        .collect()
}

/// What an agent's display id starts with, before its number.
pub const AGENT_ID_PREFIX: &str = "agent-";

/// The stable display id of agent `i`.
pub fn agent_id(i: usize) -> String {
    let mut s = String::with_capacity(16);
    s.push_str(AGENT_ID_PREFIX);
    crate::text::push_decimal(&mut s, i as u64);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hot fields sit where `Agent`'s layout says.
    #[test]
    fn agent_lines() {
        use std::mem::offset_of;
        assert_eq!(std::mem::align_of::<Agent>(), 64);
        for end in [
            offset_of!(Agent, faulted) + 1,
            offset_of!(Agent, in_service) + std::mem::size_of::<Slots>(),
            offset_of!(Agent, busy_time) + 8,
        ] {
            assert!(end <= 64, "first line ends at {end}");
        }
        assert_eq!(offset_of!(Agent, first_sent), 64);
        for end in [
            offset_of!(Agent, last_sent) + 8,
            offset_of!(Agent, queue) + std::mem::size_of::<VecDeque<u32>>(),
            offset_of!(Agent, served) + 8,
            offset_of!(Agent, failures) + 8,
        ] {
            assert!(end <= 128, "second line ends at {end}");
        }
    }

    /// `Slots` keeps exactly the order of a `Vec` under `push` and
    /// `swap_remove`, for any sequence of them.
    #[test]
    fn slots_keep_a_vecs_order() {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let (mut slots, mut vec) = (Slots::default(), Vec::new());
            for step in 0..60u32 {
                if next() % 3 == 0 || vec.is_empty() {
                    slots.push(step);
                    vec.push(step);
                } else {
                    let x = if next() % 5 == 0 {
                        1_000
                    } else {
                        vec[(next() % vec.len() as u64) as usize]
                    };
                    let held = vec.iter().position(|&v| v == x);
                    if let Some(k) = held {
                        vec.swap_remove(k);
                    }
                    assert_eq!(slots.remove(x), held.is_some());
                }
                assert_eq!(slots.iter().copied().collect::<Vec<_>>(), vec);
                assert_eq!((slots.len(), slots.is_empty()), (vec.len(), vec.is_empty()));
            }
            assert_eq!(slots.take_all(), vec);
            assert!(slots.is_empty());
        }
    }

    #[test]
    fn per_work_service_is_base_plus_work_and_falls_back_without_work() {
        let st = ServiceTime::PerWork {
            base: Duration::from_millis(2),
            per_unit_ns: 10.0,
            otherwise: Dist::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(3),
            },
        };
        assert_eq!(
            st.of(Quantile::new(0.9), Some(0.0)),
            Duration::from_millis(2)
        );
        assert_eq!(
            st.of(Quantile::new(0.9), Some(100_000.0)),
            Duration::from_millis(3)
        );
        assert_eq!(st.of(Quantile::new(0.5), Some(0.25)), Duration(2_000_003)); // 2.5 ns rounds up
        assert_eq!(st.of(Quantile::new(0.5), None), Duration::from_millis(2));
        assert_eq!(st.of(Quantile::new(0.0), None), Duration::from_millis(1));
        assert_eq!(st.typical(), Duration::from_millis(2));
        // Huge work saturates instead of wrapping.
        assert_eq!(st.of(Quantile::new(0.5), Some(1e30)), Duration(u64::MAX));
        let d = ServiceTime::Dist(Dist::Constant(Duration::from_millis(7)));
        assert_eq!(
            d.of(Quantile::new(0.3), Some(1e9)),
            Duration::from_millis(7)
        );
    }
}
