//! A multi-level radix heap over event times, FIFO among equal times.
//!
//! The radix heap (Ahuja, Mehlhorn, Orlin & Tarjan, "Faster algorithms for
//! the shortest path problem", J. ACM 37(2), 1990) is a *monotone* priority
//! queue: every key pushed is at least the key of the last pop (`last`). An
//! entry is filed by the highest bit in which its key differs from `last`, so
//! every key in a lower bucket is smaller than every key in a higher one; the
//! minimum is in the lowest non-empty bucket, and popping it makes it `last`
//! and re-files the rest of that bucket into strictly lower buckets. Entries
//! only move down, so the cost is independent of the queue size.
//!
//! Two refinements, both measured on the hold model (`benches/engine.rs`):
//!
//! * **Digits of 6 bits instead of single bits.** The key (a `u64` time) is
//!   read as 11 digits of 6 bits. An entry is filed at *level* = the highest
//!   digit in which it differs from `last`, in the bucket of its own digit
//!   value there, so a level is 64 buckets with a `u64` bitmask and the
//!   lowest bucket is found with two `trailing_zeros`. An entry moves at most
//!   once per level (≤ 11 times; measured 1.7–3.3 moves per event on the
//!   hold model at 1k–1M pending events) instead of once per bit:
//!   with binary buckets the hold model at 10k events moved each popped
//!   bucket's entries ~6.4 times per pop and ran at ~20 M events/s.
//! * **Ties in FIFO order, and a cheap path for them.** The radix key is the
//!   time alone; `seq` breaks ties. All entries at time `last` sit in the
//!   *now queue*: `cur` (sorted by descending `seq`, so the next one is at the
//!   end) then `incoming` (scheduled at `last` after `cur` was formed, so with
//!   larger `seq`, in order). The head of a bucket is its smallest
//!   `(time, seq)`, and when a bucket is popped its entries of the minimum
//!   time go to `cur`, sorted (usually one or two). A burst of equal times
//!   therefore costs O(1) per event, and buckets need no internal order,
//!   so any entry can be removed in O(1) with `swap_remove`.
//!
//! Besides popping, [`RadixHeap::remove`] drops the head *without* advancing
//! `last`. The engine uses it for cancelled entries found while peeking, so a
//! peek never raises the floor below which the caller may still schedule.

use std::cmp::Reverse;
use std::mem;

/// Bits per digit.
const DIGIT_BITS: u32 = 6;
/// Buckets per level: one per digit value.
const FAN: usize = 1 << DIGIT_BITS;
/// Levels: digits in a `u64` (the top one has only 4 bits).
const LEVELS: usize = 64_usize.div_ceil(DIGIT_BITS as usize);

/// A stored entry: time, scheduling sequence number, payload.
#[derive(Debug)]
pub(super) struct Entry<V> {
    pub(super) time: u64,
    pub(super) seq: u64,
    pub(super) value: V,
}

/// Where the minimum entry is. Valid until the heap is next modified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Head {
    /// At the end of the now queue (`cur`).
    Now,
    /// In `buckets[index]` at position `pos`.
    Bucket { index: usize, pos: usize },
}

/// A monotone min-queue of entries ordered by `(time, seq)`, where `seq` must
/// increase with every push.
#[derive(Debug)]
pub(super) struct RadixHeap<V> {
    /// Time of the last pop; every stored time is at least this.
    last: u64,
    /// Entries at time `last`, in reverse `seq` order (next one last).
    cur: Vec<Entry<V>>,
    /// Entries pushed at time `last` since `cur` was formed, in `seq` order.
    incoming: Vec<Entry<V>>,
    /// Bit `l` set iff some bucket of level `l` is non-empty.
    level_mask: u32,
    /// Bit `d` of `digit_mask[l]` set iff bucket `(l, d)` is non-empty.
    digit_mask: [u64; LEVELS],
    /// Bucket `(level, digit)` at `level * FAN + digit`; each in `seq` order.
    buckets: Box<[Vec<Entry<V>>]>,
    len: usize,
}

impl<V> RadixHeap<V> {
    pub(super) fn new() -> Self {
        RadixHeap {
            last: 0,
            cur: Vec::new(),
            incoming: Vec::new(),
            level_mask: 0,
            digit_mask: [0; LEVELS],
            buckets: (0..LEVELS * FAN).map(|_| Vec::new()).collect(),
            len: 0,
        }
    }

