//! `[fleet]`: the tiers (names, counts, concurrency, service times,
//! availability), and the check that some agent serves a capability.

use std::collections::BTreeSet;

use super::{Checker, DEFAULT_MTTR, NAME_CHARS, valid_name};
use crate::fleet::Tier;
use crate::rng::Dist;
use crate::scenario::KeyPath;
use crate::scenario::raw::{RawFleet, RawRepair, RawTier};

/// The largest tier weight. The weighted balancers count weights in
/// exact integer thousandths; a fleet's total must not overflow them
/// (above this, `weighted_random`'s sums wrapped and routed wrongly).
const MAX_WEIGHT: f64 = 1_000_000.0;

/// `[[fleet.tiers]]`: each tier, unique names, at least one agent.
pub(super) fn check_fleet(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    fleet: Option<RawFleet>,
) -> Vec<Tier> {
    let tiers_path = path.key("tiers");
    let raw_tiers = fleet.and_then(|f| f.tiers).unwrap_or_default();
    if raw_tiers.is_empty() {
        c.fail(&tiers_path, "the fleet is empty; add at least one [[fleet.tiers]] table with a count and a service_time");
    }
    let mut tiers = Vec::new();
    let mut names = BTreeSet::new();
    for (i, t) in raw_tiers.iter().enumerate() {
        if let Some(tier) = check_tier(c, &tiers_path.index(i), i, t) {
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
    if tiers.len() == raw_tiers.len() {
        super::calls::check_graph(c, &tiers_path, &tiers);
    }
    tiers
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
    } else if weight > MAX_WEIGHT {
        c.fail(
            &path.key("weight"),
            format!(
                "is {weight:?}; a weight must be at most 1000000 (weights are relative: \
                 the weighted balancers count in thousandths of one, exactly)"
            ),
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
    let repair = check_repair(c, &path.key("mttr"), t.mttr.as_ref());
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
    let calls = super::calls::check_tier_calls(c, path, t);
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
        repair,
        calls,
        spares: 0,
    })
}

/// The `tags` of a stream, stage or step (the table at `path`), sorted and
/// distinct: each is a name, and some agent has capability `cap` (if any)
/// and every one of them.
pub(super) fn check_tags(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    cap: Option<&str>,
    tags: Option<&Vec<String>>,
    tiers: &[Tier],
) -> Vec<String> {
    let Some(raw) = tags else {
        return Vec::new();
    };
    let tp = path.key("tags");
    for (j, s) in raw.iter().enumerate() {
        if s.trim().is_empty() {
            c.fail(&tp.index(j), "is empty; a tag has at least one character");
            return Vec::new();
        }
    }
    let mut tags = raw.clone();
    tags.sort();
    tags.dedup();
    let key = crate::scenario::RouteKey {
        capability: cap.map(str::to_string),
        tags,
    };
    let with_cap: Vec<&Tier> = tiers
        .iter()
        .filter(|t| t.count > 0 && cap.is_none_or(|c| t.capabilities.iter().any(|x| x == c)))
        .collect();
    if tiers.is_empty()
        || with_cap.is_empty()
        || with_cap
            .iter()
            .any(|t| key.served_by(&t.capabilities, &t.tags))
    {
        // No capability served at all is reported on its own key.
        return key.tags;
    }
    let who = match cap {
        Some(cap) => format!("capability `{cap}` and"),
        None => "all of".to_string(),
    };
    let have = with_cap
        .iter()
        .map(|t| format!("{} [{}]", t.name, t.tags.join(", ")))
        .collect::<Vec<_>>()
        .join(", ");
    c.fail(
        &tp,
        format!(
            "no agent has {who} the tags [{}]; give a tier these tags, or ask for fewer (candidate tiers and their tags: {have})",
            key.tags.join(", ")
        ),
    );
    key.tags
}

/// Some agent of the fleet has capability `cap`.
pub(super) fn check_served(c: &mut Checker<'_, '_>, path: &KeyPath, cap: &str, tiers: &[Tier]) {
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

/// A tier's `mttr`: a mean repair time (exponential repairs), or a
/// distribution of repair times whose mean is greater than 0.
fn check_repair(c: &mut Checker<'_, '_>, path: &KeyPath, raw: Option<&RawRepair>) -> Dist {
    let default = Dist::Exponential { mean: DEFAULT_MTTR };
    match raw {
        None => default,
        Some(RawRepair::Mean(s)) => Dist::Exponential {
            mean: c.positive_duration(path, Some(s), DEFAULT_MTTR),
        },
        Some(RawRepair::Dist(d)) => match c.dist(path, d) {
            Some(d) if d.mean_nanos() >= 1.0 => d,
            Some(d) => {
                c.fail(
                    path,
                    format!(
                        "has a mean of {} ns; repairs must take time on average (a mean of at least 1ns)",
                        d.mean_nanos()
                    ),
                );
                default
            }
            None => default,
        },
    }
}
