//! The world: the closed [`Event`] enum and its handlers, the only place that
//! schedules events. It wires the sans-IO components (task queue, balancer,
//! registry, health monitors, breakers, arrival process, agents) to the
//! engine's virtual clock.
//!
//! A task's life: it arrives (drawing its priority, its size as a quantile
//! and its failure draw from named streams, so every strategy compared on a
//! seed sees the same tasks); with `workers = 0` it is routed at once,
//! otherwise it waits in the central priority queue until fewer than
//! `workers` requests are in flight (a full queue rejects it). The balancer
//! picks an eligible agent of the pool (none eligible: the task fails fast);
//! the request crosses the network, waits in the agent's FIFO for a slot, is
//! served, and the reply crosses back. A request timeout fails it if the
//! reply is late; the agent still finishes the work and the late reply is
//! dropped. A failed attempt is retried after a backoff when the retry
//! policy and budget allow; a deadline cancels the task wherever it is. Jobs
//! (`world/jobs.rs`) submit their stages' tasks as their dependencies
//! complete. At `duration` arrivals stop; the run ends when every task has
//! ended, or after `drain`, when whatever is left is cancelled. Every task
//! ends in exactly one outcome, checked at the end of every run.
//!
//! Requests (one per attempt) live in their own slab: a timed-out request
//! may still be at its agent when its task has already ended. Events name a
//! request by slot and generation, so an event for a recycled slot is
//! recognised and ignored. The discovery side (registry leases, health
//! probes, breakers, eligibility) is in `world/discovery.rs`; agent failures
//! (availability, scheduled faults) in `world/faults.rs`.
//!
//! Every message (request, reply, probe and answer, heartbeat, control-plane
//! publication in `world/pubsub.rs`) crosses the [`Bus`], which decides
//! whether it is lost (at random, or to a partition) and when it arrives;
//! the world schedules the arrival and asks the bus again on arrival, so a
//! partition that began meanwhile still loses it. With zero latency a
//! request or reply is delivered inline, without an event.

mod discovery;
mod faults;
mod jobs;
mod pubsub;

use crate::bus::{self, Bus, Endpoint, Fate};
use crate::discovery::balancer::Balancer;
use crate::discovery::breaker::Breaker;
use crate::discovery::health::HealthMonitor;
use crate::discovery::registry::Registry;
use crate::engine::Engine;
use crate::fleet::{self, Agent};
use crate::metrics::{Cause, Gauges, Outcome, Recorder, RunResult};
use crate::orchestration::retry::RetryBudget;
use crate::orchestration::task_queue::{Priority, TaskQueue};
use rand::Rng;

use crate::rng::{Seed, Stream, Weighted, unit, unit_at};
use crate::scenario::{Scenario, Workload};
use crate::time::{Duration, Instant};
use crate::workload::{ArrivalProcess, Arrivals};

/// Everything that can happen. Payloads are small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next arrival of a source: a plain task (source 0) or a job.
    Arrival {
        source: u32,
    },
    /// A failed task's backoff is over: try it again.
    Retry {
        task: u32,
        epoch: u32,
    },
    /// A request reaches its agent.
    Deliver {
        req: u32,
        epoch: u32,
    },
    /// An agent finishes serving a request.
    Done {
        req: u32,
        epoch: u32,
    },
    /// A reply (an answer, or a refusal) reaches the dispatcher.
    Reply {
        req: u32,
        epoch: u32,
    },
    /// A request's timeout expires.
    Timeout {
        req: u32,
        epoch: u32,
    },
    /// The health monitor probes an agent.
    Probe {
        agent: u32,
    },
    /// A probe reaches its agent.
    ProbeArrives {
        agent: u32,
        epoch: u32,
    },
    /// A probe's answer (`ok`) or refusal reaches the health monitor.
    ProbeReply {
        agent: u32,
        epoch: u32,
        ok: bool,
    },
    /// A probe's timeout: a failure unless its answer came.
    ProbeTimeout {
        agent: u32,
        epoch: u32,
    },
    /// An agent renews its registry lease.
    Heartbeat {
        agent: u32,
    },
    /// A heartbeat reaches the registry.
    HeartbeatArrives {
        agent: u32,
    },
    /// Registry leases may have run out.
    LeaseCheck,
    /// An agent's breaker may leave OPEN.
    BreakerTimer {
        agent: u32,
    },
    /// An agent's availability model goes down or comes back up.
    Availability {
        agent: u32,
    },
    /// Scheduled fault `fault` starts, or ends.
    FaultStart {
        fault: u32,
    },
    FaultEnd {
        fault: u32,
    },
    /// `[[balancer.changes]]` entry `change` takes effect.
    SetStrategy {
        change: u32,
    },
    /// `[[bus.topics]]` entry `topic` publishes its next message.
    Publish {
        topic: u32,
    },
    /// A published message's copy reaches an agent.
    PublishArrives {
        agent: u32,
        copy: u32,
    },
    /// A task's deadline: cancel it if it has not ended.
    Deadline {
        task: u32,
        epoch: u32,
    },
}

