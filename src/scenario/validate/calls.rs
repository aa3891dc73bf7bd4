//! The call graph: each tier's `calls`, `async` and `finish_time`, the
//! check that every called capability is served, that the graph has no
//! cycle and is not too deep; and the `[capabilities.NAME]` policy tables.

use std::collections::BTreeMap;

use super::Checker;
use super::discovery::check_breaker;
use super::fleet::{check_served, check_tags};
use super::orchestration::check_retry;
use crate::discovery::balancer::Strategy;
use crate::fleet::Tier;
use crate::fleet::calls::{Calls, Mode, Step};
use crate::scenario::raw::{RawCapability, RawStep, RawTier};
use crate::scenario::{CapabilityConfig, KeyPath};

/// The longest chain of calls (tiers on a path, the first included).
pub const MAX_DEPTH: usize = 16;

/// A tier's `calls`, `async` and `finish_time`.
pub(super) fn check_tier_calls(c: &mut Checker<'_, '_>, path: &KeyPath, t: &RawTier) -> Calls {
    let mut steps = Vec::new();
    for (i, raw) in t.calls.iter().flatten().enumerate() {
        if let Some(step) = check_step(c, &path.key("calls").index(i), raw) {
            steps.push(step);
        }
    }
    let is_async = t.is_async.unwrap_or(false);
    let finish = match &t.finish_time {
        None => None,
        Some(_) if !is_async => {
            c.fail(
                &path.key("finish_time"),
                "applies only to an async tier (async = true); a blocking tier answers when its calls are back",
            );
            None
        }
        Some(d) => c.dist(&path.key("finish_time"), d),
    };
    if is_async && steps.is_empty() && t.calls.is_none() {
        c.fail(
            &path.key("async"),
            "applies only to a tier that makes calls (add calls = [...])",
        );
    }
    Calls {
        steps,
        mode: if is_async {
            Mode::Async { finish }
        } else {
            Mode::Blocking
        },
    }
}

fn check_step(c: &mut Checker<'_, '_>, path: &KeyPath, s: &RawStep) -> Option<Step> {
    const FORMS: &str = "one of { capability = \"X\" }, { all = [\"X\", \"Y\"] } or { any = [\"X\", \"Y\"], need = 1 }";
    let given = [s.capability.is_some(), s.all.is_some(), s.any.is_some()]
        .iter()
        .filter(|&&g| g)
        .count();
    if given != 1 {
        let what = if given == 0 {
            "says nothing to call"
        } else {
            "has more than one of capability, all and any"
        };
        c.fail(path, format!("{what}; a step is {FORMS}"));
        return None;
    }
    let (key, targets) = match (&s.capability, &s.all, &s.any) {
        (Some(cap), _, _) => ("capability", vec![cap.clone()]),
        (_, Some(all), _) => ("all", all.clone()),
        (_, _, Some(any)) => ("any", any.clone()),
        _ => unreachable!("exactly one form is given"),
    };
    if targets.is_empty() {
        c.fail(&path.key(key), "is empty; name at least one capability");
        return None;
    }
    for (j, t) in targets.iter().enumerate() {
        if t.trim().is_empty() {
            let p = if key == "capability" {
                path.key(key)
            } else {
                path.key(key).index(j)
            };
            c.fail(&p, "is empty; a capability has at least one character");
            return None;
        }
    }
    let n = targets.len() as u32;
    let need = match (s.need, key) {
        (None, "any") => 1,
        (None, _) => n,
        (Some(k), "any") if (1..=n).contains(&k) => k,
        (Some(k), "any") => {
            c.fail(
                &path.key("need"),
                format!("is {k}; must be from 1 to the number of capabilities in `any` ({n})"),
            );
            return None;
        }
        (Some(_), _) => {
            c.fail(
                &path.key("need"),
                "applies only to `any` (a `capability` or `all` step needs every call)",
            );
            return None;
        }
    };
    let probability = c.fraction(&path.key("probability"), s.probability, 1.0, true);
    let mut tags = s.tags.clone().unwrap_or_default();
    if let Some(j) = tags.iter().position(|t| t.trim().is_empty()) {
        c.fail(
            &path.key("tags").index(j),
            "is empty; a tag has at least one character",
        );
        return None;
    }
    tags.sort();
    tags.dedup();
    Some(Step {
        targets,
        need,
        probability,
        optional: s.optional.unwrap_or(false),
        tags,
    })
}

