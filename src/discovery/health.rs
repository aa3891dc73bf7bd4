//! Health monitoring of one agent: periodic probes, an exponential moving
//! average (EMA) of their response times, and a status.
//!
//! UNKNOWN until the first probe answers or fails; then HEALTHY, DEGRADED
//! while the EMA is above `degraded_threshold`, UNHEALTHY after
//! `unhealthy_after` consecutive failures (a probe that is not answered
//! within `timeout` has failed); a success recovers at once. The EMA is
//! `ema ← α·sample + (1 − α)·ema`, seeded by the first sample.
//!
//! The classification is a [`Rule`], a small trait, so a user can plug in
//! their own (say, "DEGRADED when the last sample is above 2 s").
//! Sans-IO: `poll_probe(cfg, now)` says when to send a probe; the owner
//! reports `on_probe_success(cfg, now, rtt)` or `on_probe_failure(cfg,
//! now)`, handing in the `[health]` settings each time (every agent's
//! monitor follows the same ones, so none keeps a copy). The monitor
//! keeps the time spent UNHEALTHY and DEGRADED (for `agents.csv`).

use crate::time::{Duration, Instant, Moment};

/// An agent's health as the monitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Unknown,
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// Monitor settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthConfig {
    pub interval: Duration,
    pub timeout: Duration,
    pub degraded_threshold: Duration,
    pub ema_alpha: f64,
    pub unhealthy_after: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            degraded_threshold: Duration::from_millis(500),
            ema_alpha: 0.3,
            unhealthy_after: 3,
        }
    }
}

/// What a rule sees after each probe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// The EMA of answered probes, in nanoseconds (`None` before any).
    pub ema_nanos: Option<f64>,
    /// The latest probe's response time (`None` if it failed).
    pub last: Option<Duration>,
    pub consecutive_failures: u32,
    /// The status before this probe.
    pub previous: Status,
}

/// A health rule: the status that follows an observation.
pub trait Rule {
    fn classify(&self, cfg: &HealthConfig, obs: &Observation) -> Status;

    /// A shortcut for [`HealthMonitor::steady_under`], if the rule has one:
    /// `Some(true)` if every answer after `sample` nanoseconds, from an
    /// EMA whose next value is `next` on, leaves the status the next one
    /// leaves; `None` to have the answers followed one by one.
    fn steady_between(&self, _cfg: &HealthConfig, _next: f64, _sample: f64) -> Option<bool> {
        None
    }

    /// Does an UNHEALTHY status stay UNHEALTHY under any number of failures
    /// in a row (whatever the EMA and the count)? `false` unless the rule
    /// says so (then [`HealthMonitor::failing_steady`] may hold).
    fn failures_keep_unhealthy(&self, _cfg: &HealthConfig) -> bool {
        false
    }
}

/// The health rule (`[health]` in docs/scenario.md): UNHEALTHY after `unhealthy_after` consecutive
/// failures (earlier failures keep the previous status), otherwise DEGRADED
/// while the EMA is above the threshold, else HEALTHY.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThresholdRule;

impl Rule for ThresholdRule {
    fn classify(&self, cfg: &HealthConfig, obs: &Observation) -> Status {
        if obs.last.is_none() {
            return if obs.consecutive_failures >= cfg.unhealthy_after {
                Status::Unhealthy
            } else {
                obs.previous
            };
        }
        match obs.ema_nanos {
            Some(ema) if ema > cfg.degraded_threshold.as_nanos() as f64 => Status::Degraded,
            _ => Status::Healthy,
        }
    }

    /// With every answer in time, the status is the EMA's side of the
    /// threshold. Each answer takes the EMA to `α·sample + (1 − α)·ema`,
    /// between the two, so every EMA from `next` on lies between `next`
    /// and `sample`, but for rounding: each step errs by at most about
    /// 1.5 ε of the larger value, and the steps shrink what lies outside by
    /// `1 − α`, so never more than 1.5 ε / α of it in all. If both ends,
    /// widened by twice that, are on one side, the status stays; otherwise
    /// the answers are followed.
    fn steady_between(&self, cfg: &HealthConfig, next: f64, sample: f64) -> Option<bool> {
        let threshold = cfg.degraded_threshold.as_nanos() as f64;
        let (low, high) = (next.min(sample), next.max(sample));
        let margin = 3.0 * f64::EPSILON * high / cfg.ema_alpha;
        (low - margin > threshold || high + margin <= threshold).then_some(true)
    }

