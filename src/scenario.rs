//! Scenario files: the TOML format of docs/scenario.md, parsed into a serde mirror
//! (`raw`), then validated into a [`Scenario`] that cannot be invalid.
//!
//! Why two steps (ripgrep's low-level → high-level args): every check lives
//! in `validate`, which knows each key path, so a user always learns the
//! file, the line:column and the key that is wrong, and what is allowed.
//! Nothing downstream re-checks a scenario.

pub mod cost;
pub mod diagnostic;
pub mod raw;
pub mod schema;
pub mod source;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::discovery::balancer::Strategy;
use crate::discovery::breaker::BreakerConfig;
use crate::discovery::health::HealthConfig;
use crate::faults::{Fault, FaultKind, Target};
use crate::orchestration::dag::Graph;
use crate::orchestration::retry::RetryPolicy;
use crate::orchestration::task_queue::Priority;
use crate::rng::{Dist, Seed, Weighted};
use crate::time::Duration;
use crate::workload::{Arrivals, WorkDist};

pub use crate::fleet::Tier;
pub use source::{KeyPath, Override};

/// What a route is keyed by: the capability asked for (`None`: any agent)
/// and the tags an agent must all have (sorted, distinct; empty: none).
/// Each distinct key has its own pool and balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteKey {
    pub capability: Option<String>,
    pub tags: Vec<String>,
}

impl RouteKey {
    /// The key of an untagged capability.
    pub fn of(capability: &Option<String>) -> RouteKey {
        RouteKey {
            capability: capability.clone(),
            tags: Vec::new(),
        }
    }

    /// Does a tier with these capabilities and tags serve this route?
    pub fn served_by(&self, capabilities: &[String], tags: &[String]) -> bool {
        self.capability
            .as_ref()
            .is_none_or(|c| capabilities.contains(c))
            && self.tags.iter().all(|t| tags.contains(t))
    }

    /// How reports name it: the capability (`*`: any), then `[a+b]` for
    /// its tags.
    pub fn label(&self) -> String {
        let cap = self.capability.as_deref().unwrap_or("*");
        if self.tags.is_empty() {
            cap.to_string()
        } else {
            format!("{cap}[{}]", self.tags.join("+"))
        }
    }
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: Seed,
    /// Arrivals stop at this time.
    pub duration: Duration,
    /// Tasks arriving earlier are excluded from latency and wait statistics.
    pub warmup: Duration,
    /// `warmup = "auto"`: the harness detects the warm-up (MSER-5 on
    /// replication 0) and sets `warmup` before the runs; 0 until then.
    pub warmup_auto: bool,
    /// After `duration`, in-flight work may finish for at most this long.
    pub drain: Duration,
    pub tiers: Vec<Tier>,
    pub workload: Workload,
    pub dispatch: Dispatch,
    pub balancer: BalancerConfig,
    /// Health probes; `None` (no `[health]` table) = no monitor, every
    /// agent counts as healthy.
    pub health: Option<HealthConfig>,
    /// One breaker per agent; `None` = no breakers.
    pub breaker: Option<BreakerConfig>,
    pub request: RequestConfig,
    /// Retries of failed tasks; `None` = no retries.
    pub retry: Option<RetryConfig>,
    pub registry: RegistryConfig,
    pub faults: Vec<Fault>,
    pub network: Network,
    /// Messages the control plane publishes on the bus, and who listens.
    pub bus: BusConfig,
    pub report: ReportConfig,
    /// `[capabilities.NAME]`: per-capability policy for the calls to it.
    pub capabilities: BTreeMap<String, CapabilityConfig>,
    /// `[dispatcher]`: the routing decision as a server; `None` = free and
    /// unlimited (no events).
    pub dispatcher: Option<DispatcherConfig>,
    pub origin: Origin,
    /// `[[autoscale]]`: the autoscaled tiers (at most one table per tier).
    pub autoscale: Vec<crate::orchestration::autoscale::AutoscaleConfig>,
}

/// `[dispatcher]`: every attempt of a task (the first and each retry)
/// waits for one of `concurrency` routing slots, FIFO within priority,
/// and holds it for a `service_time` draw before it is routed.
#[derive(Clone, Debug, PartialEq)]
pub struct DispatcherConfig {
    pub service_time: Dist,
    /// Routing decisions at once; 0 = unlimited.
    pub concurrency: u32,
    /// During a `dispatcher_down` fault, new work waits in the
    /// dispatcher's queue instead of failing with `no_dispatcher`.
    pub queue_while_down: bool,
}

