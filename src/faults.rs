//! Agent failures: the availability model of a tier (`uptime` + `mttr`) and
//! the `[[faults]]` schedule (crash, recover, slow, partition), with the
//! seeded choice of which agents a fault hits.
//!
//! What each failure means to the rest of the fleet (the world applies it):
//! - **down** (availability model or `crash`): the process is gone. Requests
//!   it held are reset and requests sent to it are refused: both come back
//!   as fast failures. It stops heartbeating and fails health probes at once.
//! - **partition**: the agent runs but nothing reaches it or leaves it:
//!   requests, replies, probes and heartbeats are lost, so only timeouts,
//!   failed probes and lease expiry reveal it.
//! - **slow { factor }**: service (and probe handling) takes `factor` times
//!   longer, for services that start while it lasts.
//! - **dispatcher_down** (no target): the dispatcher refuses new work while
//!   it lasts; requests already in flight are unaffected.
//! - **broker_down** (no target): the message broker is down; every message
//!   sent while it lasts is lost (a request fails its attempt at once with
//!   cause `broker`), what the broker held is lost, and retained messages
//!   survive only a persistent broker.
//! - **drain** (a deploy's graceful shutdown): the agent deregisters and
//!   becomes ineligible at once, serves everything it holds (queued, in
//!   service, on its way to it), then leaves; with `for` it comes back.
//! - **join**: pre-allocated agents of a tier register and take traffic
//!   (after a passing probe when probes are on).
//! - **rolling_restart**: drain and bring back a tier `batch` agents at a
//!   time, the next batch once the last is serving again.
//!
//! Availability follows the classic alternating renewal model: up periods
//! are exponential with mean MTBF = `mttr · uptime / (1 − uptime)`, down
//! periods exponential with mean `mttr`, so the long-run fraction up is
//! `uptime`. A run starts in the stationary state (an agent is down at time
//! 0 with probability `1 − uptime`; by memorylessness its remaining period
//! is a fresh draw). Sans-IO: the random streams are passed in.

use rand::Rng;

use crate::rng::{Dist, Stream, below, unit};
use crate::time::Duration;

/// What a scheduled fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    Crash,
    /// Ends every crash, slowdown and partition on the targets (not a down
    /// period of the availability model, which runs on its own clock).
    Recover,
    Slow {
        factor: f64,
    },
    Partition,
    /// The dispatcher refuses new work (no target: it hits the control
    /// plane, not agents).
    DispatcherDown,
    /// The message broker is down (hits no agent).
    BrokerDown,
    /// Graceful shutdown: the targets deregister and take no new request,
    /// finish what they hold, then leave; with `for`, they rejoin after it.
    Drain,
    /// `count` of the tier's pre-allocated agents register and join.
    Join {
        count: u32,
    },
    /// Drain the targets `batch` at a time; each batch rejoins `for` after
    /// it has left, and the next starts `pause` after it is serving again.
    RollingRestart {
        batch: u32,
        pause: Duration,
    },
}

impl FaultKind {
    pub const NAMES: &'static str = "crash, recover, slow, partition, dispatcher_down, broker_down, drain, join, rolling_restart";

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Recover => "recover",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Partition => "partition",
            FaultKind::DispatcherDown => "dispatcher_down",
            FaultKind::BrokerDown => "broker_down",
            FaultKind::Drain => "drain",
            FaultKind::Join { .. } => "join",
            FaultKind::RollingRestart { .. } => "rolling_restart",
        }
    }

    /// Does the fault stop the agent from heartbeating?
    pub fn silences(self) -> bool {
        matches!(self, FaultKind::Crash | FaultKind::Partition)
    }
}

/// Which agents a fault hits: given ids, or a fraction of a tier (or of
/// the whole fleet), drawn from the fault's own seeded stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Agents(Vec<u32>),
    Fraction {
        /// Tier index; `None` = the whole fleet.
        tier: Option<u32>,
        fraction: f64,
    },
}

/// One `[[faults]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at: Duration,
    pub kind: FaultKind,
    pub target: Target,
    /// The fault ends after this long (`None` = for the rest of the run).
    pub lasts: Option<Duration>,
}

/// How many agents a `fraction` of `n` is: rounded to the nearest, ties up.
pub fn fraction_count(fraction: f64, n: u32) -> u32 {
    ((fraction * f64::from(n)).round() as u32).min(n)
}

impl Target {
    /// The agents hit, in id order. `population` is the candidate ids in id
    /// order (the tier's agents, or the fleet's).
    pub fn resolve(&self, population: &[u32], rng: &mut Stream) -> Vec<u32> {
        match self {
            Target::Agents(ids) => ids.clone(),
            Target::Fraction { fraction, .. } => {
                let k = fraction_count(*fraction, population.len() as u32) as usize;
                choose(population, k, rng)
            }
        }
    }
}

