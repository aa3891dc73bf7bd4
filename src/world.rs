//! The world: the closed [`Event`] enum and its handlers, the only place that
//! schedules events. It wires the sans-IO components (task queue, balancer,
//! arrival process, agents) to the engine's virtual clock.
//!
//! A task's life: it arrives (drawing its priority, its size as a quantile
//! and its failure draw from named streams, so every strategy compared on a
//! seed sees the same tasks); with `workers = 0` it is routed at once,
//! otherwise it waits in the central priority queue until fewer than
//! `workers` requests are in flight (a full queue rejects it). The balancer
//! picks an agent of the pool; the request crosses the network, waits in the
//! agent's FIFO for a slot, is served, and the reply crosses back. At
//! `duration` arrivals stop; after `drain` whatever is left is cancelled.
//! Every task ends in exactly one outcome, checked at the end of every run.

use crate::discovery::balancer::Balancer;
use crate::engine::Engine;
use crate::fleet::{self, Agent};
use crate::metrics::{Gauges, Outcome, Recorder, RunResult};
use crate::orchestration::task_queue::TaskQueue;
use crate::rng::{Seed, Stream, Weighted, unit};
use crate::scenario::{Scenario, Workload};
use crate::time::{Duration, Instant};
use crate::workload::ArrivalProcess;

/// Everything that can happen. Payloads are task slots: small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next task of the workload arrives.
    Arrival,
    /// A request reaches its agent.
    Deliver { task: u32 },
    /// An agent finishes serving a request.
    Done { task: u32 },
    /// A reply reaches the dispatcher.
    Reply { task: u32 },
}

#[derive(Clone, Copy, Debug)]
struct Task {
    arrival: Instant,
    /// The task's size as a quantile of any tier's service-time distribution.
    work_q: f64,
    /// Fails on an agent whose tier error rate exceeds this draw.
    fail_u: f64,
    started: bool,
    failed: bool,
    attempts: u32,
    agent: u32,
    /// Index of the agent in the balancer's pool.
    slot: u32,
    dispatched: Instant,
    received: Instant,
    service_start: Instant,
}

/// The named random streams of a run.
struct Streams {
    arrivals: Stream,
    work: Stream,
    priority: Stream,
    failures: Stream,
    network: Stream,
    lb: Stream,
}

impl Streams {
    fn new(seed: Seed) -> Streams {
        Streams {
            arrivals: seed.stream("arrivals"),
            work: seed.stream("work"),
            priority: seed.stream("priority"),
            failures: seed.stream("failures"),
            network: seed.stream("network"),
            lb: seed.stream("lb"),
        }
    }
}

/// One run of a scenario.
pub struct World<'s> {
    sc: &'s Scenario,
    engine: Engine<Event>,
    tasks: Vec<Task>,
    free: Vec<u32>,
    agents: Vec<Agent>,
    /// Agents that serve the workload, by pool index.
    pool: Vec<u32>,
    balancer: Balancer,
    queue: TaskQueue<u32>,
    /// Requests dispatched to agents and not yet answered.
    outstanding: u32,
    workers: u32,
    arrivals: ArrivalProcess,
    end_of_arrivals: Instant,
    priorities: Weighted,
    zero_latency: bool,
    rng: Streams,
    metrics: Recorder,
}

/// Run `sc` with `seed` to the end and return its results.
pub fn run(sc: &Scenario, seed: Seed) -> RunResult {
    World::new(sc, seed).run()
}

/// Events between two progress reports.
const PROGRESS_EVERY: u64 = 1 << 16;