/// `[capabilities.NAME]`: what differs from the top-level sections for
/// calls to one capability (`None`: inherit).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CapabilityConfig {
    pub timeout: Option<Duration>,
    pub retry: Option<RetryConfig>,
    pub breaker: Option<BreakerConfig>,
    pub strategy: Option<Strategy>,
}

/// The policy in force for calls to one capability: its own table's keys,
/// the top-level sections for the rest, for calls from the dispatcher and
/// from agents alike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub timeout: Option<Duration>,
    pub retry: Option<RetryConfig>,
    /// The retry policy is the capability's own (so is its budget).
    pub own_retry: bool,
    pub breaker: Option<BreakerConfig>,
    /// The breaker settings are the capability's own: the dispatcher then
    /// keeps a breaker per agent of the capability for it, apart from its
    /// per-agent `[breaker]` ones.
    pub own_breaker: bool,
    /// The capability's own strategy; `None`: `[balancer] strategy`,
    /// following `[[balancer.changes]]`.
    pub strategy: Option<Strategy>,
}

/// `[bus]`: control-plane traffic (configuration, announcements) besides
/// the requests, probes and heartbeats every run sends.
#[derive(Clone, Debug, Default)]
pub struct BusConfig {
    pub topics: Vec<BusTopic>,
    pub subscriptions: Vec<BusSubscription>,
    /// `[bus.broker]`; `None`: the broker is free and infinite.
    pub broker: Option<crate::bus::BrokerConfig>,
}

/// `[[bus.topics]]`: a message published every `every` from `start`.
#[derive(Clone, Debug)]
pub struct BusTopic {
    pub name: String,
    pub every: Duration,
    pub start: Duration,
    /// Keep the last `retain` messages: an agent that (re)subscribes gets them.
    pub retain: usize,
    pub headers: crate::bus::Headers,
    pub to: Audience,
}

/// Who receives a topic's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The agents whose subscriptions match (pattern and filter).
    Subscribers,
    /// Every agent (broadcast).
    All,
    /// One agent (a direct message).
    Agent(u32),
}

/// `[[bus.subscriptions]]`: agents that listen to a pattern of topics.
#[derive(Clone, Debug)]
pub struct BusSubscription {
    pub pattern: String,
    pub filter: Option<crate::bus::Filter>,
    pub agents: Option<Target>,
}

/// Where a scenario came from, for messages and baselines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file path, or `builtin:NAME`.
    pub file: String,
    /// FNV-1a of the text and the overrides: changes when the scenario does.
    pub hash: u64,
}

#[derive(Clone, Debug)]
pub struct Workload {
    /// Plain tasks; `None` when the workload is only jobs.
    pub arrivals: Option<Arrivals>,
    /// Weights of CRITICAL, HIGH, NORMAL, LOW, in that order.
    pub priorities: [f64; 4],
    pub capability: Option<String>,
    /// A task not done this long after it arrived is cancelled.
    pub deadline: Option<Duration>,
    pub jobs: Vec<Job>,
    /// More sources of plain tasks, merged with `arrivals`.
    pub streams: Vec<TaskStream>,
    /// The work amount each plain task of `arrivals` draws (a trace row's
    /// own amount wins).
    pub work: Option<WorkDist>,
}

/// `[[workload.streams]]`: a source of plain tasks with its own arrival
/// process (and random stream `streams/NAME`) and capability.
#[derive(Clone, Debug)]
pub struct TaskStream {
    pub name: String,
    pub arrivals: Arrivals,
    /// `None`: the workload's capability.
    pub capability: Option<String>,
    /// Only agents with every one of these tags (sorted, distinct) serve it.
    pub tags: Vec<String>,
    /// The work amount each of its tasks draws.
    pub work: Option<WorkDist>,
}

/// `[[workload.jobs]]`: a dependency graph of stages, one job per arrival.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub arrivals: Arrivals,
    /// On failure, compensate the completed stages in reverse order.
    pub saga: bool,
    pub stages: Vec<Stage>,
    pub graph: Graph,
}

