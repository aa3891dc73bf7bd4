//! A request's life on the agent's side: it arrives over the bus, waits in
//! the agent's FIFO for a free slot, is served in its tier's service time
//! (times any slowdown), and its answer (or a refusal from a down agent)
//! travels back to its caller (the dispatcher, or the agent that called).
//! A tier with calls runs them when its own service ends (`world/calls.rs`).
//! Health probes share the FIFO and the slots (`world/discovery.rs`): the
//! queue and the slots hold request indices and probes marked [`PROBE`].
//!
//! When a slot is held: from the start of the own service until the
//! answer leaves (a blocking tier, calls included), or during the own
//! service and during `finish_time` only (an async tier). With a carried
//! deadline (`propagate_deadline`), a request that arrives, or reaches the
//! head of the queue, past it is dropped unserved and answered `deadline`.

use super::{Event, NO_CALL, PROBE, Phase, World};
use crate::bus::{self, Endpoint, Fate};
use crate::fleet::calls::{Mode, draw, path};
use crate::metrics::Cause;
use crate::rng::unit_at;
use crate::time::{Duration, Instant};

impl World<'_> {
    #[inline]
    pub(super) fn on_deliver(&mut self, now: Instant, r: u32) {
        self.deliver(now, r, false);
    }

    /// Request `r` reaches its agent; `crossed`: the bus has counted its
    /// arrival already ([`crate::bus::Bus::cross_at_once`]).
    #[inline(always)]
    pub(super) fn deliver(&mut self, now: Instant, r: u32, crossed: bool) {
        let req = &mut self.reqs[r as usize];
        let a = req.agent as usize;
        req.received = now;
        let (sent, caller) = (req.dispatched, req.caller);
        self.settle_probe_for_request(now, a);
        if !crossed
            && !self
                .bus
                .arrive(now, bus::Kind::Request, caller, Endpoint(a as u32), sent)
        {
            self.lose(now, r);
        } else if self.agents[a].is_down() || !self.agents[a].presence().present() {
            self.reqs[r as usize].cause = Some(Cause::Refused);
            self.send_back(now, r);
        } else if now >= self.reqs[r as usize].deadline {
            // Already past the deadline it carries: dropped unserved.
            self.reqs[r as usize].cause = Some(Cause::Deadline);
            self.send_back(now, r);
        } else if self.agents[a].has_free_slot() {
            self.start(now, r);
        } else {
            self.reqs[r as usize].phase = Phase::Queued;
            self.agents[a].queue.push_back(r);
        }
        if self.is_deferred(a) {
            self.after_delivery(now, a, r);
        }
    }

    /// Request `r` takes a slot: its own service, or (`QueuedToFinish`)
    /// an async tier's `finish_time`.
    #[inline(always)]
    pub(super) fn start(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        let finishing = req.phase == Phase::QueuedToFinish;
        req.phase = if finishing {
            Phase::Finishing
        } else {
            Phase::Serving
        };
        req.service_start = now;
        // The fields needed, not a copy of the whole request.
        let (answered, call, task, agent, path_seed, work_q, work, epoch) = (
            req.answered,
            req.call,
            req.task,
            req.agent,
            req.path,
            req.work_q,
            req.work,
            req.epoch,
        );
        if !answered && call == NO_CALL && !finishing {
            let task = &mut self.tasks[task as usize];
            if !task.started {
                task.started = true;
                self.metrics
                    .on_first_start(now, task.arrival, task.priority);
            }
        }
        let agent = &mut self.agents[agent as usize];
        agent.busy += 1;
        agent.in_service.push(r);
        let tier = &self.sc.tiers[agent.tier as usize];
        let mut service = match (&tier.calls.mode, finishing) {
            (Mode::Async { finish: Some(d) }, true) => {
                d.quantile(unit_at(path(path_seed, draw::FINISH, 0), 0))
            }
            _ => tier.service_time.of(work_q, work),
        };
        if agent.faulted() {
            let f = agent.slowdown();
            service = Duration::from_secs_f64(service.as_secs_f64() * f);
        }
        #[cfg(test)]
        if let Some(n) = self.perturb_service.as_mut() {
            // The fingerprint's test: one service time 1 ns longer.
            if *n == 0 {
                service = Duration(service.0 + 1);
                self.perturb_service = None;
            } else {
                *n -= 1;
            }
        }
        self.started_until = now + service;
        self.engine
            .schedule_after(service, Event::Done { req: r, epoch });
    }

    /// Start the next request (or health probe) waiting for one of agent
    /// `a`'s slots, if any; a request past the deadline it carries is
    /// dropped unserved.
    #[inline]
    pub(super) fn start_next(&mut self, now: Instant, a: usize) {
        while let Some(next) = self.agents[a].queue.pop_front() {
            if next & PROBE != 0 {
                self.start_probe(now, next & !PROBE);
                return;
            }
            let req = &self.reqs[next as usize];
            if req.phase == Phase::Queued && now >= req.deadline {
                self.reqs[next as usize].cause = Some(Cause::Deadline);
                self.send_back(now, next);
                continue;
            }
            self.start(now, next);
            return;
        }
    }

    /// Request `r` gives its slot back.
    #[inline]
    pub(super) fn free_slot(&mut self, now: Instant, r: u32) {
        let req = &self.reqs[r as usize];
        let agent = &mut self.agents[req.agent as usize];
        agent.busy -= 1;
        agent.in_service.remove(r);
        agent.busy_time = agent.busy_time + (now - req.service_start);
    }

    pub(super) fn on_done(&mut self, now: Instant, r: u32) {
        let req = &self.reqs[r as usize];
        let (a, phase, fail_u) = (req.agent as usize, req.phase, req.fail_u);
        if phase == Phase::Finishing {
            self.finish(now, r);
            return;
        }
        let agent = &mut self.agents[a];
        agent.served += 1;
        let tier = &self.sc.tiers[agent.tier as usize];
        let failed = fail_u < tier.error_rate;
        if failed {
            agent.failures += 1;
            self.reqs[r as usize].cause = Some(Cause::Error);
        } else if !tier.calls.is_empty() {
            self.begin_calls(now, r);
            return;
        }
        self.finish(now, r);
    }

    /// Request `r` is done at its agent: the slot it holds (if any) goes to
    /// the next request, and its answer leaves.
    #[inline(always)]
    pub(super) fn finish(&mut self, now: Instant, r: u32) {
        let a = self.reqs[r as usize].agent as usize;
        self.free_slot(now, r);
        self.metrics
            .on_served(now, a, self.reqs[r as usize].received);
        self.start_next(now, a);
        self.send_back(now, r);
        if self.is_deferred(a) {
            self.deferred_done(a);
        }
    }

    /// The agent side is over and the answer (or refusal) travels back.
    #[inline(always)]
    pub(super) fn send_back(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::ToCaller;
        req.replied = now;
        let (from, to) = (Endpoint(req.agent), req.caller);
        self.let_go(now, from.0 as usize);
        if self.zero_latency && self.bus.cross_at_once(bus::Kind::Reply) {
            self.reply_arrived(now, r);
            return;
        }
        match self.bus.send_via(
            now,
            bus::Kind::Reply,
            from,
            to,
            &mut self.rng.network,
            Some(&mut self.rng.broker),
        ) {
            Fate::Lost(_) => self.lose(now, r),
            Fate::Arrives(_) if self.zero_latency => self.on_reply(now, r),
            Fate::Arrives(t) => {
                let epoch = self.reqs[r as usize].epoch;
                self.engine
                    .schedule(t, Event::Reply { req: r, epoch })
                    .expect("messages arrive after they leave");
            }
        }
    }
}
