//! What an agent does after its own service: the steps of calls its tier
//! makes to other capabilities, and how it waits for them.
//!
//! A step is one call (`{ capability = X }`), calls in parallel that must
//! all succeed (`{ all = [..] }`) or of which the first `need` must succeed
//! (`{ any = [..], need = k }`); `probability` makes a step conditional and
//! `optional` lets it fail without failing the request. Steps run in order,
//! each after the previous one has decided.
//!
//! Every draw a call needs (its callee's service-time quantile, its failure
//! draws, a step's condition) is derived from the *path* of the call: the
//! top-level task's seed, then for each hop the attempt, the step and the
//! position in the step ([`path`]). Hops are independent of each other, and
//! strategies compared on one seed see the same call tree (common random
//! numbers), however the calls are routed.
//!
//! The blocking server (a thread per request) keeps its slot while it waits
//! for its calls; the async server frees it after its own service and, when
//! the calls are back, answers at once or serves `finish` in a slot taken
//! again.

use crate::rng::{Dist, splitmix64};

/// One step of a tier's calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The capabilities called, in parallel.
    pub targets: Vec<String>,
    /// How many of them must succeed for the step to succeed.
    pub need: u32,
    /// The probability that the step runs at all.
    pub probability: f64,
    /// A failed step does not fail the request.
    pub optional: bool,
    /// Only agents with every one of these tags (sorted, distinct) serve
    /// its calls.
    pub tags: Vec<String>,
}

/// How an agent holds its slot while its calls are out.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// The slot is held from the start of service until the reply leaves.
    Blocking,
    /// The slot is freed after the own service; `finish` (if any) is served
    /// in a slot taken again, queueing FIFO behind other work.
    Async { finish: Option<Dist> },
}

/// A tier's calls: its steps, and how it waits for them.
#[derive(Clone, Debug, PartialEq)]
pub struct Calls {
    pub steps: Vec<Step>,
    pub mode: Mode,
}

impl Default for Calls {
    fn default() -> Calls {
        Calls {
            steps: Vec::new(),
            mode: Mode::Blocking,
        }
    }
}

impl Calls {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn is_async(&self) -> bool {
        matches!(self.mode, Mode::Async { .. })
    }
}

/// The path seed of something below `parent` (a request's path): `a` and
/// `b` name it (step and position, or an attempt and a purpose).
#[inline]
pub fn path(parent: u64, a: u32, b: u32) -> u64 {
    // Mix the parent first: a plain xor of the key into it would make
    // (p, 0, 1) and (p ^ 1, 0, 0) the same path.
    let mut state = parent;
    let mut state = splitmix64(&mut state) ^ ((u64::from(a) << 32) | u64::from(b));
    splitmix64(&mut state)
}

/// Purposes of the draws under a path, kept apart from the (step,
/// position) pairs of its calls by using step numbers no tier has.
pub mod draw {
    /// A step's condition: `path(request, CONDITION, step)`.
    pub const CONDITION: u32 = u32::MAX;
    /// A request's `finish_time` quantile: `path(request, FINISH, 0)`.
    pub const FINISH: u32 = u32::MAX - 1;
    /// Attempt `k` of a call or task: `path(call, ATTEMPT, k)`.
    pub const ATTEMPT: u32 = u32::MAX - 2;
}

/// The tally of one step's calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    sent: u16,
    need: u16,
    ok: u16,
    failed: u16,
    decided: bool,
}

/// A step's outcome, once it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed,
}

impl Tally {
    /// A step of `sent` calls of which `need` must succeed.
    pub fn new(sent: u32, need: u32) -> Tally {
        debug_assert!(need >= 1 && need <= sent, "need {need} of {sent}");
        Tally {
            sent: sent as u16,
            need: need as u16,
            ..Tally::default()
        }
    }

    /// One call ended. Returns the step's verdict the first time it is
    /// known; outcomes after that return `None`.
    pub fn on_outcome(&mut self, ok: bool) -> Option<Verdict> {
        if self.decided {
            return None;
        }
        if ok {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        let verdict = if self.ok >= self.need {
            Some(Verdict::Succeeded)
        } else if self.sent - self.failed < self.need {
            Some(Verdict::Failed)
        } else {
            None
        };
        self.decided = verdict.is_some();
        verdict
    }

    pub fn is_decided(&self) -> bool {
        self.decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fails_on_the_first_failure_and_succeeds_on_the_last_success() {
        let mut t = Tally::new(3, 3);
        assert_eq!(t.on_outcome(true), None);
        assert_eq!(t.on_outcome(true), None);
        assert_eq!(t.on_outcome(true), Some(Verdict::Succeeded));
        let mut t = Tally::new(3, 3);
        assert_eq!(t.on_outcome(true), None);
        assert_eq!(t.on_outcome(false), Some(Verdict::Failed));
        assert_eq!(t.on_outcome(true), None, "decided once");
    }

    #[test]
    fn any_succeeds_on_the_kth_success_and_fails_when_too_few_are_left() {
        let mut t = Tally::new(3, 2);
        assert_eq!(t.on_outcome(false), None);
        assert_eq!(t.on_outcome(true), None);
        assert_eq!(t.on_outcome(true), Some(Verdict::Succeeded));
        let mut t = Tally::new(3, 2);
        assert_eq!(t.on_outcome(true), None);
        assert_eq!(t.on_outcome(false), None);
        assert_eq!(t.on_outcome(false), Some(Verdict::Failed));
        assert!(t.is_decided());
        let mut t = Tally::new(1, 1);
        assert_eq!(t.on_outcome(false), Some(Verdict::Failed));
    }

    #[test]
    fn paths_differ_by_step_position_and_parent() {
        let p = 0x1234_5678_9abc_def0;
        let all = [
            path(p, 0, 0),
            path(p, 0, 1),
            path(p, 1, 0),
            path(p ^ 1, 0, 0),
            path(p, draw::CONDITION, 0),
            path(p, draw::FINISH, 0),
            path(p, draw::ATTEMPT, 1),
        ];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "{i} and {j}");
            }
        }
        assert_eq!(path(p, 3, 4), path(p, 3, 4), "a pure function");
    }
}
