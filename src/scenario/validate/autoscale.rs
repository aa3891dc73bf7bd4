//! `[[autoscale]]`: one table per autoscaled tier (the tier, the metric
//! and its target per agent, the decision interval, the bounds, the
//! start-up time of a new agent and the scale-down cooldown).

use super::Checker;
use crate::fleet::Tier;
use crate::orchestration::autoscale::{AutoscaleConfig, Metric};
use crate::scenario::KeyPath;
use crate::scenario::raw::RawAutoscale;
use crate::time::Duration;

/// The decision interval when none is given (the HPA's sync period).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

pub(super) fn check_autoscale(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    a: &RawAutoscale,
    tiers: &[Tier],
    taken: &mut Vec<u32>,
) -> Option<AutoscaleConfig> {
    let tier = match a.tier.as_deref() {
        None => {
            c.fail(&path.key("tier"), "missing; the name of the tier to scale");
            None
        }
        Some(name) => match tiers.iter().position(|t| t.name == name) {
            Some(i) if taken.contains(&(i as u32)) => {
                c.fail(
                    &path.key("tier"),
                    format!("tier `{name}` already has an [[autoscale]] table; one per tier"),
                );
                None
            }
            Some(i) => {
                taken.push(i as u32);
                Some(i as u32)
            }
            None => {
                c.fail(
                    &path.key("tier"),
                    format!(
                        "no tier named `{name}`; tiers: {}",
                        tiers
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
        },
    };
    let metric = match a.metric.as_deref() {
        None | Some("utilization") => Some(Metric::Utilization),
        Some("queue") => Some(Metric::Queue),
        Some(other) => {
            c.fail(
                &path.key("metric"),
                format!("unknown metric `{other}`; one of {}", Metric::NAMES),
            );
            None
        }
    };
    let target = match a.target {
        None => {
            c.fail(&path.key("target"), "missing; the metric per agent to hold, e.g. target = 0.6 (utilization) or 4.0 (queue)");
            None
        }
        Some(t) if !t.is_finite() || t <= 0.0 => {
            c.fail(
                &path.key("target"),
                format!("is {t}; must be a number greater than 0"),
            );
            None
        }
        Some(t) if metric == Some(Metric::Utilization) && t > 1.0 => {
            c.fail(
                &path.key("target"),
                format!("is {t}; a utilization target is at most 1"),
            );
            None
        }
        Some(t) => Some(t),
    };
    let interval = c.positive_duration(
        &path.key("interval"),
        a.interval.as_deref(),
        DEFAULT_INTERVAL,
    );
    let startup = c
        .duration(&path.key("startup"), a.startup.as_deref())
        .unwrap_or(Duration::ZERO);
    let cooldown = c
        .duration(&path.key("cooldown"), a.cooldown.as_deref())
        .unwrap_or(Duration::ZERO);
    let count = tier.map_or(1, |t| tiers[t as usize].count);
    let min = c.at_least_one(
        &path.key("min"),
        a.min,
        1,
        "an autoscaled tier keeps an agent",
    );
    let max = match a.max {
        None => {
            c.fail(
                &path.key("max"),
                "missing; the most agents the tier may run (they are allocated up front)",
            );
            None
        }
        Some(m) => Some(m),
    };
    if min > count {
        c.fail(
            &path.key("min"),
            format!(
                "is {min}, above the tier's count ({count}); the tier starts with count agents"
            ),
        );
    }
    if let Some(m) = max
        && m < count
    {
        c.fail(
            &path.key("max"),
            format!("is {m}, below the tier's count ({count})"),
        );
    }
    Some(AutoscaleConfig {
        tier: tier?,
        metric: metric?,
        target: target?,
        interval,
        min,
        max: max?,
        startup,
        cooldown,
    })
}
