//! The message broker as a server (`[bus.broker]`): every message is handed
//! to it when sent, waits first-come first-served for one of `concurrency`
//! slots, is served for a draw of `service_time`, and only then travels the
//! network to its receiver. At most `capacity` messages wait for a slot; a
//! message that finds them all taken is dropped (a full Redis output
//! buffer, a NATS slow consumer).
//!
//! Why it is computed rather than simulated: a first-come first-served
//! queue with `c` identical slots is fully determined by the arrival times
//! and the service times (Kiefer–Wolfowitz: each arrival takes the slot that
//! frees first), so the broker returns, at send, the instant the message
//! leaves it, and the world schedules one arrival event as without a
//! broker. The waiting messages' start times never decrease, so the queue
//! is a `VecDeque` of start times, emptied from the front as time passes.
//! With one slot and exponential service this is the M/M/1/K queue with
//! `K = capacity + 1` messages in the system (Kleinrock, *Queueing
//! Systems* I, §3.6): under Poisson sends a fraction
//! `(1−ρ)ρ^K / (1−ρ^(K+1))` is dropped.
//!
//! Outages: while the broker is down every message sent is refused at once
//! (the sender sees the error); when it goes down, what it held (waiting,
//! in service, or already on its way from it) is lost. Sans-IO: `now` and
//! the service-time RNG are arguments.

use std::collections::VecDeque;

use rand::Rng;

use crate::rng::Dist;
use crate::time::Instant;

/// A broker's settings, validated by the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerConfig {
    /// Time to handle one message.
    pub service_time: Dist,
    /// Messages handled at once (≥ 1).
    pub concurrency: u32,
    /// Messages that may wait for a slot; `usize::MAX` for no limit.
    pub capacity: usize,
    /// Retained messages survive an outage (Redis AOF/RDB); without it an
    /// outage forgets them.
    pub persistence: bool,
}

/// The broker's queue and slots.
#[derive(Clone, Debug)]
pub struct Broker {
    config: BrokerConfig,
    /// When each slot is next free.
    slots: Vec<Instant>,
    /// Start times of the messages waiting for a slot, non-decreasing.
    waiting: VecDeque<Instant>,
}

/// What the broker does with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It leaves the broker, served, at this instant.
    Leaves(Instant),
    /// Every waiting place was taken: dropped.
    Overflow,
}

