//! Raw scenario → [`Scenario`]: every rule a scenario must satisfy, each
//! failure a [`Problem`] naming the key path and what is allowed. All
//! problems are collected, so one run of `fleetsim validate` lists them all.
//!
//! This file holds the entry point, the top-level keys and the `Checker`
//! with the checks every area shares (durations, fractions, rates,
//! distributions, service times); the rules of each area live beside it in
//! `validate/`, named like the module that area configures.

mod autoscale;
mod bus;
mod calls;
mod discovery;
mod dist;
mod faults;
mod fleet;
pub mod limits;
mod orchestration;
mod workload;

use super::raw::{RawDist, RawScenario};
use super::source::{KeyPath, Source};
use super::{Origin, Problem, ReportConfig, Scenario, ScenarioError};
use crate::fleet::ServiceTime;
use crate::rng::{Dist, Seed};
use crate::time::{Duration, parse_duration};
use crate::workload::WorkDist;

/// Defaults for keys a scenario may leave out.
pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
pub const DEFAULT_MTTR: Duration = Duration::from_secs(5);
pub const DEFAULT_TTL: Duration = Duration::from_secs(3);
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);

const NAME_CHARS: &str = "letters, digits, `_`, `-` and `.`";

/// How a distribution table writes its amounts: durations as strings
/// (`"12ms"`), or work amounts as plain numbers of units. Either way the
/// checked [`Dist`] holds them as [`Duration`]s (a work amount scaled by
/// [`WorkDist::scaled`]), so every family serves both.
trait Amount: Sized {
    /// What the amounts are, for "missing" messages.
    const WHAT: &'static str;
    /// An inline empirical sample, for the message when it is missing.
    const EXAMPLE_VALUES: &'static str;
    /// A hyperexponential's means, for the message when they are missing.
    const EXAMPLE_MEANS: &'static str;
    /// What a sample file's cell must be, for the message on a bad one.
    const SAMPLE_RANGE: &'static str;
    /// Whether a finite, non-negative bare number is in range.
    fn in_range(x: f64) -> bool;
    /// Check one amount (a problem at `path` if it is unusable).
    fn read(c: &mut Checker<'_, '_>, path: &KeyPath, raw: &Self) -> Option<Duration>;
    /// A checked amount as a message shows it.
    fn show(d: Duration) -> String;
    /// A bare number of a sample file, in `unit`s.
    fn from_number(x: f64, unit: Duration) -> Duration;
    /// Whether a sample file's cell may be a duration string.
    const CELL_DURATIONS: bool;
}

impl Amount for String {
    const WHAT: &'static str = "durations such as \"12ms\"";
    const EXAMPLE_VALUES: &'static str = "values = [\"3ms\", \"5ms\", ...]";
    const EXAMPLE_MEANS: &'static str = "means = [\"5ms\", \"50ms\"]";
    const SAMPLE_RANGE: &'static str = "a sample is a duration of at least 0";
    fn in_range(_: f64) -> bool {
        true
    }
    const CELL_DURATIONS: bool = true;
    fn read(c: &mut Checker<'_, '_>, path: &KeyPath, raw: &String) -> Option<Duration> {
        c.duration(path, Some(raw))
    }
    fn show(d: Duration) -> String {
        d.to_string()
    }
    fn from_number(x: f64, unit: Duration) -> Duration {
        Duration(crate::time::saturating_nanos(x * unit.as_nanos() as f64))
    }
}

