//! Looking inside a run: the event log (one row per event the loop pops,
//! with the decisions its handler took) and the per-task records (one row
//! per task and per dispatcher attempt), handed to a [`Sink`] as the run
//! goes, so memory stays constant whatever the run's length.
//!
//! Why a sink and not a file: the world writes no file (the harness owns
//! the CSV writers, `harness/trace.rs`), and `fleetsim diff` wants the same
//! rows in memory. Off by default: the run loop then only tests that no
//! tracer is set, once before and once after each event.
//!
//! Decisions are what a handler chose, in its domain's words: the agent
//! the balancer picked (or that none was eligible), a breaker's transition,
//! a health state change, an agent's eligibility for the balancer, a
//! retry's backoff, and a task's outcome. Where the ideas come from: Ciw's
//! per-customer records, OMNeT++'s event log, salabim's trace.

use super::{Event, NO_CALL, Place, World};
use crate::discovery::breaker::Kind;
use crate::discovery::health::Status;
use crate::metrics::{Cause, Outcome};
use crate::orchestration::task_queue::Priority;
use crate::time::Instant;

/// One event, as the loop handled it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// The event's number in the run, from 1.
    pub seq: u64,
    pub time: Instant,
    pub kind: &'static str,
    /// The task (its number in arrival order, from 0), if the event
    /// concerns one.
    pub task: Option<u64>,
    /// The request slot, for a request's events.
    pub req: Option<u32>,
    /// The agent the event concerns (or the one the balancer picked).
    pub agent: Option<u32>,
    /// What the handler decided, `; `-separated (empty: nothing worth a
    /// note, e.g. a stale event for a reused slot).
    pub decision: String,
}

/// One task, at its end.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub id: u64,
    pub arrival: Instant,
    pub priority: Priority,
    /// The capability (route) label, `*` for any agent.
    pub capability: String,
    pub attempts: u32,
    pub end: Instant,
    pub outcome: Outcome,
}

/// One attempt of a task (a request the dispatcher sent), when it settles.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRow {
    pub task: u64,
    /// The task's arrival (filters select tasks by it).
    pub arrival: Instant,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub agent: u32,
    pub sent: Instant,
    /// When it reached the agent, took a slot and its reply left (`None`:
    /// it did not get that far, as far as the dispatcher's books say).
    pub received: Option<Instant>,
    pub service_start: Option<Instant>,
    pub replied: Option<Instant>,
    /// When the dispatcher settled it (reply, timeout, deadline, end).
    pub settled: Instant,
    /// `None`: success.
    pub cause: Option<AttemptEnd>,
    /// The agent that made the call (`None`: the dispatcher, for a task's
    /// own attempt).
    pub caller: Option<u32>,
    /// The capability (route) called, as in `calls.csv`.
    pub capability: String,
}

/// Why an attempt did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    Failed(Cause),
    /// Its task was cancelled (deadline, end of the drain) while it was
    /// out.
    Cancelled,
}

impl AttemptEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptEnd::Failed(c) => c.as_str(),
            AttemptEnd::Cancelled => "cancelled",
        }
    }
}

/// Where the rows go. `events`, `records` say which kinds are wanted (the
/// world skips building the others).
pub trait Sink {
    fn events(&self) -> bool {
        true
    }
    fn records(&self) -> bool {
        false
    }
    fn event(&mut self, _row: &EventRow) {}
    fn task(&mut self, _row: &TaskRow) {}
    fn attempt(&mut self, _row: &AttemptRow) {}
    /// After event `seq` is handled: the sink wants the state of the
    /// agents involved ([`Sink::snapshot`]).
    fn snapshot_at(&self) -> Option<u64> {
        None
    }
    /// The state of each agent involved in the event (one line each).
    fn snapshot(&mut self, _lines: Vec<String>) {}
}

