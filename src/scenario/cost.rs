//! What a run of a scenario will cost, estimated from the scenario alone:
//! the number of events the engine processes and the peak memory. Every
//! command that runs scenarios checks the estimate against `--max-events`
//! and `--max-memory` first, so a scenario that no machine can run fails in
//! milliseconds with the keys that drive its cost, instead of hanging or
//! being killed for memory half-way through writing its reports.
//!
//! The model (first-order means, no queueing theory beyond "is the fleet
//! overloaded"):
//!
//! - **tasks**: the expected arrivals over `duration` of every source
//!   (`rate × duration`, the integral of a ramp or diurnal rate, `count ×
//!   size` for bursts, the rows of a trace times its loops); a job
//!   contributes `Σ stages tasks` tasks per arrival plus its own arrival.
//! - **events per task**: its arrival, then per request 3 (deliver, done,
//!   reply) or 1 when the network has no latency and there is no broker,
//!   +1 through a `[dispatcher]` (a request timeout is no event of its
//!   own: about one a timeout per route, below); every tier's
//!   `calls` add requests recursively (`Σ probability × targets` per served
//!   request); retries multiply the attempts by `1 + error rate` (at most
//!   the retry limit).
//! - **background**: probes (`agents × duration / health.interval × 3`
//!   behind a latency or a broker;
//!   × 2 on an instant network, × 1 when agents' events cannot interleave
//!   there either, loss or not; where arrivals also come at distinct
//!   instants, a steady agent's probes sleep, and so do a down agent's
//!   once it is UNHEALTHY: only `unhealthy_after + 1` rounds of each
//!   outage count, 2 a round, plus 2 per agent as it settles, plus 3 per
//!   failed exchange on a lossy network, `agents × duration / interval ×
//!   (1 − (1 − loss)²)`; the agents a fault or an autoscaler may touch, 2
//!   a round there),
//!   heartbeats when leases matter and a heartbeat
//!   can be lost (`agents × duration / heartbeat × 2`; where heartbeats
//!   are quiet, on an instant network or behind a constant latency with
//!   no broker or broker outage (`Scenario::broker_never_down`),
//!   `× loss`; behind any other
//!   latency, with no broker either, `× (loss + (1 − loss) · P(latency ≥
//!   min(heartbeat, ttl − heartbeat)))`),
//!   failures (`2 × duration / (MTBF + MTTR)` per failing agent), request
//!   timeouts (`routes × duration / timeout`), bus topics
//!   (`duration / every × (1 + receivers)`), autoscale ticks, faults.
//! - **memory**: a base of 10 MB; 3 KB per agent, spares included
//!   (measured: 100,000 agents of steady_load's fleet peak at 280–330 MB:
//!   the agent state, its monitor, breaker and lease, its latency values
//!   and its rows in the reports); 240 bytes per task
//!   waiting when the offered load `ρ = λ · E[S] / (agents × concurrency)`
//!   is 1 or more (then the backlog grows to `(1 − 1/ρ) × arrivals`; 1
//!   million queued tasks measured at 240 MB); the time series,
//!   `(duration + drain) / bucket` rows of `8 × (24 + 4 × routes + tiers)`
//!   bytes. Replications run `parallel` at a time and each keeps its
//!   results (about 8 KB plus an agent's result, 128 bytes, per agent and
//!   its time series).
//!
//! Accuracy on the reference scenarios (README, "Limits and the cost
//! estimate"): events within 0.67×–1.12× of the `events` column of
//! summary.csv, memory within 0.53×–1.2× of the measured peak resident
//! memory; a test holds three scenarios' events to 0.5×–2×.

use crate::faults::{FaultKind, Target};
use crate::fleet::{ServiceTime, Tier};
use crate::rng::Dist;
use crate::scenario::{Audience, Scenario};
use crate::time::Duration;
use crate::workload::Arrivals;

/// Bytes of one agent, spares included (measured, see the module docs).
pub const AGENT_BYTES: f64 = 3_000.0;
/// Bytes of one task waiting in a queue (measured).
pub const QUEUED_TASK_BYTES: f64 = 240.0;
/// The process before any scenario: code, allocator, report buffers.
pub const BASE_BYTES: f64 = 10.0e6;
/// The results one replication keeps until the reports are written.
pub const RESULT_BYTES: f64 = 8_000.0;
/// And per agent: one `AgentResult` (its size is checked against this
/// where it is defined).
pub const AGENT_RESULT_BYTES: usize = 128;

