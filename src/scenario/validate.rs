//! Raw scenario → [`Scenario`]: every rule a scenario must satisfy, each
//! failure a [`Problem`] naming the key path and what is allowed. All
//! problems are collected, so one run of `fleetsim validate` lists them all.

use std::collections::BTreeSet;

use super::raw::{
    RawArrivals, RawBalancer, RawBreaker, RawBus, RawDist, RawFault, RawHealth, RawJob,
    RawRegistry, RawRetry, RawScenario, RawTarget, RawTier,
};
use super::source::{KeyPath, Source};
use super::{
    Audience, BalancerConfig, BudgetConfig, BusConfig, BusSubscription, BusTopic, Dispatch, Job,
    Network, Origin, Problem, RegistryConfig, ReportConfig, RequestConfig, RetryConfig, Scenario,
    ScenarioError, Stage, StrategyChange, Tier, Workload,
};
use crate::bus;
use crate::discovery::balancer::Strategy;
use crate::discovery::breaker::{BreakerConfig, Window};
use crate::discovery::health::HealthConfig;
use crate::faults::{Fault, FaultKind, Target, fraction_count};
use crate::fleet::ServiceTime;
use crate::orchestration::dag::{Graph, GraphError};
use crate::orchestration::retry::{Backoff, Jitter, RetryPolicy};
use crate::rng::{Dist, Seed};
use crate::time::{Duration, parse_duration};
use crate::workload::{Arrivals, Trace, trace};