    /// A failure gives UNHEALTHY once the count reaches `unhealthy_after`
    /// and the previous status below it: from UNHEALTHY, UNHEALTHY either
    /// way.
    fn failures_keep_unhealthy(&self, _cfg: &HealthConfig) -> bool {
        true
    }
}

/// The monitor of one agent.
///
/// One cache line (`repr(C)`, on a line boundary): a large fleet keeps one
/// monitor per agent, out of cache, and a probe's answer reads it. The
/// settings are not kept in it (every agent's are the scenario's
/// `[health]`): each call that needs them is handed them. The EMA is an
/// `f64` with NaN for "no answer yet", and the times since a status was
/// entered are [`Moment`]s, so status, failures, next probe, EMA and the
/// time spent in each status fit in 64 bytes.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct HealthMonitor<R: Rule = ThresholdRule> {
    status: Status,
    consecutive_failures: u32,
    next_probe: Instant,
    /// The EMA of answered probes' response times, in nanoseconds (NaN:
    /// none answered yet).
    ema: f64,
    rule: R,
    /// Time the monitor has spent UNHEALTHY, and since when it is.
    unhealthy_since: Moment,
    unhealthy_total: Duration,
    /// The same for DEGRADED.
    degraded_since: Moment,
    degraded_total: Duration,
    /// Status changes outside [`legal`] (none, unless a rule is broken).
    illegal: u64,
}

// One cache line with the threshold rule.
const _: () = assert!(std::mem::size_of::<HealthMonitor<ThresholdRule>>() == 64);

/// Answers [`HealthMonitor::steady_under`] follows at most before giving
/// up (the EMA settles far sooner: it closes 1 − α of its distance to the
/// sample each time, to within one unit in the last place).
const STEADY_STEPS: u32 = 2048;

/// The monitor's legal status changes: any, except back to UNKNOWN (only
/// a new monitor knows nothing; once probed, an agent is HEALTHY,
/// DEGRADED or UNHEALTHY).
pub fn legal(from: Status, to: Status) -> bool {
    to != Status::Unknown || from == Status::Unknown
}

impl HealthMonitor<ThresholdRule> {
    pub fn new(first_probe: Instant) -> Self {
        HealthMonitor::with_rule(first_probe, ThresholdRule)
    }
}

impl<R: Rule> HealthMonitor<R> {
    pub fn with_rule(first_probe: Instant, rule: R) -> Self {
        HealthMonitor {
            rule,
            status: Status::Unknown,
            ema: f64::NAN,
            consecutive_failures: 0,
            next_probe: first_probe,
            unhealthy_since: Moment::NONE,
            unhealthy_total: Duration::ZERO,
            degraded_since: Moment::NONE,
            degraded_total: Duration::ZERO,
            illegal: 0,
        }
    }

    /// Status changes that [`legal`] refused (`fleetsim swarm` fails on any).
    pub fn illegal_transitions(&self) -> u64 {
        self.illegal
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The EMA in nanoseconds, if a probe was answered.
    #[inline]
    fn ema_nanos(&self) -> Option<f64> {
        (!self.ema.is_nan()).then_some(self.ema)
    }

    /// The EMA of answered probes' response times.
    pub fn ema(&self) -> Option<Duration> {
        self.ema_nanos().map(|e| Duration(e.round() as u64))
    }

    /// Time spent UNHEALTHY up to `now`.
    pub fn unhealthy_time(&self, now: Instant) -> Duration {
        match self.unhealthy_since.get() {
            Some(since) => self.unhealthy_total + now.saturating_since(since),
            None => self.unhealthy_total,
        }
    }

    /// Time spent DEGRADED up to `now`.
    pub fn degraded_time(&self, now: Instant) -> Duration {
        match self.degraded_since.get() {
            Some(since) => self.degraded_total + now.saturating_since(since),
            None => self.degraded_total,
        }
    }

    /// When the next probe is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_probe
    }

    /// Is a probe due at `now`? If so, the next one is scheduled an
    /// `interval` later; repeated calls at one instant answer `true` once.
    pub fn poll_probe(&mut self, cfg: &HealthConfig, now: Instant) -> bool {
        if now < self.next_probe {
            return false;
        }
        while self.next_probe <= now {
            self.next_probe += cfg.interval.max(Duration(1));
        }
        true
    }