#[derive(Clone, Debug)]
pub struct Stage {
    pub name: String,
    /// Agents that run its tasks (`None`: any).
    pub capability: Option<String>,
    /// Fan-out: tasks run in parallel in this stage.
    pub tasks: u32,
    /// Saga only: the capability that runs this stage's compensation
    /// (`None`: nothing to undo).
    pub compensate: Option<String>,
    /// Only agents with every one of these tags (sorted, distinct) run its
    /// tasks (not its compensations).
    pub tags: Vec<String>,
    /// The work amount each of its tasks draws (its compensations carry
    /// none).
    pub work: Option<WorkDist>,
}

/// `[retry]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryConfig {
    pub policy: RetryPolicy,
    pub budget: BudgetConfig,
}

/// `[retry] budget = { ratio, min_per_s, window }` (defaults: tower's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetConfig {
    pub ratio: f64,
    pub min_per_s: u32,
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            ratio: 0.2,
            min_per_s: 10,
            window: Duration::from_secs(10),
        }
    }
}

impl Workload {
    /// Do all its sources (`arrivals`, the streams', the jobs') bring their
    /// arrivals at distinct instants ([`Arrivals::at_distinct_instants`])?
    /// Then a steady agent's probes may sleep (`world/discovery.rs`), and
    /// the cost estimate counts them so.
    pub fn arrivals_apart(&self) -> bool {
        (self.arrivals.iter())
            .chain(self.streams.iter().map(|s| &s.arrivals))
            .chain(self.jobs.iter().map(|j| &j.arrivals))
            .all(Arrivals::at_distinct_instants)
    }

    /// The priority sampler (weights validated to have a positive sum).
    pub fn priority_sampler(&self) -> Weighted {
        Weighted::new(&self.priorities).expect("validated: priority weights sum to more than 0")
    }

    /// The priority at quantile `q`.
    pub fn priority_at(sampler: &Weighted, q: f64) -> Priority {
        Priority::ALL[sampler.pick_at(q)]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// Tasks in flight at most; 0 = unlimited (route on arrival).
    pub workers: u32,
    /// Central queue bound; 0 = unbounded.
    pub queue_capacity: u32,
    /// Promote a queued task one priority level per `aging` waited.
    pub aging: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BalancerConfig {
    pub strategy: Strategy,
    /// Route only to agents that are registered, not UNHEALTHY and whose
    /// breaker admits calls.
    pub healthy_only: bool,
    /// Envoy's panic threshold: below this fraction of eligible agents,
    /// route to all of them. 0 = never: with none eligible a task fails fast.
    pub panic_threshold: f64,
    /// Strategy changes during the run, in time order.
    pub changes: Vec<StrategyChange>,
    /// How DEGRADED agents are routed to: only when no HEALTHY one is
    /// eligible (`fallback`), or like HEALTHY ones (`equal`).
    pub degraded: crate::discovery::balancer::DegradedRouting,
}

/// `[[balancer.changes]]`: from `at` on, route with `strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyChange {
    pub at: Duration,
    pub strategy: Strategy,
}

/// `[request]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestConfig {
    /// A request not answered within this fails (its late reply is ignored).
    pub timeout: Option<Duration>,
    /// Every request carries its task's deadline; callees drop requests
    /// that arrive past it, callers start no call past it.
    pub propagate_deadline: bool,
}

/// `[registry]`: TTL leases renewed by heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    pub ttl: Duration,
    pub heartbeat: Duration,
}

#[derive(Clone, Debug)]
pub struct Network {
    /// One-way latency of each message on the bus.
    pub latency: Dist,
    /// Probability that a message is lost (each message, independently).
    pub loss: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportConfig {
    /// Width of a `timeseries.csv` bucket.
    pub bucket: Duration,
}

impl Scenario {
    /// Total number of agents.
    pub fn agent_count(&self) -> u32 {
        self.tiers.iter().map(|t| t.count).sum()
    }

