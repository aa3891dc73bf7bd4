//! Request timeouts and task deadlines without an event each.
//!
//! Every request on a route with a timeout would schedule a `Timeout`
//! event, and every task under a `workload.deadline` a `Deadline` event,
//! and nearly all of them would find their request answered, or their
//! task ended, long before: in steady_load a quarter of all events were
//! such stale timeouts, each popped, looked at and dropped.
//!
//! A route's requests all wait the same `timeout`, and every task the same
//! deadline, so their due times come in the order they were sent. Each
//! route's requests, and the tasks, wait in a [`TimeoutQueue`], each with
//! the place in the event order (`seq`) its event would have had, reserved
//! as it is sent; only the first of a queue that was still live (request
//! unanswered, task not ended) when looked at has its event in the engine
//! (it is *armed*). When that event pops, its request times out (its task
//! is cancelled) if it is still live, and the next live one is armed, in
//! its reserved place: those over meanwhile are dropped from the queue
//! unseen.
//!
//! **Why the results are the same.** A stale event (answered request,
//! ended task, recycled slot) changes nothing, and a live one pops at its
//! own `(time, seq)`, as before: the armed one is its queue's first live
//! entry, so every live entry is due at or after it, and is armed as the
//! one before it pops (at that instant at the latest, where the engine
//! puts it among the events due then by `seq`). The one place an event
//! that was never scheduled could be noticed is the end of a run that
//! stops because no event is due by its limit: the stale events that
//! would have come last would have closed the time series' buckets up to
//! their time (with the gauges as the last event left them, before the
//! tasks still in flight are cancelled), been the run's last event (its
//! end, if the queue then ran empty), or kept the queue from running
//! empty. [`World::stale_timeouts`] tells when and whether, from the due
//! times queued within and after the limit.
//!
//! What changes is the events themselves: fewer are handled, and the
//! fingerprint (which folds in each one) differs. A request whose timeout
//! is cut short by its call's deadline (`world/calls.rs`) keeps an event of
//! its own: its due time is out of order with the others.

use std::collections::VecDeque;

use super::{Event, World};
use crate::time::{Duration, Instant};

/// The `queue` of a timeout event scheduled on its own, not from a queue.
pub(super) const OWN_EVENT: u32 = u32::MAX;

/// A request (or task) waiting for its timeout (or deadline).
#[derive(Clone, Copy, Debug)]
struct Waiting {
    at: Instant,
    /// Its event's place in the event order.
    seq: u64,
    /// The request's (task's) slot and epoch.
    slot: u32,
    epoch: u32,
}

/// Requests (tasks) that wait for a timeout (deadline) of one length, in
/// the order sent (so by due time).
#[derive(Clone, Debug, Default)]
pub(super) struct TimeoutQueue {
    waiting: VecDeque<Waiting>,
    /// The first of `waiting` has its event in the engine.
    armed: bool,
    /// The latest due time queued at or before the run's limit, and
    /// whether one was queued after it (see [`World::stale_timeouts`]).
    latest_within: Option<Instant>,
    beyond: bool,
}

impl TimeoutQueue {
    /// Queue `slot` (at `epoch`), due `at` in the place `seq`; `true` if
    /// it is to be armed (none was).
    fn push(&mut self, at: Instant, seq: u64, slot: u32, epoch: u32, limit: Instant) -> bool {
        debug_assert!(
            self.armed || self.waiting.is_empty(),
            "a queue with none armed holds none"
        );
        self.waiting.push_back(Waiting {
            at,
            seq,
            slot,
            epoch,
        });
        if at <= limit {
            self.latest_within = Some(at);
        } else {
            self.beyond = true;
        }
        !self.armed
    }

    /// The armed entry is due: take it off the queue.
    fn take_due(&mut self) -> Waiting {
        self.armed = false;
        self.waiting
            .pop_front()
            .expect("an armed entry is the first of its queue")
    }