/// Where a live task is (PENDING: queued; RUNNING: a request in flight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Queued,
    InFlight {
        req: u32,
    },
    /// Waiting out a retry backoff.
    Backoff,
}

/// What a task's source says about it (a replayed request's columns);
/// the rest is drawn.
#[derive(Clone, Copy, Debug, Default)]
struct Given {
    priority: Option<Priority>,
    work: Option<f64>,
}

/// No job: a plain task.
const NO_JOB: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Task {
    /// Bumped when the slot is freed: events carry it to detect reuse.
    epoch: u32,
    place: Place,
    priority: Priority,
    arrival: Instant,
    /// The task's size as a quantile of any tier's service-time distribution.
    work_q: f64,
    /// The work amount a replayed request carries (`per_work` tiers).
    work: Option<f64>,
    /// Names this task's failure draws: attempt `k` fails on an agent
    /// whose tier error rate exceeds `unit_at(fail_seed, k)`.
    fail_seed: u64,
    started: bool,
    attempts: u32,
    /// The route (capability pool) it goes to.
    route: u32,
    /// The job instance, stage and role of a job's task (`NO_JOB`: none).
    job: u32,
    stage: u16,
    compensation: bool,
    /// The previous retry delay (decorrelated jitter needs it).
    last_delay: Option<Duration>,
    /// Why the last attempt failed (the outcome if no retry follows).
    last_cause: Cause,
}

/// Where a request is on its agent's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ToAgent,
    Queued,
    Serving,
    /// The reply (or refusal) is on its way back.
    ToDispatcher,
    /// Lost to a partition: nothing will come back.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Request {
    task: u32,
    /// The task's size and failure draw, copied: a request can outlive its
    /// task (timed out, still being served) and the task slot be reused.
    work_q: f64,
    work: Option<f64>,
    fail_u: f64,
    agent: u32,
    /// The route it went through, and the agent's index in that pool.
    route: u32,
    slot: u32,
    /// Bumped when the slot is freed: events carry it to detect reuse.
    epoch: u32,
    phase: Phase,
    /// The dispatcher has settled it (reply or timeout).
    answered: bool,
    /// Why it failed, once known on the agent side.
    cause: Option<Cause>,
    /// The agent's breaker admitted it, with the breaker's trip count then
    /// (`None`: no breakers, or routed in panic mode).
    admitted: Option<u64>,
    dispatched: Instant,
    received: Instant,
    service_start: Instant,
    /// When the reply (or refusal) left the agent.
    replied: Instant,
}

/// The named random streams of a run.
struct Streams {
    work: Stream,
    priority: Stream,
    failures: Stream,
    network: Stream,
    lb: Stream,
    /// Network delays of health probes (apart, so that turning probes on
    /// does not change what the tasks see).
    probes: Stream,
    /// Retry jitter.
    retry: Stream,
    /// Heartbeats' loss and delays.
    heartbeats: Stream,
    /// Control-plane publications' loss and delays.
    bus: Stream,
}