    /// The status a probe answered after `rtt` (within `timeout`) would
    /// leave, without recording it: the same arithmetic and rule as
    /// [`Self::on_probe_success`].
    pub fn status_after_success(&self, cfg: &HealthConfig, rtt: Duration) -> Status {
        let obs = Observation {
            ema_nanos: Some(self.next_ema(cfg, self.ema_nanos(), rtt)),
            last: Some(rtt),
            consecutive_failures: 0,
            previous: self.status,
        };
        self.rule.classify(cfg, &obs)
    }

    /// Would every probe answered after `rtt` from now on, however many,
    /// leave the status as the next one leaves it? Each answer moves the
    /// EMA toward `rtt` (in floating point, monotonically, so it settles
    /// on a fixed point in a few dozen steps at most); the answers are
    /// followed, with the same arithmetic and rule as
    /// [`Self::on_probe_success`], until the EMA stops moving: from then on
    /// every answer is the same. `false` if one after the next would
    /// change the status, if `rtt` is beyond `timeout`, or if the EMA has
    /// not settled within `STEADY_STEPS` answers.
    pub fn steady_under(&self, cfg: &HealthConfig, rtt: Duration) -> bool {
        if rtt > cfg.timeout {
            return false;
        }
        let next = self.next_ema(cfg, self.ema_nanos(), rtt);
        if let Some(steady) = (self.rule).steady_between(cfg, next, rtt.as_nanos() as f64) {
            return steady;
        }
        let (mut ema, mut status) = (self.ema_nanos(), self.status);
        for k in 0..STEADY_STEPS {
            let next = self.next_ema(cfg, ema, rtt);
            let obs = Observation {
                ema_nanos: Some(next),
                last: Some(rtt),
                consecutive_failures: 0,
                previous: status,
            };
            let now = self.rule.classify(cfg, &obs);
            if k > 0 {
                if now != status {
                    return false;
                }
                if ema == Some(next) {
                    return true;
                }
            }
            (ema, status) = (Some(next), now);
        }
        false
    }

    /// `n` probes answered after `rtt` each, all leaving the status as it
    /// is (the last answer set it, and [`Self::steady_under`] said so): the
    /// same EMA as `n` calls of [`Self::on_probe_success`], computed until
    /// it stops moving.
    pub fn on_probe_successes(&mut self, cfg: &HealthConfig, rtt: Duration, n: u64) {
        if n == 0 {
            return;
        }
        debug_assert!(
            self.steady_under(cfg, rtt),
            "{n} answers would change the status"
        );
        for _ in 0..n {
            let next = self.next_ema(cfg, self.ema_nanos(), rtt);
            if self.ema_nanos() == Some(next) {
                break;
            }
            self.ema = next;
        }
        self.consecutive_failures = 0;
    }

    /// Would every failure from now on, however many, leave the status as
    /// it is? When the agent is UNHEALTHY and the rule keeps it so under
    /// failures ([`Rule::failures_keep_unhealthy`]); a failure changes
    /// nothing else but the count of failures in a row.
    pub fn failing_steady(&self, cfg: &HealthConfig) -> bool {
        self.status == Status::Unhealthy && self.rule.failures_keep_unhealthy(cfg)
    }

    /// `n` failures in a row, when [`Self::failing_steady`] holds: the
    /// count grows by `n` (wrapping as `n` single increments would in a
    /// release build) and nothing else changes, the status and the time
    /// spent in it included.
    pub fn on_probe_failures(&mut self, cfg: &HealthConfig, n: u64) {
        debug_assert!(
            self.failing_steady(cfg),
            "{n} failures would change the status"
        );
        self.consecutive_failures = self.consecutive_failures.wrapping_add(n as u32);
    }

    /// The EMA after one more sample of `rtt`.
    #[inline]
    fn next_ema(&self, cfg: &HealthConfig, ema: Option<f64>, rtt: Duration) -> f64 {
        let sample = rtt.as_nanos() as f64;
        let a = cfg.ema_alpha;
        match ema {
            None => sample,
            Some(e) => a * sample + (1.0 - a) * e,
        }
    }

