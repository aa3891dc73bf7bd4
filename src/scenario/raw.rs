//! The serde mirror of the scenario file: every table of docs/scenario.md as plain
//! data with `deny_unknown_fields`, nothing checked yet beyond types.
//! `validate` turns it into a [`crate::scenario::Scenario`].
//!
//! The same types derive `JsonSchema`, so the JSON Schema of the file
//! (`fleetsim schema`, docs/scenario.schema.json) follows the parser by
//! construction: doc comments become descriptions, `deny_unknown_fields`
//! becomes `additionalProperties: false`, and duration strings carry
//! [`DURATION`] as their `pattern`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The `pattern` of a duration string in the schema: a number and one of
/// the units `crate::time::parse_duration` reads (ns, us, µs, ms, s, m,
/// min, h), e.g. "250ms" or "1.5s". A little looser than the parser
/// (it allows "1.2.3s"), never stricter.
pub const DURATION: &str = r"^\s*\+?[0-9_.]+(ns|us|µs|ms|s|m|min|h)\s*$";

/// The `pattern` of `warmup`: a duration, or `auto` (MSER-5 warm-up
/// detection).
pub const WARMUP: &str = r"^\s*(auto|\+?[0-9_.]+(ns|us|µs|ms|s|m|min|h))\s*$";

/// A fleetsim scenario file: the fleet, the workload and the control plane around them.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "fleetsim scenario", rename = "Scenario")]
pub struct RawScenario {
    /// Name of the scenario and of its report directory (letters, digits, `_`, `-`, `.`); default: the file stem.
    pub name: Option<String>,
    /// Free text, shown in the HTML report.
    pub description: Option<String>,
    /// Root seed of every random stream (default 1); `--seed` overrides it.
    pub seed: Option<u64>,
    /// How long tasks arrive (default "60s").
    #[schemars(pattern(DURATION))]
    pub duration: Option<String>,
    /// Start of the measured window; tasks arriving earlier are left out of the summary (default "0s", shorter than duration), or "auto": detected by MSER-5 on replication 0's task latencies.
    #[schemars(pattern(WARMUP))]
    pub warmup: Option<String>,
    /// Time after `duration` for tasks in flight to finish (default "30s").
    #[schemars(pattern(DURATION))]
    pub drain: Option<String>,
    /// The agents, as tiers.
    pub fleet: Option<RawFleet>,
    /// What arrives: plain tasks, streams and jobs.
    pub workload: Option<RawWorkload>,
    /// The central queue and its workers.
    pub dispatch: Option<RawDispatch>,
    /// How the dispatcher picks an agent.
    pub balancer: Option<RawBalancer>,
    /// Latency and loss between dispatcher and agents.
    pub network: Option<RawNetwork>,
    /// Report options.
    pub report: Option<RawReport>,
    /// Active health checks of agents.
    pub health: Option<RawHealth>,
    /// Circuit breaker per agent.
    pub breaker: Option<RawBreaker>,
    /// Retries of failed tasks.
    pub retry: Option<RawRetry>,
    /// Per-request timeout and deadline propagation.
    pub request: Option<RawRequest>,
    /// Service registry leases and heartbeats.
    pub registry: Option<RawRegistry>,
    /// Scheduled faults, one table each.
    pub faults: Option<Vec<RawFault>>,
    /// Message bus topics, subscriptions and broker.
    pub bus: Option<RawBus>,
    /// Per-capability policy for calls (from the dispatcher or agents), keyed by capability name.
    pub capabilities: Option<std::collections::BTreeMap<String, RawCapability>>,
    /// The routing decision as a server with its own service time.
    pub dispatcher: Option<RawDispatcher>,
    /// Autoscaled tiers, one table each.
    pub autoscale: Option<Vec<RawAutoscale>>,
}

