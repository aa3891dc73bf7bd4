//! The service registry: agents register with a name, capabilities, tags
//! and metadata, and hold a lease of `ttl` that each heartbeat renews. An
//! agent that stops heartbeating (crashed, cut off) expires when its lease
//! ends; a later heartbeat brings it back; deregistration is final until the
//! agent registers again (Consul's TTL checks, Eureka's lease renewal).
//!
//! Sans-IO: `now` is an argument; expiry is `poll_timeout` (the earliest
//! lease end) / `handle_timeout(now)`, and expired agents are drained with
//! `poll_expired`. Every lease lasts the same `ttl` and `now` never goes
//! back, so lease ends arrive in time order: they are kept in a FIFO
//! (a renewal appends its new end and leaves the old one to be skipped when
//! it reaches the front), which makes a renewal O(1) and keeps no tree to
//! rebalance at every heartbeat (a timing wheel with one slot per end).
//! A held lease that is released (see [`Registry::hold`]) ends a `ttl`
//! after its last heartbeat, which may come before ends already queued:
//! those ends wait in a small heap beside the FIFO.
//! Leases that end at the same time expire in agent-id order. Queries
//! answer in agent-id order, deterministically.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::time::{Duration, Instant};

/// What an agent declares when it registers. Agents alike (a tier) share
/// one registration (behind an `Arc`): the registry tells them apart by
/// id, as Consul tells a service's instances apart by their ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// The service the agent offers (agents alike share it).
    pub name: String,
    pub capabilities: Arc<[String]>,
    pub tags: Arc<[String]>,
    pub metadata: Arc<BTreeMap<String, String>>,
}

/// The state of an agent's registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Registered, lease running until the given time.
    Live { until: Instant },
    /// The lease ran out at the given time.
    Expired { at: Instant },
    /// The agent deregistered.
    Deregistered,
}

/// The registry of a fleet. Agents are identified by a dense `u32` id.
#[derive(Clone, Debug)]
pub struct Registry {
    ttl: Duration,
    /// Each agent's lease (`None`: never registered), apart from its
    /// registration: renewals and expiry touch only this dense array.
    lease_of: Vec<Option<Lease>>,
    /// What each agent registered with (read by queries only); agents
    /// alike share one.
    regs: Vec<Option<Arc<Registration>>>,
    /// Lease ends, (until, id), in nondecreasing `until`. An entry is
    /// current while the agent's lease is `Live { until }` with the same
    /// `until`; stale ones (renewed, deregistered, re-registered) are
    /// dropped when they reach the front, so the front is always current.
    leases: VecDeque<(Instant, u32)>,
    /// Lease ends that a released hold set (`release`: the last
    /// heartbeat's end, which can come before ends already in the FIFO),
    /// smallest first; stale ones are dropped at the top like the FIFO's.
    /// A large fleet releases thousands of holds a heartbeat period, and
    /// inserting each into the FIFO in order walked them all.
    released: BinaryHeap<Reverse<(Instant, u32)>>,
    /// The agents under each capability and tag: `by_capability` and
    /// `by_tag` give a key's place in `sets`.
    by_capability: BTreeMap<String, usize>,
    by_tag: BTreeMap<String, usize>,
    sets: Vec<IdSet>,
    /// The last registration indexed and the places of its capabilities
    /// then tags in `sets`: a fleet registers thousands of agents with one
    /// shared registration, which then costs no key lookup.
    last: Option<(Arc<Registration>, Vec<usize>)>,
    expired: VecDeque<u32>,
}

impl Registry {
    pub fn new(ttl: Duration) -> Registry {
        Registry {
            ttl,
            lease_of: Vec::new(),
            regs: Vec::new(),
            leases: VecDeque::new(),
            released: BinaryHeap::new(),
            by_capability: BTreeMap::new(),
            by_tag: BTreeMap::new(),
            sets: Vec::new(),
            last: None,
            expired: VecDeque::new(),
        }
    }

