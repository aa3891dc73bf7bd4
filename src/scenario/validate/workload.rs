//! `[workload]`: arrival processes (and the traces they replay), task
//! streams, priorities, the capability and deadline of tasks.

use std::collections::BTreeSet;

use super::fleet::{check_served, check_tags};
use super::orchestration::check_job;
use super::{Checker, NAME_CHARS, valid_name};
use crate::fleet::Tier;
use crate::scenario::raw::{RawArrivals, RawWork, RawWorkload};
use crate::scenario::{Job, KeyPath, Problem, TaskStream, Workload};
use crate::time::Duration;
use crate::workload::{Arrivals, Trace, WorkDist, trace};

/// The whole `[workload]` table; `None` when its arrivals are invalid (a
/// problem has been recorded).
pub(super) fn check_workload(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: RawWorkload,
    tiers: &[Tier],
    duration: Duration,
) -> Option<Workload> {
    let deadline = c.duration(&path.key("deadline"), raw.deadline.as_deref());
    if deadline.is_some_and(Duration::is_zero) {
        c.fail(
            &path.key("deadline"),
            "must be greater than 0 (leave it out for no deadline)",
        );
    }
    let jobs: Vec<Job> = raw
        .jobs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, j)| check_job(c, &path.key("jobs").index(i), i, j, tiers, duration))
        .collect();
    let mut job_names = BTreeSet::new();
    for (i, j) in jobs.iter().enumerate() {
        if !job_names.insert(j.name.clone()) {
            c.fail(
                &path.key("jobs").index(i).key("name"),
                format!(
                    "job name `{}` is used twice; job names must be unique",
                    j.name
                ),
            );
        }
    }
    let mut streams = Vec::new();
    let mut stream_names = BTreeSet::new();
    for (i, st) in raw
        .streams
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let sp = path.key("streams").index(i);
        let name = st.name.clone().unwrap_or_else(|| format!("stream{i}"));
        if !valid_name(&name) {
            c.fail(
                &sp.key("name"),
                format!("`{name}` is not a usable stream name: use {NAME_CHARS}"),
            );
        } else if !stream_names.insert(name.clone()) {
            c.fail(
                &sp.key("name"),
                format!("stream name `{name}` is used twice; stream names must be unique"),
            );
        }
        if let Some(cap) = &st.capability {
            check_served(c, &sp.key("capability"), cap, tiers);
        }
        let cap = st.capability.as_ref().or(raw.capability.as_ref());
        let tags = check_tags(c, &sp, cap.map(String::as_str), st.tags.as_ref(), tiers);
        let arrivals = match &st.arrivals {
            None => {
                c.fail(
                    &sp.key("arrivals"),
                    "missing; e.g. arrivals = { process = \"poisson\", rate = 5.0 }",
                );
                None
            }
            Some(a) => check_arrivals(c, &sp.key("arrivals"), a, duration),
        };
        if let Some(arrivals) = &arrivals {
            check_trace_capabilities(c, &sp.key("arrivals"), arrivals, tiers);
        }
        let work = st
            .work
            .as_ref()
            .and_then(|w| check_work(c, &sp.key("work"), w));
        if let Some(arrivals) = arrivals {
            streams.push(TaskStream {
                name,
                arrivals,
                capability: st.capability.clone(),
                tags,
                work,
            });
        }
    }
    let other_sources = raw.jobs.as_ref().is_some_and(|j| !j.is_empty())
        || raw.streams.as_ref().is_some_and(|s| !s.is_empty());
    let arrivals = match &raw.arrivals {
        None if other_sources => Some(None),
        None => {
            c.fail(
                &path.key("arrivals"),
                "missing; e.g. arrivals = { process = \"poisson\", rate = 20.0 } (or give [[workload.streams]] or [[workload.jobs]])",
            );
            None
        }
        Some(a) => check_arrivals(c, &path.key("arrivals"), a, duration).map(Some),
    };
    if let Some(Some(a)) = &arrivals {
        check_trace_capabilities(c, &path.key("arrivals"), a, tiers);
    }
    let mut priorities = [0.0, 0.0, 1.0, 0.0];
    if let Some(p) = &raw.priorities {
        let pp = path.key("priorities");
        priorities = [
            p.critical.unwrap_or(0.0),
            p.high.unwrap_or(0.0),
            p.normal.unwrap_or(0.0),
            p.low.unwrap_or(0.0),
        ];
        for (k, v) in ["critical", "high", "normal", "low"].iter().zip(priorities) {
            if !v.is_finite() || v < 0.0 {
                c.fail(
                    &pp.key(k),
                    format!("is {v}; a priority weight must be 0 or more"),
                );
            }
        }
        if priorities.iter().sum::<f64>() <= 0.0 {
            c.fail(&pp, "the weights of critical, high, normal and low add up to 0; give at least one a positive weight");
        }
    }
    let capability = raw.capability.clone();
    if let Some(cap) = &capability {
        check_served(c, &path.key("capability"), cap, tiers);
    }
    let work = raw
        .work
        .as_ref()
        .and_then(|w| check_work(c, &path.key("work"), w));
    if raw.work.is_some() && raw.arrivals.is_none() {
        c.fail(
            &path.key("work"),
            "applies to the plain tasks of workload.arrivals, and there are none; give each [[workload.streams]] entry or job stage its own work",
        );
    }
    Some(Workload {
        arrivals: arrivals?,
        priorities,
        capability,
        deadline,
        jobs,
        streams,
        work,
    })
}

