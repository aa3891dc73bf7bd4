//! A request's life on the dispatcher's side: one per attempt. The balancer
//! picks an agent, the breaker admits the call, the request crosses the bus;
//! the dispatcher settles it once, on the reply or at its timeout, and a
//! late reply is dropped.
//!
//! Requests live in their own slab: a timed-out request may still be at its
//! agent when its task has already ended. Events name a request by slot and
//! epoch, so an event for a recycled slot is recognised and ignored.

use super::{Event, NO_CALL, Phase, Place, Request, World};
use crate::bus::{self, Endpoint, Fate};
use crate::fleet::calls::Tally;
use crate::metrics::{Cause, Outcome};
use crate::orchestration::retry::RetryBudget;
use crate::rng::unit_at;
use crate::time::Instant;

impl World<'_> {
    /// Ask the balancer for an agent and send the request; with no eligible
    /// agent the task fails at once.
    pub(super) fn route(&mut self, now: Instant, t: u32) {
        let task = &mut self.tasks[t as usize];
        task.attempts += 1;
        let route = task.route;
        self.metrics.on_attempt(route as usize);
        if task.attempts == 1
            && let Some(b) = self.budget_of(route)
        {
            b.deposit(now);
        }
        let r = &mut self.routes[route as usize];
        let Some(slot) = r.balancer.pick(now, &mut self.rng.lb) else {
            self.trace_pick(t, None, None);
            self.fail_or_retry(now, t, Cause::NoAgent);
            return;
        };
        r.balancer.on_dispatch(now, slot);
        let agent = r.pool[slot];
        let in_panic = r.balancer.in_panic();
        let admitted = self.admit_on(now, route, slot as u32, in_panic);
        self.outstanding += 1;
        let task = &self.tasks[t as usize];
        let (work_q, work) = (task.work_q, task.work);
        // Without failure draws no tier fails a request (1 is above every
        // error rate of 0) and no path is read.
        let (fail_u, path) = if self.failure_draws {
            (
                unit_at(task.fail_seed, task.attempts),
                Self::task_path(task.fail_seed, task.attempts),
            )
        } else {
            (1.0, 0)
        };
        let deadline = match self.sc.workload.deadline {
            Some(d) if self.sc.request.propagate_deadline => task.arrival + d,
            _ => Instant::MAX,
        };
        let r = self.alloc_req(Request {
            task: t,
            call: NO_CALL,
            caller: Endpoint::CONTROL,
            path,
            deadline,
            step: 0,
            tally: Tally::default(),
            work_q,
            work,
            fail_u,
            agent,
            route,
            slot: slot as u32,
            epoch: 0,
            phase: Phase::ToAgent,
            answered: false,
            cause: None,
            admitted,
            dispatched: now,
            received: now,
            service_start: now,
            replied: now,
        });
        self.tasks[t as usize].place = Place::InFlight { req: r };
        self.trace_pick(t, Some(agent), Some(r));
        if let Some(timeout) = self.policies[route as usize].timeout {
            self.start_timeout(route, r, timeout);
        }
        self.send_request(now, r);
    }

    /// The dispatcher's retry budget for `route`: the route's own if its
    /// capability has its own retry policy, else the shared one.
    pub(super) fn budget_of(&mut self, route: u32) -> Option<&mut RetryBudget> {
        match self.route_budgets.get_mut(route as usize) {
            Some(Some(b)) => Some(b),
            _ => self.budget.as_mut(),
        }
    }

    /// Request `r` leaves its caller for its agent.
    #[inline]
    pub(super) fn send_request(&mut self, now: Instant, r: u32) {
        let req = &self.reqs[r as usize];
        let (from, to) = (req.caller, Endpoint(req.agent));
        let agent = &mut self.agents[req.agent as usize];
        agent.held += 1;
        agent.note_sent(now);
        if self.zero_latency && self.bus.cross_at_once(bus::Kind::Request) {
            self.deliver(now, r, true);
            return;
        }
        match self.bus.send_via(
            now,
            bus::Kind::Request,
            from,
            to,
            &mut self.rng.network,
            Some(&mut self.rng.broker),
        ) {
            // The broker is down: the sender sees the error at once, and
            // the agent never holds it.
            Fate::Lost(bus::Lost::BrokerDown) => {
                self.let_go(now, to.0 as usize);
                self.settle_any(now, r, Some(Cause::Broker));
                self.release_req(r);
            }
            Fate::Lost(_) => self.lose(now, r),
            Fate::Arrives(_) if self.zero_latency => self.on_deliver(now, r),
            Fate::Arrives(t) => {
                let epoch = self.reqs[r as usize].epoch;
                self.engine
                    .schedule(t, Event::Deliver { req: r, epoch })
                    .expect("messages arrive after they leave");
            }
        }
    }

    /// Lost to a partition: only the timeout (if any) settles it.
    pub(super) fn lose(&mut self, now: Instant, r: u32) {
        let was = self.reqs[r as usize].phase;
        self.reqs[r as usize].phase = Phase::Lost;
        if !matches!(was, Phase::ToCaller | Phase::Lost) {
            self.let_go(now, self.reqs[r as usize].agent as usize);
        }
        if self.reqs[r as usize].answered {
            self.release_req(r);
        }
    }

    #[inline]
    pub(super) fn on_reply(&mut self, now: Instant, r: u32) {
        let req = &self.reqs[r as usize];
        let (from, to, replied) = (Endpoint(req.agent), req.caller, req.replied);
        if !self.bus.arrive(now, bus::Kind::Reply, from, to, replied) {
            self.lose(now, r);
            return;
        }
        self.reply_arrived(now, r);
    }

    /// Request `r`'s reply is at its caller (the bus has counted it).
    #[inline(always)]
    pub(super) fn reply_arrived(&mut self, now: Instant, r: u32) {
        let req = &self.reqs[r as usize];
        let (answered, cause) = (req.answered, req.cause);
        if !answered {
            self.settle_any(now, r, cause);
        }
        self.release_req(r);
    }

    pub(super) fn on_timeout(&mut self, now: Instant, r: u32) {
        if self.reqs[r as usize].answered {
            return;
        }
        self.bus.timed_out(bus::Kind::Request);
        self.settle_any(now, r, Some(Cause::Timeout));
        if self.reqs[r as usize].phase == Phase::Lost {
            self.release_req(r);
        }
    }

    /// The caller learns a request's outcome (once per request).
    fn settle_any(&mut self, now: Instant, r: u32, cause: Option<Cause>) {
        if self.reqs[r as usize].call == NO_CALL {
            self.settle(now, r, cause);
        } else {
            self.settle_call(now, r, cause);
        }
    }

    /// The dispatcher stops waiting for request `r`: it no longer counts
    /// as in flight, and its reply (if any) will be ignored.
    #[inline]
    pub(super) fn abandon(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.answered = true;
        let (route, slot, rtt) = (req.route, req.slot, now - req.dispatched);
        self.routes[route as usize]
            .balancer
            .on_complete(now, slot as usize, rtt);
        self.outstanding -= 1;
    }

    /// The dispatcher learns a request's outcome (once per request).
    #[inline(always)]
    pub(super) fn settle(&mut self, now: Instant, r: u32, cause: Option<Cause>) {
        self.trace_attempt(now, r, cause.map(super::trace::AttemptEnd::Failed));
        self.abandon(now, r);
        let req = &self.reqs[r as usize];
        let (route, slot, admitted, task) = (req.route, req.slot, req.admitted, req.task);
        self.on_route_outcome(now, route, slot, admitted, cause.is_none());
        match cause {
            None => self.end_task(now, task, Outcome::Completed),
            Some(c) => {
                self.fail_or_retry(now, task, c);
            }
        }
        if self.workers > 0 {
            self.pump(now);
        }
    }

    #[inline]
    pub(super) fn alloc_req(&mut self, mut r: Request) -> u32 {
        match self.free_reqs.pop() {
            Some(i) => {
                r.epoch = self.reqs[i as usize].epoch;
                self.reqs[i as usize] = r;
                i
            }
            None => {
                assert!(
                    self.reqs.len() < super::PROBE as usize,
                    "{} requests at once: request indices must stay below the probe mark",
                    self.reqs.len()
                );
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// Free a request slot: pending events for it become stale.
    #[inline]
    pub(super) fn release_req(&mut self, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.epoch = req.epoch.wrapping_add(1);
        self.free_reqs.push(r);
    }
}
