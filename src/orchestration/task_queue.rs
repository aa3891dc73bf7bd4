//! The central priority task queue: CRITICAL > HIGH > NORMAL > LOW, FIFO
//! within a level, with an optional capacity (a full queue rejects) and
//! optional priority aging.
//!
//! Why four FIFOs rather than a heap: there are four levels, so push and pop
//! are O(1) and FIFO order within a level needs no sequence numbers.
//!
//! Aging (off by default) keeps LOW work from starving: an item that has
//! waited `k · aging` counts `k` levels more urgent (never above CRITICAL).
//! A level's head is its oldest item, so `pop` compares the four heads: the
//! most urgent effective level wins, the longer-waiting on ties. Sans-IO:
//! `now` is an argument.

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

/// A task's priority. Lower discriminant = served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Critical = 0,
    High = 1,
    Normal = 2,
    Low = 3,
}

impl Priority {
    /// Every level, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// A bounded (or unbounded) priority queue of items `T`.
#[derive(Clone, Debug)]
pub struct TaskQueue<T> {
    /// Items with the time they were queued.
    levels: [VecDeque<(Instant, T)>; 4],
    len: usize,
    /// 0 = unbounded.
    capacity: usize,
    aging: Option<Duration>,
}

impl<T> TaskQueue<T> {
    /// A queue holding at most `capacity` items; 0 means unbounded.
    pub fn new(capacity: usize) -> Self {
        TaskQueue {
            levels: Default::default(),
            len: 0,
            capacity,
            aging: None,
        }
    }

