//! The event queue: pending events keyed by `(time, seq)`, popped in that
//! order.
//!
//! **What.** [`Engine`] holds the simulation's future events, each with a
//! virtual [`Instant`] and a payload `E`. [`Engine::step`] pops the earliest
//! one and advances [`Engine::now`] to its time; handlers schedule more.
//!
//! **Why `(time, seq)`.** `seq` is a global counter of scheduling calls, so the
//! order is total: events at the same instant pop FIFO, in the order they were
//! scheduled. Nothing depends on hash order, allocation addresses or heap
//! tie-breaking, so a run is a pure function of its inputs (the
//! determinism contract: docs/determinism.md).
//!
//! **How.** The queue is a radix heap (Ahuja, Mehlhorn, Orlin & Tarjan 1990;
//! details in `engine/radix.rs`) keyed by time, with `seq` breaking ties. A
//! radix heap is a *monotone* priority queue — every new key must be at least
//! the last popped one — and a simulator guarantees exactly that: nothing may
//! be scheduled before `now` ([`EngineError::InPast`]). In exchange, push is
//! O(1) and pop amortised O(number of digits in a time), whatever the queue
//! size, in plain `Vec`s whose capacity is reused.
//!
//! *Why not `std::collections::BinaryHeap`:* it does well with a small queue
//! but degrades with size, because each pop sifts through `log2 n` levels of
//! cache misses. Hold model, `cargo bench --bench engine` on the 2-core dev
//! machine: `BinaryHeap<Reverse<(time, seq, E)>>` 16.7 M events/s at 10k
//! pending events and 1.5 M/s at 1M; this engine 40 M/s and 25 M/s. (DESIGN
//! notes had ~20 M/s vs 1.3–1.8 M/s for a binary heap at 1k vs 1M, and
//! 12.6–14.2 M/s at 1M for a single-bit radix heap over `time << 64 | seq`;
//! the 6-bit digits in `radix.rs` are what lifted 10k from ~20 to ~40 M/s.)
//!
//! **Cancellation** is lazy: [`Engine::cancel`] records the key, and the entry
//! is dropped when it reaches the head. An [`EventId`] carries its key, so an
//! event that already fired (key at or below the last popped key) is told
//! apart without any lookup or memory. The cancelled set is consulted only
//! while it holds pending events, so runs without cancellation pay one
//! predictable branch per pop.

mod radix;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fmt;

use crate::time::{Duration, Instant};
use radix::{Entry, Head, RadixHeap};

/// Identifies one scheduled event: its `(time, seq)` key. Returned by
/// [`Engine::schedule`] and used by [`Engine::cancel`]. Ordering follows pop
/// order. An id is only meaningful to the engine that issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    time: u64,
    seq: u64,
}

impl EventId {
    /// The instant the event is (or was) due.
    #[inline]
    pub fn time(self) -> Instant {
        Instant(self.time)
    }

    #[inline]
    fn key(self) -> u128 {
        key(self.time, self.seq)
    }
}

/// The total order of events as one number: `time << 64 | seq`.
#[inline(always)]
fn key(time: u64, seq: u64) -> u128 {
    (u128::from(time) << 64) | u128::from(seq)
}

/// Why an event could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The requested time is earlier than the engine's current time.
    InPast {
        /// The requested time.
        at: Instant,
        /// The engine's time when the request was made.
        now: Instant,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::InPast { at, now } => {
                write!(f, "cannot schedule at {at}: it is before now ({now})")
            }
        }
    }
}

impl std::error::Error for EngineError {}

/// A deterministic discrete-event queue over payloads `E`.
///
/// Events pop in `(time, seq)` order: by time, FIFO among equal times.
/// Payloads are stored inline (no boxing); once the internal buffers have
/// grown to the queue's working size, scheduling and popping allocate nothing.
#[derive(Debug)]
pub struct Engine<E> {
    heap: RadixHeap<E>,
    now: Instant,
    /// Key of the last popped live event (0 before the first).
    last_popped: u128,
    /// `seq` of the next scheduled event; starts at 1 so that every key is
    /// above the initial `last_popped` of 0.
    next_seq: u64,
    processed: u64,
    /// Keys of cancelled events above `last_popped`: those still stored, and
    /// those already dropped from the head (by a peek, or a step that found
    /// nothing live) but not yet passed by a pop; kept so that a second
    /// `cancel` of them returns `false`.
    cancelled: HashSet<u128>,
    /// The same keys as `cancelled`, smallest first, to forget them once the
    /// last popped key has passed them.
    cancelled_order: BinaryHeap<Reverse<u128>>,
    /// How many keys in `cancelled` are still stored in `heap`.
    cancelled_stored: usize,
    /// The one event scheduled beside the queue ([`Self::schedule_beside`]).
    side: Option<Entry<E>>,
}

