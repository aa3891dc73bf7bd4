//! Control-plane publish/subscribe (`[bus]`): topics the control plane
//! publishes on every `every`, to their subscribers, to every agent
//! (broadcast) or to one agent (direct), over the same bus as the requests.
//!
//! An agent that goes silent (down or cut off) loses its subscriptions, as
//! a client loses them with its connection; when it is back it subscribes
//! again and the bus replays the retained messages of its topics, oldest
//! first, so an agent back from a crash sees the configuration it missed.
//! Every copy, replayed or not, crosses the network (latency, loss,
//! partitions) and is counted as a `publish` message.
//!
//! With a broker outage (`broker_down`): every connection breaks, so every
//! agent loses its subscriptions; a publication made while the broker is
//! down is refused (one `publish` message counted `lost_broker`, no copies,
//! nothing retained). When the broker is back, every agent that is not
//! silent subscribes again and gets the retained messages replayed, but a
//! broker without `persistence` has forgotten them: only a persistent one
//! replays what was retained before the outage. An agent that comes back
//! from its own failure while the broker is down subscribes when the
//! broker is back.

use super::{Event, World};
use crate::bus::{self, Endpoint, Fate};
use crate::faults::Target;
use crate::rng::Seed;
use crate::scenario::Audience;
use crate::time::Instant;

impl World<'_> {
    pub(super) fn start_pubsub(&mut self, seed: Seed) {
        let cfg = &self.sc.bus;
        if cfg.topics.is_empty() && cfg.subscriptions.is_empty() {
            return;
        }
        let n = self.agents.len();
        for a in 0..n {
            self.bus.register(Endpoint(a as u32));
        }
        for t in &cfg.topics {
            if t.retain > 0 {
                self.bus
                    .retain(&t.name, t.retain)
                    .expect("topic names are validated");
            }
        }
        self.agent_subs = vec![Vec::new(); n];
        let members = self.tier_members();
        let everyone: Vec<u32> = (0..n as u32).collect();
        for (i, s) in cfg.subscriptions.iter().enumerate() {
            let agents = match &s.agents {
                None => everyone.clone(),
                Some(target) => {
                    let population = match target {
                        Target::Fraction { tier: Some(t), .. } => &members[*t as usize],
                        _ => &everyone,
                    };
                    let mut rng = seed.stream(&format!("bus/subscriptions/{i}"));
                    target.resolve(population, &mut rng)
                }
            };
            for a in agents {
                self.agent_subs[a as usize].push(i as u32);
            }
        }
        for a in 0..n {
            if !self.agents[a].is_silent() {
                self.subscribe_agent(Instant::ZERO, a, false);
            }
        }
        for (k, t) in cfg.topics.iter().enumerate() {
            self.engine
                .schedule(
                    Instant(t.start.as_nanos()),
                    Event::Publish { topic: k as u32 },
                )
                .expect("the run has not started");
        }
    }

    /// Agent `a` subscribes to its patterns; with `replay`, the retained
    /// messages of its topics are sent to it.
    fn subscribe_agent(&mut self, now: Instant, a: usize, replay: bool) {
        for j in 0..self.agent_subs[a].len() {
            let s = &self.sc.bus.subscriptions[self.agent_subs[a][j] as usize];
            let (_, retained) = self
                .bus
                .subscribe(Endpoint(a as u32), &s.pattern, s.filter.clone(), replay)
                .expect("patterns are validated");
            self.bus.replayed(retained.len());
            for _ in &retained {
                self.send_copy(now, a as u32);
            }
        }
    }

    /// Agent `a` went silent: its subscriptions go with its connection.
    pub(super) fn pubsub_leave(&mut self, a: usize) {
        if self.agent_subs.get(a).is_some_and(|s| !s.is_empty()) {
            self.bus.unsubscribe_all(Endpoint(a as u32));
        }
    }

    /// Agent `a` is back: it subscribes again and catches up (once the
    /// broker is up).
    pub(super) fn pubsub_rejoin(&mut self, now: Instant, a: usize) {
        if !self.bus.is_broker_down() && self.agent_subs.get(a).is_some_and(|s| !s.is_empty()) {
            self.subscribe_agent(now, a, true);
        }
    }

    /// The broker is back: every agent that is not silent reconnects,
    /// subscribes again and catches up on what the broker retained.
    pub(super) fn pubsub_broker_back(&mut self, now: Instant) {
        for a in 0..self.agent_subs.len() {
            if !self.agents[a].is_silent() {
                self.pubsub_rejoin(now, a);
            }
        }
    }

    pub(super) fn on_publish(&mut self, now: Instant, k: u32) {
        let topic = &self.sc.bus.topics[k as usize];
        self.engine
            .schedule_after(topic.every, Event::Publish { topic: k });
        if self.bus.is_broker_down() {
            self.bus.refused(bus::Kind::Publish);
            return;
        }
        let mut targets = std::mem::take(&mut self.publish_targets);
        targets.clear();
        match topic.to {
            Audience::Subscribers => {
                let mut out = std::mem::take(&mut self.publish_out);
                self.bus
                    .publish(
                        now,
                        Endpoint::CONTROL,
                        &topic.name,
                        topic.headers.clone(),
                        &mut out,
                    )
                    .expect("topic names are validated");
                targets.extend(out.iter().map(|&(e, _)| e));
                self.publish_out = out;
            }
            Audience::All => self.bus.broadcast_targets(Endpoint::CONTROL, &mut targets),
            Audience::Agent(a) => targets.push(Endpoint(a)),
        }
        for &Endpoint(a) in &targets {
            // A crashed agent has no connection to send to (a cut-off one
            // does, and the bus loses the copy).
            if !self.agents[a as usize].is_down() {
                self.send_copy(now, a);
            }
        }
        self.publish_targets = targets;
    }

    /// One copy of a published message to agent `a`.
    fn send_copy(&mut self, now: Instant, a: u32) {
        let fate = self.bus.send_via(
            now,
            bus::Kind::Publish,
            Endpoint::CONTROL,
            Endpoint(a),
            &mut self.rng.bus,
            Some(&mut self.rng.broker),
        );
        if let Fate::Arrives(t) = fate {
            let copy = match self.free_copies.pop() {
                Some(c) => {
                    self.copies[c as usize] = now;
                    c
                }
                None => {
                    self.copies.push(now);
                    (self.copies.len() - 1) as u32
                }
            };
            self.engine
                .schedule(t, Event::PublishArrives { agent: a, copy })
                .expect("messages arrive after they leave");
        }
    }

    pub(super) fn on_publish_arrives(&mut self, now: Instant, a: u32, copy: u32) {
        let sent = self.copies[copy as usize];
        self.free_copies.push(copy);
        self.bus.arrive(
            now,
            bus::Kind::Publish,
            Endpoint::CONTROL,
            Endpoint(a),
            sent,
        );
    }
}