/// `work = { dist = ... }`: a distribution of work amounts, in plain
/// numbers of units (records, bytes, tokens…), each from 0 to
/// [`WorkDist::MAX`].
pub(super) fn check_work(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: &RawWork,
) -> Option<WorkDist> {
    if raw.dist.is_none() {
        c.fail(
            &path.key("dist"),
            "missing; any distribution of plain numbers, e.g. work = { dist = \"uniform\", min = 3000, max = 6000 }",
        );
        return None;
    }
    c.dist(path, &raw.to_dist()).map(WorkDist::new)
}

pub(super) fn check_arrivals(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    a: &RawArrivals,
    duration: Duration,
) -> Option<Arrivals> {
    const KINDS: &str = "poisson, constant, bursts, ramp, diurnal, trace";
    let Some(kind) = a.process.as_deref() else {
        c.fail(&path.key("process"), format!("missing; one of {KINDS}"));
        return None;
    };
    let later = [
        ("from", a.from.is_some()),
        ("to", a.to.is_some()),
        ("mean", a.mean.is_some()),
        ("amplitude", a.amplitude.is_some()),
        ("period", a.period.is_some()),
        ("phase", a.phase.is_some()),
        ("file", a.file.is_some()),
        ("time_column", a.time_column.is_some()),
        ("work_column", a.work_column.is_some()),
        ("priority_column", a.priority_column.is_some()),
        ("capability_column", a.capability_column.is_some()),
        ("speedup", a.speedup.is_some()),
        ("end", a.end.is_some()),
        ("loop", a.looped.is_some()),
    ];
    let fields = [
        ("rate", a.rate.is_some()),
        ("count", a.count.is_some()),
        ("size", a.size.is_some()),
        ("every", a.every.is_some()),
        ("start", a.start.is_some()),
        ("spread", a.spread.is_some()),
    ];
    let takes: &[&str] = match kind {
        "poisson" | "constant" => &["rate"],
        "bursts" => &["count", "size", "every", "start", "spread"],
        "ramp" => &["from", "to"],
        "diurnal" => &["mean", "amplitude", "period", "phase"],
        "trace" => &[
            "file",
            "time_column",
            "work_column",
            "priority_column",
            "capability_column",
            "speedup",
            "start",
            "end",
            "loop",
        ],
        other => {
            c.fail(
                &path.key("process"),
                format!("unknown arrival process `{other}`; one of {KINDS}"),
            );
            return None;
        }
    };
    let mut ok = true;
    for (name, present) in fields.into_iter().chain(later) {
        if present && !takes.contains(&name) {
            c.fail(
                &path.key(name),
                format!(
                    "does not apply to process = \"{kind}\", which takes: {}",
                    takes.join(", ")
                ),
            );
            ok = false;
        }
    }
    let arrivals = match kind {
        "trace" => return check_trace(c, path, a).filter(|_| ok),
        "poisson" => Arrivals::Poisson {
            rate: c.positive_rate(&path.key("rate"), a.rate)?,
        },
        "constant" => Arrivals::Constant {
            rate: c.positive_rate(&path.key("rate"), a.rate)?,
        },
        "ramp" => {
            let mut rate = |k: &str, v: Option<f64>| match v {
                None => {
                    c.fail(&path.key(k), "missing; a ramp takes from and to, rates per second at the start and at the end of the run");
                    None
                }
                Some(r) if !r.is_finite() || r < 0.0 => {
                    c.fail(
                        &path.key(k),
                        format!("is {r}; a rate must be 0 or more (tasks per second)"),
                    );
                    None
                }
                Some(r) => Some(r),
            };
            let (from, to) = (rate("from", a.from), rate("to", a.to));
            let (from, to) = (from?, to?);
            if from == 0.0 && to == 0.0 {
                c.fail(path, "from and to are both 0: nothing would arrive");
                return None;
            }
            Arrivals::Ramp {
                from,
                to,
                over: duration,
            }
        }
        "diurnal" => {
            let mean = c.positive_rate(&path.key("mean"), a.mean);
            let amplitude = a.amplitude.unwrap_or(0.0);
            if !amplitude.is_finite() || amplitude < 0.0 || mean.is_some_and(|m| amplitude > m) {
                c.fail(
                    &path.key("amplitude"),
                    format!(
                        "is {amplitude}; must be from 0 to mean (the rate may not go negative)"
                    ),
                );
            }
            let period = match c.duration(&path.key("period"), a.period.as_deref()) {
                None if a.period.is_none() => Some(Duration::from_secs(86_400)),
                Some(p) if p.is_zero() => {
                    c.fail(&path.key("period"), "must be greater than 0");
                    None
                }
                p => p,
            };
            let phase = c
                .duration(&path.key("phase"), a.phase.as_deref())
                .unwrap_or(Duration::ZERO);
            Arrivals::Diurnal {
                mean: mean?,
                amplitude,
                period: period?,
                phase,
            }
        }
        _ => {
            let count = a.count.unwrap_or(1);
            let size = match a.size {
                Some(s) => s,
                None => {
                    c.fail(
                        &path.key("size"),
                        "missing; the number of tasks in each burst",
                    );
                    0
                }
            };
            if count == 0 {
                c.fail(
                    &path.key("count"),
                    "must be at least 1 (the number of bursts)",
                );
            }
            if a.size == Some(0) {
                c.fail(&path.key("size"), "must be at least 1 (tasks per burst)");
            }
            let every = c.duration(&path.key("every"), a.every.as_deref());
            if count > 1 && a.every.is_none() {
                c.fail(
                    &path.key("every"),
                    "missing; the time between the starts of two bursts",
                );
            }
            let every = every.unwrap_or(Duration::ZERO);
            if count > 1 && every.is_zero() && a.every.is_some() {
                c.fail(
                    &path.key("every"),
                    "must be greater than 0 when there is more than one burst",
                );
            }
            let start = c
                .duration(&path.key("start"), a.start.as_deref())
                .unwrap_or(Duration::ZERO);
            let spread = c
                .duration(&path.key("spread"), a.spread.as_deref())
                .unwrap_or(Duration::ZERO);
            let last = start.as_nanos() as u128
                + every.as_nanos() as u128 * u128::from(count.saturating_sub(1));
            if last >= u128::from(duration.as_nanos()) {
                c.fail(
                    path,
                    format!(
                        "the last burst starts at {}, not before duration ({duration}); lengthen duration or move the bursts",
                        Duration(u64::try_from(last).unwrap_or(u64::MAX))
                    ),
                );
            }
            // Overlapping bursts would hand out arrivals out of order.
            if count > 1 && spread > every {
                c.fail(
                    &path.key("spread"),
                    format!(
                        "{spread} is longer than every ({every}): the bursts would overlap; spread a burst over at most `every`"
                    ),
                );
            }
            if count == 0 || size == 0 {
                return None;
            }
            Arrivals::Bursts {
                count,
                size,
                every,
                start,
                spread,
            }
        }
    };
    ok.then_some(arrivals)
}

