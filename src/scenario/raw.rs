//! The serde mirror of the scenario file: every table of docs/scenario.md as plain
//! data with `deny_unknown_fields`, nothing checked yet beyond types.
//! `validate` turns it into a [`crate::scenario::Scenario`].

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub duration: Option<String>,
    pub warmup: Option<String>,
    pub drain: Option<String>,
    pub fleet: Option<RawFleet>,
    pub workload: Option<RawWorkload>,
    pub dispatch: Option<RawDispatch>,
    pub balancer: Option<RawBalancer>,
    pub network: Option<RawNetwork>,
    pub report: Option<RawReport>,
    pub health: Option<RawHealth>,
    pub breaker: Option<RawBreaker>,
    pub retry: Option<RawRetry>,
    pub request: Option<RawRequest>,
    pub registry: Option<RawRegistry>,
    pub faults: Option<Vec<RawFault>>,
    pub bus: Option<RawBus>,
    pub capabilities: Option<std::collections::BTreeMap<String, RawCapability>>,
    pub dispatcher: Option<RawDispatcher>,
    pub autoscale: Option<Vec<RawAutoscale>>,
}

/// `[[autoscale]]`: one autoscaled tier.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscale {
    pub tier: Option<String>,
    pub metric: Option<String>,
    pub target: Option<f64>,
    pub interval: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub startup: Option<String>,
    pub cooldown: Option<String>,
}

/// `[capabilities.NAME]`: the policy for calls to one capability.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapability {
    pub timeout: Option<String>,
    pub retry: Option<RawRetry>,
    pub breaker: Option<RawBreaker>,
    pub balancer: Option<String>,
}

/// One step of a tier's `calls`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub capability: Option<String>,
    pub all: Option<Vec<String>>,
    pub any: Option<Vec<String>>,
    pub need: Option<u32>,
    pub probability: Option<f64>,
    pub optional: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// `[bus]`: messages the control plane publishes, and who listens.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBus {
    pub topics: Option<Vec<RawTopic>>,
    pub subscriptions: Option<Vec<RawSubscription>>,
    pub broker: Option<RawBroker>,
}

/// `[bus.broker]`: the message broker as a server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    pub service_time: Option<RawDist>,
    pub concurrency: Option<u32>,
    pub capacity: Option<u64>,
    pub persistence: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub name: Option<String>,
    pub every: Option<String>,
    pub start: Option<String>,
    pub retain: Option<u32>,
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    pub pattern: Option<String>,
    pub filter: Option<String>,
    pub agents: Option<RawTarget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    pub tiers: Option<Vec<RawTier>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub name: Option<String>,
    pub count: Option<u32>,
    pub weight: Option<f64>,
    pub concurrency: Option<u32>,
    pub service_time: Option<RawDist>,
    pub error_rate: Option<f64>,
    pub capabilities: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub uptime: Option<f64>,
    pub mttr: Option<RawRepair>,
    pub calls: Option<Vec<RawStep>>,
    #[serde(rename = "async")]
    pub is_async: Option<bool>,
    pub finish_time: Option<RawDist>,
}

/// A tier's `mttr`: the mean of exponential repair times (`"5s"`), or a
/// distribution of repair times (`{ dist = "lognormal", ... }`).
#[derive(Debug)]
pub enum RawRepair {
    Mean(String),
    Dist(Box<RawDist>),
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

/// `{ dist = "...", ... }`: which fields apply depends on `dist`, so they are
/// all optional here and `validate` says which one is missing or misplaced.
///
/// `T` is how the table writes an amount: a duration string (`"12ms"`) for
/// service times, latencies and repair times, or a plain number of units for
/// a task's work ([`RawWork`]); the families and their keys are the same.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDist<T = String> {
    pub dist: Option<String>,
    pub value: Option<T>,
    pub min: Option<T>,
    pub max: Option<T>,
    pub mean: Option<T>,
    pub median: Option<T>,
    pub p99: Option<T>,
    pub file: Option<String>,
    /// `per_work` (a tier's service time only).
    pub base: Option<T>,
    pub per_unit: Option<T>,
    pub otherwise: Option<Box<RawDist<T>>>,
    /// gamma, weibull, erlang, pareto, hyperexponential, empirical.
    pub shape: Option<f64>,
    pub k: Option<u32>,
    pub scale: Option<T>,
    pub alpha: Option<f64>,
    pub means: Option<Vec<T>>,
    pub probs: Option<Vec<f64>>,
    pub values: Option<Vec<T>>,
    pub weights: Option<Vec<f64>>,
    pub column: Option<String>,
    pub unit: Option<String>,
}

