//! The discovery side of the world: registry leases and heartbeats, health
//! probes, breakers, and the eligibility they decide for the balancer.
//!
//! An agent is eligible when it is registered with a running lease, not
//! UNHEALTHY (with `healthy_only`), and its breaker admits a call. Each
//! fact is cached in a [`View`] and pushed to the balancer only when it
//! changes, so routing stays O(log n) per request. Heartbeats and lease
//! expiry are simulated only when an agent can go silent (otherwise every
//! lease stays live and the registry has nothing to decide: same results,
//! fewer events). When no heartbeat of an agent that is up can be lost
//! (instant network, no loss, no broker or broker outage:
//! `Scenario::broker_never_down`) they are not simulated one by
//! one either: an agent that is up holds its lease open
//! (`Registry::hold`); when it goes silent, the heartbeats it sent since
//! are counted on the bus and its lease runs a `ttl` from the last of them
//! (`Registry::release`), exactly as if each had renewed it. Only the
//! events that change the registry happen: the expiry, and the heartbeat
//! of an agent coming back. On a lossy network, or behind a constant
//! latency, the same holds between the heartbeats that are lost; behind
//! any other latency, between those lost or late (`world/heartbeat_draws.rs`).
//!
//! A partition silences its agents as a crash does (the lease is
//! released), but a cut-off agent that is up goes on sending heartbeats,
//! which the partition loses as they leave, with no draw. They are
//! counted in bulk (`cut_since`, `settle_cut_heartbeats`) when the
//! agent's condition next changes or the run ends: the slots from the
//! instant it was cut off (a fault is scheduled as the run starts, so it
//! comes before a heartbeat due at the same instant) to the change. With
//! every heartbeat an event, two ties are settled the same way: a cut-off
//! agent's heartbeat due while a fault starts or ends at that instant is
//! sent after it (a `HeartbeatAfter` event), and a heartbeat arriving as
//! its agent's partition heals arrives after the heal. Else a partition
//! shorter than a period, whose end is scheduled after the slot's event,
//! would lose the heartbeat due as it heals, and a longer one would not;
//! and a held run, which schedules the arrivals of heartbeats still on
//! their way when an agent goes silent, would deliver one that the
//! evented run lost.
//!
//! In a changing fleet, an agent that drains counts the heartbeats it
//! held until then, as one going silent does (`heartbeats_leave`), and
//! one that registers (a join, a restart, an autoscaler) holds the lease
//! it registers with, renewed then with no heartbeat (`heartbeats_joined`,
//! `hold_registered`). A registered agent's heartbeat due as a drain, a
//! restart step or an autoscaling decision happens at the same instant
//! waits for it, in held runs too (their slot events are scheduled again
//! at that instant), and one due as its agent registers is not sent (the
//! registration stands for it, as a come-back does).
//!
//! A lease runs through the instant it ends: a heartbeat arriving then,
//! or its agent coming back then, renews it, whichever event was
//! scheduled first. The lease check of that instant waits for the events
//! due then that may renew a lease (`on_lease_check`), so the paths
//! above, which arm their checks at other times than a run with every
//! heartbeat an event, renew and expire the same leases. On a network
//! without latency (or a constant one) and a `ttl` of `k` periods, a lease
//! then runs out when `k` heartbeats in a row are lost.
//!
//! Probes: the monitor probes each agent every `interval` (first probes
//! staggered over one interval). A probe and its answer cross the bus
//! (loss and delays from the `probes` stream). At the agent a probe is
//! served like a request: it waits in the agent's FIFO behind the requests
//! already there, then holds a slot for its tier's typical service time,
//! times any slowdown (counted in the agent's busy time, not in its tasks),
//! so a loaded or slowed agent answers late and its response-time EMA can
//! cross `degraded_threshold` (DEGRADED). A down agent refuses it (a
//! failure when the refusal arrives), and a crash refuses the probes it
//! held or queued; a lost probe or answer, or an answer later than
//! `timeout`, is a failure at `timeout`. An answer that comes after its
//! timeout, or after a newer probe left, is ignored.
//!
//! On a network with latency (or a broker) (`lazy_probe_timeouts`), a
//! probe's timeout takes its place in the event
//! order as the probe leaves and is scheduled there only once its answer
//! may miss it (see `arm_probe_timeout`): the timeouts that pop are the
//! same, at the same places, and those that would have found the answer
//! in are no events. Their due times are kept for the end of a run that
//! stops at its limit (`World::stale_timeouts`), as request timeouts'.
//! There, an answer that comes before its timeout and leaves the agent's
//! health as it is (`answer_unseen`) arrives with no event either: it
//! changes the EMA and the bus counts, which nothing reads before the
//! agent's next probe leaves, so `settle_answer` applies it then (or
//! `settle_probes` at the end of the run), dated when it arrived. Faults
//! and a changing fleet keep both: a crash refuses the probes its agent
//! holds and a slowdown lengthens one's handling at the steps above; what
//! could still touch an answer on its way unseen makes it an event again,
//! in the place its arrival took (`unseen_answer_evented`), or applies it
//! first if it has arrived: a partition of its agent or a broker outage
//! starting (either loses a message as it arrives), and any change of the
//! agent's presence (a passing answer lets a joining agent serve).
//!
//! On an instant network a probe arrives when it is sent and its answer
//! when it leaves: each is handled at once, not as an event, when its
//! event would have been the next, or every event due at that instant is
//! independent of it (`probe_may_skip`), so the order of what changes is
//! the same. The timeout is scheduled only when the answer can miss it:
//! the probe queues, its handling lasts the timeout or longer, or a
//! message is lost (then, at the loss). With loss, the answer's is drawn
//! as the probe arrives (`replies_drawn`), so its fate is known then and
//! no later step of a probe draws from the shared stream: the timeout is
//! armed at once for an answer to be lost. A probe of an idle agent is two
//! events (`Probe`, `ProbeDone`) instead of five, with the same results.
//! When events of different agents are independent, a probe that leaves
//! its agent's health as it is (or, without an event log, is its first
//! answer, taking UNKNOWN to HEALTHY: the agent's view is the same either
//! way) needs no `ProbeDone` either: its end
//! changes nothing anyone sees until the agent's slots or health are next
//! looked at (a request reaches it, it fails, its next probe leaves, the
//! run ends), and `settle_probe` applies it then, dated when it ended, or
//! schedules its event after all if it has not ended. A steady agent's
//! probe is then one event.
//!
//! Then none: when such a probe leaves an agent that is up, serving and
//! idle, every later answer after the same handling time would leave its
//! health as it is (`HealthMonitor::steady_under`: the EMA moves toward
//! that time and settles on it), and arrivals come at distinct instants
//! (not a trace or bursts), its probes go dormant: no `Probe` event is
//! scheduled for it. Each would do what this one did: take the free slot
//! for its handling time, answer, and count on the bus and in the EMA.
//! An agent up, serving and idle from the start, whose first answer would
//! leave it steady so, is born dormant: not even its first probe is
//! scheduled (`start_discovery`; with an event log, `wake_born` schedules
//! those first probes in the places they were reserved).
//! The next time the agent is looked at (a request reaches it, it fails or
//! changes presence, the run ends), `catch_up` applies the probes due
//! before then, as their events would have (bus counts and zero
//! latencies, busy time, the EMA, the probe number), leaves the last one
//! holding its slot if it has not ended, and its next probe is an event
//! again, unless a request brought the look, took a free slot and ends
//! before that probe is due: then the probe waits unscheduled for the
//! request's end, where an agent idle and steady again sleeps on with no
//! probe event at all (`after_delivery`, `deferred_done`), so a steady
//! agent serving now and then costs no probe events either (any other
//! look in between schedules it). A probe due at the very instant the
//! agent is looked at comes
//! after the event that looks: that event was scheduled before the
//! instant, so it was pending when the probe's event was handled, which
//! left the probe's arrival to an event after it. At the end of a run that
//! stops after an event at `heard`, a probe due then was sent, not
//! delivered (the event that ended the run was scheduled within the last
//! probe interval, after the probe's event). Health statuses, views,
//! balancers and the per-bucket gauges never see a dormant probe (none
//! changes a status), and busy time is reported per run, not per bucket,
//! so nothing else needs to look. Only their existence shows, at the end
//! of the drain: the last of them closed the report bucket it fell in
//! (`settle_probes` closes it then), and kept the event queue from
//! running empty (the run's end stays the end of the drain:
//! `probes_asleep`). A steady agent's probes then cost
//! nothing, requests or not. An agent that is down sleeps too once its
//! monitor holds it UNHEALTHY under any number of failures
//! (`HealthMonitor::failing_steady`): each of its probes would arrive, be
//! refused at once and fail, changing nothing but the bus counts and the
//! failures in a row, until the agent comes back, which looks at it
//! (only its availability changes it: the agents a fault or an autoscaler
//! may touch never sleep). `catch_up_refused` applies them then, or when a request reaches it
//! or the run ends, as `catch_up` does steady ones (`may_sleep_refused`;
//! the probe that decides it must itself end at once, else the next probe
//! is an event in the place reserved for it). With an event log or records (a trace sink:
//! `--events`, `--records`, `diff`) probes never go dormant and first
//! answers end as before: every probe stays an event to log, so such a
//! run's `events` and fingerprint are those of the fuller trajectory.
//!
//! Faults other than a broker outage, and autoscalers, leave agents'
//! probes independent: each touches its agents in an event of its own,
//! which looks at them (`after_change`, `set_presence`). But a fault
//! begins and ends at an instant of the scenario's, often one of a
//! probe's (a partition healing as its target's next probe leaves), and
//! which comes first there is decided by when each event was scheduled.
//! A probe that is an event was scheduled by the one before it; one
//! woken from sleep, or ended unseen and scheduled as it is looked at,
//! would be scheduled later, after the fault's end. And a probe that
//! passes is what lets a joining agent serve, which a rolling restart
//! waits for. So the agents a fault or an autoscaler may touch keep every
//! probe an event (`World::probes_pinned`: a fault's targets, and every
//! agent of a tier that a join or an autoscaler draws from): they never
//! sleep and no probe of theirs ends unseen; every other agent's probes
//! are as without faults.
//!
//! On a lossy network an agent's probes sleep only until its next failed
//! exchange (its probe or the answer lost), which is known ahead: with
//! `probes_independent`, each agent's losses come from its own stream
//! ([`ProbeLosses`]), not from the shared `probes` stream in event order.
//! A sleeping agent has one `ProbeWake` event, at that probe: if the
//! agent still sleeps then, the probes before it are applied and it is
//! sent as its event would have been (the wake stands for a look at the
//! agent at that instant, which the probes have always allowed); if
//! something looked at the agent before, its probes are events again and
//! the wake does nothing. Every probe, asleep or not, draws its fate from
//! the agent's losses, so a run with an event log has the same results.
//!
//! Eligibility has two levels: with `[balancer] degraded = "fallback"` an
//! agent held DEGRADED is marked degraded in every balancer (the
//! dispatcher's and the callers'), which picks it only while no eligible
//! agent of the pool is HEALTHY (`Balancer::set_degraded`); with `equal` it
//! is routed to like a HEALTHY one. Heartbeats cross
//! the bus too (the `heartbeats` stream): a cut-off agent's are lost.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Event, PROBE, ProbeMsg, ProbeState, UnseenAnswer, View, World};
use crate::bus::{self, Endpoint, Fate};
use crate::discovery::breaker::{Breaker, Breakers, Kind};
use crate::discovery::health::{HealthMonitor, Status};
use crate::discovery::registry::{Lease, Registration};
use crate::faults::FaultKind;
use crate::fleet::AGENT_ID_PREFIX;
use crate::fleet::Presence;
use crate::rng::ln::neg_ln_1m;
use crate::rng::{fnv1a64, fnv1a64_on, unit};
use crate::time::{Duration, Instant};

/// In `breaker_rest`: the agent's breaker is not at rest.
const NOT_AT_REST: u64 = u64::MAX;

/// No probe (in `unseen_probe_end`).
const NO_PROBE: u32 = u32::MAX;

/// Marks, in `unseen_probe_end`, an agent whose probes are dormant (with
/// the message of its last probe that left: `DORMANT | msg`).
const DORMANT: u32 = 1 << 30;

/// With [`DORMANT`] in `unseen_probe_end`: dormant with no probe of its
/// own still to end (it fell asleep as a request ended, not as a probe
/// left: see [`World::deferred_done`]).
const NO_LAST: u32 = DORMANT - 1;

/// In `unseen_probe_end`: the probes of an agent that is down sleep (each
/// would be refused at once and fail, changing nothing but counts until
/// the agent is looked at: see `may_sleep_refused`). Not a probe's
/// message: those stay below it.
const REFUSED: u32 = DORMANT | (NO_LAST - 1);

/// Does mark `m` (an entry of `unseen_probe_end`) say the agent's probes
/// are dormant?
fn dormant(m: u32) -> bool {
    m != NO_PROBE && m & DORMANT != 0
}

/// `n` periodic timers spread over one `period`: agent `a` starts at
/// `period · (a + 1) / n`.
fn stagger(period: Duration, a: usize, n: usize) -> Instant {
    Instant((u128::from(period.as_nanos()) * (a as u128 + 1) / n.max(1) as u128) as u64)
}

/// One agent's heartbeat losses, with quiet heartbeats on a lossy
/// network. Its heartbeats are due at `stagger + k · heartbeat` (slot
/// `k`), each lost with the network's loss probability, independently of
/// everything else; the slot of the next lost one is drawn ahead from the
/// agent's own stream. Between losses every heartbeat arrives and renews
/// the lease, which the agent holds open instead (`hold_lease`): a lost
/// heartbeat releases it (the lease then runs from the last one that
/// arrived), and the first to arrive after it holds it again. So an agent
/// costs two events a lost heartbeat, not one a heartbeat.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeartbeatLosses {
    /// The agent's stream's position.
    pos: u64,
    /// The slot of its next lost heartbeat: every slot before it, from
    /// the last one looked at, arrives.
    next_loss: u64,
    /// When its one pending heartbeat event is due (`Instant::MAX`: none).
    event_at: Instant,
}

impl Default for HeartbeatLosses {
    fn default() -> HeartbeatLosses {
        HeartbeatLosses {
            pos: 0,
            next_loss: 0,
            event_at: Instant::MAX,
        }
    }
}

/// One agent's lost probes, on an instant lossy network where events of
/// different agents' probes are independent (`probes_independent`). Each
/// probe is lost with the network's loss probability `p`, and the answer
/// to one that arrives is too, independently of everything else: an
/// exchange (a probe and its answer) fails with `q = 1 − (1 − p)²`, and
/// one that fails lost its probe with `p / q = 1 / (2 − p)`, else its
/// answer. How many of the agent's probes in a row go through before its
/// next failed exchange, and which message that one loses, are drawn
/// ahead from its own stream (`probes/agent-N`). So its probes may sleep
/// on a lossy network too: until that probe, which wakes it
/// (`Event::ProbeWake`) and is an event.
#[derive(Clone, Copy, Debug)]
pub(super) struct ProbeLosses {
    /// The agent's stream's position.
    pos: u64,
    /// Its probes still to go through before the next failed exchange.
    until_loss: u64,
    /// That exchange loses its probe (else the answer).
    probe_lost: bool,
    /// When its one pending `ProbeWake` is due (`Instant::MAX`: none).
    wake_at: Instant,
}

impl Default for ProbeLosses {
    fn default() -> ProbeLosses {
        ProbeLosses {
            pos: 0,
            until_loss: 0,
            probe_lost: false,
            wake_at: Instant::MAX,
        }
    }
}

/// `t` as the two halves of its nanoseconds (high, low), to ride in an
/// event.
pub(super) fn split_instant(t: Instant) -> [u32; 2] {
    [(t.0 >> 32) as u32, t.0 as u32]
}

/// The instant [`split_instant`] split.
pub(super) fn join_instant(halves: [u32; 2]) -> Instant {
    Instant(u64::from(halves[0]) << 32 | u64::from(halves[1]))
}

/// What an agent's view shows of its health status: healthy (not
/// UNHEALTHY) and degraded (see `World::refresh`).
fn shown(s: Status) -> (bool, bool) {
    (s != Status::Unhealthy, s == Status::Degraded)
}

impl<'s> World<'s> {
    pub(super) fn start_discovery(&mut self) {
        let n = self.agents.len();
        for (i, ch) in self.sc.balancer.changes.iter().enumerate() {
            self.engine
                .schedule(
                    Instant(ch.at.as_nanos()),
                    Event::SetStrategy { change: i as u32 },
                )
                .expect("the run has not started");
        }
        if let Some(cfg) = self.sc.breaker {
            self.breakers = Breakers::new(cfg, n);
            let rest = self.breakers.get(0).and_then(Breaker::at_rest);
            self.breaker_rest = vec![rest.unwrap_or(NOT_AT_REST); n];
        }
        if let Some(cfg) = self.sc.health {
            self.probe_handling = self
                .sc
                .tiers
                .iter()
                .map(|t| t.service_time.typical())
                .collect();
            // On an instant lossy network, each probe's answer has its
            // loss drawn as the probe arrives, in the probe's own event:
            // no later event of a probe draws from the shared stream.
            self.replies_drawn = self.zero_latency && self.sc.network.loss > 0.0;
            if self.replies_drawn {
                self.reply_lost = vec![false; n];
            }
            // Without later draws from a shared stream, broker outages,
            // calls or panic routing, an event of one agent's probes or
            // heartbeats changes only that agent's state, the counts and
            // its own balancer slot (see `probe_may_skip`). Faults and
            // autoscalers touch their agents in events of their own, and
            // those agents' probes stay events (`probes_pinned`).
            self.probes_independent = self.zero_latency
                && self.sc.broker_never_down()
                && self.sc.balancer.panic_threshold == 0.0
                && self.sc.balancer.changes.is_empty()
                && self.routes.len() == 1
                && self.sc.tiers.iter().all(|t| t.calls.steps.is_empty());
            if self.probes_independent
                && (!self.sc.faults.is_empty() || !self.sc.autoscale.is_empty())
            {
                self.probes_pinned = vec![false; n];
                let tier_wide =
                    (self.sc.tiers_drawn_from()).flat_map(|t| self.tier_ids[t as usize].iter());
                let targets = (self.sc.faults.iter().zip(&self.fault_targets))
                    .filter(|(f, _)| f.kind != FaultKind::DispatcherDown)
                    .flat_map(|(_, targets)| targets.iter());
                for &a in tier_wide.chain(targets) {
                    self.probes_pinned[a as usize] = true;
                }
            }
            self.probes = vec![ProbeState::default(); n];
            self.lazy_probe_timeouts = self.sc.lazy_probe_timeouts();
            if self.lazy_probe_timeouts {
                // Answers that change no status arrive unseen
                // (`answer_unseen`; an event log turns this off).
                self.unseen_answers = vec![UnseenAnswer::NONE; n];
            }
            if self.probes_independent {
                self.unseen_probe_end = vec![NO_PROBE; n];
                self.probe_deferred = vec![false; n];
                if self.sc.network.loss > 0.0 {
                    // Each agent's losses from its own stream, so that
                    // which probes go through is known ahead.
                    self.probe_losses = vec![ProbeLosses::default(); n];
                    for a in 0..n {
                        self.draw_probe_loss(a);
                    }
                }
            }
            // Dormant probes need arrivals that never come at one instant
            // (a trace's equal timestamps, a burst), see `may_sleep`. On a
            // lossy network an agent sleeps only until its next failed
            // exchange (`ProbeLosses`): `catch_up` applies each probe as
            // answered.
            self.probes_dormant = self.probes_independent && self.sc.workload.arrivals_apart();
            self.monitors = (0..n)
                .map(|a| HealthMonitor::new(stagger(cfg.interval, a, n)))
                .collect();
            // An agent steady and idle from the start is born dormant: its
            // first probe is no event either (`catch_up` applies it, first
            // answer included). Its place in the event order is kept
            // (agent `a`'s is `first_probe_seq + a`) for a run that turns
            // out to need every probe as an event (`wake_born`).
            self.first_probe_seq = self.engine.next_seq();
            for a in 0..n {
                let first = self.monitors[a].poll_timeout();
                if first > Instant::ZERO && self.steady_idle(a) {
                    self.engine.reserve();
                    self.unseen_probe_end[a] = DORMANT | NO_LAST;
                } else {
                    self.engine
                        .schedule(first, Event::Probe { agent: a as u32 })
                        .expect("the run has not started");
                }
            }
        }
        // Heartbeats that nothing can lose (no loss, broker or outage, on an
        // instant network): a running agent's lease is held open, not
        // renewed every period, through its crashes, partitions and
        // lifecycle (`Scenario::broker_never_down`).
        // On a lossy network, between its lost heartbeats, drawn ahead
        // ([`HeartbeatLosses`]). On a network with a constant latency and
        // no broker, heartbeats are as certain, only later
        // (`Scenario::certain_heartbeat_latency`).
        let latency = self.sc.certain_heartbeat_latency();
        // Behind any other latency, heartbeats are drawn per agent, and held
        // between those that matter (`world/heartbeat_draws.rs`).
        let drawn = self.leases && self.sc.heartbeats_drawn();
        // Tests compare runs with every heartbeat an event.
        #[cfg(test)]
        let allowed = !tests::HEARTBEAT_EVENTS.with(std::cell::Cell::get);
        #[cfg(not(test))]
        let allowed = true;
        self.quiet_heartbeats =
            allowed && self.leases && (latency.is_some() || drawn) && self.sc.broker_never_down();
        self.quiet_latency = latency.map_or(0, Duration::as_nanos);
        if drawn {
            self.heartbeat_draws = vec![Default::default(); n];
        }
        if self.quiet_heartbeats {
            self.held_since = vec![Instant::MAX; n];
            self.held_registered = vec![false; n];
            if (self.sc.faults.iter()).any(|f| matches!(f.kind, FaultKind::Partition)) {
                self.cut_since = vec![Instant::MAX; n];
            }
        }
        if self.leases && !self.quiet_heartbeats {
            // Read by the slots' events, which held heartbeats have not.
            self.back_at = vec![Instant::MAX; n];
        }
        for a in 0..n {
            if !self.agents[a].is_silent() && self.agents[a].presence() == Presence::Serving {
                self.register(Instant::ZERO, a);
                self.hold_registered(Instant::ZERO, a);
            }
            if self.leases && !self.quiet_heartbeats {
                let first = stagger(self.sc.registry.heartbeat, a, n);
                self.engine
                    .schedule(first, Event::Heartbeat { agent: a as u32 })
                    .expect("the run has not started");
            }
        }
        if self.quiet_heartbeats && !drawn && self.sc.network.loss > 0.0 {
            // Each agent's first lost heartbeat is drawn now; an agent
            // holding its lease has its one heartbeat event there.
            self.heartbeat_losses = vec![HeartbeatLosses::default(); n];
            for a in 0..n {
                let g = self.heartbeats_until_loss(a);
                self.heartbeat_losses[a].next_loss = g;
                if self.held_since[a] != Instant::MAX {
                    self.schedule_heartbeat_slot(a, g);
                }
            }
        }
        for a in 0..n {
            self.refresh(a);
        }
        self.ensure_lease_check();
    }

