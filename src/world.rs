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
//! Where each concern lives: a task's life at the dispatcher (arrival,
//! queue, retries, deadline, outcome) in `world/tasks.rs`; the dispatcher
//! as a server (`[dispatcher]`: routing time, its queue, outages) in
//! `world/dispatcher.rs`; a request's life
//! on the dispatcher's side (routing, sending, reply, timeout, settling) in
//! `world/requests.rs` and on the agent's side (queue, slot, service,
//! answer) in `world/serving.rs`; calls between agents (steps, the
//! callers' clients, per-capability policy) in `world/calls.rs`; the
//! discovery side (registry leases,
//! health probes, breakers, eligibility) in `world/discovery.rs`; agent
//! failures (availability, scheduled faults) in `world/faults.rs`; agents
//! that drain, join, restart and autoscale in `world/lifecycle.rs`; jobs in
//! `world/jobs.rs`; control-plane publications in `world/pubsub.rs`. This
//! file holds the shared state, the event enum and the run loop.
//!
//! Every message (request, reply, probe and answer, heartbeat, control-plane
//! publication in `world/pubsub.rs`) crosses the [`Bus`], which decides
//! whether it is lost (at random, or to a partition) and when it arrives;
//! the world schedules the arrival and asks the bus again on arrival, so a
//! partition that began meanwhile still loses it. With zero latency a
//! request or reply is delivered inline, without an event. With a broker
//! (`[bus.broker]`) the bus says when a message leaves the broker's queue,
//! and the network latency runs from then; while the broker is down
//! (`broker_down`) a request fails its attempt at once with cause `broker`.

mod calls;
mod discovery;
mod dispatcher;
mod faults;
pub mod fingerprint;
mod heartbeat_draws;
mod jobs;
mod lifecycle;
mod pubsub;
mod requests;
mod serving;
mod tasks;
mod timeouts;
pub mod trace;

use crate::bus::{self, Bus, Endpoint};
use crate::discovery::balancer::Balancer;
use crate::discovery::breaker::{Breaker, Breakers};
use crate::discovery::health::HealthMonitor;
use crate::discovery::registry::Registry;
use crate::engine::Engine;
use crate::fleet::calls::Tally;
use crate::fleet::{self, Agent};
use crate::metrics::{Cause, Gauges, Recorder, RunResult};
use crate::orchestration::retry::RetryBudget;
use crate::orchestration::task_queue::{Priority, TaskQueue};