/// Defaults for keys a scenario may leave out.
pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
pub const DEFAULT_MTTR: Duration = Duration::from_secs(5);
pub const DEFAULT_TTL: Duration = Duration::from_secs(3);
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);

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

    /// A required string key read by `parse`: a missing or unreadable
    /// value is a problem at `path`.
    fn parsed<T, E: std::fmt::Display>(
        &mut self,
        path: &KeyPath,
        raw: Option<&str>,
        missing: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let Some(raw) = raw else {
            self.fail(path, format!("missing; {missing}"));
            return None;
        };
        parse(raw).map_err(|e| self.fail(path, e.to_string())).ok()
    }

    fn positive_duration(
        &mut self,
        path: &KeyPath,
        raw: Option<&str>,
        default: Duration,
    ) -> Duration {
        match self.duration(path, raw) {
            Some(d) if d.is_zero() => {
                self.fail(path, "must be greater than 0");
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    /// A number in `lo..=hi` (or `(lo, hi]` when `open_low`).
    fn fraction(&mut self, path: &KeyPath, v: Option<f64>, default: f64, open_low: bool) -> f64 {
        let Some(v) = v else { return default };
        let ok = v.is_finite() && v <= 1.0 && if open_low { v > 0.0 } else { v >= 0.0 };
        if !ok {
            let range = if open_low {
                "greater than 0 and at most 1"
            } else {
                "from 0 to 1"
            };
            self.fail(path, format!("is {v}; must be a number {range}"));
            return default;
        }
        v
    }

    fn at_least_one(&mut self, path: &KeyPath, v: Option<u32>, default: u32, what: &str) -> u32 {
        match v {
            Some(0) => {
                self.fail(path, format!("must be at least 1 ({what})"));
                default
            }
            Some(v) => v,
            None => default,
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

    /// A tier's service time: a distribution, or `per_work`.
    fn service_time(&mut self, path: &KeyPath, raw: &RawDist) -> Option<ServiceTime> {
        if raw.dist.as_deref() != Some("per_work") {
            return self.dist(path, raw).map(ServiceTime::Dist);
        }
        let mut ok = true;
        const TAKES: [&str; 3] = ["base", "per_unit", "otherwise"];
        for (name, present) in raw.keys() {
            if present && !TAKES.contains(&name) {
                self.fail(
                    &path.key(name),
                    "does not apply to dist = \"per_work\", which takes: base, per_unit, otherwise",
                );
                ok = false;
            }
        }
        let what = "dist = \"per_work\" takes base and per_unit (service = base + work × per_unit), e.g. base = \"2ms\", per_unit = \"10ns\"";
        let base = self.required_duration(&path.key("base"), raw.base.as_deref(), what);
        let per_unit = self.required_duration(&path.key("per_unit"), raw.per_unit.as_deref(), what);
        let otherwise = match &raw.otherwise {
            None => base.map(Dist::Constant),
            Some(o) => {
                let p = path.key("otherwise");
                if o.dist.as_deref() == Some("per_work") {
                    self.fail(
                        &p.key("dist"),
                        "`otherwise` is for tasks without a work amount; give it an ordinary distribution",
                    );
                    None
                } else {
                    self.dist(&p, o)
                }
            }
        };
        let (base, per_unit, otherwise) = (base?, per_unit?, otherwise?);
        ok.then_some(ServiceTime::PerWork {
            base,
            per_unit_ns: per_unit.as_nanos() as f64,
            otherwise,
        })
    }

    fn dist(&mut self, path: &KeyPath, raw: &RawDist) -> Option<Dist> {
        const KINDS: &str = "constant, uniform, exponential, lognormal";
        let fields = raw.keys();
        let Some(kind) = raw.dist.as_deref() else {
            self.fail(&path.key("dist"), format!("missing; one of {KINDS}"));
            return None;
        };
        let takes: &[&str] = match kind {
            "per_work" => {
                self.fail(
                    &path.key("dist"),
                    format!(
                        "`per_work` applies only to a tier's service_time; here use one of {KINDS}"
                    ),
                );
                return None;
            }
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
    let deadline = c.duration(&wl_path.key("deadline"), raw_wl.deadline.as_deref());
    if deadline.is_some_and(Duration::is_zero) {
        c.fail(
            &wl_path.key("deadline"),
            "must be greater than 0 (leave it out for no deadline)",
        );
    }
    let jobs: Vec<Job> = raw_wl
        .jobs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, j)| {
            check_job(
                &mut c,
                &wl_path.key("jobs").index(i),
                i,
                j,
                &tiers,
                duration,
            )
        })
        .collect();
    let mut job_names = BTreeSet::new();
    for (i, j) in jobs.iter().enumerate() {
        if !job_names.insert(j.name.clone()) {
            c.fail(
                &wl_path.key("jobs").index(i).key("name"),
                format!(
                    "job name `{}` is used twice; job names must be unique",
                    j.name
                ),
            );
        }
    }
    let mut streams = Vec::new();
    let mut stream_names = BTreeSet::new();
    for (i, st) in raw_wl
        .streams
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let sp = wl_path.key("streams").index(i);
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
            check_served(&mut c, &sp.key("capability"), cap, &tiers);
        }
        let arrivals = match &st.arrivals {
            None => {
                c.fail(
                    &sp.key("arrivals"),
                    "missing; e.g. arrivals = { process = \"poisson\", rate = 5.0 }",
                );
                None
            }
            Some(a) => check_arrivals(&mut c, &sp.key("arrivals"), a, duration),
        };
        if let Some(arrivals) = &arrivals {
            check_trace_capabilities(&mut c, &sp.key("arrivals"), arrivals, &tiers);
        }
        if let Some(arrivals) = arrivals {
            streams.push(super::TaskStream {
                name,
                arrivals,
                capability: st.capability.clone(),
            });
        }
    }
    let other_sources = raw_wl.jobs.as_ref().is_some_and(|j| !j.is_empty())
        || raw_wl.streams.as_ref().is_some_and(|s| !s.is_empty());
    let arrivals = match &raw_wl.arrivals {
        None if other_sources => Some(None),
        None => {
            c.fail(
                &wl_path.key("arrivals"),
                "missing; e.g. arrivals = { process = \"poisson\", rate = 20.0 } (or give [[workload.streams]] or [[workload.jobs]])",
            );
            None
        }
        Some(a) => check_arrivals(&mut c, &wl_path.key("arrivals"), a, duration).map(Some),
    };
    if let Some(Some(a)) = &arrivals {
        check_trace_capabilities(&mut c, &wl_path.key("arrivals"), a, &tiers);
    }
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
        check_served(&mut c, &wl_path.key("capability"), cap, &tiers);
    }

    // Dispatch.
    let d = raw.dispatch.unwrap_or_default();
    let dispatch = Dispatch {
        workers: d.workers.unwrap_or(0),
        queue_capacity: d.queue_capacity.unwrap_or(0),
        aging: c.duration(&root.key("dispatch").key("aging"), d.aging.as_deref()),
    };
    if dispatch.aging.is_some_and(Duration::is_zero) {
        c.fail(
            &root.key("dispatch").key("aging"),
            "must be greater than 0 (leave it out for no aging)",
        );
    }
    if dispatch.workers == 0 && dispatch.aging.is_some() {
        c.fail(
            &root.key("dispatch").key("aging"),
            "has no effect with workers = 0 (nothing waits in the central queue); set dispatch.workers, or remove aging",
        );
    }
    if dispatch.workers == 0 && dispatch.queue_capacity > 0 {
        c.fail(
            &root.key("dispatch").key("queue_capacity"),
            "has no effect with workers = 0 (tasks are routed on arrival and wait at the agents); set dispatch.workers to bound the tasks in flight, or remove queue_capacity",
        );
    }

    // Discovery.
    let end = duration + drain;
    let balancer = check_balancer(&mut c, &root.key("balancer"), raw.balancer, end);
    let health = raw
        .health
        .as_ref()
        .map(|h| check_health(&mut c, &root.key("health"), h));
    let breaker = raw
        .breaker
        .as_ref()
        .map(|b| check_breaker(&mut c, &root.key("breaker"), b));
    let request = RequestConfig {
        timeout: raw.request.as_ref().and_then(|r| {
            let path = root.key("request").key("timeout");
            let t = c.duration(&path, r.timeout.as_deref());
            if t.is_some_and(Duration::is_zero) {
                c.fail(
                    &path,
                    "must be greater than 0 (leave [request] out for no timeout)",
                );
            }
            t
        }),
        propagate_deadline: false,
    };
    let retry = raw
        .retry
        .as_ref()
        .map(|r| check_retry(&mut c, &root.key("retry"), r));
    let registry = check_registry(&mut c, &root.key("registry"), raw.registry.as_ref());
    let faults: Vec<Fault> = raw
        .faults
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| check_fault(&mut c, &root.key("faults").index(i), f, &tiers, end))
        .collect();

    // Network.
    let n = raw.network.unwrap_or_default();
    let loss = match n.loss {
        None => 0.0,
        Some(p) if !(p.is_finite() && (0.0..1.0).contains(&p)) => {
            c.fail(
                &root.key("network").key("loss"),
                format!("is {p}; a loss probability must be at least 0 and below 1"),
            );
            0.0
        }
        Some(p) => p,
    };
    if loss > 0.0 && request.timeout.is_none() {
        c.fail(
            &root.key("network").key("loss"),
            "needs a [request] timeout: a lost request or reply is noticed only when its timeout expires",
        );
    }
    let latency = match &n.latency {
        None => Some(Dist::Constant(Duration::ZERO)),
        Some(l) => c.dist(&root.key("network").key("latency"), l),
    };

    let bus = check_bus(&mut c, &root.key("bus"), raw.bus.as_ref(), &tiers);

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
            deadline,
            jobs,
            streams,
        },
        dispatch,
        balancer: balancer.expect("no problems, so the strategy is valid"),
        health,
        breaker,
        request,
        retry,
        registry,
        faults,
        network: Network {
            latency: latency.expect("no problems, so the latency is valid"),
            loss,
        },
        bus,
        report: ReportConfig {
            bucket: bucket.expect("no problems, so the bucket is valid"),
        },
        capabilities: Default::default(),
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
    let uptime = c.fraction(&path.key("uptime"), t.uptime, 1.0, true);
    let mttr = c.positive_duration(&path.key("mttr"), t.mttr.as_deref(), DEFAULT_MTTR);
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
        Some(d) => c.service_time(&path.key("service_time"), d),
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
        uptime,
        mttr,
        calls: Default::default(),
    })
}