/// The world's side of tracing: the sink, the row being built, and each
/// request slot's task number and attempt.
pub(super) struct Tracer<'s> {
    sink: &'s mut dyn Sink,
    events: bool,
    records: bool,
    row: EventRow,
    /// Agents named by the decisions (for a snapshot).
    involved: Vec<u32>,
    /// By request slot: the task number, attempt and arrival it carries.
    req_task: Vec<(u64, u32, Instant)>,
    /// By call slot: the task (number, arrival) whose tree it belongs to.
    call_task: Vec<(u64, Instant)>,
}

impl<'s> Tracer<'s> {
    pub(super) fn new(sink: &'s mut dyn Sink) -> Tracer<'s> {
        Tracer {
            events: sink.events(),
            records: sink.records(),
            sink,
            row: EventRow {
                seq: 0,
                time: Instant::ZERO,
                kind: "",
                task: None,
                req: None,
                agent: None,
                decision: String::new(),
            },
            involved: Vec::new(),
            req_task: Vec::new(),
            call_task: Vec::new(),
        }
    }
}

impl Tracer<'_> {
    /// Add a decision to the current event's row.
    fn note(&mut self, agent: Option<u32>, text: std::fmt::Arguments) {
        if !self.events && self.sink.snapshot_at().is_none() {
            return;
        }
        use std::fmt::Write;
        if !self.row.decision.is_empty() {
            self.row.decision.push_str("; ");
        }
        let _ = self.row.decision.write_fmt(text);
        if let Some(a) = agent {
            if self.row.agent.is_none() {
                self.row.agent = Some(a);
            }
            self.involved.push(a);
        }
    }

    /// The dispatcher's breaker for agent `a` in a capability with its own
    /// breaker settings went `from` → `to`.
    #[cold]
    pub(super) fn note_route_breaker(&mut self, a: u32, from: Kind, to: Kind) {
        self.note(
            Some(a),
            format_args!(
                "breaker of agent {a} (capability's own): {} -> {}",
                breaker_str(from),
                breaker_str(to)
            ),
        );
    }
}

fn status_str(s: Option<Status>) -> &'static str {
    s.map_or("healthy", Status::as_str)
}

fn breaker_str(k: Kind) -> &'static str {
    match k {
        Kind::Closed => "closed",
        Kind::Open => "open",
        Kind::HalfOpen => "half_open",
    }
}