/// The default `--max-events`.
pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000_000;
/// The default `--max-memory`: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

/// One driver of the cost: the key that sets it and what it adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// The key path(s) that drive it, e.g. `workload.arrivals.rate × duration`.
    pub keys: String,
    pub events: f64,
    pub bytes: f64,
}

/// The estimate of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// Events the engine processes.
    pub events: f64,
    /// Peak memory in bytes.
    pub bytes: f64,
    /// Results kept per replication, in bytes.
    pub result_bytes: f64,
    /// The contributions, in the order the model adds them.
    pub terms: Vec<Term>,
}

/// `--max-events` and `--max-memory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_events: u64,
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_events: DEFAULT_MAX_EVENTS,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// A plan whose estimate is over a limit.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OverLimit(pub String);

/// Expected arrivals of a source over `duration`.
fn arrivals(a: &Arrivals, duration: Duration) -> f64 {
    let secs = duration.as_secs_f64();
    match a {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate * secs,
        Arrivals::Bursts { count, size, .. } => f64::from(*count) * f64::from(*size),
        Arrivals::Trace(t) => {
            let rows = t.info.rows as f64;
            match t.info.period {
                Some(p) if !p.is_zero() => rows * (secs / p.as_secs_f64()).max(1.0),
                _ => rows,
            }
        }
        Arrivals::Ramp { .. } | Arrivals::Diurnal { .. } => {
            // The integral of the rate, by the midpoint rule.
            const STEPS: usize = 1000;
            let dt = secs / STEPS as f64;
            (0..STEPS)
                .map(|i| a.rate_at((i as f64 + 0.5) * dt) * dt)
                .sum()
        }
    }
}

/// `n` as "4.0 M", "12 k", "950".
pub fn show_count(n: f64) -> String {
    let units = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, unit) in units {
        if n >= scale {
            let x = n / scale;
            return if x < 10.0 {
                format!("{x:.1} {unit}")
            } else {
                format!("{x:.0} {unit}")
            };
        }
    }
    format!("{n:.0}")
}

/// Bytes as "14 MB", "1.2 GB" (powers of 1000, as `500MB` parses).
pub fn show_bytes(b: f64) -> String {
    let units = [
        (1e15, "PB"),
        (1e12, "TB"),
        (1e9, "GB"),
        (1e6, "MB"),
        (1e3, "kB"),
    ];
    for (scale, unit) in units {
        if b >= scale {
            let x = b / scale;
            return if x < 10.0 {
                format!("{x:.1} {unit}")
            } else {
                format!("{x:.0} {unit}")
            };
        }
    }
    format!("{b:.0} B")
}