/// `[[autoscale]]`: one autoscaled tier.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Autoscale")]
pub struct RawAutoscale {
    /// Name of the tier to scale (each tier at most once).
    pub tier: Option<String>,
    /// What to hold at `target` per agent: "utilization" or "queue".
    pub metric: Option<String>,
    /// The metric value per agent to hold (utilization: 0 to 1).
    pub target: Option<f64>,
    /// Time between scaling decisions (default "15s").
    #[schemars(pattern(DURATION))]
    pub interval: Option<String>,
    /// Fewest agents (default 1).
    pub min: Option<u32>,
    /// Most agents (required; the spares are allocated up front).
    pub max: Option<u32>,
    /// Time from a scale-up until the new agent registers (default "0s").
    #[schemars(pattern(DURATION))]
    pub startup: Option<String>,
    /// A scale-down applies the highest count asked for within this time (default "0s").
    #[schemars(pattern(DURATION))]
    pub cooldown: Option<String>,
}

/// `[capabilities.NAME]`: the policy for calls to one capability.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Capability")]
pub struct RawCapability {
    /// Time a caller waits for one call attempt.
    #[schemars(pattern(DURATION))]
    pub timeout: Option<String>,
    /// Retries of failed calls (same keys as [retry]).
    pub retry: Option<RawRetry>,
    /// Circuit breaker per callee agent (same keys as [breaker]).
    pub breaker: Option<RawBreaker>,
    /// Strategy picking the callee agent.
    pub balancer: Option<String>,
}

/// One step of a tier's `calls`: call a capability, or several at once.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Step")]
pub struct RawStep {
    /// Call this capability.
    pub capability: Option<String>,
    /// Call these capabilities in parallel; every call must succeed.
    pub all: Option<Vec<String>>,
    /// Call these capabilities in parallel; `need` of them must succeed.
    pub any: Option<Vec<String>>,
    /// With `any`: how many calls must succeed (1 to the number listed, default 1).
    pub need: Option<u32>,
    /// Probability that the step runs; otherwise it is skipped (0 < p <= 1, default 1).
    pub probability: Option<f64>,
    /// A failed optional step lets the request go on (default false).
    pub optional: Option<bool>,
    /// Only agents with all of these tags may serve the call.
    pub tags: Option<Vec<String>>,
}

/// `[bus]`: messages the control plane publishes, and who listens.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bus")]
pub struct RawBus {
    /// Topics published on a schedule.
    pub topics: Option<Vec<RawTopic>>,
    /// Who receives which topics.
    pub subscriptions: Option<Vec<RawSubscription>>,
    /// The message broker as a server.
    pub broker: Option<RawBroker>,
}

/// `[bus.broker]`: the message broker as a server.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Broker")]
pub struct RawBroker {
    /// Time the broker takes per message.
    pub service_time: Option<RawDist>,
    /// Messages the broker handles at once (1 to 10000, default 1).
    pub concurrency: Option<u32>,
    /// Messages that may wait for a slot (default: no limit).
    pub capacity: Option<u64>,
    /// Retained messages survive a broker outage (default false).
    pub persistence: Option<bool>,
}

/// `[[bus.topics]]`: a topic published periodically.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Topic")]
pub struct RawTopic {
    /// A concrete topic: dot-separated tokens of letters, digits, `_` and `-`.
    pub name: Option<String>,
    /// Time between publications.
    #[schemars(pattern(DURATION))]
    pub every: Option<String>,
    /// Time of the first publication (default "0s").
    #[schemars(pattern(DURATION))]
    pub start: Option<String>,
    /// Keep the last N messages and send them to agents that subscribe again (default 0, at most 10000).
    pub retain: Option<u32>,
    /// Headers of every message, which subscription filters test.
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Audience: "subscribers" (default), "all" or one agent such as "agent-7".
    pub to: Option<String>,
}

/// `[[bus.subscriptions]]`: agents that receive a topic pattern.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Subscription")]
pub struct RawSubscription {
    /// Topics to receive, NATS style: `*` one token, `>` one or more trailing tokens.
    pub pattern: Option<String>,
    /// Header conditions that must all hold, e.g. "region=eu|us, !canary".
    pub filter: Option<String>,
    /// Which agents subscribe, as a fault's target (default: every agent).
    pub agents: Option<RawTarget>,
}

/// `[fleet]`: the agents.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fleet")]
pub struct RawFleet {
    /// Tiers of identical agents.
    pub tiers: Option<Vec<RawTier>>,
}