impl Streams {
    fn new(seed: Seed) -> Streams {
        Streams {
            work: seed.stream("work"),
            priority: seed.stream("priority"),
            failures: seed.stream("failures"),
            network: seed.stream("network"),
            lb: seed.stream("lb"),
            probes: seed.stream("probes"),
            retry: seed.stream("retry"),
            heartbeats: seed.stream("heartbeats"),
            bus: seed.stream("bus"),
        }
    }
}

/// What the dispatcher believes about one agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct View {
    /// Registered with a running lease.
    live: bool,
    /// Not UNHEALTHY (or no health monitor).
    healthy: bool,
    /// Its breaker is OPEN.
    open: bool,
    /// Its breaker would admit a call (or no breaker).
    admits: bool,
}

/// An agent's current health probe.
#[derive(Clone, Copy, Debug, Default)]
struct ProbeState {
    epoch: u32,
    sent: Instant,
    reply_sent: Instant,
    /// The monitor still waits for this probe's result.
    open: bool,
}

/// The agents that have one capability (or all of them), and the balancer
/// that picks among them.
struct Route {
    /// Agent ids, by pool index.
    pool: Vec<u32>,
    balancer: Balancer,
}

/// An arrival process and its stream.
struct Source {
    process: ArrivalProcess,
    rng: Stream,
    /// `None`: plain tasks; `Some(k)`: jobs of kind `k`.
    job: Option<u32>,
    /// The route of its plain tasks.
    route: u32,
    /// A trace's routes, by index into its list of capabilities.
    trace_routes: Vec<u32>,
}

impl Source {
    fn new(
        arrivals: &Arrivals,
        rng: Stream,
        job: Option<u32>,
        route: u32,
        caps: &[Option<String>],
    ) -> Source {
        let trace_routes = match arrivals {
            Arrivals::Trace(t) => t
                .info
                .capabilities
                .iter()
                .map(|c| Scenario::route_of(caps, &Some(c.clone())))
                .collect(),
            _ => Vec::new(),
        };
        Source {
            process: ArrivalProcess::new(arrivals.clone()),
            rng,
            job,
            route,
            trace_routes,
        }
    }
}

