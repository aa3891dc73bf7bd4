//! A circuit breaker: CLOSED → OPEN after too many failures, OPEN →
//! HALF_OPEN after `open_for`, HALF_OPEN → CLOSED when every probe succeeds,
//! → OPEN again when one fails (Nygard, *Release It!*; `[breaker]` in docs/scenario.md).
//!
//! Two trip rules, either enough: `failure_threshold` consecutive failures,
//! or (optional, as resilience4j's count-based sliding window) a failure rate
//! at or above `rate` over the last `size` calls once at least `min_calls`
//! have been seen. `open_for` may grow by `backoff` on each consecutive trip
//! without a successful close, up to `max_open_for`.
//!
//! Sans-IO: `now` is an argument; decisions are `allow`, outcomes `on_*`, the
//! OPEN timer is `poll_timeout` / `handle_timeout` (early or repeated calls
//! are harmless). Every state change goes through one `transition`, which
//! keeps the counters reports need (trips, time open, transitions).

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

/// A count-based sliding window rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Calls remembered.
    pub size: u32,
    /// Calls needed before the rate is judged.
    pub min_calls: u32,
    /// Failure rate (0–1] at or above which the breaker trips.
    pub rate: f64,
}

/// Breaker settings. In this order (`repr(C)`) so that what every call
/// reads lands in the breaker's first line (see [`Breaker`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct BreakerConfig {
    pub window: Option<Window>,
    /// Consecutive failures that open the breaker (≥ 1).
    pub failure_threshold: u32,
    /// Calls let through while HALF_OPEN; all must succeed to close (≥ 1).
    pub half_open_probes: u32,
    pub open_for: Duration,
    /// Multiplier of `open_for` per consecutive trip (1.0 = none).
    pub backoff: f64,
    pub max_open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            window: None,
            open_for: Duration::from_secs(30),
            backoff: 1.0,
            max_open_for: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

/// The breaker's state, with the data each state needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

/// The kind of a state, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn kind(self) -> Kind {
        match self {
            State::Closed { .. } => Kind::Closed,
            State::Open { .. } => Kind::Open,
            State::HalfOpen { .. } => Kind::HalfOpen,
        }
    }
}

/// A recorded state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: Instant,
    pub from: Kind,
    pub to: Kind,
}

/// One circuit breaker.
///
/// Laid out by cache line (`repr(C, align(64))`): a fleet has one per
/// agent, and a call reads its state and trip count as it is admitted and
/// the window rule and threshold as it ends. Those come first, in one
/// line; what trips, windows and reports use after.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Breaker {
    state: State,
    trips: u64,
    cfg: BreakerConfig,
    /// Last calls' outcomes (true = failure), for the window rule.
    recent: VecDeque<bool>,
    recent_failures: u32,
    /// Trips since the breaker last closed (drives the backoff).
    streak: u32,
    opened_at: Instant,
    time_open: Duration,
    /// Undrained transitions (the owner drains them with `poll_transition`).
    transitions: VecDeque<Transition>,
    /// Transitions outside [`legal`] (none, unless the breaker is broken).
    illegal: u64,
}