/// `k` distinct members of `pool`, uniformly (a partial Fisher–Yates
/// shuffle), returned in id order.
pub fn choose(pool: &[u32], k: usize, rng: &mut Stream) -> Vec<u32> {
    let mut v = pool.to_vec();
    let k = k.min(v.len());
    for i in 0..k {
        let j = i + below(rng, (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(k);
    v.sort_unstable();
    v
}

/// The alternating up/down model of one tier.
#[derive(Clone, Debug, PartialEq)]
pub struct Availability {
    pub uptime: f64,
    up: Dist,
    down: Dist,
}

impl Availability {
    /// `None` when agents never fail (`uptime` = 1). `uptime` is in (0, 1],
    /// `repair` (the down periods) has a mean > 0 (validated); up periods
    /// are exponential with the mean that makes `uptime` the long-run
    /// fraction of time up, `E[repair] · uptime / (1 − uptime)`.
    pub fn new(uptime: f64, repair: &Dist) -> Option<Availability> {
        if uptime >= 1.0 {
            return None;
        }
        let mtbf_ns = repair.mean_nanos() * uptime / (1.0 - uptime);
        Some(Availability {
            uptime,
            up: Dist::Exponential {
                mean: Duration((mtbf_ns.round() as u64).max(1)),
            },
            down: repair.clone(),
        })
    }

    /// The state at time 0 (`true` = up) and how long it lasts: in the
    /// long-run state, so a down period in progress has its residual length
    /// ([`Dist::residual`]; up periods are memoryless).
    pub fn start(&self, rng: &mut impl Rng) -> (bool, Duration) {
        let up = unit(rng) >= 1.0 - self.uptime;
        let left = if up {
            self.up.sample(rng)
        } else {
            self.down.residual(rng)
        };
        (up, left.max(Duration(1)))
    }

    /// The length of an up (`true`) or down period.
    pub fn period(&self, up: bool, rng: &mut impl Rng) -> Duration {
        let d = if up { &self.up } else { &self.down };
        d.sample(rng).max(Duration(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn long_run_fraction_up_is_the_uptime() {
        // Alternate periods for a long time; the fraction up converges to
        // `uptime`. With ~20,000 cycles the relative sd of the fraction down
        // is about sqrt(2/20000)·(1-u) ~ 0.7 % of 0.1: tolerance 0.005 is
        // over 7 sd.
        let a = Availability::new(
            0.9,
            &Dist::Exponential {
                mean: Duration::from_secs(5),
            },
        )
        .unwrap();
        let mut rng = Seed(3).stream("availability/agent-0");
        let (mut up, mut left) = a.start(&mut rng);
        let (mut t_up, mut t_all) = (0u128, 0u128);
        for _ in 0..40_000 {
            t_all += u128::from(left.as_nanos());
            if up {
                t_up += u128::from(left.as_nanos());
            }
            up = !up;
            left = a.period(up, &mut rng);
        }
        let frac = t_up as f64 / t_all as f64;
        assert!((frac - 0.9).abs() < 0.005, "fraction up {frac}");
    }

    #[test]
    fn start_is_stationary() {
        // P(down at 0) = 1 - uptime = 0.25; 20,000 agents: sd 0.0031.
        let a = Availability::new(
            0.75,
            &Dist::Exponential {
                mean: Duration::from_secs(1),
            },
        )
        .unwrap();
        let mut rng = Seed(5).stream("t");
        let down = (0..20_000).filter(|_| !a.start(&mut rng).0).count();
        let p = down as f64 / 20_000.0;
        assert!((p - 0.25).abs() < 0.0125, "p = {p}");
        assert!(Availability::new(1.0, &Dist::Constant(Duration::from_secs(1))).is_none());
    }

    #[test]
    fn stays_stationary_with_a_skewed_repair_time() {
        // Lognormal repairs (median 1 s, p99 20 s), uptime 0.75: the
        // fraction down must stay 0.25 at every later instant, not only at
        // 0. A down agent at 0 has the residual of its repair left: drawing
        // a fresh repair instead gives about 0.17 down at t = 2 s (the
        // many short repairs end early). 20,000 agents: sd 0.0031, so
        // tolerance 0.0125 is 4 sd.
        let a = Availability::new(
            0.75,
            &Dist::lognormal(Duration::from_secs(1), Duration::from_secs(20)),
        )
        .unwrap();
        let at = [0.5e9, 2e9, 5e9, 20e9].map(|t: f64| t as u64);
        let mut down = [0usize; 4];
        let mut rng = Seed(8).stream("t");
        for _ in 0..20_000 {
            let (mut up, left) = a.start(&mut rng);
            // The end of the current period.
            let mut end = left.as_nanos();
            for (k, &when) in at.iter().enumerate() {
                while end <= when {
                    up = !up;
                    end += a.period(up, &mut rng).as_nanos();
                }
                if !up {
                    down[k] += 1;
                }
            }
        }
        for (k, d) in down.iter().enumerate() {
            let p = *d as f64 / 20_000.0;
            assert!((p - 0.25).abs() < 0.0125, "at {} ns: {p} down", at[k]);
        }
    }

    #[test]
    fn a_fraction_picks_that_many_distinct_agents_of_the_pool() {
        let pool: Vec<u32> = (24..84).collect();
        let t = Target::Fraction {
            tier: Some(1),
            fraction: 0.1,
        };
        let mut rng = Seed(1).stream("faults/0");
        let got = t.resolve(&pool, &mut rng);
        assert_eq!(got.len(), 6);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        assert!(got.iter().all(|id| pool.contains(id)));
        // Seeded: the same stream picks the same agents.
        let again = t.resolve(&pool, &mut Seed(1).stream("faults/0"));
        assert_eq!(got, again);
        assert_eq!(fraction_count(0.5, 5), 3, "ties round up");
        assert_eq!(fraction_count(1.0, 7), 7);
    }

    #[test]
    fn choice_is_uniform() {
        // Each of 10 ids chosen in k = 3 of 10: p = 0.3; 30,000 draws,
        // sd per count = sqrt(3e4·0.3·0.7) = 79; tolerance 400 (5 sd).
        let pool: Vec<u32> = (0..10).collect();
        let mut rng = Seed(2).stream("t");
        let mut count = [0u32; 10];
        for _ in 0..30_000 {
            for id in choose(&pool, 3, &mut rng) {
                count[id as usize] += 1;
            }
        }
        for c in count {
            assert!((i64::from(c) - 9_000).abs() < 400, "{count:?}");
        }
    }
}