    /// The routes tasks and calls use: each (capability, tags) pair once,
    /// in a fixed order, the workload's first (`None`: any agent). Untagged
    /// pairs come in the order capabilities alone always had.
    pub fn capabilities_in_use(&self) -> Vec<RouteKey> {
        let mut keys = vec![RouteKey::of(&self.workload.capability)];
        let mut add = |key: RouteKey| {
            if !keys.contains(&key) {
                keys.push(key);
            }
        };
        let traced = |a: &Arrivals| match a {
            Arrivals::Trace(t) => t.info.capabilities.clone(),
            _ => Vec::new(),
        };
        let mut from_traces: Vec<String> = self.workload.arrivals.iter().flat_map(traced).collect();
        for st in &self.workload.streams {
            let cap = st.capability.clone().or(self.workload.capability.clone());
            add(RouteKey {
                capability: cap,
                tags: st.tags.clone(),
            });
            from_traces.extend(traced(&st.arrivals));
        }
        for cap in from_traces.into_iter().map(Some) {
            add(RouteKey::of(&cap));
        }
        for job in &self.workload.jobs {
            for st in &job.stages {
                add(RouteKey {
                    capability: st.capability.clone(),
                    tags: st.tags.clone(),
                });
                if let Some(comp) = &st.compensate {
                    add(RouteKey::of(&Some(comp.clone())));
                }
            }
        }
        for tier in &self.tiers {
            for step in &tier.calls.steps {
                for cap in &step.targets {
                    add(RouteKey {
                        capability: Some(cap.clone()),
                        tags: step.tags.clone(),
                    });
                }
            }
        }
        keys
    }

    pub fn policy(&self, cap: &Option<String>) -> Policy {
        let own = cap
            .as_ref()
            .and_then(|c| self.capabilities.get(c))
            .copied()
            .unwrap_or_default();
        Policy {
            timeout: own.timeout.or(self.request.timeout),
            retry: own.retry.or(self.retry),
            own_retry: own.retry.is_some(),
            own_breaker: own.breaker.is_some(),
            breaker: own.breaker.or(self.breaker),
            strategy: own.strategy,
        }
    }

    /// Does any tier call other capabilities?
    pub fn has_calls(&self) -> bool {
        self.tiers.iter().any(|t| !t.calls.is_empty())
    }

    /// The route (index into [`Scenario::capabilities_in_use`]) of tasks
    /// asking for `cap`.
    pub fn route_of(keys: &[RouteKey], cap: Option<&str>, tags: &[String]) -> u32 {
        keys.iter()
            .position(|k| k.capability.as_deref() == cap && k.tags == tags)
            .unwrap_or_else(|| panic!("no route for capability {cap:?} with tags {tags:?}"))
            as u32
    }

    /// Does the fleet change during the run (a `drain`, `join` or
    /// `rolling_restart` fault, or `[[autoscale]]`)?
    pub fn fleet_changes(&self) -> bool {
        !self.autoscale.is_empty()
            || self.faults.iter().any(|f| {
                matches!(
                    f.kind,
                    FaultKind::Drain | FaultKind::Join { .. } | FaultKind::RollingRestart { .. }
                )
            })
    }

    /// Do messages take no time (no latency, no broker: a broker takes
    /// time even on an instant network)? The world then delivers them
    /// inline.
    pub fn instant_network(&self) -> bool {
        self.network.latency.is_zero() && self.bus.broker.is_none()
    }

    /// No broker outage: it hits every agent's messages at once, which the
    /// world's shortcuts for heartbeats and for probes on an instant
    /// network cannot follow (see `world/discovery.rs`). Every other fault
    /// can be followed. For heartbeats: a crash silences its targets as a
    /// down period of their availability model does; a partition silences
    /// them too, and the heartbeats it loses are counted when it heals; a
    /// drain deregisters its agents, whose heartbeats stop, and a join, a
    /// restart or an autoscaler registers them, holding the lease they
    /// register with; a slowdown, a recovery and a dispatcher outage leave
    /// heartbeats alone. For probes: every fault, and an autoscaler,
    /// touches its agents in events of its own, which look at them, and
    /// those agents' probes stay events (`Scenario::tiers_drawn_from`).
    pub fn broker_never_down(&self) -> bool {
        self.faults
            .iter()
            .all(|f| !matches!(f.kind, FaultKind::BrokerDown))
    }