fn check_balancer(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    b: Option<RawBalancer>,
    end: Duration,
) -> Option<BalancerConfig> {
    let b = b.unwrap_or_default();
    let strategy = |c: &mut Checker<'_, '_>, p: &KeyPath, s: Option<&str>| match s {
        None => None,
        Some(s) => match s.parse::<Strategy>() {
            Ok(s) => Some(s),
            Err(e) => {
                c.fail(p, e);
                None
            }
        },
    };
    let first = match b.strategy.as_deref() {
        None => Some(Strategy::RoundRobin),
        s => strategy(c, &path.key("strategy"), s),
    };
    let panic_threshold = c.fraction(&path.key("panic_threshold"), b.panic_threshold, 0.0, false);
    let mut changes = Vec::new();
    let mut last = Duration::ZERO;
    for (i, ch) in b.changes.unwrap_or_default().iter().enumerate() {
        let p = path.key("changes").index(i);
        let at = c.required_duration(
            &p.key("at"),
            ch.at.as_deref(),
            "the time of the change, e.g. at = \"30s\"",
        );
        if ch.strategy.is_none() {
            c.fail(
                &p.key("strategy"),
                format!(
                    "missing; one of {}",
                    Strategy::ALL.map(Strategy::as_str).join(", ")
                ),
            );
        }
        let s = strategy(c, &p.key("strategy"), ch.strategy.as_deref());
        if let Some(at) = at {
            if at < last {
                c.fail(
                    &p.key("at"),
                    format!(
                        "{at} is before the previous change ({last}); list changes in time order"
                    ),
                );
            }
            if at >= end {
                c.fail(&p.key("at"), format!("{at} is not before the end of the run (duration + drain = {end}), so it would never happen"));
            }
            last = last.max(at);
        }
        if let (Some(at), Some(strategy)) = (at, s) {
            changes.push(StrategyChange { at, strategy });
        }
    }
    Some(BalancerConfig {
        strategy: first?,
        healthy_only: b.healthy_only.unwrap_or(true),
        panic_threshold,
        changes,
    })
}

