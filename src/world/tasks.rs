//! A task's life at the dispatcher: arrival, the central priority queue and
//! its worker limit, retries after a backoff, the deadline, and its one
//! outcome.
//!
//! A task draws its priority, its size (a quantile) and its failure seed
//! where it arises, from named streams, so every strategy compared on one
//! seed sees the same tasks. A plain task of a source with `work` draws
//! its work amount on arrival from that source's `work_amount` stream (a
//! job's stage tasks get theirs in `world/jobs.rs`); retries keep it, and
//! a completed task adds it to `work_done`. With `workers = 0` it is routed at once;
//! otherwise it waits in the queue until fewer than `workers` requests are
//! in flight. A failed attempt is retried when the retry policy and budget
//! allow; a deadline cancels the task wherever it is. Task slots are reused;
//! events carry the slot's epoch so a stale one is ignored.

use rand::Rng;

use super::{Event, Given, NO_JOB, Phase, Place, Task, World};
use crate::metrics::{Cause, Outcome};
use crate::rng::{Quantile, unit};
use crate::scenario::Workload;
use crate::time::Instant;

impl World<'_> {
    #[inline]
    pub(super) fn schedule_next_arrival(&mut self, source: u32) {
        let src = &mut self.sources[source as usize];
        match src.process.next_arrival(&mut src.rng) {
            Some(t) if t < self.end_of_arrivals => {
                let event = Event::Arrival { source };
                if source == 0 && self.arrivals_beside {
                    self.engine.schedule_beside(t, event)
                } else {
                    self.engine.schedule(t, event)
                }
                .expect("arrival processes move forward in time");
            }
            _ => self.sources_live -= 1,
        }
    }

    #[inline]
    pub(super) fn alloc(&mut self, mut task: Task) -> u32 {
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
    pub(super) fn release(&mut self, t: u32) {
        let task = &mut self.tasks[t as usize];
        task.epoch = task.epoch.wrapping_add(1);
        self.free.push(t);
    }

    pub(super) fn on_arrival(&mut self, now: Instant, source: u32) {
        let src = &mut self.sources[source as usize];
        match src.job {
            None => {
                // One draw per task, even when a trace row gives the
                // amount, so the stream stays aligned.
                let drawn = match (&src.work, &mut src.work_rng) {
                    (Some(w), Some(rng)) => Some(w.quantile(unit(rng))),
                    _ => None,
                };
                let (route, given) = match src.process.row() {
                    None => (
                        src.route,
                        Given {
                            priority: None,
                            work: drawn,
                        },
                    ),
                    Some(row) => (
                        row.capability
                            .map_or(src.route, |c| src.trace_routes[c as usize]),
                        Given {
                            priority: row.priority,
                            work: row.work.or(drawn),
                        },
                    ),
                };
                self.submit(now, route, NO_JOB, 0, false, given);
            }
            Some(kind) => {
                let work_seed = src.work_rng.as_mut().map_or(0, |r| r.next_u64());
                self.start_job(now, kind, work_seed);
            }
        }
        self.schedule_next_arrival(source);
    }

    /// A new task arrives at the dispatcher (a plain task, or one of a
    /// job's stage or compensation tasks).
    pub(super) fn submit(
        &mut self,
        now: Instant,
        route: u32,
        job: u32,
        stage: u16,
        compensation: bool,
        given: Given,
    ) {
        // Drawn even when the trace gives them, so the streams stay aligned.
        let drawn = match self.certain_priority {
            Some(p) => p,
            None => Workload::priority_at(&self.priorities, unit(&mut self.rng.priority)),
        };
        let priority = given.priority.unwrap_or(drawn);
        let q = unit(&mut self.rng.work);
        let work_q = if self.exp_service {
            Quantile::with_exp(q)
        } else {
            Quantile::new(q)
        };
        let fail_seed = if self.failure_draws {
            self.rng.failures.next_u64()
        } else {
            0
        };
        let job_id = self.job_id(job);
        let id = self.next_task;
        self.next_task += 1;
        let t = self.alloc(Task {
            epoch: 0,
            id,
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
            job_id,
            stage,
            compensation,
            last_delay: None,
            last_cause: Cause::Error,
            ended: false,
        });
        self.trace_arrival(id);
        self.metrics.on_arrival(now);
        self.metrics.on_call(route as usize);
        if let Some(d) = self.sc.workload.deadline {
            self.start_deadline(t, d);
        }
        self.dispatch(now, t, Outcome::Rejected);
    }

    /// Past the dispatcher: route a task now (`workers = 0`) or queue it; a
    /// full queue ends it with `when_full`.
    #[inline(always)]
    pub(super) fn after_routing(&mut self, now: Instant, t: u32, when_full: Outcome) {
        self.tasks[t as usize].place = Place::Queued;
        if self.workers == 0 {
            self.route(now, t);
        } else if self.queue.is_empty() && !self.pumping && self.outstanding < self.workers {
            // It would be queued and, being alone there, popped at once.
            self.pump_from(now, Some(t));
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
    pub(super) fn fail_or_retry(&mut self, now: Instant, t: u32, cause: Cause) {
        self.tasks[t as usize].last_cause = cause;
        let route = self.tasks[t as usize].route;
        if let Some(rc) = &self.policies[route as usize].retry {
            let task = self.tasks[t as usize];
            if let Some(delay) =
                rc.policy
                    .next_delay(task.attempts.max(1), task.last_delay, &mut self.rng.retry)
            {
                let budget = self
                    .budget_of(route)
                    .expect("a budget with every retry policy");
                if budget.withdraw(now) {
                    let task = &mut self.tasks[t as usize];
                    task.place = Place::Backoff;
                    task.last_delay = Some(delay);
                    let epoch = task.epoch;
                    self.metrics.retries += 1;
                    self.trace_retry(t, delay, cause);
                    self.engine
                        .schedule_after(delay, Event::Retry { task: t, epoch });
                    return;
                }
            }
        }
        self.end_task(now, t, Outcome::Failed(cause));
    }

    pub(super) fn on_retry(&mut self, now: Instant, t: u32) {
        let cause = self.tasks[t as usize].last_cause;
        self.dispatch(now, t, Outcome::Failed(cause));
    }

    /// Dispatch queued tasks while fewer than `workers` are in flight. Not
    /// re-entered: a request settled inline (zero latency, refused) frees
    /// its place for this same loop instead of recursing.
    pub(super) fn pump(&mut self, now: Instant) {
        self.pump_from(now, None);
    }

    /// [`Self::pump`], routing `first` before anything queued: a task that
    /// would have been the only one in the queue when the pump began.
    #[inline]
    fn pump_from(&mut self, now: Instant, mut first: Option<u32>) {
        if self.pumping {
            return;
        }
        self.pumping = true;
        while self.outstanding < self.workers {
            let t = match first.take() {
                Some(t) => t,
                None => match self.queue.pop(now) {
                    Some((_, t)) => t,
                    None => break,
                },
            };
            self.route(now, t);
        }
        self.pumping = false;
    }

    /// The task's deadline passed: cancel it wherever it is.
    pub(super) fn on_deadline(&mut self, now: Instant, t: u32) {
        let task = self.tasks[t as usize];
        match task.place {
            Place::Queued => {
                let removed = self.queue.cancel(task.priority, &t);
                debug_assert!(removed, "queued task {t} not in the queue");
            }
            Place::InFlight { req } => {
                self.trace_attempt(now, req, Some(super::trace::AttemptEnd::Cancelled));
                self.abandon(now, req);
                if self.reqs[req as usize].phase == Phase::Lost {
                    self.release_req(req);
                }
            }
            Place::AtDispatcher => self.leave_dispatcher(t),
            // The routing decision runs on; its end finds the task gone.
            Place::Backoff | Place::Routing => {}
        }
        self.end_task(now, t, Outcome::Cancelled);
        if self.workers > 0 {
            self.pump(now);
        }
    }

    #[inline(always)]
    pub(super) fn end_task(&mut self, now: Instant, t: u32, outcome: Outcome) {
        self.trace_end_task(now, t, outcome);
        let task = self.tasks[t as usize];
        if task.ended {
            self.checks.double_outcomes += 1;
        }
        self.tasks[t as usize].ended = true;
        let route = task.route as usize;
        match outcome {
            Outcome::Completed => self
                .metrics
                .on_task_call_end(now, route, task.arrival, None),
            Outcome::Failed(c) => self
                .metrics
                .on_task_call_end(now, route, task.arrival, Some(c)),
            Outcome::Rejected | Outcome::Cancelled => self.metrics.on_call_cancelled(route),
        }
        self.metrics
            .on_outcome(now, task.arrival, outcome, task.attempts);
        let work = match (outcome, task.work) {
            (Outcome::Completed, Some(w)) => w,
            _ => 0.0,
        };
        self.work_done += work;
        self.last_outcome = now;
        self.release(t);
        if task.job != NO_JOB {
            self.job_task_ended(now, &task, outcome, work);
        }
    }

    /// At the end of the drain: every task still queued, travelling or in
    /// service is cancelled, in slot order (deterministic).
    pub(super) fn cancel_everything_left(&mut self, end: Instant) {
        let mut live = vec![true; self.tasks.len()];
        for &f in &self.free {
            live[f as usize] = false;
        }
        for (i, task) in self.tasks.iter().enumerate() {
            if live[i] && task.ended {
                self.checks.double_outcomes += 1;
            }
            if live[i] {
                self.metrics
                    .on_outcome(end, task.arrival, Outcome::Cancelled, task.attempts);
                self.metrics.on_call_cancelled(task.route as usize);
            }
        }
        self.trace_cancel_left(end, &live);
        self.trace_cancel_calls_left(end);
        for route in self.calls_left() {
            self.metrics.on_call_cancelled(route as usize);
        }
        for i in (0..self.tasks.len()).filter(|&i| live[i]) {
            self.release(i as u32);
        }
        self.queue.drain().for_each(drop);
        self.clear_dispatcher();
        self.outstanding = 0;
        assert_eq!(
            self.metrics.in_system(),
            0,
            "tasks left in the system after cancelling everything"
        );
    }
}