impl Broker {
    /// An idle broker.
    pub fn new(config: BrokerConfig) -> Broker {
        assert!(
            config.concurrency >= 1,
            "validated: concurrency is at least 1, got {}",
            config.concurrency
        );
        Broker {
            slots: vec![Instant::ZERO; config.concurrency as usize],
            waiting: VecDeque::new(),
            config,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Messages waiting for a slot at `now` (not those in service).
    pub fn waiting(&mut self, now: Instant) -> usize {
        while self.waiting.front().is_some_and(|&s| s <= now) {
            self.waiting.pop_front();
        }
        self.waiting.len()
    }

    /// Hand one message to the broker at `now`: it is dropped if every slot
    /// is busy and `capacity` messages already wait; else it takes the slot
    /// that frees first (the lowest on ties) and its service time is drawn
    /// from `rng` (no draw for a zero distribution).
    pub fn admit(&mut self, now: Instant, rng: &mut impl Rng) -> Admission {
        let (slot, free) = self
            .slots
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(i, t)| (t, i))
            .expect("at least one slot");
        if free > now && self.waiting(now) >= self.config.capacity {
            return Admission::Overflow;
        }
        let start = free.max(now);
        let service = if self.config.service_time.is_zero() {
            crate::time::Duration::ZERO
        } else {
            self.config.service_time.sample(rng)
        };
        let leaves = start + service;
        self.slots[slot] = leaves;
        if start > now {
            self.waiting.push_back(start);
        }
        Admission::Leaves(leaves)
    }

    /// The broker went down at `now`: what it held is gone, and it comes
    /// back idle.
    pub fn crash(&mut self, now: Instant) {
        self.slots.fill(now);
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;
    use crate::time::Duration;

    fn broker(ms: u64, concurrency: u32, capacity: usize) -> Broker {
        Broker::new(BrokerConfig {
            service_time: Dist::Constant(Duration::from_millis(ms)),
            concurrency,
            capacity,
            persistence: false,
        })
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn one_slot_serves_in_order_and_drops_past_capacity() {
        let mut b = broker(10, 1, 2);
        let mut rng = Seed(1).stream("broker");
        assert_eq!(b.admit(at(0), &mut rng), Admission::Leaves(at(10)));
        assert_eq!(b.admit(at(1), &mut rng), Admission::Leaves(at(20)));
        assert_eq!(b.admit(at(2), &mut rng), Admission::Leaves(at(30)));
        assert_eq!(b.waiting(at(2)), 2);
        assert_eq!(b.admit(at(3), &mut rng), Admission::Overflow);
        // At 10 the second starts: one place frees.
        assert_eq!(b.admit(at(10), &mut rng), Admission::Leaves(at(40)));
        assert_eq!(b.admit(at(10), &mut rng), Admission::Overflow);
        // Idle again later: served at once.
        assert_eq!(b.admit(at(100), &mut rng), Admission::Leaves(at(110)));
        assert_eq!(b.waiting(at(100)), 0);
    }

    #[test]
    fn slots_free_in_turn_and_a_crash_empties_the_broker() {
        let mut b = broker(10, 2, 0);
        let mut rng = Seed(1).stream("broker");
        assert_eq!(b.admit(at(0), &mut rng), Admission::Leaves(at(10)));
        assert_eq!(b.admit(at(4), &mut rng), Admission::Leaves(at(14)));
        // Capacity 0: no waiting while both slots are busy.
        assert_eq!(b.admit(at(5), &mut rng), Admission::Overflow);
        assert_eq!(b.admit(at(10), &mut rng), Admission::Leaves(at(20)));
        b.crash(at(11));
        assert_eq!(b.admit(at(11), &mut rng), Admission::Leaves(at(21)));
        assert_eq!(b.admit(at(11), &mut rng), Admission::Leaves(at(21)));
    }

    #[test]
    fn matches_a_shadow_fifo_queue() {
        // Shadow model: simulate the queue message by message with an
        // explicit list of departures, exponential service and arrivals.
        let cfg = BrokerConfig {
            service_time: Dist::Exponential {
                mean: Duration::from_millis(3),
            },
            concurrency: 3,
            capacity: 4,
            persistence: false,
        };
        let mut b = Broker::new(cfg.clone());
        let mut rng = Seed(7).stream("broker");
        let mut shadow_rng = Seed(7).stream("broker");
        let mut arrivals = Seed(8).stream("arrivals");
        let mut now = Instant::ZERO;
        // (start, leaves) of every admitted message.
        let mut admitted: Vec<(Instant, Instant)> = Vec::new();
        for _ in 0..5_000 {
            now += Dist::Exponential {
                mean: Duration::from_millis(1),
            }
            .sample(&mut arrivals);
            let in_service = admitted
                .iter()
                .filter(|&&(s, l)| s <= now && l > now)
                .count();
            let waiting = admitted.iter().filter(|&&(s, _)| s > now).count();
            let full = in_service + waiting >= 3 && waiting >= 4;
            let got = b.admit(now, &mut rng);
            if full {
                assert_eq!(got, Admission::Overflow);
                continue;
            }
            // FIFO: starts when the earliest of the last three slots frees.
            let mut frees: Vec<Instant> = vec![Instant::ZERO; 3];
            for &(_, l) in &admitted {
                let i = (0..3).min_by_key(|&i| (frees[i], i)).unwrap();
                frees[i] = l;
            }
            let free = frees.iter().copied().min().unwrap();
            let start = free.max(now);
            let leaves = start + cfg.service_time.sample(&mut shadow_rng);
            assert_eq!(got, Admission::Leaves(leaves));
            admitted.push((start, leaves));
        }
    }
}
