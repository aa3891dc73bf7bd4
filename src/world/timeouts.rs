//! Request timeouts without an event per request.
//!
//! Every request on a route with a timeout would schedule a `Timeout`
//! event, and nearly all of them would find their request answered long
//! before: in steady_load a quarter of all events were such stale
//! timeouts, each popped, looked at and dropped.
//!
//! A route's requests all wait the same `timeout`, so their deadlines come
//! in the order they were sent. Each route keeps them in a queue, each with
//! the place in the event order (`seq`) its event would have had, reserved
//! as it is sent; only the first request of the queue that was unanswered
//! when looked at has its event in the engine (it is *armed*). When that
//! event pops, the request times out if it is still unanswered, and the
//! next unanswered one in the queue is armed, in its reserved place: the
//! requests answered meanwhile are dropped from the queue unseen.
//!
//! **Why the results are the same.** A timeout event of an answered
//! request (or of a recycled request slot) changes nothing, and an
//! unanswered request's timeout pops at its own `(time, seq)`, as before:
//! the armed one is the queue's first unanswered request, so every
//! unanswered request's deadline is at or after it, and it is armed again
//! as the one before it pops (at that instant at the latest, where the
//! engine puts it among the events due then by `seq`). The one place an
//! event that was never scheduled could be noticed is the end of a run
//! that stops because no event is due by its limit: the stale timeouts
//! that would have come last would have closed the time series' buckets
//! up to their time (with the gauges as the last event left them, before
//! the tasks still in flight are cancelled), been the run's last event
//! (its end, if the queue then ran empty), or kept the queue from running
//! empty. [`World::stale_timeouts`] tells when and whether, from the
//! deadlines queued within and after the limit.
//!
//! What changes is the events themselves: fewer are handled, and the
//! fingerprint (which folds in each one) differs. A request whose timeout
//! is cut short by its call's deadline (`world/calls.rs`) keeps an event of
//! its own: its deadline is out of order with the others.

use std::collections::VecDeque;

use super::{Event, World};
use crate::time::{Duration, Instant};

/// The `queue` of a timeout event scheduled on its own, not from a queue.
pub(super) const OWN_EVENT: u32 = u32::MAX;

/// A request waiting for its deadline.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    at: Instant,
    /// Its timeout event's place in the event order.
    seq: u64,
    req: u32,
    epoch: u32,
}

/// The requests of one route that wait for their timeout, in the order
/// sent (so by deadline).
#[derive(Clone, Debug, Default)]
pub(super) struct TimeoutQueue {
    waiting: VecDeque<Waiting>,
    /// The first of `waiting` has its event in the engine.
    armed: bool,
    /// The latest deadline queued at or before the run's limit, and
    /// whether one was queued after it (see [`World::stale_timeouts`]).
    latest_within: Option<Instant>,
    beyond: bool,
}

impl World<'_> {
    /// Request `r`, sent now on `route`, times out `timeout` from now
    /// unless it is answered first.
    pub(super) fn start_timeout(&mut self, route: u32, r: u32, timeout: Duration) {
        let epoch = self.reqs[r as usize].epoch;
        let at = self.engine.now() + timeout;
        if !self.lazy_timeouts {
            self.engine.schedule_after(
                timeout,
                Event::Timeout {
                    req: r,
                    epoch,
                    queue: OWN_EVENT,
                },
            );
            return;
        }
        let seq = self.engine.reserve();
        let q = &mut self.timeouts[route as usize];
        debug_assert!(
            q.armed || q.waiting.is_empty(),
            "a queue with none armed holds no request"
        );
        q.waiting.push_back(Waiting {
            at,
            seq,
            req: r,
            epoch,
        });
        if at <= self.run_limit {
            q.latest_within = Some(at);
        } else {
            q.beyond = true;
        }
        if !q.armed {
            self.arm_timeout(route);
        }
    }

    /// The armed timeout of `route`'s queue is due: its request times out
    /// if it is unanswered, and the next unanswered one is armed.
    pub(super) fn on_timeout_due(&mut self, now: Instant, route: u32) {
        let q = &mut self.timeouts[route as usize];
        let w = q
            .waiting
            .pop_front()
            .expect("an armed timeout is the first of its queue");
        q.armed = false;
        // Armed before the request times out: a retry it sends on this
        // route queues behind the others still waiting.
        self.arm_timeout(route);
        if self.current(w.req, w.epoch) {
            self.on_timeout(now, w.req);
        }
    }

    /// Arm the first unanswered request of `route`'s queue, dropping the
    /// answered ones before it (none left: the queue is empty, unarmed).
    fn arm_timeout(&mut self, route: u32) {
        let q = &mut self.timeouts[route as usize];
        while let Some(&w) = q.waiting.front() {
            let req = &self.reqs[w.req as usize];
            if req.epoch != w.epoch || req.answered {
                q.waiting.pop_front();
                continue;
            }
            q.armed = true;
            let event = Event::Timeout {
                req: w.req,
                epoch: w.epoch,
                queue: route,
            };
            self.engine
                .schedule_reserved(w.at, w.seq, event)
                .expect("a queued deadline is not before now, its place reserved");
            return;
        }
    }

    /// For a run that stops because no event is due by its limit: when
    /// the last stale timeout would have popped (their events came last,
    /// so the latest deadline queued within the limit), and whether one
    /// would still be pending after it.
    pub(super) fn stale_timeouts(&self) -> (Option<Instant>, bool) {
        let last = self.timeouts.iter().filter_map(|q| q.latest_within).max();
        (last, self.timeouts.iter().any(|q| q.beyond))
    }

    /// Tests only: every request's timeout an event of its own (what the
    /// queued timeouts are checked against).
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

    /// Queued timeouts change nothing but the events, over timeouts that
    /// rarely fire (steady_load), that fall due as the run stops, that
    /// fire often and bring retries
    /// (short timeouts, partitions, a broker outage), many requests sent
    /// at one instant (bursts with no spread: equal deadlines), calls
    /// whose timeouts their deadlines cut short (cascade with propagated
    /// deadlines), sagas, rolling deploys and autoscaling.
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