/// The breaker's legal state changes: Closed → Open (trip), Open →
/// HalfOpen (the open period ends), HalfOpen → Closed (the probes
/// succeeded) and HalfOpen → Open (a probe failed).
pub fn legal(from: Kind, to: Kind) -> bool {
    matches!(
        (from, to),
        (Kind::Closed, Kind::Open)
            | (Kind::Open, Kind::HalfOpen)
            | (Kind::HalfOpen, Kind::Closed)
            | (Kind::HalfOpen, Kind::Open)
    )
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Breaker {
        assert!(
            cfg.failure_threshold >= 1 && cfg.half_open_probes >= 1,
            "validated: threshold and probes are at least 1, got {cfg:?}"
        );
        Breaker {
            cfg,
            state: State::Closed { failures: 0 },
            recent: VecDeque::new(),
            recent_failures: 0,
            streak: 0,
            trips: 0,
            opened_at: Instant::ZERO,
            time_open: Duration::ZERO,
            transitions: VecDeque::new(),
            illegal: 0,
        }
    }

    /// State changes that [`legal`] refused (they still happened, so that
    /// results stay as they were; `fleetsim swarm` fails on any).
    pub fn illegal_transitions(&self) -> u64 {
        self.illegal
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Times the breaker opened.
    pub fn trips(&self) -> u64 {
        self.trips
    }

    /// Total time spent OPEN up to `now`.
    pub fn time_open(&self, now: Instant) -> Duration {
        match self.state {
            State::Open { .. } => self.time_open + now.saturating_since(self.opened_at),
            _ => self.time_open,
        }
    }

    /// Drain the recorded transitions, oldest first.
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.transitions.pop_front()
    }

    /// May a call go through now? A `true` in HALF_OPEN takes a probe slot,
    /// which the call's `on_success` or `on_failure` gives back.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.handle_timeout(now);
        match &mut self.state {
            State::Closed { .. } => true,
            State::Open { .. } => false,
            State::HalfOpen {
                in_flight,
                successes,
            } => {
                if *in_flight + *successes < self.cfg.half_open_probes {
                    *in_flight += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// [`Self::allow`], returning a token for the call's outcome when it
    /// lets the call through: the trip count now.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        self.allow(now).then(|| self.trips())
    }

    /// The outcome of a call that [`Self::admit`] let through with
    /// `token`. Ignored (returns `false`) if the breaker has tripped since:
    /// an outcome from before a trip says nothing about the callee now, and
    /// must not close a HALF_OPEN breaker.
    pub fn on_result(&mut self, now: Instant, token: u64, ok: bool) -> bool {
        if self.trips() != token {
            return false;
        }
        if ok {
            self.on_success(now);
        } else {
            self.on_failure(now);
        }
        true
    }

    /// Is the breaker at rest: CLOSED with no failure counted, no window
    /// to remember calls in and no transition left to drain? Then a call
    /// admitted now and its success leave it exactly as it is: `admit`
    /// would return `Some` of the trip count, and `on_result` of a success
    /// with any token changes nothing. Returns that trip count, if so.
    ///
    /// The owner of many breakers can keep this beside them and skip the
    /// breaker itself on a call that succeeds at rest (one memory access
    /// for a fleet's worth of breakers instead of one line each).
    pub fn at_rest(&self) -> Option<u64> {
        match self.state {
            State::Closed { failures: 0 }
                if self.cfg.window.is_none() && self.transitions.is_empty() =>
            {
                Some(self.trips)
            }
            _ => None,
        }
    }

    /// Would `allow` let a call through now (without taking a probe slot)?
    /// OPEN says no even when its period is over: `handle_timeout` first.
    pub fn admits(&self) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { .. } => false,
            State::HalfOpen {
                in_flight,
                successes,
            } => in_flight + successes < self.cfg.half_open_probes,
        }
    }

    /// When the OPEN period ends, if OPEN.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Open { until } => Some(until),
            _ => None,
        }
    }

    /// OPEN → HALF_OPEN once `open_for` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Open { until } = self.state
            && now >= until
        {
            self.transition(
                now,
                State::HalfOpen {
                    in_flight: 0,
                    successes: 0,
                },
            );
        }
    }

    /// A call that `allow` let through succeeded.
    pub fn on_success(&mut self, now: Instant) {
        self.remember(false);
        match &mut self.state {
            State::Closed { failures } => *failures = 0,
            State::Open { .. } => {}
            State::HalfOpen {
                in_flight,
                successes,
            } => {
                *in_flight = in_flight.saturating_sub(1);
                *successes += 1;
                if *successes >= self.cfg.half_open_probes {
                    self.streak = 0;
                    self.transition(now, State::Closed { failures: 0 });
                }
            }
        }
    }

    /// A call that `allow` let through failed.
    pub fn on_failure(&mut self, now: Instant) {
        self.remember(true);
        match &mut self.state {
            State::Closed { failures } => {
                *failures += 1;
                let consecutive = *failures >= self.cfg.failure_threshold;
                if consecutive || self.window_trips() {
                    self.trip(now);
                }
            }
            State::Open { .. } => {}
            State::HalfOpen { .. } => self.trip(now),
        }
    }

    fn remember(&mut self, failed: bool) {
        let Some(w) = self.cfg.window else { return };
        self.recent.push_back(failed);
        self.recent_failures += u32::from(failed);
        while self.recent.len() > w.size as usize {
            if self.recent.pop_front() == Some(true) {
                self.recent_failures -= 1;
            }
        }
    }

    fn window_trips(&self) -> bool {
        let Some(w) = self.cfg.window else {
            return false;
        };
        let calls = self.recent.len() as u32;
        calls >= w.min_calls.max(1) && f64::from(self.recent_failures) >= w.rate * f64::from(calls)
    }

    fn trip(&mut self, now: Instant) {
        let factor = self.cfg.backoff.max(1.0).powi(self.streak.min(64) as i32);
        let open_for = Duration::from_secs_f64(self.cfg.open_for.as_secs_f64() * factor)
            .min(self.cfg.max_open_for.max(self.cfg.open_for));
        self.streak += 1;
        self.trips += 1;
        self.transition(
            now,
            State::Open {
                until: now + open_for,
            },
        );
    }

    /// The one place the state changes: counters and the record follow it.
    fn transition(&mut self, now: Instant, to: State) {
        let from = self.state.kind();
        if !legal(from, to.kind()) {
            self.illegal += 1;
        }
        if from == Kind::Open {
            self.time_open = self.time_open + now.saturating_since(self.opened_at);
        }
        if to.kind() == Kind::Open {
            self.opened_at = now;
            self.recent.clear();
            self.recent_failures = 0;
        }
        self.state = to;
        self.transitions.push_back(Transition {
            at: now,
            from,
            to: to.kind(),
        });
    }
}

