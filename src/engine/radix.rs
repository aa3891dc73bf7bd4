//! A radix heap over monotone 128-bit keys (Ahuja, Mehlhorn, Orlin & Tarjan,
//! "Faster algorithms for the shortest path problem", J. ACM 37(2), 1990).
//!
//! A radix heap is a *monotone* priority queue: every key pushed must be
//! greater than the key of the last entry popped (`last`). In exchange, each
//! entry is filed in bucket `i` = the position of the highest bit in which its
//! key differs from `last`, so every key in bucket `i` is smaller than every
//! key in bucket `j > i`. The minimum is in the lowest non-empty bucket;
//! popping it makes it the new `last` and re-files the rest of that bucket into
//! strictly lower buckets. An entry only ever moves down, at most 128 times,
//! so push is O(1) and pop is O(128) amortised, independent of the heap size,
//! and everything lives in 128 plain `Vec`s whose capacity is reused.
//!
//! Keys here are unique and `last` starts at 0 while the smallest valid key is
//! 1, so no stored key ever equals `last` and 128 buckets (0..=127) suffice; a
//! `u128` bitmask of the non-empty buckets finds the lowest one in one
//! instruction.
//!
//! Besides `pop`, the heap offers [`RadixHeap::remove_at`]: removing any entry
//! *without* advancing `last`. The engine uses it to drop cancelled entries
//! found at the head while peeking, so that a peek never raises the floor
//! below which the caller may still schedule.

use std::mem;

/// Number of buckets: one per bit of the key.
const BUCKETS: usize = 128;

/// A stored entry. The key is kept as two `u64` halves (time, seq) so that
/// the entry is only 8-byte aligned: a `u128` field would force 16-byte
/// alignment and pad small payloads.
#[derive(Debug)]
pub(super) struct Entry<V> {
    pub(super) hi: u64,
    pub(super) lo: u64,
    pub(super) value: V,
}

impl<V> Entry<V> {
    #[inline(always)]
    pub(super) fn key(&self) -> u128 {
        key(self.hi, self.lo)
    }
}

/// The 128-bit key of the halves `(hi, lo)`.
#[inline(always)]
pub(super) fn key(hi: u64, lo: u64) -> u128 {
    (u128::from(hi) << 64) | u128::from(lo)
}

/// Bucket of a key that differs from `last` by `diff = key ^ last` (non-zero):
/// the index of its highest set bit.
#[inline(always)]
fn bucket_of(diff: u128) -> usize {
    debug_assert!(diff != 0, "a key equal to `last` has no bucket");
    // For diff != 0 this is 0..=127; the mask lets the compiler drop the
    // bounds check without `unsafe`.
    (127 - diff.leading_zeros() as usize) & (BUCKETS - 1)
}

/// Where an entry sits: bucket and index within it. Valid until the heap is
/// next modified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Loc {
    bucket: usize,
    index: usize,
}

/// A monotone min-priority queue of `(key, value)` with unique keys.
#[derive(Debug)]
pub(super) struct RadixHeap<V> {
    /// Key of the last popped entry; every stored key is greater.
    last: u128,
    /// Bit `i` set iff `buckets[i]` is non-empty.
    mask: u128,
    buckets: [Vec<Entry<V>>; BUCKETS],
    len: usize,
}

impl<V> RadixHeap<V> {
    pub(super) fn new() -> Self {
        RadixHeap {
            last: 0,
            mask: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
            len: 0,
        }
    }

    /// Coarse capacity hint for about `n` entries (see `Engine::with_capacity`).
    pub(super) fn reserve_time_buckets(&mut self, n: usize) {
        // Time differences are in the high half: buckets 64..=127. Entries
        // spread over them; reserve a share in each so the first pushes do
        // not reallocate repeatedly, without reserving 64 × n in total.
        let share = n.div_ceil(8);
        for b in &mut self.buckets[64..] {
            b.reserve(share);
        }
    }

    /// Number of stored entries.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Key of the last popped entry (0 before the first pop).
    #[inline]
    pub(super) fn last(&self) -> u128 {
        self.last
    }

    /// Insert an entry. Its key must be greater than [`Self::last`].
    #[inline]
    pub(super) fn push(&mut self, hi: u64, lo: u64, value: V) {
        let k = key(hi, lo);
        debug_assert!(
            k > self.last,
            "radix heap is monotone: key {k:#x} is not above last {:#x}",
            self.last
        );
        let b = bucket_of(k ^ self.last);
        self.buckets[b].push(Entry { hi, lo, value });
        self.mask |= 1 << b;
        self.len += 1;
    }

    /// Location and key of the minimum entry, without changing anything.
    /// Costs one scan of the lowest non-empty bucket.
    #[inline]
    pub(super) fn min(&self) -> Option<(Loc, u128)> {
        if self.mask == 0 {
            return None;
        }
        let bucket = self.mask.trailing_zeros() as usize & (BUCKETS - 1);
        let entries = &self.buckets[bucket];
        let mut index = 0;
        let mut best = u128::MAX;
        for (i, e) in entries.iter().enumerate() {
            let k = e.key();
            if k < best {
                best = k;
                index = i;
            }
        }
        debug_assert!(
            !entries.is_empty(),
            "mask bit {bucket} set for an empty bucket"
        );
        Some((Loc { bucket, index }, best))
    }

    /// Remove the entry at `loc` without advancing `last` (any entry may be
    /// removed this way; the remaining ones stay correctly filed).
    #[inline]
    pub(super) fn remove_at(&mut self, loc: Loc) -> Entry<V> {
        let bucket = &mut self.buckets[loc.bucket];
        let e = bucket.swap_remove(loc.index);
        if bucket.is_empty() {
            self.mask &= !(1 << loc.bucket);
        }
        self.len -= 1;
        e
    }

    /// Pop the minimum entry, which must be at `loc` as returned by
    /// [`Self::min`] with no modification since: it becomes `last`, and the
    /// rest of its bucket is re-filed into lower buckets.
    #[inline]
    pub(super) fn pop_at(&mut self, loc: Loc) -> Entry<V> {
        let mut src = mem::take(&mut self.buckets[loc.bucket]);
        let e = src.swap_remove(loc.index);
        let last = e.key();
        debug_assert!(last > self.last, "pop_at: key {last:#x} below last");
        self.last = last;
        self.mask &= !(1 << loc.bucket);
        self.len -= 1;
        // Every remaining entry of this bucket agrees with the new `last`
        // above bit `loc.bucket`, so it lands strictly lower; draining keeps
        // `src`'s capacity for reuse.
        for x in src.drain(..) {
            let b = bucket_of(x.key() ^ last);
            debug_assert!(b < loc.bucket, "re-filed upwards: {b} >= {}", loc.bucket);
            self.buckets[b].push(x);
            self.mask |= 1 << b;
        }
        self.buckets[loc.bucket] = src;
        e
    }
}