/// `[[fleet.tiers]]`: a group of identical agents.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tier")]
pub struct RawTier {
    /// Tier name (default "tierN").
    pub name: Option<String>,
    /// Agents in the tier (default 1).
    pub count: Option<u32>,
    /// Weight for weighted balancers (default 1, > 0).
    pub weight: Option<f64>,
    /// Tasks an agent serves at once (default 1).
    pub concurrency: Option<u32>,
    /// Time to serve one task: a distribution, or `per_work`.
    pub service_time: Option<RawDist>,
    /// Probability that a task fails (0 to 1, default 0).
    pub error_rate: Option<f64>,
    /// Capabilities the agents serve.
    pub capabilities: Option<Vec<String>>,
    /// Tags of the agents, which streams, stages and calls may require.
    pub tags: Option<Vec<String>>,
    /// Long-run fraction of time an agent is up (0 < uptime <= 1, default 1).
    pub uptime: Option<f64>,
    /// Repair times after a random failure: a mean (exponential repairs,
    /// default "5s") or a distribution table.
    pub mttr: Option<RawRepair>,
    /// Calls an agent makes to other capabilities while serving a task.
    pub calls: Option<Vec<RawStep>>,
    /// true: an event loop that holds a slot only while serving (default false: a thread per request).
    #[serde(rename = "async")]
    pub is_async: Option<bool>,
    /// Async tiers: service after the calls are back, queued for a slot.
    pub finish_time: Option<RawDist>,
}

/// A tier's `mttr`: the mean of exponential repair times (`"5s"`), or a
/// distribution of repair times (`{ dist = "lognormal", ... }`).
#[derive(Debug)]
pub enum RawRepair {
    Mean(String),
    Dist(Box<RawDist>),
}

impl JsonSchema for RawRepair {
    fn schema_name() -> Cow<'static, str> {
        "Repair".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let dist = generator.subschema_for::<RawDist>();
        json_schema!({
            "description": "A mean repair time (exponential repairs), or a distribution of repair times.",
            "anyOf": [
                { "type": "string", "pattern": DURATION },
                dist
            ]
        })
    }
}

impl<'de> Deserialize<'de> for RawRepair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Repair;
        impl<'de> Visitor<'de> for Repair {
            type Value = RawRepair;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a mean repair time such as \"5s\", or a distribution such as { dist = \"lognormal\", median = \"2s\", p99 = \"1m\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRepair, E> {
                Ok(RawRepair::Mean(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRepair, A::Error> {
                RawDist::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|d| RawRepair::Dist(Box::new(d)))
            }
        }
        d.deserialize_any(Repair)
    }
}

/// A distribution of durations, `{ dist = "...", ... }`; which keys apply depends on `dist`.
///
/// `T` is how the table writes an amount: a duration string (`"12ms"`), or
/// a plain number of units once a `work` table ([`RawWork`]) is checked as
/// one; the families and their keys are the same. Only the duration form
/// is in the schema.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dist")]
pub struct RawDist<T = String> {
    /// The family: constant, uniform, exponential, lognormal, gamma, erlang, weibull, pareto, hyperexponential, empirical; or per_work (a tier's service_time only).
    pub dist: Option<String>,
    /// constant: the value.
    #[schemars(pattern(DURATION))]
    pub value: Option<T>,
    /// uniform, pareto: the minimum.
    #[schemars(pattern(DURATION))]
    pub min: Option<T>,
    /// uniform: the maximum; pareto: optional upper bound.
    #[schemars(pattern(DURATION))]
    pub max: Option<T>,
    /// exponential, gamma, erlang: the mean.
    #[schemars(pattern(DURATION))]
    pub mean: Option<T>,
    /// lognormal: the median.
    #[schemars(pattern(DURATION))]
    pub median: Option<T>,
    /// lognormal: the 99th percentile.
    #[schemars(pattern(DURATION))]
    pub p99: Option<T>,
    /// empirical: CSV file of samples, relative to the scenario file.
    pub file: Option<String>,
    /// per_work: the fixed part of the service time.
    #[schemars(pattern(DURATION))]
    pub base: Option<T>,
    /// per_work: time per unit of work.
    #[schemars(pattern(DURATION))]
    pub per_unit: Option<T>,
    /// per_work: the distribution for tasks without a work amount (default: constant base).
    pub otherwise: Option<Box<RawDist<T>>>,
    /// gamma, weibull: the shape (> 0).
    pub shape: Option<f64>,
    /// erlang: the number of exponential phases (1 to 10000).
    pub k: Option<u32>,
    /// weibull: the scale.
    #[schemars(pattern(DURATION))]
    pub scale: Option<T>,
    /// pareto: the tail index (> 0; > 1 without max).
    pub alpha: Option<f64>,
    /// hyperexponential: the mean of each phase.
    #[schemars(inner(pattern(DURATION)))]
    pub means: Option<Vec<T>>,
    /// hyperexponential: the probability of each phase (summing to 1).
    pub probs: Option<Vec<f64>>,
    /// empirical: the inline sample.
    #[schemars(inner(pattern(DURATION)))]
    pub values: Option<Vec<T>>,
    /// empirical: a weight per inline value.
    pub weights: Option<Vec<f64>>,
    /// empirical: the header name of the file column.
    pub column: Option<String>,
    /// empirical: the unit of bare numbers in the file (ns, us, ms, s, m, h; default s).
    pub unit: Option<String>,
}