/// No breaker built for this agent yet (in [`Breakers`]).
const UNBUILT: u32 = u32::MAX;

/// One breaker per agent, each built the first time it is changed. Until
/// then an agent's breaker is a new one, which [`Breakers::get`] lends:
/// most breakers of a large fleet never count a failure, and a breaker is
/// three cache lines, so a fleet of 100,000 would write 19 MB for nothing.
/// Nothing tells a breaker built late from one built at the start: a new
/// breaker is what every breaker is until its first change.
#[derive(Clone, Debug, Default)]
pub struct Breakers {
    /// What an agent's breaker is until it is built (`None`: no breakers).
    fresh: Option<Breaker>,
    /// Each agent's place in `built`, or `UNBUILT`.
    slot: Vec<u32>,
    built: Vec<Breaker>,
}

impl Breakers {
    /// A breaker with `cfg` for each of `n` agents.
    pub fn new(cfg: BreakerConfig, n: usize) -> Breakers {
        Breakers {
            fresh: Some(Breaker::new(cfg)),
            slot: vec![UNBUILT; n],
            built: Vec::new(),
        }
    }

    /// No agent has a breaker.
    pub fn is_empty(&self) -> bool {
        self.fresh.is_none()
    }

    /// Agent `a`'s breaker (`None`: no breakers).
    #[inline]
    pub fn get(&self, a: usize) -> Option<&Breaker> {
        let fresh = self.fresh.as_ref()?;
        Some(match self.slot[a] {
            UNBUILT => fresh,
            s => &self.built[s as usize],
        })
    }

    /// Agent `a`'s breaker, to change, built now if it was not yet.
    ///
    /// # Panics
    /// If there are no breakers.
    #[inline]
    pub fn get_mut(&mut self, a: usize) -> &mut Breaker {
        if self.slot[a] == UNBUILT {
            let fresh = self.fresh.as_ref().expect("agents have breakers");
            self.slot[a] = self.built.len() as u32;
            self.built.push(Breaker::new(fresh.cfg));
        }
        &mut self.built[self.slot[a] as usize]
    }

    /// The breakers built so far (the others are new ones).
    pub fn built(&self) -> &[Breaker] {
        &self.built
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest};

    /// What a call reads and writes is in the breaker's first line.
    #[test]
    fn a_call_reads_one_line() {
        use std::mem::offset_of;
        assert_eq!(std::mem::align_of::<Breaker>(), 64);
        let cfg = offset_of!(Breaker, cfg);
        for end in [
            offset_of!(Breaker, state) + std::mem::size_of::<State>(),
            offset_of!(Breaker, trips) + 8,
            cfg + offset_of!(BreakerConfig, window) + std::mem::size_of::<Option<Window>>(),
            cfg + offset_of!(BreakerConfig, failure_threshold) + 4,
            cfg + offset_of!(BreakerConfig, half_open_probes) + 4,
        ] {
            assert!(end <= 64, "a hot field ends at byte {end}");
        }
    }

    fn t(s: u64) -> Instant {
        Instant(s * 1_000_000_000)
    }

    fn breaker(threshold: u32, probes: u32) -> Breaker {
        Breaker::new(BreakerConfig {
            failure_threshold: threshold,
            open_for: Duration::from_secs(30),
            max_open_for: Duration::from_secs(30),
            half_open_probes: probes,
            ..BreakerConfig::default()
        })
    }