    /// Reserve room for `n` entries pushed at time `last`.
    pub(super) fn reserve_now(&mut self, n: usize) {
        self.incoming.reserve(n);
    }

    /// Number of stored entries.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The values stored at the time of the last pop, in no set order.
    #[inline]
    pub(super) fn at_last(&self) -> impl Iterator<Item = &V> {
        self.cur.iter().chain(&self.incoming).map(|e| &e.value)
    }

    /// Insert an entry; `time` must be at least the last popped time and
    /// `seq` above every `seq` pushed before.
    #[inline]
    pub(super) fn push(&mut self, time: u64, seq: u64, value: V) {
        debug_assert!(
            time >= self.last,
            "radix heap is monotone: time {time} is below last {}",
            self.last
        );
        let e = Entry { time, seq, value };
        if time == self.last {
            self.incoming.push(e);
        } else {
            self.file(e);
        }
        self.len += 1;
    }

    /// Insert an entry at time `last` whose `seq` may be below those of
    /// entries already there (a place reserved earlier): it goes among
    /// them in `seq` order. O(entries at `last`); the common push of a new
    /// `seq` at `last` is [`Self::push`].
    pub(super) fn push_at_last(&mut self, seq: u64, value: V) {
        if !self.incoming.is_empty() {
            // `cur` then `incoming` as one queue, next last: every seq in
            // `incoming` is above those in `cur`.
            self.incoming.reverse();
            self.incoming.append(&mut self.cur);
            mem::swap(&mut self.cur, &mut self.incoming);
        }
        let at = self.cur.partition_point(|e| e.seq > seq);
        let time = self.last;
        self.cur.insert(at, Entry { time, seq, value });
        self.len += 1;
    }

    /// File an entry with `time > last` into its bucket.
    #[inline(always)]
    fn file(&mut self, e: Entry<V>) {
        let diff = e.time ^ self.last;
        debug_assert!(
            diff != 0,
            "time {} equals last: it belongs in the now queue",
            e.time
        );
        let level = (63 - diff.leading_zeros()) / DIGIT_BITS;
        let digit = (e.time >> (level * DIGIT_BITS)) as usize & (FAN - 1);
        let level = level as usize;
        self.buckets[level * FAN + digit].push(e);
        self.level_mask |= 1 << level;
        self.digit_mask[level] |= 1 << digit;
    }

    /// Mark bucket `(level, digit)` as empty.
    #[inline(always)]
    fn clear_bit(&mut self, index: usize) {
        let (level, digit) = (index / FAN, index % FAN);
        self.digit_mask[level] &= !(1 << digit);
        // Without a branch: whether the level empties is a coin toss for
        // the branch predictor in a busy queue.
        let emptied = self.digit_mask[level] == 0;
        self.level_mask &= !(u32::from(emptied) << level);
    }

    /// Locate the minimum entry by `(time, seq)` and return it with its time
    /// and seq. May move `incoming` into `cur` (no change in order).
    #[inline]
    pub(super) fn head(&mut self) -> Option<(Head, u64, u64)> {
        if let Some(e) = self.cur.last() {
            return Some((Head::Now, e.time, e.seq));
        }
        if !self.incoming.is_empty() {
            self.incoming.reverse();
            mem::swap(&mut self.cur, &mut self.incoming);
            let e = self.cur.last()?;
            return Some((Head::Now, e.time, e.seq));
        }
        if self.level_mask == 0 {
            return None;
        }
        let level = self.level_mask.trailing_zeros() as usize;
        let digit = self.digit_mask[level].trailing_zeros() as usize;
        let index = level * FAN + digit;
        let bucket = &self.buckets[index];
        let Some(mut best) = bucket.first() else {
            panic!("radix heap: bucket ({level}, {digit}) is marked non-empty but is empty");
        };
        let mut pos = 0;
        for (i, e) in bucket.iter().enumerate().skip(1) {
            if (e.time, e.seq) < (best.time, best.seq) {
                best = e;
                pos = i;
            }
        }
        Some((Head::Bucket { index, pos }, best.time, best.seq))
    }

