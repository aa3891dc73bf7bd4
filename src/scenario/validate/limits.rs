//! Bounds that keep a valid scenario runnable: counts, rates, periods,
//! the duration and name lengths, each a problem at its key saying what
//! is allowed.
//!
//! Why: the other areas check that a value means something (a count of at
//! least 1, a rate above 0); these check that a machine can simulate it. A
//! tier of 10⁹ agents, an arrival rate of 10¹² per second or a heartbeat
//! every nanosecond parse fine but would abort on an allocation, or run
//! for days, after the report directory was started. The bounds are far
//! above anything the reference scenarios use; the cost estimate
//! (`scenario/cost.rs`, `--max-events`, `--max-memory`) catches the
//! combinations (many agents × a fine heartbeat) that are each in bounds.

use super::Checker;
use crate::scenario::{KeyPath, Scenario};
use crate::time::Duration;
use crate::workload::Arrivals;

/// Agents in a tier, tasks of a stage, a burst's size and count, a join's
/// count, an autoscaled tier's `max`.
pub const MAX_COUNT: u32 = 1_000_000;
/// Arrivals per second of any process: one a nanosecond, the clock's
/// resolution.
pub const MAX_RATE: f64 = 1e9;
/// Nothing periodic fires more often than this.
pub const MIN_PERIOD: Duration = Duration::from_micros(1);
/// `duration` and `drain`: ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Characters of a name (scenario, tier, stream, job, stage, topic,
/// capability, tag).
pub const MAX_NAME: usize = 256;
/// Characters of the description.
pub const MAX_DESCRIPTION: usize = 4096;

/// Check every bound of a scenario that is otherwise valid.
pub(super) fn check(c: &mut Checker<'_, '_>, sc: &Scenario) {
    let root = KeyPath::root();
    for (key, d) in [("duration", sc.duration), ("drain", sc.drain)] {
        if d > MAX_DURATION {
            c.fail(
                &root.key(key),
                format!("is {d}; at most 10 years (87600h) can be simulated"),
            );
        }
    }
    name(c, &root.key("name"), &sc.name);
    let chars = sc.description.chars().count();
    if chars > MAX_DESCRIPTION {
        c.fail(
            &root.key("description"),
            format!("is {chars} characters long; at most {MAX_DESCRIPTION}"),
        );
    }

    let tiers = root.key("fleet").key("tiers");
    for (i, t) in sc.tiers.iter().enumerate() {
        let p = tiers.index(i);
        name(c, &p.key("name"), &t.name);
        count(c, &p.key("count"), t.count, "agents in a tier");
        for (key, list) in [("capabilities", &t.capabilities), ("tags", &t.tags)] {
            for (j, s) in list.iter().enumerate() {
                name(c, &p.key(key).index(j), s);
            }
        }
        if t.fails() {
            let mean = t.repair.mean_nanos();
            if mean < MIN_PERIOD.as_nanos() as f64 {
                c.fail(
                    &p.key("mttr"),
                    format!(
                        "has a mean of {mean} ns; repairs must take at least 1us on average \
                         (shorter ones make a storm of failure events)"
                    ),
                );
            }
        }
    }

    let w = root.key("workload");
    if let Some(a) = &sc.workload.arrivals {
        arrivals(c, &w.key("arrivals"), a);
    }
    for (i, st) in sc.workload.streams.iter().enumerate() {
        let p = w.key("streams").index(i);
        name(c, &p.key("name"), &st.name);
        arrivals(c, &p.key("arrivals"), &st.arrivals);
    }
    for (i, job) in sc.workload.jobs.iter().enumerate() {
        let p = w.key("jobs").index(i);
        name(c, &p.key("name"), &job.name);
        arrivals(c, &p.key("arrivals"), &job.arrivals);
        for (k, st) in job.stages.iter().enumerate() {
            let sp = p.key("stages").index(k);
            name(c, &sp.key("name"), &st.name);
            count(c, &sp.key("tasks"), st.tasks, "tasks of a stage");
        }
    }

    if let Some(h) = &sc.health {
        period(c, &root.key("health").key("interval"), h.interval);
    }
    period(
        c,
        &root.key("registry").key("heartbeat"),
        sc.registry.heartbeat,
    );
    period(c, &root.key("report").key("bucket"), sc.report.bucket);
    if let Some(aging) = sc.dispatch.aging {
        period(c, &root.key("dispatch").key("aging"), aging);
    }
    for (i, topic) in sc.bus.topics.iter().enumerate() {
        let p = root.key("bus").key("topics").index(i);
        name(c, &p.key("name"), &topic.name);
        period(c, &p.key("every"), topic.every);
    }
    for (i, a) in sc.autoscale.iter().enumerate() {
        let p = root.key("autoscale").index(i);
        period(c, &p.key("interval"), a.interval);
        count(c, &p.key("max"), a.max, "agents of an autoscaled tier");
    }
    for (i, f) in sc.faults.iter().enumerate() {
        if let crate::faults::FaultKind::Join { count: n } = f.kind {
            count(
                c,
                &root.key("faults").index(i).key("count"),
                n,
                "agents that join",
            );
        }
    }
}