    pub(super) fn register(&mut self, now: Instant, a: usize) {
        let t = self.agents[a].tier as usize;
        if self.tier_registrations.len() <= t {
            // Built once per tier: its agents share it, told apart by id.
            self.tier_registrations = (self.sc.tiers.iter())
                .map(|tier| {
                    Arc::new(Registration {
                        name: tier.name.clone(),
                        capabilities: tier.capabilities.as_slice().into(),
                        tags: tier.tags.as_slice().into(),
                        metadata: Arc::new(BTreeMap::from([(
                            "tier".to_string(),
                            tier.name.clone(),
                        )])),
                    })
                })
                .collect();
        }
        let reg = Arc::clone(&self.tier_registrations[t]);
        self.registry.register(now, a as u32, reg);
    }

    /// Recompute what the dispatcher believes about agent `a` and tell the
    /// balancer if its eligibility changed.
    pub(super) fn refresh(&mut self, a: usize) {
        let old = self.views[a];
        let (open, admits) = match self.breakers.get(a) {
            None => (false, true),
            // At rest: CLOSED, so not open and admitting (without reading
            // the breaker's line).
            Some(_) if self.breaker_rest[a] != NOT_AT_REST => (false, true),
            Some(b) => (b.state().kind() == Kind::Open, b.admits()),
        };
        let status = self.monitors.get(a).map(HealthMonitor::status);
        let new = View {
            live: !self.leases || self.registry.is_live(a as u32),
            serving: self.agents[a].presence() == Presence::Serving,
            healthy: status != Some(Status::Unhealthy),
            degraded: status == Some(Status::Degraded),
            open,
            admits,
        };
        if new == old {
            return;
        }
        self.views[a] = new;
        self.trace_view(a as u32, old, new);
        let counted = |v: View| u64::from(v.live && v.healthy && v.serving);
        self.healthy_count = self.healthy_count + counted(new) - counted(old);
        let degraded = |v: View| u64::from(v.live && v.degraded);
        self.degraded_count = self.degraded_count + degraded(new) - degraded(old);
        self.open_count = self.open_count + u64::from(new.open) - u64::from(old.open);
        let shared = self.shared_eligible(a);
        let fallback = self.shared_degraded(a);
        for &(route, slot) in &self.memberships[a] {
            let admits = match self.route_breakers[route as usize].get(slot as usize) {
                Some(b) => b.admits(),
                None => new.admits,
            };
            let balancer = &mut self.routes[route as usize].balancer;
            balancer.set_degraded(slot as usize, fallback);
            balancer.set_eligible(slot as usize, shared && admits);
        }
        self.refresh_clients(a);
    }

    /// Ask the dispatcher's breaker for pool slot `slot` of `route` to
    /// admit a call: the route's own breaker if its capability has breaker
    /// settings of its own, else the agent's (see [`Self::admit`]).
    pub(super) fn admit_on(
        &mut self,
        now: Instant,
        route: u32,
        slot: u32,
        in_panic: bool,
    ) -> Option<u64> {
        let (r, s) = (route as usize, slot as usize);
        if self.route_breakers[r].is_empty() {
            let agent = self.routes[r].pool[s];
            return self.admit(now, agent, in_panic);
        }
        if in_panic {
            return None;
        }
        let admitted = self.route_breakers[r][s].admit(now);
        self.after_route_breaker(now, route, slot);
        admitted
    }

    /// A dispatcher's call on `route` settled: tell the breaker that
    /// admitted it (see [`Self::on_call_outcome`]).
    pub(super) fn on_route_outcome(
        &mut self,
        now: Instant,
        route: u32,
        slot: u32,
        admitted: Option<u64>,
        ok: bool,
    ) {
        let (r, s) = (route as usize, slot as usize);
        if self.route_breakers[r].is_empty() {
            let agent = self.routes[r].pool[s];
            self.on_call_outcome(now, agent, admitted, ok);
            return;
        }
        let Some(token) = admitted else { return };
        if self.route_breakers[r][s].on_result(now, token, ok) {
            self.after_route_breaker(now, route, slot);
        }
    }

    fn after_route_breaker(&mut self, now: Instant, route: u32, slot: u32) {
        let b = &mut self.route_breakers[route as usize][slot as usize];
        while let Some(t) = b.poll_transition() {
            if let Some(tr) = self.trace.as_mut() {
                tr.note_route_breaker(
                    self.routes[route as usize].pool[slot as usize],
                    t.from,
                    t.to,
                );
            }
            if t.to == Kind::Open {
                self.route_open_count += 1;
                if let Some(at) = b.poll_timeout() {
                    self.engine
                        .schedule(at.max(now), Event::RouteBreakerTimer { route, slot })
                        .expect("not in the past");
                }
            } else if t.from == Kind::Open {
                self.route_open_count -= 1;
            }
        }
        let admits = b.admits();
        let a = self.routes[route as usize].pool[slot as usize] as usize;
        let eligible = admits && self.shared_eligible(a);
        self.routes[route as usize]
            .balancer
            .set_eligible(slot as usize, eligible);
    }

    pub(super) fn on_route_breaker_timer(&mut self, now: Instant, route: u32, slot: u32) {
        self.route_breakers[route as usize][slot as usize].handle_timeout(now);
        self.after_route_breaker(now, route, slot);
    }

    /// Ask agent `a`'s breaker to admit a call about to be sent. Returns the
    /// breaker's trip count if it did (`None`: no breakers, or the balancer
    /// was in panic and routed around them).
    pub(super) fn admit(&mut self, now: Instant, a: u32, in_panic: bool) -> Option<u64> {
        if self.breakers.is_empty() || in_panic {
            return None;
        }
        let rest = self.breaker_rest[a as usize];
        if rest != NOT_AT_REST {
            // `admit` would return this and change nothing.
            return Some(rest);
        }
        let admitted = self.breakers.get_mut(a as usize).admit(now);
        self.after_breaker(now, a as usize);
        admitted
    }

    /// A call settled: tell the breaker that admitted it, unless the breaker
    /// has opened since (an outcome from before a trip says nothing about
    /// the agent now, and must not close a HALF_OPEN breaker).
    pub(super) fn on_call_outcome(
        &mut self,
        now: Instant,
        a: u32,
        admitted: Option<u64>,
        ok: bool,
    ) {
        let Some(token) = admitted else { return };
        if ok && self.breaker_rest[a as usize] != NOT_AT_REST {
            // A success at rest changes nothing, whatever the token.
            return;
        }
        if self.breakers.get_mut(a as usize).on_result(now, token, ok) {
            self.after_breaker(now, a as usize);
        }
    }

    fn after_breaker(&mut self, now: Instant, a: usize) {
        while let Some(t) = self.breakers.get_mut(a).poll_transition() {
            self.trace_breaker(a as u32, t.from, t.to);
            if t.to == Kind::Open
                && let Some(at) = self.breakers.get_mut(a).poll_timeout()
            {
                self.engine
                    .schedule(at.max(now), Event::BreakerTimer { agent: a as u32 })
                    .expect("not in the past");
            }
        }
        // The breaker is the only input of the view that changed here:
        // while it is as open and as admitting as the view says, the view
        // is as it is (every other input refreshes it when it changes).
        let (b, v) = (self.breakers.get_mut(a), self.views[a]);
        self.breaker_rest[a] = b.at_rest().unwrap_or(NOT_AT_REST);
        if v.open == (b.state().kind() == Kind::Open) && v.admits == b.admits() {
            return;
        }
        self.refresh(a);
    }

    pub(super) fn on_breaker_timer(&mut self, now: Instant, a: u32) {
        self.breakers.get_mut(a as usize).handle_timeout(now);
        self.after_breaker(now, a as usize);
    }

    pub(super) fn on_probe(&mut self, now: Instant, a: u32) {
        let i = a as usize;
        self.settle_answer(i);
        self.settle_probe(now, i);
        let cfg = self.health();
        if !self.monitors[i].poll_probe(cfg, now) {
            return;
        }
        let sleep = self.may_sleep(i);
        // The next probe's place in the event order, kept for it in case
        // this refused probe does not end at once after all.
        let refused = (!sleep && self.may_sleep_refused(i)).then(|| self.engine.reserve());
        if !sleep && refused.is_none() {
            let next = self.monitors[i].poll_timeout();
            self.engine
                .schedule(next, Event::Probe { agent: a })
                .expect("probes move forward");
        }
        let p = &mut self.probes[i];
        p.epoch = p.epoch.wrapping_add(1);
        p.sent = now;
        p.open = true;
        p.timer = false;
        let epoch = p.epoch;
        if self.lazy_probe_timeouts {
            self.reserve_probe_timeout(now, i);
        }
        match self.send_probe(now, i) {
            Fate::Lost(_) => self.arm_probe_timeout(now, i),
            Fate::Arrives(_) if self.probe_may_skip(a, true) => {
                // It arrives now, and its arrival would be the next event:
                // handled at once, and its timeout is armed only if its
                // answer may come too late or not at all.
                let m = self.probe_arrives(now, a, epoch);
                if self.probe_may_time_out(i, epoch, m) {
                    self.arm_probe_timeout(now, i);
                }
            }
            Fate::Arrives(t) => {
                if !self.lazy_probe_timeouts || t >= now + self.health().timeout {
                    self.arm_probe_timeout(now, i);
                }
                self.engine
                    .schedule(t, Event::ProbeArrives { agent: a, epoch })
                    .expect("messages arrive after they leave");
            }
        }
        if sleep {
            let m = self.unseen_probe_end[i];
            assert!(
                m < DORMANT,
                "agent {a}'s probes went dormant at {now:?}, its probe not unseen ({m})"
            );
            self.unseen_probe_end[i] = DORMANT | m;
            self.schedule_probe_wake(i);
        }
        if let Some(seq) = refused {
            let p = self.probes[i];
            if !p.open && !p.timer && self.unseen_probe_end[i] == NO_PROBE {
                self.unseen_probe_end[i] = REFUSED;
                self.schedule_probe_wake(i);
            } else {
                // Its answer is an event after all (an event due now that
                // names a reused probe message of this agent, say): the
                // next probe is an event, in the place it would have had.
                let next = self.monitors[i].poll_timeout();
                self.engine
                    .schedule_reserved(next, seq, Event::Probe { agent: a })
                    .expect("the next probe is ahead, its place reserved");
            }
        }
    }

    /// May the probes of agent `a`, down, sleep from the next one on, as
    /// one leaves now? When `probes_dormant` holds and no event log is
    /// kept, the agent refuses probes at once (it is down: only its
    /// availability brings it back, since the agents a fault or an
    /// autoscaler may touch are pinned, and that change looks at it), its monitor is UNHEALTHY and stays so
    /// under failures (`HealthMonitor::failing_steady`), no probe of it is
    /// pending, and this probe's arrival and refusal are handled at once
    /// (every event due now is independent of its answer:
    /// `probe_may_skip`), so it ends now. Each of its next probes would
    /// then do the same (arrive, be refused, count both crossings on the
    /// bus and one more failure in a row, nothing else) until the agent is
    /// looked at, and none is an event: [`Self::catch_up_refused`] applies
    /// them then. They sleep only if this one did end at once (`on_probe`
    /// checks after sending it).
    fn may_sleep_refused(&self, a: usize) -> bool {
        self.probes_dormant
            && self.trace.is_none()
            && !self.pinned(a)
            && self.agents[a].is_down()
            && self.unseen_probe_end[a] == NO_PROBE
            && !self.is_deferred(a)
            && self.monitors[a].failing_steady(self.health())
            && self.probe_may_skip(a as u32, false)
    }

    /// May agent `a`'s probes go dormant now, as a probe of it leaves? When
    /// `probes_dormant` holds (events of different agents are independent,
    /// arrivals come at distinct instants, no event log), the agent is up,
    /// serving, idle and its probe, handled at once, ends unseen
    /// (`probe_end_unseen`), and every probe answered after the same
    /// handling time after it leaves its health as that one does
    /// (`HealthMonitor::steady_under`): then each of its next probes would
    /// do the same (take the free slot for its handling time, answer, count
    /// on the bus and in the EMA) until something looks at the agent, and
    /// none is an event: [`Self::catch_up`] applies them then.
    fn may_sleep(&self, a: usize) -> bool {
        self.steady_idle(a)
            && self.unseen_probe_end[a] == NO_PROBE
            && self.probe_goes_through(a)
            && self.probe_may_skip(a as u32, true)
    }

    /// Will agent `a`'s next probe and its answer go through? Always on a
    /// lossless network; on a lossy one, known ahead only with
    /// `probe_losses` (else `false`).
    fn probe_goes_through(&self, a: usize) -> bool {
        match self.probe_losses.get(a) {
            Some(l) => l.until_loss > 0,
            None => !self.replies_drawn,
        }
    }

    /// Does some fault target agent `a`, so that its probes stay events
    /// (`World::probes_pinned`)?
    fn pinned(&self, a: usize) -> bool {
        self.probes_pinned.get(a) == Some(&true)
    }

