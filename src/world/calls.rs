//! Agents that call agents: a tier's steps of calls, run after its own
//! service, each call a request over the bus with the caller's own
//! balancer, breakers, timeout, retries and budget for that capability.
//!
//! A request whose tier has calls enters `Calling` when its own service
//! ends (a blocking agent keeps its slot, an async one frees it). Each step
//! draws its condition from the request's path, sends its calls in
//! parallel and waits until its tally decides; a failed step that is not
//! optional fails the request with cause `dependency`. When the last step
//! is over the reply goes out, after `finish_time` in a slot taken again for
//! an async tier that has one.
//!
//! A call ([`Call`]) is the logical call; its attempts are ordinary
//! requests (`Request::call` names it) that cross the bus from the caller
//! and are served like any other. Its outcome is told to its parent only if
//! the parent still waits for that step: a parent that was reset, or whose
//! `any` step was already decided, ignores it. Calls keep going after
//! their parent ends, as a client library's do.
//!
//! Clients (one per caller agent and capability, made on the first call)
//! hold the caller's view: a balancer over the capability's agents whose
//! eligibility is the shared registry and health view *and* the caller's
//! own breaker for that agent.

use super::{Call, Client, Event, NO_CALL, Phase, Request, World};
use crate::bus::Endpoint;
use crate::discovery::balancer::{Balancer, DegradedRouting};
use crate::discovery::breaker::{Breaker, Kind};
use crate::fleet::calls::{Mode, Tally, Verdict, draw, path};
use crate::metrics::Cause;
use crate::orchestration::retry::RetryBudget;
use crate::rng::{Quantile, unit_at};
use crate::scenario::Scenario;
use crate::time::Instant;

/// No client yet for this (agent, route).
const NO_CLIENT: u32 = u32::MAX;

