//! Metrics: what a run records as it goes, in memory independent of the
//! number of tasks (hdrhistograms, counters, one row per time bucket); the
//! [`RunResult`] that reports are written from; and the [`registry`] of the
//! metrics read from it.
//!
//! Latency is end to end (arrival → final outcome), wait is arrival → first
//! service start; both over completed tasks that arrived after warm-up, in
//! nanoseconds with 3 significant digits (HdrHistogram, Tene). Means are
//! exact sums, not histogram estimates. Little's law `L = λW` is checkable:
//! the time-average number of tasks in the system over the measurement
//! window [warm-up, duration) is recorded alongside λ and W.

mod agent;
mod calls;
pub mod registry;

use hdrhistogram::Histogram;

pub use calls::CallStats;

use agent::AgentLatency;

use crate::hist::Counts;
use crate::orchestration::task_queue::Priority;
use crate::time::{Duration, Instant, NS_PER_MS};

/// Largest latency a histogram tracks exactly: 100,000 s (about 28 h).
/// Larger values are recorded as this and counted in `histogram_overflow`.
pub const HIGHEST_NS: u64 = 100_000 * 1_000_000_000;
/// Per-agent latency histograms count microseconds with 2 significant digits.
const AGENT_HIGHEST_US: u64 = HIGHEST_NS / 1_000;

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("static histogram bounds are valid")
}

/// Per-bucket p99: 2 significant digits keep the per-bucket reset cheap.
fn bucket_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 2).expect("static histogram bounds are valid")
}

fn agent_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, AGENT_HIGHEST_US, 2).expect("static histogram bounds are valid")
}

/// How a task ended. Every task ends in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed(Cause),
    Rejected,
    Cancelled,
}

/// Why a task failed (the extra `failed_*` columns of `summary.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The agent served it and answered with an error (`error_rate`).
    Error,
    /// The agent was down: the request was refused or reset.
    Refused,
    /// No answer within the request timeout.
    Timeout,
    /// No eligible agent to send it to (fail fast).
    NoAgent,
    /// Past the deadline it carried (`propagate_deadline`): dropped by its
    /// callee, or never sent.
    Deadline,
    /// A call it made failed (a step of its tier's calls that is not
    /// optional).
    Dependency,
    /// The dispatcher was down (`dispatcher_down`) when it arrived or its
    /// retry was due.
    NoDispatcher,
    /// The message broker was down when the request was sent: the sender
    /// saw the error at once (`broker_down`).
    Broker,
}

impl Cause {
    pub const ALL: [Cause; 8] = [
        Cause::Error,
        Cause::Refused,
        Cause::Timeout,
        Cause::NoAgent,
        Cause::Deadline,
        Cause::Dependency,
        Cause::NoDispatcher,
        Cause::Broker,
    ];

    /// The name in column headers (`failed_<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Error => "error",
            Cause::Refused => "refused",
            Cause::Timeout => "timeout",
            Cause::NoAgent => "no_agent",
            Cause::Deadline => "deadline",
            Cause::Dependency => "dependency",
            Cause::NoDispatcher => "no_dispatcher",
            Cause::Broker => "broker",
        }
    }
}

/// One row of `timeseries.csv` before it is labelled with variant and
/// replication.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Start of the bucket.
    pub start: Instant,
    pub arrivals: u64,
    pub completions: u64,
    pub failures: u64,
    /// Requests dispatched and not finished, at the end of the bucket.
    pub in_flight: u64,
    /// Central queue length at the end of the bucket.
    pub queue_len: u64,
    /// The same per priority, CRITICAL first.
    pub queue_by_priority: [u64; 4],
    /// p99 latency of the tasks that completed in this bucket (0 if none).
    pub latency_p99_ms: f64,
    pub healthy_agents: u64,
    pub open_breakers: u64,
    /// Agents actually down or cut off (the ground truth that health,
    /// breakers and the registry try to detect).
    pub agents_down: u64,
    /// Agents registered and held DEGRADED by their health monitor (a
    /// subset of `healthy_agents`).
    pub degraded_agents: u64,
    /// Attempts waiting for the dispatcher (`[dispatcher]`), at the end of
    /// the bucket.
    pub dispatcher_queue: u64,
    /// Agents registered and serving (eligible for new requests as far as
    /// the fleet's lifecycle goes) at the end of the bucket.
    pub agents_serving: u64,
    /// The same per tier, in tier order, when the fleet changes (a
    /// `drain`, `join` or `rolling_restart` fault, or `[[autoscale]]`);
    /// empty otherwise.
    pub agents_by_tier: Vec<u32>,
}

