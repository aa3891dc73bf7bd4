//! The central priority task queue: CRITICAL > HIGH > NORMAL > LOW, FIFO
//! within a level, with an optional capacity (a full queue rejects).
//!
//! Why four FIFOs rather than a heap: there are four levels, so push and pop
//! are O(1) and FIFO order within a level needs no sequence numbers.

use std::collections::VecDeque;

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
    levels: [VecDeque<T>; 4],
    len: usize,
    /// 0 = unbounded.
    capacity: usize,
}

impl<T> TaskQueue<T> {
    /// A queue holding at most `capacity` items; 0 means unbounded.
    pub fn new(capacity: usize) -> Self {
        TaskQueue {
            levels: Default::default(),
            len: 0,
            capacity,
        }
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

    /// Enqueue, or give the item back if the queue is full.
    pub fn push(&mut self, p: Priority, item: T) -> Result<(), T> {
        if self.capacity > 0 && self.len >= self.capacity {
            return Err(item);
        }
        self.levels[p as usize].push_back(item);
        self.len += 1;
        Ok(())
    }

    /// The most urgent item, oldest first within its level.
    pub fn pop(&mut self) -> Option<(Priority, T)> {
        for p in Priority::ALL {
            if let Some(item) = self.levels[p as usize].pop_front() {
                self.len -= 1;
                return Some((p, item));
            }
        }
        None
    }

    /// Remove every item, most urgent first.
    pub fn drain(&mut self) -> impl Iterator<Item = (Priority, T)> + '_ {
        self.len = 0;
        Priority::ALL
            .into_iter()
            .flat_map(|p| {
                std::mem::take(&mut self.levels[p as usize])
                    .into_iter()
                    .map(move |t| (p, t))
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serves_by_level_then_fifo() {
        let mut q = TaskQueue::new(0);
        q.push(Priority::Low, 1).unwrap();
        q.push(Priority::Normal, 2).unwrap();
        q.push(Priority::Critical, 3).unwrap();
        q.push(Priority::Normal, 4).unwrap();
        q.push(Priority::High, 5).unwrap();
        q.push(Priority::Critical, 6).unwrap();
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, t)| t)).collect();
        assert_eq!(order, vec![3, 6, 5, 2, 4, 1]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_rejects_and_keeps_its_items() {
        let mut q = TaskQueue::new(2);
        q.push(Priority::Normal, 'a').unwrap();
        q.push(Priority::Low, 'b').unwrap();
        assert_eq!(q.push(Priority::Critical, 'c'), Err('c'));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some((Priority::Normal, 'a')));
        q.push(Priority::Critical, 'c').unwrap();
        assert_eq!(q.pop(), Some((Priority::Critical, 'c')));
    }

    #[test]
    fn drain_empties_in_service_order() {
        let mut q = TaskQueue::new(0);
        q.push(Priority::Low, 1).unwrap();
        q.push(Priority::High, 2).unwrap();
        let all: Vec<_> = q.drain().collect();
        assert_eq!(all, vec![(Priority::High, 2), (Priority::Low, 1)]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(), None);
    }

    proptest! {
        /// Shadow model: a stable sort by priority of everything pushed.
        #[test]
        fn matches_a_stable_sort(items in proptest::collection::vec((0usize..4, any::<u16>()), 0..200)) {
            let mut q = TaskQueue::new(0);
            for (i, (p, v)) in items.iter().enumerate() {
                q.push(Priority::ALL[*p], (i, *v)).unwrap();
            }
            let mut model: Vec<(usize, (usize, u16))> =
                items.iter().enumerate().map(|(i, (p, v))| (*p, (i, *v))).collect();
            model.sort_by_key(|(p, (i, _))| (*p, *i));
            let got: Vec<_> = std::iter::from_fn(|| q.pop().map(|(p, t)| (p as usize, t))).collect();
            prop_assert_eq!(got, model);
        }
    }
}
