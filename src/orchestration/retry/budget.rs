//! A retry budget: retries may not multiply an outage. Every first attempt
//! deposits `ratio` of a retry, every retry withdraws one, and a reserve
//! allows `min_per_s` retries per second on top, for clients with little
//! traffic (Finagle's `RetryBudget`, tower's `TpsBudget`).
//!
//! Why: a fixed `max_attempts` lets every failing task retry, so an outage
//! that fails everything triples the load on what is left. A budget ties
//! retries to recent first attempts instead: at ratio 0.2, at most one
//! request in six is a retry, however bad things get.
//!
//! Semantics, exactly. Time is cut into slots of `w = ttl / 10` (whole
//! nanoseconds, aligned on `Instant::ZERO`); the budget keeps, for the slot
//! holding `now` and the 9 before it (the *live window*), the net
//! thousandths of a retry put in: a deposit adds `round(1000·ratio)`, a
//! successful withdrawal takes `1000`. A withdrawal at `now` succeeds iff
//! `reserve + (sum over the live window) >= 1000`, with
//! `reserve = floor(1000·min_per_s·ttl_s)`, constant. Hence:
//!
//! - a deposit counts for at least `ttl − w` and less than `ttl` after it
//!   was made: never once it is `ttl` old; a withdrawal is charged as long;
//! - each successful withdrawal leaves the withdrawals in the live window at
//!   most `min_per_s·ttl_s + ratio·(deposits in the live window)`. With
//!   steady traffic of `R` first attempts per second that is at most about
//!   `min_per_s + ratio·R` retries per second, averaged over `ttl`;
//! - the reserve is an allowance per window, not a per-second rate limit:
//!   after a quiet spell up to `min_per_s·ttl_s` retries may go at once
//!   (as in Finagle and tower);
//! - a withdrawal that outlives the deposits that paid for it leaves the
//!   balance negative until it too leaves the window.
//!
//! Integers (thousandths) keep the balance exact: ten deposits at ratio 0.1
//! pay for exactly one retry, which summing `0.1` in `f64` does not.
//! Memory is O(1): ten slots, whatever the traffic.
//!
//! Sans-IO: `now` is an argument and must not go backwards; an earlier
//! `now` is read as the latest one seen.

use crate::time::{Duration, Instant, NS_PER_S};

/// Slots the ttl is cut into (tower uses 10 too).
pub const SLOTS: usize = 10;

/// One retry, in thousandths.
const ONE: i64 = 1_000;

/// A retry budget over a sliding window of `ttl`.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    /// Net thousandths of a retry put into each live slot; slot `k` (since
    /// `Instant::ZERO`) lives at `k % SLOTS`.
    slots: [i64; SLOTS],
    /// The slot holding the latest `now` seen.
    current: u64,
    /// Slot width in nanoseconds (≥ 1).
    width: u64,
    /// Thousandths allowed per window regardless of deposits.
    reserve: i64,
    /// Thousandths one deposit adds.
    deposit: i64,
    exhausted: u64,
}

impl Default for RetryBudget {
    /// Finagle's and tower's defaults: 10 s window, 10 retries/s, 20 %.
    fn default() -> Self {
        RetryBudget::new(Duration::from_secs(10), 10, 0.2)
    }
}

impl RetryBudget {
    /// A budget in which a deposit counts for (at most) `ttl`, allowing
    /// `min_per_s` retries per second regardless of deposits and `ratio`
    /// retries per deposit (resolved to thousandths). Panics unless
    /// `ttl >= 10 ns` and `0 <= ratio <= 1e6`: the validator checks these.
    pub fn new(ttl: Duration, min_per_s: u32, ratio: f64) -> RetryBudget {
        assert!(
            ttl.as_nanos() >= SLOTS as u64,
            "validated: a budget ttl is at least {SLOTS} ns, got {ttl}"
        );
        assert!(
            (0.0..=1e6).contains(&ratio),
            "validated: a budget ratio is in [0, 1e6], got {ratio}"
        );
        let reserve =
            u128::from(min_per_s) * u128::from(ttl.as_nanos()) * ONE as u128 / u128::from(NS_PER_S);
        RetryBudget {
            slots: [0; SLOTS],
            current: 0,
            width: ttl.as_nanos() / SLOTS as u64,
            reserve: i64::try_from(reserve).unwrap_or(i64::MAX),
            deposit: (ratio * ONE as f64).round() as i64,
            exhausted: 0,
        }
    }

    /// A first attempt was sent at `now`.
    pub fn deposit(&mut self, now: Instant) {
        let i = self.advance(now);
        self.slots[i] = self.slots[i].saturating_add(self.deposit);
    }