impl World<'_> {
    pub(super) fn start_calls(&mut self) {
        let caps = &self.route_caps;
        self.policies = caps.iter().map(|k| self.sc.policy(&k.capability)).collect();
        self.timeouts = vec![Default::default(); self.policies.len()];
        self.tier_routes = self
            .sc
            .tiers
            .iter()
            .map(|t| {
                t.calls
                    .steps
                    .iter()
                    .map(|st| {
                        st.targets
                            .iter()
                            .map(|c| Scenario::route_of(caps, Some(c), &st.tags))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let routes = self.routes.len();
        if self.tier_routes.iter().any(|t| !t.is_empty()) {
            self.client_of = vec![vec![NO_CLIENT; routes]; self.agents.len()];
        }
        self.route_clients = vec![Vec::new(); routes];
        self.route_budgets =
            self.policies
                .iter()
                .map(|p| {
                    p.own_retry.then_some(p.retry).flatten().map(|r| {
                        RetryBudget::new(r.budget.window, r.budget.min_per_s, r.budget.ratio)
                    })
                })
                .collect();
        self.route_breakers = self
            .policies
            .iter()
            .zip(&self.routes)
            .map(|(p, r)| match p.breaker {
                Some(cfg) if p.own_breaker => vec![Breaker::new(cfg); r.pool.len()],
                _ => Vec::new(),
            })
            .collect();
        self.metrics.track_routes(routes);
    }

    pub(super) fn on_set_strategy(&mut self, now: Instant, change: u32) {
        let s = self.sc.balancer.changes[change as usize].strategy;
        for (r, route) in self.routes.iter_mut().enumerate() {
            if self.policies[r].strategy.is_none() {
                route.balancer.set_strategy(now, s);
            }
        }
        for c in &mut self.clients {
            if self.policies[c.route as usize].strategy.is_none() {
                c.balancer.set_strategy(now, s);
            }
        }
    }

    /// The path of a dispatcher's attempt `attempt` of a task whose
    /// failure seed is `seed`.
    pub(super) fn task_path(seed: u64, attempt: u32) -> u64 {
        path(seed, draw::ATTEMPT, attempt)
    }

    /// Agent `a` as the registry and the health monitor see it, for every
    /// caller (breakers aside).
    pub(super) fn shared_eligible(&self, a: usize) -> bool {
        let v = self.views[a];
        v.live && v.serving && (v.healthy || !self.sc.balancer.healthy_only)
    }

    /// Agent `a` is a fallback for every caller: held DEGRADED, with
    /// `[balancer] degraded = "fallback"`.
    pub(super) fn shared_degraded(&self, a: usize) -> bool {
        self.views[a].degraded && self.sc.balancer.degraded == DegradedRouting::Fallback
    }

    /// Tell every client of agent `a`'s routes whether it may pick it.
    pub(super) fn refresh_clients(&mut self, a: usize) {
        if self.clients.is_empty() {
            return;
        }
        let shared = self.shared_eligible(a);
        let degraded = self.shared_degraded(a);
        for &(route, slot) in &self.memberships[a] {
            for &c in &self.route_clients[route as usize] {
                let client = &mut self.clients[c as usize];
                let admits = client
                    .breakers
                    .get(slot as usize)
                    .is_none_or(Breaker::admits);
                client.balancer.set_degraded(slot as usize, degraded);
                client
                    .balancer
                    .set_eligible(slot as usize, shared && admits);
            }
        }
    }

    /// The client of `caller` for `route`, made on first use.
    fn client(&mut self, caller: u32, route: u32) -> u32 {
        let id = self.client_of[caller as usize][route as usize];
        if id != NO_CLIENT {
            return id;
        }
        let policy = self.policies[route as usize];
        let r = &self.routes[route as usize];
        let weights: Vec<f64> = r
            .pool
            .iter()
            .map(|&i| self.sc.tiers[self.agents[i as usize].tier as usize].weight)
            .collect();
        let strategy = policy.strategy.unwrap_or(r.balancer.strategy());
        let mut balancer = Balancer::new(strategy, &weights);
        balancer.set_panic_threshold(self.sc.balancer.panic_threshold);
        for (slot, &a) in r.pool.iter().enumerate() {
            balancer.set_degraded(slot, self.shared_degraded(a as usize));
            balancer.set_eligible(slot, self.shared_eligible(a as usize));
        }
        let breakers = policy
            .breaker
            .map(|cfg| vec![Breaker::new(cfg); r.pool.len()])
            .unwrap_or_default();
        let budget = policy
            .retry
            .map(|r| RetryBudget::new(r.budget.window, r.budget.min_per_s, r.budget.ratio));
        let id = self.clients.len() as u32;
        self.clients.push(Client {
            route,
            balancer,
            breakers,
            budget,
        });
        self.client_of[caller as usize][route as usize] = id;
        self.route_clients[route as usize].push(id);
        id
    }

    /// Request `r`'s own service is over and its tier makes calls: run its
    /// steps from the first.
    pub(super) fn begin_calls(&mut self, now: Instant, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::Calling;
        req.step = 0;
        let a = req.agent as usize;
        if self.sc.tiers[self.agents[a].tier as usize].calls.is_async() {
            self.free_slot(now, r);
            self.agents[a].start_calling(r);
            self.start_next(now, a);
        }
        self.run_steps(now, r);
    }

    /// Start request `r`'s current step (skipping those whose condition
    /// fails), or end its calls after the last.
    fn run_steps(&mut self, now: Instant, r: u32) {
        loop {
            let req = self.reqs[r as usize];
            let tier = self.agents[req.agent as usize].tier as usize;
            let steps = &self.sc.tiers[tier].calls.steps;
            let s = req.step;
            let Some(step) = steps.get(s as usize) else {
                self.calls_done(now, r);
                return;
            };
            if step.probability < 1.0
                && unit_at(path(req.path, draw::CONDITION, u32::from(s)), 0) >= step.probability
            {
                self.reqs[r as usize].step += 1;
                continue;
            }
            let n = step.targets.len();
            self.reqs[r as usize].tally = Tally::new(n as u32, step.need);
            for i in 0..n {
                // A call settled inline (no agent, past the deadline) may
                // have decided the step already.
                let now_req = &self.reqs[r as usize];
                if now_req.epoch != req.epoch
                    || now_req.phase != Phase::Calling
                    || now_req.step != s
                    || now_req.tally.is_decided()
                {
                    return;
                }
                self.start_call(now, r, s, i as u32);
            }
            return;
        }
    }

    fn start_call(&mut self, now: Instant, parent: u32, step: u16, i: u32) {
        let req = self.reqs[parent as usize];
        let tier = self.agents[req.agent as usize].tier as usize;
        let route = self.tier_routes[tier][step as usize][i as usize];
        let client = self.client(req.agent, route);
        let c = self.alloc_call(Call {
            epoch: 0,
            parent,
            parent_epoch: req.epoch,
            step,
            caller: req.agent,
            route,
            client,
            path: path(req.path, u32::from(step), i),
            deadline: req.deadline,
            attempts: 0,
            last_delay: None,
            last_cause: Cause::Error,
            started: now,
            req: NO_CALL,
        });
        self.trace_call_start(c, parent);
        self.metrics.on_call(route as usize);
        self.attempt_call(now, c);
    }

    /// Send call `c`'s next attempt.
    pub(super) fn attempt_call(&mut self, now: Instant, c: u32) {
        let call = &mut self.calls[c as usize];
        call.attempts += 1;
        let call = *call;
        self.metrics.on_attempt(call.route as usize);
        let client = call.client as usize;
        if call.attempts == 1
            && let Some(b) = &mut self.clients[client].budget
        {
            b.deposit(now);
        }
        // A caller does not start a call it cannot finish in time, nor
        // does a process that is gone.
        if now >= call.deadline {
            self.end_call(now, c, Some(Cause::Deadline));
            return;
        }
        if self.agents[call.caller as usize].is_down() {
            self.end_call(now, c, Some(Cause::Refused));
            return;
        }
        let cl = &mut self.clients[client];
        let Some(slot) = cl.balancer.pick(now, &mut self.rng.lb) else {
            self.fail_or_retry_call(now, c, Cause::NoAgent);
            return;
        };
        cl.balancer.on_dispatch(now, slot);
        let in_panic = cl.balancer.in_panic();
        let admitted = self.client_admit(now, call.client, slot as u32, in_panic);
        let agent = self.routes[call.route as usize].pool[slot];
        let r = self.alloc_req(Request {
            task: u32::MAX,
            call: c,
            caller: Endpoint(call.caller),
            path: path(call.path, draw::ATTEMPT, call.attempts),
            deadline: call.deadline,
            step: 0,
            tally: Tally::default(),
            work_q: Quantile::new(unit_at(call.path, 0)),
            work: None,
            fail_u: unit_at(call.path, call.attempts),
            agent,
            route: call.route,
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
        self.calls[c as usize].req = r;
        self.trace_call_attempt(c, call.attempts, r);
        let timeout = self.policies[call.route as usize].timeout;
        let left = (call.deadline != Instant::MAX).then(|| call.deadline - now);
        match (timeout, left) {
            // The route's own timeout: in order with its other requests'.
            (Some(t), None) => self.start_timeout(call.route, r, t),
            (Some(t), Some(l)) if t <= l => self.start_timeout(call.route, r, t),
            // Cut short by the call's deadline: out of order, an event of
            // its own.
            (_, Some(l)) => self.own_timeout(r, l),
            (None, None) => {}
        }
        self.send_request(now, r);
    }

    /// The caller learns the outcome of call attempt `r` (once).
    pub(super) fn settle_call(&mut self, now: Instant, r: u32, cause: Option<Cause>) {
        self.trace_attempt(now, r, cause.map(super::trace::AttemptEnd::Failed));
        let req = &mut self.reqs[r as usize];
        req.answered = true;
        let req = *req;
        let c = req.call;
        let client = self.calls[c as usize].client;
        self.clients[client as usize].balancer.on_complete(
            now,
            req.slot as usize,
            now - req.dispatched,
        );
        self.client_outcome(now, client, req.slot, req.admitted, cause.is_none());
        self.calls[c as usize].req = NO_CALL;
        match cause {
            None => self.end_call(now, c, None),
            Some(cause) => self.fail_or_retry_call(now, c, cause),
        }
    }

    /// Retry call `c` after a backoff if its capability's policy, its
    /// client's budget and its deadline allow; otherwise it fails.
    fn fail_or_retry_call(&mut self, now: Instant, c: u32, cause: Cause) {
        let call = &mut self.calls[c as usize];
        call.last_cause = cause;
        let call = *call;
        if let Some(rc) = &self.policies[call.route as usize].retry
            && let Some(delay) =
                rc.policy
                    .next_delay(call.attempts, call.last_delay, &mut self.rng.retry)
            && now + delay < call.deadline
        {
            let client = &mut self.clients[call.client as usize];
            if client.budget.as_mut().is_none_or(|b| b.withdraw(now)) {
                let call = &mut self.calls[c as usize];
                call.last_delay = Some(delay);
                let epoch = call.epoch;
                self.metrics.retries += 1;
                self.engine
                    .schedule_after(delay, Event::CallRetry { call: c, epoch });
                return;
            }
        }
        self.end_call(now, c, Some(cause));
    }

    /// Call `c` ends (`None`: it succeeded); its parent hears of it if it
    /// still waits for that step.
    fn end_call(&mut self, now: Instant, c: u32, cause: Option<Cause>) {
        let call = self.calls[c as usize];
        self.metrics
            .on_call_end(now, call.route as usize, call.started, cause);
        self.release_call(c);
        let p = &mut self.reqs[call.parent as usize];
        if p.epoch != call.parent_epoch || p.phase != Phase::Calling || p.step != call.step {
            return;
        }
        match p.tally.on_outcome(cause.is_none()) {
            None => {}
            Some(Verdict::Succeeded) => {
                p.step += 1;
                self.run_steps(now, call.parent);
            }
            Some(Verdict::Failed) => {
                let tier = self.agents[p.agent as usize].tier as usize;
                if self.sc.tiers[tier].calls.steps[call.step as usize].optional {
                    p.step += 1;
                    self.run_steps(now, call.parent);
                } else {
                    p.cause = Some(Cause::Dependency);
                    self.calls_done(now, call.parent);
                }
            }
        }
    }

    /// Request `r`'s steps are over (or one failed): answer now, or after
    /// `finish_time` in a slot taken again (async tiers that have one).
    fn calls_done(&mut self, now: Instant, r: u32) {
        let req = self.reqs[r as usize];
        let a = req.agent as usize;
        let calls = &self.sc.tiers[self.agents[a].tier as usize].calls;
        match &calls.mode {
            Mode::Blocking => self.finish(now, r),
            Mode::Async { finish } => {
                self.agents[a].stop_calling(r);
                if finish.is_some() && req.cause.is_none() {
                    self.reqs[r as usize].phase = Phase::QueuedToFinish;
                    if self.agents[a].has_free_slot() {
                        self.start(now, r);
                    } else {
                        self.agents[a].queue.push_back(r);
                    }
                } else {
                    self.metrics.on_served(now, a, req.received);
                    self.send_back(now, r);
                }
            }
        }
    }

    /// Ask `client`'s breaker for pool slot `slot` to admit a call.
    fn client_admit(
        &mut self,
        now: Instant,
        client: u32,
        slot: u32,
        in_panic: bool,
    ) -> Option<u64> {
        let cl = &mut self.clients[client as usize];
        if cl.breakers.is_empty() || in_panic {
            return None;
        }
        let admitted = cl.breakers[slot as usize].admit(now);
        self.after_client_breaker(now, client, slot);
        admitted
    }

    fn client_outcome(
        &mut self,
        now: Instant,
        client: u32,
        slot: u32,
        admitted: Option<u64>,
        ok: bool,
    ) {
        let Some(token) = admitted else { return };
        let b = &mut self.clients[client as usize].breakers[slot as usize];
        if b.on_result(now, token, ok) {
            self.after_client_breaker(now, client, slot);
        }
    }

    fn after_client_breaker(&mut self, now: Instant, client: u32, slot: u32) {
        let cl = &mut self.clients[client as usize];
        let b = &mut cl.breakers[slot as usize];
        while let Some(t) = b.poll_transition() {
            if t.to == Kind::Open
                && let Some(at) = b.poll_timeout()
            {
                self.engine
                    .schedule(at.max(now), Event::ClientBreakerTimer { client, slot })
                    .expect("not in the past");
            }
        }
        let admits = b.admits();
        let a = self.routes[cl.route as usize].pool[slot as usize] as usize;
        let eligible = admits && self.shared_eligible(a);
        self.clients[client as usize]
            .balancer
            .set_eligible(slot as usize, eligible);
    }

    pub(super) fn on_client_breaker_timer(&mut self, now: Instant, client: u32, slot: u32) {
        self.clients[client as usize].breakers[slot as usize].handle_timeout(now);
        self.after_client_breaker(now, client, slot);
    }

    /// Breaker trips of every caller's breakers (the dispatcher's own for
    /// a capability included), by route.
    pub(super) fn client_trips(&self) -> Vec<u64> {
        let mut trips: Vec<u64> = self
            .route_breakers
            .iter()
            .map(|bs| bs.iter().map(Breaker::trips).sum())
            .collect();
        for c in &self.clients {
            trips[c.route as usize] += c.breakers.iter().map(Breaker::trips).sum::<u64>();
        }
        trips
    }

    fn alloc_call(&mut self, mut call: Call) -> u32 {
        match self.free_calls.pop() {
            Some(i) => {
                call.epoch = self.calls[i as usize].epoch;
                self.calls[i as usize] = call;
                i
            }
            None => {
                self.calls.push(call);
                (self.calls.len() - 1) as u32
            }
        }
    }

    fn release_call(&mut self, c: u32) {
        let call = &mut self.calls[c as usize];
        call.epoch = call.epoch.wrapping_add(1);
        self.free_calls.push(c);
    }

    /// Which call slots hold a call still going (by slot).
    pub(super) fn live_calls(&self) -> Vec<bool> {
        let mut live = vec![true; self.calls.len()];
        for &f in &self.free_calls {
            live[f as usize] = false;
        }
        live
    }

    /// The routes of the calls still going at the end of the run (they end
    /// cancelled).
    pub(super) fn calls_left(&self) -> Vec<u32> {
        let live = self.live_calls();
        (0..self.calls.len() as u32)
            .filter(|&c| live[c as usize])
            .map(|c| self.calls[c as usize].route)
            .collect()
    }
}