impl<'s> World<'s> {
    pub fn new(sc: &'s Scenario, seed: Seed) -> World<'s> {
        let agents = fleet::build(&sc.tiers);
        let pool: Vec<u32> = agents
            .iter()
            .enumerate()
            .filter(|(_, a)| match &sc.workload.capability {
                Some(cap) => sc.tiers[a.tier as usize].capabilities.contains(cap),
                None => true,
            })
            .map(|(i, _)| i as u32)
            .collect();
        let weights: Vec<f64> = pool
            .iter()
            .map(|&i| sc.tiers[agents[i as usize].tier as usize].weight)
            .collect();
        let metrics = Recorder::new(agents.len(), sc.warmup, sc.duration, sc.report.bucket);
        World {
            sc,
            engine: Engine::with_capacity(1024),
            tasks: Vec::new(),
            free: Vec::new(),
            balancer: Balancer::new(sc.balancer.strategy, &weights),
            pool,
            agents,
            queue: TaskQueue::new(sc.dispatch.queue_capacity as usize),
            outstanding: 0,
            workers: sc.dispatch.workers,
            arrivals: ArrivalProcess::new(sc.workload.arrivals.clone()),
            end_of_arrivals: Instant(sc.duration.as_nanos()),
            priorities: sc.workload.priority_sampler(),
            zero_latency: sc.network.latency.is_zero(),
            rng: Streams::new(seed),
            metrics,
        }
    }

    /// Run to the end of the drain and return the results.
    pub fn run(self) -> RunResult {
        self.run_with_progress(&mut |_| {})
    }

    /// Run, reporting progress (the fraction of `duration + drain` reached,
    /// from 0 to 1) every 65,536 events. Progress never affects results.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(f64)) -> RunResult {
        self.schedule_next_arrival();
        let limit = self.end_of_arrivals + self.sc.drain;
        while let Some((now, event)) = self.engine.step_until(limit) {
            if self
                .engine
                .events_processed()
                .is_multiple_of(PROGRESS_EVERY)
            {
                progress(now.0 as f64 / limit.0.max(1) as f64);
            }
            let gauges = self.gauges();
            self.metrics.advance(now, gauges);
            match event {
                Event::Arrival => self.on_arrival(now),
                Event::Deliver { task } => self.on_deliver(now, task),
                Event::Done { task } => self.on_done(now, task),
                Event::Reply { task } => self.on_reply(now, task),
            }
        }
        // The run ends when nothing is left to happen (but not before
        // arrivals stop), or at the end of the drain.
        let end = if self.engine.is_empty() {
            self.engine.now().max(self.end_of_arrivals)
        } else {
            limit
        };
        self.cancel_everything_left(end);
        let events = self.engine.events_processed();
        let gauges = self.gauges();
        let result = self.metrics.finish(end, gauges, &self.agents, events);
        assert!(
            result.conserved(),
            "task conservation broken: submitted {} != completed {} + failed {} + rejected {} + cancelled {}",
            result.submitted,
            result.completed,
            result.failed,
            result.rejected,
            result.cancelled
        );
        result
    }

    fn gauges(&self) -> Gauges {
        Gauges {
            in_flight: u64::from(self.outstanding),
            queue_len: self.queue.len() as u64,
            healthy_agents: self.agents.len() as u64,
            open_breakers: 0,
        }
    }

    fn schedule_next_arrival(&mut self) {
        if let Some(t) = self.arrivals.next_arrival(&mut self.rng.arrivals)
            && t < self.end_of_arrivals
        {
            self.engine
                .schedule(t, Event::Arrival)
                .expect("arrival processes move forward in time");
        }
    }