/// Gauges sampled at bucket boundaries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub in_flight: u64,
    pub queue_len: u64,
    /// Central queue length per priority, CRITICAL first.
    pub queue_by_priority: [u64; 4],
    /// Agents registered and not UNHEALTHY.
    pub healthy_agents: u64,
    pub open_breakers: u64,
    pub agents_down: u64,
    /// Agents registered and held DEGRADED.
    pub degraded_agents: u64,
    pub dispatcher_queue: u64,
    /// Agents serving (not absent, starting, joining or draining).
    pub agents_serving: u64,
}

/// What a request's end records of its agent, side by side so that it
/// touches one line: the low word of the agent's latency sum (in ns; the
/// recorder counts its wraps apart) and the latencies themselves, the
/// first [`agent::INLINE`] of them in the line too.
#[derive(Clone, Debug, Default)]
#[repr(align(64))]
struct AgentServed {
    sum_ns: u64,
    latency: AgentLatency,
}

/// A request's end, kept until its agent's record is next brought up to
/// date (see `Recorder::served_log`).
#[derive(Clone, Copy, Debug)]
struct ServedEnd {
    agent: u32,
    latency_ns: u64,
}

/// Fleets of at least this many agents keep their requests' ends in
/// [`Recorder::served_log`] and apply them in batches. Below it, the
/// records (64 bytes each) stay in the core's cache and a request's end
/// goes straight to its record.
const BATCH_SERVED_FROM: usize = 4096;

/// Requests' ends applied at once in a large fleet.
const SERVED_BATCH: usize = 512;

/// Streaming recorder for one run.
pub struct Recorder {
    warmup: Instant,
    end_of_arrivals: Instant,
    pub submitted: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected: u64,
    pub cancelled: u64,
    /// Attempts that were retried (each retry counts once).
    pub retries: u64,
    failed_by: [u64; Cause::ALL.len()],
    /// Recorded through [`Counts`]; the histogram is built at the end.
    latency: Counts<u64>,
    latency_sum: u128,
    latency_max: u64,
    wait_sum: u128,
    waits: u64,
    /// Wait sums and counts per priority, CRITICAL first.
    wait_by_priority: [(u128, u64); 4],
    /// Time measured tasks spent queueing for the dispatcher.
    dispatcher_wait_sum: u128,
    /// Tasks that arrived after the warm-up.
    measured_tasks: u64,
    attempts_sum: u64,
    attempts_n: u64,
    histogram_overflow: u64,
    // Little's law over [warmup, end_of_arrivals).
    in_system: u64,
    last_change: Instant,
    area: u128,
    window_arrivals: u64,
    // Per agent.
    agent_served: Vec<AgentServed>,
    /// How many times each agent's `AgentServed::sum_ns` wrapped around:
    /// the sum is `wraps · 2⁶⁴ + sum_ns`, exact, and this array is read
    /// only in the rare event.
    agent_latency_wraps: Vec<u64>,
    /// The empty histogram every agent's latency converts to (bounds,
    /// buckets); one per run, not one per agent.
    agent_template: Histogram<u32>,
    /// In a large fleet ([`BATCH_SERVED_FROM`] agents or more), requests'
    /// ends not yet applied to their agents' records, in the order they
    /// came; empty with no room otherwise. A fleet of 10,000 agents
    /// serves each a request every few seconds, and its record has left
    /// the core's cache by then: a request's end that updates it at once
    /// waits for that line with the rest of the event's work behind it.
    /// Applied [`SERVED_BATCH`] at a time in a loop of nothing else, the
    /// records' lines are fetched side by side. Each agent's values reach
    /// its record in the order they came, so the record is the same.
    served_log: Vec<ServedEnd>,
    // Time series.
    bucket: Duration,
    bucket_start: Instant,
    current: Bucket,
    bucket_latency: Counts<u32>,
    buckets: Vec<Bucket>,
    /// Calls per route (capability in use).
    calls: Vec<CallStats>,
    /// Agents serving per tier, when the fleet changes (empty otherwise).
    tier_serving: Vec<u32>,
    /// Every measured completed task's (arrival, latency), in completion
    /// order, when asked for (`keep_latency_series`): batch means and
    /// warm-up detection read it. `None` keeps the per-event cost at a
    /// branch.
    series: Option<Vec<LatencyObs>>,
}