    /// May a retry go at `now`? `true` takes one retry from the budget;
    /// `false` counts as [`exhausted`](Self::exhausted).
    pub fn withdraw(&mut self, now: Instant) -> bool {
        let i = self.advance(now);
        let balance = self
            .slots
            .iter()
            .fold(self.reserve, |sum, &s| sum.saturating_add(s));
        if balance >= ONE {
            self.slots[i] = self.slots[i].saturating_sub(ONE);
            true
        } else {
            self.exhausted += 1;
            false
        }
    }

    /// Withdrawals refused so far.
    pub fn exhausted(&self) -> u64 {
        self.exhausted
    }

    /// Move the window to `now` (clearing the slots that left it) and return
    /// the index of the current slot.
    fn advance(&mut self, now: Instant) -> usize {
        let k = now.as_nanos() / self.width;
        if k > self.current {
            let steps = k - self.current;
            if steps >= SLOTS as u64 {
                self.slots = [0; SLOTS];
            } else {
                for j in self.current + 1..=k {
                    self.slots[(j % SLOTS as u64) as usize] = 0;
                }
            }
            self.current = k;
        }
        (self.current % SLOTS as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest};

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn at(ns: u64) -> Instant {
        Instant(ns)
    }

    /// Call `withdraw` at `now` until it refuses; the successes.
    fn drain(b: &mut RetryBudget, now: Instant) -> u32 {
        for n in 0..100_000 {
            if !b.withdraw(now) {
                return n;
            }
        }
        panic!("the budget never runs dry at {now}: {b:?}");
    }

    #[test]
    fn an_empty_budget_refuses() {
        let mut b = RetryBudget::new(Duration::from_secs(10), 0, 0.2);
        assert!(!b.withdraw(at(0)));
        assert_eq!(b.exhausted(), 1);
    }

    #[test]
    fn a_fifth_of_the_deposits_can_be_retried() {
        let mut b = RetryBudget::new(Duration::from_secs(10), 0, 0.2);
        for i in 0..100 {
            b.deposit(at(i * MS));
        }
        for k in 0..20 {
            assert!(b.withdraw(at(100 * MS)), "withdrawal {k}");
        }
        assert_eq!(b.exhausted(), 0);
        assert!(!b.withdraw(at(100 * MS)), "the 21st");
        assert!(!b.withdraw(at(200 * MS)));
        assert_eq!(b.exhausted(), 2);
        // Four more deposits pay for no retry yet; the fifth does.
        for _ in 0..4 {
            b.deposit(at(300 * MS));
        }
        assert!(!b.withdraw(at(300 * MS)));
        b.deposit(at(300 * MS));
        assert!(b.withdraw(at(300 * MS)));
        assert_eq!(b.exhausted(), 3);
    }

    #[test]
    fn thousandths_are_exact() {
        // 0.1 summed ten times in f64 is 0.9999999999999999 < 1.
        let mut b = RetryBudget::new(Duration::from_secs(10), 0, 0.1);
        for _ in 0..10 {
            b.deposit(at(0));
        }
        assert!(b.withdraw(at(0)));
        assert!(!b.withdraw(at(0)));
        // A ratio above 1: each deposit pays for several retries.
        let mut b = RetryBudget::new(Duration::from_secs(10), 0, 2.5);
        b.deposit(at(0));
        b.deposit(at(0));
        assert_eq!(drain(&mut b, at(0)), 5);
    }

    #[test]
    fn deposits_older_than_ttl_no_longer_count() {
        let ttl = Duration::from_secs(10);
        let fresh = || {
            let mut b = RetryBudget::new(ttl, 0, 1.0);
            b.deposit(at(0));
            b
        };
        assert!(fresh().withdraw(at(10 * S - 1)), "just under ttl old");
        assert!(!fresh().withdraw(at(10 * S)), "exactly ttl old");
        assert!(!fresh().withdraw(at(25 * S)), "long gone");
        // Mid-slot: a deposit at 0.5 s lives until the slot leaves the
        // window at 10 s, i.e. between ttl − ttl/10 and ttl.
        let mut b = RetryBudget::new(ttl, 0, 1.0);
        b.deposit(at(500 * MS));
        assert!(b.withdraw(at(10 * S - 1)));
        let mut b = RetryBudget::new(ttl, 0, 1.0);
        b.deposit(at(500 * MS));
        assert!(!b.withdraw(at(10 * S)));
    }

    #[test]
    fn the_reserve_allows_min_per_s_without_deposits() {
        // ttl 1 s: the reserve is 10 per second, and not more.
        let mut b = RetryBudget::new(Duration::from_secs(1), 10, 0.2);
        assert_eq!(drain(&mut b, at(0)), 10);
        assert!(!b.withdraw(at(S - 1)), "the same second");
        assert_eq!(drain(&mut b, at(S)), 10, "the next second");
        assert_eq!(drain(&mut b, at(2 * S + 500 * MS)), 10);
        assert_eq!(b.exhausted(), 4);
    }

    #[test]
    fn the_reserve_is_a_rate_averaged_over_ttl() {
        // ttl 10 s, 10/s: greedy retries every 10 ms for 100 s get exactly
        // 1000, and never more than 100 in any 10 s.
        let mut b = RetryBudget::new(Duration::from_secs(10), 10, 0.2);
        let mut times = Vec::new();
        for tick in 0..10_000u64 {
            let now = at(tick * 10 * MS);
            for _ in 0..drain(&mut b, now) {
                times.push(now.as_nanos());
            }
        }
        assert_eq!(times.len(), 1000);
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[i..].partition_point(|&u| u < t + 10 * S);
            assert!(in_window <= 100, "{in_window} retries in 10 s from {t} ns");
        }
    }