    /// Make room for agents `0..n` and their first leases (a fleet
    /// registers them all at the start).
    pub fn reserve(&mut self, n: usize) {
        self.lease_of.reserve(n.saturating_sub(self.lease_of.len()));
        self.regs.reserve(n.saturating_sub(self.regs.len()));
        self.leases.reserve(n);
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Register (or re-register) agent `id`; the lease starts now.
    pub fn register(&mut self, now: Instant, id: u32, reg: impl Into<Arc<Registration>>) {
        let reg = reg.into();
        self.remove_indexes(id);
        let i = id as usize;
        if self.lease_of.len() <= i {
            self.lease_of.resize(i + 1, None);
            self.regs.resize(i + 1, None);
        }
        self.index(&reg, id, true);
        let until = now + self.ttl;
        self.lease_of[i] = Some(Lease::Live { until });
        self.regs[i] = Some(reg);
        self.push_lease(until, id);
    }

    /// Renew agent `id`'s lease. An expired agent comes back; a
    /// deregistered or unknown one does not (returns false).
    pub fn heartbeat(&mut self, now: Instant, id: u32) -> bool {
        let ttl = self.ttl;
        let Some(Some(lease)) = self.lease_of.get_mut(id as usize) else {
            return false;
        };
        match *lease {
            Lease::Deregistered => false,
            Lease::Live { .. } | Lease::Expired { .. } => {
                let until = now + ttl;
                *lease = Lease::Live { until };
                self.push_lease(until, id);
                true
            }
        }
    }

    /// Append a lease end (the latest so far: `now + ttl` with `now` not
    /// going back) and drop stale ends from the front.
    fn push_lease(&mut self, until: Instant, id: u32) {
        debug_assert!(
            self.leases.back().is_none_or(|&(t, _)| t <= until),
            "lease ends out of order: {:?} then {until:?}",
            self.leases.back()
        );
        self.leases.push_back((until, id));
        self.drop_stale();
    }

    fn is_current(&self, until: Instant, id: u32) -> bool {
        matches!(
            self.lease_of.get(id as usize),
            Some(Some(Lease::Live { until: u })) if *u == until
        )
    }

    fn drop_stale(&mut self) {
        while let Some(&(until, id)) = self.leases.front() {
            if self.is_current(until, id) {
                break;
            }
            self.leases.pop_front();
        }
        while let Some(&Reverse((until, id))) = self.released.peek() {
            if self.is_current(until, id) {
                break;
            }
            self.released.pop();
        }
    }

    /// Hold agent `id`'s running lease open: its owner knows that every
    /// heartbeat it sends arrives and does not report them one by one, so
    /// the lease cannot end until [`Self::release`]. Returns false (and
    /// does nothing) unless the lease is running.
    pub fn hold(&mut self, id: u32) -> bool {
        let Some(Some(lease @ Lease::Live { .. })) = self.lease_of.get_mut(id as usize) else {
            return false;
        };
        *lease = Lease::Live {
            until: Instant::MAX,
        };
        self.drop_stale();
        true
    }

    /// Is agent `id`'s lease held open ([`Self::hold`])?
    pub fn is_held(&self, id: u32) -> bool {
        self.lease(id)
            == Some(Lease::Live {
                until: Instant::MAX,
            })
    }

    /// Stop holding agent `id`'s lease: its last heartbeat was at `last`
    /// (at or before now), so it runs until `last + ttl`. Its end joins
    /// the heap of released ends (it may come before ends in the FIFO).
    pub fn release(&mut self, id: u32, last: Instant) {
        let Some(Some(lease)) = self.lease_of.get_mut(id as usize) else {
            return;
        };
        if *lease
            != (Lease::Live {
                until: Instant::MAX,
            })
        {
            return;
        }
        let until = last + self.ttl;
        *lease = Lease::Live { until };
        self.released.push(Reverse((until, id)));
    }

    /// Agent `id` leaves the registry.
    pub fn deregister(&mut self, _now: Instant, id: u32) {
        if let Some(Some(lease)) = self.lease_of.get_mut(id as usize) {
            *lease = Lease::Deregistered;
        }
        self.drop_stale();
    }

    /// The earliest lease end, if any lease is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.head().map(|((until, _), _)| until)
    }

    /// The earliest queued lease end, `(until, id)`, and whether it is in
    /// the heap of released ends (else at the front of the FIFO).
    fn head(&self) -> Option<((Instant, u32), bool)> {
        let fifo = self.leases.front().copied();
        let released = self.released.peek().map(|&Reverse(e)| e);
        match (fifo, released) {
            (Some(e), Some(r)) if r < e => Some((r, true)),
            (Some(e), _) => Some((e, false)),
            (None, r) => r.map(|r| (r, true)),
        }
    }