impl Recorder {
    pub fn new(agents: usize, warmup: Duration, duration: Duration, bucket: Duration) -> Recorder {
        Recorder {
            warmup: Instant(warmup.as_nanos()),
            end_of_arrivals: Instant(duration.as_nanos()),
            submitted: 0,
            completed: 0,
            failed: 0,
            rejected: 0,
            cancelled: 0,
            retries: 0,
            failed_by: [0; Cause::ALL.len()],
            latency: Counts::like(&latency_histogram()),
            latency_sum: 0,
            latency_max: 0,
            wait_sum: 0,
            waits: 0,
            wait_by_priority: [(0, 0); 4],
            dispatcher_wait_sum: 0,
            measured_tasks: 0,
            attempts_sum: 0,
            attempts_n: 0,
            histogram_overflow: 0,
            in_system: 0,
            last_change: Instant::ZERO,
            area: 0,
            window_arrivals: 0,
            agent_served: vec![AgentServed::default(); agents],
            agent_latency_wraps: vec![0; agents],
            agent_template: agent_histogram(),
            served_log: if agents >= BATCH_SERVED_FROM {
                Vec::with_capacity(SERVED_BATCH)
            } else {
                Vec::new()
            },
            bucket,
            bucket_start: Instant::ZERO,
            current: empty_bucket(Instant::ZERO),
            bucket_latency: Counts::like(&bucket_histogram()),
            buckets: Vec::new(),
            calls: Vec::new(),
            tier_serving: Vec::new(),
            series: None,
        }
    }

    /// Keep every measured completed task's latency, in completion order
    /// ([`RunResult::latency_series`]).
    pub fn keep_latency_series(&mut self) {
        self.series = Some(Vec::new());
    }

    /// Count serving agents per tier, starting from `initial`: each time
    /// bucket then records them (`tiers.csv`).
    pub fn track_tiers(&mut self, initial: Vec<u32>) {
        self.tier_serving = initial;
    }

    /// An agent of `tier` starts (`true`) or stops serving.
    #[inline]
    pub fn on_tier_serving(&mut self, tier: usize, serving: bool) {
        if let Some(n) = self.tier_serving.get_mut(tier) {
            if serving {
                *n += 1;
            } else {
                *n -= 1;
            }
        }
    }

    /// Count calls per route, for `routes` routes.
    pub fn track_routes(&mut self, routes: usize) {
        self.calls = vec![CallStats::default(); routes];
    }

    /// A task ends: its route counts it as a call. With a single route
    /// (no calls between agents are possible then) the route's latency is
    /// the tasks' own, copied at the end instead of recorded twice.
    #[inline]
    pub fn on_task_call_end(
        &mut self,
        now: Instant,
        route: usize,
        arrival: Instant,
        cause: Option<Cause>,
    ) {
        if self.calls.len() == 1 {
            self.calls[route].on_end(cause, None);
        } else {
            self.on_call_end(now, route, arrival, cause);
        }
    }

    /// A logical call to `route` (a task, or an agent's call) begins.
    #[inline]
    pub fn on_call(&mut self, route: usize) {
        self.calls[route].calls += 1;
    }

    /// A request (an attempt of a call) is sent to `route`.
    #[inline]
    pub fn on_attempt(&mut self, route: usize) {
        self.calls[route].on_attempt();
    }

    /// A call to `route` that began at `started` ends now (`None`:
    /// completed).
    #[inline]
    pub fn on_call_end(
        &mut self,
        now: Instant,
        route: usize,
        started: Instant,
        cause: Option<Cause>,
    ) {
        let latency = self.measured(started).then(|| now - started);
        self.calls[route].on_end(cause, latency);
    }

    /// A call to `route` ends cancelled or rejected.
    #[inline]
    pub fn on_call_cancelled(&mut self, route: usize) {
        self.calls[route].cancelled += 1;
    }

    /// Is a task that arrived at `arrival` in the statistics?
    #[inline]
    pub fn measured(&self, arrival: Instant) -> bool {
        arrival >= self.warmup
    }

    /// When the current time bucket ends: before then `advance` has nothing
    /// to do (so a caller can skip sampling the gauges).
    #[inline]
    pub fn bucket_end(&self) -> Instant {
        self.bucket_start + self.bucket
    }

    /// Close every bucket that ends at or before `now`; `gauges` is the
    /// state of the world just before `now`'s event, i.e. at the boundary.
    #[inline]
    pub fn advance(&mut self, now: Instant, gauges: Gauges) {
        while now >= self.bucket_start + self.bucket {
            self.close_bucket(gauges);
        }
    }

