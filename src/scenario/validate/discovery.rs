//! `[balancer]` (strategy, panic threshold, changes), `[health]`,
//! `[breaker]` and `[registry]`: how the dispatcher finds and trusts agents.

use super::{Checker, DEFAULT_HEARTBEAT, DEFAULT_TTL};
use crate::discovery::balancer::{DegradedRouting, Strategy};
use crate::discovery::breaker::{BreakerConfig, Window};
use crate::discovery::health::HealthConfig;
use crate::scenario::raw::{RawBalancer, RawBreaker, RawHealth, RawRegistry};
use crate::scenario::{BalancerConfig, KeyPath, RegistryConfig, StrategyChange};
use crate::time::Duration;

pub(super) fn check_balancer(
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
    let degraded = match b.degraded.as_deref() {
        None => Some(DegradedRouting::default()),
        Some(s) => match s.parse::<DegradedRouting>() {
            Ok(d) => Some(d),
            Err(e) => {
                c.fail(&path.key("degraded"), format!("{e} (fallback: DEGRADED agents only when no HEALTHY one is eligible; equal: like HEALTHY ones)"));
                None
            }
        },
    };
    Some(BalancerConfig {
        strategy: first?,
        healthy_only: b.healthy_only.unwrap_or(true),
        panic_threshold,
        changes,
        degraded: degraded?,
    })
}

pub(super) fn check_health(c: &mut Checker<'_, '_>, path: &KeyPath, h: &RawHealth) -> HealthConfig {
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

pub(super) fn check_breaker(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    b: &RawBreaker,
) -> BreakerConfig {
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

pub(super) fn check_registry(
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