fn name(c: &mut Checker<'_, '_>, path: &KeyPath, s: &str) {
    let chars = s.chars().count();
    if chars > MAX_NAME {
        c.fail(
            path,
            format!("is {chars} characters long; a name has at most {MAX_NAME}"),
        );
    }
}

fn count(c: &mut Checker<'_, '_>, path: &KeyPath, n: u32, what: &str) {
    if n > MAX_COUNT {
        c.fail(
            path,
            format!("is {n}; at most 1000000 ({what}); a larger count does not fit in memory"),
        );
    }
}

fn period(c: &mut Checker<'_, '_>, path: &KeyPath, d: Duration) {
    if d < MIN_PERIOD {
        c.fail(
            path,
            format!(
                "is {d}; nothing periodic may fire more often than every 1us (it would be a storm of events)"
            ),
        );
    }
}

fn rate(c: &mut Checker<'_, '_>, path: &KeyPath, r: f64) {
    if r > MAX_RATE {
        c.fail(
            path,
            format!(
                "is {r}; at most 1e9 per second (one arrival a nanosecond, the clock's resolution)"
            ),
        );
    }
}

fn arrivals(c: &mut Checker<'_, '_>, path: &KeyPath, a: &Arrivals) {
    match a {
        Arrivals::Poisson { rate: r } | Arrivals::Constant { rate: r } => {
            rate(c, &path.key("rate"), *r);
        }
        Arrivals::Ramp { from, to, .. } => {
            rate(c, &path.key("from"), *from);
            rate(c, &path.key("to"), *to);
        }
        Arrivals::Diurnal {
            mean,
            amplitude,
            period: p,
            ..
        } => {
            rate(c, &path.key("mean"), mean + amplitude);
            period(c, &path.key("period"), *p);
        }
        Arrivals::Bursts {
            count: n,
            size,
            every,
            ..
        } => {
            count(c, &path.key("count"), *n, "bursts");
            count(c, &path.key("size"), *size, "tasks in a burst");
            if *n > 1 {
                period(c, &path.key("every"), *every);
            }
        }
        Arrivals::Trace(t) => {
            if let Some(p) = t.info.period
                && p < MIN_PERIOD
            {
                c.fail(
                    &path.key("speedup"),
                    format!(
                        "makes the loop period {p}; a looped trace must take at least 1us per pass"
                    ),
                );
            }
        }
    }
}

/// Periodic keys longer than the run (`duration + drain`): each fires at
/// most once, which is allowed (a probe at start-up only) but rarely
/// meant. `fleetsim validate` prints these as notes.
pub fn idle_periods(sc: &Scenario) -> Vec<String> {
    let span = sc.duration + sc.drain;
    let mut periods = Vec::new();
    if let Some(h) = &sc.health {
        periods.push(("health.interval".to_string(), h.interval));
    }
    if sc.agents_can_go_silent() {
        periods.push(("registry.heartbeat".to_string(), sc.registry.heartbeat));
    }
    for (i, t) in sc.bus.topics.iter().enumerate() {
        periods.push((format!("bus.topics[{i}].every"), t.every));
    }
    for (i, a) in sc.autoscale.iter().enumerate() {
        periods.push((format!("autoscale[{i}].interval"), a.interval));
    }
    periods
        .into_iter()
        .filter(|(_, p)| *p > span)
        .map(|(key, p)| {
            format!(
                "{key} ({p}) is longer than the run ({span} with the drain): it fires at most once"
            )
        })
        .collect()
}