fn check_health(c: &mut Checker<'_, '_>, path: &KeyPath, h: &RawHealth) -> HealthConfig {
    let d = HealthConfig::default();
    let interval = c.positive_duration(&path.key("interval"), h.interval.as_deref(), d.interval);
    let timeout = c.positive_duration(
        &path.key("timeout"),
        h.timeout.as_deref(),
        d.timeout.min(interval),
    );
    if timeout > interval {
        c.fail(
            &path.key("timeout"),
            format!("{timeout} is longer than the probe interval ({interval}); a probe must end before the next one starts"),
        );
    }
    let degraded_threshold = c
        .duration(
            &path.key("degraded_threshold"),
            h.degraded_threshold.as_deref(),
        )
        .unwrap_or(d.degraded_threshold);
    let ema_alpha = c.fraction(&path.key("ema_alpha"), h.ema_alpha, d.ema_alpha, true);
    let unhealthy_after = c.at_least_one(
        &path.key("unhealthy_after"),
        h.unhealthy_after,
        d.unhealthy_after,
        "consecutive failed probes before UNHEALTHY",
    );
    HealthConfig {
        interval,
        timeout,
        degraded_threshold,
        ema_alpha,
        unhealthy_after,
    }
}

fn check_breaker(c: &mut Checker<'_, '_>, path: &KeyPath, b: &RawBreaker) -> BreakerConfig {
    let d = BreakerConfig::default();
    let failure_threshold = c.at_least_one(
        &path.key("failure_threshold"),
        b.failure_threshold,
        d.failure_threshold,
        "consecutive failures that open the breaker",
    );
    let open_for = c.positive_duration(&path.key("open_for"), b.open_for.as_deref(), d.open_for);
    let backoff = match b.backoff {
        None => 1.0,
        Some(x) if x.is_finite() && x >= 1.0 => x,
        Some(x) => {
            c.fail(
                &path.key("backoff"),
                format!(
                    "is {x}; the growth of open_for per consecutive trip must be 1 (none) or more"
                ),
            );
            1.0
        }
    };
    let max_open_for = match c.duration(&path.key("max_open_for"), b.max_open_for.as_deref()) {
        Some(m) if m < open_for => {
            c.fail(
                &path.key("max_open_for"),
                format!("{m} is shorter than open_for ({open_for})"),
            );
            open_for
        }
        Some(m) => m,
        None if backoff > 1.0 => Duration(open_for.as_nanos().saturating_mul(10)),
        None => open_for,
    };
    let half_open_probes = c.at_least_one(
        &path.key("half_open_probes"),
        b.half_open_probes,
        d.half_open_probes,
        "calls let through while HALF_OPEN",
    );
    let window = b.window.as_ref().map(|w| {
        let wp = path.key("window");
        let size = c.at_least_one(&wp.key("size"), w.size, 1, "calls remembered");
        let min_calls = w.min_calls.unwrap_or(size);
        if min_calls > size {
            c.fail(&wp.key("min_calls"), format!("{min_calls} is more than the window size ({size}), so the rate would never be judged"));
        }
        if w.rate.is_none() {
            c.fail(&wp.key("rate"), "missing; the failure rate (0–1] that opens the breaker, e.g. 0.5");
        }
        let rate = c.fraction(&wp.key("rate"), w.rate, 1.0, true);
        Window { size, min_calls, rate }
    });
    BreakerConfig {
        failure_threshold,
        window,
        open_for,
        backoff,
        max_open_for,
        half_open_probes,
    }
}