impl<E> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Engine<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Engine {
            heap: RadixHeap::new(),
            now: Instant::ZERO,
            last_popped: 0,
            next_seq: 1,
            processed: 0,
            cancelled: HashSet::new(),
            cancelled_order: BinaryHeap::new(),
            cancelled_stored: 0,
            side: None,
        }
    }

    /// An empty queue with room for `n` events scheduled at the current
    /// instant (e.g. an initial batch at time 0) without reallocating. The
    /// buckets for later times grow on demand, since which ones a workload
    /// uses depends on its times; after warm-up nothing reallocates.
    pub fn with_capacity(n: usize) -> Self {
        let mut e = Self::new();
        e.heap.reserve_now(n);
        e
    }

    /// Current virtual time: the time of the last popped event (0 at start).
    #[inline]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Schedule `event` at `at`. Times equal to [`Self::now`] are allowed (the
    /// event pops after those already queued for that time); earlier times
    /// are an error and leave the queue unchanged.
    #[inline]
    pub fn schedule(&mut self, at: Instant, event: E) -> Result<EventId, EngineError> {
        if at < self.now {
            return Err(EngineError::InPast { at, now: self.now });
        }
        Ok(self.push(at, event))
    }

    /// Schedule `event` at `now + delay` (saturating at [`Instant::MAX`]).
    #[inline(always)]
    pub fn schedule_after(&mut self, delay: Duration, event: E) -> EventId {
        let at = self.now + delay;
        self.push(at, event)
    }

    /// Schedule `event` at `at` beside the queue instead of in it: it gets
    /// its `seq` as [`Self::schedule`] would give it and pops in the same
    /// place, by `(time, seq)`, but costs no push and no pop. For a
    /// producer whose next event is always known (the workload's next
    /// arrival); one such event at a time, and none pending when it is
    /// scheduled. It cannot be cancelled ([`Self::cancel`] returns false).
    #[inline]
    pub fn schedule_beside(&mut self, at: Instant, event: E) -> Result<EventId, EngineError> {
        if at < self.now {
            return Err(EngineError::InPast { at, now: self.now });
        }
        assert!(self.side.is_none(), "one event beside the queue at a time");
        let seq = self.next_seq;
        self.next_seq = seq + 1;
        self.side = Some(Entry {
            time: at.0,
            seq,
            value: event,
        });
        Ok(EventId { time: at.0, seq })
    }

    /// The `seq` the next scheduled (or reserved) event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Had an event been scheduled at `at` with `seq` (taken by
    /// [`Self::reserve`]), would it have popped by now? That is, is its
    /// key at or before the last popped one?
    pub fn popped_by_now(&self, at: Instant, seq: u64) -> bool {
        key(at.0, seq) <= self.last_popped
    }

    /// Take the `seq` the next scheduled event would get, scheduling
    /// nothing: an event that may be scheduled later with
    /// [`Self::schedule_reserved`] in the place it would have had now.
    pub fn reserve(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq + 1;
        seq
    }

    /// Schedule `event` at `at` with `seq` taken by [`Self::reserve`] (and
    /// not used since): it pops where it would have, had it been scheduled
    /// when `seq` was reserved. `at` may be [`Self::now`] itself: the event
    /// then goes among those due now in `seq` order (a cost in the number
    /// of them). The key must be after the last popped one; `None`
    /// (nothing scheduled) if not, or if `seq` was never handed out.
    pub fn schedule_reserved(&mut self, at: Instant, seq: u64, event: E) -> Option<EventId> {
        if at < self.now || key(at.0, seq) <= self.last_popped || seq >= self.next_seq {
            return None;
        }
        if at == self.now {
            // The heap's floor is `now`: its entries at `now` are in order.
            self.heap.push_at_last(seq, event);
        } else {
            self.heap.push(at.0, seq, event);
        }
        Some(EventId { time: at.0, seq })
    }

    #[inline(always)]
    fn push(&mut self, at: Instant, event: E) -> EventId {
        let seq = self.next_seq;
        // 2^64 scheduling calls would take centuries; overflow is a bug.
        self.next_seq = seq + 1;
        self.heap.push(at.0, seq, event);
        EventId { time: at.0, seq }
    }

    /// Cancel a pending event. Returns `true` iff it was still pending and not
    /// already cancelled; it then never pops and [`Self::len`] drops by one.
    /// Cancelling an event that already fired returns `false` and stores
    /// nothing.
    pub fn cancel(&mut self, id: EventId) -> bool {
        let k = id.key();
        if k <= self.last_popped || id.seq >= self.next_seq {
            return false; // already popped (or never issued by this engine)
        }
        if self.side.as_ref().is_some_and(|e| key(e.time, e.seq) == k) {
            return false; // beside the queue: not cancellable
        }
        if !self.cancelled.insert(k) {
            return false; // already cancelled
        }
        self.cancelled_order.push(Reverse(k));
        self.cancelled_stored += 1;
        true
    }

    /// Location, time and seq of the earliest live event, dropping cancelled
    /// entries found at the head on the way. Never advances the heap's floor,
    /// so scheduling at `now` stays valid after a peek.
    #[inline(always)]
    fn live_head(&mut self) -> Option<(Head, u64, u64)> {
        loop {
            let (head, time, seq) = self.heap.head()?;
            if self.cancelled_stored == 0 || !self.cancelled.contains(&key(time, seq)) {
                return Some((head, time, seq));
            }
            self.heap.remove(head);
            self.cancelled_stored -= 1;
        }
    }

    /// Pop the live head found by `live_head` and make its time `now`.
    #[inline(always)]
    fn pop_live(&mut self, head: Head) -> (Instant, E) {
        let e = self.heap.pop(head);
        self.popped(e)
    }

    /// An event just taken out (from the queue or beside it): its key is
    /// the last popped, its time `now`.
    #[inline(always)]
    fn popped(&mut self, e: Entry<E>) -> (Instant, E) {
        let k = key(e.time, e.seq);
        self.last_popped = k;
        if !self.cancelled_order.is_empty() {
            self.forget_cancelled_below(k);
        }
        self.now = Instant(e.time);
        self.processed += 1;
        (self.now, e.value)
    }

    /// Forget cancelled keys below `k`, the key just popped: none of them is
    /// stored any more, and `cancel` now rejects them by key alone.
    #[cold]
    fn forget_cancelled_below(&mut self, k: u128) {
        while let Some(&Reverse(c)) = self.cancelled_order.peek() {
            if c >= k {
                break;
            }
            self.cancelled_order.pop();
            let was_there = self.cancelled.remove(&c);
            debug_assert!(
                was_there,
                "cancelled key {c:#x} in order heap but not in set"
            );
        }
    }

    /// Time of the next live (not cancelled) event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<Instant> {
        let queued = self.live_head().map(|(_, time, _)| time);
        let beside = self.side.as_ref().map(|e| e.time);
        queued.into_iter().chain(beside).min().map(Instant)
    }

    /// The events pending at [`Self::now`] (cancelled ones included), in
    /// no set order. If there are none, the next event to pop is one the
    /// caller schedules at `now`, so the caller may handle it at once
    /// instead, in the same order.
    #[inline]
    pub fn pending_now(&self) -> impl Iterator<Item = &E> {
        let beside = self.side.as_ref().filter(|e| e.time == self.now.0);
        self.heap.at_last().chain(beside.map(|e| &e.value))
    }

    /// Pop the next live event and advance `now` to its time.
    #[inline]
    pub fn step(&mut self) -> Option<(Instant, E)> {
        self.step_until(Instant::MAX)
    }

    /// Pop the next live event only if it is due at or before `limit`;
    /// otherwise return `None` and leave `now` and the pending events as they
    /// were.
    #[inline]
    pub fn step_until(&mut self, limit: Instant) -> Option<(Instant, E)> {
        let head = self.live_head();
        if let Some(e) = &self.side {
            let first = match head {
                Some((_, time, seq)) => key(e.time, e.seq) < key(time, seq),
                None => true,
            };
            if first {
                return if e.time > limit.0 {
                    None
                } else {
                    self.pop_side()
                };
            }
        }
        let (head, time, _) = head?;
        if time > limit.0 {
            return None;
        }
        Some(self.pop_live(head))
    }

    /// Pop the event beside the queue, due before everything stored: the
    /// heap's floor rises to its time (`RadixHeap::advance`), so later
    /// pushes and events at `now` stay as if it had been stored.
    #[inline(always)]
    fn pop_side(&mut self) -> Option<(Instant, E)> {
        let e = self.side.take()?;
        debug_assert!(key(e.time, e.seq) > self.last_popped);
        self.heap.advance(e.time);
        Some(self.popped(e))
    }

    /// Handle every event due at or before `limit`, in order, including those
    /// the handler schedules meanwhile. Returns how many were handled. `now`
    /// ends at the last handled event's time (it does not jump to `limit`).
    pub fn run_until<F: FnMut(&mut Self, Instant, E)>(
        &mut self,
        limit: Instant,
        mut handler: F,
    ) -> u64 {
        let mut handled = 0;
        while let Some((t, ev)) = self.step_until(limit) {
            handler(self, t, ev);
            handled += 1;
        }
        handled
    }

    /// Number of live pending events (cancelled ones excluded).
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled_stored + usize::from(self.side.is_some())
    }

    /// Whether no live event is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of live events popped so far.
    #[inline]
    pub fn events_processed(&self) -> u64 {
        self.processed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn t(ns: u64) -> Instant {
        Instant(ns)
    }

    fn drain<E>(e: &mut Engine<E>) -> Vec<(u64, E)> {
        std::iter::from_fn(|| e.step().map(|(at, x)| (at.0, x))).collect()
    }

    #[test]
    fn pops_in_time_order() {
        let mut e = Engine::new();
        for (i, at) in [50u64, 10, 40, 0, 30, 20, u64::MAX, 1 << 40]
            .into_iter()
            .enumerate()
        {
            e.schedule(t(at), i).unwrap();
        }
        assert_eq!(e.len(), 8);
        let times: Vec<u64> = drain(&mut e).into_iter().map(|(at, _)| at).collect();
        assert_eq!(times, [0, 10, 20, 30, 40, 50, 1 << 40, u64::MAX]);
        assert_eq!(e.now(), Instant::MAX);
        assert_eq!(e.events_processed(), 8);
        assert!(e.is_empty());
    }

    #[test]
    fn equal_times_pop_fifo() {
        let mut e = Engine::new();
        // 1000 events at t=100 interleaved with events before and after it.
        for i in 0..1000u32 {
            e.schedule(t(100), (100, i)).unwrap();
            e.schedule(t(u64::from(i % 7) * 30), (1, i)).unwrap();
        }
        let got = drain(&mut e);
        let at100: Vec<u32> = got
            .iter()
            .filter(|(at, _)| *at == 100)
            .map(|(_, (_, i))| *i)
            .collect();
        assert_eq!(at100, (0..1000).collect::<Vec<_>>());
        // Ties elsewhere are FIFO too.
        assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "{got:?}");
        for w in got.windows(2) {
            if w[0].0 == w[1].0 && w[0].1.0 == w[1].1.0 {
                assert!(w[0].1.1 < w[1].1.1, "not FIFO: {w:?}");
            }
        }
    }

    /// A place reserved earlier and taken at the current instant goes
    /// among the events due now by its `seq`: after those popped and
    /// before those scheduled after it, wherever they sit in the queue
    /// (popped from a bucket, or pushed at now since).
    #[test]
    fn a_reserved_place_can_be_taken_at_now() {
        let mut e = Engine::new();
        e.schedule(t(5), 'a').unwrap();
        let early = e.reserve();
        e.schedule(t(5), 'c').unwrap();
        let late = e.reserve();
        e.schedule(t(5), 'e').unwrap();
        assert_eq!(e.step(), Some((t(5), 'a')));
        // 'c' and 'e' were moved to the now queue by the pop; 'f' joins
        // them as a new event at now.
        e.schedule(t(5), 'f').unwrap();
        e.schedule_reserved(t(5), late, 'd').unwrap();
        e.schedule_reserved(t(5), early, 'b').unwrap();
        assert_eq!(e.len(), 5);
        let order: Vec<char> = drain(&mut e).into_iter().map(|(_, v)| v).collect();
        assert_eq!(order, ['b', 'c', 'd', 'e', 'f']);
        // At time 0, before any pop, too.
        let mut e = Engine::new();
        let first = e.reserve();
        e.schedule(t(0), 'y').unwrap();
        e.schedule_reserved(t(0), first, 'x').unwrap();
        let order: Vec<char> = drain(&mut e).into_iter().map(|(_, v)| v).collect();
        assert_eq!(order, ['x', 'y']);
    }

    /// A place reserved and never scheduled is past once an event after
    /// it, by `(time, seq)`, has popped: before it at its own instant,
    /// after it at a later one.
    #[test]
    fn a_reserved_place_is_past_once_an_event_after_it_pops() {
        let mut e = Engine::new();
        e.schedule(t(5), 'a').unwrap();
        let seq = e.reserve();
        e.schedule(t(5), 'c').unwrap();
        e.schedule(t(7), 'd').unwrap();
        assert!(!e.popped_by_now(t(5), seq));
        assert_eq!(e.step(), Some((t(5), 'a')));
        assert!(!e.popped_by_now(t(5), seq), "'a' came before it");
        assert!(e.popped_by_now(t(4), seq), "an earlier instant is past");
        assert_eq!(e.step(), Some((t(5), 'c')));
        assert!(e.popped_by_now(t(5), seq), "'c' came after it");
        assert!(!e.popped_by_now(t(6), seq));
        assert_eq!(e.step(), Some((t(7), 'd')));
        assert!(e.popped_by_now(t(6), seq));
    }

    #[test]
    fn a_reserved_place_keeps_its_order() {
        let mut e = Engine::new();
        e.schedule(t(5), 'a').unwrap();
        let seq = e.reserve();
        e.schedule(t(5), 'c').unwrap();
        e.schedule(t(3), 'x').unwrap();
        assert_eq!(e.step(), Some((t(3), 'x')));
        // Before the last popped event, or a place never reserved: refused.
        assert!(e.schedule_reserved(t(3), seq, 'b').is_none());
        assert!(e.schedule_reserved(t(5), 99, 'b').is_none());
        e.schedule_reserved(t(5), seq, 'b').unwrap();
        assert_eq!(e.len(), 3);
        let order: Vec<char> = drain(&mut e).into_iter().map(|(_, v)| v).collect();
        assert_eq!(order, ['a', 'b', 'c']);
    }

    #[test]
    fn scheduling_in_the_past_fails_and_changes_nothing() {
        let mut e = Engine::new();
        e.schedule(t(10), 'a').unwrap();
        e.schedule(t(20), 'b').unwrap();
        assert_eq!(e.step(), Some((t(10), 'a')));
        let err = e.schedule(t(9), 'x').unwrap_err();
        assert_eq!(
            err,
            EngineError::InPast {
                at: t(9),
                now: t(10)
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot schedule at t=9ns: it is before now (t=10ns)"
        );
        assert_eq!(e.len(), 1);
        assert_eq!(drain(&mut e), [(20, 'b')]);
    }

    #[test]
    fn scheduling_at_now_pops_after_queued_events_of_that_time() {
        let mut e = Engine::new();
        e.schedule(t(5), 1).unwrap();
        e.schedule(t(5), 2).unwrap();
        e.schedule(t(6), 9).unwrap();
        assert_eq!(e.step(), Some((t(5), 1)));
        e.schedule(t(5), 3).unwrap();
        e.schedule_after(Duration::ZERO, 4);
        assert_eq!(drain(&mut e), [(5, 2), (5, 3), (5, 4), (6, 9)]);
    }

    #[test]
    fn schedule_after_saturates() {
        let mut e = Engine::new();
        e.schedule(t(u64::MAX - 1), 0).unwrap();
        e.step();
        let id = e.schedule_after(Duration(10), 1);
        assert_eq!(id.time(), Instant::MAX);
        assert_eq!(e.step(), Some((Instant::MAX, 1)));
    }

    #[test]
    fn cancelled_event_never_pops() {
        let mut e = Engine::new();
        let a = e.schedule(t(1), 'a').unwrap();
        let b = e.schedule(t(2), 'b').unwrap();
        let c = e.schedule(t(3), 'c').unwrap();
        assert!(e.cancel(b));
        assert_eq!(e.len(), 2);
        assert!(!e.cancel(b), "second cancel must report false");
        assert_eq!(e.len(), 2);
        assert_eq!(drain(&mut e), [(1, 'a'), (3, 'c')]);
        assert!(!e.cancel(a) && !e.cancel(b) && !e.cancel(c));
        assert!(e.cancelled.is_empty() && e.cancelled_order.is_empty());
        assert_eq!(e.events_processed(), 2);
    }

    #[test]
    fn cancelling_a_fired_event_is_false_and_stores_nothing() {
        let mut e = Engine::new();
        let a = e.schedule(t(1), 'a').unwrap();
        e.schedule(t(2), 'b').unwrap();
        assert_eq!(e.step(), Some((t(1), 'a')));
        assert!(!e.cancel(a));
        assert!(e.cancelled.is_empty());
        assert_eq!(e.cancelled_stored, 0);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn cancelling_the_head_is_skipped_by_peek() {
        let mut e = Engine::new();
        let a = e.schedule(t(10), 'a').unwrap();
        e.schedule(t(20), 'b').unwrap();
        assert_eq!(e.peek_time(), Some(t(10)));
        assert!(e.cancel(a));
        assert_eq!(e.peek_time(), Some(t(20)));
        assert_eq!(e.len(), 1);
        // The peek dropped `a` but did not move time: scheduling between now
        // and the next event still works and pops first.
        assert!(!e.cancel(a), "cancel after the peek dropped it");
        e.schedule(t(5), 'c').unwrap();
        assert_eq!(drain(&mut e), [(5, 'c'), (20, 'b')]);
        assert!(e.cancelled.is_empty());
        // Only cancelled events left: peek and step find nothing.
        let d = e.schedule(t(30), 'd').unwrap();
        assert!(e.cancel(d));
        assert_eq!(e.peek_time(), None);
        assert_eq!(e.step(), None);
        assert!(e.is_empty());
        assert_eq!(e.now(), t(20));
    }

    #[test]
    fn step_until_respects_the_limit() {
        let mut e = Engine::new();
        for at in [10, 20, 20, 30] {
            e.schedule(t(at), at).unwrap();
        }
        assert_eq!(e.step_until(t(9)), None);
        assert_eq!(e.now(), t(0));
        assert_eq!(e.len(), 4);
        assert_eq!(e.step_until(t(20)), Some((t(10), 10)));
        assert_eq!(e.step_until(t(20)), Some((t(20), 20)));
        assert_eq!(e.step_until(t(20)), Some((t(20), 20)));
        assert_eq!(e.step_until(t(29)), None);
        assert_eq!(e.now(), t(20));
        // After a refused step, scheduling before the next event is fine.
        e.schedule(t(25), 25).unwrap();
        assert_eq!(drain(&mut e), [(25, 25), (30, 30)]);
    }

    #[test]
    fn run_until_handles_due_events_and_new_ones() {
        let mut e = Engine::new();
        e.schedule(t(0), 0u32).unwrap();
        e.schedule(t(1000), 999).unwrap();
        let mut seen = Vec::new();
        // Each event schedules its successor 100 ns later, up to t=1000.
        let n = e.run_until(t(500), |eng, at, x| {
            seen.push((at.0, x));
            if x < 999 {
                eng.schedule_after(Duration(100), x + 1);
            }
        });
        assert_eq!(n, 6, "{seen:?}");
        assert_eq!(
            seen,
            [(0, 0), (100, 1), (200, 2), (300, 3), (400, 4), (500, 5)]
        );
        assert_eq!(e.now(), t(500));
        assert_eq!(e.len(), 2); // (600, 6) and (1000, 999)
        assert_eq!(e.peek_time(), Some(t(600)));
        assert_eq!(e.run_until(t(599), |_, _, _| panic!("nothing is due")), 0);
        assert_eq!(e.events_processed(), 6);
    }

    #[test]
    fn many_random_events_pop_in_key_order() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut e = Engine::with_capacity(100_000);
        let mut ids = Vec::new();
        for i in 0..100_000u32 {
            // Mostly spread out, with plenty of exact ties.
            let at = if rng.random::<f64>() < 0.2 {
                u64::from(rng.random::<u32>() % 64)
            } else {
                rng.random::<u64>() >> rng.random_range(0..64)
            };
            ids.push(e.schedule(t(at), i).unwrap());
        }
        let mut prev: Option<EventId> = None;
        let mut count = 0;
        while let Some((at, i)) = e.step() {
            let id = ids[i as usize];
            assert_eq!(id.time(), at);
            if let Some(p) = prev {
                assert!(p < id, "{p:?} popped before {id:?}");
            }
            prev = Some(id);
            count += 1;
        }
        assert_eq!(count, 100_000);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        Cancel(usize),
        Step,
        StepUntil(u64),
        Peek,
    }

    fn delta() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => Just(0u64),
            4 => 0u64..16,
            2 => 0u64..1_000_000,
            1 => 0u64..(1 << 40),
            1 => Just(u64::MAX),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => delta().prop_map(Op::Schedule),
            2 => any::<usize>().prop_map(Op::Cancel),
            4 => Just(Op::Step),
            1 => delta().prop_map(Op::StepUntil),
            1 => Just(Op::Peek),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The engine agrees with a `BTreeMap<(time, seq), payload>` model on
        /// every pop, peek, cancel result and length.
        #[test]
        fn shadows_a_btreemap(ops in prop::collection::vec(op(), 0..500)) {
            let mut e = Engine::new();
            let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            let mut model_now = 0u64;
            let mut ids: Vec<EventId> = Vec::new();
            let mut next = 0u32;
            let model_pop = |model: &mut BTreeMap<(u64, u64), u32>, now: &mut u64, limit: u64| {
                let (&(at, seq), _) = model.first_key_value()?;
                if at > limit {
                    return None;
                }
                *now = at;
                model.remove(&(at, seq)).map(|p| (at, p))
            };
            for op in ops {
                match op {
                    Op::Schedule(d) => {
                        let at = model_now.saturating_add(d);
                        let id = e.schedule(Instant(at), next).unwrap();
                        prop_assert_eq!(id.time(), Instant(at));
                        model.insert((id.time, id.seq), next);
                        ids.push(id);
                        next += 1;
                        if model_now > 0 {
                            let past = e.schedule(Instant(model_now - 1), 0);
                            prop_assert!(past.is_err());
                        }
                    }
                    Op::Cancel(i) if !ids.is_empty() => {
                        let id = ids[i % ids.len()];
                        let expect = model.remove(&(id.time, id.seq)).is_some();
                        prop_assert_eq!(e.cancel(id), expect);
                    }
                    Op::Cancel(_) => {}
                    Op::Step => {
                        let want = model_pop(&mut model, &mut model_now, u64::MAX);
                        prop_assert_eq!(e.step().map(|(at, p)| (at.0, p)), want);
                    }
                    Op::StepUntil(d) => {
                        let limit = model_now.saturating_add(d);
                        let want = model_pop(&mut model, &mut model_now, limit);
                        prop_assert_eq!(e.step_until(Instant(limit)).map(|(at, p)| (at.0, p)), want);
                    }
                    Op::Peek => {
                        let want = model.keys().next().map(|&(at, _)| Instant(at));
                        prop_assert_eq!(e.peek_time(), want);
                    }
                }
                prop_assert_eq!(e.len(), model.len());
                prop_assert_eq!(e.now(), Instant(model_now));
            }
            // Drain: everything left agrees too, and bookkeeping empties.
            while let Some(want) = model_pop(&mut model, &mut model_now, u64::MAX) {
                prop_assert_eq!(e.step().map(|(at, p)| (at.0, p)), Some(want));
            }
            prop_assert_eq!(e.step(), None);
            prop_assert_eq!(e.cancelled_stored, 0);
        }

        /// With an event beside the queue (`schedule_beside`), events pop
        /// in the order of one `BTreeMap` holding them all; `len`,
        /// `peek_time` and `pending_now` count it, `cancel` refuses it (and
        /// cancels the others as before), and
        /// events scheduled at `now` (reserved ones too) stay in place
        /// after it moved `now`.
        #[test]
        fn an_event_beside_the_queue_pops_in_its_place(
            ops in prop::collection::vec(side_op(), 0..500)
        ) {
            let mut e = Engine::new();
            let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            let mut model_now = 0u64;
            let mut beside: Option<EventId> = None;
            let mut ids: Vec<(EventId, u32)> = Vec::new();
            let mut cancelled = std::collections::BTreeSet::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    SideOp::Schedule(d) => {
                        let at = model_now.saturating_add(d);
                        let id = e.schedule(Instant(at), next).unwrap();
                        model.insert((id.time, id.seq), next);
                        ids.push((id, next));
                        next += 1;
                    }
                    SideOp::Reserved(d) => {
                        // A seq taken now, its event scheduled at once.
                        let seq = e.reserve();
                        let at = model_now.saturating_add(d);
                        let id = e.schedule_reserved(Instant(at), seq, next);
                        prop_assert!(id.is_some());
                        model.insert((at, seq), next);
                        next += 1;
                    }
                    SideOp::Cancel(i) if !ids.is_empty() => {
                        let (id, payload) = ids[i % ids.len()];
                        if beside == Some(id) {
                            // Not cancellable: it stays, pending or popped.
                            prop_assert!(!e.cancel(id));
                        } else {
                            let expect = model.remove(&(id.time, id.seq)).is_some();
                            prop_assert_eq!(e.cancel(id), expect);
                            cancelled.insert(payload);
                        }
                    }
                    SideOp::Cancel(_) => {}
                    SideOp::Beside(d) => {
                        // One at a time: a new one only once the last popped.
                        if beside.is_none_or(|id| !model.contains_key(&(id.time, id.seq))) {
                            let at = Instant(model_now.saturating_add(d));
                            let id = e.schedule_beside(at, next).unwrap();
                            model.insert((id.time, id.seq), next);
                            ids.push((id, next));
                            beside = Some(id);
                            next += 1;
                        }
                    }
                    SideOp::StepUntil(d) => {
                        let limit = model_now.saturating_add(d);
                        let want = match model.first_key_value() {
                            Some((&(at, seq), &p)) if at <= limit => {
                                model.remove(&(at, seq));
                                model_now = at;
                                Some((at, p))
                            }
                            _ => None,
                        };
                        let got = e.step_until(Instant(limit));
                        prop_assert_eq!(got.map(|(at, p)| (at.0, p)), want);
                    }
                }
                prop_assert_eq!(e.now(), Instant(model_now));
                prop_assert_eq!(e.len(), model.len());
                let first = model.keys().next().map(|&(at, _)| Instant(at));
                prop_assert_eq!(e.peek_time(), first);
                let mut due: Vec<u32> = e.pending_now().copied().collect();
                due.sort_unstable();
                let mut want: Vec<u32> = (model.range((model_now, 0)..=(model_now, u64::MAX)))
                    .map(|(_, &p)| p)
                    .collect();
                want.sort_unstable();
                // Cancelled events may still be listed (as documented).
                due.retain(|p| !cancelled.contains(p));
                prop_assert_eq!(due, want);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum SideOp {
        Schedule(u64),
        Reserved(u64),
        Cancel(usize),
        Beside(u64),
        StepUntil(u64),
    }

    fn side_op() -> impl Strategy<Value = SideOp> {
        prop_oneof![
            5 => delta().prop_map(SideOp::Schedule),
            1 => delta().prop_map(SideOp::Reserved),
            1 => any::<usize>().prop_map(SideOp::Cancel),
            3 => delta().prop_map(SideOp::Beside),
            5 => prop_oneof![3 => Just(u64::MAX), 1 => delta()].prop_map(SideOp::StepUntil),
        ]
    }
}