/// Every called capability is served (with the step's tags, if any), and
/// the call graph between tiers
/// (a tier calls every tier that serves a capability it calls) has no
/// cycle and no chain longer than [`MAX_DEPTH`].
pub(super) fn check_graph(c: &mut Checker<'_, '_>, tiers_path: &KeyPath, tiers: &[Tier]) {
    let mut ok = true;
    for (i, t) in tiers.iter().enumerate() {
        for (s, step) in t.calls.steps.iter().enumerate() {
            let sp = tiers_path.index(i).key("calls").index(s);
            for cap in &step.targets {
                let before = c.problems.len();
                check_served(c, &sp, cap, tiers);
                if c.problems.len() == before && !step.tags.is_empty() {
                    check_tags(c, &sp, Some(cap), Some(&step.tags), tiers);
                }
                ok &= c.problems.len() == before;
            }
        }
    }
    if !ok {
        return;
    }
    // callees[i]: the tiers tier i calls, each with the capability.
    let callees: Vec<Vec<(usize, &str)>> = tiers
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            let targets = t
                .calls
                .steps
                .iter()
                .flat_map(|s| s.targets.iter().map(move |cap| (cap, &s.tags)));
            for (cap, tags) in targets {
                for (j, u) in tiers.iter().enumerate() {
                    if u.count > 0
                        && u.capabilities.contains(cap)
                        && tags.iter().all(|x| u.tags.contains(x))
                        && !out.contains(&(j, cap.as_str()))
                    {
                        out.push((j, cap.as_str()));
                    }
                }
            }
            out
        })
        .collect();
    // Depth-first from every tier; `stack` is the chain so far.
    fn visit<'t>(
        callees: &[Vec<(usize, &'t str)>],
        tiers: &'t [Tier],
        i: usize,
        stack: &mut Vec<(usize, &'t str)>,
        depth: &mut Vec<Option<usize>>,
    ) -> Result<usize, String> {
        if let Some(d) = depth[i] {
            return Ok(d);
        }
        let mut deepest = 0;
        for &(j, cap) in &callees[i] {
            if let Some(k) = stack.iter().position(|&(x, _)| x == j) {
                let mut names: Vec<String> = stack[k..]
                    .iter()
                    .map(|&(x, via)| format!("{} ({via})", tiers[x].name))
                    .collect();
                names.push(format!("{} ({cap})", tiers[j].name));
                return Err(names.join(" → "));
            }
            stack.push((j, cap));
            let d = visit(callees, tiers, j, stack, depth)?;
            stack.pop();
            deepest = deepest.max(d);
        }
        depth[i] = Some(deepest + 1);
        Ok(deepest + 1)
    }
    let mut depth = vec![None; tiers.len()];
    for i in 0..tiers.len() {
        let first = tiers[i].capabilities.first().map_or("", String::as_str);
        let mut stack = vec![(i, first)];
        match visit(&callees, tiers, i, &mut stack, &mut depth) {
            Err(cycle) => {
                c.fail(
                    &tiers_path.index(i).key("calls"),
                    format!("the calls form a cycle: {cycle}; a call graph must not call back into itself"),
                );
                return;
            }
            Ok(d) if d > MAX_DEPTH => {
                c.fail(
                    &tiers_path.index(i).key("calls"),
                    format!("chains {d} tiers deep; at most {MAX_DEPTH} are allowed"),
                );
                return;
            }
            Ok(_) => {}
        }
    }
}

/// `[capabilities.NAME]`: each names a served capability; its keys are
/// those of `[request] timeout`, `[retry]`, `[breaker]` and
/// `[balancer] strategy`.
pub(super) fn check_capabilities(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: Option<&BTreeMap<String, RawCapability>>,
    tiers: &[Tier],
) -> BTreeMap<String, CapabilityConfig> {
    let mut out = BTreeMap::new();
    for (name, r) in raw.into_iter().flatten() {
        let p = path.key(name);
        check_served(c, &p, name, tiers);
        let timeout = r.timeout.as_deref().and_then(|t| {
            let d = c.duration(&p.key("timeout"), Some(t));
            if d.is_some_and(|d| d.is_zero()) {
                c.fail(
                    &p.key("timeout"),
                    "must be greater than 0 (leave it out to inherit [request] timeout)",
                );
            }
            d
        });
        let retry = r.retry.as_ref().map(|x| check_retry(c, &p.key("retry"), x));
        let breaker = r
            .breaker
            .as_ref()
            .map(|x| check_breaker(c, &p.key("breaker"), x));
        let strategy = r
            .balancer
            .as_deref()
            .and_then(|s| match s.parse::<Strategy>() {
                Ok(s) => Some(s),
                Err(e) => {
                    c.fail(&p.key("balancer"), e);
                    None
                }
            });
        out.insert(
            name.clone(),
            CapabilityConfig {
                timeout,
                retry,
                breaker,
                strategy,
            },
        );
    }
    out
}
