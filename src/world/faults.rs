//! Agent failures in the world: each failing tier's availability model
//! (alternating up and down periods from the `availability/agent-N`
//! streams) and the `[[faults]]` schedule (targets drawn from the
//! `faults/N` streams when the run is set up), applied to the agents.
//!
//! Going down resets the agent's work: requests in service or queued come
//! back as refused (fast failures), or are lost if the agent is also cut
//! off. Coming back (up, or the partition healed) renews the agent's lease
//! at once. A `broker_down` fault hits no agent: it takes the bus's broker
//! down, and when it comes back every live agent renews its lease and
//! subscribes again.

use super::{Event, PROBE, World};
use crate::bus::Endpoint;
use crate::faults::{Availability, FaultKind, Target};
use crate::fleet::{AGENT_ID_PREFIX, Condition, FaultEffect};
use crate::metrics::Cause;
use crate::rng::{Seed, fnv1a64, fnv1a64_on};
use crate::time::Instant;

impl World<'_> {
    pub(super) fn start_failures(&mut self, seed: Seed) {
        let n = self.agents.len();
        self.tier_availability = (self.sc.tiers.iter())
            .map(|tier| Availability::new(tier.uptime, &tier.repair))
            .collect();
        // Every agent's stream is `availability/agent-N`: the prefix is
        // hashed once.
        let prefix = fnv1a64(format!("availability/{AGENT_ID_PREFIX}").as_bytes());
        let mut digits = [0u8; 20];
        self.availability = (0..n)
            .map(|a| {
                let Some(model) = &self.tier_availability[self.agents[a].tier as usize] else {
                    return (0, 0);
                };
                let id = fnv1a64_on(prefix, crate::text::decimal(a as u64, &mut digits));
                let mut rng = self.availability_key.cursor(id, 0);
                let (up, period) = model.start(&mut rng);
                if !up {
                    self.agents[a].unavailable = true;
                    self.agents[a].note_state(Instant::ZERO);
                    self.down_count += 1;
                }
                self.engine
                    .schedule(
                        Instant::ZERO + period,
                        Event::Availability { agent: a as u32 },
                    )
                    .expect("the run has not started");
                (id, rng.word_pos())
            })
            .collect();
        let tier_ranges = self.tier_members();
        let everyone: Vec<u32> = (0..n as u32).collect();
        for (i, f) in self.sc.faults.iter().enumerate() {
            let population = match &f.target {
                Target::Fraction {
                    tier: Some(t),
                    fraction: _,
                } => &tier_ranges[*t as usize],
                _ => &everyone,
            };
            let mut rng = seed.stream(&format!("faults/{i}"));
            self.fault_targets
                .push(f.target.resolve(population, &mut rng));
            self.engine
                .schedule(
                    Instant(f.at.as_nanos()),
                    Event::FaultStart { fault: i as u32 },
                )
                .expect("the run has not started");
        }
    }

    /// The agent ids of each tier, in tier order (agents are numbered tier
    /// by tier).
    pub(super) fn tier_members(&self) -> Vec<Vec<u32>> {
        let mut first = 0u32;
        self.sc
            .tiers
            .iter()
            .map(|t| {
                let ids = (first..first + t.count).collect();
                first += t.count;
                ids
            })
            .collect()
    }

    pub(super) fn on_availability(&mut self, now: Instant, a: u32) {
        let i = a as usize;
        let was = self.agents[i].condition();
        let up_now = self.agents[i].unavailable;
        self.agents[i].unavailable = !up_now;
        let model = self.tier_availability[self.agents[i].tier as usize]
            .as_ref()
            .expect("availability events only for failing tiers");
        let (id, pos) = self.availability[i];
        let mut rng = self.availability_key.cursor(id, pos);
        let period = model.period(up_now, &mut rng);
        self.availability[i].1 = rng.word_pos();
        self.engine
            .schedule_after(period, Event::Availability { agent: a });
        self.after_change(now, i, was);
    }

    pub(super) fn on_fault(&mut self, now: Instant, fault: u32, starts: bool) {
        let f = &self.sc.faults[fault as usize];
        let lifecycle = matches!(
            f.kind,
            FaultKind::Drain | FaultKind::Join { .. } | FaultKind::RollingRestart { .. }
        );
        if starts
            && let Some(d) = f.lasts
            && !matches!(f.kind, FaultKind::RollingRestart { .. })
        {
            self.engine.schedule_after(d, Event::FaultEnd { fault });
        }
        match f.kind {
            FaultKind::DispatcherDown => return self.on_dispatcher_fault(now, starts),
            FaultKind::BrokerDown => return self.on_broker(now, starts),
            _ => {}
        }
        if lifecycle {
            self.on_lifecycle_fault(now, fault, starts);
            return;
        }
        let targets = std::mem::take(&mut self.fault_targets[fault as usize]);
        for &a in &targets {
            let i = a as usize;
            let was = self.agents[i].condition();
            let agent = &mut self.agents[i];
            if starts {
                match f.kind {
                    FaultKind::Crash => agent.add_fault(fault, FaultEffect::Crash),
                    FaultKind::Partition => agent.add_fault(fault, FaultEffect::Partition),
                    FaultKind::Slow { factor } => agent.add_fault(fault, FaultEffect::Slow(factor)),
                    FaultKind::Recover => agent.clear_faults(),
                    FaultKind::DispatcherDown | FaultKind::BrokerDown => {
                        unreachable!("handled above: it has no targets")
                    }
                    FaultKind::Drain
                    | FaultKind::Join { .. }
                    | FaultKind::RollingRestart { .. } => {
                        unreachable!("lifecycle faults return above")
                    }
                }
            } else {
                agent.remove_fault(fault);
            }
            self.after_change(now, i, was);
        }
        self.fault_targets[fault as usize] = targets;
    }

    /// The broker goes down (`starts`) or comes back. Down: the bus refuses
    /// every message and forgets what the broker held (and, unless it is
    /// persistent, what it retained); every subscription is gone. Back:
    /// every agent that is not silent reconnects: it renews its lease at
    /// once and subscribes again, getting the retained messages replayed.
    fn on_broker(&mut self, now: Instant, starts: bool) {
        if starts {
            // Answers on their way unseen are lost as they arrive.
            for a in 0..self.unseen_answers.len() {
                self.unseen_answer_evented(a);
            }
            self.bus.broker_down(now);
            return;
        }
        self.bus.broker_up();
        if self.bus.is_broker_down() {
            return; // another outage still holds it down
        }
        for a in 0..self.agents.len() {
            if self.leases && !self.agents[a].is_silent() {
                self.send_heartbeat(now, a);
            }
        }
        self.pubsub_broker_back(now);
    }

    /// Apply the consequences of agent `a`'s change of state from `was`.
    fn after_change(&mut self, now: Instant, a: usize, was: Condition) {
        self.settle_cut_heartbeats(now, a);
        self.settle_probe(now, a);
        self.agents[a].note_state(now);
        let is = self.agents[a].condition();
        if is.cut != was.cut {
            // Nothing crosses the bus to or from a cut-off agent.
            if is.cut {
                // An answer on its way unseen is lost as it arrives.
                self.unseen_answer_evented(a);
                self.bus.cut(Endpoint(a as u32));
            } else {
                self.bus.heal(Endpoint(a as u32));
            }
        }
        self.down_count = self.down_count + u64::from(is.silent()) - u64::from(was.silent());
        if is.down && !was.down {
            self.reset(now, a);
        }
        match (was.silent(), is.silent()) {
            (false, true) => {
                self.release_lease(now, a);
                self.pubsub_leave(a);
            }
            (true, false) => {
                if self.leases && self.agents[a].presence().registered() {
                    if let Some(back) = self.back_at.get_mut(a) {
                        *back = now;
                    }
                    // Its lease is held only if that heartbeat is not
                    // lost (it renews the lease, or registers the agent
                    // again); a lost one leaves the lease to run out.
                    if self.send_heartbeat(now, a) {
                        self.hold_lease(now, a);
                    }
                    self.resume_heartbeat_slots(now, a);
                }
                if self.agents[a].presence().present() {
                    self.pubsub_rejoin(now, a);
                }
            }
            _ => {}
        }
        self.start_cut_heartbeats(now, a);
    }

    /// The agent went down: everything it held is refused (or lost).
    fn reset(&mut self, now: Instant, a: usize) {
        let agent = &mut self.agents[a];
        let mut held: Vec<u32> = agent.in_service.take_all();
        let in_slots = held.len();
        held.extend(agent.queue.drain(..));
        agent.take_calling_into(&mut held);
        agent.busy = 0;
        for (i, &r) in held.iter().enumerate() {
            if r & PROBE != 0 {
                // A probe it held or queued is refused too.
                let m = r & !PROBE;
                let msg = &mut self.probe_msgs[m as usize];
                if i < in_slots {
                    let agent = &mut self.agents[a];
                    agent.busy_time = agent.busy_time + (now - msg.start);
                }
                msg.serving = false;
                msg.ok = false;
                self.answer_probe(now, m, false);
                continue;
            }
            if i < in_slots {
                let start = self.reqs[r as usize].service_start;
                let agent = &mut self.agents[a];
                agent.busy_time = agent.busy_time + (now - start);
            }
            self.reqs[r as usize].cause = Some(Cause::Refused);
            self.send_back(now, r);
        }
    }
}
