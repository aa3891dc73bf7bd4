//! The horizontal autoscaler of one tier: how many agents it should run,
//! from a measured metric per agent and a target for it.
//!
//! Why: a fleet that follows its load pays for the agents it needs, and
//! the decision rule decides how fast it follows and whether it flaps.
//! The rule is the Kubernetes Horizontal Pod Autoscaler's
//! (kubernetes.io, "Horizontal Pod Autoscaling", algorithm details):
//! `desired = ceil(current × metric / target)`, no change while
//! `|metric / target − 1| ≤ tolerance` (0.1), clamped to `[min, max]`.
//! Scaling up is immediate; scaling down is stabilised: the count applied
//! is the highest recommendation of the last `cooldown` (the HPA's
//! scale-down stabilisation window), so a short dip does not shed agents.
//!
//! Sans-IO: the owner measures the metric and calls
//! [`Autoscaler::decide`] every interval with `now`.

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

/// The HPA's default tolerance.
pub const TOLERANCE: f64 = 0.1;

/// What is measured on each serving agent of the tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Busy slot-time over the last interval / (slots × interval).
    Utilization,
    /// Requests held (waiting in the agent's queue or in service) at the
    /// evaluation.
    Queue,
}

impl Metric {
    pub const NAMES: &'static str = "utilization, queue";

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Utilization => "utilization",
            Metric::Queue => "queue",
        }
    }
}

/// A validated `[[autoscale]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleConfig {
    /// Index into the scenario's tiers.
    pub tier: u32,
    pub metric: Metric,
    /// The metric per agent to hold (> 0).
    pub target: f64,
    /// Time between two decisions (> 0).
    pub interval: Duration,
    /// Bounds of the agent count (1 ≤ min ≤ count ≤ max).
    pub min: u32,
    pub max: u32,
    /// From the decision to add an agent until it registers.
    pub startup: Duration,
    /// The scale-down stabilisation window.
    pub cooldown: Duration,
}

/// The HPA rule without stabilisation: the count `current` agents whose
/// mean metric is `metric` should become, clamped to `[min, max]`.
pub fn hpa(current: u32, metric: f64, target: f64, min: u32, max: u32) -> u32 {
    let ratio = metric / target;
    let want = if !ratio.is_finite() || (ratio - 1.0).abs() <= TOLERANCE {
        current
    } else {
        let x = libm::ceil(f64::from(current) * ratio);
        if x >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            x.max(0.0) as u32
        }
    };
    want.clamp(min, max)
}

/// One tier's autoscaler: the rule and the recommendations of the last
/// `cooldown`.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    cfg: AutoscaleConfig,
    recent: VecDeque<(Instant, u32)>,
}

impl Autoscaler {
    pub fn new(cfg: AutoscaleConfig) -> Autoscaler {
        Autoscaler {
            cfg,
            recent: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &AutoscaleConfig {
        &self.cfg
    }

    /// The count to run from `now` on, given `current` agents (running or
    /// starting) whose mean metric is `metric`: the HPA rule at once when
    /// it asks for more, the highest recommendation of the last `cooldown`
    /// when it asks for fewer.
    pub fn decide(&mut self, now: Instant, current: u32, metric: f64) -> u32 {
        let c = &self.cfg;
        let want = hpa(current, metric, c.target, c.min, c.max);
        while let Some(&(t, _)) = self.recent.front() {
            if now.saturating_since(t) >= c.cooldown {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        self.recent.push_back((now, want));
        if want >= current {
            return want;
        }
        let stable = self.recent.iter().map(|&(_, n)| n).max().unwrap_or(want);
        stable.min(current).max(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(min: u32, max: u32, cooldown_s: u64) -> AutoscaleConfig {
        AutoscaleConfig {
            tier: 0,
            metric: Metric::Utilization,
            target: 0.5,
            interval: Duration::from_secs(10),
            min,
            max,
            startup: Duration::ZERO,
            cooldown: Duration::from_secs(cooldown_s),
        }
    }

    #[test]
    fn the_rule_is_ceil_of_current_times_ratio_with_a_tolerance() {
        // 10 agents at 0.9 for a target of 0.5: ceil(18) = 18.
        assert_eq!(hpa(10, 0.9, 0.5, 1, 100), 18);
        // 0.54 / 0.5 = 1.08: within 10 %, no change.
        assert_eq!(hpa(10, 0.54, 0.5, 1, 100), 10);
        assert_eq!(hpa(10, 0.46, 0.5, 1, 100), 10);
        // 0.56 / 0.5 = 1.12: ceil(11.2) = 12.
        assert_eq!(hpa(10, 0.56, 0.5, 1, 100), 12);
        // Down: 10 × 0.2 / 0.5 = 4.
        assert_eq!(hpa(10, 0.2, 0.5, 1, 100), 4);
        // Clamped.
        assert_eq!(hpa(10, 0.0, 0.5, 3, 100), 3);
        assert_eq!(hpa(10, 5.0, 0.5, 1, 40), 40);
        // Nothing measured: keep the count, within bounds.
        assert_eq!(hpa(0, f64::NAN, 0.5, 2, 9), 2);
    }

    #[test]
    fn scale_up_is_immediate_and_scale_down_waits_for_the_cooldown() {
        let mut a = Autoscaler::new(cfg(2, 50, 30));
        let t = |s: u64| Instant::ZERO + Duration::from_secs(s);
        assert_eq!(a.decide(t(10), 10, 1.0), 20);
        // The load drops: the rule says 4, but 20 was recommended within
        // the last 30 s.
        assert_eq!(a.decide(t(20), 20, 0.1), 20);
        assert_eq!(a.decide(t(30), 20, 0.1), 20);
        // At 40 s the recommendation of 10 s is 30 s old: out of the window.
        assert_eq!(a.decide(t(40), 20, 0.1), 4);
        assert_eq!(a.decide(t(50), 4, 0.5), 4);
    }

    #[test]
    fn never_leaves_min_max() {
        let mut a = Autoscaler::new(cfg(3, 12, 0));
        let mut n = 5;
        for (i, m) in [0.0, 9.0, 0.01, 3.0, 0.0, 0.7, 100.0].iter().enumerate() {
            n = a.decide(Instant::ZERO + Duration::from_secs(i as u64), n, *m);
            assert!((3..=12).contains(&n), "{n}");
        }
    }
}