impl Amount for f64 {
    const WHAT: &'static str = "numbers of work units, not durations";
    const EXAMPLE_VALUES: &'static str = "values = [3000, 5000, ...]";
    const EXAMPLE_MEANS: &'static str = "means = [500, 5000]";
    const SAMPLE_RANGE: &'static str = "a work amount is a number from 0 to 1e12 units";
    fn in_range(x: f64) -> bool {
        x <= WorkDist::MAX
    }
    const CELL_DURATIONS: bool = false;
    fn read(c: &mut Checker<'_, '_>, path: &KeyPath, raw: &f64) -> Option<Duration> {
        let x = *raw;
        if !(x.is_finite() && x >= 0.0 && Self::in_range(x)) {
            c.fail(
                path,
                format!("is {x}; a work amount must be a number from 0 to 1e12 units"),
            );
            return None;
        }
        Some(WorkDist::scaled(x))
    }
    fn show(d: Duration) -> String {
        WorkDist::units(d).to_string()
    }
    fn from_number(x: f64, _unit: Duration) -> Duration {
        WorkDist::scaled(x)
    }
}

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

    /// A required amount of a distribution table (see [`Amount`]).
    fn required_amount<T: Amount>(
        &mut self,
        path: &KeyPath,
        raw: Option<&T>,
        what: &str,
    ) -> Option<Duration> {
        let Some(raw) = raw else {
            self.fail(path, format!("missing; {what} ({})", T::WHAT));
            return None;
        };
        T::read(self, path, raw)
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

    fn dist<T: Amount>(&mut self, path: &KeyPath, raw: &RawDist<T>) -> Option<Dist> {
        const KINDS: &str = "constant, uniform, exponential, lognormal, gamma, erlang, weibull, pareto, hyperexponential, empirical";
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
            "gamma" => &["shape", "mean"],
            "erlang" => &["k", "mean"],
            "weibull" => &["shape", "scale"],
            "pareto" => &["alpha", "min", "max"],
            "hyperexponential" => &["means", "probs"],
            "empirical" => &["values", "weights", "file", "column", "unit"],
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
        let get = |c: &mut Self, name: &str, v: &Option<T>| {
            c.required_amount(
                &path.key(name),
                v.as_ref(),
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
                        format!(
                            "min ({}) is greater than max ({})",
                            T::show(min),
                            T::show(max)
                        ),
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
                        format!(
                            "p99 ({}) must be greater than median ({})",
                            T::show(p99),
                            T::show(median)
                        ),
                    );
                    return None;
                }
                Dist::lognormal(median, p99)
            }
            "gamma" | "erlang" | "weibull" | "pareto" | "hyperexponential" | "empirical" => {
                dist::check(self, path, raw, kind, takes)?
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
    // `warmup = "auto"`: detected by the harness (stats::mser) before
    // the runs; the window starts at 0 until then.
    let warmup_auto = raw.warmup.as_deref().map(str::trim) == Some("auto");
    let warmup = match raw.warmup.as_deref().filter(|_| !warmup_auto) {
        None => Duration::ZERO,
        Some(w) => match parse_duration(w) {
            Ok(d) => d,
            Err(e) => {
                c.fail(
                    &root.key("warmup"),
                    format!("{e}; or \"auto\" to detect the warm-up from the run (MSER-5)"),
                );
                Duration::ZERO
            }
        },
    };
    if warmup >= duration && !duration.is_zero() {
        c.fail(
            &root.key("warmup"),
            format!("warm-up ({warmup}) must be shorter than duration ({duration})"),
        );
    }
    let drain = c
        .duration(&root.key("drain"), raw.drain.as_deref())
        .unwrap_or(DEFAULT_DRAIN);

    let mut tiers = fleet::check_fleet(&mut c, &root.key("fleet"), raw.fleet);
    let workload = workload::check_workload(
        &mut c,
        &root.key("workload"),
        raw.workload.unwrap_or_default(),
        &tiers,
        duration,
    );
    let dispatch = orchestration::check_dispatch(&mut c, &root.key("dispatch"), raw.dispatch);
    let dispatcher =
        orchestration::check_dispatcher(&mut c, &root.key("dispatcher"), raw.dispatcher.as_ref());
    let capabilities = calls::check_capabilities(
        &mut c,
        &root.key("capabilities"),
        raw.capabilities.as_ref(),
        &tiers,
    );

    let end = duration + drain;
    let balancer = discovery::check_balancer(&mut c, &root.key("balancer"), raw.balancer, end);
    let health = raw
        .health
        .as_ref()
        .map(|h| discovery::check_health(&mut c, &root.key("health"), h));
    let breaker = raw
        .breaker
        .as_ref()
        .map(|b| discovery::check_breaker(&mut c, &root.key("breaker"), b));
    let request = bus::check_request(&mut c, &root.key("request"), raw.request.as_ref());
    if request.propagate_deadline && workload.as_ref().is_some_and(|w| w.deadline.is_none()) {
        c.fail(
            &root.key("request").key("propagate_deadline"),
            "needs a deadline to propagate: set workload.deadline (e.g. deadline = \"2s\")",
        );
    }
    let retry = raw
        .retry
        .as_ref()
        .map(|r| orchestration::check_retry(&mut c, &root.key("retry"), r));
    let registry = discovery::check_registry(&mut c, &root.key("registry"), raw.registry.as_ref());
    let faults: Vec<_> = raw
        .faults
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            faults::check_fault(&mut c, &root.key("faults").index(i), f, &tiers, end)
        })
        .collect();
    let mut taken = Vec::new();
    let autoscale: Vec<_> = raw
        .autoscale
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            autoscale::check_autoscale(
                &mut c,
                &root.key("autoscale").index(i),
                a,
                &tiers,
                &mut taken,
            )
        })
        .collect();
    // Pre-allocate the agents that may join: each join's own, and an
    // autoscaled tier's room up to `max`.
    for f in &faults {
        if let (
            crate::faults::FaultKind::Join { count },
            crate::faults::Target::Fraction { tier: Some(t), .. },
        ) = (f.kind, &f.target)
        {
            let t = &mut tiers[*t as usize];
            t.spares = t.spares.saturating_add(count);
        }
    }
    for a in &autoscale {
        let t = &mut tiers[a.tier as usize];
        t.spares = t.spares.saturating_add(a.max.saturating_sub(t.count));
    }
    let network = bus::check_network(&mut c, &root.key("network"), raw.network, &request);
    let bus = bus::check_bus(&mut c, &root.key("bus"), raw.bus.as_ref(), &tiers);

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
        return Err(invalid(c.problems));
    }
    let sc = Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        seed,
        duration,
        warmup,
        warmup_auto,
        drain,
        tiers,
        workload: workload.expect("no problems, so the workload is valid"),
        dispatch,
        balancer: balancer.expect("no problems, so the strategy is valid"),
        health,
        breaker,
        request,
        retry,
        registry,
        faults,
        autoscale,
        network: network.expect("no problems, so the network is valid"),
        bus,
        report: ReportConfig {
            bucket: bucket.expect("no problems, so the bucket is valid"),
        },
        capabilities,
        dispatcher,
        origin,
    };
    // The bounds that keep it runnable, on the checked values.
    limits::check(&mut c, &sc);
    if !c.problems.is_empty() {
        return Err(invalid(c.problems));
    }
    Ok(sc)
}

/// The problems in file order, then the `--set` arguments.
fn invalid(mut problems: Vec<super::Problem>) -> ScenarioError {
    problems.sort_by_key(|p| {
        let mut lc = p
            .location
            .split(':')
            .map(|n| n.parse::<usize>().unwrap_or(usize::MAX));
        (
            lc.next().unwrap_or(usize::MAX),
            lc.next().unwrap_or(usize::MAX),
        )
    });
    ScenarioError::Invalid(problems)
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