    fn close_bucket(&mut self, g: Gauges) {
        let next = self.bucket_start + self.bucket;
        let mut b = std::mem::replace(&mut self.current, empty_bucket(next));
        b.in_flight = g.in_flight;
        b.queue_len = g.queue_len;
        b.queue_by_priority = g.queue_by_priority;
        b.healthy_agents = g.healthy_agents;
        b.open_breakers = g.open_breakers;
        b.agents_down = g.agents_down;
        b.degraded_agents = g.degraded_agents;
        b.dispatcher_queue = g.dispatcher_queue;
        b.agents_serving = g.agents_serving;
        b.agents_by_tier.clone_from(&self.tier_serving);
        if !self.bucket_latency.is_empty() {
            b.latency_p99_ms =
                self.bucket_latency.value_at_quantile(0.99) as f64 / NS_PER_MS as f64;
            self.bucket_latency.reset();
        }
        self.buckets.push(b);
        for c in &mut self.calls {
            c.close_bucket();
        }
        self.bucket_start = next;
    }

    fn change_in_system(&mut self, now: Instant, up: bool) {
        let clip = |t: Instant| t.clamp(self.warmup, self.end_of_arrivals);
        let (a, b) = (clip(self.last_change), clip(now));
        self.area += u128::from(self.in_system) * u128::from(b.0 - a.0);
        self.last_change = now;
        if up {
            self.in_system += 1;
        } else {
            self.in_system -= 1;
        }
    }

    /// A task arrived.
    #[inline]
    pub fn on_arrival(&mut self, now: Instant) {
        self.submitted += 1;
        self.current.arrivals += 1;
        if self.measured(now) {
            self.measured_tasks += 1;
        }
        if now >= self.warmup && now < self.end_of_arrivals {
            self.window_arrivals += 1;
        }
        self.change_in_system(now, true);
    }

    /// A task started its first service at `now`.
    #[inline]
    pub fn on_first_start(&mut self, now: Instant, arrival: Instant, priority: Priority) {
        if self.measured(arrival) {
            let w = (now - arrival).as_nanos();
            self.wait_sum += u128::from(w);
            self.waits += 1;
            let by = &mut self.wait_by_priority[priority as usize];
            by.0 += u128::from(w);
            by.1 += 1;
            self.count_overflow(w);
        }
    }

    /// An attempt of a task that arrived at `arrival` waited `wait` for
    /// the dispatcher.
    #[inline]
    pub fn on_dispatcher_wait(&mut self, arrival: Instant, wait: Duration) {
        if self.measured(arrival) {
            self.dispatcher_wait_sum += u128::from(wait.as_nanos());
        }
    }

    /// An agent finished serving a request it received at `received`.
    #[inline(always)]
    pub fn on_served(&mut self, now: Instant, agent: usize, received: Instant) {
        let latency_ns = now.0 - received.0;
        if self.served_log.capacity() == 0 {
            self.apply_served(agent, latency_ns);
            return;
        }
        self.served_log.push(ServedEnd {
            agent: agent as u32,
            latency_ns,
        });
        if self.served_log.len() == SERVED_BATCH {
            self.flush_served();
        }
    }

    /// Tests only: apply each request's end to its record at once, as a
    /// fleet below [`BATCH_SERVED_FROM`] agents does.
    #[cfg(test)]
    pub(crate) fn apply_served_at_once(&mut self) {
        self.served_log = Vec::new();
    }

    /// Add one request's latency to its agent's record.
    #[inline(always)]
    fn apply_served(&mut self, agent: usize, latency_ns: u64) {
        let served = &mut self.agent_served[agent];
        let (sum, wrapped) = served.sum_ns.overflowing_add(latency_ns);
        served.sum_ns = sum;
        if wrapped {
            self.agent_latency_wraps[agent] += 1;
        }
        let us = latency_ns / 1_000;
        served.latency.record(us.max(1), &self.agent_template);
    }

    /// Apply the requests' ends kept in `served_log`, in order.
    #[inline(never)]
    fn flush_served(&mut self) {
        let mut log = std::mem::take(&mut self.served_log);
        for e in &log {
            self.apply_served(e.agent as usize, e.latency_ns);
        }
        log.clear();
        self.served_log = log;
    }