    /// Promote waiting items one level per `aging` waited (`None`: never).
    pub fn with_aging(mut self, aging: Option<Duration>) -> Self {
        self.aging = aging.filter(|a| !a.is_zero());
        self
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Items waiting at one level.
    pub fn len_at(&self, p: Priority) -> usize {
        self.levels[p as usize].len()
    }

    /// Enqueue at `now`, or give the item back if the queue is full.
    pub fn push(&mut self, now: Instant, p: Priority, item: T) -> Result<(), T> {
        if self.capacity > 0 && self.len >= self.capacity {
            return Err(item);
        }
        self.levels[p as usize].push_back((now, item));
        self.len += 1;
        Ok(())
    }

    /// The most urgent item at `now` (with aging, by effective level; the
    /// longer-waiting on ties), oldest first within its level. Returns its
    /// original priority.
    pub fn pop(&mut self, now: Instant) -> Option<(Priority, T)> {
        if self.len == 0 {
            return None;
        }
        let level = match self.aging {
            None => Priority::ALL
                .into_iter()
                .find(|&p| !self.levels[p as usize].is_empty())?,
            Some(aging) => {
                Priority::ALL
                    .into_iter()
                    .filter_map(|p| {
                        let &(queued, _) = self.levels[p as usize].front()?;
                        let steps = now.saturating_since(queued).as_nanos() / aging.as_nanos();
                        let effective = (p as u64).saturating_sub(steps);
                        Some((effective, queued, p))
                    })
                    .min()?
                    .2
            }
        };
        let (_, item) = self.levels[level as usize].pop_front()?;
        self.len -= 1;
        Some((level, item))
    }

    /// Remove `item` wherever it waits (O(n) in its level); false if absent.
    pub fn cancel(&mut self, p: Priority, item: &T) -> bool
    where
        T: PartialEq,
    {
        let level = &mut self.levels[p as usize];
        match level.iter().position(|(_, x)| x == item) {
            Some(i) => {
                level.remove(i);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// Remove every item, most urgent first.
    pub fn drain(&mut self) -> impl Iterator<Item = (Priority, T)> + '_ {
        self.len = 0;
        Priority::ALL
            .into_iter()
            .flat_map(|p| {
                std::mem::take(&mut self.levels[p as usize])
                    .into_iter()
                    .map(move |(_, t)| (p, t))
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Instant = Instant::ZERO;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn aging_promotes_one_level_per_period_and_stops_starvation() {
        let mut q = TaskQueue::new(0).with_aging(Some(Duration::from_secs(1)));
        q.push(at(0), Priority::Low, "low").unwrap();
        q.push(at(500), Priority::Normal, "normal").unwrap();
        q.push(at(2_100), Priority::High, "high").unwrap();
        // At 2.1 s: low has waited 2.1 periods (LOW - 2 = HIGH), normal 1.6
        // (NORMAL - 1 = HIGH), high 0: all HIGH; the longest-waiting first.
        assert_eq!(q.pop(at(2_100)), Some((Priority::Low, "low")));
        assert_eq!(q.pop(at(2_100)), Some((Priority::Normal, "normal")));
        assert_eq!(q.pop(at(2_100)), Some((Priority::High, "high")));
        // Without aging, a stream of CRITICAL work starves LOW forever.
        let mut plain = TaskQueue::new(0);
        plain.push(at(0), Priority::Low, 0).unwrap();
        plain.push(at(9_000), Priority::Critical, 1).unwrap();
        assert_eq!(plain.pop(at(9_000)), Some((Priority::Critical, 1)));
        // With it, LOW catches up after three periods and, older, goes first.
        let mut aged = TaskQueue::new(0).with_aging(Some(Duration::from_secs(1)));
        aged.push(at(0), Priority::Low, 0).unwrap();
        aged.push(at(2_999), Priority::Critical, 1).unwrap();
        assert_eq!(
            aged.pop(at(2_999)),
            Some((Priority::Critical, 1)),
            "not yet"
        );
        aged.push(at(3_000), Priority::Critical, 2).unwrap();
        assert_eq!(aged.pop(at(3_000)), Some((Priority::Low, 0)));
    }

    #[test]
    fn cancel_removes_one_item_by_id() {
        let mut q = TaskQueue::new(2);
        q.push(T0, Priority::Normal, 7).unwrap();
        q.push(T0, Priority::Normal, 8).unwrap();
        assert!(q.cancel(Priority::Normal, &7));
        assert!(!q.cancel(Priority::Normal, &7));
        assert!(!q.cancel(Priority::High, &8), "wrong level");
        assert_eq!(q.len(), 1);
        q.push(T0, Priority::Low, 9).unwrap();
        assert_eq!(q.pop(T0), Some((Priority::Normal, 8)));
    }

    #[test]
    fn serves_by_level_then_fifo() {
        let mut q = TaskQueue::new(0);
        q.push(T0, Priority::Low, 1).unwrap();
        q.push(T0, Priority::Normal, 2).unwrap();
        q.push(T0, Priority::Critical, 3).unwrap();
        q.push(T0, Priority::Normal, 4).unwrap();
        q.push(T0, Priority::High, 5).unwrap();
        q.push(T0, Priority::Critical, 6).unwrap();
        let order: Vec<i32> = std::iter::from_fn(|| q.pop(T0).map(|(_, t)| t)).collect();
        assert_eq!(order, vec![3, 6, 5, 2, 4, 1]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_rejects_and_keeps_its_items() {
        let mut q = TaskQueue::new(2);
        q.push(T0, Priority::Normal, 'a').unwrap();
        q.push(T0, Priority::Low, 'b').unwrap();
        assert_eq!(q.push(T0, Priority::Critical, 'c'), Err('c'));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(T0), Some((Priority::Normal, 'a')));
        q.push(T0, Priority::Critical, 'c').unwrap();
        assert_eq!(q.pop(T0), Some((Priority::Critical, 'c')));
    }

    #[test]
    fn drain_empties_in_service_order() {
        let mut q = TaskQueue::new(0);
        q.push(T0, Priority::Low, 1).unwrap();
        q.push(T0, Priority::High, 2).unwrap();
        let all: Vec<_> = q.drain().collect();
        assert_eq!(all, vec![(Priority::High, 2), (Priority::Low, 1)]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(T0), None);
    }

    proptest! {
        /// Shadow model: a stable sort by priority of everything pushed.
        #[test]
        fn matches_a_stable_sort(items in proptest::collection::vec((0usize..4, any::<u16>()), 0..200)) {
            let mut q = TaskQueue::new(0);
            for (i, (p, v)) in items.iter().enumerate() {
                q.push(T0, Priority::ALL[*p], (i, *v)).unwrap();
            }
            let mut model: Vec<(usize, (usize, u16))> =
                items.iter().enumerate().map(|(i, (p, v))| (*p, (i, *v))).collect();
            model.sort_by_key(|(p, (i, _))| (*p, *i));
            let got: Vec<_> = std::iter::from_fn(|| q.pop(T0).map(|(p, t)| (p as usize, t))).collect();
            prop_assert_eq!(got, model);
        }
    }
}
