//! The dispatcher as a server (`[dispatcher]`): every attempt of a task,
//! the first and each retry, waits for one of `concurrency` routing slots
//! (FIFO within priority, CRITICAL first), holds it for a `service_time`
//! draw from the `dispatcher` stream, and only then goes on to the
//! `[dispatch]` workers limit and the balancer's pick. Calls between agents
//! do not pass through it.
//!
//! Why: the reference platform's control plane is itself a process; a
//! routing decision that costs time caps the fleet's throughput at
//! `concurrency / E[service_time]` whatever the agents can do, and adds its
//! queueing to every task's latency. With one slot and constant time it is
//! an M/D/1 queue under Poisson arrivals (Pollaczek–Khinchine:
//! `Wq = λd² / (2(1 − λd))`).
//!
//! A `dispatcher_down` fault (which needs no table) makes it refuse new
//! work: an arriving task or a due retry fails at once with cause
//! `no_dispatcher`, or, with `queue_while_down = true`, waits in the queue
//! until the dispatcher is back. Work it had already accepted (queued or
//! being routed) is kept, and requests in flight are unaffected. Without
//! the table (and without such a fault) routing is free and unlimited and
//! schedules no event, exactly as before.

use std::collections::VecDeque;

use super::{Event, Place, World};
use crate::metrics::{Cause, Outcome};
use crate::time::Instant;

/// The dispatcher's queue, busy slots and outage state.
#[derive(Debug, Default)]
pub(super) struct Dispatcher {
    /// Waiting attempts (task, since when) per priority, CRITICAL first.
    queue: [VecDeque<(u32, Instant)>; 4],
    busy: u32,
    /// `dispatcher_down` faults in force.
    down: u32,
    /// Busy slots × nanoseconds over `[warmup, duration)`.
    busy_area: u128,
    last_change: Instant,
}

impl Dispatcher {
    pub(super) fn queue_len(&self) -> u64 {
        self.queue.iter().map(|q| q.len() as u64).sum()
    }
}

impl World<'_> {
    /// A task (or its retry) is ready to be routed: through the
    /// dispatcher, or at once (`after_routing`) when routing is free.
    #[inline]
    pub(super) fn dispatch(&mut self, now: Instant, t: u32, when_full: Outcome) {
        let queue_while_down = self
            .sc
            .dispatcher
            .as_ref()
            .is_some_and(|d| d.queue_while_down);
        if self.disp.down > 0 && !queue_while_down {
            self.end_task(now, t, Outcome::Failed(Cause::NoDispatcher));
            return;
        }
        if self.sc.dispatcher.is_none() {
            self.after_routing(now, t, when_full);
            return;
        }
        let task = &mut self.tasks[t as usize];
        task.place = Place::AtDispatcher;
        self.disp.queue[task.priority as usize].push_back((t, now));
        self.serve_dispatcher(now);
    }

    /// Start routing decisions while slots are free and the dispatcher is up.
    pub(super) fn serve_dispatcher(&mut self, now: Instant) {
        let Some(cfg) = &self.sc.dispatcher else {
            return;
        };
        while self.disp.down == 0 && (cfg.concurrency == 0 || self.disp.busy < cfg.concurrency) {
            let Some((t, since)) = self.disp.queue.iter_mut().find_map(VecDeque::pop_front) else {
                break;
            };
            let task = &mut self.tasks[t as usize];
            task.place = Place::Routing;
            let (arrival, epoch) = (task.arrival, task.epoch);
            self.metrics.on_dispatcher_wait(arrival, now - since);
            self.change_dispatcher_busy(now, true);
            let d = cfg.service_time.sample(&mut self.rng.dispatcher);
            self.engine
                .schedule_after(d, Event::Routed { task: t, epoch });
        }
    }

    /// A routing decision is over: the slot is free whatever became of the
    /// task meanwhile; a task still waiting for it goes on.
    pub(super) fn on_routed(&mut self, now: Instant, t: u32, epoch: u32) {
        self.change_dispatcher_busy(now, false);
        let task = self.tasks[t as usize];
        if task.epoch == epoch && task.place == Place::Routing {
            let when_full = if task.attempts == 0 {
                Outcome::Rejected
            } else {
                Outcome::Failed(task.last_cause)
            };
            self.after_routing(now, t, when_full);
        }
        self.serve_dispatcher(now);
    }

    /// A task waiting for the dispatcher is cancelled: take it out.
    pub(super) fn leave_dispatcher(&mut self, t: u32) {
        let q = &mut self.disp.queue[self.tasks[t as usize].priority as usize];
        let i = q
            .iter()
            .position(|&(x, _)| x == t)
            .unwrap_or_else(|| panic!("task {t} waits for the dispatcher but is not in its queue"));
        q.remove(i);
    }

    /// A `dispatcher_down` fault starts or ends.
    pub(super) fn on_dispatcher_fault(&mut self, now: Instant, starts: bool) {
        if starts {
            self.disp.down += 1;
        } else {
            self.disp.down -= 1;
            self.serve_dispatcher(now);
        }
    }

    fn change_dispatcher_busy(&mut self, now: Instant, up: bool) {
        self.account_dispatcher(now);
        if up {
            self.disp.busy += 1;
        } else {
            self.disp.busy -= 1;
        }
    }

    fn account_dispatcher(&mut self, now: Instant) {
        let (lo, hi) = (self.sc.warmup.as_nanos(), self.sc.duration.as_nanos());
        let clip = |t: Instant| t.0.clamp(lo, hi);
        let span = clip(now) - clip(self.disp.last_change);
        self.disp.busy_area += u128::from(self.disp.busy) * u128::from(span);
        self.disp.last_change = now;
    }

    /// The dispatcher's utilization over `[warmup, duration)`: busy slots
    /// over the concurrency (unlimited: the mean number busy).
    pub(super) fn dispatcher_utilization(&mut self, end: Instant) -> f64 {
        let Some(cfg) = &self.sc.dispatcher else {
            return 0.0;
        };
        let slots = f64::from(cfg.concurrency.max(1));
        self.account_dispatcher(end);
        let window = (self.sc.duration.as_nanos() - self.sc.warmup.as_nanos()) as f64;
        self.disp.busy_area as f64 / (window * slots)
    }

    /// At the end of the run: forget whatever still waits.
    pub(super) fn clear_dispatcher(&mut self) {
        self.disp.queue.iter_mut().for_each(VecDeque::clear);
    }
}