    /// A task ended.
    #[inline(always)]
    pub fn on_outcome(&mut self, now: Instant, arrival: Instant, outcome: Outcome, attempts: u32) {
        self.change_in_system(now, false);
        match outcome {
            Outcome::Completed => {
                self.completed += 1;
                self.current.completions += 1;
                if self.measured(arrival) {
                    let l = (now - arrival).as_nanos();
                    self.latency_sum += u128::from(l);
                    self.latency_max = self.latency_max.max(l);
                    self.count_overflow(l);
                    self.latency.record(l);
                    self.bucket_latency.record(l);
                    if let Some(series) = &mut self.series {
                        series.push(LatencyObs {
                            arrival,
                            latency_ns: l,
                        });
                    }
                }
            }
            Outcome::Failed(cause) => {
                self.failed += 1;
                self.failed_by[cause as usize] += 1;
                self.current.failures += 1;
            }
            Outcome::Rejected => self.rejected += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
        if outcome != Outcome::Rejected {
            self.attempts_sum += u64::from(attempts);
            self.attempts_n += 1;
        }
    }

    /// Counts a latency or wait beyond the histograms' range (a latency
    /// is then recorded at the top; waits report an exact mean only).
    #[inline]
    fn count_overflow(&mut self, v: u64) {
        if v > HIGHEST_NS {
            self.histogram_overflow += 1;
        }
    }

    /// Tasks that arrived and have not ended.
    pub fn in_system(&self) -> u64 {
        self.in_system
    }

    /// Finish at `end`: close the last buckets and compute the results.
    ///
    /// The agents are consumed: each one's result is built in its place
    /// (an agent takes twice a result's bytes, with the same alignment, so
    /// the collect below reuses the agents' memory instead of faulting in
    /// a fresh 13 MB at 100,000 agents), and `more` fills in what the
    /// recorder does not keep (health, breakers, lifecycle times) from
    /// agent `i` before it goes.
    pub fn finish(
        mut self,
        end: Instant,
        gauges: Gauges,
        agents: Vec<crate::fleet::Agent>,
        events: u64,
        mut more: impl FnMut(usize, &crate::fleet::Agent, &mut AgentResult),
    ) -> RunResult {
        // Account the in-system area up to the end of the window.
        let clip = |t: Instant| t.clamp(self.warmup, self.end_of_arrivals);
        let (a, b) = (clip(self.last_change), clip(end));
        self.area += u128::from(self.in_system) * u128::from(b.0 - a.0);
        self.advance(end, gauges);
        if self.current.arrivals + self.current.completions + self.current.failures > 0
            || self.buckets.is_empty()
        {
            self.close_bucket(gauges);
        }
        let ms = |ns: f64| ns / NS_PER_MS as f64;
        let pct = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(q) as f64)
            }
        };
        let latency = self.latency.to_histogram();
        let mut calls = std::mem::take(&mut self.calls);
        if let [only] = &mut calls[..] {
            only.latency = latency.clone();
            only.latency_sum = self.latency_sum;
        }
        self.flush_served();
        let measured_completed = latency.len();
        let window = (self.end_of_arrivals.0 - self.warmup.0) as f64;
        let end_s = end.as_secs_f64();
        assert_eq!(
            agents.len(),
            self.agent_served.len(),
            "one latency recorder per agent"
        );
        let template = &self.agent_template;
        // Moved out, the agents are collected into their own allocation
        // (the results are smaller): borrowing them instead saves the copy
        // but keeps the fleet's vector beside a new one, 13 MB more peak
        // memory and a fifth more page faults at 100,000 agents.
        let agents_out = agents
            .into_iter()
            .zip(std::mem::take(&mut self.agent_served))
            .zip(&self.agent_latency_wraps)
            .enumerate()
            .map(|(i, ((a, record), &wraps))| {
                let latency_sum = u128::from(wraps) << 64 | u128::from(record.sum_ns);
                let h = record.latency;
                let served = a.served;
                let mut r = AgentResult {
                    tasks: served,
                    failures: a.failures,
                    utilization: if end.0 == 0 {
                        0.0
                    } else {
                        a.busy_time.as_nanos() as f64 / (f64::from(a.concurrency) * end.0 as f64)
                    },
                    latency_mean_ms: if served == 0 {
                        0.0
                    } else {
                        ms(latency_sum as f64 / served as f64)
                    },
                    latency_p99_ms: if h.is_empty() {
                        0.0
                    } else {
                        h.into_value_at_quantile(0.99, template) as f64 / 1_000.0
                    },
                    breaker_trips: 0,
                    unhealthy_s: 0.0,
                    down_s: 0.0,
                    breaker_open_s: 0.0,
                    degraded_s: 0.0,
                    present_s: 0.0,
                    registered_s: MaybeSecs::NONE,
                    serving_s: MaybeSecs::NONE,
                    drained_s: MaybeSecs::NONE,
                    first_sent_s: MaybeSecs::NONE,
                    last_sent_s: MaybeSecs::NONE,
                };
                more(i, &a, &mut r);
                r
            })
            .collect::<Vec<_>>();
        RunResult {
            submitted: self.submitted,
            completed: self.completed,
            failed: self.failed,
            rejected: self.rejected,
            cancelled: self.cancelled,
            failed_by: self.failed_by,
            retries: self.retries,
            retry_budget_exhausted: 0,
            success_rate: if self.submitted == 0 {
                0.0
            } else {
                self.completed as f64 / self.submitted as f64
            },
            throughput_per_s: self.completed as f64 / (self.end_of_arrivals.as_secs_f64()),
            latency_mean_ms: if measured_completed == 0 {
                0.0
            } else {
                ms(self.latency_sum as f64 / measured_completed as f64)
            },
            latency_p50_ms: pct(&latency, 0.50),
            latency_p95_ms: pct(&latency, 0.95),
            latency_p99_ms: pct(&latency, 0.99),
            latency_p999_ms: pct(&latency, 0.999),
            latency_max_ms: ms(self.latency_max as f64),
            latency_exact: ExactLatency {
                count: measured_completed,
                sum_ns: self.latency_sum,
                max_ns: self.latency_max,
            },
            wait_mean_ms: if self.waits == 0 {
                0.0
            } else {
                ms(self.wait_sum as f64 / self.waits as f64)
            },
            wait_mean_ms_by_priority: self.wait_by_priority.map(|(sum, n)| {
                if n == 0 {
                    0.0
                } else {
                    ms(sum as f64 / n as f64)
                }
            }),
            attempts_mean: if self.attempts_n == 0 {
                0.0
            } else {
                self.attempts_sum as f64 / self.attempts_n as f64
            },
            breaker_trips: 0,
            events,
            in_system_mean: if window > 0.0 {
                self.area as f64 / window
            } else {
                0.0
            },
            arrival_rate_per_s: if window > 0.0 {
                self.window_arrivals as f64 / (window / 1e9)
            } else {
                0.0
            },
            histogram_overflow: self.histogram_overflow,
            simulated_s: end_s,
            latency,
            agents: agents_out,
            buckets: self.buckets,
            jobs: Vec::new(),
            bus: crate::bus::BusStats::new(),
            attempts_per_task: if self.submitted == 0 {
                0.0
            } else {
                calls.iter().map(|c| c.attempts).sum::<u64>() as f64 / self.submitted as f64
            },
            agent_seconds: 0.0,
            calls,
            errors: Vec::new(),
            dispatcher_wait_mean_ms: {
                let measured = self.measured_tasks;
                if measured == 0 {
                    0.0
                } else {
                    ms(self.dispatcher_wait_sum as f64 / measured as f64)
                }
            },
            dispatcher_utilization: 0.0,
            work_done: 0.0,
            work_per_s: 0.0,
            fingerprint: 0,
            invariants: Invariants::default(),
            warmup_s: self.warmup.as_secs_f64(),
            latency_series: self.series.unwrap_or_default(),
        }
    }
}

