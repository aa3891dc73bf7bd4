//! A fleet that changes: agents that drain, join, restart in batches, and
//! tiers that an autoscaler grows and shrinks.
//!
//! The lifecycle (see `fleet::Presence`): a **drain** deregisters the agent
//! and makes it ineligible for the dispatcher and every caller's client at
//! once; it still serves everything it holds (requests on their way to it,
//! queued, in service, waiting on calls) and leaves when it holds nothing.
//! A **join** registers an agent (after `startup` when the autoscaler
//! starts it, after `for` when a restart brings it back); with `[health]`
//! it is *joining* until a probe passes, and only then eligible.
//!
//! `rolling_restart` drains its targets `batch` at a time (in id order):
//! once the whole batch has left, each agent comes back `for` later; once
//! the whole batch serves again, the next batch starts `pause` later.
//!
//! `[[autoscale]]` decides every `interval` (first at `interval`) with the
//! HPA rule of `orchestration::autoscale`, from the tier's serving agents:
//! utilization = busy slot-time since the agent's last evaluation (or since
//! it began serving) / (slots × that time), averaged over them; queue =
//! requests held (queued or in service) per serving agent. Agents
//! starting, joining or serving count as current. Scaling up starts the
//! tier's lowest-numbered absent agents; scaling down cancels starting ones
//! first (highest id first), then drains the highest-numbered running ones.

use super::{Event, PROBE, World};
use crate::faults::{FaultKind, Target};
use crate::fleet::Presence;
use crate::orchestration::autoscale::{Autoscaler, Metric};
use crate::time::{Duration, Instant, Moment};

/// One `[[autoscale]]` table at work.
pub(super) struct Scaler {
    pub auto: Autoscaler,
    /// Each agent's busy slot-time at its last evaluation, and when.
    snap: Vec<(Duration, Instant)>,
}

/// Where a rolling restart is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The current batch drains.
    Draining,
    /// It has left; it comes back and must serve again.
    Returning,
    /// Waiting `pause` before the next batch.
    Pausing,
    Done,
}

pub(super) struct Rolling {
    batches: Vec<Vec<u32>>,
    next: usize,
    stage: Stage,
    restart: Duration,
    pause: Duration,
}