    #[test]
    fn steady_traffic_allows_min_per_s_plus_ratio_times_rate() {
        // R = 100 first attempts/s, ratio 0.2, 10/s reserve: at most about
        // 10 + 0.2·100 = 30 retries/s, and greedy retries get that many.
        let mut b = RetryBudget::new(Duration::from_secs(10), 10, 0.2);
        let mut per_s = vec![0u32; 120];
        for tick in 0..12_000u64 {
            let now = at(tick * 10 * MS);
            b.deposit(now);
            per_s[(tick / 100) as usize] += drain(&mut b, now);
        }
        // After the first window: 20 per second paid by deposits, and the
        // reserve's 100 at once each time the previous 100 leave the window.
        let steady: u32 = per_s[20..].iter().sum();
        assert_eq!(steady, 30 * 100, "per second: {per_s:?}");
    }

    #[test]
    fn time_going_backwards_is_read_as_the_latest() {
        let mut b = RetryBudget::new(Duration::from_secs(10), 0, 1.0);
        b.deposit(at(0));
        assert!(!b.withdraw(at(20 * S)));
        b.deposit(at(S)); // read as 20 s
        assert!(b.withdraw(at(29 * S)));
    }

    proptest! {
        /// One deposit counts while younger than ttl − ttl/10 and never
        /// once ttl old, for any ttl and any timing.
        #[test]
        fn a_deposit_lives_between_ttl_minus_a_slot_and_ttl(
            ttl in 10u64..100 * S,
            t0 in 0u64..1_000 * S,
            age_permille in 0u64..3_000,
        ) {
            let age = (u128::from(ttl) * u128::from(age_permille) / 1000) as u64;
            let mut b = RetryBudget::new(Duration(ttl), 0, 1.0);
            b.deposit(at(t0));
            let ok = b.withdraw(at(t0 + age));
            let w = ttl / SLOTS as u64;
            if age >= ttl {
                prop_assert!(!ok, "counted at age {} >= ttl {}", age, ttl);
            }
            if age < SLOTS as u64 * w - w {
                prop_assert!(ok, "expired at age {} < ttl − w = {}", age, ttl - w);
            }
        }

        /// Against a shadow model that keeps every event and recounts the
        /// live window from scratch.
        #[test]
        fn matches_a_shadow_model(
            ttl in 10u64..20 * S,
            min_per_s in 0u32..5,
            ratio_permille in 0u32..3_000,
            ops in proptest::collection::vec((0u8..3, 0u64..3 * S), 1..400),
        ) {
            let ratio = f64::from(ratio_permille) / 1000.0;
            let mut b = RetryBudget::new(Duration(ttl), min_per_s, ratio);
            let w = ttl / SLOTS as u64;
            let reserve = i128::from(min_per_s) * i128::from(ttl) / 1_000_000;
            let mut events: Vec<(u64, i128)> = Vec::new();
            let mut now = 0u64;
            let mut refused = 0u64;
            for (op, dt) in ops {
                match op {
                    0 => {
                        b.deposit(at(now));
                        events.push((now, i128::from(ratio_permille)));
                    }
                    1 => {
                        let slot = now / w;
                        let live: i128 = events
                            .iter()
                            .filter(|(t, _)| t / w + SLOTS as u64 > slot)
                            .map(|&(_, v)| v)
                            .sum();
                        let expect = reserve + live >= 1000;
                        prop_assert_eq!(b.withdraw(at(now)), expect);
                        if expect {
                            events.push((now, -1000));
                        } else {
                            refused += 1;
                        }
                    }
                    _ => now += dt,
                }
            }
            prop_assert_eq!(b.exhausted(), refused);
        }
    }
}