    fn alloc(&mut self, task: Task) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.tasks[i as usize] = task;
                i
            }
            None => {
                self.tasks.push(task);
                (self.tasks.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, t: u32) {
        self.free.push(t);
    }

    fn on_arrival(&mut self, now: Instant) {
        let priority = Workload::priority_at(&self.priorities, unit(&mut self.rng.priority));
        let work_q = unit(&mut self.rng.work);
        let fail_u = unit(&mut self.rng.failures);
        let t = self.alloc(Task {
            arrival: now,
            work_q,
            fail_u,
            started: false,
            failed: false,
            attempts: 0,
            agent: 0,
            slot: 0,
            dispatched: now,
            received: now,
            service_start: now,
        });
        self.metrics.on_arrival(now);
        if self.workers == 0 {
            self.route(now, t);
        } else {
            match self.queue.push(priority, t) {
                Ok(()) => self.pump(now),
                Err(t) => {
                    self.metrics.on_outcome(now, now, Outcome::Rejected, 0);
                    self.release(t);
                }
            }
        }
        self.schedule_next_arrival();
    }

    /// Dispatch queued tasks while fewer than `workers` are in flight.
    fn pump(&mut self, now: Instant) {
        while self.outstanding < self.workers {
            let Some((_, t)) = self.queue.pop() else {
                break;
            };
            self.route(now, t);
        }
    }

    /// Ask the balancer for an agent and send the request.
    fn route(&mut self, now: Instant, t: u32) {
        let slot = self
            .balancer
            .pick(now, &mut self.rng.lb)
            .expect("validated: the pool has at least one agent");
        self.balancer.on_dispatch(now, slot);
        self.outstanding += 1;
        let task = &mut self.tasks[t as usize];
        task.slot = slot as u32;
        task.agent = self.pool[slot];
        task.attempts += 1;
        task.dispatched = now;
        match self.network_delay() {
            None => self.on_deliver(now, t),
            Some(d) => {
                self.engine.schedule_after(d, Event::Deliver { task: t });
            }
        }
    }

    /// One network hop: `None` when latency is zero (handled inline).
    #[inline]
    fn network_delay(&mut self) -> Option<Duration> {
        if self.zero_latency {
            None
        } else {
            Some(self.sc.network.latency.sample(&mut self.rng.network))
        }
    }

    fn on_deliver(&mut self, now: Instant, t: u32) {
        let task = &mut self.tasks[t as usize];
        task.received = now;
        let a = task.agent as usize;
        if self.agents[a].has_free_slot() {
            self.start(now, t);
        } else {
            self.agents[a].queue.push_back(t);
        }
    }

    fn start(&mut self, now: Instant, t: u32) {
        let task = &mut self.tasks[t as usize];
        let agent = &mut self.agents[task.agent as usize];
        agent.busy += 1;
        if !task.started {
            task.started = true;
            self.metrics.on_first_start(now, task.arrival);
        }
        task.service_start = now;
        let service = self.sc.tiers[agent.tier as usize]
            .service_time
            .quantile(task.work_q);
        self.engine.schedule_after(service, Event::Done { task: t });
    }

    fn on_done(&mut self, now: Instant, t: u32) {
        let task = &mut self.tasks[t as usize];
        let a = task.agent as usize;
        let agent = &mut self.agents[a];
        agent.busy -= 1;
        agent.served += 1;
        agent.busy_time = agent.busy_time + (now - task.service_start);
        task.failed = task.fail_u < self.sc.tiers[agent.tier as usize].error_rate;
        if task.failed {
            agent.failures += 1;
        }
        self.metrics.on_served(now, a, task.received);
        if let Some(next) = self.agents[a].queue.pop_front() {
            self.start(now, next);
        }
        match self.network_delay() {
            None => self.on_reply(now, t),
            Some(d) => {
                self.engine.schedule_after(d, Event::Reply { task: t });
            }
        }
    }

    fn on_reply(&mut self, now: Instant, t: u32) {
        let task = self.tasks[t as usize];
        self.balancer
            .on_complete(now, task.slot as usize, now - task.dispatched);
        self.outstanding -= 1;
        let outcome = if task.failed {
            Outcome::Failed
        } else {
            Outcome::Completed
        };
        self.metrics
            .on_outcome(now, task.arrival, outcome, task.attempts);
        self.release(t);
        if self.workers > 0 {
            self.pump(now);
        }
    }

    /// At the end of the drain: every task still queued, travelling or in
    /// service is cancelled, in slot order (deterministic).
    fn cancel_everything_left(&mut self, end: Instant) {
        let mut live = vec![true; self.tasks.len()];
        for &f in &self.free {
            live[f as usize] = false;
        }
        for (i, task) in self.tasks.iter().enumerate() {
            if live[i] {
                self.metrics
                    .on_outcome(end, task.arrival, Outcome::Cancelled, task.attempts);
            }
        }
        for i in (0..self.tasks.len()).filter(|&i| live[i]) {
            self.release(i as u32);
        }
        self.queue.drain().for_each(drop);
        self.outstanding = 0;
        assert_eq!(
            self.metrics.in_system(),
            0,
            "tasks left in the system after cancelling everything"
        );
    }
}
