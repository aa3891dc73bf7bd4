//! `[dispatch]` (workers, queue, aging), `[dispatcher]` (the routing
//! decision's time, concurrency and behaviour while down), `[retry]` (backoff, jitter,
//! budget) and `[[workload.jobs]]` (stages, their graph, sagas).

use super::fleet::{check_served, check_tags};
use super::workload::{check_arrivals, check_work};
use super::{Checker, NAME_CHARS, valid_name};
use crate::fleet::Tier;
use crate::orchestration::dag::{Graph, GraphError};
use crate::orchestration::retry::{Backoff, Jitter, RetryPolicy};
use crate::scenario::raw::{RawDispatch, RawDispatcher, RawJob, RawRetry};
use crate::scenario::{BudgetConfig, Dispatch, DispatcherConfig, Job, KeyPath, RetryConfig, Stage};
use crate::time::Duration;
use crate::workload::Arrivals;

/// `[dispatch]`: options that only matter with a central queue.
pub(super) fn check_dispatch(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    d: Option<RawDispatch>,
) -> Dispatch {
    let d = d.unwrap_or_default();
    let dispatch = Dispatch {
        workers: d.workers.unwrap_or(0),
        queue_capacity: d.queue_capacity.unwrap_or(0),
        aging: c.duration(&path.key("aging"), d.aging.as_deref()),
    };
    if dispatch.aging.is_some_and(Duration::is_zero) {
        c.fail(
            &path.key("aging"),
            "must be greater than 0 (leave it out for no aging)",
        );
    }
    if dispatch.workers == 0 && dispatch.aging.is_some() {
        c.fail(
            &path.key("aging"),
            "has no effect with workers = 0 (nothing waits in the central queue); set dispatch.workers, or remove aging",
        );
    }
    if dispatch.workers == 0 && dispatch.queue_capacity > 0 {
        c.fail(
            &path.key("queue_capacity"),
            "has no effect with workers = 0 (tasks are routed on arrival and wait at the agents); set dispatch.workers to bound the tasks in flight, or remove queue_capacity",
        );
    }
    dispatch
}

/// `[dispatcher]`: the routing decision's time (required), how many are
/// made at once (0 or absent: unlimited) and what new work does while a
/// `dispatcher_down` fault lasts.
pub(super) fn check_dispatcher(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    d: Option<&RawDispatcher>,
) -> Option<DispatcherConfig> {
    let d = d?;
    let service_time = match &d.service_time {
        None => {
            c.fail(
                &path.key("service_time"),
                "missing; the time of one routing decision, e.g. service_time = { dist = \"constant\", value = \"1ms\" }",
            );
            None
        }
        Some(raw) => c.dist(&path.key("service_time"), raw),
    };
    Some(DispatcherConfig {
        service_time: service_time?,
        concurrency: d.concurrency.unwrap_or(0),
        queue_while_down: d.queue_while_down.unwrap_or(false),
    })
}

pub(super) fn check_retry(c: &mut Checker<'_, '_>, path: &KeyPath, r: &RawRetry) -> RetryConfig {
    let d = RetryPolicy::default();
    let backoff = match r.strategy.as_deref() {
        None => d.backoff,
        Some(s) => s.parse::<Backoff>().unwrap_or_else(|e| {
            c.fail(&path.key("strategy"), e.to_string());
            d.backoff
        }),
    };
    let jitter = match r.jitter.as_deref() {
        None => d.jitter,
        Some(s) => s.parse::<Jitter>().unwrap_or_else(|e| {
            c.fail(&path.key("jitter"), e.to_string());
            d.jitter
        }),
    };
    let max_attempts = c.at_least_one(
        &path.key("max_attempts"),
        r.max_attempts,
        d.max_attempts,
        "attempts in all, the first included; 1 = no retries",
    );
    let base = c
        .duration(&path.key("base"), r.base.as_deref())
        .unwrap_or(d.base);
    let multiplier = match r.multiplier {
        None => d.multiplier,
        Some(m) if m.is_finite() && m >= 1.0 => m,
        Some(m) => {
            c.fail(
                &path.key("multiplier"),
                format!("is {m}; the growth per retry must be 1 or more"),
            );
            d.multiplier
        }
    };
    if r.multiplier.is_some() && backoff != Backoff::Exponential {
        c.fail(
            &path.key("multiplier"),
            format!(
                "applies only to strategy = \"exponential\", not \"{}\"",
                backoff.as_str()
            ),
        );
    }
    let max_delay = c
        .duration(&path.key("max_delay"), r.max_delay.as_deref())
        .unwrap_or(d.max_delay.max(base));
    if max_delay < base {
        c.fail(
            &path.key("max_delay"),
            format!("{max_delay} is shorter than base ({base})"),
        );
    }
    let db = BudgetConfig::default();
    let budget = match &r.budget {
        None => db,
        Some(b) => {
            let bp = path.key("budget");
            let ratio = match b.ratio {
                None => db.ratio,
                Some(x) if x.is_finite() && (0.0..=1e6).contains(&x) => x,
                Some(x) => {
                    c.fail(
                        &bp.key("ratio"),
                        format!(
                            "is {x}; retries allowed per first attempt must be from 0 to 1000000"
                        ),
                    );
                    db.ratio
                }
            };
            let window = c.positive_duration(&bp.key("window"), b.window.as_deref(), db.window);
            if window < Duration::from_millis(1) {
                c.fail(
                    &bp.key("window"),
                    format!("{window} is too short; the budget's window must be at least 1ms"),
                );
            }
            BudgetConfig {
                ratio,
                min_per_s: b.min_per_s.unwrap_or(db.min_per_s),
                window: window.max(Duration::from_millis(1)),
            }
        }
    };
    RetryConfig {
        policy: RetryPolicy {
            backoff,
            max_attempts,
            base,
            multiplier,
            max_delay,
            jitter,
        },
        budget,
    }
}