impl<T> Default for RawDist<T> {
    fn default() -> Self {
        RawDist {
            dist: None,
            value: None,
            min: None,
            max: None,
            mean: None,
            median: None,
            p99: None,
            file: None,
            base: None,
            per_unit: None,
            otherwise: None,
            shape: None,
            k: None,
            scale: None,
            alpha: None,
            means: None,
            probs: None,
            values: None,
            weights: None,
            column: None,
            unit: None,
        }
    }
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub arrivals: Option<RawArrivals>,
    pub priorities: Option<RawPriorities>,
    pub capability: Option<String>,
    pub deadline: Option<String>,
    pub jobs: Option<Vec<RawJob>>,
    pub streams: Option<Vec<RawStream>>,
    pub work: Option<RawWork>,
}

/// `work = { dist = "...", ... }`: a distribution of work amounts, its
/// values plain numbers of units (not durations).
pub type RawWork = RawDist<f64>;

/// `{ process = "...", ... }`, all fields optional as for [`RawDist`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrivals {
    pub process: Option<String>,
    pub rate: Option<f64>,
    pub count: Option<u32>,
    pub size: Option<u32>,
    pub every: Option<String>,
    pub start: Option<String>,
    pub spread: Option<String>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub mean: Option<f64>,
    pub amplitude: Option<f64>,
    pub period: Option<String>,
    pub phase: Option<String>,
    // Trace replay.
    pub file: Option<String>,
    pub time_column: Option<String>,
    pub work_column: Option<String>,
    pub priority_column: Option<String>,
    pub capability_column: Option<String>,
    pub speedup: Option<f64>,
    pub end: Option<String>,
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriorities {
    pub critical: Option<f64>,
    pub high: Option<f64>,
    pub normal: Option<f64>,
    pub low: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDispatch {
    pub workers: Option<u32>,
    pub queue_capacity: Option<u32>,
    pub aging: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalancer {
    pub strategy: Option<String>,
    pub healthy_only: Option<bool>,
    pub panic_threshold: Option<f64>,
    pub changes: Option<Vec<RawStrategyChange>>,
    pub degraded: Option<String>,
}

/// `[[balancer.changes]]`: switch strategy at a time.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategyChange {
    pub at: Option<String>,
    pub strategy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub degraded_threshold: Option<String>,
    pub ema_alpha: Option<f64>,
    pub unhealthy_after: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failure_threshold: Option<u32>,
    pub window: Option<RawWindow>,
    pub open_for: Option<String>,
    pub backoff: Option<f64>,
    pub max_open_for: Option<String>,
    pub half_open_probes: Option<u32>,
}

/// `window = { size, min_calls, rate }`: the count-based failure-rate rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub size: Option<u32>,
    pub min_calls: Option<u32>,
    pub rate: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub strategy: Option<String>,
    pub max_attempts: Option<u32>,
    pub base: Option<String>,
    pub multiplier: Option<f64>,
    pub max_delay: Option<String>,
    pub jitter: Option<String>,
    pub budget: Option<RawBudget>,
}

/// `budget = { ratio, min_per_s, window }`: the retry budget (an extension).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub ratio: Option<f64>,
    pub min_per_s: Option<u32>,
    pub window: Option<String>,
}

/// `[[workload.streams]]`: another source of plain tasks, merged in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub name: Option<String>,
    pub arrivals: Option<RawArrivals>,
    pub capability: Option<String>,
    pub tags: Option<Vec<String>>,
    pub work: Option<RawWork>,
}

/// `[[workload.jobs]]`: a dependency graph of stages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub name: Option<String>,
    pub arrivals: Option<RawArrivals>,
    pub saga: Option<bool>,
    pub stages: Option<Vec<RawStage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub name: Option<String>,
    pub capability: Option<String>,
    pub tasks: Option<u32>,
    pub after: Option<Vec<String>>,
    pub compensate: Option<String>,
    pub tags: Option<Vec<String>>,
    pub work: Option<RawWork>,
}

/// `[dispatcher]`: the routing decision as a server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDispatcher {
    pub service_time: Option<RawDist>,
    pub concurrency: Option<u32>,
    pub queue_while_down: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub timeout: Option<String>,
    pub propagate_deadline: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    pub ttl: Option<String>,
    pub heartbeat: Option<String>,
}

/// `[[faults]]`: one scheduled fault.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Option<String>,
    pub kind: Option<String>,
    pub factor: Option<f64>,
    pub target: Option<RawTarget>,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// `join`: how many agents join.
    pub count: Option<u32>,
    /// `rolling_restart`: agents per batch, and the wait between batches.
    pub batch: Option<u32>,
    pub pause: Option<String>,
}

/// `target = { tier?, fraction?, agents? }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub tier: Option<String>,
    pub fraction: Option<f64>,
    pub agents: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub latency: Option<RawDist>,
    pub loss: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// Width of a `timeseries.csv` bucket.
    pub bucket: Option<String>,
}
