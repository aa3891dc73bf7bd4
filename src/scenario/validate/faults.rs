//! `[[faults]]`: when each fault happens, its kind and how long it lasts,
//! and the agents it targets (a target also selects a bus subscription's
//! agents).

use super::Checker;
use crate::faults::{Fault, FaultKind, Target, fraction_count};
use crate::fleet::Tier;
use crate::scenario::KeyPath;
use crate::scenario::raw::{RawFault, RawTarget};
use crate::time::Duration;

pub(super) fn check_fault(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    f: &RawFault,
    tiers: &[Tier],
    end: Duration,
) -> Option<Fault> {
    let at = c.required_duration(
        &path.key("at"),
        f.at.as_deref(),
        "when the fault happens, e.g. at = \"10s\"",
    );
    if let Some(at) = at
        && at >= end
    {
        c.fail(&path.key("at"), format!("{at} is not before the end of the run (duration + drain = {end}), so it would never happen"));
    }
    let kind = match f.kind.as_deref() {
        None => {
            c.fail(
                &path.key("kind"),
                format!("missing; one of {}", FaultKind::NAMES),
            );
            None
        }
        Some("crash") => Some(FaultKind::Crash),
        Some("recover") => Some(FaultKind::Recover),
        Some("partition") => Some(FaultKind::Partition),
        Some("dispatcher_down") => Some(FaultKind::DispatcherDown),
        Some("broker_down") => Some(FaultKind::BrokerDown),
        Some("drain") => Some(FaultKind::Drain),
        Some("join") => {
            let count = f.count.unwrap_or(0);
            if count == 0 {
                c.fail(
                    &path.key("count"),
                    "missing or 0; kind = \"join\" takes count, how many agents join (at least 1)",
                );
                None
            } else {
                Some(FaultKind::Join { count })
            }
        }
        Some("rolling_restart") => {
            let batch = f.batch.unwrap_or(0);
            let pause = c.duration(&path.key("pause"), f.pause.as_deref());
            if batch == 0 {
                c.fail(&path.key("batch"), "missing or 0; kind = \"rolling_restart\" takes batch, how many agents restart at a time (at least 1)");
                None
            } else {
                Some(FaultKind::RollingRestart {
                    batch,
                    pause: pause.unwrap_or(Duration::ZERO),
                })
            }
        }
        Some("slow") => match f.factor {
            None => {
                c.fail(&path.key("factor"), "missing; kind = \"slow\" takes factor, how many times longer service takes (e.g. 5.0)");
                None
            }
            Some(x) if !x.is_finite() || x <= 0.0 => {
                c.fail(
                    &path.key("factor"),
                    format!("is {x}; must be a number greater than 0"),
                );
                None
            }
            Some(factor) => Some(FaultKind::Slow { factor }),
        },
        Some(other) => {
            c.fail(
                &path.key("kind"),
                format!("unknown fault kind `{other}`; one of {}", FaultKind::NAMES),
            );
            None
        }
    };
    if f.factor.is_some() && !matches!(f.kind.as_deref(), Some("slow") | None) {
        c.fail(&path.key("factor"), "applies only to kind = \"slow\"");
    }
    if f.count.is_some() && !matches!(f.kind.as_deref(), Some("join") | None) {
        c.fail(&path.key("count"), "applies only to kind = \"join\"");
    }
    for (key, given) in [("batch", f.batch.is_some()), ("pause", f.pause.is_some())] {
        if given && !matches!(f.kind.as_deref(), Some("rolling_restart") | None) {
            c.fail(&path.key(key), "applies only to kind = \"rolling_restart\"");
        }
    }
    let lasts = c.duration(&path.key("for"), f.for_.as_deref());
    if lasts.is_some_and(Duration::is_zero) {
        c.fail(
            &path.key("for"),
            "must be greater than 0 (leave it out for a fault that lasts to the end)",
        );
    }
    if lasts.is_some() && kind == Some(FaultKind::Recover) {
        c.fail(
            &path.key("for"),
            "does not apply to kind = \"recover\", which is instantaneous",
        );
    }
    if lasts.is_some() && matches!(kind, Some(FaultKind::Join { .. })) {
        c.fail(
            &path.key("for"),
            "does not apply to kind = \"join\" (drain the agents later with kind = \"drain\")",
        );
    }
    let tp = path.key("target");
    // Faults of the control plane hit no agent.
    let control_plane = match kind {
        Some(FaultKind::DispatcherDown) => Some((
            FaultKind::DispatcherDown,
            "does not apply to kind = \"dispatcher_down\", which hits the dispatcher, not agents",
        )),
        Some(FaultKind::BrokerDown) => Some((
            FaultKind::BrokerDown,
            "does not apply to kind = \"broker_down\": the broker is one server, not an agent",
        )),
        _ => None,
    };
    if let Some((kind, message)) = control_plane {
        if f.target.is_some() {
            c.fail(&tp, message);
        }
        return Some(Fault {
            at: at?,
            kind,
            target: Target::Agents(Vec::new()),
            lasts,
        });
    }
    if matches!(f.kind.as_deref(), Some("join")) {
        // Join: a whole tier, whose pre-allocated agents join.
        let tier = match (&f.target, f.target.as_ref().and_then(|t| t.tier.as_ref())) {
            (Some(t), Some(name)) if t.agents.is_none() && t.fraction.is_none() => {
                match tiers.iter().position(|x| &x.name == name) {
                    Some(i) => Some(i as u32),
                    None => {
                        c.fail(&tp.key("tier"), format!("no tier named `{name}`"));
                        None
                    }
                }
            }
            _ => {
                c.fail(&tp, "kind = \"join\" takes target = { tier = \"NAME\" } (only a tier: new agents join it)");
                None
            }
        };
        return Some(Fault {
            at: at?,
            kind: kind?,
            target: Target::Fraction {
                tier: Some(tier?),
                fraction: 1.0,
            },
            lasts: None,
        });
    }
    let Some(t) = &f.target else {
        c.fail(&tp, "missing; e.g. target = { tier = \"standard\", fraction = 0.1 } or target = { agents = [\"agent-3\"] }");
        return None;
    };
    let target = check_target(c, &tp, t, tiers)?;
    Some(Fault {
        at: at?,
        kind: kind?,
        target,
        lasts,
    })
}