/// Some agent of the fleet has capability `cap`.
fn check_served(c: &mut Checker<'_, '_>, path: &KeyPath, cap: &str, tiers: &[Tier]) {
    let served = tiers
        .iter()
        .any(|t| t.count > 0 && t.capabilities.iter().any(|x| x == cap));
    if served || tiers.is_empty() {
        return;
    }
    let all: BTreeSet<&str> = tiers
        .iter()
        .flat_map(|t| t.capabilities.iter().map(String::as_str))
        .collect();
    let list = if all.is_empty() {
        "no tier declares any capabilities".to_string()
    } else {
        format!(
            "capabilities in the fleet: {}",
            all.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    c.fail(path, format!("no agent has capability `{cap}`; {list}"));
}

fn check_retry(c: &mut Checker<'_, '_>, path: &KeyPath, r: &RawRetry) -> RetryConfig {
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

fn check_job(
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
        stages.push(Stage {
            name: sname,
            capability: st.capability.clone(),
            tasks,
            compensate: st.compensate.clone(),
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

fn check_registry(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    r: Option<&RawRegistry>,
) -> RegistryConfig {
    let (ttl, heartbeat) = match r {
        None => (DEFAULT_TTL, DEFAULT_HEARTBEAT),
        Some(r) => (
            c.positive_duration(&path.key("ttl"), r.ttl.as_deref(), DEFAULT_TTL),
            c.positive_duration(
                &path.key("heartbeat"),
                r.heartbeat.as_deref(),
                DEFAULT_HEARTBEAT,
            ),
        ),
    };
    if heartbeat >= ttl {
        c.fail(
            &path.key("heartbeat"),
            format!("{heartbeat} is not shorter than the lease ttl ({ttl}); live agents would expire between heartbeats"),
        );
    }
    RegistryConfig { ttl, heartbeat }
}

/// `[bus]`: topics the control plane publishes on, and subscriptions.
fn check_bus(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: Option<&RawBus>,
    tiers: &[Tier],
) -> BusConfig {
    let Some(raw) = raw else {
        return BusConfig::default();
    };
    let fleet: u32 = tiers.iter().map(|t| t.count).sum();
    let mut topics = Vec::new();
    for (i, t) in raw.topics.as_deref().unwrap_or_default().iter().enumerate() {
        let tp = path.key("topics").index(i);
        let name = c.parsed(
            &tp.key("name"),
            t.name.as_deref(),
            "a topic such as \"config.pricing\"",
            |n| bus::check_topic(n).map(|()| n.to_string()),
        );
        let every = c.required_duration(
            &tp.key("every"),
            t.every.as_deref(),
            "how often the control plane publishes on the topic, e.g. every = \"5s\"",
        );
        if every.is_some_and(Duration::is_zero) {
            c.fail(&tp.key("every"), "must be greater than 0");
        }
        let start = c
            .duration(&tp.key("start"), t.start.as_deref())
            .unwrap_or(Duration::ZERO);
        let to = match t.to.as_deref() {
            None | Some("subscribers") => Some(Audience::Subscribers),
            Some("all") => Some(Audience::All),
            Some(id) => match id
                .strip_prefix("agent-")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) if n < fleet => Some(Audience::Agent(n)),
                _ => {
                    c.fail(
                        &tp.key("to"),
                        format!(
                            "`{id}` is not an audience; use \"subscribers\" (the default), \"all\" (every agent) or an agent id from agent-0 to agent-{}",
                            fleet.saturating_sub(1)
                        ),
                    );
                    None
                }
            },
        };
        let retain = t.retain.unwrap_or(0) as usize;
        if retain > 0 && to.is_some_and(|a| a != Audience::Subscribers) {
            c.fail(
                &tp.key("retain"),
                "applies only to to = \"subscribers\": retained messages are replayed to agents that subscribe again",
            );
        }
        if retain > 10_000 {
            c.fail(
                &tp.key("retain"),
                format!("is {retain}; keep at most 10000 messages per topic"),
            );
        }
        let mut headers = bus::Headers::new();
        for (k, v) in t.headers.iter().flatten() {
            headers = headers.with(k, v);
        }
        if let (Some(name), Some(every), Some(to)) = (name, every, to) {
            topics.push(BusTopic {
                name,
                every,
                start,
                retain,
                headers,
                to,
            });
        }
    }
    let mut subscriptions = Vec::new();
    for (i, s) in raw
        .subscriptions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let sp = path.key("subscriptions").index(i);
        let pattern = c.parsed(
            &sp.key("pattern"),
            s.pattern.as_deref(),
            "topics to listen to, e.g. \"config.>\" or \"tasks.*\"",
            |p| bus::Pattern::parse(p).map(|_| p.to_string()),
        );
        let filter = match &s.filter {
            None => Some(None),
            Some(f) => c
                .parsed(&sp.key("filter"), Some(f), "", bus::Filter::parse)
                .map(Some),
        };
        let agents = match &s.agents {
            None => Some(None),
            Some(t) => check_target(c, &sp.key("agents"), t, tiers).map(Some),
        };
        if let (Some(pattern), Some(filter), Some(agents)) = (pattern, filter, agents) {
            subscriptions.push(BusSubscription {
                pattern,
                filter,
                agents,
            });
        }
    }
    BusConfig {
        topics,
        subscriptions,
    }
}

/// `target = { tier?, fraction? }` or `{ agents = [...] }`: which agents a
/// fault (or a bus subscription) applies to.
fn check_target(
    c: &mut Checker<'_, '_>,
    tp: &KeyPath,
    t: &RawTarget,
    tiers: &[Tier],
) -> Option<Target> {
    let fleet: u32 = tiers.iter().map(|t| t.count).sum();
    let target = if let Some(ids) = &t.agents {
        if t.tier.is_some() || t.fraction.is_some() {
            c.fail(tp, "give either agents, or tier and/or fraction, not both");
        }
        if ids.is_empty() {
            c.fail(
                &tp.key("agents"),
                "is empty; name at least one agent, e.g. \"agent-0\"",
            );
        }
        let mut out = Vec::new();
        for (j, id) in ids.iter().enumerate() {
            match id
                .strip_prefix("agent-")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) if n < fleet => out.push(n),
                _ => c.fail(
                    &tp.key("agents").index(j),
                    format!(
                        "`{id}` is not an agent of this fleet; ids run from agent-0 to agent-{}",
                        fleet.saturating_sub(1)
                    ),
                ),
            }
        }
        out.sort_unstable();
        out.dedup();
        Target::Agents(out)
    } else {
        let tier = match &t.tier {
            None => None,
            Some(name) => match tiers.iter().position(|x| &x.name == name) {
                Some(i) => Some(i as u32),
                None => {
                    c.fail(
                        &tp.key("tier"),
                        format!(
                            "no tier named `{name}`; tiers: {}",
                            tiers
                                .iter()
                                .map(|x| x.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
            },
        };
        let fraction = c.fraction(&tp.key("fraction"), t.fraction, 1.0, true);
        let n = tier.map_or(fleet, |i| tiers[i as usize].count);
        if fraction_count(fraction, n) == 0 {
            c.fail(
                &tp.key("fraction"),
                format!("{fraction} of {n} agents rounds to none; raise the fraction"),
            );
        }
        Target::Fraction { tier, fraction }
    };
    Some(target)
}

fn check_fault(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    f: &RawFault,
    tiers: &[Tier],
    end: Duration,
) -> Option<Fault> {
    let at = c.required_duration(
        &path.key("at"),
        f.at.as_deref(),
        "when the fault happens, e.g. at = \"10s\"",
    );
    if let Some(at) = at
        && at >= end
    {
        c.fail(&path.key("at"), format!("{at} is not before the end of the run (duration + drain = {end}), so it would never happen"));
    }
    let kind = match f.kind.as_deref() {
        None => {
            c.fail(
                &path.key("kind"),
                format!("missing; one of {}", FaultKind::NAMES),
            );
            None
        }
        Some("crash") => Some(FaultKind::Crash),
        Some("recover") => Some(FaultKind::Recover),
        Some("partition") => Some(FaultKind::Partition),
        Some("slow") => match f.factor {
            None => {
                c.fail(&path.key("factor"), "missing; kind = \"slow\" takes factor, how many times longer service takes (e.g. 5.0)");
                None
            }
            Some(x) if !x.is_finite() || x <= 0.0 => {
                c.fail(
                    &path.key("factor"),
                    format!("is {x}; must be a number greater than 0"),
                );
                None
            }
            Some(factor) => Some(FaultKind::Slow { factor }),
        },
        Some(other) => {
            c.fail(
                &path.key("kind"),
                format!("unknown fault kind `{other}`; one of {}", FaultKind::NAMES),
            );
            None
        }
    };
    if f.factor.is_some() && !matches!(f.kind.as_deref(), Some("slow") | None) {
        c.fail(&path.key("factor"), "applies only to kind = \"slow\"");
    }
    let lasts = c.duration(&path.key("for"), f.for_.as_deref());
    if lasts.is_some_and(Duration::is_zero) {
        c.fail(
            &path.key("for"),
            "must be greater than 0 (leave it out for a fault that lasts to the end)",
        );
    }
    if lasts.is_some() && kind == Some(FaultKind::Recover) {
        c.fail(
            &path.key("for"),
            "does not apply to kind = \"recover\", which is instantaneous",
        );
    }
    let tp = path.key("target");
    let Some(t) = &f.target else {
        c.fail(&tp, "missing; e.g. target = { tier = \"standard\", fraction = 0.1 } or target = { agents = [\"agent-3\"] }");
        return None;
    };
    let target = check_target(c, &tp, t, tiers)?;
    Some(Fault {
        at: at?,
        kind: kind?,
        target,
        lasts,
    })
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

fn check_arrivals(
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