/// One measured completed task: when it arrived and its end-to-end latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyObs {
    pub arrival: Instant,
    pub latency_ns: u64,
}

fn empty_bucket(start: Instant) -> Bucket {
    Bucket {
        start,
        arrivals: 0,
        completions: 0,
        failures: 0,
        in_flight: 0,
        queue_len: 0,
        queue_by_priority: [0; 4],
        latency_p99_ms: 0.0,
        healthy_agents: 0,
        open_breakers: 0,
        agents_down: 0,
        degraded_agents: 0,
        dispatcher_queue: 0,
        agents_serving: 0,
        agents_by_tier: Vec::new(),
    }
}

/// One agent's figures for a run (a row of `agents.csv`). Aligned as an
/// agent is, so that [`Recorder::finish`] builds the results in the
/// agents' memory.
#[derive(Clone, Debug, PartialEq)]
#[repr(align(64))]
pub struct AgentResult {
    pub tasks: u64,
    pub failures: u64,
    pub utilization: f64,
    pub latency_mean_ms: f64,
    pub latency_p99_ms: f64,
    pub breaker_trips: u64,
    pub unhealthy_s: f64,
    /// Time the agent was actually down or cut off.
    pub down_s: f64,
    /// Time its breaker spent OPEN.
    pub breaker_open_s: f64,
    /// Time its health monitor held it DEGRADED.
    pub degraded_s: f64,
    /// Time it was part of the fleet (starting, joining, serving or
    /// draining).
    pub present_s: f64,
    /// When it last registered, last became eligible, last began to
    /// drain; when the first request after its last registration, and the
    /// last request, were sent to it (`None`: never).
    pub registered_s: MaybeSecs,
    pub serving_s: MaybeSecs,
    pub drained_s: MaybeSecs,
    pub first_sent_s: MaybeSecs,
    pub last_sent_s: MaybeSecs,
}

// Two cache lines (a large fleet's results are built and read once): the
// size the cost estimate counts.
const _: () =
    assert!(std::mem::size_of::<AgentResult>() == crate::scenario::cost::AGENT_RESULT_BYTES);