    /// The tiers whose agents a join or an autoscaler picks as it happens
    /// (so any of them may be touched), with repeats.
    pub fn tiers_drawn_from(&self) -> impl Iterator<Item = u32> + '_ {
        let joins = self
            .faults
            .iter()
            .filter_map(|f| match (f.kind, &f.target) {
                (FaultKind::Join { .. }, &Target::Fraction { tier, .. }) => tier,
                _ => None,
            });
        self.autoscale.iter().map(|s| s.tier).chain(joins)
    }

    /// On a network with latency (or a broker), whether a probe's answer
    /// can miss its timeout is known before the timeout is due: at the
    /// step that makes it late or loses it (the network, the broker, a
    /// busy, slowed, crashed or cut-off agent). A probe's timeout is then
    /// scheduled only once its answer may miss it, and an answer that
    /// changes no health status is no event (see `world/discovery.rs`),
    /// faults and a changing fleet included.
    pub fn lazy_probe_timeouts(&self) -> bool {
        !self.instant_network()
    }

    /// Can an agent stop answering (an availability model, a crash or a
    /// partition)? Only then do heartbeats and lease expiry matter.
    pub fn agents_can_go_silent(&self) -> bool {
        self.tiers.iter().any(|t| t.count > 0 && t.fails())
            || self.faults.iter().any(|f| f.kind.silences())
    }

    /// How late every heartbeat arrives, when that is certain: 0 on an
    /// instant network (no latency, no broker); a constant latency `d`
    /// with no broker, under the heartbeat period (at most one heartbeat
    /// of an agent in flight), with the period plus `d` under the `ttl`
    /// (an agent's first heartbeat, at most a period after it registered,
    /// arrives before the lease it registered with runs out). `None`
    /// otherwise. Where it is certain, heartbeats can be quiet (see
    /// `world/discovery.rs`).
    pub fn certain_heartbeat_latency(&self) -> Option<Duration> {
        let (period, ttl) = (self.registry.heartbeat, self.registry.ttl);
        match &self.network.latency {
            _ if self.bus.broker.is_some() => None,
            d if d.is_zero() => Some(Duration::ZERO),
            &Dist::Constant(d) if d < period && period + d < ttl => Some(d),
            _ => None,
        }
    }

    /// Are heartbeats' fates drawn per agent, and held between those that
    /// matter: behind a latency that is not certain (random, or constant
    /// but too long for [`Self::certain_heartbeat_latency`]), with no
    /// broker, no broker outage ([`Self::broker_never_down`]).
    pub fn heartbeats_drawn(&self) -> bool {
        self.bus.broker.is_none()
            && self.broker_never_down()
            && self.certain_heartbeat_latency().is_none()
    }
}

/// One thing wrong with a scenario, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// `line:column` in the file, or the `--set` argument that set the key.
    pub location: String,
    /// The key path, e.g. `fleet.tiers[0].count`; empty for syntax errors.
    pub path: String,
    pub message: String,
    /// The lines printed under the first one, as rustc does: the source
    /// line (or the `--set` argument) with a caret under the span, and a
    /// `= help:` line with a likely fix; empty when no text is at hand.
    pub snippet: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.starts_with("--set") {
            write!(f, "{} ({})", self.file, self.location)?;
        } else {
            write!(f, "{}:{}", self.file, self.location)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The message carries the I/O error itself (not as a `source`, so
    /// that an error chain does not print it twice).
    #[error("{file}: cannot read the scenario: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
    #[error(
        "`{0}` is neither a scenario file nor a built-in scenario; built-ins: {list}",
        list = builtin_names().join(", ")
    )]
    NotFound(String),
}

/// One problem after another, with a blank line after each excerpt.
fn problems_text(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if !problems[i - 1].snippet.is_empty() {
                out.push('\n');
            }
        }
        out.push_str(&p.to_string());
    }
    out
}

impl From<Problem> for ScenarioError {
    fn from(p: Problem) -> Self {
        ScenarioError::Invalid(vec![p])
    }
}