use crate::rng::{Quantile, Seed, Stream, Weighted};
use crate::scenario::{RouteKey, Scenario};
use crate::time::{Duration, Instant};
use crate::workload::{ArrivalProcess, Arrivals, WorkDist};

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
    /// A request's timeout expires: the armed one of route `queue`'s
    /// timeouts (`world/timeouts.rs`), or one of its own
    /// (`timeouts::OWN_EVENT`).
    Timeout {
        req: u32,
        epoch: u32,
        queue: u32,
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
    /// An agent finishes handling a probe (`msg` in the probe slab, `seq`
    /// its generation there).
    ProbeDone {
        msg: u32,
        seq: u32,
    },
    /// A probe's answer or refusal reaches the health monitor.
    ProbeReply {
        msg: u32,
        seq: u32,
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
    /// A heartbeat reaches the registry. It left at `sent` (the two
    /// halves of its nanoseconds, so the event stays 16 bytes): its
    /// latency is its own even when another heartbeat of the agent left
    /// while it was on its way.
    HeartbeatArrives {
        agent: u32,
        sent: [u32; 2],
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
    /// A failed call's backoff is over: try it again.
    CallRetry {
        call: u32,
        epoch: u32,
    },
    /// A caller's breaker for one agent of a capability may leave OPEN.
    ClientBreakerTimer {
        client: u32,
        slot: u32,
    },
    /// The dispatcher's breaker for one agent of a capability with its own
    /// `breaker` settings may leave OPEN.
    RouteBreakerTimer {
        route: u32,
        slot: u32,
    },
    /// The dispatcher's routing decision for a task is over.
    Routed {
        task: u32,
        epoch: u32,
    },
    /// A starting agent has booted: it registers (unless stopped since).
    AgentStarted {
        agent: u32,
        epoch: u32,
    },
    /// `[[autoscale]]` table `scaler` decides.
    Autoscale {
        scaler: u32,
    },
    /// Rolling restart `fault` starts its next batch.
    RollingNext {
        fault: u32,
    },
    /// An agent whose probes sleep on a lossy network is due the probe
    /// whose exchange is lost: it wakes, and that probe is an event (see
    /// `world/discovery.rs`, `ProbeLosses`). Never in an event log (with
    /// one, probes do not sleep).
    ProbeWake {
        agent: u32,
    },
    /// A heartbeat slot of a cut-off agent (or, in a changing fleet, of a
    /// registered one), due at an instant when a fault starts or ends,
    /// its availability changes, a rolling restart steps or an autoscaler
    /// decides: it is sent after them (see `world/discovery.rs`,
    /// `on_heartbeat_after`).
    HeartbeatAfter {
        agent: u32,
    },
}

// Three `u32`s and a tag: an event and its key fill half a cache line in
// the engine's queue (`timeouts::OWN_EVENT` added the third to `Timeout`
// at no cost).
const _: () = assert!(std::mem::size_of::<Event>() == 16);

impl Event {
    /// The kind names, by [`Event::code`] (the `kind` column of events.csv).
    pub const KINDS: [&'static str; 31] = [
        "arrival",
        "retry",
        "deliver",
        "done",
        "reply",
        "timeout",
        "probe",
        "probe_arrives",
        "probe_done",
        "probe_reply",
        "probe_timeout",
        "heartbeat",
        "heartbeat_arrives",
        "lease_check",
        "breaker_timer",
        "availability",
        "fault_start",
        "fault_end",
        "set_strategy",
        "publish",
        "publish_arrives",
        "deadline",
        "call_retry",
        "client_breaker_timer",
        "route_breaker_timer",
        "routed",
        "agent_started",
        "autoscale",
        "rolling_next",
        "probe_wake",
        "heartbeat_after",
    ];

    /// The kind's code: the variant's position in the enum (a fingerprint
    /// ingredient; append new variants at the end to keep codes stable).
    #[inline]
    pub fn code(&self) -> u64 {
        match self {
            Event::Arrival { .. } => 0,
            Event::Retry { .. } => 1,
            Event::Deliver { .. } => 2,
            Event::Done { .. } => 3,
            Event::Reply { .. } => 4,
            Event::Timeout { .. } => 5,
            Event::Probe { .. } => 6,
            Event::ProbeArrives { .. } => 7,
            Event::ProbeDone { .. } => 8,
            Event::ProbeReply { .. } => 9,
            Event::ProbeTimeout { .. } => 10,
            Event::Heartbeat { .. } => 11,
            Event::HeartbeatArrives { .. } => 12,
            Event::LeaseCheck => 13,
            Event::BreakerTimer { .. } => 14,
            Event::Availability { .. } => 15,
            Event::FaultStart { .. } => 16,
            Event::FaultEnd { .. } => 17,
            Event::SetStrategy { .. } => 18,
            Event::Publish { .. } => 19,
            Event::PublishArrives { .. } => 20,
            Event::Deadline { .. } => 21,
            Event::CallRetry { .. } => 22,
            Event::ClientBreakerTimer { .. } => 23,
            Event::RouteBreakerTimer { .. } => 24,
            Event::Routed { .. } => 25,
            Event::AgentStarted { .. } => 26,
            Event::Autoscale { .. } => 27,
            Event::RollingNext { .. } => 28,
            Event::ProbeWake { .. } => 29,
            Event::HeartbeatAfter { .. } => 30,
        }
    }

    /// The event's id fields packed as `(first << 32) | second` (a
    /// fingerprint ingredient).
    #[inline]
    pub fn ids(&self) -> u64 {
        match *self {
            Event::Arrival { source } => u64::from(source) << 32,
            Event::Retry { task, epoch } => (u64::from(task) << 32) | u64::from(epoch),
            Event::Deliver { req, epoch } => (u64::from(req) << 32) | u64::from(epoch),
            Event::Done { req, epoch } => (u64::from(req) << 32) | u64::from(epoch),
            Event::Reply { req, epoch } => (u64::from(req) << 32) | u64::from(epoch),
            Event::Timeout { req, epoch, .. } => (u64::from(req) << 32) | u64::from(epoch),
            Event::Probe { agent } => u64::from(agent) << 32,
            Event::ProbeArrives { agent, epoch } => (u64::from(agent) << 32) | u64::from(epoch),
            Event::ProbeDone { msg, seq } => (u64::from(msg) << 32) | u64::from(seq),
            Event::ProbeReply { msg, seq } => (u64::from(msg) << 32) | u64::from(seq),
            Event::ProbeTimeout { agent, epoch } => (u64::from(agent) << 32) | u64::from(epoch),
            Event::Heartbeat { agent } => u64::from(agent) << 32,
            Event::HeartbeatArrives { agent, .. } => u64::from(agent) << 32,
            Event::LeaseCheck => 0,
            Event::BreakerTimer { agent } => u64::from(agent) << 32,
            Event::Availability { agent } => u64::from(agent) << 32,
            Event::FaultStart { fault } => u64::from(fault) << 32,
            Event::FaultEnd { fault } => u64::from(fault) << 32,
            Event::SetStrategy { change } => u64::from(change) << 32,
            Event::Publish { topic } => u64::from(topic) << 32,
            Event::PublishArrives { agent, copy } => (u64::from(agent) << 32) | u64::from(copy),
            Event::Deadline { task, epoch } => (u64::from(task) << 32) | u64::from(epoch),
            Event::CallRetry { call, epoch } => (u64::from(call) << 32) | u64::from(epoch),
            Event::ClientBreakerTimer { client, slot } => {
                (u64::from(client) << 32) | u64::from(slot)
            }
            Event::RouteBreakerTimer { route, slot } => (u64::from(route) << 32) | u64::from(slot),
            Event::Routed { task, epoch } => (u64::from(task) << 32) | u64::from(epoch),
            Event::AgentStarted { agent, epoch } => (u64::from(agent) << 32) | u64::from(epoch),
            Event::Autoscale { scaler } => u64::from(scaler) << 32,
            Event::RollingNext { fault } => u64::from(fault) << 32,
            Event::ProbeWake { agent } => u64::from(agent) << 32,
            Event::HeartbeatAfter { agent } => u64::from(agent) << 32,
        }
    }

    /// The kind's name (snake case).
    pub fn kind(&self) -> &'static str {
        Self::KINDS[self.code() as usize]
    }
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
    /// Waiting for the dispatcher (`[dispatcher]`).
    AtDispatcher,
    /// Being routed by the dispatcher.
    Routing,
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

/// No call: a request sent by the dispatcher for a task.
const NO_CALL: u32 = u32::MAX;

/// A logical call from an agent to a capability (its attempts are
/// requests); it outlives its caller's request if that ends first.
#[derive(Clone, Copy, Debug)]
struct Call {
    /// Bumped when the slot is freed: events carry it to detect reuse.
    epoch: u32,
    /// The request that made it, that request's epoch then, and the step.
    parent: u32,
    parent_epoch: u32,
    step: u16,
    /// The calling agent and the route (capability) it calls.
    caller: u32,
    route: u32,
    /// Its client (caller × route): balancer, breakers, budget.
    client: u32,
    path: u64,
    deadline: Instant,
    attempts: u32,
    last_delay: Option<Duration>,
    last_cause: Cause,
    started: Instant,
    /// The attempt in flight, if any (`NO_CALL`: waiting out a backoff).
    req: u32,
}

/// A caller's view of one capability, as a client-side library keeps it:
/// its own balancer over the capability's agents, its own breaker per
/// agent, its own retry budget.
struct Client {
    route: u32,
    balancer: Balancer,
    /// By pool slot (empty: no breakers for this capability).
    breakers: Vec<Breaker>,
    budget: Option<RetryBudget>,
}

#[derive(Clone, Copy, Debug)]
struct Task {
    /// Bumped when the slot is freed: events carry it to detect reuse.
    epoch: u32,
    /// Its number in arrival order, from 0 (records and the event log).
    id: u64,
    place: Place,
    priority: Priority,
    arrival: Instant,
    /// The task's size as a quantile of any tier's service-time
    /// distribution (with its exponential transform when a tier uses it).
    work_q: Quantile,
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
    /// `job` is a slot, reused once the job ends; `job_id` tells whether
    /// the slot still holds this task's job.
    job: u32,
    job_id: u64,
    stage: u16,
    compensation: bool,
    /// The previous retry delay (decorrelated jitter needs it).
    last_delay: Option<Duration>,
    /// Why the last attempt failed (the outcome if no retry follows).
    last_cause: Cause,
    /// It has its outcome (a second one is counted as a broken invariant).
    ended: bool,
}

/// Where a request is on its agent's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ToAgent,
    Queued,
    Serving,
    /// Its own service is done and its calls are out (a blocking agent
    /// still holds the slot).
    Calling,
    /// An async agent's calls are back: waiting for a slot to serve
    /// `finish_time` in.
    QueuedToFinish,
    /// Serving `finish_time`.
    Finishing,
    /// The reply (or refusal) is on its way back.
    ToCaller,
    /// Lost to a partition: nothing will come back.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Request {
    /// The task of a dispatcher's request (`call == NO_CALL`).
    task: u32,
    /// The call this is an attempt of (`NO_CALL`: a task's attempt, sent by
    /// the dispatcher).
    call: u32,
    /// Who sent it and gets the reply: the dispatcher or an agent.
    caller: Endpoint,
    /// Names the draws below this request: its steps' conditions, its
    /// calls' paths (see `fleet::calls::path`).
    path: u64,
    /// The top-level deadline it carries (`propagate_deadline`), or
    /// `Instant::MAX`.
    deadline: Instant,
    /// The step of its tier's calls it is at, and that step's tally.
    step: u16,
    tally: Tally,
    /// The task's size and failure draw, copied: a request can outlive its
    /// task (timed out, still being served) and the task slot be reused.
    work_q: Quantile,
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
    /// The dispatcher's routing times.
    dispatcher: Stream,
    /// The broker's service times (`[bus.broker]`).
    broker: Stream,
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
            dispatcher: seed.stream("dispatcher"),
            broker: seed.stream("broker"),
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
    /// Held DEGRADED by its health monitor.
    degraded: bool,
    /// In the fleet and serving (not absent, starting, joining, draining).
    serving: bool,
    /// Its breaker is OPEN.
    open: bool,
    /// Its breaker would admit a call (or no breaker).
    admits: bool,
}

/// Marks a probe in an agent's queue or slots (`PROBE | msg`, `msg` its
/// index in the probe slab); request indices stay below it.
const PROBE: u32 = 1 << 31;

/// A probe that reached its agent, until its answer (or refusal) reaches
/// the monitor or is lost.
#[derive(Clone, Copy, Debug)]
struct ProbeMsg {
    agent: u32,
    /// The agent's probe number (see [`ProbeState`]).
    epoch: u32,
    /// Bumped when the slab slot is freed: events carry it to detect reuse.
    seq: u32,
    /// When it took a slot, and when it leaves it.
    start: Instant,
    done: Instant,
    /// When its answer left the agent.
    replied: Instant,
    /// Answered (`false`: refused by a down agent).
    ok: bool,
    /// Holding one of its agent's slots.
    serving: bool,
    /// Its answer is to be lost (decided as it arrived, when
    /// `World::replies_drawn` holds).
    reply_lost: bool,
}

/// An agent's current health probe.
#[derive(Clone, Copy, Debug, Default)]
struct ProbeState {
    epoch: u32,
    sent: Instant,
    /// The monitor still waits for this probe's result.
    open: bool,
    /// Its timeout is scheduled (only when its answer may come late or
    /// not at all).
    timer: bool,
    /// With `World::lazy_probe_timeouts`, the place in the event order
    /// its timeout took as it left (scheduled there, if it is needed).
    timeout_seq: u64,
}

/// An agent's probe answer that arrives unseen (`World::unseen_answers`):
/// when it left the agent, when it arrives (`Instant::MAX`: none), and
/// the place in the event order its arrival took.
#[derive(Clone, Copy, Debug)]
struct UnseenAnswer {
    sent: Instant,
    at: Instant,
    seq: u64,
}

impl UnseenAnswer {
    const NONE: UnseenAnswer = UnseenAnswer {
        sent: Instant::ZERO,
        at: Instant::MAX,
        seq: 0,
    };
}

/// The agents that have one capability (or all of them), and the balancer
/// that picks among them.
struct Route {
    /// Agent ids, by pool index.
    pool: Vec<u32>,
    balancer: Balancer,
}

/// The (route, slot) pairs of each agent, in route order: `m[a]` is agent
/// `a`'s. One array for the fleet instead of a vector per agent (100,000
/// agents made 100,000 allocations of one pair each).
struct Memberships {
    /// Agent `a`'s pairs are `pairs[start[a]..start[a + 1]]`.
    start: Vec<u32>,
    pairs: Vec<(u32, u32)>,
}

impl Memberships {
    /// The memberships of `n` agents in the routes whose pools (agent ids
    /// by slot) are `pools`, by route index.
    fn new(n: usize, pools: &[&[u32]]) -> Memberships {
        let mut start = vec![0u32; n + 1];
        for &a in pools.iter().copied().flatten() {
            start[a as usize + 1] += 1;
        }
        for a in 0..n {
            start[a + 1] += start[a];
        }
        let mut next: Vec<u32> = start[..n].to_vec();
        let mut pairs = vec![(0, 0); start[n] as usize];
        for (r, pool) in pools.iter().enumerate() {
            for (slot, &a) in pool.iter().enumerate() {
                let at = &mut next[a as usize];
                pairs[*at as usize] = (r as u32, slot as u32);
                *at += 1;
            }
        }
        Memberships { start, pairs }
    }
}

impl std::ops::Index<usize> for Memberships {
    type Output = [(u32, u32)];

    fn index(&self, a: usize) -> &[(u32, u32)] {
        &self.pairs[self.start[a] as usize..self.start[a + 1] as usize]
    }
}

/// An arrival process and its stream.
struct Source {
    process: ArrivalProcess,
    rng: Stream,
    /// The work amount its plain tasks draw, and the stream they draw it
    /// from (`work_amount`, `work_amount/streams/NAME`); a job source's
    /// stream (`work_amount/jobs/NAME`) names each job's draws when a
    /// stage draws work.
    work: Option<WorkDist>,
    work_rng: Option<Stream>,
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
        caps: &[RouteKey],
    ) -> Source {
        let trace_routes = match arrivals {
            Arrivals::Trace(t) => t
                .info
                .capabilities
                .iter()
                .map(|c| Scenario::route_of(caps, Some(c), &[]))
                .collect(),
            _ => Vec::new(),
        };
        Source {
            process: ArrivalProcess::new(arrivals.clone()),
            rng,
            work: None,
            work_rng: None,
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
    /// One balancer per (capability, tags) in use (route 0: the
    /// workload's).
    routes: Vec<Route>,
    /// The (route, slot) pairs of each agent.
    memberships: Memberships,
    queue: TaskQueue<u32>,
    /// Requests dispatched to agents and not yet settled.
    outstanding: u32,
    workers: u32,
    pumping: bool,
    /// Arrival processes: plain tasks, then one per job kind.
    sources: Vec<Source>,
    /// Sources whose arrivals have not ended.
    sources_live: u32,
    /// Whether source 0's arrivals are scheduled beside the event queue
    /// (`Engine::schedule_beside`, a push and a pop saved per task): always,
    /// but in the test that checks it changes nothing.
    arrivals_beside: bool,
    end_of_arrivals: Instant,
    last_outcome: Instant,
    /// Broken invariants seen so far (see `metrics::Invariants`).
    checks: crate::metrics::Invariants,
    priorities: Weighted,
    /// The priority of every plain task when only one has a weight: then
    /// nothing is drawn from the `priority` stream (it feeds nothing else).
    certain_priority: Option<Priority>,
    /// Some tier fails requests (`error_rate`) or makes calls: only then
    /// does a task draw its failure seed (the `failures` stream feeds
    /// nothing else, and the seed names only those draws).
    failure_draws: bool,
    /// Messages take no time: deliver them inline, without an event.
    zero_latency: bool,
    /// Some tier's service time is exponential in the task's quantile:
    /// work out `−ln(1 − q)` when the task arrives.
    exp_service: bool,
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
    /// What each tier's agents register with (built at the first
    /// registration, shared by the tier's agents).
    tier_registrations: Vec<std::sync::Arc<crate::discovery::registry::Registration>>,
    /// Heartbeats and lease expiry are simulated (some agent can go silent).
    leases: bool,
    lease_check_at: Option<Instant>,
    monitors: Vec<HealthMonitor>,
    /// Each agent's current probe: its number, when it and its reply were
    /// sent, and whether its result is still to come.
    probes: Vec<ProbeState>,
    /// Each tier's probe handling time (its typical service time).
    probe_handling: Vec<Duration>,
    /// Events of different agents' probes and heartbeats touch disjoint
    /// state, so their order at one instant does not matter (see
    /// `world/discovery.rs`, `probe_may_skip`).
    probes_independent: bool,
    /// With `probes_independent`, the agents some fault targets or may
    /// touch (a dispatcher outage touches none; a join and an autoscaler
    /// all of their tier's): their probes never sleep and
    /// never end unseen, so each is scheduled by the one before it, in the
    /// place it has with every probe an event, wherever a fault begins or
    /// ends at its instant (see `world/discovery.rs`). Empty without such
    /// faults.
    probes_pinned: Vec<bool>,
    /// On an instant lossy network, a probe's answer has its loss drawn
    /// (from `probes`) as the probe arrives, not as the answer leaves: no
    /// later event then draws from the stream, and the answer's fate is
    /// known as the probe is handled (see `world/discovery.rs`).
    replies_drawn: bool,
    /// With `replies_drawn`, whether the answer to each agent's current
    /// probe is to be lost (empty otherwise: a lossless run's probe state
    /// stays as small).
    reply_lost: Vec<bool>,
    /// On an instant lossy network with `probes_independent`: each
    /// agent's lost probes and answers, drawn ahead from its own stream
    /// (see `world/discovery.rs`, `ProbeLosses`).
    probe_losses: Vec<discovery::ProbeLosses>,
    /// On a network with latency (or a broker): a probe's timeout takes
    /// its place in the event order
    /// as the probe leaves, and is scheduled there only once its answer
    /// may come late or not at all (see `world/discovery.rs`,
    /// `arm_probe_timeout`).
    lazy_probe_timeouts: bool,
    /// With `lazy_probe_timeouts`: the latest due time of a probe timeout
    /// at or before the run's limit, and whether one is due after it (as
    /// `TimeoutQueue` keeps them for requests: `World::stale_timeouts`).
    probe_timeouts_within: Option<Instant>,
    probe_timeouts_beyond: bool,
    /// A steady agent's probes may go dormant: no event until it is looked
    /// at (see `world/discovery.rs`, `may_sleep`).
    probes_dormant: bool,
    /// The place in the event order of agent 0's first probe; agent `a`'s
    /// is `a` after it (see `world/discovery.rs`, `start_discovery`).
    first_probe_seq: u64,
    /// Each agent's probe whose end no event marks (`NO_PROBE`: none), when
    /// `probes_independent` holds: see `world/discovery.rs`, `settle_probe`.
    unseen_probe_end: Vec<u32>,
    /// Each agent's probe answer that arrives with no event, kept until
    /// applied, on a network with latency where `lazy_probe_timeouts`
    /// holds and no event log is kept (empty otherwise): see
    /// `world/discovery.rs`, `answer_unseen`.
    unseen_answers: Vec<UnseenAnswer>,
    /// Agents woken from dormant probes by a request whose next probe is
    /// not scheduled yet: the request's end comes first and decides (see
    /// `world/discovery.rs`, `after_delivery`).
    probe_deferred: Vec<bool>,
    /// When the service that `start` last began ends.
    started_until: Instant,
    /// Probes at their agents or answering (a slab, with free slots).
    probe_msgs: Vec<ProbeMsg>,
    free_probe_msgs: Vec<u32>,
    /// Heartbeats of an agent that is up cannot be lost but by the
    /// network's random loss or a partition, nor delayed but by its
    /// latency (no broker): an agent that is up holds its lease open
    /// instead of renewing it every period (`world/discovery.rs`), until
    /// its next lost heartbeat (or, behind a latency that is not certain,
    /// its next lost or late one: `world/heartbeat_draws.rs`).
    quiet_heartbeats: bool,
    /// With `quiet_heartbeats`: the network's constant latency (0 on an
    /// instant network).
    quiet_latency: u64,
    /// With `quiet_heartbeats` on a lossy network: each agent's lost
    /// heartbeats, drawn ahead from its own stream.
    heartbeat_losses: Vec<discovery::HeartbeatLosses>,
    /// Behind a latency that is not certain (and no broker): each
    /// agent's heartbeats, drawn from its own
    /// stream (`world/heartbeat_draws.rs`); empty otherwise.
    heartbeat_draws: Vec<heartbeat_draws::HeartbeatDraws>,
    /// Since when each agent holds its lease open (`Instant::MAX`: it
    /// does not); its heartbeats after that instant are counted when it
    /// stops.
    held_since: Vec<Instant>,
    /// With `held_since`: the agent holds the lease it registered with
    /// (renewed as it registered, with no heartbeat), not one a heartbeat
    /// renewed as it came back.
    held_registered: Vec<bool>,
    /// When each agent last came back (up, or no longer cut off) and sent
    /// its heartbeat then (`Instant::MAX`: never), with leases and every
    /// heartbeat an event: a slot of its due at that very instant sends no
    /// second one.
    back_at: Vec<Instant>,
    /// With held heartbeats and partitions: since when each agent, cut
    /// off but up, has sent the heartbeats its partition loses
    /// (`Instant::MAX`: it does not); those due from that instant on are
    /// counted when its condition next changes, or at the end of the run.
    cut_since: Vec<Instant>,
    /// Agents drain, join, restart or are autoscaled
    /// (`Scenario::fleet_changes`).
    fleet_changes: bool,
    breakers: Breakers,
    /// Each agent's breaker's trip count while the breaker is at rest
    /// (`Breaker::at_rest`), else `NOT_AT_REST`: a call that succeeds
    /// against a breaker at rest changes neither it nor the view, so it
    /// reads this instead of the breaker's line.
    breaker_rest: Vec<u64>,
    views: Vec<View>,
    healthy_count: u64,
    /// Agents registered and held DEGRADED.
    degraded_count: u64,
    open_count: u64,
    down_count: u64,
    // Failures.
    /// Each tier's up and down periods (`None`: its agents never fail).
    tier_availability: Vec<Option<crate::faults::Availability>>,
    /// Where each agent of a failing tier is in its own
    /// `availability/agent-N` stream (stream id, word position). The
    /// stream is rebuilt there at each of the agent's rare changes instead
    /// of kept (a generator is over 300 bytes: a sixth of a large fleet's
    /// memory). The position is ChaCha's 68-bit word counter, held in 64
    /// bits: an agent draws a few words a change, and 2^64 words is more
    /// than any run will draw (16 bytes an agent instead of 32).
    availability: Vec<(u64, u64)>,
    /// The run's stream key: an agent's stream is read at its position
    /// at each of its changes (`rng::block`).
    availability_key: crate::rng::block::Key,
    fault_targets: Vec<Vec<u32>>,
    // Orchestration.
    budget: Option<RetryBudget>,
    /// The capability and tags of each route (stage tasks pick theirs by
    /// it).
    route_caps: Vec<RouteKey>,
    jobs: jobs::Jobs,
    // Calls between agents.
    calls: Vec<Call>,
    free_calls: Vec<u32>,
    /// Each route's policy (timeout, retry, breaker, balancer).
    policies: Vec<crate::scenario::Policy>,
    /// Each route's requests waiting for their timeout
    /// (`world/timeouts.rs`).
    timeouts: Vec<timeouts::TimeoutQueue>,
    /// The tasks waiting for their `workload.deadline` (the same).
    deadlines: timeouts::TimeoutQueue,
    /// Timeouts are queued by route and deadlines in one queue, not an
    /// event each (off only in tests, to check the two agree).
    lazy_timeouts: bool,
    /// The run's last instant (the end of arrivals and the drain): the
    /// timeout queues note deadlines after it (`world/timeouts.rs`).
    run_limit: Instant,
    /// Each tier's call targets as routes, by step.
    tier_routes: Vec<Vec<Vec<u32>>>,
    clients: Vec<Client>,
    /// The client of each (agent, route), created on the first call.
    client_of: Vec<Vec<u32>>,
    /// The clients of each route (to tell them of eligibility changes).
    route_clients: Vec<Vec<u32>>,
    /// Budgets of dispatcher routes that have their own retry policy.
    route_budgets: Vec<Option<RetryBudget>>,
    /// The dispatcher's breakers of routes whose capability has its own
    /// breaker settings, by pool slot (empty: the per-agent ones apply).
    route_breakers: Vec<Vec<Breaker>>,
    /// Of those, how many are OPEN.
    route_open_count: u64,
    /// The dispatcher as a server (`[dispatcher]`).
    disp: dispatcher::Dispatcher,
    // A fleet that changes.
    /// Each tier's agent ids, its own then its spares.
    tier_ids: Vec<Vec<u32>>,
    /// Agents serving now.
    serving_count: u64,
    scalers: Vec<lifecycle::Scaler>,
    /// The state of each `rolling_restart` fault (by fault index).
    rolling: Vec<Option<lifecycle::Rolling>>,
    /// Work units carried by completed tasks.
    work_done: f64,
    /// Tasks submitted so far (the next task's number).
    next_task: u64,
    /// The trajectory fingerprint so far (`world/fingerprint.rs`).
    fingerprint: u64,
    /// The event log and records, when asked for (`world/trace.rs`).
    trace: Option<trace::Tracer<'s>>,
    /// Tests only: make the service that starts after this many others
    /// 1 ns longer.
    #[cfg(test)]
    perturb_service: Option<u64>,
}

/// Tests only: the built-in steady_load with `--set` overrides.
#[cfg(test)]
fn steady_load_with<S: AsRef<str>>(sets: impl IntoIterator<Item = S>) -> Scenario {
    let sets: Vec<crate::scenario::Override> = (sets.into_iter())
        .map(|s| s.as_ref().parse().expect("a valid override"))
        .collect();
    crate::scenario::load("steady_load", &sets).expect("a valid scenario")
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
        // Each agent's tier, densely: the pools are built from it, not
        // from the agents (a cache line each), and whether a tier serves
        // a route is asked once per tier.
        let agent_tier = fleet::tier_of(&sc.tiers);
        let routes: Vec<Route> = sc
            .capabilities_in_use()
            .iter()
            .map(|key| {
                let serves: Vec<bool> = (sc.tiers.iter())
                    .map(|t| key.served_by(&t.capabilities, &t.tags))
                    .collect();
                let pool: Vec<u32> = (agent_tier.iter().enumerate())
                    .filter(|&(_, &t)| serves[t as usize])
                    .map(|(i, _)| i as u32)
                    .collect();
                let weights: Vec<f64> = pool
                    .iter()
                    .map(|&i| sc.tiers[agent_tier[i as usize] as usize].weight)
                    .collect();
                let strategy = sc
                    .policy(&key.capability)
                    .strategy
                    .unwrap_or(sc.balancer.strategy);
                let mut balancer = Balancer::new(strategy, &weights);
                balancer.set_panic_threshold(sc.balancer.panic_threshold);
                Route { pool, balancer }
            })
            .collect();
        let pools: Vec<&[u32]> = routes.iter().map(|r| r.pool.as_slice()).collect();
        let memberships = Memberships::new(agents.len(), &pools);
        let metrics = Recorder::new(agents.len(), sc.warmup, sc.duration, sc.report.bucket);
        let n = agents.len();
        let priorities = sc.workload.priority_sampler();
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
            arrivals_beside: true,
            end_of_arrivals: Instant(sc.duration.as_nanos()),
            last_outcome: Instant::ZERO,
            checks: crate::metrics::Invariants::default(),
            certain_priority: priorities.certain().map(|i| Priority::ALL[i]),
            priorities,
            failure_draws: (sc.tiers.iter())
                .any(|t| t.error_rate > 0.0 || !t.calls.is_empty() || t.calls.is_async()),
            zero_latency: sc.instant_network(),
            exp_service: sc.tiers.iter().any(|t| t.service_time.uses_exp()),
            rng: Streams::new(seed),
            metrics,
            bus: {
                let mut bus = Bus::new(sc.network.latency.clone(), sc.network.loss);
                if let Some(b) = &sc.bus.broker {
                    bus.set_broker(b.clone());
                }
                bus
            },
            agent_subs: Vec::new(),
            publish_out: Vec::new(),
            publish_targets: Vec::new(),
            copies: Vec::new(),
            free_copies: Vec::new(),
            registry: {
                let mut registry = Registry::new(sc.registry.ttl);
                registry.reserve(n);
                registry
            },
            tier_registrations: Vec::new(),
            // Lost heartbeats (at random, or to a broker outage) can let a
            // lease run out too.
            leases: sc.agents_can_go_silent()
                || sc.network.loss > 0.0
                || sc
                    .faults
                    .iter()
                    .any(|f| f.kind == crate::faults::FaultKind::BrokerDown),
            lease_check_at: None,
            monitors: Vec::new(),
            probes: Vec::new(),
            probe_handling: Vec::new(),
            probes_independent: false,
            probes_pinned: Vec::new(),
            replies_drawn: false,
            reply_lost: Vec::new(),
            probe_losses: Vec::new(),
            lazy_probe_timeouts: false,
            probe_timeouts_within: None,
            probe_timeouts_beyond: false,
            probes_dormant: false,
            first_probe_seq: 0,
            unseen_probe_end: Vec::new(),
            unseen_answers: Vec::new(),
            probe_deferred: Vec::new(),
            started_until: Instant::ZERO,
            probe_msgs: Vec::new(),
            free_probe_msgs: Vec::new(),
            quiet_heartbeats: false,
            quiet_latency: 0,
            heartbeat_losses: Vec::new(),
            heartbeat_draws: Vec::new(),
            held_since: Vec::new(),
            held_registered: Vec::new(),
            back_at: Vec::new(),
            cut_since: Vec::new(),
            fleet_changes: sc.fleet_changes(),
            breakers: Breakers::default(),
            breaker_rest: Vec::new(),
            views: vec![
                View {
                    live: true,
                    healthy: true,
                    degraded: false,
                    serving: true,
                    open: false,
                    admits: true,
                };
                n
            ],
            healthy_count: n as u64,
            degraded_count: 0,
            open_count: 0,
            down_count: 0,
            tier_availability: Vec::new(),
            availability: Vec::new(),
            availability_key: crate::rng::block::Key::of(seed),
            fault_targets: Vec::new(),
            budget: sc
                .retry
                .map(|r| RetryBudget::new(r.budget.window, r.budget.min_per_s, r.budget.ratio)),
            route_caps: sc.capabilities_in_use(),
            jobs: jobs::Jobs::default(),
            calls: Vec::new(),
            free_calls: Vec::new(),
            policies: Vec::new(),
            timeouts: Vec::new(),
            deadlines: Default::default(),
            lazy_timeouts: true,
            run_limit: Instant::MAX,
            tier_routes: Vec::new(),
            clients: Vec::new(),
            client_of: Vec::new(),
            route_clients: Vec::new(),
            route_budgets: Vec::new(),
            route_breakers: Vec::new(),
            route_open_count: 0,
            disp: dispatcher::Dispatcher::default(),
            tier_ids: fleet::tier_ids(&sc.tiers),
            serving_count: sc.tiers.iter().map(|t| u64::from(t.count)).sum(),
            scalers: Vec::new(),
            rolling: Vec::new(),
            work_done: 0.0,
            next_task: 0,
            fingerprint: fingerprint::START,
            trace: None,
            #[cfg(test)]
            perturb_service: None,
        };
        world.start_calls();
        let caps = &world.route_caps;
        // Work amounts come from streams of their own, made only where
        // work is drawn: every other stream stays as it was.
        let work_stream = |name: String| seed.stream(&format!("work_amount{name}"));
        if let Some(a) = &sc.workload.arrivals {
            let rng = seed.stream("arrivals");
            let mut src = Source::new(a, rng, None, 0, caps);
            src.work = sc.workload.work.clone();
            src.work_rng = src.work.as_ref().map(|_| work_stream(String::new()));
            world.sources.push(src);
        }
        for st in &sc.workload.streams {
            let cap = st.capability.clone().or(sc.workload.capability.clone());
            let rng = seed.stream(&format!("streams/{}", st.name));
            let route = Scenario::route_of(caps, cap.as_deref(), &st.tags);
            let mut src = Source::new(&st.arrivals, rng, None, route, caps);
            src.work = st.work.clone();
            src.work_rng = (st.work.as_ref()).map(|_| work_stream(format!("/streams/{}", st.name)));
            world.sources.push(src);
        }
        for (k, job) in sc.workload.jobs.iter().enumerate() {
            let rng = seed.stream(&format!("jobs/{}", job.name));
            let kind = Some(k as u32);
            let mut src = Source::new(&job.arrivals, rng, kind, 0, caps);
            src.work_rng = (job.stages.iter().any(|st| st.work.is_some()))
                .then(|| work_stream(format!("/jobs/{}", job.name)));
            world.sources.push(src);
        }
        world.sources_live = world.sources.len() as u32;
        world.start_failures(seed);
        world.start_discovery();
        world.start_pubsub(seed);
        world.start_lifecycle();
        world
    }

    /// Keep every measured completed task's latency in the result
    /// (`RunResult::latency_series`), for batch means and warm-up
    /// detection.
    pub fn keep_latency_series(mut self) -> Self {
        self.metrics.keep_latency_series();
        self
    }

    /// Hand every event's row (and, if the sink wants them, every task's
    /// and attempt's record) to `sink` as the run goes.
    pub fn with_sink(mut self, sink: &'s mut dyn trace::Sink) -> World<'s> {
        self.trace = Some(trace::Tracer::new(sink));
        // The log shows every probe: none is born dormant, and every
        // answer arrives as an event.
        self.wake_born();
        self.unseen_answers = Vec::new();
        self
    }

    /// Run to the end and return the results.
    pub fn run(self) -> RunResult {
        self.run_with_progress(&mut |_| {})
    }

    /// Run, reporting progress (the fraction of `duration + drain` reached,
    /// from 0 to 1) every 65,536 events. Progress never affects results.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(f64)) -> RunResult {
        self.schedule_born_wakes();
        for i in 0..self.sources.len() {
            self.schedule_next_arrival(i as u32);
        }
        let limit = self.end_of_arrivals + self.sc.drain;
        self.run_limit = limit;
        // The run ends when every task has ended (but not before arrivals
        // stop), or at the end of the drain. Background events (probes,
        // heartbeats, failures) do not keep it going.
        // One comparison per event: time never runs backwards.
        let mut previous = Instant::ZERO;
        // Periodic events before this instant were handled (for the
        // heartbeats nobody simulated one by one).
        let heard;
        let end = loop {
            if self.sources_live == 0 && self.metrics.in_system() == 0 {
                heard = self.engine.now();
                break self.last_outcome.max(self.end_of_arrivals);
            }
            let Some((now, event)) = self.engine.step_until(limit) else {
                heard = Instant(limit.0.saturating_add(1));
                // The stale timeouts no event was scheduled for would have
                // come last (see `world/timeouts.rs`).
                let (stale_last, stale_after) = self.stale_timeouts();
                let stale_last = stale_last.unwrap_or(Instant::ZERO);
                if stale_last >= self.metrics.bucket_end() {
                    let gauges = self.gauges();
                    self.metrics.advance(stale_last, gauges);
                }
                // Held heartbeats, as dormant probes, would have kept the
                // queue from running empty: a task lost for good (to a
                // partition, with no timeout) waits for the drain's end.
                let background = self.probes_asleep() || self.quiet_heartbeats;
                break if self.engine.is_empty() && !stale_after && !background {
                    self.engine.now().max(stale_last).max(self.end_of_arrivals)
                } else {
                    limit
                };
            };
            if now < previous {
                self.checks.time_reversals += 1;
            }
            previous = now;
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
            self.fingerprint =
                fingerprint::fold_event(self.fingerprint, now.0, event.code(), event.ids());
            if self.trace.is_some() {
                self.trace_begin(now, &event);
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
                    if self.current(req, epoch)
                        && matches!(
                            self.reqs[req as usize].phase,
                            Phase::Serving | Phase::Finishing
                        )
                    {
                        self.on_done(now, req);
                    }
                }
                Event::Reply { req, epoch } => {
                    if self.current(req, epoch) {
                        self.on_reply(now, req);
                    }
                }
                Event::Timeout { req, epoch, queue } => {
                    if queue != timeouts::OWN_EVENT {
                        self.on_timeout_due(now, queue);
                    } else if self.current(req, epoch) {
                        self.on_timeout(now, req);
                    }
                }
                Event::Probe { agent } => self.on_probe(now, agent),
                Event::ProbeArrives { agent, epoch } => self.on_probe_arrives(now, agent, epoch),
                Event::ProbeDone { msg, seq } => {
                    let m = &self.probe_msgs[msg as usize];
                    if m.seq == seq && m.serving {
                        self.on_probe_done(now, msg);
                    }
                }
                Event::ProbeReply { msg, seq } => {
                    if self.probe_msgs[msg as usize].seq == seq {
                        self.on_probe_reply(now, msg);
                    }
                }
                Event::ProbeTimeout { agent, epoch } => self.on_probe_timeout(now, agent, epoch),
                Event::Heartbeat { agent } => self.on_heartbeat(now, agent),
                Event::HeartbeatAfter { agent } => self.on_heartbeat_after(now, agent),
                Event::HeartbeatArrives { agent, sent } => {
                    self.on_heartbeat_arrives(now, agent, discovery::join_instant(sent))
                }
                Event::LeaseCheck => self.on_lease_check(now),
                Event::BreakerTimer { agent } => self.on_breaker_timer(now, agent),
                Event::Availability { agent } => self.on_availability(now, agent),
                Event::FaultStart { fault } => self.on_fault(now, fault, true),
                Event::FaultEnd { fault } => self.on_fault(now, fault, false),
                Event::Deadline { task, epoch } => self.on_deadline_event(now, task, epoch),
                Event::Publish { topic } => self.on_publish(now, topic),
                Event::PublishArrives { agent, copy } => self.on_publish_arrives(now, agent, copy),
                Event::SetStrategy { change } => self.on_set_strategy(now, change),
                Event::CallRetry { call, epoch } => {
                    if self.calls[call as usize].epoch == epoch {
                        self.attempt_call(now, call);
                    }
                }
                Event::ClientBreakerTimer { client, slot } => {
                    self.on_client_breaker_timer(now, client, slot)
                }
                Event::RouteBreakerTimer { route, slot } => {
                    self.on_route_breaker_timer(now, route, slot)
                }
                Event::Routed { task, epoch } => self.on_routed(now, task, epoch),
                Event::AgentStarted { agent, epoch } => self.on_agent_started(now, agent, epoch),
                Event::Autoscale { scaler } => self.on_autoscale(now, scaler),
                Event::RollingNext { fault } => self.on_rolling_next(now, fault),
                Event::ProbeWake { agent } => self.on_probe_wake(now, agent),
            }
            if self.trace.is_some() {
                self.trace_end();
            }
        };
        self.settle_held_leases(heard);
        self.settle_probes(heard);
        let dispatcher_utilization = self.dispatcher_utilization(end);
        self.cancel_everything_left(end);
        let jobs = self.jobs.finish(end);
        let events = self.engine.events_processed();
        let gauges = self.gauges();
        let client_trips = self.client_trips();
        let agents = std::mem::take(&mut self.agents);
        let (monitors, breakers) = (&self.monitors, &self.breakers);
        let (memberships, route_breakers) = (&self.memberships, &self.route_breakers);
        let mut result = self
            .metrics
            .finish(end, gauges, agents, events, |i, ag, a| {
                a.down_s = ag.silent_time(end).as_secs_f64();
                a.present_s = ag.present_time(end).as_secs_f64();
                let secs = |t: Option<Instant>| t.map(Instant::as_secs_f64);
                a.registered_s = secs(ag.registered_at.get()).into();
                a.serving_s = secs(ag.serving_at.get()).into();
                a.drained_s = secs(ag.drained_at.get()).into();
                a.first_sent_s = secs(ag.first_sent()).into();
                a.last_sent_s = secs(ag.last_sent()).into();
                if let Some(m) = monitors.get(i) {
                    a.unhealthy_s = m.unhealthy_time(end).as_secs_f64();
                    a.degraded_s = m.degraded_time(end).as_secs_f64();
                }
                if let Some(b) = breakers.get(i) {
                    a.breaker_trips = b.trips();
                    a.breaker_open_s = b.time_open(end).as_secs_f64();
                }
                for &(route, slot) in &memberships[i] {
                    if let Some(b) = route_breakers[route as usize].get(slot as usize) {
                        a.breaker_trips += b.trips();
                        a.breaker_open_s += b.time_open(end).as_secs_f64();
                    }
                }
            });
        result.breaker_trips = result.agents.iter().map(|a| a.breaker_trips).sum();
        result.agent_seconds = result.agents.iter().map(|a| a.present_s).sum();
        // Every budget that can refuse a retry: the shared one, those of
        // the dispatcher's routes with their own retry policy, and the
        // callers' (one per client).
        result.retry_budget_exhausted = self
            .budget
            .iter()
            .chain(self.route_budgets.iter().flatten())
            .chain(self.clients.iter().filter_map(|c| c.budget.as_ref()))
            .map(RetryBudget::exhausted)
            .sum();
        result.jobs = jobs;
        result.fingerprint = fingerprint::finish(self.fingerprint);
        result.work_done = self.work_done;
        result.work_per_s = self.work_done / self.sc.duration.as_secs_f64();
        result.dispatcher_utilization = dispatcher_utilization;
        result.bus = self.bus.stats().clone();
        for ((stats, trips), cap) in result
            .calls
            .iter_mut()
            .zip(client_trips)
            .zip(&self.route_caps)
        {
            stats.breaker_trips = trips;
            stats.capability = cap.label();
        }
        let mut checks = self.checks;
        checks.illegal_breaker_transitions = self
            .breakers
            .built()
            .iter()
            .chain(self.route_breakers.iter().flatten())
            .chain(self.clients.iter().flat_map(|c| c.breakers.iter()))
            .map(Breaker::illegal_transitions)
            .sum();
        checks.illegal_health_transitions = self
            .monitors
            .iter()
            .map(HealthMonitor::illegal_transitions)
            .sum();
        result.invariants = checks;
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
            open_breakers: self.open_count + self.route_open_count,
            agents_down: self.down_count,
            degraded_agents: self.degraded_count,
            dispatcher_queue: self.disp.queue_len(),
            agents_serving: self.serving_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    /// Source 0's arrivals scheduled beside the queue give the
    /// trajectory they give as events in the queue: the same events in the
    /// same order (the fingerprint) and the same results, for every
    /// built-in (jobs, bursts, faults, calls, M/M/1 and M/M/10), a replayed
    /// request log, and arrivals on the health probes' grid (an arrival and
    /// a probe due at one instant).
    #[test]
    fn arrivals_beside_the_queue_change_nothing() {
        let run = |sc: &Scenario, beside: bool| {
            let mut w = World::new(sc, sc.seed);
            w.arrivals_beside = beside;
            let r = w.run();
            let figures = format!(
                "{} {} {} {:?} {:?} {:?}",
                r.completed, r.failed, r.cancelled, r.latency_exact, r.agents, r.buckets
            );
            (r.fingerprint, r.events, figures)
        };
        let mut scenarios: Vec<(String, Scenario)> = scenario::builtin_names()
            .into_iter()
            .map(|name| {
                let sc = scenario::load(name, &[]).expect("a valid built-in");
                (name.to_string(), sc)
            })
            .collect();
        for rate in ["10.0", "40.0"] {
            let arrivals = format!("workload.arrivals={{process=\"constant\",rate={rate}}}");
            scenarios.push((arrivals.clone(), steady_load_with([arrivals])));
        }
        let replay = "scenarios/api_gateway_replay.toml";
        let trace = scenario::load(replay, &[]).expect("the shipped replay scenario");
        scenarios.push((replay.to_string(), trace));
        for (name, sc) in &scenarios {
            let (inside, beside) = (run(sc, false), run(sc, true));
            assert!(inside.1 > 0, "{name}: no events");
            assert_eq!(
                (beside.0, beside.1),
                (inside.0, inside.1),
                "{name}: trajectory"
            );
            assert!(beside.2 == inside.2, "{name}: the results differ");
        }
    }

    fn fingerprint(sc: &Scenario, perturb: Option<u64>) -> (u64, u64) {
        let mut w = World::new(sc, sc.seed);
        w.perturb_service = perturb;
        let r = w.run();
        (r.fingerprint, r.completed)
    }

    /// A fleet large enough to apply its requests' ends in batches
    /// (`metrics::BATCH_SERVED_FROM`) reports every agent as applying each
    /// end at once does, the ends still kept as the run stops included.
    #[test]
    fn batched_request_ends_change_no_agent_result() {
        let sc = steady_load_with([
            "fleet.tiers[0].count=1000",
            "fleet.tiers[1].count=2500",
            "fleet.tiers[2].count=1500",
            "workload.arrivals={process=\"poisson\",rate=800.0}",
            "duration=\"8s\"",
        ]);
        let agents = |batched: bool| {
            let mut w = World::new(&sc, sc.seed);
            if !batched {
                w.metrics.apply_served_at_once();
            }
            let r = w.run();
            assert!(r.completed > 5_000, "{} tasks completed", r.completed);
            format!("{:?}", r.agents)
        };
        assert_eq!(agents(true), agents(false));
    }

    /// The pairs of each agent are those a vector per agent would hold,
    /// in route order.
    #[test]
    fn memberships_list_each_agents_routes_and_slots() {
        let pools: [&[u32]; 3] = [&[0, 2, 3], &[], &[3, 1, 2]];
        let m = Memberships::new(5, &pools);
        let mut shadow = vec![Vec::new(); 5];
        for (r, pool) in pools.iter().enumerate() {
            for (slot, &a) in pool.iter().enumerate() {
                shadow[a as usize].push((r as u32, slot as u32));
            }
        }
        for (a, want) in shadow.iter().enumerate() {
            assert_eq!(&m[a], want.as_slice(), "agent {a}");
        }
    }

    #[test]
    fn the_fingerprint_changes_when_one_service_time_changes_by_one_nanosecond() {
        let sc = scenario::load("steady_load", &[]).unwrap();
        let (plain, completed) = fingerprint(&sc, None);
        assert_eq!(fingerprint(&sc, None), (plain, completed), "not repeatable");
        // The first, the 1000th and the last-but-some service: each moves
        // one Done event by 1 ns, nothing else (same tasks completed).
        for n in [0, 999, completed - 10] {
            let (f, c) = fingerprint(&sc, Some(n));
            assert_eq!(c, completed);
            assert_ne!(f, plain, "service {n} perturbed, fingerprint unchanged");
        }
    }
}