    #[test]
    fn an_outcome_from_before_a_trip_is_ignored() {
        let mut b = breaker(2, 1);
        let early = b.admit(t(0)).expect("CLOSED admits");
        let a = b.admit(t(0)).unwrap();
        let c = b.admit(t(0)).unwrap();
        assert!(b.on_result(t(1), a, false));
        assert!(b.on_result(t(1), c, false));
        assert_eq!(b.state().kind(), Kind::Open);
        // The first call's success arrives after the trip: it says nothing
        // about the callee now.
        assert!(!b.on_result(t(2), early, true));
        assert_eq!(b.state().kind(), Kind::Open);
        assert_eq!(b.admit(t(2)), None, "OPEN admits nothing");
        // HALF_OPEN after open_for: the probe's token is the new trip count.
        let probe = b.admit(t(31)).expect("a HALF_OPEN probe");
        assert_eq!(probe, 1);
        assert!(b.on_result(t(31), probe, true));
        assert_eq!(b.state().kind(), Kind::Closed);
    }

    #[test]
    fn the_transition_table() {
        let mut b = breaker(5, 1);
        // threshold − 1 failures stay CLOSED.
        for _ in 0..4 {
            assert!(b.allow(t(0)));
            b.on_failure(t(0));
        }
        assert_eq!(b.state(), State::Closed { failures: 4 });
        // The threshold opens.
        b.on_failure(t(1));
        assert_eq!(b.state(), State::Open { until: t(31) });
        assert!(!b.allow(t(30)), "still open just before open_for");
        assert_eq!(b.poll_timeout(), Some(t(31)));
        // open_for later: HALF_OPEN, one probe.
        assert!(b.allow(t(31)));
        assert_eq!(b.state().kind(), Kind::HalfOpen);
        assert!(!b.allow(t(31)), "only half_open_probes calls");
        // Probe failure reopens.
        b.on_failure(t(32));
        assert_eq!(b.state(), State::Open { until: t(62) });
        // Probe success closes.
        b.handle_timeout(t(62));
        assert!(b.allow(t(62)));
        b.on_success(t(63));
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert_eq!(b.trips(), 2);
        assert_eq!(b.time_open(t(100)), Duration::from_secs(30 + 30));
        let kinds: Vec<(Kind, Kind)> = std::iter::from_fn(|| b.poll_transition())
            .map(|x| (x.from, x.to))
            .collect();
        use Kind::*;
        assert_eq!(
            kinds,
            vec![
                (Closed, Open),
                (Open, HalfOpen),
                (HalfOpen, Open),
                (Open, HalfOpen),
                (HalfOpen, Closed)
            ]
        );
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let mut b = breaker(3, 1);
        b.on_failure(t(0));
        b.on_failure(t(0));
        b.on_success(t(0));
        b.on_failure(t(0));
        b.on_failure(t(0));
        assert_eq!(b.state(), State::Closed { failures: 2 });
    }

    #[test]
    fn every_probe_must_succeed_to_close() {
        let mut b = breaker(1, 3);
        b.on_failure(t(0));
        for _ in 0..3 {
            assert!(b.allow(t(30)));
        }
        assert!(!b.allow(t(30)));
        b.on_success(t(30));
        b.on_success(t(30));
        assert_eq!(b.state().kind(), Kind::HalfOpen);
        b.on_success(t(30));
        assert_eq!(b.state().kind(), Kind::Closed);
    }