/// The reference scenarios, embedded so the binary runs without the repo.
pub const BUILTIN: &[(&str, &str)] = &[
    ("steady_load", include_str!("../scenarios/steady_load.toml")),
    (
        "burst_traffic",
        include_str!("../scenarios/burst_traffic.toml"),
    ),
    (
        "agent_failures",
        include_str!("../scenarios/agent_failures.toml"),
    ),
    (
        "fault_tolerant_service",
        include_str!("../scenarios/fault_tolerant_service.toml"),
    ),
    (
        "etl_pipeline",
        include_str!("../scenarios/etl_pipeline.toml"),
    ),
    ("monte_carlo", include_str!("../scenarios/monte_carlo.toml")),
    ("saga_orders", include_str!("../scenarios/saga_orders.toml")),
    ("partition", include_str!("../scenarios/partition.toml")),
    ("cascade", include_str!("../scenarios/cascade.toml")),
    (
        "rolling_deploy",
        include_str!("../scenarios/rolling_deploy.toml"),
    ),
    (
        "autoscale_burst",
        include_str!("../scenarios/autoscale_burst.toml"),
    ),
    ("mm1", include_str!("../scenarios/theory/mm1.toml")),
    ("mmc", include_str!("../scenarios/theory/mmc.toml")),
    (
        "broker_outage",
        include_str!("../scenarios/broker_outage.toml"),
    ),
];

/// The built-in scenario names, in order.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Load a scenario by path, or by built-in name when no such file exists.
pub fn load(spec: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let path = PathBuf::from(spec);
    // A file only: a directory that happens to share a built-in's name
    // (e.g. the reports of a run in the current directory) is not a
    // scenario.
    if path.is_file() || (path.exists() && builtin(spec).is_none()) {
        return load_file(&path, overrides);
    }
    match builtin(spec) {
        Some(text) => load_str(&format!("builtin:{spec}"), spec, text, overrides),
        None => Err(ScenarioError::NotFound(spec.to_string())),
    }
}

/// The largest scenario or baseline file read: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Read at most [`MAX_FILE_BYTES`] of a file: a larger one (or an endless
/// one, `/dev/zero`) is an `InvalidData` error after reading just past the
/// limit, so it fails fast instead of filling memory.
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is larger than 16 MiB, the most fleetsim reads",
        ));
    }
    Ok(bytes)
}

/// Load and validate a scenario file.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let bytes = read_bounded(path).map_err(|error| ScenarioError::Read {
        file: file.clone(),
        error,
    })?;
    let text =
        String::from_utf8(bytes).map_err(|e| not_utf8(&file, e.as_bytes(), e.utf8_error()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    load_str(&file, &stem, &text, overrides)
}

/// Load and validate scenario text; `file` names it in messages and
/// `default_name` is its name when the text sets none.
pub fn load_str(
    file: &str,
    default_name: &str,
    text: &str,
    overrides: &[Override],
) -> Result<Scenario, ScenarioError> {
    let src = source::Source::parse(file, text, overrides)?;
    let de = toml::de::Deserializer::from(src.table.clone());
    let raw: raw::RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if path == "." { String::new() } else { path };
        let span_text = inner
            .span()
            .and_then(|s| src.text().get(s.start..))
            .unwrap_or("");
        if let Some(problem) = table_as_array(&src, &path) {
            return ScenarioError::from(problem);
        }
        let message = friendly_serde_message(inner.message(), &path, span_text);
        let mut problem = match inner.span() {
            Some(span) => src.problem_at(span, &path, message),
            None => match KeyPath::parse(&path) {
                Some(p) => src.problem(&p, message),
                None => src.problem_at(0..0, &path, message),
            },
        };
        // An unknown key: point the path at the key itself.
        if let Some(key) = unknown_field(&problem.message)
            && !problem.path.ends_with(&key)
        {
            problem.path = if problem.path.is_empty() {
                key
            } else {
                format!("{}.{key}", problem.path)
            };
        }
        ScenarioError::from(problem)
    })?;
    let mut hash_input = text.to_string();
    for ov in overrides {
        hash_input.push_str(&format!("\n#{ov}"));
    }
    let origin = Origin {
        file: file.to_string(),
        hash: crate::rng::fnv1a64(hash_input.as_bytes()),
    };
    validate::validate(raw, &src, default_name, origin)
}