    /// Expire every lease that ended at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let first = self.expired.len();
        while let Some(((until, id), released)) = self.head().filter(|&((t, _), _)| t <= now) {
            if released {
                self.released.pop();
            } else {
                self.leases.pop_front();
            }
            // A stale end, or the twin of one just expired (a lease renewed
            // at the instant it was granted is queued twice).
            if !self.is_current(until, id) {
                continue;
            }
            if let Some(Some(lease)) = self.lease_of.get_mut(id as usize) {
                *lease = Lease::Expired { at: until };
            }
            self.expired.push_back(id);
        }
        // Expiry order is (until, id); the FIFO holds ties in renewal order.
        if self.expired.len() - first > 1 {
            let leases = &self.lease_of;
            let at = |id: u32| match leases[id as usize] {
                Some(Lease::Expired { at }) => at,
                other => unreachable!("agent {id} just expired, lease {other:?}"),
            };
            self.expired.make_contiguous()[first..].sort_by_key(|&id| (at(id), id));
        }
        self.drop_stale();
    }

    /// Agents whose lease expired, in expiry order.
    pub fn poll_expired(&mut self) -> Option<u32> {
        self.expired.pop_front()
    }

    /// The lease of agent `id`.
    pub fn lease(&self, id: u32) -> Option<Lease> {
        *self.lease_of.get(id as usize)?
    }

    /// Is agent `id` registered with a running lease?
    pub fn is_live(&self, id: u32) -> bool {
        matches!(self.lease(id), Some(Lease::Live { .. }))
    }

    /// What agent `id` registered with.
    pub fn registration(&self, id: u32) -> Option<&Registration> {
        self.regs.get(id as usize)?.as_deref()
    }

    /// Live agents with capability `cap`, in id order.
    pub fn with_capability(&self, cap: &str) -> Vec<u32> {
        self.live_in(self.by_capability.get(cap).map(|&s| &self.sets[s]))
    }

    /// Live agents with tag `tag`, in id order.
    pub fn with_tag(&self, tag: &str) -> Vec<u32> {
        self.live_in(self.by_tag.get(tag).map(|&s| &self.sets[s]))
    }

    fn live_in(&self, ids: Option<&IdSet>) -> Vec<u32> {
        ids.into_iter()
            .flat_map(IdSet::iter)
            .filter(|&id| self.is_live(id))
            .collect()
    }

    fn remove_indexes(&mut self, id: u32) {
        let Some(Some(old)) = self.regs.get(id as usize) else {
            return;
        };
        self.index(&Arc::clone(old), id, false);
    }

    /// Add `id` to (or remove it from) the sets of `reg`'s capabilities
    /// and tags. Their places in `sets` are looked up only when `reg` is
    /// not the registration of the last call.
    fn index(&mut self, reg: &Arc<Registration>, id: u32, add: bool) {
        if !(self.last.as_ref()).is_some_and(|(last, _)| Arc::ptr_eq(last, reg)) {
            let mut places = Vec::with_capacity(reg.capabilities.len() + reg.tags.len());
            for c in reg.capabilities.iter() {
                places.push(place(&mut self.by_capability, &mut self.sets, c));
            }
            for t in reg.tags.iter() {
                places.push(place(&mut self.by_tag, &mut self.sets, t));
            }
            self.last = Some((Arc::clone(reg), places));
        }
        let (_, places) = self.last.as_ref().expect("just set");
        for &s in places {
            if add {
                self.sets[s].insert(id);
            } else {
                self.sets[s].remove(id);
            }
        }
    }
}

/// The place in `sets` of `key`'s set, a new empty one the first time the
/// key is seen (a fleet registers thousands of agents under a handful of
/// keys).
fn place(by: &mut BTreeMap<String, usize>, sets: &mut Vec<IdSet>, key: &str) -> usize {
    if let Some(&s) = by.get(key) {
        return s;
    }
    sets.push(IdSet::default());
    by.insert(key.to_string(), sets.len() - 1);
    sets.len() - 1
}

/// A set of agent ids (dense, from 0) as a bitset: O(1) to add or remove,
/// ids in increasing order when read. Registering 100,000 agents into a
/// `BTreeSet` per capability and per tag was a fifth of setting up such a
/// fleet.
#[derive(Clone, Debug, Default)]
struct IdSet {
    words: Vec<u64>,
}

impl IdSet {
    fn insert(&mut self, id: u32) {
        let w = id as usize / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (id % 64);
    }

    fn remove(&mut self, id: u32) {
        if let Some(word) = self.words.get_mut(id as usize / 64) {
            *word &= !(1 << (id % 64));
        }
    }

    /// The ids, in increasing order.
    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                Some(w as u32 * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, caps: &[&str], tags: &[&str]) -> Registration {
        Registration {
            name: name.into(),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            metadata: Arc::new(BTreeMap::from([("zone".to_string(), "a".to_string())])),
        }
    }