    /// Remove the head found by [`Self::head`] (no modification since)
    /// without advancing `last`, keeping every bucket in order.
    pub(super) fn remove(&mut self, head: Head) -> Entry<V> {
        let e = match head {
            Head::Now => self.pop_cur(),
            Head::Bucket { index, pos } => {
                let bucket = &mut self.buckets[index];
                let e = bucket.swap_remove(pos);
                if bucket.is_empty() {
                    self.clear_bit(index);
                }
                e
            }
        };
        self.len -= 1;
        e
    }

    /// The next entry of the now queue, which `head` found non-empty.
    #[inline(always)]
    fn pop_cur(&mut self) -> Entry<V> {
        match self.cur.pop() {
            Some(e) => e,
            None => panic!(
                "radix heap: head is in the empty now queue (len {})",
                self.len
            ),
        }
    }

    /// Raise `last` to `t` without popping anything: the caller handles an
    /// event kept outside the heap, due before every stored one. `t` must be
    /// at least `last` and at most every stored time. Entries filed against
    /// the old `last` stay valid except those of the one bucket `t` itself
    /// falls in (they now agree with `last` at that level): that bucket is
    /// re-filed, as a pop re-files the bucket it empties.
    #[inline]
    pub(super) fn advance(&mut self, t: u64) {
        if t == self.last {
            return;
        }
        debug_assert!(
            t > self.last,
            "radix heap is monotone: {t} below {}",
            self.last
        );
        debug_assert!(
            self.cur.is_empty() && self.incoming.is_empty(),
            "entries at {} would come before {t}",
            self.last
        );
        let level = (63 - (t ^ self.last).leading_zeros()) / DIGIT_BITS;
        let digit = (t >> (level * DIGIT_BITS)) as usize & (FAN - 1);
        let level = level as usize;
        self.last = t;
        if self.digit_mask[level] & (1 << digit) == 0 {
            return;
        }
        self.refile(level * FAN + digit);
    }

    /// Empty bucket `index`, whose entries now agree with `last` at the
    /// bucket's level (its time was just taken as `last`): those at `last`
    /// go to the now queue (smallest seq last), the rest to lower buckets.
    /// The bucket keeps its capacity.
    #[inline(always)]
    fn refile(&mut self, index: usize) {
        let mut src = mem::take(&mut self.buckets[index]);
        self.clear_bit(index);
        let at = self.last;
        if index < FAN {
            // Level 0: the whole bucket is at `last` (and `cur` is empty).
            mem::swap(&mut self.cur, &mut src);
        } else {
            for e in src.drain(..) {
                debug_assert!(e.time >= at, "an entry at {} is before {at}", e.time);
                if e.time == at {
                    self.cur.push(e);
                } else {
                    self.file(e);
                }
            }
        }
        if self.cur.len() > 1 {
            // Next (smallest seq) last.
            self.cur.sort_unstable_by_key(|e| Reverse(e.seq));
        }
        // `src` is empty here (drained, or the old empty `cur`); keep its
        // capacity in the bucket.
        self.buckets[index] = src;
    }

    /// Pop the head found by [`Self::head`] (no modification since): its time
    /// becomes `last`, and the rest of its bucket moves to lower buckets or,
    /// for entries of the same time, to the now queue.
    #[inline]
    pub(super) fn pop(&mut self, head: Head) -> Entry<V> {
        if let Head::Bucket { index, pos } = head {
            debug_assert!(self.cur.is_empty() && self.incoming.is_empty());
            if self.buckets[index].len() == 1 {
                // A lone entry (the common case in a sparse queue): it
                // becomes `last` and nothing needs re-filing; every other
                // bucket stays valid, as below.
                let e = self.buckets[index].pop().expect("the bucket has one entry");
                self.clear_bit(index);
                self.last = e.time;
                self.len -= 1;
                return e;
            }
            let Some(min) = self.buckets[index].get(pos).map(|e| e.time) else {
                panic!(
                    "radix heap: head {pos} outside bucket {index} of {}",
                    self.buckets[index].len()
                );
            };
            self.last = min;
            self.refile(index);
        }
        let e = self.pop_cur();
        self.len -= 1;
        e
    }
}