impl World<'_> {
    /// The event about to be handled: fill the row's ids (before the
    /// handler frees any slot).
    #[cold]
    pub(super) fn trace_begin(&mut self, now: Instant, event: &Event) {
        let seq = self.engine.events_processed();
        let (mut task, mut req, mut agent) = (None, None, None);
        let task_of = |w: &World, t: u32, epoch: u32| {
            let tk = &w.tasks[t as usize];
            (tk.epoch == epoch).then_some(tk.id)
        };
        match *event {
            Event::Retry { task: t, epoch }
            | Event::Deadline { task: t, epoch }
            | Event::Routed { task: t, epoch } => task = task_of(self, t, epoch),
            Event::Deliver { req: r, epoch }
            | Event::Done { req: r, epoch }
            | Event::Reply { req: r, epoch }
            | Event::Timeout { req: r, epoch, .. }
                if self.current(r, epoch) =>
            {
                let q = &self.reqs[r as usize];
                req = Some(r);
                agent = Some(q.agent);
                if q.call == NO_CALL {
                    task = self
                        .trace
                        .as_ref()
                        .and_then(|t| t.req_task.get(r as usize).map(|&(id, _, _)| id));
                }
            }
            Event::Probe { agent: a }
            | Event::ProbeArrives { agent: a, .. }
            | Event::ProbeTimeout { agent: a, .. }
            | Event::Heartbeat { agent: a }
            | Event::HeartbeatAfter { agent: a }
            | Event::HeartbeatArrives { agent: a, .. }
            | Event::BreakerTimer { agent: a }
            | Event::Availability { agent: a }
            | Event::PublishArrives { agent: a, .. }
            | Event::AgentStarted { agent: a, .. } => agent = Some(a),
            Event::ProbeDone { msg, .. } | Event::ProbeReply { msg, .. } => {
                agent = Some(self.probe_msgs[msg as usize].agent)
            }
            _ => {}
        }
        let Some(tr) = self.trace.as_mut() else {
            return;
        };
        tr.row.seq = seq;
        tr.row.time = now;
        tr.row.kind = event.kind();
        tr.row.task = task;
        tr.row.req = req;
        tr.row.agent = agent;
        tr.row.decision.clear();
        tr.involved.clear();
        tr.involved.extend(agent);
    }

    /// The event has been handled: hand its row to the sink, and the
    /// agents' state if the sink asked for it at this event.
    #[cold]
    pub(super) fn trace_end(&mut self) {
        let Some(tr) = self.trace.as_mut() else {
            return;
        };
        if tr.events {
            tr.sink.event(&tr.row);
        }
        if tr.sink.snapshot_at() == Some(tr.row.seq) {
            let mut agents = tr.involved.clone();
            agents.sort_unstable();
            agents.dedup();
            let lines = agents.iter().map(|&a| self.describe_agent(a)).collect();
            if let Some(tr) = self.trace.as_mut() {
                tr.sink.snapshot(lines);
            }
        }
    }

    /// Add a decision to the current event's row.
    #[cold]
    fn note(&mut self, agent: Option<u32>, text: std::fmt::Arguments) {
        if let Some(tr) = self.trace.as_mut() {
            tr.note(agent, text);
        }
    }

    /// A new task got number `id`.
    #[inline(always)]
    pub(super) fn trace_arrival(&mut self, id: u64) {
        if self.trace.is_some() {
            self.trace_arrival_traced(id);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_arrival_traced(&mut self, id: u64) {
        if self.trace.is_none() {
            return;
        }
        if let Some(tr) = self.trace.as_mut()
            && tr.row.task.is_none()
        {
            tr.row.task = Some(id);
        }
        self.note(None, format_args!("task {id} arrives"));
    }

    /// The balancer picked pool slot `slot` (agent `agent`) for task `t`'s
    /// attempt, sent as request `r`.
    #[inline(always)]
    pub(super) fn trace_pick(&mut self, t: u32, agent: Option<u32>, r: Option<u32>) {
        if self.trace.is_some() {
            self.trace_pick_traced(t, agent, r);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_pick_traced(&mut self, t: u32, agent: Option<u32>, r: Option<u32>) {
        if self.trace.is_none() {
            return;
        }
        let task = &self.tasks[t as usize];
        let (id, attempt, arrival) = (task.id, task.attempts, task.arrival);
        if let Some(tr) = self.trace.as_mut() {
            if tr.row.task.is_none() {
                tr.row.task = Some(id);
            }
            if let Some(r) = r {
                let r = r as usize;
                if tr.req_task.len() <= r {
                    tr.req_task.resize(r + 1, (0, 0, Instant::ZERO));
                }
                tr.req_task[r] = (id, attempt, arrival);
            }
        }
        match agent {
            Some(a) => self.note(
                Some(a),
                format_args!("task {id} attempt {attempt}: balancer picks agent {a}"),
            ),
            None => self.note(
                None,
                format_args!("task {id} attempt {attempt}: no eligible agent"),
            ),
        }
    }

    /// Agent `a`'s breaker (the dispatcher's) went `from` → `to`.
    #[inline]
    pub(super) fn trace_breaker(&mut self, a: u32, from: Kind, to: Kind) {
        if self.trace.is_some() {
            self.note(
                Some(a),
                format_args!(
                    "breaker of agent {a}: {} -> {}",
                    breaker_str(from),
                    breaker_str(to)
                ),
            );
        }
    }

    /// Agent `a`'s health status or eligibility changed.
    #[inline]
    pub(super) fn trace_view(&mut self, a: u32, old: super::View, new: super::View) {
        if self.trace.is_none() {
            return;
        }
        let health = |v: super::View| {
            if !v.healthy {
                "unhealthy"
            } else if v.degraded {
                "degraded"
            } else {
                "healthy"
            }
        };
        if health(old) != health(new) {
            self.note(
                Some(a),
                format_args!("health of agent {a}: {} -> {}", health(old), health(new)),
            );
        }
        let up = |v: super::View| v.live && v.healthy && v.serving && v.admits;
        if up(old) != up(new) {
            let s = if up(new) { "eligible" } else { "not eligible" };
            self.note(Some(a), format_args!("agent {a} {s} for the balancer"));
        }
    }

    /// Task `t` will be retried after `delay`.
    #[inline]
    pub(super) fn trace_retry(&mut self, t: u32, delay: crate::time::Duration, cause: Cause) {
        if self.trace.is_none() {
            return;
        }
        let id = self.tasks[t as usize].id;
        self.note(
            None,
            format_args!(
                "task {id} attempt failed ({}): retry in {} s",
                cause.as_str(),
                secs(Instant(delay.as_nanos()))
            ),
        );
    }

    /// Task `t` ended with `outcome` (a note, and its record).
    #[inline(always)]
    pub(super) fn trace_end_task(&mut self, now: Instant, t: u32, outcome: Outcome) {
        if self.trace.is_some() {
            self.trace_end_task_traced(now, t, outcome);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_end_task_traced(&mut self, now: Instant, t: u32, outcome: Outcome) {
        if self.trace.is_none() {
            return;
        }
        let task = self.tasks[t as usize];
        let id = task.id;
        let text = outcome_str(outcome);
        self.note(None, format_args!("task {id} {text}"));
        if let Some(tr) = self.trace.as_mut()
            && tr.records
        {
            tr.sink.task(&TaskRow {
                id,
                arrival: task.arrival,
                priority: task.priority,
                capability: self.route_caps[task.route as usize].label(),
                attempts: task.attempts,
                end: now,
                outcome,
            });
        }
    }

    /// Request `r` (a task's attempt) is settled at `now`.
    #[inline(always)]
    pub(super) fn trace_attempt(&mut self, now: Instant, r: u32, cause: Option<AttemptEnd>) {
        if self.trace.is_some() {
            self.trace_attempt_traced(now, r, cause);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_attempt_traced(&mut self, now: Instant, r: u32, cause: Option<AttemptEnd>) {
        let Some(tr) = self.trace.as_mut() else {
            return;
        };
        if !tr.records {
            return;
        }
        let q = &self.reqs[r as usize];
        let &(task, attempt, arrival) =
            tr.req_task
                .get(r as usize)
                .unwrap_or(&(0, 0, Instant::ZERO));
        use super::Phase;
        let reached = !matches!(q.phase, Phase::ToAgent);
        let served = !matches!(q.phase, Phase::ToAgent | Phase::Queued);
        let replied = matches!(q.phase, Phase::ToCaller);
        let (caller, capability) = (
            (q.call != super::NO_CALL).then_some(q.caller.0),
            self.route_caps[q.route as usize].label(),
        );
        tr.sink.attempt(&AttemptRow {
            caller,
            capability,
            task,
            arrival,
            attempt,
            agent: q.agent,
            sent: q.dispatched,
            received: (reached && q.received >= q.dispatched).then_some(q.received),
            service_start: (served && q.service_start >= q.dispatched).then_some(q.service_start),
            replied: replied.then_some(q.replied),
            settled: now,
            cause,
        });
    }

    /// Call `c` starts on behalf of request `parent`: it belongs to the
    /// same task's tree (records only).
    #[inline]
    pub(super) fn trace_call_start(&mut self, c: u32, parent: u32) {
        let Some(tr) = self.trace.as_mut().filter(|t| t.records) else {
            return;
        };
        let &(id, _, arrival) = tr
            .req_task
            .get(parent as usize)
            .unwrap_or(&(0, 0, Instant::ZERO));
        let c = c as usize;
        if tr.call_task.len() <= c {
            tr.call_task.resize(c + 1, (0, Instant::ZERO));
        }
        tr.call_task[c] = (id, arrival);
    }

    /// Call `c`'s attempt `attempt` goes out as request `r` (records only).
    #[inline]
    pub(super) fn trace_call_attempt(&mut self, c: u32, attempt: u32, r: u32) {
        let Some(tr) = self.trace.as_mut().filter(|t| t.records) else {
            return;
        };
        let &(id, arrival) = tr.call_task.get(c as usize).unwrap_or(&(0, Instant::ZERO));
        let r = r as usize;
        if tr.req_task.len() <= r {
            tr.req_task.resize(r + 1, (0, 0, Instant::ZERO));
        }
        tr.req_task[r] = (id, attempt, arrival);
    }

    /// At the end of the drain, the calls' attempts still out: one record
    /// each (cancelled), in call slot order.
    pub(super) fn trace_cancel_calls_left(&mut self, end: Instant) {
        if !self.trace.as_ref().is_some_and(|t| t.records) {
            return;
        }
        let live = self.live_calls();
        for c in (0..self.calls.len()).filter(|&c| live[c]) {
            let r = self.calls[c].req;
            if r != super::NO_CALL && !self.reqs[r as usize].answered {
                self.trace_attempt(end, r, Some(AttemptEnd::Cancelled));
            }
        }
    }

    /// At the end of the drain, the attempts still out (their tasks are
    /// cancelled): one record each, in task slot order.
    pub(super) fn trace_cancel_left(&mut self, end: Instant, live: &[bool]) {
        if !self.trace.as_ref().is_some_and(|t| t.records) {
            return;
        }
        for (i, _) in live.iter().enumerate().filter(|(_, l)| **l) {
            if let Place::InFlight { req } = self.tasks[i].place {
                self.trace_attempt(end, req, Some(AttemptEnd::Cancelled));
            }
            self.trace_end_task(end, i as u32, Outcome::Cancelled);
        }
    }

    /// One line on agent `a`: its tier, what the dispatcher believes, its
    /// breaker, health and balancer state, and its load.
    fn describe_agent(&self, a: u32) -> String {
        let i = a as usize;
        let ag = &self.agents[i];
        let v = self.views[i];
        let tier = &self.sc.tiers[ag.tier as usize].name;
        let breaker = match self.breakers.get(i).map(|b| b.state()) {
            None => "none".to_string(),
            Some(crate::discovery::breaker::State::Closed { failures }) => {
                format!("closed ({failures} consecutive failures)")
            }
            Some(crate::discovery::breaker::State::Open { until }) => {
                format!("open until {}", secs(until))
            }
            Some(crate::discovery::breaker::State::HalfOpen {
                in_flight,
                successes,
            }) => format!("half_open ({in_flight} trial calls out, {successes} succeeded)"),
        };
        let health = status_str(self.monitors.get(i).map(|m| m.status()));
        let mut balancer = String::new();
        for &(route, slot) in &self.memberships[i] {
            let b = &self.routes[route as usize].balancer;
            if !balancer.is_empty() {
                balancer.push_str(", ");
            }
            balancer.push_str(&format!(
                "{} slot {slot}: {}, {} in flight, {} of {} eligible",
                self.route_caps[route as usize].label(),
                if b.is_eligible(slot as usize) {
                    "eligible"
                } else {
                    "not eligible"
                },
                b.inflight(slot as usize),
                b.eligible_count(),
                b.len()
            ));
        }
        format!(
            "agent {a} ({tier}): {}{}; breaker {breaker}; health {health}; registry {}; \
             balancer [{balancer}]; {} busy of {} slots, {} queued, {} served, {} failed",
            if ag.unavailable || ag.faulted() {
                "DOWN"
            } else {
                "up"
            },
            if v.serving { "" } else { " (not serving)" },
            if v.live { "live" } else { "lease expired" },
            ag.busy,
            ag.concurrency,
            ag.queue.len(),
            ag.served,
            ag.failures,
        )
    }
}

/// A task's outcome in words (`completed`, `failed timeout`, ...).
pub fn outcome_str(o: Outcome) -> String {
    match o {
        Outcome::Completed => "completed".into(),
        Outcome::Failed(c) => format!("failed {}", c.as_str()),
        Outcome::Rejected => "rejected".into(),
        Outcome::Cancelled => "cancelled".into(),
    }
}

/// Seconds with nanosecond resolution (`12.000000250`).
pub fn secs(t: Instant) -> String {
    format!("{}.{:09}", t.0 / 1_000_000_000, t.0 % 1_000_000_000)
}
