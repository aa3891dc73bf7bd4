//! Heartbeats behind an uncertain latency, drawn per agent and held
//! between the ones that matter.
//!
//! On a network whose latency is random (or constant but too long for the
//! lease to be held by the rules of `world/discovery.rs`), with no broker
//! or broker outage (`Scenario::broker_never_down`), a heartbeat's fate (lost,
//! or arriving after some latency) is drawn from its agent's own stream
//! (`heartbeat-fates/agent-N`), one draw per heartbeat in the order the
//! agent sends them: the network's loss first (on a lossy network), then
//! the latency. A run with every heartbeat an event draws them the same
//! way, so the two are the same run. A cut-off agent's heartbeat draws
//! nothing: its partition loses it as it leaves.
//!
//! Whether a heartbeat matters is then known before it is sent. Call a
//! heartbeat sent at `t` *good* if it arrives, and its latency `l` is under
//! the period (it arrives before the next one leaves) and `period + l`
//! under the `ttl`. A lease renewed at `r`, followed by good heartbeats
//! only, never runs out: the next is sent by `r + period` and arrives
//! before `r + ttl`, and each later one a period after the one before,
//! with the same margin. Nor does anything else see those heartbeats but
//! the bus's counts. So an agent whose lease was just renewed, and which
//! has no other heartbeat on its way, holds the lease open
//! (`Registry::hold`) through its good heartbeats. The next heartbeat that
//! is not good is found ahead by drawing the slots in turn (at most a
//! chunk of them at a time, doubling, so a hold cut short by a failure
//! wastes little), and its slot is the agent's one heartbeat event. There
//! the held heartbeats are counted on the bus, their latencies drawn again
//! from the same words and recorded, and the lease runs a `ttl` from the
//! last of them to arrive; the one that is not good is sent as an event
//! (lost, or arriving late). Every heartbeat after it is an event until
//! one arrives with no other on its way: the lease is renewed then, and
//! held again. An agent that goes silent releases its lease in the same
//! way, for the heartbeats it sent before; the last may still be on its
//! way, and arrives as an event.
//!
//! So a heartbeat costs two draws instead of two events, and only the
//! lost and late ones, and those around them, are events.
//!
//! A heartbeat can arrive at the very nanosecond its lease ends (a latency
//! that repeats exactly, constant or empirical, and a `ttl` that is a sum
//! of whole periods and latencies). The two runs arm the lease check of
//! that instant at different times (here when a hold is released, there
//! when the check before it fired), so its place among the instant's
//! events differs; the lease runs through that instant, and the check
//! waits for the renewals due then (`on_lease_check`), so the
//! heartbeat renews the lease in both.

use super::World;
use crate::bus;
use crate::rng::block::Cursor;
use crate::rng::unit;
use crate::time::{Duration, Instant};

/// The most slots one look ahead goes through at first; each look during
/// the same hold goes through twice as many as the last, up to
/// [`MAX_CHUNK`].
const FIRST_CHUNK: u64 = 16;
const MAX_CHUNK: u64 = 1 << 16;

/// One agent's heartbeats, drawn from its own stream (see the module).
#[derive(Clone, Copy, Debug)]
pub(super) struct HeartbeatDraws {
    /// The stream's position at the next heartbeat's draw: every
    /// heartbeat sent before, held or not, has drawn its fate.
    pos: u64,
    /// While the agent holds its lease: its first held slot not yet
    /// counted (the draw at `pos` is its).
    first: u64,
    /// While it holds its lease: the slot where the look ahead stopped,
    /// every slot from `first` to it being good. Its event is there.
    look: u64,
    /// Slot `look` is not good (else the look ahead stopped at its chunk's
    /// end, and goes on from there).
    look_bad: bool,
    /// How many slots the next look ahead goes through at most.
    chunk: u64,
    /// While it holds its lease: when a heartbeat last renewed it.
    renewed: Instant,
    /// When the last heartbeat it sent as an event arrives (or arrived).
    evented_until: Instant,
    /// When the heartbeat it sent last as an event arrives
    /// (`Instant::MAX`: it was lost).
    last_arrives: Instant,
    /// While it does not hold its lease: its next slot to send.
    next: u64,
    /// When its one pending heartbeat event is due (`Instant::MAX`: none).
    event_at: Instant,
}

