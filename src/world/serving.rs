//! A request's life on the agent's side: it arrives over the bus, waits in
//! the agent's FIFO for a free slot, is served in its tier's service time
//! (times any slowdown), and its answer (or a refusal from a down agent)
//! travels back.

use super::{Event, Phase, World};
use crate::bus::{self, Endpoint, Fate};
use crate::metrics::Cause;
use crate::time::{Duration, Instant};

impl World<'_> {
    pub(super) fn on_deliver(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        let a = req.agent as usize;
        req.received = now;
        let sent = req.dispatched;
        if !self.bus.arrive(
            now,
            bus::Kind::Request,
            Endpoint::CONTROL,
            Endpoint(a as u32),
            sent,
        ) {
            self.lose(r);
        } else if self.agents[a].is_down() {
            self.reqs[r as usize].cause = Some(Cause::Refused);
            self.send_back(now, r);
        } else if self.agents[a].has_free_slot() {
            self.start(now, r);
        } else {
            self.reqs[r as usize].phase = Phase::Queued;
            self.agents[a].queue.push_back(r);
        }
    }

    pub(super) fn start(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::Serving;
        req.service_start = now;
        let req = *req;
        if !req.answered {
            let task = &mut self.tasks[req.task as usize];
            if !task.started {
                task.started = true;
                self.metrics
                    .on_first_start(now, task.arrival, task.priority);
            }
        }
        let agent = &mut self.agents[req.agent as usize];
        agent.busy += 1;
        agent.in_service.push(r);
        let mut service = self.sc.tiers[agent.tier as usize]
            .service_time
            .of(req.work_q, req.work);
        if !agent.faults.is_empty() {
            let f = agent.slowdown();
            service = Duration::from_secs_f64(service.as_secs_f64() * f);
        }
        self.engine.schedule_after(
            service,
            Event::Done {
                req: r,
                epoch: req.epoch,
            },
        );
    }

    pub(super) fn on_done(&mut self, now: Instant, r: u32) {
        let req = self.reqs[r as usize];
        let a = req.agent as usize;
        let agent = &mut self.agents[a];
        agent.busy -= 1;
        if let Some(i) = agent.in_service.iter().position(|&x| x == r) {
            agent.in_service.swap_remove(i);
        }
        agent.served += 1;
        agent.busy_time = agent.busy_time + (now - req.service_start);
        let failed = req.fail_u < self.sc.tiers[agent.tier as usize].error_rate;
        if failed {
            agent.failures += 1;
            self.reqs[r as usize].cause = Some(Cause::Error);
        }
        self.metrics.on_served(now, a, req.received);
        if let Some(next) = self.agents[a].queue.pop_front() {
            self.start(now, next);
        }
        self.send_back(now, r);
    }

    /// The agent side is over and the answer (or refusal) travels back.
    pub(super) fn send_back(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::ToDispatcher;
        req.replied = now;
        let from = Endpoint(req.agent);
        match self.bus.send(
            now,
            bus::Kind::Reply,
            from,
            Endpoint::CONTROL,
            &mut self.rng.network,
        ) {
            Fate::Lost(_) => self.lose(r),
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
