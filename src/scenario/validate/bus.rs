//! `[request]` (timeout), `[network]` (latency, loss) and `[bus]` (topics
//! the control plane publishes, subscriptions): what travels between the
//! dispatcher and the agents.

use super::Checker;
use super::faults::check_target;
use crate::bus;
use crate::fleet::Tier;
use crate::rng::Dist;
use crate::scenario::raw::{RawBroker, RawBus, RawNetwork, RawRequest};
use crate::scenario::{
    Audience, BusConfig, BusSubscription, BusTopic, KeyPath, Network, RequestConfig,
};
use crate::time::Duration;

/// `[request]`.
pub(super) fn check_request(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: Option<&RawRequest>,
) -> RequestConfig {
    RequestConfig {
        timeout: raw.and_then(|r| {
            let path = path.key("timeout");
            let t = c.duration(&path, r.timeout.as_deref());
            if t.is_some_and(Duration::is_zero) {
                c.fail(
                    &path,
                    "must be greater than 0 (leave [request] out for no timeout)",
                );
            }
            t
        }),
        propagate_deadline: raw.and_then(|r| r.propagate_deadline).unwrap_or(false),
    }
}

/// `[network]`; `None` when the latency is invalid (a problem has been
/// recorded). Loss needs a request timeout to be noticed.
pub(super) fn check_network(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    n: Option<RawNetwork>,
    request: &RequestConfig,
) -> Option<Network> {
    let n = n.unwrap_or_default();
    let loss = match n.loss {
        None => 0.0,
        Some(p) if !(p.is_finite() && (0.0..1.0).contains(&p)) => {
            c.fail(
                &path.key("loss"),
                format!("is {p}; a loss probability must be at least 0 and below 1"),
            );
            0.0
        }
        Some(p) => p,
    };
    if loss > 0.0 && request.timeout.is_none() {
        c.fail(
            &path.key("loss"),
            "needs a [request] timeout: a lost request or reply is noticed only when its timeout expires",
        );
    }
    let latency = match &n.latency {
        None => Some(Dist::Constant(Duration::ZERO)),
        Some(l) => c.dist(&path.key("latency"), l),
    };
    Some(Network {
        latency: latency?,
        loss,
    })
}

/// `[bus]`: topics the control plane publishes on, and subscriptions.
pub(super) fn check_bus(
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
    let broker = raw
        .broker
        .as_ref()
        .and_then(|b| check_broker(c, &path.key("broker"), b));
    BusConfig {
        topics,
        subscriptions,
        broker,
    }
}

/// `[bus.broker]`: service time (required), concurrency (≥ 1, default 1),
/// capacity (waiting places, default unlimited), persistence.
fn check_broker(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    b: &RawBroker,
) -> Option<bus::BrokerConfig> {
    let service_time = match &b.service_time {
        None => {
            c.fail(
                &path.key("service_time"),
                "missing; how long the broker takes per message, e.g. service_time = { dist = \"exponential\", mean = \"200us\" }",
            );
            None
        }
        Some(d) => c.dist(&path.key("service_time"), d),
    };
    let concurrency = b.concurrency.unwrap_or(1);
    if concurrency == 0 || concurrency > 10_000 {
        c.fail(
            &path.key("concurrency"),
            format!("is {concurrency}; the broker handles from 1 to 10000 messages at once"),
        );
    }
    let capacity = match b.capacity {
        None => usize::MAX,
        Some(n) if n > 100_000_000 => {
            c.fail(
                &path.key("capacity"),
                format!("is {n}; at most 100000000 waiting messages (leave it out for no limit)"),
            );
            usize::MAX
        }
        Some(n) => n as usize,
    };
    Some(bus::BrokerConfig {
        service_time: service_time?,
        concurrency: concurrency.max(1),
        capacity,
        persistence: b.persistence.unwrap_or(false),
    })
}