impl Default for HeartbeatDraws {
    fn default() -> HeartbeatDraws {
        HeartbeatDraws {
            pos: 0,
            first: 0,
            look: 0,
            look_bad: false,
            chunk: FIRST_CHUNK,
            renewed: Instant::ZERO,
            evented_until: Instant::ZERO,
            last_arrives: Instant::MAX,
            next: 0,
            event_at: Instant::MAX,
        }
    }
}

impl World<'_> {
    /// Are heartbeat fates drawn per agent (see the module)?
    pub(super) fn heartbeats_drawn(&self) -> bool {
        !self.heartbeat_draws.is_empty()
    }

    /// Agent `a`'s heartbeat stream from word `pos` on.
    fn fates(&self, a: usize, pos: u64) -> Cursor {
        self.agent_stream(b"heartbeat-fates/", a, pos)
    }

    /// One heartbeat's fate from `c`: `None` if the network loses it, else
    /// its latency.
    fn draw_fate(&self, c: &mut Cursor) -> Option<Duration> {
        let loss = self.sc.network.loss;
        if loss > 0.0 && unit(c) < loss {
            return None;
        }
        Some(self.sc.network.latency.sample(c))
    }

    /// Can a heartbeat with latency `l` be held (see the module)?
    fn holdable(&self, l: Duration) -> bool {
        let (period, ttl) = (self.sc.registry.heartbeat, self.sc.registry.ttl);
        l < period && period.as_nanos().saturating_add(l.as_nanos()) < ttl.as_nanos()
    }

    /// Agent `a` sends a heartbeat now, as an event: its fate is the next
    /// draw of its stream. Returns false if the network lost it.
    pub(super) fn send_drawn_heartbeat(&mut self, now: Instant, a: usize) -> bool {
        if self.bus.is_cut(bus::Endpoint(a as u32)) {
            // Its partition loses it as it leaves, with no draw (as the
            // bus loses a cut-off endpoint's message).
            self.heartbeat_draws[a].last_arrives = Instant::MAX;
            self.bus.cut_unseen(bus::Kind::Heartbeat, 1);
            return false;
        }
        let mut c = self.fates(a, self.heartbeat_draws[a].pos);
        let fate = self.draw_fate(&mut c);
        let d = &mut self.heartbeat_draws[a];
        d.pos = c.word_pos();
        d.last_arrives = Instant::MAX;
        let Some(l) = fate else {
            self.bus.dropped_unseen(bus::Kind::Heartbeat, 1);
            return false;
        };
        let at = now + l;
        self.heartbeat_draws[a].last_arrives = at;
        self.drawn_heartbeat_arrives_at(at, a, now);
        true
    }

    /// Agent `a`'s heartbeat sent at `sent` is on its way (counted as
    /// sent) and arrives at `at`, as an event.
    fn drawn_heartbeat_arrives_at(&mut self, at: Instant, a: usize, sent: Instant) {
        self.bus.sent_unseen(bus::Kind::Heartbeat);
        let d = &mut self.heartbeat_draws[a];
        d.evented_until = d.evented_until.max(at);
        self.heartbeat_arrives_at(at, a, sent);
    }

    /// Agent `a`'s heartbeat just arrived and renewed its lease (or
    /// registered it again): if no other of its heartbeats is on its way,
    /// it holds the lease from now, through its good heartbeats from its
    /// next slot on. Else its next slot is an event.
    pub(super) fn hold_drawn_on_arrival(&mut self, now: Instant, a: usize) {
        if !self.quiet_heartbeats
            || self.held_since[a] != Instant::MAX
            || self.agents[a].is_down()
            || !self.agents[a].presence().registered()
        {
            return;
        }
        let d = self.heartbeat_draws[a];
        let next = d.next;
        if d.evented_until == now && self.registry.hold(a as u32) {
            self.start_drawn_hold(now, a, next);
        } else {
            self.schedule_drawn_slot(a, next);
        }
    }

    /// Agent `a`, not holding its lease, sends its heartbeats as events
    /// from slot `k` on: that slot's event, unless the heartbeat it sent
    /// last arrives before the slot is due, which then decides (it may
    /// hold the lease: `hold_drawn_on_arrival`).
    fn next_drawn_slot(&mut self, a: usize, k: u64) {
        self.heartbeat_draws[a].next = k;
        let arrives = self.heartbeat_draws[a].last_arrives;
        if self.heartbeat_slot_at(a, k).is_some_and(|t| arrives < t) {
            self.heartbeat_draws[a].event_at = Instant::MAX;
            return;
        }
        self.schedule_drawn_slot(a, k);
    }

    /// The registry holds agent `a`'s lease, renewed at `now`, from its
    /// slot `first` on: look ahead for its next heartbeat that is not good.
    pub(super) fn start_drawn_hold(&mut self, now: Instant, a: usize, first: u64) {
        self.held_since[a] = now;
        let d = &mut self.heartbeat_draws[a];
        d.first = first;
        d.chunk = FIRST_CHUNK;
        d.renewed = now;
        self.look_ahead(a);
    }

    /// Draw agent `a`'s slots from `first` on (none of them counted yet),
    /// up to a chunk of them, until one is not good; its event goes to the
    /// slot where that stops. The draws are made again when the slots are
    /// counted (`count_held`).
    fn look_ahead(&mut self, a: usize) {
        let d = self.heartbeat_draws[a];
        let mut c = self.fates(a, d.pos);
        let end = d.first.saturating_add(d.chunk);
        let (mut k, mut bad) = (d.first, false);
        while k < end {
            match self.draw_fate(&mut c) {
                Some(l) if self.holdable(l) => k += 1,
                _ => {
                    bad = true;
                    break;
                }
            }
        }
        let d = &mut self.heartbeat_draws[a];
        d.look = k;
        d.look_bad = bad;
        d.chunk = (d.chunk * 2).min(MAX_CHUNK);
        self.schedule_drawn_slot(a, k);
    }

    /// Agent `a`'s one heartbeat event is at slot `k` (an earlier pending
    /// one goes stale).
    fn schedule_drawn_slot(&mut self, a: usize, k: u64) {
        let Some(at) = self.heartbeat_slot_at(a, k) else {
            self.heartbeat_draws[a].event_at = Instant::MAX;
            return;
        };
        if self.heartbeat_draws[a].event_at == at {
            return;
        }
        self.heartbeat_draws[a].event_at = at;
        self.engine
            .schedule(at, super::Event::Heartbeat { agent: a as u32 })
            .expect("an agent's next heartbeat slot is ahead");
    }

    /// Count agent `a`'s held heartbeats from slot `first` to slot `until`
    /// (not included), all sent before `now`, drawing their latencies
    /// again: those that arrived before `now` crossed the bus, and the
    /// last, if it is still on its way, arrives as an event (with
    /// `deliver`; else it is counted as sent). Returns when the last one
    /// to arrive did.
    fn count_held(&mut self, a: usize, until: u64, now: Instant, deliver: bool) -> Option<Instant> {
        let d = self.heartbeat_draws[a];
        if until <= d.first {
            return None;
        }
        let mut c = self.fates(a, d.pos);
        let mut last = None;
        for k in d.first..until {
            let l = self
                .draw_fate(&mut c)
                .expect("a held heartbeat was drawn good");
            let sent = self
                .heartbeat_slot_at(a, k)
                .expect("a held heartbeat was sent");
            let at = sent + l;
            if at < now {
                self.bus
                    .crossed_unseen_after(bus::Kind::Heartbeat, 1, l.as_nanos());
                last = Some(at);
            } else if deliver {
                self.drawn_heartbeat_arrives_at(at, a, sent);
            } else {
                self.bus.sent_unseen(bus::Kind::Heartbeat);
            }
        }
        let d = &mut self.heartbeat_draws[a];
        d.pos = c.word_pos();
        d.first = until;
        last
    }

    /// The first of agent `a`'s slots due at or after `t`.
    pub(super) fn slot_from(&self, a: usize, t: Instant) -> u64 {
        if t == Instant::ZERO {
            return 0;
        }
        self.heartbeat_slot_after(a, Instant(t.0 - 1))
    }

    /// Agent `a` holding its lease stops now: the held heartbeats sent
    /// before now are counted, and the lease runs a `ttl` from the last
    /// of them to arrive (or from when it was renewed before them).
    fn release_drawn(&mut self, now: Instant, a: usize, until: u64) {
        self.held_since[a] = Instant::MAX;
        if let Some(t) = self.count_held(a, until, now, true) {
            let d = &mut self.heartbeat_draws[a];
            d.renewed = d.renewed.max(t);
        }
        self.registry
            .release(a as u32, self.heartbeat_draws[a].renewed);
        self.ensure_lease_check_pub();
    }

    /// Agent `a` goes silent now (see [`Self::release_drawn`]).
    pub(super) fn release_drawn_lease(&mut self, now: Instant, a: usize) {
        if self.held_since[a] == Instant::MAX {
            return;
        }
        let until = self.slot_from(a, now);
        self.release_drawn(now, a, until);
    }

    /// Agent `a`'s heartbeat slot at `now`, with quiet drawn heartbeats:
    /// the end of a look ahead while it holds its lease, else a heartbeat
    /// sent as an event. Stale events (superseded) are ignored.
    pub(super) fn on_drawn_slot(&mut self, now: Instant, a: usize) {
        if self.heartbeat_draws[a].event_at != now {
            return;
        }
        self.heartbeat_draws[a].event_at = Instant::MAX;
        let agent = &self.agents[a];
        if agent.is_silent() || !agent.presence().registered() {
            // It sends nothing (or, cut off, heartbeats counted as it
            // comes back: `settle_cut_heartbeats`); coming back takes the
            // slots up again (`resume_drawn_slots`).
            return;
        }
        let k = self.heartbeat_slot(a, now);
        if self.held_since[a] != Instant::MAX {
            let d = self.heartbeat_draws[a];
            debug_assert_eq!(k, d.look, "agent {a}: a held slot's event");
            if !d.look_bad {
                // Every slot so far good: count them, and look further.
                if let Some(t) = self.count_held(a, k, now, true) {
                    self.heartbeat_draws[a].renewed = t;
                }
                self.look_ahead(a);
                return;
            }
            self.release_drawn(now, a, k);
        }
        self.send_drawn_heartbeat(now, a);
        self.next_drawn_slot(a, k.saturating_add(1));
    }

    /// Is a heartbeat of agent `a`'s, sent as an event, still on its way
    /// now?
    pub(super) fn drawn_in_flight(&self, now: Instant, a: usize) -> bool {
        self.heartbeat_draws[a].evented_until > now
    }

    /// Agent `a` came back now and sent its heartbeat: its slots from the
    /// first after `now` are events until it holds its lease again.
    pub(super) fn resume_drawn_slots(&mut self, now: Instant, a: usize) {
        if !self.quiet_heartbeats {
            return;
        }
        let k = self.heartbeat_slot_after(a, now);
        self.next_drawn_slot(a, k);
    }

    /// At the end of the run: count the held heartbeats sent before
    /// `heard`.
    pub(super) fn settle_drawn_leases(&mut self, heard: Instant) {
        for a in 0..self.held_since.len() {
            if self.held_since[a] != Instant::MAX {
                let until = self.slot_from(a, heard);
                self.count_held(a, until, heard, false);
            }
        }
    }
}