    fn s(x: u64) -> Instant {
        Instant(x * 1_000_000_000)
    }

    #[test]
    fn a_lease_expires_exactly_at_the_ttl() {
        let mut r = Registry::new(Duration::from_secs(10));
        r.register(s(0), 0, reg("a", &["compute"], &[]));
        assert_eq!(r.poll_timeout(), Some(s(10)));
        r.handle_timeout(Instant(s(10).0 - 1));
        assert!(r.is_live(0), "alive 1 ns before the TTL");
        r.handle_timeout(s(10));
        assert_eq!(r.lease(0), Some(Lease::Expired { at: s(10) }));
        assert_eq!(r.poll_expired(), Some(0));
        assert_eq!(r.poll_expired(), None);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn heartbeats_renew_and_revive() {
        let mut r = Registry::new(Duration::from_secs(10));
        r.register(s(0), 3, reg("a", &[], &[]));
        assert!(r.heartbeat(s(7), 3));
        r.handle_timeout(s(16));
        assert!(r.is_live(3), "renewed at 7: lease until 17");
        r.handle_timeout(s(17));
        assert!(!r.is_live(3));
        assert!(
            r.heartbeat(s(20), 3),
            "a heartbeat brings an expired agent back"
        );
        assert_eq!(r.lease(3), Some(Lease::Live { until: s(30) }));
        r.deregister(s(21), 3);
        assert!(!r.heartbeat(s(22), 3), "deregistered agents stay out");
        assert!(!r.heartbeat(s(22), 9), "unknown agents are ignored");
        r.handle_timeout(s(100));
        assert_eq!(r.poll_expired(), Some(3), "only the one real expiry");
        assert_eq!(r.poll_expired(), None);
    }

    #[test]
    fn an_id_set_holds_what_a_btreeset_would_in_the_same_order() {
        let mut ids = IdSet::default();
        let mut shadow = std::collections::BTreeSet::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let id = (state % 700) as u32;
            if state >> 63 == 0 {
                ids.insert(id);
                shadow.insert(id);
            } else {
                ids.remove(id);
                shadow.remove(&id);
            }
        }
        ids.remove(1_000_000); // beyond every word: nothing to do
        assert!(!shadow.is_empty());
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            shadow.into_iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn queries_by_capability_and_tag_return_live_agents_in_id_order() {
        let mut r = Registry::new(Duration::from_secs(5));
        r.register(s(0), 2, reg("c", &["etl", "compute"], &["premium"]));
        r.register(s(0), 0, reg("a", &["compute"], &["budget"]));
        r.register(s(3), 1, reg("b", &["compute"], &["premium"]));
        assert_eq!(r.with_capability("compute"), vec![0, 1, 2]);
        assert_eq!(r.with_tag("premium"), vec![1, 2]);
        assert_eq!(r.with_capability("gpu"), Vec::<u32>::new());
        r.handle_timeout(s(5));
        assert_eq!(
            r.with_capability("compute"),
            vec![1],
            "0 and 2 expired at 5"
        );
        // Re-registering replaces the old declaration.
        r.register(s(6), 1, reg("b", &["etl"], &[]));
        assert_eq!(r.with_capability("compute"), Vec::<u32>::new());
        assert_eq!(r.with_capability("etl"), vec![1]);
        assert_eq!(r.registration(1).unwrap().metadata["zone"], "a");
    }

    /// Agents alike share one registration; the places of its keys are
    /// kept between calls, and a different registration (or a
    /// re-registration) indexes by its own keys.
    #[test]
    fn a_shared_registration_indexes_every_agent_under_its_keys() {
        let mut r = Registry::new(Duration::from_secs(5));
        r.reserve(6);
        let compute = Arc::new(reg("tier-a", &["compute"], &["premium"]));
        let etl = Arc::new(reg("tier-b", &["etl", "compute"], &[]));
        for id in [4, 0, 2] {
            r.register(s(0), id, Arc::clone(&compute));
        }
        r.register(s(0), 1, Arc::clone(&etl));
        r.register(s(0), 5, Arc::clone(&compute));
        assert_eq!(r.with_capability("compute"), vec![0, 1, 2, 4, 5]);
        assert_eq!(r.with_capability("etl"), vec![1]);
        assert_eq!(r.with_tag("premium"), vec![0, 2, 4, 5]);
        r.register(s(1), 2, Arc::clone(&etl));
        assert_eq!(r.with_capability("etl"), vec![1, 2]);
        assert_eq!(r.with_tag("premium"), vec![0, 4, 5]);
        assert!(std::ptr::eq(r.registration(0).unwrap(), &*compute));
    }

    #[test]
    fn a_held_lease_never_ends_and_a_released_one_ends_a_ttl_after_its_last_heartbeat() {
        let mut r = Registry::new(Duration::from_secs(3));
        for id in 0..3 {
            r.register(s(0), id, reg("a", &[], &[]));
            assert!(r.hold(id));
        }
        assert_eq!(r.poll_timeout(), None, "held leases wait for no check");
        r.handle_timeout(s(100));
        assert_eq!(r.poll_expired(), None);
        assert!(r.is_live(0) && r.is_live(1) && r.is_live(2));
        // Released out of order: the FIFO stays sorted by lease end.
        r.release(2, s(101));
        r.release(0, s(100));
        r.release(1, s(102));
        r.release(1, s(90)); // not held any more: ignored
        assert_eq!(r.poll_timeout(), Some(s(103)));
        r.handle_timeout(s(104));
        assert_eq!(r.poll_expired(), Some(0));
        assert_eq!(r.poll_expired(), Some(2));
        assert_eq!(r.poll_expired(), None);
        assert!(r.is_live(1));
        // A heartbeat renews it as usual; holding again keeps it.
        assert!(r.heartbeat(s(104), 0));
        assert!(r.hold(0));
        r.deregister(s(104), 2);
        assert!(!r.hold(2), "only a running lease is held");
        r.handle_timeout(s(200));
        assert_eq!(r.poll_expired(), Some(1));
        assert_eq!(r.poll_expired(), None);
        assert!(r.is_live(0));
    }

    /// Shadow model: the lease ends a `BTreeSet` of (until, id) would hold,
    /// against random registrations, heartbeats, deregistrations, holds,
    /// releases (ending before ends already queued) and timeouts (several
    /// at one instant, ties between agents).
    #[test]
    fn leases_expire_as_a_sorted_set_of_ends_would() {
        let ttl = Duration::from_secs(3);
        let mut r = Registry::new(ttl);
        let mut shadow: BTreeMap<u32, Lease> = BTreeMap::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut now = Instant::ZERO;
        for _ in 0..20_000 {
            now += Duration::from_millis(next(3) * 500);
            let id = next(12) as u32;
            match next(12) {
                0 => {
                    r.register(now, id, reg("x", &[], &[]));
                    shadow.insert(id, Lease::Live { until: now + ttl });
                }
                1 => {
                    r.deregister(now, id);
                    if let Some(l) = shadow.get_mut(&id) {
                        *l = Lease::Deregistered;
                    }
                }
                2..=6 => {
                    let known = matches!(
                        shadow.get(&id),
                        Some(Lease::Live { .. } | Lease::Expired { .. })
                    );
                    assert_eq!(r.heartbeat(now, id), known);
                    if known {
                        shadow.insert(id, Lease::Live { until: now + ttl });
                    }
                }
                7 => {
                    let live = matches!(shadow.get(&id), Some(Lease::Live { .. }));
                    assert_eq!(r.hold(id), live);
                    if live {
                        shadow.insert(
                            id,
                            Lease::Live {
                                until: Instant::MAX,
                            },
                        );
                    }
                }
                8 => {
                    // The last heartbeat, up to two periods back.
                    let last = Instant(now.0.saturating_sub(next(5) * 500_000_000));
                    r.release(id, last);
                    if shadow.get(&id)
                        == Some(&Lease::Live {
                            until: Instant::MAX,
                        })
                    {
                        shadow.insert(id, Lease::Live { until: last + ttl });
                    }
                }
                _ => {
                    let mut ends: Vec<(Instant, u32)> = shadow
                        .iter()
                        .filter_map(|(&i, l)| match *l {
                            Lease::Live { until } if until != Instant::MAX => Some((until, i)),
                            _ => None,
                        })
                        .collect();
                    ends.sort();
                    assert_eq!(r.poll_timeout(), ends.first().map(|e| e.0));
                    r.handle_timeout(now);
                    for &(until, i) in ends.iter().take_while(|e| e.0 <= now) {
                        assert_eq!(r.poll_expired(), Some(i), "at {now:?}");
                        shadow.insert(i, Lease::Expired { at: until });
                    }
                    assert_eq!(r.poll_expired(), None);
                }
            }
            for (&i, &l) in &shadow {
                assert_eq!(r.lease(i), Some(l), "agent {i} at {now:?}");
            }
        }
    }
}