    /// The `[health]` settings, which every monitor follows (probes run
    /// only with them).
    fn health(&self) -> &'s crate::discovery::health::HealthConfig {
        self.sc
            .health
            .as_ref()
            .expect("probes run only with [health]")
    }

    /// Would a probe of agent `a` leaving now find it as a dormant probe
    /// does, and so would every later one? Dormant probes are allowed, the
    /// agent is up, serving and idle, and an answer after the probe's
    /// handling time leaves its health as it is now and ever after
    /// (`HealthMonitor::steady_under`).
    fn steady_idle(&self, a: usize) -> bool {
        if !self.probes_dormant || self.trace.is_some() || self.pinned(a) {
            return false;
        }
        let cfg = self.health();
        let agent = &self.agents[a];
        let h = self.probe_handling[agent.tier as usize];
        let m = &self.monitors[a];
        // The agent's first line, then its queue (second line), then the
        // monitor: an agent that is down or busy, as most agents whose
        // probes are events are, reads one line.
        !agent.is_down()
            && agent.busy == 0
            && agent.has_free_slot()
            && !agent.faulted()
            && agent.presence() == Presence::Serving
            && h < cfg.interval
            && h < cfg.timeout
            && agent.queue.is_empty()
            && self.unseen_status(m.status(), m.status_after_success(cfg, h))
            && m.steady_under(cfg, h)
    }

    /// May a probe message of agent `a` (its `arrival`, or its answer)
    /// that arrives now be handled at once instead of as an event? Only on
    /// an instant network. Yes if no other event is due now: its event
    /// would be the next. Else yes if every event due now is independent
    /// of it, so handling it first changes no result: events of other
    /// agents' probes and heartbeats when `probes_independent` holds (each
    /// touches its own agent, commutative counts and its own balancer
    /// slot; with no agent held DEGRADED, the balancer cannot change level
    /// at this instant), or `a`'s own heartbeat against an arrival (a probe
    /// is refused only where no heartbeat is sent, and one answered changes
    /// no input of the view), unless the probe's handling ends exactly one
    /// heartbeat period or one lease later, where the order of the events
    /// it schedules would change.
    fn probe_may_skip(&self, a: u32, arrival: bool) -> bool {
        if !self.zero_latency {
            return false;
        }
        let mut due = self.engine.pending_now();
        if !self.probes_independent {
            return due.next().is_none();
        }
        let clash = || {
            let h = self.probe_handling[self.agents[a as usize].tier as usize];
            h == self.sc.registry.heartbeat || h == self.sc.registry.ttl
        };
        let mut k = 0;
        let independent = due.all(|e| {
            k += 1;
            match *e {
                Event::Heartbeat { agent } => agent != a || (arrival && !clash()),
                Event::Probe { agent }
                | Event::ProbeArrives { agent, .. }
                | Event::ProbeTimeout { agent, .. } => agent != a,
                Event::ProbeDone { msg, .. } | Event::ProbeReply { msg, .. } => {
                    self.probe_msgs[msg as usize].agent != a
                }
                Event::ProbeWake { agent } => agent != a,
                _ => false,
            }
        });
        independent && (k == 0 || (self.degraded_count == 0 && self.healthy_count > k + 1))
    }

    /// Schedule agent `a`'s current probe's timeout, `timeout` after it
    /// left, unless it is already scheduled.
    ///
    /// With `lazy_probe_timeouts`, in the place it took as the probe left
    /// ([`Self::reserve_probe_timeout`]): a timeout is needed only if its
    /// probe's result is not in before it, and on such a network that is
    /// known before it is due, at one of the steps where an answer can be
    /// lost or late: the probe lost as it leaves, or arriving at the
    /// timeout or later (`on_probe`); held in the agent's queue, or taking
    /// a slot until the timeout or later (`probe_arrives`,
    /// `start_probe`); its answer (or a refusal) lost as it leaves, or
    /// arriving at the timeout or later (`answer_probe`); either message
    /// lost as it arrives. A timeout never needed would have found the
    /// result in and done nothing, so the same timeouts pop at the same
    /// places.
    fn arm_probe_timeout(&mut self, now: Instant, a: usize) {
        let cfg = self.health();
        let p = &mut self.probes[a];
        if p.timer {
            return;
        }
        p.timer = true;
        let at = p.sent + cfg.timeout;
        debug_assert!(at > now, "a probe timeout armed late: {at:?} at {now:?}");
        let event = Event::ProbeTimeout {
            agent: a as u32,
            epoch: p.epoch,
        };
        // Known before it is due, so its reserved place is still ahead.
        let placed = self.lazy_probe_timeouts
            && (self.engine)
                .schedule_reserved(at, p.timeout_seq, event)
                .is_some();
        debug_assert!(
            placed || !self.lazy_probe_timeouts,
            "agent {a}'s probe timeout armed at {now:?}, due {at:?}"
        );
        if !placed {
            self.engine
                .schedule(at.max(now), event)
                .expect("not in the past");
        }
    }

    /// Agent `a`'s probe leaves now: its timeout's place in the event
    /// order is taken (see [`Self::arm_probe_timeout`]), and its due time
    /// kept for the end of the run (`World::stale_timeouts`).
    fn reserve_probe_timeout(&mut self, now: Instant, a: usize) {
        self.probes[a].timeout_seq = self.engine.reserve();
        let at = now + self.health().timeout;
        if at <= self.run_limit {
            self.probe_timeouts_within = Some(at);
        } else {
            self.probe_timeouts_beyond = true;
        }
    }

    /// With `lazy_probe_timeouts`, arm agent `a`'s probe `epoch`'s timeout
    /// if that probe is still awaited (its answer may now come late or
    /// not at all).
    fn arm_probe_timeout_of(&mut self, now: Instant, a: usize, epoch: u32) {
        let p = self.probes[a];
        if self.lazy_probe_timeouts && p.open && p.epoch == epoch {
            self.arm_probe_timeout(now, a);
        }
    }

    /// Can agent `a`'s probe `epoch` (at the agent as message `m`, if it
    /// got there), which arrived at once, still miss its timeout? Not if
    /// its result is in, or if it holds a slot and its answer leaves
    /// before the timeout: on an instant network the answer (or a crash's
    /// refusal, earlier still) then arrives in time unless it is lost, and
    /// a loss arms the timeout then ([`Self::answer_probe`]).
    fn probe_may_time_out(&self, a: usize, epoch: u32, m: Option<u32>) -> bool {
        let p = self.probes[a];
        if !p.open || p.epoch != epoch {
            return false;
        }
        let cfg = self.health();
        !m.is_some_and(|m| {
            let msg = &self.probe_msgs[m as usize];
            msg.serving && msg.done < p.sent + cfg.timeout && !msg.reply_lost
        })
    }

    /// A probe reaches agent `a`: a down agent refuses it at once; else it
    /// waits in the agent's FIFO behind the requests there, like one of
    /// them, and takes a slot (see [`Self::start_probe`]).
    pub(super) fn on_probe_arrives(&mut self, now: Instant, a: u32, epoch: u32) {
        self.probe_arrives(now, a, epoch);
    }

    /// [`Self::on_probe_arrives`], returning the probe's message in the
    /// slab if it got there.
    fn probe_arrives(&mut self, now: Instant, a: u32, epoch: u32) -> Option<u32> {
        let i = a as usize;
        let sent = self.probes[i].sent;
        if !self
            .bus
            .arrive(now, bus::Kind::Probe, Endpoint::CONTROL, Endpoint(a), sent)
        {
            self.arm_probe_timeout_of(now, i, epoch);
            return None;
        }
        let m = self.alloc_probe(a, epoch);
        let agent = &mut self.agents[i];
        // A process that is down, or not started (absent, booting), refuses
        // it; one that is joining, serving or draining answers.
        let answers = !agent.is_down()
            && matches!(
                agent.presence(),
                Presence::Joining | Presence::Serving | Presence::Draining
            );
        if !answers {
            self.probe_msgs[m as usize].ok = false;
            self.answer_probe(now, m, true);
        } else if agent.has_free_slot() {
            self.start_probe(now, m);
        } else {
            agent.queue.push_back(PROBE | m);
            // Its wait is not known.
            self.arm_probe_timeout_of(now, i, epoch);
        }
        Some(m)
    }

    fn alloc_probe(&mut self, agent: u32, epoch: u32) -> u32 {
        let msg = ProbeMsg {
            agent,
            epoch,
            seq: 0,
            start: Instant::ZERO,
            done: Instant::ZERO,
            replied: Instant::ZERO,
            ok: true,
            serving: false,
            reply_lost: self.reply_lost.get(agent as usize) == Some(&true),
        };
        match self.free_probe_msgs.pop() {
            Some(m) => {
                let seq = self.probe_msgs[m as usize].seq;
                self.probe_msgs[m as usize] = ProbeMsg { seq, ..msg };
                m
            }
            None => {
                // Below the dormant marks as well as the `PROBE` bit.
                assert!(
                    self.probe_msgs.len() < (NO_LAST - 1) as usize,
                    "{} probes at once",
                    self.probe_msgs.len()
                );
                self.probe_msgs.push(msg);
                (self.probe_msgs.len() - 1) as u32
            }
        }
    }

    fn release_probe(&mut self, m: u32) {
        let msg = &mut self.probe_msgs[m as usize];
        msg.seq = msg.seq.wrapping_add(1);
        self.free_probe_msgs.push(m);
    }

    /// Probe `m` takes one of its agent's slots for the tier's typical
    /// service time (times any slowdown).
    pub(super) fn start_probe(&mut self, now: Instant, m: u32) {
        let msg = &mut self.probe_msgs[m as usize];
        msg.start = now;
        msg.serving = true;
        let seq = msg.seq;
        let agent = &mut self.agents[msg.agent as usize];
        agent.busy += 1;
        agent.in_service.push(PROBE | m);
        let mut handling = self.probe_handling[agent.tier as usize];
        if agent.faulted() {
            handling = Duration::from_secs_f64(handling.as_secs_f64() * agent.slowdown());
        }
        let (a, epoch) = (msg.agent as usize, msg.epoch);
        let done = now + handling;
        self.probe_msgs[m as usize].done = done;
        // An answer that leaves at the timeout or later is a failure: the
        // timeout must come first, so it is armed before the handling ends.
        let p = self.probes[a];
        let timeout = self.sc.health.map_or(Duration::ZERO, |h| h.timeout);
        if p.open && p.epoch == epoch && done >= p.sent + timeout {
            self.arm_probe_timeout(now, a);
        }
        if self.probe_end_unseen(now, a, epoch, handling) {
            self.unseen_probe_end[a] = m;
            return;
        }
        self.engine
            .schedule_after(handling, Event::ProbeDone { msg: m, seq });
    }

    /// May probe `epoch` of agent `a`, taking a slot now for `handling`,
    /// end without an event? When events of different agents are
    /// independent (`probes_independent`), it left now (so its answer
    /// comes `handling` after it left, before the timeout, none armed), the
    /// agent is serving, and that answer leaves the health status as it is
    /// (or, first, makes it HEALTHY: [`Self::unseen_status`]):
    /// its end then changes nothing anyone sees until the agent's slots or
    /// health are next looked at, and [`Self::settle_probe`] applies it then.
    fn probe_end_unseen(&self, now: Instant, a: usize, epoch: u32, handling: Duration) -> bool {
        if self.unseen_probe_end.is_empty() || self.pinned(a) {
            return false;
        }
        let p = self.probes[a];
        let m = &self.monitors[a];
        p.open
            && p.epoch == epoch
            && !p.timer
            && self.reply_lost.get(a) != Some(&true)
            && p.sent == now
            && self.unseen_probe_end[a] == NO_PROBE
            && self.agents[a].presence() == Presence::Serving
            && self.unseen_status(m.status(), m.status_after_success(self.health(), handling))
    }

    /// May an answer that takes an agent's health from `before` to `after`
    /// end unseen? If it leaves it as it is; or, without an event log
    /// (which shows the status), if it is the first answer, taking UNKNOWN
    /// to HEALTHY: both count as healthy and not degraded in the agent's
    /// view, so no one sees the change before the agent is looked at.
    fn unseen_status(&self, before: Status, after: Status) -> bool {
        after == before
            || (before == Status::Unknown && after == Status::Healthy && self.trace.is_none())
    }

    /// Agent `a`'s slots and health are about to be looked at, at `now`:
    /// if a probe of it ended unseen before now, apply its end as its
    /// event would have (the slot freed, the busy time, the answer counted
    /// on the bus and by the monitor, at the time it ended); if it has not
    /// ended, schedule the event of its end after all. An end at `now`
    /// itself is scheduled too: its event came after every event already
    /// due at that instant, this one included.
    pub(super) fn settle_probe(&mut self, now: Instant, a: usize) {
        self.settle_probe_as(now, a, false);
    }

    /// [`Self::settle_probe`] as a request reaches agent `a`. If its probes
    /// were dormant, its next one is not scheduled yet:
    /// [`Self::after_delivery`] decides once the request is in place.
    #[inline]
    pub(super) fn settle_probe_for_request(&mut self, now: Instant, a: usize) {
        if self.unseen_probe_end.get(a).is_some_and(|&m| m != NO_PROBE) {
            self.settle_probe_as(now, a, true);
        }
    }

    fn settle_probe_as(&mut self, now: Instant, a: usize, request: bool) {
        let Some(&m) = self.unseen_probe_end.get(a) else {
            return;
        };
        if !request {
            self.undefer(a);
        }
        if m == NO_PROBE {
            return;
        }
        let m = if dormant(m) {
            self.wake(now, a, request)
        } else {
            m
        };
        if m == NO_PROBE {
            return;
        }
        self.unseen_probe_end[a] = NO_PROBE;
        let msg = self.probe_msgs[m as usize];
        if msg.done >= now {
            self.engine
                .schedule(
                    msg.done,
                    Event::ProbeDone {
                        msg: m,
                        seq: msg.seq,
                    },
                )
                .expect("the probe ends now or later");
            return;
        }
        self.end_probe(msg.done, m);
    }

    /// Agent `a`, whose probes are dormant, is looked at now: its probes
    /// due before now are applied ([`Self::catch_up`]) and its next one is
    /// an event again. Returns its probe whose end is unseen, if any.
    ///
    /// A probe due at now itself stays to come, after the event looking at
    /// the agent: that event was scheduled before this instant (arrivals
    /// come at distinct instants, and every other event is scheduled
    /// ahead), so it was pending when the probe's event was handled, which
    /// then left the probe's arrival to an event after it (`probe_may_skip`
    /// finds an event due now that is not independent of the probe): the
    /// request it brings reached the agent first either way.
    ///
    /// With `defer` (a request brings the look), the next probe is not
    /// scheduled yet: see [`Self::after_delivery`].
    fn wake(&mut self, now: Instant, a: usize, defer: bool) -> u32 {
        self.catch_up_dormant(now, a, false);
        if defer {
            self.probe_deferred[a] = true;
        } else {
            self.schedule_next_probe(a);
        }
        self.unseen_probe_end[a]
    }

    /// Agent `a`'s next probe is an event again, at its time.
    fn schedule_next_probe(&mut self, a: usize) {
        let next = self.monitors[a].poll_timeout();
        self.engine
            .schedule(next, Event::Probe { agent: a as u32 })
            .expect("probes are caught up to now");
    }

    /// End agent `a`'s dormancy (`end_dormancy`) and apply its probes due
    /// before `until` (or at it, with `at_until`), refused ones
    /// ([`Self::catch_up_refused`]) or steady ones ([`Self::catch_up`]).
    /// Returns when the last of them was due, if any was.
    fn catch_up_dormant(&mut self, until: Instant, a: usize, at_until: bool) -> Option<Instant> {
        let refused = self.unseen_probe_end[a] == REFUSED;
        self.end_dormancy(a);
        if refused {
            self.catch_up_refused(until, a, at_until)
        } else {
            self.catch_up(until, a, at_until)
        }
    }

    /// Clear agent `a`'s dormant mark: its last probe whose end is unseen,
    /// or `NO_PROBE`.
    fn end_dormancy(&mut self, a: usize) {
        let mark = self.unseen_probe_end[a];
        let m = mark & !DORMANT;
        self.unseen_probe_end[a] = if m == NO_LAST || mark == REFUSED {
            NO_PROBE
        } else {
            m
        };
    }

    /// If agent `a`'s probes are dormant, apply those due before now and
    /// make its next one an event again (its last probe's end, if unseen,
    /// stays so); if its next probe is deferred, schedule it.
    pub(super) fn wake_dormant(&mut self, now: Instant, a: usize) {
        if let Some(&m) = self.unseen_probe_end.get(a) {
            self.undefer(a);
            if dormant(m) {
                self.wake(now, a, false);
            }
        }
    }

    /// A request reached agent `a` as its probes slept, and woke them
    /// (`wake` with `defer`). Their next is due at `T` (the monitor's next
    /// probe). If the request took a free slot now and its service ends
    /// before `T`, nothing of the agent can change before that end but by
    /// another look, so the next probe stays unscheduled: at the end
    /// ([`Self::deferred_done`]) the agent is idle again and its probes may
    /// sleep on with no event at all, which is what the probe at `T` would
    /// have decided (the agent is then as it will be at `T`). Otherwise the
    /// probe is an event, as before. Any other look in between schedules it
    /// ([`Self::undefer`]).
    ///
    /// The probe's event, scheduled later than it was, may follow events
    /// due at `T` that were scheduled in between, rather than precede
    /// them: those of other agents are independent of it, and one of this
    /// agent found it pending before (its arrival then waited for an event
    /// after that one: `probe_may_skip`), so it reached the agent after
    /// that one either way.
    /// Called (for a deferred agent: [`Self::is_deferred`]) as request
    /// `r` is in place at agent `a`.
    pub(super) fn after_delivery(&mut self, now: Instant, a: usize, r: u32) {
        let req = &self.reqs[r as usize];
        let keep = req.phase == super::Phase::Serving
            && req.service_start == now
            && self.started_until < self.monitors[a].poll_timeout();
        if !keep {
            self.undefer(a);
        }
    }

    /// Is agent `a`'s next probe deferred ([`Self::after_delivery`])?
    #[inline]
    pub(super) fn is_deferred(&self, a: usize) -> bool {
        self.probe_deferred.get(a) == Some(&true)
    }

    /// If agent `a`'s next probe is deferred, schedule it now.
    fn undefer(&mut self, a: usize) {
        if self.is_deferred(a) {
            self.probe_deferred[a] = false;
            self.schedule_next_probe(a);
        }
    }

    /// The request that left agent `a`'s next probe unscheduled ended (see
    /// [`Self::after_delivery`]): if the agent is idle and steady, with no
    /// probe of its own in flight, its probes sleep on from the next one
    /// (`DORMANT | NO_LAST`); else that probe is an event.
    pub(super) fn deferred_done(&mut self, a: usize) {
        self.probe_deferred[a] = false;
        let p = self.probes[a];
        if !p.open && !p.timer && self.unseen_probe_end[a] == NO_PROBE && self.steady_idle(a) {
            self.unseen_probe_end[a] = DORMANT | NO_LAST;
            self.schedule_probe_wake(a);
        } else {
            self.schedule_next_probe(a);
        }
    }

    /// Apply agent `a`'s dormant probes due before `until` (or at it, with
    /// `at_until`) as their events would have: each is counted on the bus
    /// (sent and delivered at once), holds the free slot for its handling
    /// time `h` (busy time), and answers `h` after it left (counted on the
    /// bus, `h` in the EMA, the status as it was), the last one's end left
    /// unseen if it is not before `until`. The probe that left as the
    /// agent went dormant ends first. Its probes are due every `interval`
    /// from the monitor's next one; each ends before the next leaves.
    /// Returns when the last of them was due, if any was.
    fn catch_up(&mut self, until: Instant, a: usize, at_until: bool) -> Option<Instant> {
        let (n, first, last) = self.probes_due(until, a, at_until)?;
        let m = self.unseen_probe_end[a];
        debug_assert!(m < DORMANT || m == NO_PROBE, "catch_up of a dormant mark");
        self.unseen_probe_end[a] = NO_PROBE;
        if m != NO_PROBE {
            self.end_probe(self.probe_msgs[m as usize].done, m);
        }
        let h = self.probe_handling[self.agents[a].tier as usize];
        // A probe due at `until` itself (`at_until`: the run stopped after
        // the event then, which its event preceded) was sent, its arrival
        // an event after the one in hand (see `wake`), never handled.
        let sent_only = last == until;
        let arrived = n - u64::from(sent_only);
        let answered = if sent_only || last + h < until {
            arrived
        } else {
            arrived - 1
        };
        self.probes_went_through(a, arrived);
        self.bus.crossed_unseen(bus::Kind::Probe, arrived);
        self.bus.crossed_unseen(bus::Kind::ProbeReply, answered);
        let agent = &mut self.agents[a];
        agent.busy_time = agent.busy_time + Duration(h.as_nanos() * answered);
        let cfg = self.health();
        let mon = &mut self.monitors[a];
        let mut latest = last;
        if answered > 0 && mon.status() == Status::Unknown {
            // Born dormant (see `start_discovery`): the first answer takes
            // it to HEALTHY (`steady_idle` said so), which its view shows
            // as it showed UNKNOWN; it was an event of its own (see
            // `settle_probes`).
            let done = Instant(first) + h;
            mon.on_probe_success(cfg, done, h);
            mon.on_probe_successes(cfg, h, answered - 1);
            latest = latest.max(done);
        } else {
            mon.on_probe_successes(cfg, h, answered);
        }
        mon.poll_probe(cfg, last);
        let p = &mut self.probes[a];
        p.epoch = p.epoch.wrapping_add(n as u32);
        p.sent = last;
        p.open = answered < n;
        p.timer = sent_only;
        let epoch = p.epoch;
        if sent_only {
            self.send_only(last, a);
        } else if answered < arrived {
            // The last one still holds its slot.
            let m = self.alloc_probe(a as u32, epoch);
            let msg = &mut self.probe_msgs[m as usize];
            msg.start = last;
            msg.done = last + h;
            msg.serving = true;
            let agent = &mut self.agents[a];
            agent.busy += 1;
            agent.in_service.push(PROBE | m);
            self.unseen_probe_end[a] = m;
        }
        Some(latest)
    }

    /// [`Self::catch_up`] for an agent whose probes slept as it was down
    /// (`may_sleep_refused`): each probe due before `until` (or at it,
    /// with `at_until`) arrived and was refused at once, both crossings
    /// counted on the bus, and failed (one more failure in a row; the
    /// status stays UNHEALTHY). A probe due at `until` itself was sent,
    /// not handled, as there. Returns when the last of them was due, if
    /// any was.
    fn catch_up_refused(&mut self, until: Instant, a: usize, at_until: bool) -> Option<Instant> {
        let (n, _, last) = self.probes_due(until, a, at_until)?;
        let sent_only = last == until;
        let refused = n - u64::from(sent_only);
        self.probes_went_through(a, refused);
        self.bus.crossed_unseen(bus::Kind::Probe, refused);
        self.bus.crossed_unseen(bus::Kind::ProbeReply, refused);
        let cfg = self.health();
        let mon = &mut self.monitors[a];
        mon.on_probe_failures(cfg, refused);
        mon.poll_probe(cfg, last);
        let p = &mut self.probes[a];
        p.epoch = p.epoch.wrapping_add(n as u32);
        p.sent = last;
        p.open = sent_only;
        p.timer = sent_only;
        if sent_only {
            self.send_only(last, a);
        }
        Some(last)
    }

    /// Agent `a`'s sleeping probes due before `until` (or at it, with
    /// `at_until`): how many, when the first and the last were due (every
    /// `interval` from the monitor's next one). `None` if none is.
    fn probes_due(&self, until: Instant, a: usize, at_until: bool) -> Option<(u64, u64, Instant)> {
        let cfg = self.health();
        let period = cfg.interval.as_nanos().max(1);
        let first = self.monitors[a].poll_timeout().0;
        let bound = if at_until {
            until.0
        } else {
            until.0.wrapping_sub(1)
        };
        if until.0 == 0 || first > bound {
            return None;
        }
        let n = (bound - first) / period + 1;
        Some((n, first, Instant(first + (n - 1) * period)))
    }

    /// A sleeping probe due at `at`, the instant the run stopped, left
    /// agent `a` (counted on the bus) and was not handled.
    fn send_only(&mut self, at: Instant, a: usize) {
        self.send_probe(at, a);
    }

    /// Agent `a`'s current probe leaves now: its fate on the bus. With
    /// `probe_losses`, as drawn ahead for the agent; else from the shared
    /// `probes` stream. With `replies_drawn`, whether the answer to one
    /// that arrives is to be lost is decided now too.
    fn send_probe(&mut self, now: Instant, a: usize) -> Fate {
        let (kind, to) = (bus::Kind::Probe, Endpoint(a as u32));
        if !self.probe_losses.is_empty() {
            let (probe_lost, answer_lost) = self.next_probe_fate(a);
            self.reply_lost[a] = answer_lost;
            return self
                .bus
                .send_decided(now, kind, Endpoint::CONTROL, to, probe_lost);
        }
        let fate = self.bus.send_via(
            now,
            kind,
            Endpoint::CONTROL,
            to,
            &mut self.rng.probes,
            Some(&mut self.rng.broker),
        );
        if self.replies_drawn && matches!(fate, Fate::Arrives(_)) {
            self.reply_lost[a] = unit(&mut self.rng.probes) < self.sc.network.loss;
        }
        fate
    }

    /// The fates of agent `a`'s next probe and of its answer (lost or
    /// not), from its losses drawn ahead ([`ProbeLosses`]).
    fn next_probe_fate(&mut self, a: usize) -> (bool, bool) {
        let l = &mut self.probe_losses[a];
        if l.until_loss > 0 {
            l.until_loss -= 1;
            return (false, false);
        }
        let probe_lost = l.probe_lost;
        self.draw_probe_loss(a);
        (probe_lost, !probe_lost)
    }

    /// `n` of agent `a`'s probes went through unseen (sleeping): with
    /// `probe_losses`, none of them was the next to fail (the agent
    /// wakes for that one).
    fn probes_went_through(&mut self, a: usize, n: u64) {
        if let Some(l) = self.probe_losses.get_mut(a) {
            assert!(
                l.until_loss >= n,
                "agent {a}: {n} probes slept past a lost one ({} to go)",
                l.until_loss
            );
            l.until_loss -= n;
        }
    }

    /// Draw agent `a`'s next failed probe exchange from its own stream
    /// (`probes/agent-N`): how many probes go through before it
    /// (geometric, drawn as `⌊E / −ln((1 − p)²)⌋` with `E` exponential, as
    /// [`Self::heartbeats_until_loss`] draws its heartbeats), and whether
    /// it loses the probe (with `1 / (2 − p)`) or the answer.
    fn draw_probe_loss(&mut self, a: usize) {
        let p = self.sc.network.loss;
        let mut rng = self.agent_stream(b"probes/", a, self.probe_losses[a].pos);
        let e = neg_ln_1m(unit(&mut rng));
        let which = unit(&mut rng);
        let l = &mut self.probe_losses[a];
        l.pos = rng.word_pos();
        // Saturating: a loss of 1 fails every exchange, a tiny one none
        // for ever.
        l.until_loss = (e / (2.0 * neg_ln_1m(p))) as u64;
        l.probe_lost = which < 1.0 / (2.0 - p);
    }

    /// Agent `a`'s probes just went to sleep: with `probe_losses`, it
    /// wakes for its next probe whose exchange fails, `until_loss`
    /// intervals after its next probe (`ProbeWake`, unless that one is
    /// already pending: it slept before since that probe was drawn).
    fn schedule_probe_wake(&mut self, a: usize) {
        let Some(&l) = self.probe_losses.get(a) else {
            return;
        };
        let interval = self.health().interval.as_nanos().max(1);
        let next = self.monitors[a].poll_timeout().0;
        let Some(at) = (l.until_loss.checked_mul(interval))
            .and_then(|d| next.checked_add(d))
            .map(Instant)
            .filter(|&t| t < Instant::MAX)
        else {
            return;
        };
        if l.wake_at == at {
            return;
        }
        debug_assert_eq!(l.wake_at, Instant::MAX, "agent {a}: two probe wakes");
        self.probe_losses[a].wake_at = at;
        self.engine
            .schedule(at, Event::ProbeWake { agent: a as u32 })
            .expect("a lost probe ahead");
    }

    /// Before the run: agents born dormant (`start_discovery`) on a
    /// lossy network wake for their first failed exchange. Not while the
    /// world is set up: a world given an event log wakes every agent born
    /// dormant then (`wake_born`), with nothing to wake it for.
    pub(super) fn schedule_born_wakes(&mut self) {
        for a in 0..self.probe_losses.len() {
            if self.unseen_probe_end.get(a) == Some(&(DORMANT | NO_LAST)) {
                self.schedule_probe_wake(a);
            }
        }
    }

    /// Agent `a`'s `ProbeWake` is due. If its probes still sleep, the
    /// probe due now is the one whose exchange fails: the probes before it
    /// are applied, and it is sent now, as its event would have
    /// ([`Self::on_probe`]). If they do not (a look at the agent woke
    /// them before, and its probes are events, this one's included), it
    /// does nothing.
    pub(super) fn on_probe_wake(&mut self, now: Instant, a: u32) {
        let i = a as usize;
        self.probe_losses[i].wake_at = Instant::MAX;
        if !dormant(self.unseen_probe_end[i]) {
            return;
        }
        self.catch_up_dormant(now, i, false);
        debug_assert_eq!(self.monitors[i].poll_timeout(), now, "agent {a}'s wake");
        debug_assert_eq!(self.probe_losses[i].until_loss, 0, "agent {a}'s wake");
        self.on_probe(now, a);
    }

    /// Every probe is an event from the start (an event log shows each):
    /// the first probes of agents born dormant (`start_discovery`) are
    /// scheduled in the places they were given then, before the run.
    pub(super) fn wake_born(&mut self) {
        self.probes_dormant = false;
        debug_assert_eq!(self.engine.events_processed(), 0, "the run has started");
        for a in 0..self.unseen_probe_end.len() {
            if self.unseen_probe_end[a] == DORMANT | NO_LAST {
                self.unseen_probe_end[a] = NO_PROBE;
                let seq = self.first_probe_seq + a as u64;
                let first = self.monitors[a].poll_timeout();
                self.engine
                    .schedule_reserved(first, seq, Event::Probe { agent: a as u32 })
                    .expect("a first probe's place is reserved and ahead");
            }
        }
    }

    /// Tests only: every answer that arrives an event (what unseen
    /// answers are checked against).
    #[cfg(test)]
    pub(super) fn all_answers_evented(&mut self) {
        self.unseen_answers = Vec::new();
    }

    /// Tests only: every step of every probe an event, as where events of
    /// different agents' probes depend on each other (what their results
    /// are checked against).
    #[cfg(test)]
    pub(super) fn all_probes_evented(&mut self) {
        self.wake_born();
        self.unseen_answers = Vec::new();
        self.probes_independent = false;
        self.unseen_probe_end = Vec::new();
        self.probe_deferred = Vec::new();
    }

    /// Are some agent's probes dormant? Their events, had they been
    /// scheduled, would keep the event queue from running empty (the run
    /// then ends at the end of the drain, not at its last event).
    pub(super) fn probes_asleep(&self) -> bool {
        self.unseen_probe_end.iter().any(|&m| dormant(m))
    }

    /// At the end of the run: apply the unseen ends before `heard`.
    ///
    /// A sleeping probe due at `heard` itself, when the run stopped after
    /// an event then, counts as sent: its event would have been scheduled
    /// a probe interval before, ahead of the event that ended the run if
    /// that one was scheduled within the interval (a request's end, its
    /// reply). An event scheduled earlier than that (a request timeout or a
    /// service longer than the interval) that ends the run exactly at a
    /// sleeping probe's instant would have come first, and that probe
    /// would not have been sent: the probes' `sent` count is then one more
    /// than with every probe an event. Only runs on a grid (constant
    /// arrivals on the probes' instants) meet it.
    ///
    /// Dormant probes, and first answers that ended unseen, were events
    /// before: at the end of the drain (the run stopping before `heard`,
    /// not after an event there) the last of those events, if it came
    /// after the last event handled and at or after the end of the
    /// current report bucket, closed that bucket with the gauges as they
    /// are now (none of them changes a gauge), rather than the end of the
    /// run, after the tasks left are cancelled: so it is closed here.
    pub(super) fn settle_probes(&mut self, heard: Instant) {
        // The run stopped after an event at `heard` (rather than before
        // it, at the end of the drain): a probe due then was handled.
        let at_heard = heard == self.engine.now();
        let mut latest = Instant::ZERO;
        // Answers that arrived unseen: those whose events would have come
        // before the run stopped (before `heard`, or at it ahead of the
        // event that ended the run) arrived.
        for a in 0..self.unseen_answers.len() {
            let u = self.unseen_answers[a];
            if u.at < heard
                || (u.at != Instant::MAX && at_heard && self.engine.popped_by_now(u.at, u.seq))
            {
                latest = latest.max(u.at);
                self.settle_answer(a);
            }
        }
        for a in 0..self.unseen_probe_end.len() {
            if dormant(self.unseen_probe_end[a])
                && let Some(last) = self.catch_up_dormant(heard, a, at_heard)
            {
                latest = latest.max(last);
            }
            let m = self.unseen_probe_end[a];
            if m != NO_PROBE && self.probe_msgs[m as usize].done < heard {
                let done = self.probe_msgs[m as usize].done;
                if self.monitors[a].status() == Status::Unknown {
                    latest = latest.max(done);
                }
                self.unseen_probe_end[a] = NO_PROBE;
                self.end_probe(done, m);
            }
        }
        if !at_heard && latest >= self.metrics.bucket_end() {
            let gauges = self.gauges();
            self.metrics.advance(latest, gauges);
        }
    }

    /// An unseen probe `m` ended at `done` (before now): what its
    /// `ProbeDone` and the answer's arrival would have done then, on an
    /// instant network (an answer to be lost never ends unseen), with an
    /// empty queue behind it.
    fn end_probe(&mut self, done: Instant, m: u32) {
        let msg = &mut self.probe_msgs[m as usize];
        msg.serving = false;
        msg.replied = done;
        let (a, start) = (msg.agent as usize, msg.start);
        let agent = &mut self.agents[a];
        debug_assert!(agent.queue.is_empty(), "an unseen probe ended with a queue");
        agent.busy -= 1;
        agent.in_service.remove(PROBE | m);
        agent.busy_time = agent.busy_time + (done - start);
        let fate = self.send_answer(done, m);
        debug_assert_eq!(fate, Fate::Arrives(done), "an unseen probe's answer");
        self.on_probe_reply(done, m);
    }

    /// Probe `m` is handled: its slot goes to the next in line (its
    /// handling counts as busy time, not as a task) and its answer leaves.
    pub(super) fn on_probe_done(&mut self, now: Instant, m: u32) {
        let msg = &mut self.probe_msgs[m as usize];
        msg.serving = false;
        let (a, start) = (msg.agent as usize, msg.start);
        let agent = &mut self.agents[a];
        agent.busy -= 1;
        agent.in_service.remove(PROBE | m);
        agent.busy_time = agent.busy_time + (now - start);
        self.start_next(now, a);
        self.answer_probe(now, m, true);
    }

    /// Probe `m`'s answer (or refusal) leaves its agent at `now`: its fate
    /// on the bus, its loss drawn now from `probes` or, with
    /// `replies_drawn`, decided as the probe arrived.
    fn send_answer(&mut self, now: Instant, m: u32) -> Fate {
        let msg = &self.probe_msgs[m as usize];
        let (from, to) = (Endpoint(msg.agent), Endpoint::CONTROL);
        let kind = bus::Kind::ProbeReply;
        if self.replies_drawn {
            self.bus.send_decided(now, kind, from, to, msg.reply_lost)
        } else {
            let broker = Some(&mut self.rng.broker);
            self.bus
                .send_via(now, kind, from, to, &mut self.rng.probes, broker)
        }
    }

    /// Probe `m`'s answer (or refusal) leaves its agent for the monitor.
    /// On an instant network, when the caller does nothing after this
    /// (`last`) and no other event is due now, the answer's arrival would
    /// be the next event: it is handled at once instead. If the answer is
    /// lost, the probe's timeout is armed (if it was not).
    pub(super) fn answer_probe(&mut self, now: Instant, m: u32, last: bool) {
        let msg = &mut self.probe_msgs[m as usize];
        msg.replied = now;
        let (a, seq, epoch) = (msg.agent, msg.seq, msg.epoch);
        match self.send_answer(now, m) {
            Fate::Lost(_) => {
                self.release_probe(m);
                self.probe_answer_lost(now, a as usize, epoch);
            }
            Fate::Arrives(_) if last && self.probe_may_skip(a, false) => {
                self.on_probe_reply(now, m)
            }
            Fate::Arrives(t) => {
                let p = self.probes[a as usize];
                if t >= p.sent + self.health().timeout {
                    self.arm_probe_timeout_of(now, a as usize, epoch);
                } else if self.answer_unseen(t, m) {
                    // Kept by the agent, with its place in the event order
                    // (for the end of the run).
                    self.release_probe(m);
                    self.unseen_answers[a as usize] = UnseenAnswer {
                        sent: now,
                        at: t,
                        seq: self.engine.reserve(),
                    };
                    return;
                }
                self.engine
                    .schedule(t, Event::ProbeReply { msg: m, seq })
                    .expect("replies arrive after they leave");
            }
        }
    }

    /// May probe `m`'s answer, leaving its agent now to arrive at `t`
    /// (before its timeout, so before the agent's next probe leaves),
    /// arrive with no event? Where `lazy_probe_timeouts` holds (a network
    /// with latency or a broker) and no event log is kept: if it is a
    /// success that the monitor still awaits (no
    /// timeout armed), the agent is serving, and the answer leaves its
    /// health status as it is (or, first, makes it HEALTHY:
    /// [`Self::unseen_status`]). Its arrival then changes the EMA, the bus
    /// counts and nothing else: no view, gauge or decision reads them
    /// before the next probe leaves (a change of the agent's presence, a
    /// partition of it or a broker outage first makes the answer an event
    /// again: [`Self::unseen_answer_evented`]), and no other event at its instant
    /// depends on it, so the order among those is moot. The next probe's
    /// event ([`Self::settle_answer`]) or the end of the run
    /// ([`Self::settle_probes`]) applies it, dated when it arrived.
    fn answer_unseen(&self, t: Instant, m: u32) -> bool {
        if self.unseen_answers.is_empty() {
            return false;
        }
        let msg = &self.probe_msgs[m as usize];
        let a = msg.agent as usize;
        let p = self.probes[a];
        let mon = &self.monitors[a];
        let cfg = self.health();
        // Before the timeout, so before the next probe leaves (a timeout
        // is at most the interval).
        debug_assert!(
            t < mon.poll_timeout(),
            "agent {a}'s answer after its next probe"
        );
        let awaited = msg.ok && p.open && p.epoch == msg.epoch && !p.timer;
        // (An older probe's answer may leave while this one's is kept.)
        debug_assert!(
            !awaited || self.unseen_answers[a].at == Instant::MAX,
            "agent {a}: one probe, two answers"
        );
        awaited
            && self.agents[a].presence() == Presence::Serving
            && self.unseen_status(mon.status(), mon.status_after_success(cfg, t - p.sent))
    }

    /// Agent `a`'s health is about to be looked at (its next probe
    /// leaves, or the run ends after the answer's event would have come):
    /// an answer of its that arrived unseen ([`Self::answer_unseen`]) is
    /// applied first, as its event would have been then.
    #[inline]
    fn settle_answer(&mut self, a: usize) {
        if let Some(u) = self.unseen_answers.get_mut(a)
            && u.at != Instant::MAX
        {
            let u = std::mem::replace(u, UnseenAnswer::NONE);
            let epoch = self.probes[a].epoch;
            self.answer_arrives(u.at, a, epoch, true, u.sent);
        }
    }

    /// Something that may lose a message as it arrives is about to start
    /// (agent `a` cut off, the broker down), or agent `a`'s presence is
    /// about to change (an answer that passes lets a joining agent serve):
    /// its answer that arrives unseen ([`Self::answer_unseen`]) is applied
    /// now if it has arrived, before the change, as its event was; if it
    /// has not, it is an event after all, in the place its arrival took as
    /// it left.
    pub(super) fn unseen_answer_evented(&mut self, a: usize) {
        let Some(&u) = self.unseen_answers.get(a) else {
            return;
        };
        if u.at == Instant::MAX {
            return;
        }
        if self.engine.popped_by_now(u.at, u.seq) {
            self.settle_answer(a);
            return;
        }
        self.unseen_answers[a] = UnseenAnswer::NONE;
        let m = self.alloc_probe(a as u32, self.probes[a].epoch);
        let msg = &mut self.probe_msgs[m as usize];
        msg.replied = u.sent;
        let seq = msg.seq;
        self.engine
            .schedule_reserved(u.at, u.seq, Event::ProbeReply { msg: m, seq })
            .expect("an answer not arrived yet is ahead, its place reserved");
    }

    /// The answer to agent `a`'s probe `epoch` is lost: if that probe is
    /// still awaited, its timeout decides (armed now if it was not).
    fn probe_answer_lost(&mut self, now: Instant, a: usize, epoch: u32) {
        let p = self.probes[a];
        if p.open && p.epoch == epoch {
            self.arm_probe_timeout(now, a);
        }
    }

    /// A probe's answer reaches the monitor: a success (with its round
    /// trip) or a refusal, unless the probe has already timed out.
    pub(super) fn on_probe_reply(&mut self, now: Instant, m: u32) {
        let msg = self.probe_msgs[m as usize];
        self.release_probe(m);
        self.answer_arrives(now, msg.agent as usize, msg.epoch, msg.ok, msg.replied);
    }

    /// The answer to agent `i`'s probe `epoch`, a success if `ok`, which
    /// left the agent at `replied`, reaches the monitor at `now` (see
    /// [`Self::on_probe_reply`]).
    fn answer_arrives(&mut self, now: Instant, i: usize, epoch: u32, ok: bool, replied: Instant) {
        let a = i as u32;
        let p = self.probes[i];
        if !self.bus.arrive(
            now,
            bus::Kind::ProbeReply,
            Endpoint(a),
            Endpoint::CONTROL,
            replied,
        ) {
            self.probe_answer_lost(now, i, epoch);
            return;
        }
        if p.epoch != epoch || !p.open {
            return;
        }
        self.probes[i].open = false;
        let cfg = self.health();
        let mon = &mut self.monitors[i];
        let before = mon.status();
        let rtt = now - p.sent;
        let passed = ok && rtt <= cfg.timeout;
        if ok {
            mon.on_probe_success(cfg, now, rtt);
        } else {
            mon.on_probe_failure(cfg, now);
        }
        // The status is the view's only input a probe changes (the others
        // refresh it themselves): a status the view shows the same (say
        // UNKNOWN to HEALTHY) leaves it as it is.
        if shown(mon.status()) != shown(before) {
            self.refresh(i);
        }
        if passed {
            self.on_probe_passed(now, i);
        }
    }

    pub(super) fn on_probe_timeout(&mut self, now: Instant, a: u32, epoch: u32) {
        let i = a as usize;
        let p = &mut self.probes[i];
        if p.epoch != epoch || !p.open {
            return;
        }
        p.open = false;
        self.bus.timed_out(bus::Kind::Probe);
        let before = self.monitors[i].status();
        let cfg = self.health();
        self.monitors[i].on_probe_failure(cfg, now);
        if shown(self.monitors[i].status()) != shown(before) {
            self.refresh(i);
        }
    }

    pub(super) fn on_heartbeat(&mut self, now: Instant, a: u32) {
        let lossy = !self.heartbeat_losses.is_empty();
        if lossy || (self.quiet_heartbeats && self.heartbeats_drawn()) {
            // A held run's slot event waits as a slot does with every
            // heartbeat an event (`on_heartbeat_after`); a cut-off agent
            // has none.
            if self.fleet_changes
                && self.agents[a as usize].presence().registered()
                && self.change_due_now(a)
            {
                self.engine
                    .schedule(now, Event::Heartbeat { agent: a })
                    .expect("now is not in the past");
            } else if lossy {
                self.on_heartbeat_slot(now, a as usize);
            } else {
                self.on_drawn_slot(now, a as usize);
            }
            return;
        }
        self.engine
            .schedule_after(self.sc.registry.heartbeat, Event::Heartbeat { agent: a });
        self.on_heartbeat_after(now, a);
    }

    /// Agent `a`'s heartbeat due now, with every heartbeat an event. It is
    /// sent after the changes due at this instant that may silence or
    /// deregister the agent (a fault's start or end, its availability; in
    /// a changing fleet, a rolling restart's step or an autoscaling
    /// decision), when it is cut off or (in a changing fleet) registered:
    /// whether the partition loses it, or the agent still sends it, does
    /// not depend on which event was scheduled first (a partition shorter
    /// than a period ends on an event scheduled after this one, a longer
    /// one before it). Again, if such an event was scheduled at this
    /// instant since.
    pub(super) fn on_heartbeat_after(&mut self, now: Instant, a: u32) {
        let agent = &self.agents[a as usize];
        let may_change =
            agent.is_cut_off() || (self.fleet_changes && agent.presence().registered());
        if may_change && self.change_due_now(a) {
            self.engine
                .schedule(now, Event::HeartbeatAfter { agent: a })
                .expect("now is not in the past");
            return;
        }
        self.send_slot_heartbeat(now, a as usize);
    }

    /// Agent `a`'s heartbeat due now, with every heartbeat an event: sent
    /// unless it is down or not registered. An agent that came back at
    /// this very instant sent its heartbeat then, whichever of the two
    /// events came first.
    fn send_slot_heartbeat(&mut self, now: Instant, a: usize) {
        let agent = &self.agents[a];
        if !agent.is_down() && agent.presence().registered() && self.back_at.get(a) != Some(&now) {
            let _ = self.send_heartbeat(now, a);
        }
    }

    /// Is an event pending now that may change agent `a`'s condition or
    /// presence (a fault's start or end, its availability, a rolling
    /// restart's step, an autoscaling decision)?
    fn change_due_now(&self, a: u32) -> bool {
        self.engine.pending_now().any(|e| match *e {
            Event::FaultStart { .. }
            | Event::FaultEnd { .. }
            | Event::RollingNext { .. }
            | Event::Autoscale { .. } => true,
            Event::Availability { agent } => agent == a,
            _ => false,
        })
    }

    /// With held heartbeats, agent `a`'s condition changes now: the
    /// heartbeats it sent while cut off and up, due from `cut_since` on
    /// and before now, are counted lost to its partition (as the bus
    /// loses a cut-off agent's message: no draw). A change due at the
    /// same instant as a heartbeat comes first (faults are scheduled as
    /// the run starts, before any heartbeat; see also `on_heartbeat`).
    pub(super) fn settle_cut_heartbeats(&mut self, now: Instant, a: usize) {
        let Some(&since) = self.cut_since.get(a) else {
            return;
        };
        if since == Instant::MAX {
            return;
        }
        self.cut_since[a] = Instant::MAX;
        let n = self.slot_from(a, now) - self.slot_from(a, since);
        self.bus.cut_unseen(bus::Kind::Heartbeat, n);
    }

    /// With held heartbeats, agent `a`'s condition changed now: if it is
    /// cut off but up, its heartbeats from `from` on are lost to the
    /// partition, counted when its condition next changes
    /// ([`Self::settle_cut_heartbeats`]) or the run ends.
    pub(super) fn start_cut_heartbeats(&mut self, from: Instant, a: usize) {
        if self.cut_since.is_empty() {
            return;
        }
        let agent = &self.agents[a];
        if agent.is_cut_off() && !agent.is_down() && agent.presence().registered() {
            self.cut_since[a] = from;
        }
    }

    /// Agent `a` registered now (it joined, or came back from a drain):
    /// with held heartbeats it holds the lease it registered with, or, cut
    /// off, its heartbeats after now are lost to the partition. With every
    /// heartbeat an event, a slot of its due at this very instant sends
    /// none (it registered then, whichever of the two events came first).
    pub(super) fn heartbeats_joined(&mut self, now: Instant, a: usize) {
        if let Some(back) = self.back_at.get_mut(a) {
            *back = now;
        }
        self.hold_registered(now, a);
        self.start_cut_heartbeats(Instant(now.0.saturating_add(1)), a);
    }

    /// Agent `a` deregisters now (it drains): with held heartbeats, those
    /// it sent before now are counted, as when it goes silent.
    pub(super) fn heartbeats_leave(&mut self, now: Instant, a: usize) {
        self.settle_cut_heartbeats(now, a);
        self.release_lease(now, a);
    }

    /// Agent `a` sends a heartbeat to the registry (a cut-off agent sends
    /// it too, and the bus loses it).
    /// Returns false if the network lost it.
    pub(super) fn send_heartbeat(&mut self, now: Instant, a: usize) -> bool {
        if self.heartbeats_drawn() {
            return self.send_drawn_heartbeat(now, a);
        }
        match self.bus.send_via(
            now,
            bus::Kind::Heartbeat,
            Endpoint(a as u32),
            Endpoint::CONTROL,
            &mut self.rng.heartbeats,
            Some(&mut self.rng.broker),
        ) {
            Fate::Lost(_) => return false,
            Fate::Arrives(_) if self.zero_latency => self.on_heartbeat_arrives(now, a as u32, now),
            Fate::Arrives(t) => self.heartbeat_arrives_at(t, a, now),
        }
        true
    }

    /// Agent `a`'s heartbeat sent at `sent` reaches the registry at `at`,
    /// as an event.
    pub(super) fn heartbeat_arrives_at(&mut self, at: Instant, a: usize, sent: Instant) {
        let sent = split_instant(sent);
        self.engine
            .schedule(
                at,
                Event::HeartbeatArrives {
                    agent: a as u32,
                    sent,
                },
            )
            .expect("messages arrive after they leave");
    }

    pub(super) fn on_heartbeat_arrives(&mut self, now: Instant, a: u32, sent: Instant) {
        if self.bus.is_cut(Endpoint(a)) && self.change_due_now(a) {
            // It arrives after a partition that heals now (a run holding
            // leases schedules the arrival of a heartbeat on its way when
            // its agent goes silent, later than a run with every
            // heartbeat an event: their order against the fault's end
            // would differ).
            self.heartbeat_arrives_at(now, a as usize, sent);
            return;
        }
        if self.bus.arrive(
            now,
            bus::Kind::Heartbeat,
            Endpoint(a),
            Endpoint::CONTROL,
            sent,
        ) {
            self.heartbeat_now(now, a as usize);
            // With quiet heartbeats and a latency, an agent back up holds
            // its lease from when its heartbeat arrives.
            if self.heartbeats_drawn() {
                self.hold_drawn_on_arrival(now, a as usize);
            } else if self.quiet_latency > 0
                && self
                    .held_since
                    .get(a as usize)
                    .is_some_and(|&s| s != Instant::MAX)
                && !self.agents[a as usize].is_down()
            {
                self.registry.hold(a);
            }
        }
    }

    /// Agent `a` renews its lease (registering if it never did).
    pub(super) fn heartbeat_now(&mut self, now: Instant, a: usize) {
        if !self.agents[a].presence().registered() {
            return; // deregistered since it left
        }
        if (self.quiet_latency > 0 || self.heartbeats_drawn()) && self.registry.is_held(a as u32) {
            return; // held open: a renewal changes nothing
        }
        let was_live = self.registry.is_live(a as u32);
        if !self.registry.heartbeat(now, a as u32) {
            self.register(now, a);
        }
        if was_live {
            // A renewal only moves a live lease's end later: the view (every
            // other input of which refreshes it when it changes) and the
            // earliest lease end the pending check waits for stay as they
            // are, so the common heartbeat touches nothing else.
            return;
        }
        self.refresh(a);
        self.ensure_lease_check();
    }

    /// With quiet heartbeats, agent `a`, up, registers now (as the run
    /// starts, or joins): it holds the lease it registered with from now,
    /// renewed now with no heartbeat (`held_registered`), unlike an agent
    /// that comes back, whose lease is renewed when its heartbeat arrives.
    /// Behind a random latency, only with no heartbeat of its own still on
    /// its way (else its slots are events until one arrives:
    /// `hold_drawn_on_arrival`). Its heartbeats after now are held ones.
    pub(super) fn hold_registered(&mut self, now: Instant, a: usize) {
        if !self.quiet_heartbeats || self.agents[a].is_silent() {
            return;
        }
        if self.heartbeats_drawn() {
            if self.drawn_in_flight(now, a) || !self.registry.hold(a as u32) {
                self.resume_drawn_slots(now, a);
                return;
            }
            self.start_drawn_hold(now, a, self.heartbeat_slot_after(a, now));
        } else if self.registry.hold(a as u32) {
            self.held_since[a] = now;
            self.resume_heartbeat_slots(now, a);
        } else {
            return;
        }
        self.held_registered[a] = true;
    }

    /// With quiet heartbeats, agent `a` (up, registered, its lease
    /// running) holds its lease open from `now`, after it came back and
    /// sent a heartbeat (or, on a lossy network, one arrived after a
    /// loss): each heartbeat it would send arrives and renews it,
    /// changing nothing, so none is simulated.
    pub(super) fn hold_lease(&mut self, now: Instant, a: usize) {
        if !self.quiet_heartbeats || self.heartbeats_drawn() {
            // Drawn, it holds its lease when a heartbeat arrives
            // (`hold_drawn_on_arrival`).
            return;
        }
        self.held_registered[a] = false;
        if self.quiet_latency > 0 {
            // Back up: its heartbeat sent now is on its way. Its
            // heartbeats from now on are counted as held ones, and the
            // registry holds the lease when that one arrives
            // (`on_heartbeat_arrives`).
            self.held_since[a] = now;
        } else if self.registry.hold(a as u32) {
            self.held_since[a] = now;
        }
    }

    /// Agent `a` goes silent now: the heartbeats it sent since it held its
    /// lease are counted, and the lease runs a `ttl` from the last of them
    /// (or from when it was held), as if each had renewed it.
    pub(super) fn release_lease(&mut self, now: Instant, a: usize) {
        let Some(&since) = self.held_since.get(a) else {
            return;
        };
        if self.heartbeats_drawn() {
            self.release_drawn_lease(now, a);
            return;
        }
        if since == Instant::MAX {
            return;
        }
        self.held_since[a] = Instant::MAX;
        let registered = std::mem::take(&mut self.held_registered[a]);
        let d = self.quiet_latency;
        // The last one sent may still be on its way: it arrives as an
        // event of its own, and renews the lease then.
        let (arrived, last, in_flight) = self.count_held_heartbeats(a, since, now);
        let (_, period) = self.heartbeat_grid(a);
        let last_arrived = match (last, in_flight) {
            (Some(t), None) => Some(t),
            (Some(t), Some(_)) if arrived > 0 => Some(Instant(t.0 - period)),
            _ => None,
        };
        // The lease was last renewed by the last arrival, or when it was
        // held: at registration (time 0, no message) or at the arrival of
        // the heartbeat the agent sent as it came back.
        let renewed = match last_arrived {
            Some(t) => t + Duration(d),
            None if registered => since,
            None => since + Duration(d),
        };
        self.registry.release(a as u32, renewed);
        if let Some(t) = in_flight {
            self.heartbeat_arrives_at(t + Duration(d), a, t);
        }
        self.ensure_lease_check();
    }

    /// Count on the bus agent `a`'s heartbeats held since `since` and sent
    /// before `until`: those that arrived by then, and the last one sent
    /// if it is still on its way behind the latency (at most one is: the
    /// latency is shorter than the period; on an instant network none).
    /// Returns how many arrived, when the last was sent, and that one if
    /// it is still on its way.
    fn count_held_heartbeats(
        &mut self,
        a: usize,
        since: Instant,
        until: Instant,
    ) -> (u64, Option<Instant>, Option<Instant>) {
        let (count, last) = self.unseen_heartbeats(a, since, until);
        let d = self.quiet_latency;
        let in_flight = last.filter(|&t| t + Duration(d) >= until);
        let arrived = count - u64::from(in_flight.is_some());
        self.bus
            .crossed_unseen_after(bus::Kind::Heartbeat, arrived, d);
        if in_flight.is_some() {
            self.bus.sent_unseen(bus::Kind::Heartbeat);
        }
        (arrived, last, in_flight)
    }

    /// At the end of the run: count the heartbeats of the agents still
    /// holding their leases, up to (not including) `heard`.
    pub(super) fn settle_held_leases(&mut self, heard: Instant) {
        for a in 0..self.cut_since.len() {
            self.settle_cut_heartbeats(heard, a);
        }
        if self.heartbeats_drawn() {
            self.settle_drawn_leases(heard);
            return;
        }
        for a in 0..self.held_since.len() {
            let since = self.held_since[a];
            if since != Instant::MAX {
                self.count_held_heartbeats(a, since, heard);
            }
        }
    }

    /// Agent `a`'s heartbeat slot at `now`, on a lossy network with quiet
    /// heartbeats: its first lost heartbeat since the last slot looked at,
    /// or the first after a loss (one event each; see [`HeartbeatLosses`]).
    /// Stale events (superseded by an earlier one) are ignored.
    fn on_heartbeat_slot(&mut self, now: Instant, a: usize) {
        if self.heartbeat_losses[a].event_at != now {
            return;
        }
        self.heartbeat_losses[a].event_at = Instant::MAX;
        let agent = &self.agents[a];
        if agent.is_silent() || !agent.presence().registered() {
            // It sends nothing (or, cut off, heartbeats counted as it
            // comes back: `settle_cut_heartbeats`); coming back takes the
            // slots up again (`resume_heartbeat_slots`).
            return;
        }
        let k = self.heartbeat_slot(a, now);
        let next_loss = self.heartbeat_losses[a].next_loss;
        debug_assert!(k <= next_loss, "slot {k} after the next loss {next_loss}");
        if k == next_loss {
            // Lost. Those held since the last slot looked at arrived, and
            // the lease runs from the last of them.
            self.release_lease(now, a);
            self.bus.dropped_unseen(bus::Kind::Heartbeat, 1);
            let g = self.heartbeats_until_loss(a);
            self.heartbeat_losses[a].next_loss = k.saturating_add(1).saturating_add(g);
            self.schedule_heartbeat_slot(a, k.saturating_add(1));
        } else if self.held_since[a] != Instant::MAX {
            // It arrives with the held ones, counted when the hold ends.
            self.schedule_heartbeat_slot(a, next_loss);
        } else {
            // The first to arrive after a loss renews the lease (or
            // registers the agent again), which it then holds. With a
            // latency it arrives as an event of its own, and the registry
            // holds the lease then (`on_heartbeat_arrives`), as for an
            // agent back up.
            if self.quiet_latency == 0 {
                self.bus.crossed_unseen(bus::Kind::Heartbeat, 1);
                self.heartbeat_now(now, a);
            } else {
                self.bus.sent_unseen(bus::Kind::Heartbeat);
                self.heartbeat_arrives_at(now + Duration(self.quiet_latency), a, now);
            }
            self.hold_lease(now, a);
            let held = self.held_since[a] != Instant::MAX;
            self.schedule_heartbeat_slot(a, if held { next_loss } else { k + 1 });
        }
    }

    /// Agent `a` came back and sent its heartbeat (on a lossy network with
    /// quiet heartbeats): its slots from the first after `now` count
    /// again. Losses drawn for slots it missed are drawn afresh from
    /// there (each slot is lost independently, so the draw for the slots
    /// ahead is as good as a new one).
    pub(super) fn resume_heartbeat_slots(&mut self, now: Instant, a: usize) {
        if self.heartbeats_drawn() {
            self.resume_drawn_slots(now, a);
            return;
        }
        if self.heartbeat_losses.is_empty() {
            return;
        }
        let s = self.heartbeat_slot_after(a, now);
        if self.heartbeat_losses[a].next_loss < s {
            let g = self.heartbeats_until_loss(a);
            self.heartbeat_losses[a].next_loss = s.saturating_add(g);
        }
        let k = if self.held_since[a] != Instant::MAX {
            self.heartbeat_losses[a].next_loss
        } else {
            s
        };
        self.schedule_heartbeat_slot(a, k);
    }

    /// How many of agent `a`'s heartbeats in a row arrive before the next
    /// is lost, from its own stream (`heartbeats/agent-N`): geometric,
    /// `P(G ≥ g) = (1 − p)^g` for loss `p`, drawn as `⌊E / −ln(1 − p)⌋`
    /// with `E` exponential (`P(E ≥ g·λ) = e^(−g·λ)`).
    fn heartbeats_until_loss(&mut self, a: usize) -> u64 {
        let mut rng = self.agent_stream(b"heartbeats/", a, self.heartbeat_losses[a].pos);
        let e = neg_ln_1m(unit(&mut rng));
        self.heartbeat_losses[a].pos = rng.word_pos();
        // Saturating: a loss of 1 gives 0, a tiny one a far slot.
        (e / neg_ln_1m(self.sc.network.loss)) as u64
    }

    /// Agent `a`'s own stream `<family>agent-N` (`family` ends in `/`),
    /// from word `pos` on.
    pub(super) fn agent_stream(
        &self,
        family: &[u8],
        a: usize,
        pos: u64,
    ) -> crate::rng::block::Cursor {
        let mut digits = [0u8; 20];
        let prefix = fnv1a64_on(fnv1a64(family), AGENT_ID_PREFIX.as_bytes());
        let id = fnv1a64_on(prefix, crate::text::decimal(a as u64, &mut digits));
        self.availability_key.cursor(id, pos)
    }

    /// Agent `a`'s heartbeat slots, in nanoseconds: slot `k` is due at
    /// `first + k · period`, as their events were (`stagger`).
    fn heartbeat_grid(&self, a: usize) -> (u64, u64) {
        let period = self.sc.registry.heartbeat;
        (
            stagger(period, a, self.agents.len()).0,
            period.as_nanos().max(1),
        )
    }

    /// When agent `a`'s heartbeat slot `k` is due (`None`: past the end
    /// of time).
    pub(super) fn heartbeat_slot_at(&self, a: usize, k: u64) -> Option<Instant> {
        let (first, period) = self.heartbeat_grid(a);
        let t = k.checked_mul(period)?;
        Some(Instant(first.checked_add(t)?)).filter(|&t| t < Instant::MAX)
    }

    /// The slot due at `t` (or the last before it).
    pub(super) fn heartbeat_slot(&self, a: usize, t: Instant) -> u64 {
        let (first, period) = self.heartbeat_grid(a);
        t.0.saturating_sub(first) / period
    }

    /// The first slot due strictly after `t`.
    pub(super) fn heartbeat_slot_after(&self, a: usize, t: Instant) -> u64 {
        let (first, _) = self.heartbeat_grid(a);
        if t.0 < first {
            0
        } else {
            self.heartbeat_slot(a, t) + 1
        }
    }

    /// Agent `a`'s one heartbeat event is at slot `k` (an earlier pending
    /// one goes stale).
    fn schedule_heartbeat_slot(&mut self, a: usize, k: u64) {
        let Some(at) = self.heartbeat_slot_at(a, k) else {
            self.heartbeat_losses[a].event_at = Instant::MAX;
            return;
        };
        if self.heartbeat_losses[a].event_at == at {
            return;
        }
        self.heartbeat_losses[a].event_at = at;
        self.engine
            .schedule(at, Event::Heartbeat { agent: a as u32 })
            .expect("an agent's next heartbeat slot is ahead");
    }

    /// Agent `a`'s heartbeats due strictly between `from` and `to` (they
    /// are due at `stagger + k · heartbeat`, as their events were), and
    /// the last of them.
    fn unseen_heartbeats(&self, a: usize, from: Instant, to: Instant) -> (u64, Option<Instant>) {
        let (first, period) = self.heartbeat_grid(a);
        if to.0 <= first {
            return (0, None);
        }
        let k0 = self.heartbeat_slot_after(a, from);
        let k1 = (to.0 - first - 1) / period;
        if k1 < k0 {
            return (0, None);
        }
        (k1 - k0 + 1, Some(Instant(first + k1 * period)))
    }

    pub(super) fn ensure_lease_check_pub(&mut self) {
        self.ensure_lease_check();
    }

    /// Keep one `LeaseCheck` at or before the earliest lease end. Renewals
    /// only move lease ends later, so a check may fire early and find
    /// nothing; it then moves to the new earliest end.
    fn ensure_lease_check(&mut self) {
        if !self.leases {
            return;
        }
        if let Some(t) = self.registry.poll_timeout()
            && self.lease_check_at.is_none_or(|c| t < c)
        {
            self.lease_check_at = Some(t);
            self.engine
                .schedule(t, Event::LeaseCheck)
                .expect("leases end in the future");
        }
    }

    pub(super) fn on_lease_check(&mut self, now: Instant) {
        if self.lease_check_at != Some(now) {
            return; // superseded by an earlier check
        }
        if self.renewal_due_now(now) {
            // A lease runs through the instant it ends: a heartbeat that
            // arrives then, or its agent coming back then, renews it,
            // whichever event was scheduled first. The check goes after
            // every event due now.
            self.engine
                .schedule(now, Event::LeaseCheck)
                .expect("now is not in the past");
            return;
        }
        self.lease_check_at = None;
        self.registry.handle_timeout(now);
        while let Some(a) = self.registry.poll_expired() {
            #[cfg(test)]
            tests::EXPIRIES.with(|e| e.borrow_mut().push((now, a)));
            self.refresh(a as usize);
        }
        self.ensure_lease_check();
    }

    /// Is an event pending now that may renew a lease ending now? A
    /// heartbeat's arrival (on an instant network, in the event that sends
    /// it) or an agent coming back up, of an agent whose lease ends now;
    /// any fault's start or end (a crash ending, a recovery, a partition
    /// healing, the broker coming back), an agent starting, a rolling
    /// restart's next batch or an autoscaling decision.
    fn renewal_due_now(&self, now: Instant) -> bool {
        if self.registry.poll_timeout() != Some(now) {
            return false;
        }
        let due = |a: u32| self.registry.lease(a) == Some(Lease::Live { until: now });
        self.engine.pending_now().any(|e| match *e {
            Event::Heartbeat { agent }
            | Event::HeartbeatAfter { agent }
            | Event::HeartbeatArrives { agent, .. }
            | Event::Availability { agent }
            | Event::AgentStarted { agent, .. } => due(agent),
            Event::FaultStart { .. }
            | Event::FaultEnd { .. }
            | Event::RollingNext { .. }
            | Event::Autoscale { .. } => true,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;
    use crate::time::Instant;
    use crate::world::{World, steady_load_with};
    use std::cell::RefCell;

    thread_local! {
        /// Set: the worlds built on this thread simulate every heartbeat
        /// as an event (what quiet heartbeats are checked against).
        pub(super) static HEARTBEAT_EVENTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// The registry's lease expiries (when, which agent) of the runs
        /// on this thread, in order.
        pub(super) static EXPIRIES: RefCell<Expiries> = const { RefCell::new(Vec::new()) };
    }

    /// Lease expiries: when, which agent.
    type Expiries = Vec<(Instant, u32)>;

    /// `sc`'s world with every heartbeat an event.
    fn evented_world(sc: &Scenario) -> World<'_> {
        HEARTBEAT_EVENTS.with(|h| h.set(true));
        let w = World::new(sc, sc.seed);
        HEARTBEAT_EVENTS.with(|h| h.set(false));
        assert!(!w.quiet_heartbeats);
        w
    }

    /// [`results`] of `w`, and its lease expiries.
    fn results_and_expiries(w: World) -> ((Vec<String>, u64), Expiries) {
        EXPIRIES.with(|e| e.borrow_mut().clear());
        let r = results(w);
        (r, EXPIRIES.with(|e| std::mem::take(&mut *e.borrow_mut())))
    }

    /// Run `sc` held (`held`, a world of it as built) and with every
    /// heartbeat an event: every figure and every lease expiry must be the
    /// same (`what` names the case when not). Returns the events of each
    /// and the expiries.
    fn held_agrees_with_evented(
        sc: &Scenario,
        held: World,
        what: &dyn std::fmt::Debug,
    ) -> (u64, u64, Expiries) {
        let ((quiet, quiet_events), quiet_expiries) = results_and_expiries(held);
        let ((evented, events), expiries) = results_and_expiries(evented_world(sc));
        for (f, (a, b)) in quiet.iter().zip(&evented).enumerate() {
            assert!(a == b, "{what:?}, figures {f}:\n{a}\nvs\n{b}");
        }
        assert_eq!(quiet_expiries, expiries, "{what:?}");
        (quiet_events, events, expiries)
    }

    /// Random whole numbers below a bound, from a ChaCha8 generator seeded
    /// with `seed`, for the tests that draw their fleets.
    fn below(seed: u64) -> impl FnMut(u64) -> u64 {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        move |n| rng.random_range(0..n)
    }

    /// A [`SMALL_FLEET`] behind `latency` with `registry` (both as
    /// `--set` arguments), its loss, tier 1's failures, drain and seed
    /// drawn from `next`, run 20 s: its heartbeats are drawn per agent,
    /// and held they agree with every heartbeat an event
    /// ([`held_agrees_with_evented`]).
    fn drawn_fleet_agrees(latency: String, registry: String, next: &mut impl FnMut(u64) -> u64) {
        let sets = [
            latency,
            format!("network.loss={}", next(4) as f64 * 0.1),
            registry,
            format!("fleet.tiers[1].uptime={}", 0.3 + next(7) as f64 * 0.1),
            format!("fleet.tiers[1].mttr=\"{}ms\"", 50 + next(3000)),
            format!("drain=\"{}ms\"", next(3000)),
            "request.timeout=\"5s\"".to_string(),
            "duration=\"20s\"".to_string(),
        ];
        let sc = small_fleet_with(&sets, next(u64::MAX));
        let w = World::new(&sc, sc.seed);
        assert!(w.heartbeats_drawn(), "{sets:?}");
        held_agrees_with_evented(&sc, w, &sets);
    }

    /// [`SMALL_FLEET`] with `sets`, run with `seed`.
    fn small_fleet_with(sets: &[String], seed: u64) -> Scenario {
        let mut sc = steady_load_with(
            SMALL_FLEET
                .iter()
                .copied()
                .chain(sets.iter().map(String::as_str)),
        );
        sc.seed = crate::rng::Seed(seed);
        sc
    }

    /// Run `sc` with dormant probes allowed or not: the results (every
    /// figure the reports draw on, floats to the bit: `Debug` prints them
    /// so they read back the same), but for the events and the
    /// fingerprint; and the events.
    fn outputs(sc: &Scenario, dormant: bool) -> (Vec<String>, u64) {
        let mut w = World::new(sc, sc.seed);
        if !dormant {
            w.wake_born();
        }
        results(w)
    }

    /// The fleet the equivalence tests vary: steady_load's tiers at 3, 4
    /// and 5 agents for 30 s.
    const SMALL_FLEET: [&str; 4] = [
        "fleet.tiers[0].count=3",
        "fleet.tiers[1].count=4",
        "fleet.tiers[2].count=5",
        "duration=\"30s\"",
    ];

    /// Agents that fail often (short up and down periods, so many come
    /// back and go down again), for 60 s: leases run out between a crash
    /// and the end of its repair or not.
    const FAILING: [&str; 5] = [
        "fleet.tiers[0].uptime=0.5",
        "fleet.tiers[1].uptime=0.7",
        "fleet.tiers[1].mttr=\"300ms\"",
        "fleet.tiers[2].mttr=\"2s\"",
        "duration=\"60s\"",
    ];

    /// What [`outputs`] compares, of the run of `w`.
    fn results(w: World) -> (Vec<String>, u64) {
        let r = w.run();
        let b = &r.bus;
        let figures = vec![
            format!(
                "{} {} {} {} {} {:?} {} {:?}",
                r.submitted,
                r.completed,
                r.failed,
                r.rejected,
                r.cancelled,
                r.failed_by,
                r.retries,
                (
                    r.latency_mean_ms,
                    r.latency_p99_ms,
                    r.latency_max_ms,
                    r.wait_mean_ms
                ),
            ),
            format!(
                "{:?}",
                (
                    r.in_system_mean,
                    r.agent_seconds,
                    r.invariants,
                    r.simulated_s
                )
            ),
            format!("{:?}", r.agents),
            format!("{:?}", r.buckets),
            format!("{:?}", b.by_kind),
            format!(
                "{:?}",
                (
                    b.latency.len(),
                    b.latency_mean_ns(),
                    b.latency_max_ns(),
                    b.latency_quantile_ns(0.99)
                )
            ),
        ];
        (figures, r.events)
    }

    /// Fleets where probes sleep a lot, and the edge cases: requests that
    /// come exactly when a probe is due (constant arrivals on the probes'
    /// grid), probe handling times next to the DEGRADED threshold (the
    /// EMA crosses it or not), several slots, short intervals, and runs
    /// that end between a probe and its answer.
    const DORMANT_CASES: &[&[&str]] = &[
        &[],
        &["workload.arrivals={process=\"constant\",rate=12.0}"],
        &["workload.arrivals={process=\"constant\",rate=4.0}"],
        &[
            "workload.arrivals={process=\"constant\",rate=24.0}",
            "drain=\"0s\"",
        ],
        &[
            "health.degraded_threshold=\"25ms\"",
            "workload.arrivals={process=\"poisson\",rate=5.0}",
        ],
        &[
            "health.degraded_threshold=\"110ms\"",
            "workload.arrivals={process=\"poisson\",rate=30.0}",
        ],
        &[
            "fleet.tiers[0].concurrency=3",
            "fleet.tiers[2].concurrency=2",
        ],
        &["health.interval=\"120ms\"", "health.timeout=\"115ms\""],
        &[
            "health.interval=\"250ms\"",
            "health.timeout=\"200ms\"",
            "drain=\"0s\"",
        ],
        &["workload.arrivals={process=\"poisson\",rate=2.0}", "seed=7"],
        // The run stops at the end of the drain with a request in
        // flight and an agent's probe due then: that probe's event
        // closed the last bucket, with the request counted in it.
        &[
            "fleet.tiers[0].count=4",
            "fleet.tiers[0].concurrency=2",
            "fleet.tiers[1].count=3",
            "fleet.tiers[2].count=4",
            "fleet.tiers[2].concurrency=3",
            "health.timeout=\"200ms\"",
            "health.degraded_threshold=\"130ms\"",
            "health.ema_alpha=0.5",
            "workload.arrivals={process=\"poisson\",rate=10.0}",
            "duration=\"10s\"",
            "drain=\"0s\"",
            "seed=928424",
            "fleet.tiers[0].service_time={dist=\"constant\",value=\"250ms\"}",
        ],
        // The same at the first probes' ends (UNKNOWN to HEALTHY).
        &[
            "duration=\"1050ms\"",
            "drain=\"0s\"",
            "workload.arrivals={process=\"poisson\",rate=40.0}",
        ],
        &[
            "duration=\"1100ms\"",
            "drain=\"0s\"",
            "workload.arrivals={process=\"poisson\",rate=40.0}",
        ],
        // Agents that sleep again after a request (see
        // `after_delivery`): several slots, failed requests, timeouts
        // shorter than a service, deadlines.
        &[
            "fleet.tiers[0].concurrency=2",
            "fleet.tiers[1].concurrency=2",
            "fleet.tiers[1].error_rate=0.3",
            "workload.arrivals={process=\"poisson\",rate=9.0}",
        ],
        &[
            "request.timeout=\"40ms\"",
            "workload.deadline=\"90ms\"",
            "workload.arrivals={process=\"poisson\",rate=20.0}",
        ],
        // Requests that reach an agent exactly as its next probe is due.
        &[
            "workload.arrivals={process=\"constant\",rate=1.5}",
            "fleet.tiers[0].count=1",
            "fleet.tiers[1].count=1",
            "fleet.tiers[2].count=1",
        ],
        &[
            "workload.arrivals={process=\"constant\",rate=1.5}",
            "fleet.tiers[0].count=2",
            "fleet.tiers[1].count=2",
            "fleet.tiers[2].count=2",
        ],
        // Agents born dormant (`start_discovery`): runs that end before
        // some first probes, between a first probe and its answer, or
        // with requests before, at and after the first probes.
        &["duration=\"400ms\"", "drain=\"0s\""],
        &[
            "duration=\"1012ms\"",
            "drain=\"0s\"",
            "workload.arrivals={process=\"constant\",rate=12.0}",
        ],
        &[
            "health.interval=\"3s\"",
            "health.timeout=\"1s\"",
            "workload.arrivals={process=\"poisson\",rate=0.7}",
            "seed=11",
        ],
        // Agents down for long stretches (`may_sleep_refused`): their
        // refused probes sleep once they are UNHEALTHY, and wake as
        // they come back, as a request reaches them (routing blind to
        // health) or as the run ends; probes due as they come back,
        // timeouts as long as the interval.
        &[
            "fleet.tiers[0].uptime=0.5",
            "fleet.tiers[1].uptime=0.6",
            "fleet.tiers[2].uptime=0.5",
            "fleet.tiers[1].mttr={dist=\"constant\",value=\"7s\"}",
            "health.unhealthy_after=1",
        ],
        &[
            "fleet.tiers[0].uptime=0.5",
            "fleet.tiers[2].uptime=0.5",
            "fleet.tiers[2].mttr={dist=\"exponential\",mean=\"12s\"}",
            "balancer.healthy_only=false",
            "workload.arrivals={process=\"constant\",rate=4.0}",
        ],
        &[
            "fleet.tiers[0].uptime=0.6",
            "fleet.tiers[1].uptime=0.6",
            "fleet.tiers[2].uptime=0.6",
            "health.interval=\"500ms\"",
            "health.timeout=\"500ms\"",
            "drain=\"0s\"",
            "seed=3",
        ],
    ];

    #[test]
    fn dormant_probes_change_nothing_but_the_events() {
        let fewer = fewer_events_alike(DORMANT_CASES, |_| true, |w| w.wake_born());
        assert!(
            fewer >= DORMANT_CASES.len() - 3,
            "probes slept in {fewer} cases only"
        );
    }

    /// On a lossy network, steady agents' probes sleep between their failed
    /// exchanges, drawn ahead ([`ProbeLosses`]), and each of those wakes
    /// its agent (`ProbeWake`). Over every dormant case, at a low loss and
    /// a high one, the results are those of the run with no probe asleep
    /// (the same draws) and of the run with every step of every probe an
    /// event, with fewer events.
    #[test]
    fn lossy_dormant_probes_change_nothing_but_the_events() {
        let mut fewer = 0;
        let losses = ["network.loss=0.03", "network.loss=0.3"];
        for loss in losses {
            for (k, case) in DORMANT_CASES.iter().enumerate() {
                let sets = SMALL_FLEET.iter().chain(case.iter()).chain([&loss]);
                let sc = steady_load_with(sets);
                let (slept, slept_events) = outputs(&sc, true);
                let (awake, awake_events) = outputs(&sc, false);
                let mut w = World::new(&sc, sc.seed);
                w.all_probes_evented();
                let (evented, events) = results(w);
                for (f, ((a, b), c)) in slept.iter().zip(&awake).zip(&evented).enumerate() {
                    if (loss, k, f) == (losses[0], 1, 4) {
                        // The run stops at an instant a sleeping probe is
                        // due, after a request's timeout scheduled more
                        // than a probe interval before: that probe counts
                        // as sent here, though its event would have come
                        // after the timeout's (see `settle_probes`).
                        assert_eq!(b, c);
                        continue;
                    }
                    assert!(
                        a == b,
                        "{loss}, case {k} {case:?}, figures {f}:\n{a}\nvs\n{b}"
                    );
                    assert!(
                        a == c,
                        "{loss}, case {k} {case:?}, figures {f}:\n{a}\nvs\n{c}"
                    );
                }
                assert!(
                    slept_events <= awake_events && awake_events <= events,
                    "{loss}, case {k}: {slept_events}, {awake_events}, {events} events"
                );
                fewer += usize::from(slept_events < awake_events);
            }
        }
        assert!(
            fewer >= 2 * DORMANT_CASES.len() - 6,
            "probes slept in {fewer} cases only"
        );
    }

    /// Runs each of `cases` on the small fleet twice: as the world
    /// decides (where `on` must hold) and with `off` applied before the
    /// run. Every figure must be the same, and the first run take no more
    /// events than the second; returns in how many cases it took fewer.
    fn fewer_events_alike<C: AsRef<[S]> + std::fmt::Debug, S: AsRef<str>>(
        cases: &[C],
        on: impl Fn(&World) -> bool,
        off: impl Fn(&mut World),
    ) -> usize {
        let mut fewer = 0;
        for (k, case) in cases.iter().enumerate() {
            let sc = steady_load_with(
                SMALL_FLEET
                    .iter()
                    .copied()
                    .chain(case.as_ref().iter().map(AsRef::as_ref)),
            );
            let w = World::new(&sc, sc.seed);
            assert!(on(&w), "case {k}");
            let (first, first_events) = results(w);
            let mut w = World::new(&sc, sc.seed);
            off(&mut w);
            let (second, events) = results(w);
            for (f, (a, b)) in first.iter().zip(&second).enumerate() {
                assert!(a == b, "case {k} {case:?}, figures {f}:\n{a}\nvs\n{b}");
            }
            assert!(
                first_events <= events,
                "case {k}: {first_events} events against {events}"
            );
            fewer += usize::from(first_events < events);
        }
        fewer
    }

    /// Latency cases for the equivalence tests below: constant and random
    /// latencies, losses, answers due just before, at and after the
    /// timeout (handling next to it, a latency of a quarter of it each
    /// way), probes queued behind a busy agent, agents that crash holding
    /// them, and runs that end with timeouts pending (the buckets they
    /// would have closed).
    fn latency_cases() -> Vec<Vec<String>> {
        let lat = |d: &str| format!("network.latency={d}");
        let constant = lat("{dist=\"constant\",value=\"1ms\"}");
        let exponential = lat("{dist=\"exponential\",mean=\"2ms\"}");
        let heavy = lat("{dist=\"lognormal\",median=\"5ms\",p99=\"200ms\"}");
        let quarter = lat("{dist=\"constant\",value=\"125ms\"}");
        vec![
            vec![constant.clone()],
            vec![exponential.clone(), "network.loss=0.05".into()],
            vec![
                heavy.clone(),
                "health.interval=\"300ms\"".into(),
                "health.timeout=\"250ms\"".into(),
            ],
            vec![
                constant.clone(),
                "fleet.tiers[0].service_time={dist=\"constant\",value=\"498ms\"}".into(),
                "health.timeout=\"500ms\"".into(),
                "workload.arrivals={process=\"constant\",rate=12.0}".into(),
            ],
            vec![
                quarter.clone(),
                "fleet.tiers[2].service_time={dist=\"constant\",value=\"250ms\"}".into(),
                "health.timeout=\"500ms\"".into(),
            ],
            vec![
                exponential.clone(),
                "fleet.tiers[1].concurrency=1".into(),
                "workload.arrivals={process=\"poisson\",rate=40.0}".into(),
            ],
            vec![
                heavy.clone(),
                "fleet.tiers[0].uptime=0.5".into(),
                "fleet.tiers[1].uptime=0.6".into(),
                "fleet.tiers[1].mttr=\"300ms\"".into(),
                "network.loss=0.1".into(),
                "request.timeout=\"400ms\"".into(),
            ],
            vec![
                constant.clone(),
                "workload.arrivals={process=\"poisson\",rate=30.0}".into(),
                "duration=\"1600ms\"".into(),
                "drain=\"0s\"".into(),
            ],
            vec![
                exponential,
                "health.interval=\"100ms\"".into(),
                "health.timeout=\"60ms\"".into(),
                "drain=\"0s\"".into(),
            ],
            // Probes that arrive exactly at their timeout.
            vec![
                lat("{dist=\"constant\",value=\"500ms\"}"),
                "health.timeout=\"500ms\"".into(),
            ],
            // The run stops at its limit with tasks in flight, and its
            // last event would have been a timeout whose probe was
            // answered: it closed short buckets with the gauges as they
            // were before the tasks left are cancelled.
            vec![
                constant,
                "report.bucket=\"50ms\"".into(),
                "health.timeout=\"450ms\"".into(),
                "duration=\"1371ms\"".into(),
                "drain=\"0s\"".into(),
                "workload.arrivals={process=\"poisson\",rate=3.0}".into(),
                "fleet.tiers[0].service_time={dist=\"lognormal\",median=\"20ms\",p99=\"3s\"}"
                    .into(),
            ],
        ]
    }

    /// On a network with latency, a probe's timeout is scheduled only
    /// once its answer may come late or not at all, in the place it took
    /// as the probe left (`arm_probe_timeout`). The results are those of
    /// the runs with every timeout scheduled as its probe leaves, with
    /// fewer events, over [`latency_cases`].
    #[test]
    fn lazy_probe_timeouts_change_nothing_but_the_events() {
        let cases = latency_cases();
        let fewer = fewer_events_alike(
            &cases,
            |w| w.lazy_probe_timeouts,
            |w| {
                w.lazy_probe_timeouts = false;
            },
        );
        // All but the probes that arrive at their timeout (each needs it).
        assert_eq!(fewer, cases.len() - 1, "timeouts skipped in {fewer} cases");
    }

    /// On a network with latency, an answer that changes no health status
    /// arrives with no event (`answer_unseen`) and is applied when the
    /// agent's next probe leaves or the run ends. The results are those
    /// of the runs with every answer an event, over the latency cases
    /// above and a grid where answers arrive at the very instants of
    /// other events: ten agents probed every second (one every 100 ms),
    /// constant arrivals on and off the probes' instants, constant
    /// services as long as the probes' handling, so that a request's
    /// reply and a probe's answer arrive together, runs that end at such
    /// an instant (the answer came before the last reply or after it),
    /// and runs that stop at their limit with answers due before it (the
    /// buckets their events would have closed).
    #[test]
    fn unseen_answers_change_nothing_but_the_events() {
        let grid = |sets: &[&str]| -> Vec<String> {
            [
                "fleet.tiers[0].count=2",
                "fleet.tiers[1].count=3",
                "fleet.tiers[2].count=5",
                "fleet.tiers[0].service_time={dist=\"constant\",value=\"20ms\"}",
                "fleet.tiers[1].service_time={dist=\"constant\",value=\"20ms\"}",
                "fleet.tiers[2].service_time={dist=\"constant\",value=\"20ms\"}",
                "network.latency={dist=\"constant\",value=\"1ms\"}",
            ]
            .iter()
            .chain(sets)
            .map(|s| s.to_string())
            .collect()
        };
        let mut cases = latency_cases();
        let on_grid = "workload.arrivals={process=\"constant\",rate=10.0}";
        let half_on = "workload.arrivals={process=\"constant\",rate=20.0}";
        // Every other second, on agent 9's probes: the arrival was
        // scheduled before the probe (an interval is shorter than the
        // gap), so the reply comes before the answer.
        let sparse = "workload.arrivals={process=\"constant\",rate=0.5}";
        for arrivals in [on_grid, half_on, sparse] {
            for duration in [
                "duration=\"5s\"",
                "duration=\"5050ms\"",
                "duration=\"4999ms\"",
            ] {
                cases.push(grid(&[arrivals, duration]));
                cases.push(grid(&[
                    arrivals,
                    duration,
                    "drain=\"0s\"",
                    "report.bucket=\"50ms\"",
                ]));
            }
        }
        cases.push(grid(&[on_grid, "fleet.tiers[2].concurrency=2"]));
        // Runs that stop at their limit with tasks in flight, just after
        // an answer that was the last event: agent 9's probe at 5 s ends
        // at 5.021 s (the last event handled), its answer at 5.022 s
        // closed the 2-ms bucket before it, with the gauges as they were
        // before the tasks left are cancelled.
        for stop in ["5022ms", "5023ms", "5025ms", "5029ms"] {
            for seed in ["seed=1", "seed=2", "seed=3", "seed=4"] {
                let stop = format!("duration=\"{stop}\"");
                cases.push(grid(&[
                    "workload.arrivals={process=\"poisson\",rate=30.0}",
                    &stop,
                    seed,
                    "drain=\"0s\"",
                    "report.bucket=\"2ms\"",
                ]));
            }
        }
        let fewer = fewer_events_alike(
            &cases,
            |w: &World| !w.unseen_answers.is_empty(),
            |w: &mut World| w.all_answers_evented(),
        );
        // All but the probes that arrive at their timeout (no answer is
        // in time).
        assert_eq!(fewer, cases.len() - 1, "answers unseen in {fewer} cases");
    }

    /// Agents down most of the time cost few probe events: once UNHEALTHY,
    /// a down agent's refused probes sleep until it comes back.
    #[test]
    fn a_down_agents_probes_sleep() {
        let sc = steady_load_with([
            "fleet.tiers[0].uptime=0.2",
            "fleet.tiers[1].uptime=0.2",
            "fleet.tiers[2].uptime=0.2",
            "fleet.tiers[0].mttr={dist=\"constant\",value=\"40s\"}",
            "fleet.tiers[1].mttr={dist=\"constant\",value=\"40s\"}",
            "fleet.tiers[2].mttr={dist=\"constant\",value=\"40s\"}",
            "workload.arrivals={process=\"poisson\",rate=1.0}",
            "duration=\"300s\"",
        ]);
        let (slept, slept_events) = outputs(&sc, true);
        let (evented, events) = outputs(&sc, false);
        assert_eq!(slept, evented);
        // About 80 % of the agents are down at any time, each probed once
        // a second: all but the first few refused probes of each 40 s
        // outage sleep. With them all events, the run with dormant probes
        // handles 85 % of the events of the run without; with them
        // asleep, under a quarter.
        assert!(
            (slept_events as f64) < 0.4 * events as f64,
            "{slept_events} events against {events}"
        );
    }

    /// On an instant lossy network, a probe's answer has its loss drawn
    /// as the probe arrives, so probes of different agents stay
    /// independent: arrivals and answers handled at once, ends unseen,
    /// timeouts armed only for answers that will be lost. The results are
    /// those of the run with every probe's steps as events, with fewer
    /// events: over losses from rare to most, probes that queue, handling
    /// as long as the timeout, health held DEGRADED, agents down (refusals
    /// lost too) and runs that end between a probe and its answer.
    #[test]
    fn lossy_probes_change_nothing_but_the_events() {
        let cases: &[&[&str]] = &[
            &["network.loss=0.01"],
            &["network.loss=0.2"],
            &["network.loss=0.6", "seed=5"],
            &[
                "network.loss=0.1",
                "workload.arrivals={process=\"constant\",rate=24.0}",
                "drain=\"0s\"",
            ],
            &[
                "network.loss=0.1",
                "health.interval=\"120ms\"",
                "health.timeout=\"50ms\"",
            ],
            &[
                "network.loss=0.05",
                "health.timeout=\"20ms\"",
                "fleet.tiers[0].service_time={dist=\"constant\",value=\"20ms\"}",
            ],
            &[
                "network.loss=0.1",
                "health.degraded_threshold=\"25ms\"",
                "workload.arrivals={process=\"poisson\",rate=30.0}",
            ],
            &[
                "network.loss=0.1",
                "fleet.tiers[0].uptime=0.5",
                "fleet.tiers[1].uptime=0.5",
                "fleet.tiers[2].uptime=0.5",
                "fleet.tiers[1].concurrency=2",
            ],
            &[
                "network.loss=0.1",
                "request.timeout=\"40ms\"",
                "workload.arrivals={process=\"poisson\",rate=9.0}",
                "duration=\"1100ms\"",
                "drain=\"0s\"",
            ],
        ];
        for (k, case) in cases.iter().enumerate() {
            let sc = steady_load_with(SMALL_FLEET.iter().chain(case.iter()));
            let (drawn, drawn_events) = results(World::new(&sc, sc.seed));
            let mut w = World::new(&sc, sc.seed);
            w.all_probes_evented();
            let (evented, events) = results(w);
            assert_eq!(drawn, evented, "case {k}: {case:?}");
            assert!(
                drawn_events < events,
                "case {k}: {drawn_events} events against {events}"
            );
        }
    }

    #[test]
    fn quiet_heartbeats_change_nothing_but_the_events() {
        // Agents that fail often ([`FAILING`]), on an instant network and
        // with a constant latency, up to just below the heartbeat period.
        let cases: &[&[&str]] = &[
            &[],
            &["network.latency={dist=\"constant\",value=\"1ms\"}"],
            &["network.latency={dist=\"constant\",value=\"40ms\"}"],
            &[
                "network.latency={dist=\"constant\",value=\"5ms\"}",
                "registry={ttl=\"1200ms\",heartbeat=\"1s\"}",
            ],
            &[
                "network.latency={dist=\"constant\",value=\"300ms\"}",
                "registry={ttl=\"801ms\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
        ];
        // A last agent's first heartbeat, a period after it registered,
        // arrives at the very instant that lease ends: no lease is held by
        // this rule; the heartbeats are drawn, every one late
        // (`drawn_heartbeats_change_nothing_but_the_events`).
        let tie = [
            "network.latency={dist=\"constant\",value=\"300ms\"}",
            "registry={ttl=\"800ms\",heartbeat=\"500ms\"}",
        ];
        let sc = steady_load_with(SMALL_FLEET.iter().chain(&tie));
        assert!(World::new(&sc, sc.seed).heartbeats_drawn());
        for (k, case) in cases.iter().enumerate() {
            let sc = steady_load_with(SMALL_FLEET.iter().chain(&FAILING).chain(case.iter()));
            let w = World::new(&sc, sc.seed);
            assert!(
                w.quiet_heartbeats,
                "case {k}: {case:?} has quiet heartbeats"
            );
            // Every figure the same, every lease ran out at the same instant.
            let (quiet_events, events, expiries) = held_agrees_with_evented(&sc, w, case);
            assert!(!expiries.is_empty(), "case {k}: some lease runs out");
            assert!(
                quiet_events < events,
                "case {k}: {quiet_events} events against {events}"
            );
        }
    }

    #[test]
    fn held_heartbeats_follow_crashes_slowdowns_and_recoveries() {
        // Faults that lose no heartbeat of an agent that is up: crashes
        // (one ends by itself, one only by a recovery, one hits agents that
        // also fail on their own, [`FAILING`]), a slowdown and a
        // dispatcher outage. Held leases follow them as they follow the
        // availability model: held, released, held again; every figure
        // and expiry as with every heartbeat an event, instant, behind a
        // constant latency and behind random ones (drawn per agent).
        let faults = concat!(
            "faults=[",
            "{at=\"3s\",kind=\"crash\",target={tier=\"standard\",fraction=0.5},for=\"4s\"},",
            "{at=\"5s\",kind=\"slow\",factor=3.0,target={agents=[\"agent-2\"]},for=\"5s\"},",
            "{at=\"8s\",kind=\"dispatcher_down\",for=\"1s\"},",
            "{at=\"10s\",kind=\"crash\",target={agents=[\"agent-0\",\"agent-1\"]}},",
            "{at=\"17s\",kind=\"recover\",target={agents=[\"agent-1\"]}}]"
        );
        let cases: &[&[&str]] = &[
            &[],
            &["network.latency={dist=\"constant\",value=\"40ms\"}"],
            &["network.latency={dist=\"exponential\",mean=\"20ms\"}"],
            &[
                "network.latency={dist=\"uniform\",min=\"100ms\",max=\"700ms\"}",
                "network.loss=0.2",
                "registry={ttl=\"1500ms\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
        ];
        for (k, case) in cases.iter().enumerate() {
            let sc = steady_load_with(
                (SMALL_FLEET.iter().chain(&FAILING))
                    .chain(case.iter())
                    .chain(&[faults]),
            );
            let w = World::new(&sc, sc.seed);
            assert!(w.quiet_heartbeats, "case {k}: {case:?} has held heartbeats");
            let (quiet_events, events, expiries) = held_agrees_with_evented(&sc, w, case);
            assert!(!expiries.is_empty(), "case {k}: some lease runs out");
            assert!(
                quiet_events < events,
                "case {k}: {quiet_events} events against {events}"
            );
            // The faults let other leases run out than the failures alone.
            let sc = steady_load_with((SMALL_FLEET.iter().chain(&FAILING)).chain(case.iter()));
            let (_, unfaulted) = results_and_expiries(World::new(&sc, sc.seed));
            assert_ne!(unfaulted, expiries, "case {k}: the faults change nothing");
        }
    }

    /// The heartbeat period and `ttl` (ms) of the random fleets on a
    /// quarter-second grid, and their latency, drawn from `next`: one of
    /// the first `kinds` of instant, constant (1 ms, half or a quarter of
    /// a period), exponential, empirical (a third of the draws 0) and
    /// uniform.
    fn grid_latency(next: &mut impl FnMut(u64) -> u64, kinds: u64) -> (u64, u64, String) {
        let period = [250u64, 500, 1000][next(3) as usize];
        let ttl = period * (2 + next(3)) + [0, 1, period / 2][next(3) as usize];
        let lat = match next(kinds) {
            0 => "{dist=\"constant\",value=\"0ms\"}".to_string(),
            1 => format!(
                "{{dist=\"constant\",value=\"{}ms\"}}",
                [1, period / 2, period / 4][next(3) as usize]
            ),
            2 => format!("{{dist=\"exponential\",mean=\"{}ms\"}}", 1 + next(200)),
            3 => format!(
                "{{dist=\"empirical\",values=[\"0ms\",\"{}ms\",\"{}ms\"]}}",
                next(period),
                next(2 * period)
            ),
            _ => format!(
                "{{dist=\"uniform\",min=\"{}ms\",max=\"{}ms\"}}",
                next(50),
                50 + next(500)
            ),
        };
        (period, ttl, lat)
    }

    /// The network of the random fleets on a quarter-second grid: latency
    /// `lat`, a loss drawn from `next` (none a third of the time), the
    /// heartbeat `period` and `ttl` (ms), and tier 1's failures; the loss,
    /// and these as `--set` arguments.
    fn grid_network(
        next: &mut impl FnMut(u64) -> u64,
        lat: &str,
        period: u64,
        ttl: u64,
    ) -> (f64, Vec<String>) {
        let loss = if next(3) == 0 {
            0.0
        } else {
            next(3) as f64 * 0.1
        };
        let sets = vec![
            format!("network.latency={lat}"),
            format!("network.loss={loss}"),
            format!("registry={{ttl=\"{ttl}ms\",heartbeat=\"{period}ms\"}}"),
            format!(
                "fleet.tiers[1].uptime={}",
                [1.0, 0.7, 0.9][next(3) as usize]
            ),
            format!("fleet.tiers[1].mttr=\"{}ms\"", 250 * (1 + next(8))),
        ];
        (loss, sets)
    }

    /// The run of the random fleets on a quarter-second grid: `faults`, a
    /// drain drawn from `next`, a 5 s request timeout and 12 s of
    /// arrivals, as `--set` arguments.
    fn grid_run(next: &mut impl FnMut(u64) -> u64, faults: &[String]) -> Vec<String> {
        vec![
            format!("faults=[{}]", faults.join(",")),
            format!("drain=\"{}ms\"", next(3000)),
            "request.timeout=\"5s\"".to_string(),
            "duration=\"12s\"".to_string(),
        ]
    }

    /// Held heartbeats under random crashes, recoveries and slowdowns on
    /// a quarter-second grid (periods of a quarter, a half or a whole
    /// second, so crashes often begin and end on heartbeat slots, and
    /// arrive as heartbeats do), with random latencies, loss, `ttl`s and
    /// failures of their own: every figure and expiry as with every
    /// heartbeat an event. (Lossy
    /// networks with an instant or constant latency draw their losses
    /// otherwise with every heartbeat an event: left out.) While this was
    /// written, 86 of 483 such runs differed before an agent coming back on
    /// one of its slots sent one heartbeat there, not two; and an
    /// exploration of 1,232 more found a lease check that did not wait for
    /// an agent coming back at the instant its lease ended
    /// (`a_lease_ending_as_its_agent_comes_back_is_renewed`).
    #[test]
    fn held_heartbeats_agree_under_random_faults() {
        let mut next = below(4242);
        let mut compared = 0;
        for _ in 0..200 {
            let (period, ttl, lat) = grid_latency(&mut next, 5);
            let faults: Vec<String> = (0..1 + next(5))
                .map(|_| {
                    let at = next(40) * 250;
                    let agents = format!("[\"agent-{}\",\"agent-{}\"]", next(12), next(12));
                    match next(8) {
                        0..=2 => format!(
                            "{{at=\"{at}ms\",kind=\"crash\",target={{agents={agents}}},for=\"{}ms\"}}",
                            250 * (1 + next(12))
                        ),
                        3 => format!(
                            "{{at=\"{at}ms\",kind=\"crash\",target={{tier=\"budget\",fraction=0.5}}}}"
                        ),
                        4 => format!("{{at=\"{at}ms\",kind=\"recover\",target={{agents={agents}}}}}"),
                        5 => format!(
                            "{{at=\"{at}ms\",kind=\"slow\",factor=2.0,target={{agents={agents}}},for=\"1s\"}}"
                        ),
                        _ => format!(
                            "{{at=\"{at}ms\",kind=\"partition\",target={{agents={agents}}},for=\"{}ms\"}}",
                            250 * (1 + next(12))
                        ),
                    }
                })
                .collect();
            let (loss, network) = grid_network(&mut next, &lat, period, ttl);
            let sets = [
                network,
                vec![
                    format!(
                        "fleet.tiers[0].uptime={}",
                        [1.0, 0.5, 0.8][next(3) as usize]
                    ),
                    format!("fleet.tiers[2].uptime={}", [1.0, 0.6][next(2) as usize]),
                ],
                grid_run(&mut next, &faults),
            ]
            .concat();
            let sc = small_fleet_with(&sets, next(u64::MAX));
            let w = World::new(&sc, sc.seed);
            // Without leases (slowdowns only, nothing fails), no heartbeats.
            assert!(w.quiet_heartbeats || !w.leases, "{sets:?}");
            if !w.leases || (loss > 0.0 && !w.heartbeats_drawn()) {
                continue;
            }
            compared += 1;
            held_agrees_with_evented(&sc, w, &sets);
        }
        assert!(compared > 150, "{compared} runs compared");
    }

    /// Held heartbeats in a changing fleet: random drains (some coming
    /// back), joins, rolling restarts and an autoscaled tier on a
    /// quarter-second grid, with crashes and partitions, random latencies,
    /// loss, `ttl`s and failures of their own: every figure and expiry as
    /// with every heartbeat an event. (Lossy networks with an instant or
    /// constant latency draw their losses otherwise with every heartbeat
    /// an event: left out.) While this was written, 12,000 such fleets
    /// (and 3,000 of 25 s) agreed; with any one of the rules for a
    /// changing fleet turned off (a slot waiting for a lifecycle change
    /// due at its instant, held or evented; no heartbeat at a slot due as
    /// its agent registers; the lease check waiting for a waiting slot; a
    /// cut-off agent joining counted from after its join) these runs fail.
    #[test]
    fn held_heartbeats_agree_in_a_changing_fleet() {
        let mut compared = 0;
        // Two seeds: each finds a mistake the other misses in as many runs.
        for seed in [9, 2718] {
            let mut next = below(seed);
            for _ in 0..N_CHANGING {
                let (period, ttl, lat) = grid_latency(&mut next, 4);
                let ms = |next: &mut dyn FnMut(u64) -> u64, n: u64| 250 * next(n);
                let faults: Vec<String> = (0..1 + next(5))
                .map(|_| {
                    let at = ms(&mut next, 40);
                    let agents = format!("[\"agent-{}\",\"agent-{}\"]", next(12), next(12));
                    match next(6) {
                        0 => format!(
                            "{{at=\"{at}ms\",kind=\"drain\",target={{agents={agents}}},for=\"{}ms\"}}",
                            250 + ms(&mut next, 12)
                        ),
                        1 => format!("{{at=\"{at}ms\",kind=\"drain\",target={{agents={agents}}}}}"),
                        2 => format!(
                            "{{at=\"{at}ms\",kind=\"rolling_restart\",target={{agents={agents}}},batch=1,pause=\"{}ms\",for=\"{}ms\"}}",
                            ms(&mut next, 4),
                            250 + ms(&mut next, 8)
                        ),
                        3 => format!(
                            "{{at=\"{at}ms\",kind=\"join\",target={{tier=\"budget\"}},count={}}}",
                            1 + next(2)
                        ),
                        4 => format!(
                            "{{at=\"{at}ms\",kind=\"crash\",target={{agents={agents}}},for=\"{}ms\"}}",
                            250 + ms(&mut next, 12)
                        ),
                        _ => format!(
                            "{{at=\"{at}ms\",kind=\"partition\",target={{agents={agents}}},for=\"{}ms\"}}",
                            250 + ms(&mut next, 12)
                        ),
                    }
                })
                .collect();
                let autoscale = if next(2) == 0 {
                    format!(
                        "autoscale=[{{tier=\"standard\",target={},interval=\"{}ms\",min=1,max=6,startup=\"{}ms\"}}]",
                        [0.05, 0.2, 0.6][next(3) as usize],
                        250 * (1 + next(8)),
                        ms(&mut next, 8)
                    )
                } else {
                    "autoscale=[]".to_string()
                };
                let (loss, network) = grid_network(&mut next, &lat, period, ttl);
                let sets = [
                    network,
                    vec![
                        format!("fleet.tiers[2].uptime={}", [1.0, 0.6][next(2) as usize]),
                        autoscale,
                    ],
                    grid_run(&mut next, &faults),
                ]
                .concat();
                let sc = small_fleet_with(&sets, next(u64::MAX));
                let w = World::new(&sc, sc.seed);
                if !w.leases || (loss > 0.0 && !w.heartbeats_drawn()) {
                    continue;
                }
                assert!(w.quiet_heartbeats, "{sets:?}");
                compared += 1;
                held_agrees_with_evented(&sc, w, &sets);
            }
        }
        assert!(compared > N_CHANGING, "{compared} runs compared");
    }

    const N_CHANGING: usize = 1000;

    /// A fault on the quarter-second grid, drawn from `next`: one of the
    /// first `kinds` of a crash (twice as likely as the others), a
    /// recovery, a slowdown, a partition (twice), a dispatcher outage, a
    /// drain that comes back, a rolling restart, a join of one or two
    /// budget agents and a broker outage (with a `broker`, else a
    /// dispatcher outage), on two of the twelve agents, lasting a quarter
    /// second to three.
    fn grid_fault(next: &mut impl FnMut(u64) -> u64, kinds: u64, broker: bool) -> String {
        let at = 250 * next(40);
        let agents = format!("[\"agent-{}\",\"agent-{}\"]", next(12), next(12));
        let lasting = 250 + 250 * next(12);
        let on = format!("at=\"{at}ms\",target={{agents={agents}}}");
        match next(kinds) {
            0 | 1 => format!("{{{on},kind=\"crash\",for=\"{lasting}ms\"}}"),
            2 => format!("{{{on},kind=\"recover\"}}"),
            3 => format!(
                "{{{on},kind=\"slow\",factor={},for=\"{lasting}ms\"}}",
                [2.0, 8.0, 40.0][next(3) as usize]
            ),
            4 | 5 => format!("{{{on},kind=\"partition\",for=\"{lasting}ms\"}}"),
            7 => format!("{{{on},kind=\"drain\",for=\"{lasting}ms\"}}"),
            8 => format!(
                "{{{on},kind=\"rolling_restart\",batch=1,pause=\"{}ms\",for=\"{lasting}ms\"}}",
                250 * next(4)
            ),
            9 => format!(
                "{{at=\"{at}ms\",kind=\"join\",target={{tier=\"budget\"}},count={}}}",
                1 + next(2)
            ),
            10 if broker => format!("{{at=\"{at}ms\",kind=\"broker_down\",for=\"{lasting}ms\"}}"),
            _ => format!("{{at=\"{at}ms\",kind=\"dispatcher_down\",for=\"{lasting}ms\"}}"),
        }
    }

    /// An autoscaled standard tier a third of the time (a target, a
    /// decision interval and a start-up drawn from `next`), else none.
    fn grid_autoscale(next: &mut impl FnMut(u64) -> u64) -> String {
        if next(3) != 0 {
            return "autoscale=[]".to_string();
        }
        format!(
            "autoscale=[{{tier=\"standard\",target={},interval=\"{}ms\",min=1,max=6,startup=\"{}ms\"}}]",
            [0.05, 0.2, 0.6][next(3) as usize],
            250 * (1 + next(8)),
            250 * next(8)
        )
    }

    /// The `--set` arguments of the random fleets below: `network`, probes
    /// every quarter, half or whole second with a timeout of half the
    /// interval, all of it or 100 ms, `faults` and a drain drawn from
    /// `next`, 12 s of arrivals.
    fn probe_grid_run(
        next: &mut impl FnMut(u64) -> u64,
        network: Vec<String>,
        faults: &[String],
    ) -> Vec<String> {
        let interval = [250u64, 500, 1000][next(3) as usize];
        let timeout = [interval / 2, interval, 100][next(3) as usize];
        let mut sets = network;
        sets.extend([
            format!("fleet.tiers[2].uptime={}", [1.0, 0.6][next(2) as usize]),
            format!("health.interval=\"{interval}ms\""),
            format!("health.timeout=\"{timeout}ms\""),
            format!("faults=[{}]", faults.join(",")),
            format!("drain=\"{}ms\"", next(3000)),
            "duration=\"12s\"".to_string(),
        ]);
        sets
    }

    /// Run `sc`, and again with `off` applied to its world before the run:
    /// every figure must agree. The events of the two runs.
    fn agrees_without(
        sc: &Scenario,
        off: impl Fn(&mut World),
        what: &dyn std::fmt::Debug,
    ) -> (u64, u64) {
        let (on, on_events) = results(World::new(sc, sc.seed));
        let mut w = World::new(sc, sc.seed);
        off(&mut w);
        let (other, events) = results(w);
        for (f, (a, b)) in on.iter().zip(&other).enumerate() {
            assert!(a == b, "{what:?}, figures {f}:\n{a}\nvs\n{b}");
        }
        (on_events, events)
    }

    /// Lazy probe timeouts and unseen answers under random faults and a
    /// changing fleet ([`grid_fault`], every kind), an autoscaled tier now
    /// and then, behind random latencies (some as long as the probe
    /// timeout), with loss, a broker now and then and failures of their
    /// own: every figure as with every probe timeout scheduled as its
    /// probe leaves and every answer an event. With any of the rules that
    /// make an answer on its way an event again (its agent cut off, the
    /// broker down, the agent's presence changing) turned off, this fails.
    #[test]
    fn lazy_probe_timeouts_agree_under_random_faults() {
        let mut next = below(1618);
        let mut compared = 0;
        for _ in 0..N_LAZY {
            let (period, ttl, lat) = grid_latency(&mut next, 5);
            let broker = next(4) == 0;
            let faults: Vec<String> = (0..1 + next(5))
                .map(|_| grid_fault(&mut next, 11, broker))
                .collect();
            let (_, mut network) = grid_network(&mut next, &lat, period, ttl);
            network.push(grid_autoscale(&mut next));
            if broker {
                network.push(
                    "bus.broker={service_time={dist=\"exponential\",mean=\"2ms\"},concurrency=1,capacity=50}"
                        .to_string(),
                );
            }
            let sets = probe_grid_run(&mut next, network, &faults);
            let sc = small_fleet_with(&sets, next(u64::MAX));
            if !World::new(&sc, sc.seed).lazy_probe_timeouts {
                assert!(sc.instant_network(), "{sets:?}");
                continue;
            }
            compared += 1;
            let (lazy, eager) = agrees_without(
                &sc,
                |w| {
                    w.lazy_probe_timeouts = false;
                    w.all_answers_evented();
                },
                &sets,
            );
            assert!(lazy <= eager, "{sets:?}");
        }
        assert!(compared > N_LAZY * 2 / 3, "{compared} runs compared");
    }

    const N_LAZY: usize = 600;

    /// Probes on an instant network under random crashes, recoveries,
    /// slowdowns, partitions, dispatcher outages, drains, rolling restarts
    /// and joins ([`grid_fault`]: they begin and end on the instants of
    /// probes, their handling's ends and their timeouts) and an autoscaled
    /// tier now and then, with loss, failures of their own, short
    /// intervals and timeouts: every figure as with every step of every
    /// probe an event, and fewer events. While this was written, a partition
    /// healing at the instant of its target's next probe lost that probe
    /// with every probe an event (the probe's event came first), and let
    /// it through where the target had slept (woken by the partition, its
    /// next probe came after the heal): a fault's targets now keep every
    /// probe an event, and so do the tiers a join or an autoscaler draws
    /// from; without either rule this fails (20,000 such fleets agreed
    /// with them).
    #[test]
    fn independent_probes_agree_under_random_faults() {
        let mut next = below(577);
        let mut fewer = 0;
        for _ in 0..N_INDEPENDENT {
            let faults: Vec<String> = (0..1 + next(5))
                .map(|_| grid_fault(&mut next, 10, false))
                .collect();
            let network = vec![
                grid_autoscale(&mut next),
                format!("network.loss={}", [0.0, 0.0, 0.05, 0.3][next(4) as usize]),
                format!(
                    "fleet.tiers[0].uptime={}",
                    [1.0, 0.5, 0.8][next(3) as usize]
                ),
                format!("fleet.tiers[1].mttr=\"{}ms\"", 250 * (1 + next(8))),
                format!(
                    "workload.arrivals={{process=\"poisson\",rate={}}}",
                    [2.0, 20.0, 60.0][next(3) as usize]
                ),
            ];
            let sets = probe_grid_run(&mut next, network, &faults);
            let sc = small_fleet_with(&sets, next(u64::MAX));
            assert!(World::new(&sc, sc.seed).probes_independent, "{sets:?}");
            let (independent, evented) = agrees_without(&sc, |w| w.all_probes_evented(), &sets);
            // (At a high loss, where every other exchange fails, a
            // sleeping agent's wakes may cost more events than they save.)
            fewer += usize::from(independent < evented);
        }
        assert!(
            fewer > N_INDEPENDENT * 9 / 10,
            "fewer events in {fewer} runs"
        );
    }

    const N_INDEPENDENT: usize = 600;

    /// [`SMALL_FLEET`] with no failures of its own, run with `duration`
    /// and `faults` (both as `--set` arguments) behind the network and
    /// registry of `case`. Twelve agents heartbeating every second from
    /// `stagger`: agent 11's slots fall on whole seconds, agent 5's on
    /// half seconds.
    fn slot_fleet(faults: &str, duration: &str, case: &[&str]) -> Scenario {
        let fleet = [
            "fleet.tiers[0].uptime=1.0",
            "fleet.tiers[1].uptime=1.0",
            "fleet.tiers[2].uptime=1.0",
            duration,
        ];
        steady_load_with(
            (SMALL_FLEET.iter().copied().chain(fleet))
                .chain(case.iter().copied())
                .chain([faults]),
        )
    }

    /// [`slot_fleet`] with `faults` that silence agents 11 and 5 on and
    /// around their slots, on an instant network (with the default `ttl`,
    /// and with one of two periods), behind constant latencies of 40 ms and
    /// of half a period, and behind random ones (one lossy): held, it
    /// agrees with every heartbeat an event, with fewer events, and both
    /// agents' leases run out.
    fn slot_faults_agree(faults: &str, duration: &str) {
        let cases: &[&[&str]] = &[
            &[],
            &["registry={ttl=\"2s\",heartbeat=\"1s\"}"],
            &["network.latency={dist=\"constant\",value=\"40ms\"}"],
            &[
                "network.latency={dist=\"constant\",value=\"500ms\"}",
                "registry={ttl=\"2s\",heartbeat=\"1s\"}",
            ],
            &["network.latency={dist=\"exponential\",mean=\"20ms\"}"],
            &[
                "network.latency={dist=\"empirical\",values=[\"0ms\",\"500ms\",\"1s\"]}",
                "network.loss=0.2",
                "registry={ttl=\"2500ms\",heartbeat=\"1s\"}",
                "request.timeout=\"3s\"",
            ],
        ];
        for (k, case) in cases.iter().enumerate() {
            let sc = slot_fleet(faults, duration, case);
            let w = World::new(&sc, sc.seed);
            assert!(w.quiet_heartbeats, "case {k}: {case:?} has held heartbeats");
            let (quiet_events, events, expiries) = held_agrees_with_evented(&sc, w, case);
            assert!(
                expiries.iter().any(|&(_, a)| a == 11) && expiries.iter().any(|&(_, a)| a == 5),
                "case {k}: both silenced agents' leases run out: {expiries:?}"
            );
            assert!(
                quiet_events < events,
                "case {k}: {quiet_events} events against {events}"
            );
        }
    }

    #[test]
    fn held_heartbeats_follow_crashes_at_their_slots() {
        // Twelve agents heartbeating every second from `stagger`: agent 11's
        // slots fall on whole seconds and agent 5's on half seconds, so
        // crashes that start and end on whole (or half) seconds begin and
        // end at the very instant of one of their heartbeats (some last
        // a period, or less), and behind a latency of half a period agent
        // 11's heartbeats arrive on half seconds, as one crash begins. No
        // failures but the crashes.
        let faults = concat!(
            "faults=[",
            "{at=\"4s\",kind=\"crash\",target={agents=[\"agent-11\"]},for=\"3s\"},",
            "{at=\"4500ms\",kind=\"crash\",target={agents=[\"agent-5\"]},for=\"5s\"},",
            "{at=\"12s\",kind=\"crash\",target={agents=[\"agent-11\",\"agent-5\"]}},",
            "{at=\"16s\",kind=\"recover\",target={agents=[\"agent-11\"]}},",
            "{at=\"20500ms\",kind=\"recover\",target={agents=[\"agent-5\"]}},",
            "{at=\"22s\",kind=\"crash\",target={agents=[\"agent-11\"]},for=\"1s\"},",
            "{at=\"24700ms\",kind=\"crash\",target={agents=[\"agent-5\"]},for=\"800ms\"},",
            "{at=\"26500ms\",kind=\"crash\",target={agents=[\"agent-11\"]},for=\"1500ms\"}]"
        );
        slot_faults_agree(faults, "duration=\"30s\"");
    }

    #[test]
    fn an_agent_back_at_time_0_holds_its_lease_from_its_heartbeat() {
        // Agent 8 crashes and recovers at time 0: it comes back as the run
        // starts and sends a heartbeat, which renews its lease when it
        // arrives. It crashes again before its first slot (0.75 s) for
        // longer than the `ttl`, so its lease runs out a `ttl` after that
        // heartbeat's arrival, not after time 0; behind a random latency
        // its held heartbeats are the ones drawn after that heartbeat.
        let sets = [
            "fleet.tiers[0].uptime=1.0",
            "fleet.tiers[1].uptime=1.0",
            "fleet.tiers[2].uptime=1.0",
            "duration=\"10s\"",
            concat!(
                "faults=[{at=\"0s\",kind=\"crash\",target={agents=[\"agent-8\"]}},",
                "{at=\"0s\",kind=\"recover\",target={agents=[\"agent-8\"]}},",
                "{at=\"500ms\",kind=\"crash\",target={agents=[\"agent-8\"]},for=\"4s\"}]"
            ),
        ];
        let cases = [
            (
                "network.latency={dist=\"constant\",value=\"40ms\"}",
                Some(3_040_000_000),
            ),
            ("network.latency={dist=\"exponential\",mean=\"20ms\"}", None),
        ];
        for (latency, ends) in cases {
            let sc = steady_load_with(SMALL_FLEET.iter().chain(&sets).chain(&[latency]));
            let w = World::new(&sc, sc.seed);
            assert!(w.quiet_heartbeats, "{latency}");
            let (_, _, expiries) = held_agrees_with_evented(&sc, w, &latency);
            let first = expiries.iter().find(|&&(_, a)| a == 8);
            assert!(first.is_some(), "{latency}: {expiries:?}");
            if let Some(t) = ends {
                assert_eq!(first, Some(&(Instant(t), 8)), "{latency}");
            }
        }
    }

    #[test]
    fn held_heartbeats_follow_partitions() {
        // Agent 11's heartbeats fall on whole seconds and agent 5's on
        // half seconds (one a second, twelve agents). Partitions begin on
        // their slots; one shorter than a period heals on a slot (its end
        // is scheduled after that slot's event); a crash begins and ends
        // inside a partition; a recovery heals one; a partition and a
        // recovery at time 0 make agent 8 come back as the run starts
        // (and crash before its first slot, so its lease runs from its
        // come-back heartbeat's arrival). Behind a latency of half a
        // period, heartbeats arrive as partitions begin and heal (agent
        // 11's sent at 22 s, as its partition from 22.25 s heals).
        let faults = concat!(
            "faults=[",
            "{at=\"4s\",kind=\"partition\",target={agents=[\"agent-11\"]},for=\"3s\"},",
            "{at=\"8500ms\",kind=\"partition\",target={agents=[\"agent-5\"]},for=\"500ms\"},",
            "{at=\"9500ms\",kind=\"partition\",target={agents=[\"agent-11\"]},for=\"500ms\"},",
            "{at=\"12500ms\",kind=\"partition\",target={agents=[\"agent-5\"]},for=\"4s\"},",
            "{at=\"13500ms\",kind=\"crash\",target={agents=[\"agent-5\"]},for=\"1s\"},",
            "{at=\"18s\",kind=\"partition\",target={agents=[\"agent-11\"]}},",
            "{at=\"20500ms\",kind=\"recover\",target={agents=[\"agent-11\"]}},",
            "{at=\"22250ms\",kind=\"partition\",target={agents=[\"agent-11\"]},for=\"250ms\"},",
            "{at=\"0s\",kind=\"partition\",target={agents=[\"agent-8\"]}},",
            "{at=\"0s\",kind=\"recover\",target={agents=[\"agent-8\"]}},",
            "{at=\"500ms\",kind=\"crash\",target={agents=[\"agent-8\"]},for=\"4s\"}]"
        );
        slot_faults_agree(faults, "duration=\"25s\"");
        // On an instant network the partitions lose exactly the heartbeats
        // due while their agents are cut off and up: agent 11 at 4, 5 and
        // 6 s and at 18, 19 and 20 s (the one due as it heals is its
        // come-back heartbeat), agent 5 at 8.5, 12.5, 14.5 and 15.5 s
        // (down at 13.5 s).
        let sc = slot_fleet(faults, "duration=\"25s\"", &[]);
        let r = World::new(&sc, sc.seed).run();
        let hb = r.bus.kind(crate::bus::Kind::Heartbeat);
        assert_eq!(hb.lost_partition, 10, "{hb:?}");
    }

    #[test]
    fn a_lease_ending_as_its_agent_comes_back_is_renewed() {
        // Agent 11 registers at 0 with a lease to 1 s and crashes at 0.5 s,
        // as its first heartbeat is due: it comes back at 1 s, the very
        // instant its lease ends, and its come-back heartbeat renews it.
        // Agent 0 crashes for good before its first heartbeat, so a lease
        // check for 1 s is armed early, ahead of agent 11's come-back in
        // the event order. Held, no slot event of agent 11 is pending at
        // 1 s, only its come-back: the check must wait for that too.
        let sets = [
            "registry={ttl=\"1s\",heartbeat=\"500ms\"}",
            "fleet.tiers[0].uptime=1.0",
            "fleet.tiers[1].uptime=1.0",
            "fleet.tiers[2].uptime=1.0",
            "duration=\"5s\"",
            concat!(
                "faults=[{at=\"10ms\",kind=\"crash\",target={agents=[\"agent-0\"]}},",
                "{at=\"500ms\",kind=\"crash\",target={agents=[\"agent-11\"]},for=\"500ms\"}]"
            ),
        ];
        let sc = steady_load_with(SMALL_FLEET.iter().chain(&sets));
        let w = World::new(&sc, sc.seed);
        assert!(w.quiet_heartbeats);
        let (_, _, expiries) = held_agrees_with_evented(&sc, w, &sets);
        assert_eq!(expiries, [(Instant(1_000_000_000), 0)]);
    }

    /// Drawn heartbeats on random fleets: 300 runs of 20 s with random
    /// latencies (exponential, uniform, lognormal, empirical with a third
    /// of the draws 0, constant past the period), loss, heartbeat period,
    /// `ttl`, failures and drain, held and with every heartbeat an event:
    /// every figure and lease expiry the same. Periods, `ttl`s and
    /// latencies are random to the nanosecond, so heartbeats arriving at
    /// the very instant their lease ends are rare here: see
    /// `drawn_heartbeats_agree_where_arrivals_tie_with_lease_ends`.
    #[test]
    fn drawn_heartbeats_agree_on_random_fleets() {
        let mut next = below(12345);
        for _ in 0..300 {
            let ms = 1_000_000;
            let period = (200 + next(1000)) * ms + next(ms);
            let ttl = period + (1 + next(2000)) * ms + next(ms);
            let lat = match next(5) {
                0 => format!("{{dist=\"exponential\",mean=\"{}ms\"}}", 1 + next(400)),
                1 => {
                    let a = next(500);
                    format!(
                        "{{dist=\"uniform\",min=\"{a}ms\",max=\"{}ms\"}}",
                        a + 1 + next(800)
                    )
                }
                2 => format!(
                    "{{dist=\"empirical\",values=[\"0ms\",\"{}ns\",\"{}ns\"],weights=[1,1,1]}}",
                    next(300 * ms),
                    next(1500 * ms)
                ),
                3 => format!(
                    "{{dist=\"lognormal\",median=\"{}ms\",p99=\"{}ms\"}}",
                    1 + next(50),
                    60 + next(900)
                ),
                _ => format!(
                    "{{dist=\"constant\",value=\"{}ns\"}}",
                    period + next(300 * ms)
                ),
            };
            drawn_fleet_agrees(
                format!("network.latency={lat}"),
                format!("registry={{ttl=\"{ttl}ns\",heartbeat=\"{period}ns\"}}"),
                &mut next,
            );
        }
    }

    #[test]
    fn a_heartbeat_arriving_as_its_lease_ends_renews_it() {
        // Leases of exactly `k` heartbeat periods, agents that never fail,
        // a lossy network, instant or with a constant latency: the
        // heartbeat `k` periods after the last one that arrived comes as
        // the lease ends. A lease runs through that instant, so the
        // heartbeat renews it, whichever of its arrival and the lease check
        // was scheduled first, and a lease runs out only when the `k`
        // heartbeats after one that arrived are all lost: `(1 − p)·pᵏ`
        // expiries a heartbeat, with heartbeats held or every one an event.
        // (Were the heartbeat too late for it, `(1 − p)·p^(k−1)`: `1/p`
        // times more.) Expected counts: 120 agents, 400 heartbeats each;
        // 3,024 (k = 2, p = 0.3) and 3,000 (k = 3, p = 0.5), each with a
        // standard deviation under 2 %: the tolerance of 8 % is over four
        // of them. Before the check waited for the renewals of its
        // instant, behind the latency about 4,080 ran out, held or not.
        for (k, p, latency) in [(2u32, 0.3f64, "0ms"), (3, 0.5, "0ms"), (2, 0.3, "70ms")] {
            let sets = [
                format!("registry={{ttl=\"{k}s\",heartbeat=\"1s\"}}"),
                format!("network.loss={p}"),
                format!("network.latency={{dist=\"constant\",value=\"{latency}\"}}"),
                "fleet.tiers[0].uptime=0.9999999".into(),
                "fleet.tiers[1].uptime=0.9999999".into(),
                "fleet.tiers[2].uptime=0.9999999".into(),
                "duration=\"400s\"".into(),
                "drain=\"0s\"".into(),
            ];
            let sc = steady_load_with(&sets);
            let want = 120.0 * 400.0 * (1.0 - p) * p.powi(k as i32);
            for (held, w) in [
                (true, World::new(&sc, sc.seed)),
                (false, evented_world(&sc)),
            ] {
                assert_eq!(w.quiet_heartbeats, held);
                let (_, expiries) = results_and_expiries(w);
                let got = expiries.len() as f64;
                assert!(
                    (got / want - 1.0).abs() < 0.08,
                    "k = {k}, p = {p}, latency {latency}, held {held}: {got} expiries, theory {want}"
                );
            }
        }
    }

    #[test]
    fn drawn_heartbeats_agree_where_arrivals_tie_with_lease_ends() {
        // Latencies of a few whole milliseconds (0, `x` or `y`, equally
        // likely) and a `ttl` that is a sum of whole periods and latency
        // differences: heartbeats often arrive at the very nanosecond their
        // lease ends, and the held run arms its lease checks at other
        // times than the evented one. Every figure and expiry must still
        // agree. (Before the check waited for the renewals of its
        // instant, 52 of these 200 runs differed.)
        let mut next = below(777);
        for _ in 0..200 {
            let period = 200 + next(600);
            let (x, y) = (1 + next(period - 1), next(period));
            let ttl = match next(4) {
                0 => 2 * period,
                1 => 2 * period + x - y.min(x),
                2 => period + x.max(y) - x.min(y) + 1,
                _ => 3 * period + y,
            }
            .max(period + 1);
            drawn_fleet_agrees(
                format!(
                    "network.latency={{dist=\"empirical\",values=[\"0ms\",\"{x}ms\",\"{y}ms\"]}}"
                ),
                format!("registry={{ttl=\"{ttl}ms\",heartbeat=\"{period}ms\"}}"),
                &mut next,
            );
        }
    }

    #[test]
    fn drawn_heartbeats_change_nothing_but_the_events() {
        // Agents that fail often ([`FAILING`]), behind latencies that are
        // not certain: short ones that leases are held through, and ones
        // late (past the period, or past `ttl − period`) or lost often
        // enough that holds end and start again many times in a run.
        let cases: &[&[&str]] = &[
            &["network.latency={dist=\"uniform\",min=\"1ms\",max=\"3ms\"}"],
            &["network.latency={dist=\"exponential\",mean=\"20ms\"}"],
            &[
                "network.latency={dist=\"lognormal\",median=\"10ms\",p99=\"300ms\"}",
                "registry={ttl=\"1200ms\",heartbeat=\"1s\"}",
            ],
            &[
                "network.latency={dist=\"exponential\",mean=\"150ms\"}",
                "registry={ttl=\"801ms\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
            &[
                "network.latency={dist=\"uniform\",min=\"0ms\",max=\"900ms\"}",
                "registry={ttl=\"2s\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
            &[
                "network.latency={dist=\"exponential\",mean=\"30ms\"}",
                "network.loss=0.2",
            ],
            &[
                "network.latency={dist=\"uniform\",min=\"100ms\",max=\"700ms\"}",
                "network.loss=0.3",
                "registry={ttl=\"1500ms\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
            &[
                "network.latency={dist=\"pareto\",alpha=1.2,min=\"1ms\",max=\"5s\"}",
                "request.timeout=\"10s\"",
            ],
            // Half the heartbeats arrive as they leave (a latency of 0),
            // the others after 200 ms, or 700 ms: late.
            &[
                "network.latency={dist=\"empirical\",values=[\"0ms\",\"200ms\",\"700ms\"],weights=[5,4,1]}",
                "registry={ttl=\"1200ms\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
            // Ties: a latency of exactly 50 ms, with agents' slots 50 ms
            // apart, brings heartbeats in as other agents send theirs; and
            // one more nanosecond, with the run stopped at its limit (no
            // drain, 2 s services outlasting it, probes slow enough not to
            // mind them), brings agent 10's last heartbeat in as the run
            // stops (it is not delivered).
            &[
                "network.latency={dist=\"uniform\",min=\"50ms\",max=\"50ms\"}",
                "registry={ttl=\"1300ms\",heartbeat=\"600ms\"}",
            ],
            &[
                "network.latency={dist=\"uniform\",min=\"50000001ns\",max=\"50000001ns\"}",
                "registry={ttl=\"1300ms\",heartbeat=\"600ms\"}",
                "drain=\"0s\"",
                "fleet.tiers[0].service_time={dist=\"constant\",value=\"2s\"}",
                "fleet.tiers[1].service_time={dist=\"constant\",value=\"2s\"}",
                "fleet.tiers[2].service_time={dist=\"constant\",value=\"2s\"}",
                "workload.arrivals={process=\"poisson\",rate=2.0}",
                "request.timeout=\"10s\"",
                "health.interval=\"10s\"",
                "health.timeout=\"5s\"",
                "health.degraded_threshold=\"9s\"",
                "duration=\"30s\"",
            ],
            // Every heartbeat late: a period plus the latency is the
            // `ttl`, so an agent's first heartbeat arrives at the very
            // instant the lease it registered with ends (and renews it).
            &[
                "network.latency={dist=\"constant\",value=\"300ms\"}",
                "registry={ttl=\"800ms\",heartbeat=\"500ms\"}",
            ],
            // Every heartbeat later than the period: another is always on
            // its way when one arrives, so no lease is held after the
            // first heartbeat (still fewer events: an agent that is down
            // has no heartbeat events).
            &[
                "network.latency={dist=\"constant\",value=\"600ms\"}",
                "registry={ttl=\"2s\",heartbeat=\"500ms\"}",
                "request.timeout=\"3s\"",
            ],
        ];
        let mut fewer = 0;
        for (k, case) in cases.iter().enumerate() {
            let sc = steady_load_with(SMALL_FLEET.iter().chain(&FAILING).chain(case.iter()));
            let w = World::new(&sc, sc.seed);
            assert!(
                w.quiet_heartbeats && w.heartbeats_drawn(),
                "case {k}: {case:?} draws its heartbeats"
            );
            assert!(
                evented_world(&sc).heartbeats_drawn(),
                "case {k}: evented, drawn"
            );
            let (quiet_events, events, expiries) = held_agrees_with_evented(&sc, w, case);
            assert!(!expiries.is_empty(), "case {k}: some lease runs out");
            assert!(
                quiet_events <= events,
                "case {k}: {quiet_events} events against {events}"
            );
            fewer += usize::from(quiet_events < events);
        }
        assert_eq!(fewer, cases.len());
    }

    #[test]
    fn lossy_quiet_heartbeats_let_leases_run_out_as_events_do() {
        // Agents that fail and come back often, on a lossy network,
        // instant or with a constant latency: how often leases run out
        // with losses drawn ahead per agent (quiet) and with every
        // heartbeat an event, over the same seeds.
        for latency in ["0ms", "120ms"] {
            lossy_leases_both_ways(latency);
        }
    }

    fn lossy_leases_both_ways(latency: &str) {
        let latency = format!("network.latency={{dist=\"constant\",value=\"{latency}\"}}");
        let sets = [
            latency.as_str(),
            "fleet.tiers[0].count=20",
            "fleet.tiers[1].count=20",
            "fleet.tiers[2].count=20",
            "fleet.tiers[0].uptime=0.6",
            "fleet.tiers[1].mttr=\"700ms\"",
            "fleet.tiers[1].uptime=0.8",
            "network.loss=0.3",
            "registry={ttl=\"1500ms\",heartbeat=\"1s\"}",
            "duration=\"200s\"",
        ];
        // Twelve seeds: each run's count varies by about 31 (1.3 %) from
        // seed to seed, so the means' difference has a standard error of
        // about 13; the bound is four of them, measured. Holding the lease
        // of an agent whose heartbeat was lost as it came back gave 4 %
        // fewer expiries (−99), which this fails.
        let (mut quiet, mut evented) = (Vec::new(), Vec::new());
        for seed in 1..=12u64 {
            let mut sc = steady_load_with(sets);
            sc.seed = crate::rng::Seed(seed);
            let w = World::new(&sc, sc.seed);
            assert!(!w.heartbeat_losses.is_empty(), "lossy quiet heartbeats");
            quiet.push(results_and_expiries(w).1.len() as f64);
            evented.push(results_and_expiries(evented_world(&sc)).1.len() as f64);
        }
        let n = quiet.len() as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
        };
        let se = ((var(&quiet) + var(&evented)) / n).sqrt();
        let (q, e) = (mean(&quiet), mean(&evented));
        assert!(
            (q - e).abs() < 4.0 * se,
            "{latency}: expiries quiet {q:.1}, evented {e:.1}, standard error {se:.1}"
        );
    }

    /// Tasks submitted and events a task of steady_load with `per_tier`
    /// agents in each tier, always up, a task a second for `duration`.
    fn always_up(per_tier: u32, duration: &str) -> (u64, f64) {
        let mut sets = Vec::new();
        for t in 0..3 {
            sets.push(format!("fleet.tiers[{t}].count={per_tier}"));
            sets.push(format!("fleet.tiers[{t}].uptime=1.0"));
        }
        sets.push(format!("duration=\"{duration}\""));
        sets.push("workload.arrivals={process=\"poisson\",rate=1.0}".to_string());
        let sc = steady_load_with(&sets);
        let r = World::new(&sc, sc.seed).run();
        (r.submitted, r.events as f64 / r.submitted as f64)
    }

    /// A fleet of agents that are always up is born dormant: a task costs
    /// its arrival and its end, and no agent's first probe is an event
    /// (with them, this fleet of 300 took about 5.2 events a task). Its
    /// timeout, answered long before, is no event of its own; one queued
    /// timeout is armed at a time (`world/timeouts.rs`), and at a task a
    /// second and a 2 s timeout about every other one pops (2.4 events a
    /// task; 3.2 with each timeout an event).
    #[test]
    fn a_steady_fleet_is_born_dormant() {
        let (tasks, per_task) = always_up(100, "140s");
        assert!(tasks > 100, "{tasks} tasks");
        assert!(per_task < 2.6, "{per_task:.2} events a task");
    }

    /// An agent that is always up and serves a request now and then
    /// sleeps again as each request ends: a task costs its arrival, its
    /// end and about half a timeout (as above), and the probes nothing.
    /// Waking for the next probe after each request cost about 0.6 events
    /// a task more (3.79 a task with each timeout an event; then 3.16, now
    /// 2.5).
    #[test]
    fn a_steady_agent_sleeps_again_after_a_request() {
        let (tasks, per_task) = always_up(1, "600s");
        assert!(tasks > 500, "{tasks} tasks");
        assert!(per_task < 2.6, "{per_task:.2} events a task");
    }
}