/// A time in seconds, or none, in the 8 bytes of an `f64` (NaN stands for
/// none) where `Option<f64>` takes 16: an agent's result holds five, and a
/// fleet of 100,000 agents wrote 4 MB more for the difference.
#[derive(Clone, Copy, Debug)]
pub struct MaybeSecs(f64);

impl MaybeSecs {
    pub const NONE: MaybeSecs = MaybeSecs(f64::NAN);

    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl From<Option<f64>> for MaybeSecs {
    fn from(s: Option<f64>) -> MaybeSecs {
        match s {
            Some(s) => {
                debug_assert!(!s.is_nan(), "NaN stands for none");
                MaybeSecs(s)
            }
            None => MaybeSecs::NONE,
        }
    }
}

impl PartialEq for MaybeSecs {
    fn eq(&self, other: &MaybeSecs) -> bool {
        self.get() == other.get()
    }
}

/// End-to-end latency of the measured completed tasks, summed and maxed in
/// integer nanoseconds: what exactness tests compare against theory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactLatency {
    pub count: u64,
    pub sum_ns: u128,
    pub max_ns: u64,
}

/// Everything a run produces, deterministic (no wall-clock figures).
#[derive(Clone)]
pub struct RunResult {
    pub submitted: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected: u64,
    pub cancelled: u64,
    /// Failed tasks by [`Cause`], in `Cause::ALL` order.
    pub failed_by: [u64; Cause::ALL.len()],
    /// Retries sent, and retries a budget refused (the shared `[retry]`
    /// budget, a capability's own, or a caller's for a capability).
    pub retries: u64,
    pub retry_budget_exhausted: u64,
    pub success_rate: f64,
    pub throughput_per_s: f64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_max_ms: f64,
    /// The same latencies, exact to the nanosecond (no histogram).
    pub latency_exact: ExactLatency,
    pub wait_mean_ms: f64,
    /// Mean wait per priority, CRITICAL first (0 when none).
    pub wait_mean_ms_by_priority: [f64; 4],
    pub attempts_mean: f64,
    pub breaker_trips: u64,
    pub events: u64,
    /// Time-average number of tasks in the system over [warm-up, duration).
    pub in_system_mean: f64,
    /// Arrivals per second over [warm-up, duration).
    pub arrival_rate_per_s: f64,
    /// Latencies above the histogram's range (recorded at its top).
    pub histogram_overflow: u64,
    /// Virtual time at which the run ended.
    pub simulated_s: f64,
    /// The latency histogram (measured completed tasks), for CDFs.
    pub latency: Histogram<u64>,
    pub agents: Vec<AgentResult>,
    pub buckets: Vec<Bucket>,
    /// One record per job, in arrival order.
    pub jobs: Vec<JobRecord>,
    /// Messages on the bus, by kind, and their latency.
    pub bus: crate::bus::BusStats,
    /// Calls per capability in use (route order), tasks included.
    pub calls: Vec<CallStats>,
    /// Requests sent, at every hop, retries included, per task submitted.
    pub attempts_per_task: f64,
    /// Agent-seconds of the fleet: the time each agent was part of it
    /// (starting, joining, serving or draining), summed.
    pub agent_seconds: f64,
    /// What went wrong during the run and makes its results invalid (a
    /// trace file that changed or vanished after it was checked).
    pub errors: Vec<String>,
    /// Mean time a measured task spent queueing for the dispatcher (all
    /// its attempts); 0 without `[dispatcher]`.
    pub dispatcher_wait_mean_ms: f64,
    /// Busy routing slots over `[warmup, duration)`, divided by the
    /// dispatcher's concurrency (unlimited: the mean number busy).
    pub dispatcher_utilization: f64,
    /// Work units carried by completed tasks (0 when no task carries a
    /// work amount), and per second of `duration`.
    pub work_done: f64,
    pub work_per_s: f64,
    /// The trajectory fingerprint (`world/fingerprint.rs`): a hash over
    /// every event's time, kind and ids.
    pub fingerprint: u64,
    /// Breaches of the simulator's own invariants seen during the run
    /// (all zero unless the simulator is broken); read by `fleetsim
    /// swarm`, written to no report.
    pub invariants: Invariants,
    /// Start of the measured window, in seconds (`summary.csv`'s
    /// `warmup_s`: the scenario's, or the one `warmup = "auto"` chose).
    pub warmup_s: f64,
    /// Measured completed tasks in completion order, when the run was
    /// asked to keep them (`--batch-means`, `warmup = "auto"`); empty
    /// otherwise.
    pub latency_series: Vec<LatencyObs>,
}