/// `target = { tier?, fraction? }` or `{ agents = [...] }`: which agents a
/// fault (or a bus subscription) applies to.
pub(super) fn check_target(
    c: &mut Checker<'_, '_>,
    tp: &KeyPath,
    t: &RawTarget,
    tiers: &[Tier],
) -> Option<Target> {
    let fleet: u32 = tiers.iter().map(|t| t.count).sum();
    let target = if let Some(ids) = &t.agents {
        if t.tier.is_some() || t.fraction.is_some() {
            c.fail(tp, "give either agents, or tier and/or fraction, not both");
        }
        if ids.is_empty() {
            c.fail(
                &tp.key("agents"),
                "is empty; name at least one agent, e.g. \"agent-0\"",
            );
        }
        let mut out = Vec::new();
        for (j, id) in ids.iter().enumerate() {
            match id
                .strip_prefix("agent-")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) if n < fleet => out.push(n),
                _ => c.fail(
                    &tp.key("agents").index(j),
                    format!(
                        "`{id}` is not an agent of this fleet; ids run from agent-0 to agent-{}",
                        fleet.saturating_sub(1)
                    ),
                ),
            }
        }
        out.sort_unstable();
        out.dedup();
        Target::Agents(out)
    } else {
        let tier = match &t.tier {
            None => None,
            Some(name) => match tiers.iter().position(|x| &x.name == name) {
                Some(i) => Some(i as u32),
                None => {
                    c.fail(
                        &tp.key("tier"),
                        format!(
                            "no tier named `{name}`; tiers: {}",
                            tiers
                                .iter()
                                .map(|x| x.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
            },
        };
        let fraction = c.fraction(&tp.key("fraction"), t.fraction, 1.0, true);
        let n = tier.map_or(fleet, |i| tiers[i as usize].count);
        if fraction_count(fraction, n) == 0 {
            c.fail(
                &tp.key("fraction"),
                format!("{fraction} of {n} agents rounds to none; raise the fraction"),
            );
        }
        Target::Fraction { tier, fraction }
    };
    Some(target)
}