pub(super) fn check_job(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    i: usize,
    j: &RawJob,
    tiers: &[Tier],
    duration: Duration,
) -> Option<Job> {
    let name = j.name.clone().unwrap_or_else(|| format!("job{i}"));
    if !valid_name(&name) {
        c.fail(
            &path.key("name"),
            format!("`{name}` is not a usable job name: use {NAME_CHARS}"),
        );
    }
    let saga = j.saga.unwrap_or(false);
    let arrivals = match &j.arrivals {
        None => {
            c.fail(&path.key("arrivals"), "missing; one job per arrival, e.g. arrivals = { process = \"poisson\", rate = 2.0 }");
            None
        }
        Some(a) => match check_arrivals(c, &path.key("arrivals"), a, duration) {
            Some(Arrivals::Trace(_)) => {
                c.fail(
                    &path.key("arrivals").key("process"),
                    "a job's arrivals cannot be a trace (its columns describe single requests); replay the log as workload.arrivals or a [[workload.streams]] entry",
                );
                None
            }
            other => other,
        },
    };
    let raw_stages = j.stages.as_deref().unwrap_or_default();
    if raw_stages.is_empty() {
        c.fail(
            &path.key("stages"),
            "the job has no stages; add [[workload.jobs.stages]] tables with a name",
        );
        return None;
    }
    let mut stages = Vec::new();
    for (k, st) in raw_stages.iter().enumerate() {
        let sp = path.key("stages").index(k);
        let sname = match &st.name {
            Some(n) if !n.trim().is_empty() => n.clone(),
            _ => {
                c.fail(
                    &sp.key("name"),
                    "missing; every stage needs a name (`after` lists refer to it)",
                );
                format!("stage{k}")
            }
        };
        if let Some(cap) = &st.capability {
            check_served(c, &sp.key("capability"), cap, tiers);
        }
        let tags = check_tags(c, &sp, st.capability.as_deref(), st.tags.as_ref(), tiers);
        match (&st.compensate, saga) {
            (Some(_), false) => c.fail(
                &sp.key("compensate"),
                "applies only to saga jobs; set saga = true on the job, or remove it",
            ),
            (Some(cap), true) => check_served(c, &sp.key("compensate"), cap, tiers),
            _ => {}
        }
        let tasks = c.at_least_one(
            &sp.key("tasks"),
            st.tasks,
            1,
            "tasks run in parallel in this stage",
        );
        let work = st
            .work
            .as_ref()
            .and_then(|w| check_work(c, &sp.key("work"), w));
        stages.push(Stage {
            name: sname,
            capability: st.capability.clone(),
            tasks,
            compensate: st.compensate.clone(),
            tags,
            work,
        });
    }
    let afters: Vec<Vec<&str>> = raw_stages
        .iter()
        .map(|st| st.after.iter().flatten().map(String::as_str).collect())
        .collect();
    let spec: Vec<(&str, &[&str])> = stages
        .iter()
        .zip(&afters)
        .map(|(st, a)| (st.name.as_str(), a.as_slice()))
        .collect();
    let graph = match Graph::new(&spec) {
        Ok(g) => Some(g),
        Err(e) => {
            let at = match &e {
                GraphError::UnknownStage { stage, .. } => stages
                    .iter()
                    .position(|s| &s.name == stage)
                    .map_or(path.key("stages"), |k| {
                        path.key("stages").index(k).key("after")
                    }),
                GraphError::DuplicateStage(dup) => stages
                    .iter()
                    .rposition(|s| &s.name == dup)
                    .map_or(path.key("stages"), |k| {
                        path.key("stages").index(k).key("name")
                    }),
                GraphError::Cycle(_) => path.key("stages"),
            };
            c.fail(&at, e.to_string());
            None
        }
    };
    Some(Job {
        name,
        arrivals: arrivals?,
        saga,
        stages,
        graph: graph?,
    })
}
