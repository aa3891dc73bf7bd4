//! Raw scenario → [`Scenario`]: every rule a scenario must satisfy, each
//! failure a [`Problem`] naming the key path and what is allowed. All
//! problems are collected, so one run of `fleetsim validate` lists them all.

use std::collections::BTreeSet;

use super::raw::{RawArrivals, RawDist, RawScenario, RawTier, Unsupported};
use super::source::{KeyPath, Source};
use super::{
    BalancerConfig, Dispatch, Network, Origin, Problem, ReportConfig, Scenario, ScenarioError,
    Tier, Workload,
};
use crate::discovery::balancer::Strategy;
use crate::rng::{Dist, Seed};
use crate::time::{Duration, parse_duration};
use crate::workload::Arrivals;

/// Defaults for keys a scenario may leave out.
pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

const NAME_CHARS: &str = "letters, digits, `_`, `-` and `.`";

struct Checker<'s, 'a> {
    src: &'s Source<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_, '_> {
    fn fail(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.problems.push(self.src.problem(path, message));
    }

    fn duration(&mut self, path: &KeyPath, raw: Option<&str>) -> Option<Duration> {
        let raw = raw?;
        match parse_duration(raw) {
            Ok(d) => Some(d),
            Err(e) => {
                self.fail(path, e.to_string());
                None
            }
        }
    }

    fn required_duration(
        &mut self,
        path: &KeyPath,
        raw: Option<&str>,
        what: &str,
    ) -> Option<Duration> {
        if raw.is_none() {
            self.fail(path, format!("missing; {what}"));
        }
        self.duration(path, raw)
    }

    fn unsupported(&mut self, path: &KeyPath, field: &Unsupported, what: &str) {
        if field.is_some() {
            self.fail(
                path,
                format!("is part of the scenario format but not simulated by this version ({what}); remove it"),
            );
        }
    }

    fn positive_rate(&mut self, path: &KeyPath, v: Option<f64>) -> Option<f64> {
        match v {
            None => {
                self.fail(path, "missing; give a rate in tasks per second, e.g. 20.0");
                None
            }
            Some(r) if !r.is_finite() || r <= 0.0 => {
                self.fail(
                    path,
                    format!("is {r}; a rate must be a number greater than 0 (tasks per second)"),
                );
                None
            }
            Some(r) => Some(r),
        }
    }

    fn dist(&mut self, path: &KeyPath, raw: &RawDist) -> Option<Dist> {
        const KINDS: &str = "constant, uniform, exponential, lognormal";
        let fields: [(&str, bool); 7] = [
            ("value", raw.value.is_some()),
            ("min", raw.min.is_some()),
            ("max", raw.max.is_some()),
            ("mean", raw.mean.is_some()),
            ("median", raw.median.is_some()),
            ("p99", raw.p99.is_some()),
            ("file", raw.file.is_some()),
        ];
        let Some(kind) = raw.dist.as_deref() else {
            self.fail(&path.key("dist"), format!("missing; one of {KINDS}"));
            return None;
        };
        let takes: &[&str] = match kind {
            "constant" => &["value"],
            "uniform" => &["min", "max"],
            "exponential" => &["mean"],
            "lognormal" => &["median", "p99"],
            "empirical" => {
                self.fail(
                    &path.key("dist"),
                    "`empirical` is part of the scenario format but not simulated by this version; use one of constant, uniform, exponential, lognormal",
                );
                return None;
            }
            other => {
                self.fail(
                    &path.key("dist"),
                    format!("unknown distribution `{other}`; one of {KINDS}"),
                );
                return None;
            }
        };
        let mut ok = true;
        for (name, present) in fields {
            if present && !takes.contains(&name) {
                self.fail(
                    &path.key(name),
                    format!(
                        "does not apply to dist = \"{kind}\", which takes: {}",
                        takes.join(", ")
                    ),
                );
                ok = false;
            }
        }
        let get = |c: &mut Self, name: &str, v: &Option<String>| {
            c.required_duration(
                &path.key(name),
                v.as_deref(),
                &format!("dist = \"{kind}\" takes {}", takes.join(", ")),
            )
        };
        let dist = match kind {
            "constant" => Dist::Constant(get(self, "value", &raw.value)?),
            "uniform" => {
                let (min, max) = (get(self, "min", &raw.min), get(self, "max", &raw.max));
                let (min, max) = (min?, max?);
                if min > max {
                    self.fail(
                        &path.key("min"),
                        format!("min ({min}) is greater than max ({max})"),
                    );
                    return None;
                }
                Dist::Uniform { min, max }
            }
            "exponential" => {
                let mean = get(self, "mean", &raw.mean)?;
                if mean.is_zero() {
                    self.fail(&path.key("mean"), "must be greater than 0");
                    return None;
                }
                Dist::Exponential { mean }
            }
            "lognormal" => {
                let (median, p99) = (get(self, "median", &raw.median), get(self, "p99", &raw.p99));
                let (median, p99) = (median?, p99?);
                if median.is_zero() {
                    self.fail(&path.key("median"), "must be greater than 0");
                    return None;
                }
                if p99 <= median {
                    self.fail(
                        &path.key("p99"),
                        format!("p99 ({p99}) must be greater than median ({median})"),
                    );
                    return None;
                }
                Dist::lognormal(median, p99)
            }
            _ => unreachable!("kinds matched above"),
        };
        ok.then_some(dist)
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Check every rule; on success the scenario cannot be invalid.
pub fn validate(
    raw: RawScenario,
    src: &Source<'_>,
    default_name: &str,
    origin: Origin,
) -> Result<Scenario, ScenarioError> {
    let mut c = Checker {
        src,
        problems: Vec::new(),
    };
    let root = KeyPath::root();

    let name = raw.name.clone().unwrap_or_else(|| default_name.to_string());
    if !valid_name(&name) {
        c.fail(
            &root.key("name"),
            format!(
                "`{name}` is not a usable name: use {NAME_CHARS} (it names the report directory)"
            ),
        );
    }
    let duration = c
        .duration(&root.key("duration"), raw.duration.as_deref())
        .unwrap_or(DEFAULT_DURATION);
    if duration.is_zero() {
        c.fail(
            &root.key("duration"),
            "must be greater than 0 (arrivals stop at this time)",
        );
    }
    let warmup = c
        .duration(&root.key("warmup"), raw.warmup.as_deref())
        .unwrap_or(Duration::ZERO);
    if warmup >= duration && !duration.is_zero() {
        c.fail(
            &root.key("warmup"),
            format!("warm-up ({warmup}) must be shorter than duration ({duration})"),
        );
    }
    let drain = c
        .duration(&root.key("drain"), raw.drain.as_deref())
        .unwrap_or(DEFAULT_DRAIN);
    for (key, field, what) in [
        (
            "health",
            &raw.health,
            "health monitoring arrives with the discovery layer",
        ),
        (
            "breaker",
            &raw.breaker,
            "circuit breakers arrive with the discovery layer",
        ),
        (
            "retry",
            &raw.retry,
            "retries arrive with the orchestration layer",
        ),
        (
            "request",
            &raw.request,
            "request timeouts arrive with the discovery layer",
        ),
        (
            "faults",
            &raw.faults,
            "fault schedules arrive with the discovery layer",
        ),
    ] {
        c.unsupported(&root.key(key), field, what);
    }

    // Fleet.
    let tiers_path = root.key("fleet").key("tiers");
    let raw_tiers = raw.fleet.and_then(|f| f.tiers).unwrap_or_default();
    if raw_tiers.is_empty() {
        c.fail(&tiers_path, "the fleet is empty; add at least one [[fleet.tiers]] table with a count and a service_time");
    }
    let mut tiers = Vec::new();
    let mut names = BTreeSet::new();
    for (i, t) in raw_tiers.iter().enumerate() {
        if let Some(tier) = check_tier(&mut c, &tiers_path.index(i), i, t) {
            if !names.insert(tier.name.clone()) {
                c.fail(
                    &tiers_path.index(i).key("name"),
                    format!(
                        "tier name `{}` is used twice; tier names must be unique",
                        tier.name
                    ),
                );
            }
            tiers.push(tier);
        }
    }
    if !raw_tiers.is_empty() && raw_tiers.iter().all(|t| t.count == Some(0)) {
        c.fail(
            &tiers_path,
            "every tier has count = 0; the fleet needs at least one agent",
        );
    }

    // Workload.
    let wl_path = root.key("workload");
    let raw_wl = raw.workload.unwrap_or_default();
    c.unsupported(
        &wl_path.key("deadline"),
        &raw_wl.deadline,
        "deadlines arrive with the orchestration layer",
    );
    c.unsupported(
        &wl_path.key("jobs"),
        &raw_wl.jobs,
        "dependency-graph jobs arrive with the orchestration layer",
    );
    let arrivals = match &raw_wl.arrivals {
        None => {
            c.fail(
                &wl_path.key("arrivals"),
                "missing; e.g. arrivals = { process = \"poisson\", rate = 20.0 }",
            );
            None
        }
        Some(a) => check_arrivals(&mut c, &wl_path.key("arrivals"), a, duration),
    };
    let mut priorities = [0.0, 0.0, 1.0, 0.0];
    if let Some(p) = &raw_wl.priorities {
        let pp = wl_path.key("priorities");
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
    let capability = raw_wl.capability.clone();
    if let Some(cap) = &capability {
        let all: BTreeSet<&str> = tiers
            .iter()
            .flat_map(|t| t.capabilities.iter().map(String::as_str))
            .collect();
        let served = tiers
            .iter()
            .any(|t| t.count > 0 && t.capabilities.contains(cap));
        if !served && !tiers.is_empty() {
            let list = if all.is_empty() {
                "no tier declares any capabilities".to_string()
            } else {
                format!(
                    "capabilities in the fleet: {}",
                    all.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            c.fail(
                &wl_path.key("capability"),
                format!("no agent has capability `{cap}`; {list}"),
            );
        }
    }

    // Dispatch.
    let d = raw.dispatch.unwrap_or_default();
    let dispatch = Dispatch {
        workers: d.workers.unwrap_or(0),
        queue_capacity: d.queue_capacity.unwrap_or(0),
    };
    if dispatch.workers == 0 && dispatch.queue_capacity > 0 {
        c.fail(
            &root.key("dispatch").key("queue_capacity"),
            "has no effect with workers = 0 (tasks are routed on arrival and wait at the agents); set dispatch.workers to bound the tasks in flight, or remove queue_capacity",
        );
    }

    // Balancer.
    let b = raw.balancer.unwrap_or_default();
    let strategy = match b.strategy.as_deref() {
        None => Some(Strategy::RoundRobin),
        Some(s) => match s.parse::<Strategy>() {
            Ok(s) => Some(s),
            Err(e) => {
                c.fail(&root.key("balancer").key("strategy"), e);
                None
            }
        },
    };
    let balancer = strategy.map(|strategy| BalancerConfig {
        strategy,
        healthy_only: b.healthy_only.unwrap_or(true),
    });

    // Network.
    let n = raw.network.unwrap_or_default();
    c.unsupported(
        &root.key("network").key("loss"),
        &n.loss,
        "message loss arrives with the message bus",
    );
    let latency = match &n.latency {
        None => Some(Dist::Constant(Duration::ZERO)),
        Some(l) => c.dist(&root.key("network").key("latency"), l),
    };

    // Report.
    let r = raw.report.unwrap_or_default();
    let bucket = match c.duration(&root.key("report").key("bucket"), r.bucket.as_deref()) {
        Some(b) if b.is_zero() => {
            c.fail(&root.key("report").key("bucket"), "must be greater than 0");
            None
        }
        Some(b) => Some(b),
        None => Some(default_bucket(duration + drain)),
    };

    let seed = Seed(raw.seed.unwrap_or(DEFAULT_SEED));
    if !c.problems.is_empty() {
        // In file order, then the --set arguments.
        c.problems.sort_by_key(|p| {
            let mut lc = p
                .location
                .split(':')
                .map(|n| n.parse::<usize>().unwrap_or(usize::MAX));
            (
                lc.next().unwrap_or(usize::MAX),
                lc.next().unwrap_or(usize::MAX),
            )
        });
        return Err(ScenarioError::Invalid(c.problems));
    }
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        seed,
        duration,
        warmup,
        drain,
        tiers,
        workload: Workload {
            arrivals: arrivals.expect("no problems, so arrivals are valid"),
            priorities,
            capability,
        },
        dispatch,
        balancer: balancer.expect("no problems, so the strategy is valid"),
        network: Network {
            latency: latency.expect("no problems, so the latency is valid"),
        },
        report: ReportConfig {
            bucket: bucket.expect("no problems, so the bucket is valid"),
        },
        origin,
    })
}

/// One second, or a round width that keeps `timeseries.csv` near or under
/// 1,000 rows for long runs.
pub fn default_bucket(span: Duration) -> Duration {
    let target = span.as_nanos() / 1000;
    let mut bucket = Duration::from_secs(1).as_nanos();
    let steps = [1, 2, 5];
    let mut i = 0;
    let mut scale = bucket;
    while bucket < target {
        i += 1;
        if i % 3 == 0 {
            scale *= 10;
        }
        bucket = scale * steps[i % 3];
    }
    Duration(bucket)
}

fn check_tier(c: &mut Checker<'_, '_>, path: &KeyPath, i: usize, t: &RawTier) -> Option<Tier> {
    let name = t.name.clone().unwrap_or_else(|| format!("tier{i}"));
    if !valid_name(&name) {
        c.fail(
            &path.key("name"),
            format!("`{name}` is not a usable tier name: use {NAME_CHARS}"),
        );
    }
    let count = t.count.unwrap_or(1);
    let weight = t.weight.unwrap_or(1.0);
    if !weight.is_finite() || weight <= 0.0 {
        c.fail(
            &path.key("weight"),
            format!("is {weight}; a weight must be a number greater than 0"),
        );
    }
    let concurrency = t.concurrency.unwrap_or(1);
    if concurrency == 0 {
        c.fail(
            &path.key("concurrency"),
            "must be at least 1 (tasks an agent serves at once)",
        );
    }
    let error_rate = t.error_rate.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&error_rate) {
        c.fail(
            &path.key("error_rate"),
            format!("is {error_rate}; a probability must be from 0 to 1"),
        );
    }
    c.unsupported(
        &path.key("uptime"),
        &t.uptime,
        "agent failure models arrive with the discovery layer",
    );
    c.unsupported(
        &path.key("mttr"),
        &t.mttr,
        "agent failure models arrive with the discovery layer",
    );
    let capabilities = t.capabilities.clone().unwrap_or_default();
    let tags = t.tags.clone().unwrap_or_default();
    for (key, list) in [("capabilities", &capabilities), ("tags", &tags)] {
        for (j, s) in list.iter().enumerate() {
            if s.trim().is_empty() {
                c.fail(
                    &path.key(key).index(j),
                    "is empty; names must have at least one character",
                );
            }
        }
    }
    let service_time = match &t.service_time {
        None => {
            c.fail(
                &path.key("service_time"),
                "missing; e.g. service_time = { dist = \"uniform\", min = \"10ms\", max = \"30ms\" }",
            );
            None
        }
        Some(d) => c.dist(&path.key("service_time"), d),
    }?;
    Some(Tier {
        name,
        count,
        weight,
        concurrency,
        service_time,
        error_rate,
        capabilities,
        tags,
    })
}

fn check_arrivals(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    a: &RawArrivals,
    duration: Duration,
) -> Option<Arrivals> {
    const KINDS: &str = "poisson, constant, bursts";
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
        ("file", a.file.is_some()),
        ("time_column", a.time_column.is_some()),
        ("work_column", a.work_column.is_some()),
        ("speedup", a.speedup.is_some()),
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
        "ramp" | "diurnal" | "trace" => {
            c.fail(
                &path.key("process"),
                format!("`{kind}` is part of the scenario format but not simulated by this version; use one of {KINDS}"),
            );
            return None;
        }
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
        "poisson" => Arrivals::Poisson {
            rate: c.positive_rate(&path.key("rate"), a.rate)?,
        },
        "constant" => Arrivals::Constant {
            rate: c.positive_rate(&path.key("rate"), a.rate)?,
        },
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