impl World<'_> {
    pub(super) fn start_lifecycle(&mut self) {
        for (i, cfg) in self.sc.autoscale.iter().enumerate() {
            self.scalers.push(Scaler {
                auto: Autoscaler::new(cfg.clone()),
                snap: vec![(Duration::ZERO, Instant::ZERO); self.agents.len()],
            });
            self.engine
                .schedule(
                    Instant::ZERO + cfg.interval,
                    Event::Autoscale { scaler: i as u32 },
                )
                .expect("the run has not started");
        }
        self.rolling = self.sc.faults.iter().map(|_| None).collect();
        if self.sc.fleet_changes() {
            let mut serving = vec![0; self.sc.tiers.len()];
            for agent in &self.agents {
                if agent.presence() == Presence::Serving {
                    serving[agent.tier as usize] += 1;
                }
            }
            self.metrics.track_tiers(serving);
        }
    }

    /// Agent `a` answered (or dropped) a request it held.
    pub(super) fn let_go(&mut self, now: Instant, a: usize) {
        let agent = &mut self.agents[a];
        agent.held = agent
            .held
            .checked_sub(1)
            .unwrap_or_else(|| panic!("agent-{a} let go of a request it did not hold"));
        if agent.held == 0 && agent.presence() == Presence::Draining {
            self.depart(now, a);
        }
    }

    fn set_presence(&mut self, now: Instant, a: usize, p: Presence) {
        let was = self.agents[a].presence();
        if was == p {
            return;
        }
        // Dormant probes assume a serving agent: those due before now
        // happen first. An answer on its way unseen may now pass a
        // joining agent's probe: it arrives as an event.
        self.wake_dormant(now, a);
        self.unseen_answer_evented(a);
        self.serving_count = self.serving_count + u64::from(p == Presence::Serving)
            - u64::from(was == Presence::Serving);
        if (p == Presence::Serving) != (was == Presence::Serving) {
            let tier = self.agents[a].tier as usize;
            self.metrics.on_tier_serving(tier, p == Presence::Serving);
        }
        self.agents[a].set_presence(now, p);
        match p {
            Presence::Serving => {
                self.agents[a].serving_at = Moment::at(now);
                let busy = self.busy_now(now, a);
                for s in &mut self.scalers {
                    s.snap[a] = (busy, now);
                }
            }
            Presence::Draining => self.agents[a].drained_at = Moment::at(now),
            Presence::Joining => {}
            Presence::Starting | Presence::Absent => {}
        }
        self.refresh(a);
        self.rolling_progress(now);
    }

    /// Slot-time agent `a` has spent serving up to `now`.
    fn busy_now(&self, now: Instant, a: usize) -> Duration {
        let agent = &self.agents[a];
        agent.in_service.iter().fold(agent.busy_time, |t, &r| {
            // A slot holds a request or a health probe.
            let start = if r & PROBE != 0 {
                self.probe_msgs[(r & !PROBE) as usize].start
            } else {
                self.reqs[r as usize].service_start
            };
            t + now.saturating_since(start)
        })
    }

    /// Agent `a` (absent) starts and registers `after` from now.
    pub(super) fn start_agent(&mut self, now: Instant, a: usize, after: Duration) {
        if self.agents[a].presence() != Presence::Absent {
            return;
        }
        self.agents[a].start_epoch = self.agents[a].start_epoch.wrapping_add(1);
        self.set_presence(now, a, Presence::Starting);
        if after.is_zero() {
            self.join_agent(now, a);
        } else {
            let epoch = self.agents[a].start_epoch;
            self.engine.schedule_after(
                after,
                Event::AgentStarted {
                    agent: a as u32,
                    epoch,
                },
            );
        }
    }

    pub(super) fn on_agent_started(&mut self, now: Instant, a: u32, epoch: u32) {
        let i = a as usize;
        if self.agents[i].start_epoch == epoch && self.agents[i].presence() == Presence::Starting {
            self.join_agent(now, i);
        }
    }

    /// Agent `a` registers; without probes it serves at once, with them
    /// after its first passing probe.
    fn join_agent(&mut self, now: Instant, a: usize) {
        self.agents[a].registered_at = Moment::at(now);
        self.agents[a].forget_first_sent();
        if !self.agents[a].is_silent() && self.agents[a].drained_at.is_some() {
            // Back from a drain: its subscriptions come back with it.
            self.pubsub_rejoin(now, a);
        }
        self.register(now, a);
        self.ensure_lease_check_pub();
        let next = if self.monitors.is_empty() {
            Presence::Serving
        } else {
            Presence::Joining
        };
        self.set_presence(now, a, next);
        self.heartbeats_joined(now, a);
    }

    /// A probe of agent `a` passed.
    pub(super) fn on_probe_passed(&mut self, now: Instant, a: usize) {
        if self.agents[a].presence() == Presence::Joining {
            self.set_presence(now, a, Presence::Serving);
        }
    }

    /// Agent `a` drains: deregistered and ineligible now, gone once it
    /// holds nothing. A starting agent is simply stopped.
    pub(super) fn drain_agent(&mut self, now: Instant, a: usize) {
        match self.agents[a].presence() {
            Presence::Starting => self.set_presence(now, a, Presence::Absent),
            Presence::Joining | Presence::Serving => {
                self.heartbeats_leave(now, a);
                self.registry.deregister(now, a as u32);
                self.set_presence(now, a, Presence::Draining);
                if self.agents[a].held == 0 {
                    self.depart(now, a);
                }
            }
            Presence::Draining | Presence::Absent => {}
        }
    }

    fn depart(&mut self, now: Instant, a: usize) {
        self.set_presence(now, a, Presence::Absent);
        if !self.agents[a].is_silent() {
            self.pubsub_leave(a);
        }
        if std::mem::take(&mut self.agents[a].rejoin_when_gone) {
            self.start_agent(now, a, Duration::ZERO);
        }
    }

    /// A `drain`, `join` or `rolling_restart` fault starts or ends.
    pub(super) fn on_lifecycle_fault(&mut self, now: Instant, fault: u32, starts: bool) {
        let f = &self.sc.faults[fault as usize];
        let targets = self.fault_targets[fault as usize].clone();
        match (f.kind, starts) {
            (FaultKind::Drain, true) => {
                for a in targets {
                    self.drain_agent(now, a as usize);
                }
            }
            (FaultKind::Drain, false) => {
                for a in targets {
                    let i = a as usize;
                    match self.agents[i].presence() {
                        Presence::Absent => self.start_agent(now, i, Duration::ZERO),
                        Presence::Draining => self.agents[i].rejoin_when_gone = true,
                        _ => {}
                    }
                }
            }
            (FaultKind::Join { count }, true) => {
                let Target::Fraction { tier: Some(t), .. } = f.target else {
                    unreachable!("a join targets a tier (validated)");
                };
                let absent: Vec<u32> = self.tier_ids[t as usize]
                    .iter()
                    .copied()
                    .filter(|&a| self.agents[a as usize].presence() == Presence::Absent)
                    .take(count as usize)
                    .collect();
                for a in absent {
                    self.start_agent(now, a as usize, Duration::ZERO);
                }
            }
            (FaultKind::RollingRestart { batch, pause }, true) => {
                self.rolling[fault as usize] = Some(Rolling {
                    batches: targets
                        .chunks(batch as usize)
                        .map(<[u32]>::to_vec)
                        .collect(),
                    next: 0,
                    stage: Stage::Pausing,
                    restart: f.lasts.unwrap_or(Duration::ZERO),
                    pause,
                });
                self.on_rolling_next(now, fault);
            }
            _ => {}
        }
    }

    /// The next batch of rolling restart `fault` drains.
    pub(super) fn on_rolling_next(&mut self, now: Instant, fault: u32) {
        let Some(r) = &mut self.rolling[fault as usize] else {
            return;
        };
        if r.stage != Stage::Pausing {
            return;
        }
        let Some(batch) = r.batches.get(r.next).cloned() else {
            r.stage = Stage::Done;
            return;
        };
        r.stage = Stage::Draining;
        for a in batch {
            self.drain_agent(now, a as usize);
        }
        self.rolling_progress(now);
    }

    /// Move every rolling restart on if its batch has left, or serves again.
    fn rolling_progress(&mut self, now: Instant) {
        for f in 0..self.rolling.len() {
            let Some(r) = &self.rolling[f] else { continue };
            let batch = match r.batches.get(r.next) {
                Some(b) => b,
                None => continue,
            };
            let all = |p: Presence| {
                batch
                    .iter()
                    .all(|&a| self.agents[a as usize].presence() == p)
            };
            match r.stage {
                Stage::Draining if all(Presence::Absent) => {
                    let (batch, restart) = (batch.clone(), r.restart);
                    self.rolling[f].as_mut().expect("some").stage = Stage::Returning;
                    for a in batch {
                        self.start_agent(now, a as usize, restart);
                    }
                }
                Stage::Returning if all(Presence::Serving) => {
                    let r = self.rolling[f].as_mut().expect("some");
                    r.next += 1;
                    r.stage = Stage::Pausing;
                    let pause = r.pause;
                    self.engine
                        .schedule_after(pause, Event::RollingNext { fault: f as u32 });
                }
                _ => {}
            }
        }
    }

    /// Autoscaler `s` measures its tier and applies its decision.
    pub(super) fn on_autoscale(&mut self, now: Instant, s: u32) {
        let si = s as usize;
        let cfg = self.scalers[si].auto.config().clone();
        self.engine
            .schedule_after(cfg.interval, Event::Autoscale { scaler: s });
        let ids = self.tier_ids[cfg.tier as usize].clone();
        let mut current = 0u32;
        let (mut sum, mut serving) = (0.0, 0u32);
        for &a in &ids {
            let i = a as usize;
            match self.agents[i].presence() {
                Presence::Starting | Presence::Joining => current += 1,
                Presence::Serving => {
                    current += 1;
                    serving += 1;
                    sum += match cfg.metric {
                        Metric::Utilization => {
                            let busy = self.busy_now(now, i);
                            let (b0, t0) = self.scalers[si].snap[i];
                            self.scalers[si].snap[i] = (busy, now);
                            let span = now.saturating_since(t0).as_nanos() as f64
                                * f64::from(self.agents[i].concurrency);
                            if span > 0.0 {
                                busy.as_nanos().saturating_sub(b0.as_nanos()) as f64 / span
                            } else {
                                0.0
                            }
                        }
                        Metric::Queue => {
                            // Requests held, probes left out.
                            let agent = &self.agents[i];
                            let requests = |q: &mut dyn Iterator<Item = &u32>| {
                                q.filter(|&&r| r & PROBE == 0).count()
                            };
                            (requests(&mut agent.queue.iter())
                                + requests(&mut agent.in_service.iter()))
                                as f64
                        }
                    };
                }
                Presence::Draining | Presence::Absent => {}
            }
        }
        let metric = if serving == 0 {
            f64::NAN
        } else {
            sum / f64::from(serving)
        };
        let desired = self.scalers[si].auto.decide(now, current, metric);
        if desired > current {
            let absent: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|&a| self.agents[a as usize].presence() == Presence::Absent)
                .take((desired - current) as usize)
                .collect();
            for a in absent {
                self.start_agent(now, a as usize, cfg.startup);
            }
        } else if desired < current {
            let mut shed = (current - desired) as usize;
            for want in [Presence::Starting, Presence::Joining, Presence::Serving] {
                let victims: Vec<u32> = ids
                    .iter()
                    .rev()
                    .copied()
                    .filter(|&a| self.agents[a as usize].presence() == want)
                    .take(shed)
                    .collect();
                shed -= victims.len();
                for a in victims {
                    self.drain_agent(now, a as usize);
                }
            }
        }
    }
}