/// Counters of broken invariants, kept cheaply during every run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Invariants {
    /// Events handled at a time before the previous event's.
    pub time_reversals: u64,
    /// Tasks given an outcome a second time.
    pub double_outcomes: u64,
    /// Breaker state changes outside `discovery::breaker::legal`.
    pub illegal_breaker_transitions: u64,
    /// Health status changes outside `discovery::health::legal`.
    pub illegal_health_transitions: u64,
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobOutcome {
    Completed,
    Failed,
    /// A saga that undid its completed stages.
    Compensated,
    /// Still running at the end of the drain.
    Cancelled,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Completed => "completed",
            JobOutcome::Failed => "failed",
            JobOutcome::Compensated => "compensated",
            JobOutcome::Cancelled => "cancelled",
        }
    }
}

/// One row of `jobs.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// Job number in arrival order (over all kinds).
    pub id: u64,
    /// Index of the job kind in the scenario.
    pub kind: u32,
    pub arrival: Instant,
    pub end: Instant,
    pub outcome: JobOutcome,
    pub stages_completed: u32,
    pub compensations: u32,
    /// Work units of the tasks of its completed stages.
    pub work: f64,
}

impl JobRecord {
    pub fn makespan(&self) -> Duration {
        self.end - self.arrival
    }
}

impl std::fmt::Debug for RunResult {
    /// The headline figures only: the histogram, agents and buckets would
    /// bury them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunResult")
            .field("submitted", &self.submitted)
            .field("completed", &self.completed)
            .field("failed", &self.failed)
            .field("rejected", &self.rejected)
            .field("cancelled", &self.cancelled)
            .field("latency_mean_ms", &self.latency_mean_ms)
            .field("latency_p99_ms", &self.latency_p99_ms)
            .field("wait_mean_ms", &self.wait_mean_ms)
            .field("events", &self.events)
            .field("simulated_s", &self.simulated_s)
            .field("agents", &self.agents.len())
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

impl RunResult {
    /// Hand back the memory the per-agent results do not fill. They are
    /// built in the agents' memory ([`Recorder::finish`]), which is twice
    /// their size: for a result kept beside others (replications, sweeps)
    /// until the reports are written. Shrinking copies them (the
    /// allocator moves a block of their alignment to shrink it), so a run
    /// whose result is the only one kept skips it.
    pub fn compact(&mut self) {
        self.agents.shrink_to_fit();
    }

    /// `submitted = completed + failed + rejected + cancelled`.
    pub fn conserved(&self) -> bool {
        self.submitted == self.completed + self.failed + self.rejected + self.cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An agent's latency record, its first values included, is one
    /// line on a line boundary.
    #[test]
    fn an_agents_latency_record_is_a_line() {
        assert_eq!(std::mem::size_of::<AgentServed>(), 64);
        assert_eq!(std::mem::align_of::<AgentServed>(), 64);
    }

    /// A large fleet's request ends, kept and applied in batches, leave
    /// every agent's record as applying each at once does: the same sum
    /// and the same quantiles, for agents with a few values (in place),
    /// dozens (a list) and hundreds (a histogram).
    #[test]
    fn batched_request_ends_make_the_same_records() {
        let agents = BATCH_SERVED_FROM;
        let new = || {
            Recorder::new(
                agents,
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::from_secs(1),
            )
        };
        let mut direct = new();
        direct.apply_served_at_once();
        let mut batched = new();
        assert_eq!(batched.served_log.capacity(), SERVED_BATCH);
        let mut x = 7_u64;
        for i in 0..5 * SERVED_BATCH + 17 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let agent = match i % 6 {
                0 => 4_000,
                1 | 2 => (x >> 62) as usize,
                _ => (x >> 33) as usize % agents,
            };
            let received = Instant((x >> 24) % 1_000_000_000_000);
            let now = received + Duration((x >> 8) % 80_000_000 + 1);
            direct.on_served(now, agent, received);
            batched.on_served(now, agent, received);
        }
        assert!(!batched.served_log.is_empty(), "some ends still kept");
        batched.flush_served();
        let record = |r: &Recorder, a: usize| {
            let s = &r.agent_served[a];
            let q = [0.5, 0.99, 1.0].map(|q| {
                s.latency
                    .clone()
                    .into_value_at_quantile(q, &r.agent_template)
            });
            (s.sum_ns, r.agent_latency_wraps[a], q)
        };
        assert!(matches!(
            direct.agent_served[4_000].latency,
            AgentLatency::Many(_)
        ));
        assert!(matches!(
            direct.agent_served[0].latency,
            AgentLatency::Few(_)
        ));
        for a in 0..agents {
            assert_eq!(record(&direct, a), record(&batched, a), "agent {a}");
        }
    }
}