/// `process = "trace"`: the keys, then one streaming pass over the file
/// (so a bad row fails here, before any run starts).
fn check_trace(c: &mut Checker<'_, '_>, path: &KeyPath, a: &RawArrivals) -> Option<Arrivals> {
    let column = |c: &mut Checker<'_, '_>, key: &str, v: &Option<String>| match v {
        Some(name) if name.trim().is_empty() => {
            c.fail(
                &path.key(key),
                "is empty; name a column of the trace's header",
            );
            None
        }
        v => Some(v.clone()),
    };
    let file = match &a.file {
        None => {
            c.fail(
                &path.key("file"),
                "missing; the CSV request log to replay, e.g. file = \"traces/requests.csv\" (relative to the scenario file)",
            );
            None
        }
        Some(f) if f.trim().is_empty() => {
            c.fail(
                &path.key("file"),
                "is empty; give the path of a CSV request log",
            );
            None
        }
        Some(f) => {
            let base = std::path::Path::new(&c.src.file)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            Some(base.join(f))
        }
    };
    let time_column = match &a.time_column {
        None => {
            c.fail(
                &path.key("time_column"),
                "missing; the header name of the column with each request's time (seconds, or a timestamp)",
            );
            None
        }
        v => column(c, "time_column", v).flatten(),
    };
    let work_column = column(c, "work_column", &a.work_column);
    let priority_column = column(c, "priority_column", &a.priority_column);
    let capability_column = column(c, "capability_column", &a.capability_column);
    let speedup = match a.speedup {
        None => Some(1.0),
        Some(s) if s.is_finite() && s > 0.0 => Some(s),
        Some(s) => {
            c.fail(
                &path.key("speedup"),
                format!(
                    "is {s}; must be a number greater than 0 (2.0 replays the log twice as fast)"
                ),
            );
            None
        }
    };
    let bound = |c: &mut Checker<'_, '_>, key: &str, v: &Option<String>| match v {
        None => Some(None),
        Some(v) => match trace::parse_bound(v) {
            Ok(b) => Some(Some(b)),
            Err(e) => {
                c.fail(&path.key(key), e);
                None
            }
        },
    };
    let start = bound(c, "start", &a.start);
    let end = bound(c, "end", &a.end);
    let spec = trace::TraceSpec {
        path: file?,
        time_column: time_column?,
        work_column: work_column?,
        priority_column: priority_column?,
        capability_column: capability_column?,
        speedup: speedup?,
        start: start?,
        end: end?,
        looped: a.looped.unwrap_or(false),
    };
    match trace::scan(&spec) {
        Ok(info) => Some(Arrivals::Trace(Box::new(Trace { spec, info }))),
        Err(e) if e.line == 0 => {
            c.fail(&path.key("file"), e.to_string());
            None
        }
        Err(e) => {
            c.problems.push(Problem {
                file: e.file.clone(),
                location: match &e.column {
                    Some((col, _)) => format!("{}:{col}", e.line),
                    None => e.line.to_string(),
                },
                path: String::new(),
                snippet: String::new(),
                message: match &e.column {
                    Some((_, name)) => format!("column `{name}`: {}", e.message),
                    None => e.message.clone(),
                },
            });
            None
        }
    }
}

/// Every capability a trace's rows ask for must be served by some agent.
fn check_trace_capabilities(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    arrivals: &Arrivals,
    tiers: &[Tier],
) {
    if let Arrivals::Trace(t) = arrivals {
        for cap in &t.info.capabilities {
            check_served(c, &path.key("capability_column"), cap, tiers);
        }
    }
}