/// One run of a scenario.
pub struct World<'s> {
    sc: &'s Scenario,
    engine: Engine<Event>,
    tasks: Vec<Task>,
    free: Vec<u32>,
    reqs: Vec<Request>,
    free_reqs: Vec<u32>,
    agents: Vec<Agent>,
    /// One balancer per capability in use (route 0: the workload's).
    routes: Vec<Route>,
    /// The (route, slot) pairs of each agent.
    memberships: Vec<Vec<(u32, u32)>>,
    queue: TaskQueue<u32>,
    /// Requests dispatched to agents and not yet settled.
    outstanding: u32,
    workers: u32,
    pumping: bool,
    /// Arrival processes: plain tasks, then one per job kind.
    sources: Vec<Source>,
    /// Sources whose arrivals have not ended.
    sources_live: u32,
    end_of_arrivals: Instant,
    last_outcome: Instant,
    priorities: Weighted,
    /// Messages take no time: deliver them inline, without an event.
    zero_latency: bool,
    rng: Streams,
    metrics: Recorder,
    /// Every message between the control plane and the agents crosses it.
    bus: Bus,
    /// Each agent's `[[bus.subscriptions]]` (indices), to subscribe again.
    agent_subs: Vec<Vec<u32>>,
    /// Buffers for a publication's targets (reused).
    publish_out: Vec<(Endpoint, bus::SubId)>,
    publish_targets: Vec<Endpoint>,
    /// When each published copy in flight left (a slab, with free slots).
    copies: Vec<Instant>,
    free_copies: Vec<u32>,
    // Discovery.
    registry: Registry,
    /// Heartbeats and lease expiry are simulated (some agent can go silent).
    leases: bool,
    lease_check_at: Option<Instant>,
    monitors: Vec<HealthMonitor>,
    /// Each agent's current probe: its number, when it and its reply were
    /// sent, and whether its result is still to come.
    probes: Vec<ProbeState>,
    /// When each agent's last heartbeat left.
    heartbeat_sent: Vec<Instant>,
    breakers: Vec<Breaker>,
    views: Vec<View>,
    healthy_count: u64,
    open_count: u64,
    down_count: u64,
    // Failures.
    availability: Vec<Option<(crate::faults::Availability, Stream)>>,
    fault_targets: Vec<Vec<u32>>,
    // Orchestration.
    budget: Option<RetryBudget>,
    /// The capability of each route (stage tasks pick theirs by it).
    route_caps: Vec<Option<String>>,
    jobs: jobs::Jobs,
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
        let mut memberships = vec![Vec::new(); agents.len()];
        let routes: Vec<Route> = sc
            .capabilities_in_use()
            .iter()
            .enumerate()
            .map(|(r, cap)| {
                let pool: Vec<u32> = agents
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| match cap {
                        Some(cap) => sc.tiers[a.tier as usize].capabilities.contains(cap),
                        None => true,
                    })
                    .map(|(i, _)| i as u32)
                    .collect();
                for (slot, &a) in pool.iter().enumerate() {
                    memberships[a as usize].push((r as u32, slot as u32));
                }
                let weights: Vec<f64> = pool
                    .iter()
                    .map(|&i| sc.tiers[agents[i as usize].tier as usize].weight)
                    .collect();
                let mut balancer = Balancer::new(sc.balancer.strategy, &weights);
                balancer.set_panic_threshold(sc.balancer.panic_threshold);
                Route { pool, balancer }
            })
            .collect();
        let metrics = Recorder::new(agents.len(), sc.warmup, sc.duration, sc.report.bucket);
        let n = agents.len();
        let mut world = World {
            sc,
            engine: Engine::with_capacity(1024),
            tasks: Vec::new(),
            free: Vec::new(),
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            routes,
            memberships,
            agents,
            queue: TaskQueue::new(sc.dispatch.queue_capacity as usize)
                .with_aging(sc.dispatch.aging),
            outstanding: 0,
            workers: sc.dispatch.workers,
            pumping: false,
            sources: Vec::new(),
            sources_live: 0,
            end_of_arrivals: Instant(sc.duration.as_nanos()),
            last_outcome: Instant::ZERO,
            priorities: sc.workload.priority_sampler(),
            zero_latency: sc.network.latency.is_zero(),
            rng: Streams::new(seed),
            metrics,
            bus: Bus::new(sc.network.latency.clone(), sc.network.loss),
            agent_subs: Vec::new(),
            publish_out: Vec::new(),
            publish_targets: Vec::new(),
            copies: Vec::new(),
            free_copies: Vec::new(),
            registry: Registry::new(sc.registry.ttl),
            // Lost heartbeats can let a lease run out too.
            leases: sc.agents_can_go_silent() || sc.network.loss > 0.0,
            lease_check_at: None,
            monitors: Vec::new(),
            probes: Vec::new(),
            heartbeat_sent: vec![Instant::ZERO; n],
            breakers: Vec::new(),
            views: vec![
                View {
                    live: true,
                    healthy: true,
                    open: false,
                    admits: true,
                };
                n
            ],
            healthy_count: n as u64,
            open_count: 0,
            down_count: 0,
            availability: Vec::new(),
            fault_targets: Vec::new(),
            budget: sc
                .retry
                .map(|r| RetryBudget::new(r.budget.window, r.budget.min_per_s, r.budget.ratio)),
            route_caps: sc.capabilities_in_use(),
            jobs: jobs::Jobs::default(),
        };
        let caps = &world.route_caps;
        if let Some(a) = &sc.workload.arrivals {
            let rng = seed.stream("arrivals");
            world.sources.push(Source::new(a, rng, None, 0, caps));
        }
        for st in &sc.workload.streams {
            let cap = st.capability.clone().or(sc.workload.capability.clone());
            let rng = seed.stream(&format!("streams/{}", st.name));
            let route = Scenario::route_of(caps, &cap);
            world
                .sources
                .push(Source::new(&st.arrivals, rng, None, route, caps));
        }
        for (k, job) in sc.workload.jobs.iter().enumerate() {
            let rng = seed.stream(&format!("jobs/{}", job.name));
            let kind = Some(k as u32);
            world
                .sources
                .push(Source::new(&job.arrivals, rng, kind, 0, caps));
        }
        world.sources_live = world.sources.len() as u32;
        world.start_failures(seed);
        world.start_discovery();
        world.start_pubsub(seed);
        world
    }

    /// Run to the end and return the results.
    pub fn run(self) -> RunResult {
        self.run_with_progress(&mut |_| {})
    }

    /// Run, reporting progress (the fraction of `duration + drain` reached,
    /// from 0 to 1) every 65,536 events. Progress never affects results.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(f64)) -> RunResult {
        for i in 0..self.sources.len() {
            self.schedule_next_arrival(i as u32);
        }
        let limit = self.end_of_arrivals + self.sc.drain;
        // The run ends when every task has ended (but not before arrivals
        // stop), or at the end of the drain. Background events (probes,
        // heartbeats, failures) do not keep it going.
        let end = loop {
            if self.sources_live == 0 && self.metrics.in_system() == 0 {
                break self.last_outcome.max(self.end_of_arrivals);
            }
            let Some((now, event)) = self.engine.step_until(limit) else {
                break if self.engine.is_empty() {
                    self.engine.now().max(self.end_of_arrivals)
                } else {
                    limit
                };
            };
            if self
                .engine
                .events_processed()
                .is_multiple_of(PROGRESS_EVERY)
            {
                progress(now.0 as f64 / limit.0.max(1) as f64);
            }
            if now >= self.metrics.bucket_end() {
                let gauges = self.gauges();
                self.metrics.advance(now, gauges);
            }
            match event {
                Event::Arrival { source } => self.on_arrival(now, source),
                Event::Retry { task, epoch } => {
                    if self.tasks[task as usize].epoch == epoch {
                        self.on_retry(now, task);
                    }
                }
                Event::Deliver { req, epoch } => {
                    if self.current(req, epoch) {
                        self.on_deliver(now, req);
                    }
                }
                Event::Done { req, epoch } => {
                    if self.current(req, epoch) && self.reqs[req as usize].phase == Phase::Serving {
                        self.on_done(now, req);
                    }
                }
                Event::Reply { req, epoch } => {
                    if self.current(req, epoch) {
                        self.on_reply(now, req);
                    }
                }
                Event::Timeout { req, epoch } => {
                    if self.current(req, epoch) {
                        self.on_timeout(now, req);
                    }
                }
                Event::Probe { agent } => self.on_probe(now, agent),
                Event::ProbeArrives { agent, epoch } => self.on_probe_arrives(now, agent, epoch),
                Event::ProbeReply { agent, epoch, ok } => {
                    self.on_probe_reply(now, agent, epoch, ok)
                }
                Event::ProbeTimeout { agent, epoch } => self.on_probe_timeout(now, agent, epoch),
                Event::Heartbeat { agent } => self.on_heartbeat(now, agent),
                Event::HeartbeatArrives { agent } => self.on_heartbeat_arrives(now, agent),
                Event::LeaseCheck => self.on_lease_check(now),
                Event::BreakerTimer { agent } => self.on_breaker_timer(now, agent),
                Event::Availability { agent } => self.on_availability(now, agent),
                Event::FaultStart { fault } => self.on_fault(now, fault, true),
                Event::FaultEnd { fault } => self.on_fault(now, fault, false),
                Event::Deadline { task, epoch } => {
                    if self.tasks[task as usize].epoch == epoch {
                        self.on_deadline(now, task);
                    }
                }
                Event::Publish { topic } => self.on_publish(now, topic),
                Event::PublishArrives { agent, copy } => self.on_publish_arrives(now, agent, copy),
                Event::SetStrategy { change } => {
                    let s = self.sc.balancer.changes[change as usize].strategy;
                    for route in &mut self.routes {
                        route.balancer.set_strategy(now, s);
                    }
                }
            }
        };
        self.cancel_everything_left(end);
        let jobs = self.jobs.finish(end);
        let events = self.engine.events_processed();
        let gauges = self.gauges();
        let mut result = self.metrics.finish(end, gauges, &self.agents, events);
        for (i, a) in result.agents.iter_mut().enumerate() {
            a.down_s = self.agents[i].silent_time(end).as_secs_f64();
            if let Some(m) = self.monitors.get(i) {
                a.unhealthy_s = m.unhealthy_time(end).as_secs_f64();
            }
            if let Some(b) = self.breakers.get(i) {
                a.breaker_trips = b.trips();
                a.breaker_open_s = b.time_open(end).as_secs_f64();
            }
        }
        result.breaker_trips = result.agents.iter().map(|a| a.breaker_trips).sum();
        result.retry_budget_exhausted = self.budget.as_ref().map_or(0, |b| b.exhausted());
        result.jobs = jobs;
        result.bus = self.bus.stats().clone();
        result.errors = self
            .sources
            .iter()
            .filter_map(|s| s.process.error())
            .map(ToString::to_string)
            .collect();
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

    /// Is `(req, epoch)` still the request the event was scheduled for?
    #[inline]
    fn current(&self, req: u32, epoch: u32) -> bool {
        self.reqs[req as usize].epoch == epoch
    }

    fn gauges(&self) -> Gauges {
        Gauges {
            in_flight: u64::from(self.outstanding),
            queue_len: self.queue.len() as u64,
            queue_by_priority: Priority::ALL.map(|p| self.queue.len_at(p) as u64),
            healthy_agents: self.healthy_count,
            open_breakers: self.open_count,
            agents_down: self.down_count,
        }
    }

    fn schedule_next_arrival(&mut self, source: u32) {
        let src = &mut self.sources[source as usize];
        match src.process.next_arrival(&mut src.rng) {
            Some(t) if t < self.end_of_arrivals => {
                self.engine
                    .schedule(t, Event::Arrival { source })
                    .expect("arrival processes move forward in time");
            }
            _ => self.sources_live -= 1,
        }
    }

    fn alloc(&mut self, mut task: Task) -> u32 {
        match self.free.pop() {
            Some(i) => {
                task.epoch = self.tasks[i as usize].epoch;
                self.tasks[i as usize] = task;
                i
            }
            None => {
                self.tasks.push(task);
                (self.tasks.len() - 1) as u32
            }
        }
    }

    /// Free a task slot: pending events for it become stale.
    fn release(&mut self, t: u32) {
        let task = &mut self.tasks[t as usize];
        task.epoch = task.epoch.wrapping_add(1);
        self.free.push(t);
    }

    fn alloc_req(&mut self, mut r: Request) -> u32 {
        match self.free_reqs.pop() {
            Some(i) => {
                r.epoch = self.reqs[i as usize].epoch;
                self.reqs[i as usize] = r;
                i
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// Free a request slot: pending events for it become stale.
    fn release_req(&mut self, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.epoch = req.epoch.wrapping_add(1);
        self.free_reqs.push(r);
    }

    fn on_arrival(&mut self, now: Instant, source: u32) {
        let src = &self.sources[source as usize];
        match src.job {
            None => {
                let (route, given) = match src.process.row() {
                    None => (src.route, Given::default()),
                    Some(row) => (
                        row.capability
                            .map_or(src.route, |c| src.trace_routes[c as usize]),
                        Given {
                            priority: row.priority,
                            work: row.work,
                        },
                    ),
                };
                self.submit(now, route, NO_JOB, 0, false, given);
            }
            Some(kind) => self.start_job(now, kind),
        }
        self.schedule_next_arrival(source);
    }

    /// A new task arrives at the dispatcher (a plain task, or one of a
    /// job's stage or compensation tasks).
    fn submit(
        &mut self,
        now: Instant,
        route: u32,
        job: u32,
        stage: u16,
        compensation: bool,
        given: Given,
    ) {
        // Drawn even when the trace gives them, so the streams stay aligned.
        let drawn = Workload::priority_at(&self.priorities, unit(&mut self.rng.priority));
        let priority = given.priority.unwrap_or(drawn);
        let work_q = unit(&mut self.rng.work);
        let fail_seed = self.rng.failures.next_u64();
        let t = self.alloc(Task {
            epoch: 0,
            place: Place::Queued,
            priority,
            arrival: now,
            work_q,
            work: given.work,
            fail_seed,
            started: false,
            attempts: 0,
            route,
            job,
            stage,
            compensation,
            last_delay: None,
            last_cause: Cause::Error,
        });
        self.metrics.on_arrival(now);
        if let Some(d) = self.sc.workload.deadline {
            let epoch = self.tasks[t as usize].epoch;
            self.engine
                .schedule_after(d, Event::Deadline { task: t, epoch });
        }
        self.dispatch(now, t, Outcome::Rejected);
    }

    /// Route a task now (`workers = 0`) or queue it; a full queue ends it
    /// with `when_full`.
    fn dispatch(&mut self, now: Instant, t: u32, when_full: Outcome) {
        self.tasks[t as usize].place = Place::Queued;
        if self.workers == 0 {
            self.route(now, t);
        } else {
            let priority = self.tasks[t as usize].priority;
            match self.queue.push(now, priority, t) {
                Ok(()) => self.pump(now),
                Err(t) => self.end_task(now, t, when_full),
            }
        }
    }

    /// A task's attempt failed with `cause`: retry it after a backoff if
    /// the policy and the budget allow, else it fails.
    fn fail_or_retry(&mut self, now: Instant, t: u32, cause: Cause) {
        self.tasks[t as usize].last_cause = cause;
        if let Some(rc) = &self.sc.retry {
            let task = self.tasks[t as usize];
            if let Some(delay) =
                rc.policy
                    .next_delay(task.attempts.max(1), task.last_delay, &mut self.rng.retry)
            {
                let budget = self
                    .budget
                    .as_mut()
                    .expect("a budget with every retry policy");
                if budget.withdraw(now) {
                    let task = &mut self.tasks[t as usize];
                    task.place = Place::Backoff;
                    task.last_delay = Some(delay);
                    let epoch = task.epoch;
                    self.metrics.retries += 1;
                    self.engine
                        .schedule_after(delay, Event::Retry { task: t, epoch });
                    return;
                }
            }
        }
        self.end_task(now, t, Outcome::Failed(cause));
    }

    fn on_retry(&mut self, now: Instant, t: u32) {
        let cause = self.tasks[t as usize].last_cause;
        self.dispatch(now, t, Outcome::Failed(cause));
    }

    /// Dispatch queued tasks while fewer than `workers` are in flight. Not
    /// re-entered: a request settled inline (zero latency, refused) frees
    /// its place for this same loop instead of recursing.
    fn pump(&mut self, now: Instant) {
        if self.pumping {
            return;
        }
        self.pumping = true;
        while self.outstanding < self.workers {
            let Some((_, t)) = self.queue.pop(now) else {
                break;
            };
            self.route(now, t);
        }
        self.pumping = false;
    }

    /// Ask the balancer for an agent and send the request; with no eligible
    /// agent the task fails at once.
    fn route(&mut self, now: Instant, t: u32) {
        let task = &mut self.tasks[t as usize];
        task.attempts += 1;
        let route = task.route;
        if task.attempts == 1
            && let Some(b) = &mut self.budget
        {
            b.deposit(now);
        }
        let r = &mut self.routes[route as usize];
        let Some(slot) = r.balancer.pick(now, &mut self.rng.lb) else {
            self.fail_or_retry(now, t, Cause::NoAgent);
            return;
        };
        r.balancer.on_dispatch(now, slot);
        let agent = r.pool[slot];
        let in_panic = r.balancer.in_panic();
        let admitted = self.admit(now, agent, in_panic);
        self.outstanding += 1;
        let task = &self.tasks[t as usize];
        let (work_q, work, fail_u) = (
            task.work_q,
            task.work,
            unit_at(task.fail_seed, task.attempts),
        );
        let r = self.alloc_req(Request {
            task: t,
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
        if let Some(timeout) = self.sc.request.timeout {
            let epoch = self.reqs[r as usize].epoch;
            self.engine
                .schedule_after(timeout, Event::Timeout { req: r, epoch });
        }
        let to = Endpoint(agent);
        match self.bus.send(
            now,
            bus::Kind::Request,
            Endpoint::CONTROL,
            to,
            &mut self.rng.network,
        ) {
            Fate::Lost(_) => self.lose(r),
            Fate::Arrives(_) if self.zero_latency => self.on_deliver(now, r),
            Fate::Arrives(t) => {
                let epoch = self.reqs[r as usize].epoch;
                self.engine
                    .schedule(t, Event::Deliver { req: r, epoch })
                    .expect("messages arrive after they leave");
            }
        }
    }

    fn on_deliver(&mut self, now: Instant, r: u32) {
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

    fn start(&mut self, now: Instant, r: u32) {
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

    fn on_done(&mut self, now: Instant, r: u32) {
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
    fn send_back(&mut self, now: Instant, r: u32) {
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

    /// Lost to a partition: only the timeout (if any) settles it.
    fn lose(&mut self, r: u32) {
        self.reqs[r as usize].phase = Phase::Lost;
        if self.reqs[r as usize].answered {
            self.release_req(r);
        }
    }

    fn on_reply(&mut self, now: Instant, r: u32) {
        let req = self.reqs[r as usize];
        let from = Endpoint(req.agent);
        if !self
            .bus
            .arrive(now, bus::Kind::Reply, from, Endpoint::CONTROL, req.replied)
        {
            self.lose(r);
            return;
        }
        if !req.answered {
            let cause = self.reqs[r as usize].cause;
            self.settle(now, r, cause);
        }
        self.release_req(r);
    }

    fn on_timeout(&mut self, now: Instant, r: u32) {
        if self.reqs[r as usize].answered {
            return;
        }
        self.bus.timed_out(bus::Kind::Request);
        self.settle(now, r, Some(Cause::Timeout));
        if self.reqs[r as usize].phase == Phase::Lost {
            self.release_req(r);
        }
    }

    /// The dispatcher stops waiting for request `r`: it no longer counts
    /// as in flight, and its reply (if any) will be ignored.
    fn abandon(&mut self, now: Instant, r: u32) -> Request {
        let req = &mut self.reqs[r as usize];
        req.answered = true;
        let req = *req;
        self.routes[req.route as usize].balancer.on_complete(
            now,
            req.slot as usize,
            now - req.dispatched,
        );
        self.outstanding -= 1;
        req
    }

    /// The task's deadline passed: cancel it wherever it is.
    fn on_deadline(&mut self, now: Instant, t: u32) {
        let task = self.tasks[t as usize];
        match task.place {
            Place::Queued => {
                let removed = self.queue.cancel(task.priority, &t);
                debug_assert!(removed, "queued task {t} not in the queue");
            }
            Place::InFlight { req } => {
                self.abandon(now, req);
                if self.reqs[req as usize].phase == Phase::Lost {
                    self.release_req(req);
                }
            }
            Place::Backoff => {}
        }
        self.end_task(now, t, Outcome::Cancelled);
        if self.workers > 0 {
            self.pump(now);
        }
    }

    /// The dispatcher learns a request's outcome (once per request).
    fn settle(&mut self, now: Instant, r: u32, cause: Option<Cause>) {
        let req = self.abandon(now, r);
        self.on_call_outcome(now, req.agent, req.admitted, cause.is_none());
        match cause {
            None => self.end_task(now, req.task, Outcome::Completed),
            Some(c) => {
                self.fail_or_retry(now, req.task, c);
            }
        }
        if self.workers > 0 {
            self.pump(now);
        }
    }

    fn end_task(&mut self, now: Instant, t: u32, outcome: Outcome) {
        let task = self.tasks[t as usize];
        self.metrics
            .on_outcome(now, task.arrival, outcome, task.attempts);
        self.last_outcome = now;
        self.release(t);
        if task.job != NO_JOB {
            self.job_task_ended(now, task.job, task.stage, task.compensation, outcome);
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