    #[test]
    fn the_window_trips_on_a_failure_rate() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 100,
            window: Some(Window {
                size: 10,
                min_calls: 10,
                rate: 0.5,
            }),
            ..BreakerConfig::default()
        });
        // Alternating outcomes: 50 % failures, but only judged from 10 calls.
        for i in 0..9 {
            if i % 2 == 0 {
                b.on_failure(t(0));
            } else {
                b.on_success(t(0));
            }
        }
        assert_eq!(b.state().kind(), Kind::Closed, "fewer than min_calls");
        b.on_success(t(0));
        b.on_failure(t(0)); // last 10: 5 failures of 10
        assert_eq!(b.state().kind(), Kind::Open);
    }

    #[test]
    fn open_for_backs_off_and_is_capped() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_secs(10),
            backoff: 2.0,
            max_open_for: Duration::from_secs(35),
            half_open_probes: 1,
            window: None,
        });
        let mut now = t(0);
        let mut periods = Vec::new();
        for _ in 0..4 {
            b.on_failure(now);
            let until = b.poll_timeout().unwrap();
            periods.push((until - now).as_secs_f64());
            now = until;
            assert!(b.allow(now));
        }
        assert_eq!(periods, vec![10.0, 20.0, 35.0, 35.0]);
        b.on_success(now);
        b.on_failure(now);
        assert_eq!(
            b.poll_timeout(),
            Some(now + Duration::from_secs(10)),
            "closing resets the backoff"
        );
    }

    #[test]
    fn only_the_four_breaker_moves_are_legal() {
        use Kind::*;
        let all = [Closed, Open, HalfOpen];
        let legal_moves: Vec<(Kind, Kind)> = all
            .iter()
            .flat_map(|&a| all.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| legal(a, b))
            .collect();
        assert_eq!(
            legal_moves,
            vec![
                (Closed, Open),
                (Open, HalfOpen),
                (HalfOpen, Closed),
                (HalfOpen, Open)
            ]
        );
    }

    proptest! {
        /// HALF_OPEN never has more than `half_open_probes` calls admitted
        /// and unanswered, whatever happens.
        #[test]
        fn half_open_admits_at_most_the_probes(
            probes in 1u32..5,
            ops in proptest::collection::vec(0u8..4, 1..300),
        ) {
            let mut b = breaker(2, probes);
            let mut now = t(0);
            let mut outstanding = 0u32;
            for op in ops {
                // `admits` answers what `allow` would, without the side effect.
                let mut probe = b.clone();
                probe.handle_timeout(now);
                prop_assert_eq!(probe.admits(), probe.clone().allow(now));
                match op {
                    0 => if b.allow(now) { outstanding += 1 },
                    1 if outstanding > 0 => { outstanding -= 1; b.on_success(now) }
                    2 if outstanding > 0 => { outstanding -= 1; b.on_failure(now) }
                    _ => now += Duration::from_secs(7),
                }
                if let State::HalfOpen { in_flight, successes } = b.state() {
                    prop_assert!(in_flight + successes <= probes);
                    prop_assert!(in_flight <= outstanding);
                }
            }
            // Every change it made, and recorded, is a legal one.
            prop_assert_eq!(b.illegal_transitions(), 0);
            while let Some(tr) = b.poll_transition() {
                prop_assert!(legal(tr.from, tr.to), "{:?}", tr);
            }
        }

        /// At rest, admitting a call and its success change nothing, and
        /// the admission's token is the trip count `at_rest` gave; a
        /// breaker with a window is never at rest.
        #[test]
        fn at_rest_a_success_changes_nothing(
            window in proptest::bool::ANY,
            ops in proptest::collection::vec(0u8..5, 1..300),
        ) {
            let mut b = breaker(2, 2);
            if window {
                b = Breaker::new(BreakerConfig {
                    window: Some(Window { size: 4, min_calls: 2, rate: 0.5 }),
                    ..b.cfg
                });
            }
            let mut now = t(0);
            let mut tokens = Vec::new();
            let mut rests = 0;
            for op in ops {
                if let Some(trips) = b.at_rest() {
                    rests += 1;
                    prop_assert!(!window);
                    let before = format!("{b:?}");
                    let mut c = b.clone();
                    prop_assert_eq!(c.admit(now), Some(trips));
                    prop_assert_eq!(format!("{c:?}"), before.clone());
                    for token in [trips, trips.wrapping_sub(1), trips + 1] {
                        let mut c = b.clone();
                        c.on_result(now, token, true);
                        prop_assert_eq!(format!("{c:?}"), before.clone());
                    }
                }
                match op {
                    0 => tokens.extend(b.admit(now)),
                    1 if !tokens.is_empty() => { let k = tokens.remove(0); b.on_result(now, k, true); }
                    2 if !tokens.is_empty() => { let k = tokens.remove(0); b.on_result(now, k, false); }
                    3 => while b.poll_transition().is_some() {},
                    _ => { now += Duration::from_secs(7); b.handle_timeout(now); }
                }
            }
            // The test saw breakers at rest, not only busy ones.
            prop_assert!(window || rests > 0);
        }
    }

    #[test]
    fn a_breaker_is_built_at_its_first_change_and_read_as_new_before() {
        let cfg = BreakerConfig::default();
        let mut bs = Breakers::new(cfg, 3);
        assert!(!bs.is_empty() && Breakers::default().is_empty());
        assert_eq!(bs.get(1).and_then(Breaker::at_rest), Some(0));
        assert!(bs.built().is_empty());
        for _ in 0..cfg.failure_threshold {
            let token = bs.get_mut(1).admit(Instant::ZERO);
            bs.get_mut(1)
                .on_result(Instant::ZERO, token.unwrap(), false);
        }
        assert_eq!(bs.built().len(), 1, "only the changed breaker is built");
        assert_eq!(bs.get(1).unwrap().state().kind(), Kind::Open);
        assert_eq!(bs.get(0).unwrap().state().kind(), Kind::Closed);
        assert_eq!(bs.get(2).and_then(Breaker::at_rest), Some(0));
    }
}