/// A byte size: plain bytes (`1000000`), or a number with `kB`, `MB`,
/// `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of
/// 1024), e.g. `4GiB`, `500MB`, `1.5GB`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{}`; use plain bytes or kB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. 4GiB, 500MB)",
                unit.trim()
            ));
        }
    };
    let x: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; e.g. 4GiB, 500MB or 1000000 (bytes)"))?;
    let bytes = x * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{s}`: a size must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// A failing agent of tier `t` over `secs` seconds: its mean time to
/// repair (seconds) and how many outages it has (one per MTBF + MTTR).
/// `P(X ≥ x)` for `X` drawn from `d`, by bisection on its quantile
/// function (an estimate's precision: 2⁻³⁰).
fn tail(d: &Dist, x: Duration) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if d.quantile(mid) < x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    1.0 - lo
}

fn outages(t: &Tier, secs: f64) -> (f64, f64) {
    let mttr = t.repair.mean_nanos() / 1e9;
    let mtbf = mttr * t.uptime / (1.0 - t.uptime);
    (mttr, secs / (mttr + mtbf).max(1e-9))
}

/// Estimate one run of `sc` (see the module docs for the model).
pub fn estimate(sc: &Scenario) -> Cost {
    let mut terms = Vec::new();
    let secs = sc.duration.as_secs_f64();
    let agents: f64 = sc
        .tiers
        .iter()
        .map(|t| f64::from(t.count) + f64::from(t.spares))
        .sum();
    let live: f64 = sc.tiers.iter().map(|t| f64::from(t.count)).sum();
    let instant = sc.instant_network();
    // A request's timeout is no event of its own: one queued timeout a
    // route is armed at a time (`world/timeouts.rs`), counted below.
    let per_request = if instant { 1.0 } else { 3.0 };
    let dispatcher = if sc.dispatcher.is_some() { 1.0 } else { 0.0 };
    // Attempts per task: a retried failure costs another attempt.
    let error_rate = if live > 0.0 {
        sc.tiers
            .iter()
            .map(|t| f64::from(t.count) * t.error_rate)
            .sum::<f64>()
            / live
    } else {
        0.0
    };
    let attempts = match &sc.retry {
        Some(_) => 1.0 + 2.0 * error_rate,
        None => 1.0,
    };
    // Requests one request to `cap` causes, itself included.
    let fanout = |cap: Option<&str>| requests(sc, cap, 0);
    let per_task = |cap: Option<&str>| {
        attempts * (dispatcher + per_request * fanout(cap)) + 1.0 // + its arrival
    };

    // Work offered to the fleet (for the backlog), in agent-seconds.
    let mut offered = 0.0;
    let mut tasks_total = 0.0;
    let mean_service = |cap: Option<&str>| mean_service(sc, cap) * fanout(cap);
    let cap = sc.workload.capability.as_deref();
    if let Some(a) = &sc.workload.arrivals {
        let n = arrivals(a, sc.duration);
        tasks_total += n;
        offered += n * mean_service(cap);
        terms.push(Term {
            keys: source_keys("workload.arrivals", a),
            events: n * per_task(cap),
            bytes: 0.0,
        });
    }
    for (i, st) in sc.workload.streams.iter().enumerate() {
        let cap = st.capability.as_deref().or(cap);
        let n = arrivals(&st.arrivals, sc.duration);
        tasks_total += n;
        offered += n * mean_service(cap);
        terms.push(Term {
            keys: source_keys(&format!("workload.streams[{i}].arrivals"), &st.arrivals),
            events: n * per_task(cap),
            bytes: 0.0,
        });
    }
    for (i, job) in sc.workload.jobs.iter().enumerate() {
        let n = arrivals(&job.arrivals, sc.duration);
        let mut per_job = 1.0;
        for st in &job.stages {
            let c = st.capability.as_deref();
            per_job += f64::from(st.tasks) * (per_task(c) - 1.0);
            tasks_total += n * f64::from(st.tasks);
            offered += n * f64::from(st.tasks) * mean_service(c);
        }
        terms.push(Term {
            keys: format!(
                "{} × workload.jobs[{i}].stages[..].tasks",
                source_keys(&format!("workload.jobs[{i}].arrivals"), &job.arrivals)
            ),
            events: n * per_job,
            bytes: 0.0,
        });
    }

    // Background work over the run (it stops when the last task ends,
    // near `duration` for most scenarios).
    // The armed timeout of each route's queue pops about once a timeout
    // while requests come (a request that times out is a failure, and
    // its retry is counted as an attempt above).
    if let Some(t) = sc.request.timeout {
        let routes = sc.capabilities_in_use().len().max(1) as f64;
        terms.push(Term {
            keys: "request.timeout".to_string(),
            events: routes * secs / t.as_secs_f64(),
            bytes: 0.0,
        });
    }
    // As the world decides (`world/discovery.rs`): on an instant network a
    // probe's messages are no events; where agents' events cannot
    // interleave (loss or not: an answer's loss is drawn as its probe
    // arrives) a steady probe is one event; heartbeats that nothing but
    // the random loss can lose, on an instant network or one with a
    // constant latency, are none but the lost ones.
    let quiet = sc.certain_heartbeat_latency().is_some() && sc.broker_never_down();
    let independent = instant
        && sc.broker_never_down()
        && sc.balancer.panic_threshold == 0.0
        && sc.balancer.changes.is_empty()
        && sc.capabilities_in_use().len() == 1
        && sc.tiers.iter().all(|t| t.calls.steps.is_empty());
    // Arrivals at distinct instants (not a trace's or a burst's) let a
    // steady agent's probes sleep: only those of an agent that is down
    // (the probe and its failure) and a few as each agent settles are
    // events, and on a lossy network each failed exchange (a probe or its
    // answer lost) and the probe after it.
    let dormant = independent && sc.workload.arrivals_apart();
    // There, the agents a fault or an autoscaler may touch keep every
    // probe an event (2 a round): a fault's targets, a joining or
    // autoscaled tier whole.
    let pinned = if independent {
        let tier = |t: u32| f64::from(sc.tiers[t as usize].count);
        let drawn_from: f64 = sc.tiers_drawn_from().map(tier).sum();
        let targets: f64 = (sc.faults.iter())
            .filter(|f| !matches!(f.kind, FaultKind::DispatcherDown | FaultKind::Join { .. }))
            .map(|f| match &f.target {
                Target::Agents(ids) => ids.len() as f64,
                &Target::Fraction { tier: t, fraction } => fraction * t.map_or(live, tier),
            })
            .sum();
        (targets + drawn_from).min(live)
    } else {
        0.0
    };
    if let Some(h) = &sc.health {
        let rounds = secs / h.interval.as_secs_f64();
        let events = if dormant {
            // A down agent's probes are events until it is UNHEALTHY and
            // one more (then they sleep until it is back): at most
            // `unhealthy_after + 1` rounds an outage.
            let interval = h.interval.as_secs_f64();
            let down: f64 = (sc.tiers.iter().filter(|t| t.fails()))
                .map(|t| {
                    let (mttr, cycles) = outages(t, secs);
                    f64::from(t.count)
                        * cycles
                        * (mttr / interval).min(f64::from(h.unhealthy_after) + 1.0)
                })
                .sum();
            let p = sc.network.loss;
            let failed = 1.0 - (1.0 - p) * (1.0 - p);
            down * 2.0
                + live * 2.0_f64.min(rounds)
                + live * rounds * failed * 3.0
                + pinned * rounds * 2.0
        } else {
            let per = if independent {
                1.0
            } else if instant {
                2.0
            } else {
                // Behind a latency, a timeout that finds the answer in
                // and an answer that changes no status are no events.
                3.0
            };
            live * rounds * per + pinned * rounds * (2.0 - per)
        };
        terms.push(Term {
            keys: "health.interval (probes: agents × duration / interval)".into(),
            events,
            bytes: 0.0,
        });
    }
    let leases = sc.agents_can_go_silent()
        || sc.network.loss > 0.0
        || sc.faults.iter().any(|f| f.kind == FaultKind::BrokerDown);
    // Quiet heartbeats cost two events a lost one (it, and the first to
    // arrive after it); drawn ones (`world/heartbeat_draws.rs`) two a lost
    // or late one (later than the period or than `ttl − period`); the
    // others two a heartbeat.
    let per = if quiet {
        2.0 * sc.network.loss
    } else if sc.heartbeats_drawn() {
        let (period, ttl) = (sc.registry.heartbeat, sc.registry.ttl);
        let late = tail(
            &sc.network.latency,
            period.min(Duration(ttl.0.saturating_sub(period.0))),
        );
        2.0 * (sc.network.loss + (1.0 - sc.network.loss) * late)
    } else {
        2.0
    };
    if leases && per > 0.0 {
        terms.push(Term {
            keys: "registry.heartbeat (agents × duration / heartbeat)".into(),
            events: live * secs / sc.registry.heartbeat.as_secs_f64() * per,
            bytes: 0.0,
        });
    }
    for (i, t) in sc.tiers.iter().enumerate() {
        if t.fails() && t.count > 0 {
            let (_, cycles) = outages(t, secs);
            terms.push(Term {
                keys: format!("fleet.tiers[{i}].mttr and uptime (failures)"),
                events: f64::from(t.count) * 2.0 * cycles,
                bytes: 0.0,
            });
        }
    }
    for (i, topic) in sc.bus.topics.iter().enumerate() {
        let receivers = match topic.to {
            Audience::Agent(_) => 1.0,
            Audience::All | Audience::Subscribers => live,
        };
        let span = secs - topic.start.as_secs_f64().min(secs);
        terms.push(Term {
            keys: format!("bus.topics[{i}].every (messages × receivers)"),
            events: span / topic.every.as_secs_f64() * (1.0 + receivers),
            bytes: 0.0,
        });
    }
    for (i, a) in sc.autoscale.iter().enumerate() {
        terms.push(Term {
            keys: format!("autoscale[{i}].interval"),
            events: secs / a.interval.as_secs_f64() + 2.0 * f64::from(a.max),
            bytes: 0.0,
        });
    }
    if !sc.faults.is_empty() {
        let mut events = 0.0;
        for f in &sc.faults {
            events += 2.0;
            match f.kind {
                FaultKind::Join { count } => events += 2.0 * f64::from(count),
                FaultKind::RollingRestart { .. } | FaultKind::Drain => events += 2.0 * live,
                _ => {}
            }
        }
        terms.push(Term {
            keys: "faults".into(),
            events,
            bytes: 0.0,
        });
    }

    // Memory.
    terms.push(Term {
        keys: "fleet.tiers[..].count (agents, spares included)".into(),
        events: 0.0,
        bytes: agents * AGENT_BYTES,
    });
    let mut capacity: f64 = sc
        .tiers
        .iter()
        .map(|t| f64::from(t.count) * f64::from(t.concurrency))
        .sum();
    if sc.dispatch.workers > 0 {
        capacity = capacity.min(f64::from(sc.dispatch.workers));
    }
    let rho = if capacity > 0.0 && secs > 0.0 {
        offered / secs / capacity
    } else {
        0.0
    };
    if rho >= 1.0 {
        let mut backlog = tasks_total * (1.0 - 1.0 / rho);
        if sc.dispatch.queue_capacity > 0 {
            backlog = backlog.min(f64::from(sc.dispatch.queue_capacity) + capacity);
        }
        terms.push(Term {
            keys: format!(
                "workload rates × service_time (offered load ρ = {rho:.2} ≥ 1: the backlog grows)"
            ),
            events: 0.0,
            bytes: backlog * QUEUED_TASK_BYTES,
        });
    }
    let span = (sc.duration + sc.drain).as_secs_f64();
    let rows = span / sc.report.bucket.as_secs_f64();
    let routes = sc.capabilities_in_use().len() as f64;
    let row_bytes = 8.0 * (24.0 + 4.0 * routes + sc.tiers.len() as f64);
    terms.push(Term {
        keys: "report.bucket (time-series rows: (duration + drain) / bucket)".into(),
        events: 0.0,
        bytes: rows * row_bytes,
    });
    let events = terms.iter().map(|t| t.events).sum();
    let bytes = BASE_BYTES + terms.iter().map(|t| t.bytes).sum::<f64>();
    Cost {
        events,
        bytes,
        result_bytes: RESULT_BYTES + AGENT_RESULT_BYTES as f64 * agents + rows * row_bytes,
        terms,
    }
}

/// How a source's count is set, for messages.
fn source_keys(path: &str, a: &Arrivals) -> String {
    match a {
        Arrivals::Poisson { .. } | Arrivals::Constant { .. } => {
            format!("{path}.rate × duration")
        }
        Arrivals::Bursts { .. } => format!("{path}.count × size"),
        Arrivals::Trace(_) => format!("{path}.file (its rows, looped over duration)"),
        Arrivals::Ramp { .. } => format!("{path}.from/to × duration"),
        Arrivals::Diurnal { .. } => format!("{path}.mean × duration"),
    }
}

/// The tiers serving `cap`, with their share of the requests (by count).
fn serving(sc: &Scenario, cap: Option<&str>) -> Vec<(usize, f64)> {
    let tiers: Vec<(usize, f64)> = sc
        .tiers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.count > 0 && cap.is_none_or(|c| t.capabilities.iter().any(|x| x == c)))
        .map(|(i, t)| (i, f64::from(t.count)))
        .collect();
    let total: f64 = tiers.iter().map(|(_, n)| n).sum();
    tiers
        .into_iter()
        .map(|(i, n)| (i, n / total.max(1.0)))
        .collect()
}

/// Requests one request to `cap` makes in all (itself and its calls,
/// recursively; the call graph is acyclic, the depth is capped anyway).
fn requests(sc: &Scenario, cap: Option<&str>, depth: u32) -> f64 {
    if depth > 16 {
        return 1.0;
    }
    let mut n = 1.0;
    for (i, share) in serving(sc, cap) {
        for step in &sc.tiers[i].calls.steps {
            for target in &step.targets {
                n += share * step.probability * requests(sc, Some(target), depth + 1);
            }
        }
    }
    n
}

/// The mean service time (seconds) of a request to `cap`.
fn mean_service(sc: &Scenario, cap: Option<&str>) -> f64 {
    serving(sc, cap)
        .into_iter()
        .map(|(i, share)| {
            let s = match &sc.tiers[i].service_time {
                ServiceTime::Dist(d) => d.mean_nanos(),
                ServiceTime::PerWork { base, .. } => base.as_nanos() as f64,
            };
            share * s / 1e9
        })
        .sum()
}

impl Cost {
    /// "about 4.0 M events, 14 MB".
    pub fn summary(&self) -> String {
        format!(
            "about {} events, {}",
            show_count(self.events),
            show_bytes(self.bytes)
        )
    }

    /// Check `runs` runs of this estimate, `parallel` at a time, against
    /// `limits`; the error names the keys that drive the cost and the flag
    /// that raises the limit.
    pub fn check(
        &self,
        name: &str,
        runs: u64,
        parallel: u64,
        limits: &Limits,
    ) -> Result<(), OverLimit> {
        let runs_f = runs as f64;
        let events = self.events * runs_f;
        let bytes = self.bytes * (runs.min(parallel.max(1)) as f64) + self.result_bytes * runs_f;
        let each = |x: String| {
            if runs > 1 {
                format!(" ({runs} runs × {x} each)")
            } else {
                String::new()
            }
        };
        if events > limits.max_events as f64 {
            let mut drivers: Vec<&Term> = self.terms.iter().filter(|t| t.events > 0.0).collect();
            drivers.sort_by(|a, b| b.events.total_cmp(&a.events));
            let mut list: Vec<String> = drivers
                .iter()
                .take(3)
                .map(|t| format!("{} ({} events)", t.keys, show_count(t.events)))
                .collect();
            if runs > 1 {
                list.push(format!("--replications ({runs} runs)"));
            }
            return Err(OverLimit(format!(
                "{name}: the runs would process about {} events{}, over the limit of {} \
                 (--max-events); driven by {}. Lower these keys, or raise the limit with \
                 --max-events {}",
                show_count(events),
                each(show_count(self.events)),
                show_count(limits.max_events as f64),
                list.join(", "),
                (events * 1.2).ceil() as u64
            )));
        }
        if bytes > limits.max_memory as f64 {
            let mut drivers: Vec<&Term> = self.terms.iter().filter(|t| t.bytes > 0.0).collect();
            drivers.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
            let mut list: Vec<String> = drivers
                .iter()
                .take(3)
                .map(|t| format!("{} ({})", t.keys, show_bytes(t.bytes)))
                .collect();
            if runs > 1 {
                list.push(format!(
                    "--replications ({} runs, {} at a time, {} of results each)",
                    runs,
                    runs.min(parallel.max(1)),
                    show_bytes(self.result_bytes)
                ));
            }
            return Err(OverLimit(format!(
                "{name}: the runs would need about {} of memory{}, over the limit of {} \
                 (--max-memory); driven by {}. Lower these keys, or raise the limit with \
                 --max-memory {}",
                show_bytes(bytes),
                each(show_bytes(self.bytes)),
                show_bytes(limits.max_memory as f64),
                list.join(", "),
                show_bytes(bytes * 1.2).replace(' ', "")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
        assert_eq!(parse_bytes("1000000"), Ok(1_000_000));
        assert_eq!(parse_bytes("1.5 GB"), Ok(1_500_000_000));
        assert!(
            parse_bytes("4 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_bytes("GB").is_err());
        assert!(parse_bytes("0").is_err());
    }

    #[test]
    fn counts_and_bytes_show_short() {
        assert_eq!(show_count(4.04e6), "4.0 M");
        assert_eq!(show_count(950.0), "950");
        assert_eq!(show_bytes(14.2e6), "14 MB");
        assert_eq!(show_bytes(1.2e9), "1.2 GB");
    }

    #[test]
    fn an_overloaded_fleet_grows_a_backlog_and_a_big_one_needs_memory() {
        let text = |count: u32, rate: f64| {
            format!(
                "duration = \"10s\"\n[[fleet.tiers]]\ncount = {count}\n\
                 service_time = {{ dist = \"constant\", value = \"1s\" }}\n\
                 [workload]\narrivals = {{ process = \"constant\", rate = {rate:.1} }}\n"
            )
        };
        let load = |t: String| crate::scenario::load_str("t.toml", "t", &t, &[]).unwrap();
        let light = estimate(&load(text(10, 1.0)));
        let heavy = estimate(&load(text(1, 100_000.0)));
        // 1 M arrivals at ρ = 100 000: about 1 M tasks waiting.
        assert!(heavy.bytes > 200e6 && heavy.bytes < 300e6, "{heavy:?}");
        assert!(light.bytes < 20e6, "{light:?}");
        // A million agents, about 3 GB: within the default 4 GiB, not 2 GB.
        let big = estimate(&load(text(1_000_000, 1.0)));
        assert!(big.check("t", 1, 1, &Limits::default()).is_ok(), "{big:?}");
        let two_gb = Limits {
            max_memory: 2_000_000_000,
            ..Limits::default()
        };
        let err = big.check("t", 1, 1, &two_gb).unwrap_err();
        assert!(err.0.contains("fleet.tiers[..].count"), "{err}");
        assert!(err.0.contains("--max-memory"), "{err}");
    }
}