impl<T> RawDist<T> {
    /// Every key of the table and whether it is given, for "does not
    /// apply" checks.
    pub fn keys(&self) -> [(&'static str, bool); 20] {
        [
            ("value", self.value.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("mean", self.mean.is_some()),
            ("median", self.median.is_some()),
            ("p99", self.p99.is_some()),
            ("file", self.file.is_some()),
            ("base", self.base.is_some()),
            ("per_unit", self.per_unit.is_some()),
            ("otherwise", self.otherwise.is_some()),
            ("shape", self.shape.is_some()),
            ("k", self.k.is_some()),
            ("scale", self.scale.is_some()),
            ("alpha", self.alpha.is_some()),
            ("means", self.means.is_some()),
            ("probs", self.probs.is_some()),
            ("values", self.values.is_some()),
            ("weights", self.weights.is_some()),
            ("column", self.column.is_some()),
            ("unit", self.unit.is_some()),
        ]
    }
}

/// `[workload]`: what arrives.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Workload")]
pub struct RawWorkload {
    /// Arrival process of the plain tasks.
    pub arrivals: Option<RawArrivals>,
    /// Weights of the four priorities of plain tasks.
    pub priorities: Option<RawPriorities>,
    /// Capability the plain tasks need (default: any agent).
    pub capability: Option<String>,
    /// A task not done this long after arriving is cancelled (default: none).
    #[schemars(pattern(DURATION))]
    pub deadline: Option<String>,
    /// Jobs: graphs of stages.
    pub jobs: Option<Vec<RawJob>>,
    /// More streams of plain tasks.
    pub streams: Option<Vec<RawStream>>,
    /// Work amount of each plain task.
    pub work: Option<RawWork>,
}

/// A distribution of work amounts (plain numbers of units, not durations):
/// the families and keys of [`RawDist`] without `per_work` and a file's
/// `unit`. Checked as a `RawDist<f64>` ([`RawWork::to_dist`]).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Work")]
pub struct RawWork {
    /// The family: constant, uniform, exponential, lognormal, gamma, erlang, weibull, pareto, hyperexponential, empirical.
    pub dist: Option<String>,
    /// constant: the amount.
    pub value: Option<f64>,
    /// uniform, pareto: the minimum.
    pub min: Option<f64>,
    /// uniform: the maximum; pareto: optional upper bound.
    pub max: Option<f64>,
    /// exponential, gamma, erlang: the mean.
    pub mean: Option<f64>,
    /// lognormal: the median.
    pub median: Option<f64>,
    /// lognormal: the 99th percentile.
    pub p99: Option<f64>,
    /// gamma, weibull: the shape (> 0).
    pub shape: Option<f64>,
    /// erlang: the number of phases (≥ 1).
    pub k: Option<u32>,
    /// weibull: the scale.
    pub scale: Option<f64>,
    /// pareto: the tail index (> 0; > 1 without max).
    pub alpha: Option<f64>,
    /// hyperexponential: the mean of each phase.
    pub means: Option<Vec<f64>>,
    /// hyperexponential: the probability of each phase (summing to 1).
    pub probs: Option<Vec<f64>>,
    /// empirical: the inline sample.
    pub values: Option<Vec<f64>>,
    /// empirical: a weight per inline value.
    pub weights: Option<Vec<f64>>,
    /// empirical: CSV file of amounts (bare numbers), relative to the scenario file.
    pub file: Option<String>,
    /// empirical: the header name of the file column.
    pub column: Option<String>,
}

impl RawWork {
    /// The same table as a distribution of amounts.
    pub fn to_dist(&self) -> RawDist<f64> {
        RawDist {
            dist: self.dist.clone(),
            value: self.value,
            min: self.min,
            max: self.max,
            mean: self.mean,
            median: self.median,
            p99: self.p99,
            shape: self.shape,
            k: self.k,
            scale: self.scale,
            alpha: self.alpha,
            means: self.means.clone(),
            probs: self.probs.clone(),
            values: self.values.clone(),
            weights: self.weights.clone(),
            file: self.file.clone(),
            column: self.column.clone(),
            ..RawDist::default()
        }
    }
}

/// An arrival process, `{ process = "...", ... }`; which keys apply depends on `process`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Arrivals")]
pub struct RawArrivals {
    /// The process: poisson, constant, bursts, ramp, diurnal, trace.
    pub process: Option<String>,
    /// poisson, constant: tasks per second.
    pub rate: Option<f64>,
    /// bursts: how many bursts.
    pub count: Option<u32>,
    /// bursts: tasks per burst.
    pub size: Option<u32>,
    /// bursts: time between bursts.
    #[schemars(pattern(DURATION))]
    pub every: Option<String>,
    /// bursts: time of the first burst (default "0s"); trace: skip the rows
    /// before it, a duration from the first row ("90s") or a time written
    /// like the time column ("09:01:00").
    pub start: Option<String>,
    /// bursts: window over which a burst's tasks arrive.
    #[schemars(pattern(DURATION))]
    pub spread: Option<String>,
    /// ramp: rate at the start (tasks per second).
    pub from: Option<f64>,
    /// ramp: rate at the end of the run (tasks per second).
    pub to: Option<f64>,
    /// diurnal: the mean rate (tasks per second).
    pub mean: Option<f64>,
    /// diurnal: the swing around the mean (0 to mean).
    pub amplitude: Option<f64>,
    /// diurnal: the length of one cycle.
    #[schemars(pattern(DURATION))]
    pub period: Option<String>,
    /// diurnal: the shift of the cycle.
    #[schemars(pattern(DURATION))]
    pub phase: Option<String>,
    /// trace: CSV log to replay, relative to the scenario file.
    pub file: Option<String>,
    /// trace: column of arrival times.
    pub time_column: Option<String>,
    /// trace: column of work amounts.
    pub work_column: Option<String>,
    /// trace: column of priorities.
    pub priority_column: Option<String>,
    /// trace: column of capabilities.
    pub capability_column: Option<String>,
    /// trace: replay this many times faster.
    pub speedup: Option<f64>,
    /// trace: skip the rows from this point on, written as for `start`.
    pub end: Option<String>,
    /// trace: replay again from the start until the run ends.
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
}

/// Weights of the priorities of plain tasks (default: all normal).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Priorities")]
pub struct RawPriorities {
    /// Weight of critical tasks (>= 0).
    pub critical: Option<f64>,
    /// Weight of high-priority tasks (>= 0).
    pub high: Option<f64>,
    /// Weight of normal tasks (>= 0).
    pub normal: Option<f64>,
    /// Weight of low-priority tasks (>= 0).
    pub low: Option<f64>,
}

/// `[dispatch]`: the central queue.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dispatch")]
pub struct RawDispatch {
    /// Central workers: tasks in flight at once; 0 (default) routes every task on arrival.
    pub workers: Option<u32>,
    /// Tasks the central queue holds; more are rejected (0: unbounded; needs workers > 0).
    pub queue_capacity: Option<u32>,
    /// A queued task counts one priority more urgent per `aging` waited (default: off).
    #[schemars(pattern(DURATION))]
    pub aging: Option<String>,
}

/// `[balancer]`: how an agent is picked.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Balancer")]
pub struct RawBalancer {
    /// Balancer strategy (default round_robin); `fleetsim list` names them.
    pub strategy: Option<String>,
    /// Route only to agents believed healthy (default true).
    pub healthy_only: Option<bool>,
    /// Below this fraction of healthy agents, route to all (0 to 1, default 0).
    pub panic_threshold: Option<f64>,
    /// Strategy switches during the run.
    pub changes: Option<Vec<RawStrategyChange>>,
    /// How DEGRADED agents are used: fallback or equal.
    pub degraded: Option<String>,
}

/// `[[balancer.changes]]`: switch strategy at a time.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StrategyChange")]
pub struct RawStrategyChange {
    /// Time of the switch.
    #[schemars(pattern(DURATION))]
    pub at: Option<String>,
    /// The new strategy.
    pub strategy: Option<String>,
}

/// `[health]`: active health checks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Health")]
pub struct RawHealth {
    /// Time between probes of an agent (default "1s").
    #[schemars(pattern(DURATION))]
    pub interval: Option<String>,
    /// A probe slower than this fails (default "500ms", at most interval).
    #[schemars(pattern(DURATION))]
    pub timeout: Option<String>,
    /// A smoothed probe latency above this marks the agent DEGRADED (default "500ms").
    #[schemars(pattern(DURATION))]
    pub degraded_threshold: Option<String>,
    /// Weight of the newest probe in the smoothed latency (0 < a <= 1, default 0.3).
    pub ema_alpha: Option<f64>,
    /// Consecutive failed probes before UNHEALTHY (default 3).
    pub unhealthy_after: Option<u32>,
}

/// `[breaker]`: circuit breaker per agent.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Breaker")]
pub struct RawBreaker {
    /// Consecutive failures that open the breaker (default 5).
    pub failure_threshold: Option<u32>,
    /// A count-based failure-rate rule that also opens the breaker.
    pub window: Option<RawWindow>,
    /// How long the breaker stays open (default "30s").
    #[schemars(pattern(DURATION))]
    pub open_for: Option<String>,
    /// Growth of open_for per consecutive trip (>= 1, default 1).
    pub backoff: Option<f64>,
    /// Cap of open_for under backoff (default open_for, or 10 x open_for with backoff > 1).
    #[schemars(pattern(DURATION))]
    pub max_open_for: Option<String>,
    /// Calls let through while half-open (default 1).
    pub half_open_probes: Option<u32>,
}

/// `window = { size, min_calls, rate }`: the count-based failure-rate rule.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Window")]
pub struct RawWindow {
    /// Calls remembered (at least 1).
    pub size: Option<u32>,
    /// Calls needed before the rate is judged (at most size, default size).
    pub min_calls: Option<u32>,
    /// Failure rate that opens the breaker (required, 0 < rate <= 1).
    pub rate: Option<f64>,
}

/// `[retry]`: retries of failed tasks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Retry")]
pub struct RawRetry {
    /// Backoff: exponential (default), linear or constant.
    pub strategy: Option<String>,
    /// Attempts in all, the first included (default 3; 1: no retries).
    pub max_attempts: Option<u32>,
    /// Delay before the first retry (default "100ms").
    #[schemars(pattern(DURATION))]
    pub base: Option<String>,
    /// exponential only: growth of the delay per retry (>= 1, default 2).
    pub multiplier: Option<f64>,
    /// Cap of the delay (default "5s", or base if longer; not below base).
    #[schemars(pattern(DURATION))]
    pub max_delay: Option<String>,
    /// Jitter of the delay: none, full (default), equal or decorrelated.
    pub jitter: Option<String>,
    /// Retry budget (default ratio 0.2, 10 per second, 10 s window).
    pub budget: Option<RawBudget>,
}

/// `budget = { ratio, min_per_s, window }`: the retry budget.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Budget")]
pub struct RawBudget {
    /// Retries allowed per first attempt (0 to 1e6, default 0.2).
    pub ratio: Option<f64>,
    /// Retries per second allowed on top of the ratio (default 10).
    pub min_per_s: Option<u32>,
    /// Time over which attempts are counted (at least "1ms", default "10s").
    #[schemars(pattern(DURATION))]
    pub window: Option<String>,
}

/// `[[workload.streams]]`: another source of plain tasks, merged in.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Stream")]
pub struct RawStream {
    /// Stream name (default "streamN").
    pub name: Option<String>,
    /// Arrival process of this stream.
    pub arrivals: Option<RawArrivals>,
    /// Capability its tasks need (default: the workload's for a stream).
    pub capability: Option<String>,
    /// Only agents with all of these tags serve its tasks.
    pub tags: Option<Vec<String>>,
    /// Work amount of each task.
    pub work: Option<RawWork>,
}

/// `[[workload.jobs]]`: a dependency graph of stages.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Job")]
pub struct RawJob {
    /// Job name (unique, default "jobN").
    pub name: Option<String>,
    /// Arrival process: one job per arrival (not a trace).
    pub arrivals: Option<RawArrivals>,
    /// On a failed stage, undo the finished ones with their `compensate` (default false).
    pub saga: Option<bool>,
    /// The stages.
    pub stages: Option<Vec<RawStage>>,
}

/// `[[workload.jobs.stages]]`: one stage of a job.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Stage")]
pub struct RawStage {
    /// Stage name (required, unique in the job; `after` refers to it).
    pub name: Option<String>,
    /// Capability its tasks need (default: any agent).
    pub capability: Option<String>,
    /// Tasks run in parallel in the stage (default 1).
    pub tasks: Option<u32>,
    /// Stages that must finish first.
    pub after: Option<Vec<String>>,
    /// saga jobs only: the capability that undoes the stage.
    pub compensate: Option<String>,
    /// Only agents with all of these tags serve its tasks.
    pub tags: Option<Vec<String>>,
    /// Work amount of each task.
    pub work: Option<RawWork>,
}

/// `[dispatcher]`: the routing decision as a server.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dispatcher")]
pub struct RawDispatcher {
    /// Time of one routing decision.
    pub service_time: Option<RawDist>,
    /// Decisions made at once (0: unlimited).
    pub concurrency: Option<u32>,
    /// While the dispatcher is down, queue new tasks instead of failing them.
    pub queue_while_down: Option<bool>,
}

/// `[request]`: per-request timeout and deadline propagation.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Request")]
pub struct RawRequest {
    /// Time an attempt may take before it fails as a timeout (default: none).
    #[schemars(pattern(DURATION))]
    pub timeout: Option<String>,
    /// Requests carry the task's workload.deadline down the calls (default false).
    pub propagate_deadline: Option<bool>,
}

/// `[registry]`: leases of the service registry.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Registry")]
pub struct RawRegistry {
    /// Lease time of a registration (default "3s").
    #[schemars(pattern(DURATION))]
    pub ttl: Option<String>,
    /// Time between heartbeats (default "1s", shorter than ttl).
    #[schemars(pattern(DURATION))]
    pub heartbeat: Option<String>,
}

/// `[[faults]]`: one scheduled fault.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fault")]
pub struct RawFault {
    /// When the fault happens.
    #[schemars(pattern(DURATION))]
    pub at: Option<String>,
    /// crash, recover, partition, slow, dispatcher_down, broker_down, drain, join, rolling_restart.
    pub kind: Option<String>,
    /// slow: how many times longer service takes.
    pub factor: Option<f64>,
    /// Which agents the fault hits.
    pub target: Option<RawTarget>,
    /// How long the fault lasts.
    #[schemars(pattern(DURATION))]
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// join: how many agents join.
    pub count: Option<u32>,
    /// rolling_restart: agents per batch.
    pub batch: Option<u32>,
    /// rolling_restart: wait between batches.
    #[schemars(pattern(DURATION))]
    pub pause: Option<String>,
}

/// `{ tier?, fraction?, agents? }`: a set of agents.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub struct RawTarget {
    /// The agents of this tier.
    pub tier: Option<String>,
    /// This fraction of them (0 to 1).
    pub fraction: Option<f64>,
    /// These agents by name.
    pub agents: Option<Vec<String>>,
}

/// `[network]`: the network between dispatcher and agents.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Network")]
pub struct RawNetwork {
    /// Latency of each message, each way (default: zero).
    pub latency: Option<RawDist>,
    /// Probability that a message is lost (at least 0, below 1; needs a [request] timeout).
    pub loss: Option<f64>,
}

/// `[report]`: report options.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Report")]
pub struct RawReport {
    /// Width of a timeseries.csv bucket (default: 1 s, or wider for long runs).
    #[schemars(pattern(DURATION))]
    pub bucket: Option<String>,
}