    /// A probe was answered after `rtt`; beyond `timeout` it counts as a failure.
    pub fn on_probe_success(&mut self, cfg: &HealthConfig, now: Instant, rtt: Duration) -> Status {
        if rtt > cfg.timeout {
            return self.on_probe_failure(cfg, now);
        }
        self.ema = self.next_ema(cfg, self.ema_nanos(), rtt);
        self.consecutive_failures = 0;
        self.observe(cfg, now, Some(rtt))
    }

    /// A probe failed or timed out.
    pub fn on_probe_failure(&mut self, cfg: &HealthConfig, now: Instant) -> Status {
        self.consecutive_failures += 1;
        self.observe(cfg, now, None)
    }

    fn observe(&mut self, cfg: &HealthConfig, now: Instant, last: Option<Duration>) -> Status {
        let obs = Observation {
            ema_nanos: self.ema_nanos(),
            last,
            consecutive_failures: self.consecutive_failures,
            previous: self.status,
        };
        let next = self.rule.classify(cfg, &obs);
        let was = self.status;
        if !legal(was, next) {
            self.illegal += 1;
        }
        account(
            now,
            was == Status::Unhealthy,
            next == Status::Unhealthy,
            &mut self.unhealthy_since,
            &mut self.unhealthy_total,
        );
        account(
            now,
            was == Status::Degraded,
            next == Status::Degraded,
            &mut self.degraded_since,
            &mut self.degraded_total,
        );
        self.status = next;
        next
    }
}

