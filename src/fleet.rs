//! The simulated fleet: agents built from the scenario's tiers, each with
//! `concurrency` service slots and a local FIFO for requests that find every
//! slot busy.
//!
//! Agents are numbered tier by tier in scenario order (`agent-0` is the first
//! agent of the first tier), so ids are stable for a given scenario.

use std::collections::VecDeque;

use crate::scenario::Tier;
use crate::time::Duration;

/// One agent's state in a run.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Index into the scenario's tiers.
    pub tier: u32,
    pub concurrency: u32,
    /// Slots in use.
    pub busy: u32,
    /// Requests waiting for a slot, oldest first (task slots in the world).
    pub queue: VecDeque<u32>,
    /// Requests served (successfully or not) and failed.
    pub served: u64,
    pub failures: u64,
    /// Slot-time spent serving.
    pub busy_time: Duration,
}

impl Agent {
    pub fn has_free_slot(&self) -> bool {
        self.busy < self.concurrency
    }
}

/// The agents of a fleet, tier by tier.
pub fn build(tiers: &[Tier]) -> Vec<Agent> {
    tiers
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            (0..t.count).map(move |_| Agent {
                tier: ti as u32,
                concurrency: t.concurrency,
                busy: 0,
                queue: VecDeque::new(),
                served: 0,
                failures: 0,
                busy_time: Duration::ZERO,
            })
        })
        .collect()
}

/// The stable display id of agent `i`.
pub fn agent_id(i: usize) -> String {
    format!("agent-{i}")
}