/// serde's messages, made to speak of TOML rather than Rust types, with a
/// fix for the common slips: a bare number for a duration, `[a.b]` for an
/// array of tables and `[[a]]` for a table. `path` is the key path and
/// `span_text` the file from the value on (empty for a `--set` value).
fn friendly_serde_message(msg: &str, path: &str, span_text: &str) -> String {
    let msg = msg.trim();
    let key = KeyPath::parse(path).and_then(|p| {
        p.0.iter().rev().find_map(|s| match s {
            source::Seg::Key(k) => Some(k.clone()),
            source::Seg::Index(_) => None,
        })
    });
    let is_duration = key
        .as_deref()
        .is_some_and(|k| schema::key_kinds().durations.contains(k));
    for kind in ["integer", "floating point"] {
        if let Some(n) = msg
            .strip_prefix(&format!("invalid type: {kind} `"))
            .and_then(|r| r.strip_suffix("`, expected a string"))
            && is_duration
        {
            return format!(
                "is the number {n}; a duration is a string with a unit, e.g. \"{n}s\" or \"{n}ms\""
            );
        }
    }
    if msg == "invalid type: map, expected a sequence" {
        if let Some(header) = span_text.strip_prefix('[')
            && !header.starts_with('[')
            && let Some(end) = header.find(']')
        {
            let name = header[..end].trim();
            return format!(
                "`[{name}]` is a single table, but `{path}` is an array of tables: \
                 write `[[{name}]]` (double brackets) above each entry"
            );
        }
        return format!(
            "is a table, but `{path}` is an array of tables: write `[[{path}]]` above each entry, \
             or an array `[{{ … }}, {{ … }}]`"
        );
    }
    if msg == "invalid type: sequence, expected a map"
        && let Some(header) = span_text.strip_prefix("[[")
        && let Some(end) = header.find("]]")
    {
        return one_table(header[..end].trim(), path);
    }
    let mut out = msg
        .replace("u32", "a whole number from 0 to 4294967295")
        .replace("u64", "a whole number from 0 to 18446744073709551615")
        .replace("f64", "a number")
        .replace("a sequence", "an array")
        .replace("a map", "a table");
    // `struct RawWorkload` → `a table`.
    while let Some(i) = out.find("struct Raw") {
        let end = out[i + 7..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(out.len(), |e| i + 7 + e);
        out.replace_range(i..end, "a table");
    }
    out.replace("struct ", "table ")
}

/// `[[workload]]` written for the table `[workload]`: serde reads a table
/// from an array (its fields in order), so the error it gives is about
/// `workload[0]`'s first field; name the header instead.
fn table_as_array(src: &source::Source<'_>, path: &str) -> Option<Problem> {
    let segs = KeyPath::parse(path)?.0;
    let at = segs
        .iter()
        .position(|s| matches!(s, source::Seg::Index(_)))?;
    let prefix = KeyPath(segs[..at].to_vec());
    let source::Seg::Key(last) = prefix.0.last()? else {
        return None;
    };
    if schema::key_kinds().arrays.contains(last.as_str()) {
        return None;
    }
    let span = src.span_of(&prefix);
    let header = src.text().get(span.start..)?.strip_prefix("[[")?;
    let name = header[..header.find("]]")?].trim();
    Some(src.problem_at(
        span,
        &prefix.to_string(),
        one_table(name, &prefix.to_string()),
    ))
}

fn one_table(name: &str, path: &str) -> String {
    format!("`[[{name}]]` makes an array of tables, but `{path}` is one table: write `[{name}]`")
}

/// A scenario file that is not UTF-8: where the first bad byte is.
fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> ScenarioError {
    let offset = e.valid_up_to();
    let bad = e.error_len().unwrap_or(bytes.len() - offset);
    let hex: Vec<String> = bytes[offset..offset + bad]
        .iter()
        .map(|b| format!("0x{b:02X}"))
        .collect();
    // Shown with the bad bytes as U+FFFD; the text before the first one,
    // and so its offsets, are unchanged.
    let shown = String::from_utf8_lossy(bytes);
    let (line, col) = source::line_col(&shown, offset);
    let snippet = diagnostic::file_excerpt(
        file,
        &shown,
        offset..offset + '\u{FFFD}'.len_utf8(),
        None,
        Some("save the file as UTF-8"),
    );
    ScenarioError::from(Problem {
        file: file.to_string(),
        location: format!("{line}:{col}"),
        path: String::new(),
        message: format!(
            "the file is not UTF-8: byte {} at offset {offset} is not valid UTF-8",
            hex.join(" ")
        ),
        snippet,
    })
}

/// The key of an "unknown field `x`" message.
fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}