/// Time in one status: open a span when it is entered, close it (adding to
/// `total`) when it is left.
fn account(now: Instant, was: bool, is: bool, since: &mut Moment, total: &mut Duration) {
    match (was, is) {
        (false, true) => *since = Moment::at(now),
        (true, false) => {
            if let Some(s) = since.take() {
                *total = *total + now.saturating_since(s);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A monitor is one cache line, aligned to one.
    #[test]
    fn a_monitor_is_one_line() {
        type M = HealthMonitor<ThresholdRule>;
        assert_eq!(std::mem::align_of::<M>(), 64);
        assert_eq!(std::mem::size_of::<M>(), 64);
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// The settings of most tests: the defaults, with a 2 s timeout.
    const CFG: HealthConfig = HealthConfig {
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(2000),
        degraded_threshold: Duration::from_millis(500),
        ema_alpha: 0.3,
        unhealthy_after: 3,
    };

    fn monitor() -> HealthMonitor {
        HealthMonitor::new(Instant::ZERO)
    }

    #[test]
    fn unknown_until_the_first_probe() {
        let mut m = monitor();
        assert_eq!(m.status(), Status::Unknown);
        assert_eq!(
            m.on_probe_success(&CFG, Instant::ZERO, ms(20)),
            Status::Healthy
        );
    }

    #[test]
    fn the_ema_crosses_500ms_on_the_predicted_sample() {
        // Seeded at 100 ms, then 1000 ms samples with α = 0.3:
        // ema_n = 1000 − 900·0.7^n > 500 first when n > ln(5/9)/ln(0.7) ≈ 1.65.
        let predicted = ((5.0f64 / 9.0).ln() / 0.7f64.ln()).floor() as usize + 1;
        assert_eq!(predicted, 2);
        let mut m = monitor();
        m.on_probe_success(&CFG, Instant::ZERO, ms(100));
        let statuses: Vec<Status> = (0..4)
            .map(|_| m.on_probe_success(&CFG, Instant::ZERO, ms(1000)))
            .collect();
        let first_degraded = statuses
            .iter()
            .position(|s| *s == Status::Degraded)
            .unwrap()
            + 1;
        assert_eq!(first_degraded, predicted);
        // After four 1000 ms samples: 1000 − 900·0.7⁴ = 783.91 ms.
        let ema = m.ema().unwrap().as_nanos() as i64;
        assert!((ema - 783_910_000).abs() <= 1, "ema {ema} ns");
        // Recovery: fast samples bring the EMA back under the threshold.
        let mut n = 0;
        while m.on_probe_success(&CFG, Instant::ZERO, ms(10)) == Status::Degraded {
            n += 1;
        }
        assert!(n > 0 && m.status() == Status::Healthy);
        // The preview agrees with the success it previews.
        for rtt in [10, 400, 1000, 1000, 1000, 5, 5, 5, 5] {
            let preview = m.status_after_success(&CFG, ms(rtt));
            assert_eq!(m.on_probe_success(&CFG, Instant::ZERO, ms(rtt)), preview);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// Where the threshold rule's shortcut says the status stays, it
        /// stays: every EMA the answers reach, followed one by one (long
        /// after they settle), is on the side the next one is on. Samples
        /// and EMAs crowd the threshold to within a few nanoseconds, at
        /// magnitudes up to 10^19 ns, where an ulp is over 1,000 ns and the
        /// rounding of each step shows.
        #[test]
        fn the_threshold_shortcut_never_misses_a_crossing(
            magnitude in 3.0f64..19.2,
            alpha in proptest::prop_oneof![0.01f64..1.0, proptest::strategy::Just(1.0), 0.2f64..0.4],
            from in proptest::prop_oneof![-3i64..3, -3000i64..3000],
            to in proptest::prop_oneof![proptest::strategy::Just(0i64), -3i64..3, -3000i64..3000],
            ulps in proptest::prop_oneof![proptest::strategy::Just(1.0), 1.0f64..1e6],
        ) {
            let threshold = 10f64.powf(magnitude) as u64;
            let cfg = HealthConfig {
                degraded_threshold: Duration(threshold),
                ema_alpha: alpha,
                timeout: Duration(u64::MAX),
                ..HealthConfig::default()
            };
            let t = threshold as f64;
            let step = (t * f64::EPSILON).max(1.0) * ulps;
            let ema = (t + from as f64 * step).max(1.0);
            let sample = Duration((t + to as f64 * step).max(1.0) as u64);
            let rule = ThresholdRule;
            let mon = HealthMonitor::with_rule(Instant::ZERO, rule);
            let next = mon.next_ema(&cfg, Some(ema), sample);
            if rule.steady_between(&cfg, next, sample.as_nanos() as f64) == Some(true) {
                let side = next > t;
                let mut e = next;
                for _ in 0..5_000 {
                    e = mon.next_ema(&cfg, Some(e), sample);
                    proptest::prop_assert_eq!(e > t, side, "from {} toward {:?}", ema, sample);
                }
            }
        }
    }

    #[test]
    fn the_threshold_shortcut_decides_far_from_the_threshold() {
        let cfg = HealthConfig::default();
        let rule = ThresholdRule;
        let (t, ms) = (cfg.degraded_threshold.as_nanos() as f64, 1e6);
        assert_eq!(rule.steady_between(&cfg, 100.0 * ms, 20.0 * ms), Some(true));
        assert_eq!(
            rule.steady_between(&cfg, 900.0 * ms, 600.0 * ms),
            Some(true)
        );
        assert_eq!(
            rule.steady_between(&cfg, t - 1.0, t),
            None,
            "a hair from it"
        );
        assert_eq!(
            rule.steady_between(&cfg, 400.0 * ms, 600.0 * ms),
            None,
            "across it"
        );
    }

    #[test]
    fn answers_in_bulk_are_the_answers_one_by_one() {
        // From several EMAs, toward several samples: after one answer, n
        // more at once leave the same EMA (to the bit) and status as n one
        // by one, and `steady_under` says whether any of those n changes
        // the status the first one left.
        let mut steady_cases = 0;
        for (seed, rtt, n) in [
            (10, 20, 1),
            (10, 20, 7),
            (100, 20, 200),
            (20, 20, 50),
            (480, 490, 30),
            (300, 499, 100),
            (20, 480, 3),
            (900, 20, 40),
        ] {
            let cfg = HealthConfig {
                degraded_threshold: ms(490),
                ..CFG
            };
            let mut m = monitor();
            m.on_probe_success(&cfg, Instant::ZERO, ms(seed));
            let steady = m.steady_under(&cfg, ms(rtt));
            m.on_probe_success(&cfg, Instant::ZERO, ms(rtt));
            let mut one = m.clone();
            let mut changed = false;
            for _ in 0..n {
                let before = one.status();
                changed |= one.on_probe_success(&cfg, Instant::ZERO, ms(rtt)) != before;
            }
            if steady {
                steady_cases += 1;
                assert!(
                    !changed,
                    "steady_under({rtt}) from {seed}, yet the status changed"
                );
                m.on_probe_successes(&cfg, ms(rtt), n);
                assert_eq!(m.ema.to_bits(), one.ema.to_bits());
                assert_eq!(m.status(), one.status());
            }
        }
        assert!(steady_cases >= 5, "{steady_cases} steady cases");
        // Toward a sample above the threshold: not steady, however far.
        let mut m = monitor();
        m.on_probe_success(&CFG, Instant::ZERO, ms(100));
        assert!(m.steady_under(&CFG, ms(100)));
        assert!(!m.steady_under(&CFG, ms(1000)), "would cross 500 ms");
        // Beyond the timeout an answer is a failure: never steady.
        assert!(!m.steady_under(&CFG, ms(2001)));
        // Before any answer the status is UNKNOWN: the first answer makes
        // it HEALTHY, and the same answers keep it so.
        assert!(monitor().steady_under(&CFG, ms(10)));
    }

    #[test]
    fn degraded_time_counts_from_entry_to_exit() {
        let mut m = monitor();
        m.on_probe_success(&CFG, Instant(0), ms(100));
        m.on_probe_success(&CFG, Instant(10), ms(1000));
        assert_eq!(
            m.on_probe_success(&CFG, Instant(20), ms(1000)),
            Status::Degraded
        );
        assert_eq!(m.degraded_time(Instant(25)), Duration(5));
        while m.on_probe_success(&CFG, Instant(50), ms(10)) == Status::Degraded {}
        assert_eq!(m.degraded_time(Instant(90)), Duration(30));
        assert_eq!(m.unhealthy_time(Instant(90)), Duration::ZERO);
    }

    #[test]
    fn unhealthy_after_consecutive_failures_and_back_on_success() {
        let mut m = monitor();
        m.on_probe_success(&CFG, Instant(0), ms(10));
        assert_eq!(m.on_probe_failure(&CFG, Instant(1)), Status::Healthy);
        assert_eq!(m.on_probe_failure(&CFG, Instant(2)), Status::Healthy);
        assert_eq!(m.on_probe_failure(&CFG, Instant(10)), Status::Unhealthy);
        assert_eq!(m.on_probe_failure(&CFG, Instant(20)), Status::Unhealthy);
        assert_eq!(
            m.on_probe_success(&CFG, Instant(40), ms(10)),
            Status::Healthy
        );
        assert_eq!(m.unhealthy_time(Instant(100)), Duration(30));
        // A late answer is a failure.
        let mut m = monitor();
        for _ in 0..3 {
            m.on_probe_success(&HealthConfig::default(), Instant::ZERO, ms(501));
        }
        assert_eq!(m.status(), Status::Unhealthy);
    }

    #[test]
    fn probes_are_due_every_interval() {
        let mut m = monitor();
        let s = Duration::from_secs(1);
        assert!(m.poll_probe(&CFG, Instant::ZERO));
        assert!(!m.poll_probe(&CFG, Instant::ZERO), "once per instant");
        assert_eq!(m.poll_timeout(), Instant::ZERO + s);
        assert!(!m.poll_probe(&CFG, Instant(999_999_999)));
        // A late call catches up without a burst of probes.
        assert!(m.poll_probe(&CFG, Instant::ZERO + Duration::from_secs(5)));
        assert_eq!(m.poll_timeout(), Instant::ZERO + Duration::from_secs(6));
    }

    #[test]
    fn a_custom_rule_plugs_in() {
        struct LastSampleRule;
        impl Rule for LastSampleRule {
            fn classify(&self, _: &HealthConfig, obs: &Observation) -> Status {
                match obs.last {
                    Some(d) if d > Duration::from_millis(200) => Status::Degraded,
                    Some(_) => Status::Healthy,
                    None => Status::Unhealthy,
                }
            }
        }
        let cfg = HealthConfig::default();
        let mut m = HealthMonitor::with_rule(Instant::ZERO, LastSampleRule);
        assert_eq!(
            m.on_probe_success(&cfg, Instant::ZERO, ms(300)),
            Status::Degraded
        );
        assert_eq!(
            m.on_probe_success(&cfg, Instant::ZERO, ms(100)),
            Status::Healthy
        );
        assert_eq!(m.on_probe_failure(&cfg, Instant::ZERO), Status::Unhealthy);
    }
}