    /// Drop the entries before the first one `live` says is still live,
    /// and return that one, now armed (none: the queue is empty, unarmed).
    fn arm_first(&mut self, live: impl Fn(u32, u32) -> bool) -> Option<Waiting> {
        while let Some(&w) = self.waiting.front() {
            if live(w.slot, w.epoch) {
                self.armed = true;
                return Some(w);
            }
            self.waiting.pop_front();
        }
        None
    }
}

impl World<'_> {
    /// Request `r`, sent now on `route`, times out `timeout` from now
    /// unless it is answered first.
    pub(super) fn start_timeout(&mut self, route: u32, r: u32, timeout: Duration) {
        if !self.lazy_timeouts {
            self.own_timeout(r, timeout);
            return;
        }
        let epoch = self.reqs[r as usize].epoch;
        let (at, seq) = (self.engine.now() + timeout, self.engine.reserve());
        let limit = self.run_limit;
        if self.timeouts[route as usize].push(at, seq, r, epoch, limit) {
            self.arm_timeout(route);
        }
    }

    /// Request `r`, sent now, times out `after` from now unless it is
    /// answered first, by an event of its own (not queued).
    pub(super) fn own_timeout(&mut self, r: u32, after: Duration) {
        let epoch = self.reqs[r as usize].epoch;
        let event = Event::Timeout {
            req: r,
            epoch,
            queue: OWN_EVENT,
        };
        self.engine.schedule_after(after, event);
    }

    /// The armed timeout of `route`'s queue is due: its request times out
    /// if it is unanswered, and the next unanswered one is armed.
    pub(super) fn on_timeout_due(&mut self, now: Instant, route: u32) {
        let w = self.timeouts[route as usize].take_due();
        // Armed before the request times out: a retry it sends on this
        // route queues behind the others still waiting.
        self.arm_timeout(route);
        if self.current(w.slot, w.epoch) {
            self.on_timeout(now, w.slot);
        }
    }

    /// Arm the first unanswered request of `route`'s queue, dropping the
    /// answered ones before it.
    fn arm_timeout(&mut self, route: u32) {
        let reqs = &self.reqs;
        let live = |r: u32, epoch: u32| {
            let req = &reqs[r as usize];
            req.epoch == epoch && !req.answered
        };
        if let Some(w) = self.timeouts[route as usize].arm_first(live) {
            let event = Event::Timeout {
                req: w.slot,
                epoch: w.epoch,
                queue: route,
            };
            self.engine
                .schedule_reserved(w.at, w.seq, event)
                .expect("a queued timeout is not before now, its place reserved");
        }
    }

    /// Task `t`, submitted now, is cancelled `deadline` from now unless it
    /// ends first.
    pub(super) fn start_deadline(&mut self, t: u32, deadline: Duration) {
        let epoch = self.tasks[t as usize].epoch;
        let event = Event::Deadline { task: t, epoch };
        if !self.lazy_timeouts {
            self.engine.schedule_after(deadline, event);
            return;
        }
        let (at, seq) = (self.engine.now() + deadline, self.engine.reserve());
        let limit = self.run_limit;
        if self.deadlines.push(at, seq, t, epoch, limit) {
            self.arm_deadline();
        }
    }

    /// A task's deadline event is due: with the deadlines queued, it is the
    /// armed one (its task cancelled if it has not ended, and the next one
    /// armed).
    pub(super) fn on_deadline_event(&mut self, now: Instant, task: u32, epoch: u32) {
        let (t, epoch) = if self.lazy_timeouts {
            let w = self.deadlines.take_due();
            self.arm_deadline();
            (w.slot, w.epoch)
        } else {
            (task, epoch)
        };
        if self.tasks[t as usize].epoch == epoch {
            self.on_deadline(now, t);
        }
    }

    /// Arm the first task of the deadline queue that has not ended,
    /// dropping the ended ones before it.
    fn arm_deadline(&mut self) {
        let tasks = &self.tasks;
        let live = |t: u32, epoch: u32| tasks[t as usize].epoch == epoch;
        if let Some(w) = self.deadlines.arm_first(live) {
            let event = Event::Deadline {
                task: w.slot,
                epoch: w.epoch,
            };
            self.engine
                .schedule_reserved(w.at, w.seq, event)
                .expect("a queued deadline is not before now, its place reserved");
        }
    }

    /// For a run that stops because no event is due by its limit: when
    /// the last stale event would have popped (they came last, so the
    /// latest due time queued within the limit), and whether one would
    /// still be pending after it. Probe timeouts never scheduled
    /// (`World::lazy_probe_timeouts`) count too.
    pub(super) fn stale_timeouts(&self) -> (Option<Instant>, bool) {
        let queues = || self.timeouts.iter().chain(std::iter::once(&self.deadlines));
        let last = (queues().filter_map(|q| q.latest_within))
            .chain(self.probe_timeouts_within)
            .max();
        (
            last,
            queues().any(|q| q.beyond) || self.probe_timeouts_beyond,
        )
    }

    /// Tests only: every request's timeout and every task's deadline an
    /// event of its own (what the queues are checked against).
    #[cfg(test)]
    pub(super) fn all_timeouts_evented(&mut self) {
        self.lazy_timeouts = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Override};

    /// The results of `name` with `sets`, with the timeouts queued and
    /// with each an event, less what differs by design (the event count
    /// and the fingerprint that folds the events in); and the two event
    /// counts.
    fn both_ways(name: &str, sets: &[&str]) -> (String, String, u64, u64) {
        let sets: Vec<Override> = sets.iter().map(|s| s.parse().expect("override")).collect();
        let sc = scenario::load(name, &sets).expect("a valid scenario");
        let run = |lazy: bool| {
            let mut w = World::new(&sc, sc.seed);
            if !lazy {
                w.all_timeouts_evented();
            }
            let r = w.run();
            // Every field but the event count and the fingerprint.
            let figures = format!(
                "{:?}",
                (
                    (r.submitted, r.completed, r.failed, r.rejected, r.cancelled),
                    (r.failed_by, r.retries, r.retry_budget_exhausted),
                    (r.success_rate, r.throughput_per_s, r.latency_mean_ms),
                    (r.latency_max_ms, r.latency_exact, r.wait_mean_ms),
                    (r.wait_mean_ms_by_priority, r.attempts_mean, r.breaker_trips),
                    (r.in_system_mean, r.arrival_rate_per_s, r.histogram_overflow),
                    (r.simulated_s, r.attempts_per_task, r.agent_seconds),
                    (r.dispatcher_wait_mean_ms, r.dispatcher_utilization),
                    (r.work_done, r.work_per_s, r.invariants, r.warmup_s),
                    (&r.agents, &r.buckets, &r.jobs, &r.bus, &r.calls),
                    (&r.errors, &r.latency_series),
                    r.latency
                        .iter_recorded()
                        .map(|v| (v.value_iterated_to(), v.count_at_value()))
                        .collect::<Vec<_>>(),
                ),
            );
            (figures, r.events)
        };
        let (queued, queued_events) = run(true);
        let (evented, events) = run(false);
        (queued, evented, queued_events, events)
    }

    /// The end of a run that ran out of events: the latest deadline
    /// within the limit is when the last stale timeout would have popped,
    /// and one after it would still be pending.
    #[test]
    fn stale_timeouts_end_where_their_events_would_have() {
        let sets: Vec<Override> = ["duration=\"1s\""]
            .iter()
            .map(|s| s.parse().expect("override"))
            .collect();
        let sc = scenario::load("steady_load", &sets).expect("a valid scenario");
        let mut w = World::new(&sc, sc.seed);
        let ms = |ms: u64| Instant(ms * 1_000_000);
        w.timeouts = vec![TimeoutQueue::default(); 3];
        assert_eq!(w.stale_timeouts(), (None, false));
        w.timeouts[1].latest_within = Some(ms(300));
        w.timeouts[2].latest_within = Some(ms(700));
        assert_eq!(w.stale_timeouts(), (Some(ms(700)), false));
        w.timeouts[0].beyond = true;
        assert_eq!(w.stale_timeouts(), (Some(ms(700)), true));
    }

    /// Queued timeouts and deadlines change nothing but the events, over
    /// timeouts that rarely fire (steady_load), that fall due as the run
    /// stops, that fire often and bring retries
    /// (short timeouts, partitions, a broker outage), many requests sent
    /// at one instant (bursts with no spread: equal deadlines), calls
    /// whose timeouts their deadlines cut short (cascade with propagated
    /// deadlines), task deadlines that rarely or often cancel, sagas,
    /// rolling deploys and autoscaling.
    #[test]
    fn queued_timeouts_change_nothing_but_the_events() {
        let cases: &[(&str, &[&str])] = &[
            ("steady_load", &["duration=\"30s\""]),
            (
                "steady_load",
                &[
                    "duration=\"20s\"",
                    "request.timeout=\"25ms\"",
                    "workload.arrivals={process=\"poisson\",rate=200.0}",
                ],
            ),
            // Deadlines at the run's last instant: the stale timeouts
            // that would have popped there closed the last bucket of the
            // time series before the tasks left were cancelled.
            (
                "steady_load",
                &[
                    "fleet.tiers[0].count=3",
                    "fleet.tiers[1].count=3",
                    "fleet.tiers[2].count=5",
                    "fleet.tiers[1].concurrency=2",
                    "fleet.tiers[1].error_rate=0.1",
                    "workload.arrivals={process=\"constant\",rate=24.0}",
                    "health.interval=\"236ms\"",
                    "health.timeout=\"173ms\"",
                    "health.degraded_threshold=\"167ms\"",
                    "health.unhealthy_after=2",
                    "duration=\"18s\"",
                    "drain=\"0s\"",
                    "seed=32367",
                ],
            ),
            ("agent_failures", &["duration=\"40s\""]),
            // Deadlines: all stale, some cancelling tasks in flight, and
            // tasks queued for a worker.
            (
                "steady_load",
                &["duration=\"30s\"", "workload.deadline=\"2s\""],
            ),
            (
                "steady_load",
                &[
                    "duration=\"20s\"",
                    "workload.deadline=\"60ms\"",
                    "workload.arrivals={process=\"poisson\",rate=80.0}",
                ],
            ),
            (
                "steady_load",
                &[
                    "duration=\"20s\"",
                    "workload.deadline=\"90ms\"",
                    "dispatch.workers=3",
                    "workload.arrivals={process=\"poisson\",rate=60.0}",
                ],
            ),
            ("fault_tolerant_service", &["duration=\"30s\""]),
            ("partition", &["duration=\"30s\""]),
            ("broker_outage", &["duration=\"30s\""]),
            (
                "burst_traffic",
                &[
                    "duration=\"25s\"",
                    "workload.arrivals={process=\"bursts\",count=3,size=150,every=\"7s\",start=\"0s\",spread=\"0s\"}",
                ],
            ),
            ("cascade", &["duration=\"30s\""]),
            (
                "cascade",
                &["duration=\"30s\"", "request.propagate_deadline=true"],
            ),
            ("saga_orders", &["duration=\"30s\""]),
            ("rolling_deploy", &["duration=\"40s\""]),
            ("autoscale_burst", &["request.timeout=\"1s\""]),
        ];
        for (name, sets) in cases {
            let (queued, evented, queued_events, events) = both_ways(name, sets);
            assert!(queued == evented, "{name} {sets:?}: the results differ");
            assert!(
                queued_events < events,
                "{name} {sets:?}: {queued_events} events against {events}"
            );
        }
    }
}
