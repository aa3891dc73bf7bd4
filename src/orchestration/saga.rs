//! A saga's compensation sequence: after a failure, the steps that completed
//! are undone one at a time, the most recently completed first, and the
//! sequence stops at the first compensation that fails.
//!
//! Why: a saga has no distributed transaction to roll back; each completed
//! step is undone by its own compensating action, and running those newest
//! first means a step is undone before anything it built on (sagas in
//! docs/scenario.md: a failure at step k runs compensations k-1 … 1, in
//! that order).
//!
//! Source: Garcia-Molina and Salem, *Sagas* (SIGMOD 1987), backward
//! recovery: T1 … Tk-1 completed and Tk failed ⇒ run C(k-1) … C1. In a job
//! whose stages run concurrently ([`super::dag`]) the "steps" are the stages
//! in the order they completed. A stage completes only after every stage it
//! waits for has completed, so reverse completion order is also a reverse
//! topological order of the completed stages.
//!
//! Contract:
//! - `poll_next` hands out one stage at a time; it returns `None` while that
//!   stage's compensation is in progress, and `None` once the sequence is
//!   over. The owner reports the outcome with `on_compensated` or
//!   `on_compensation_failed`.
//! - A failed compensation stops the sequence: the saga FAILED, and the
//!   stages not yet compensated stay as they are. Retrying a compensation is
//!   the retry policy's business, before it is reported failed here.
//! - Nothing to undo (no stage completed) is done at once and not failed.
//!
//! Sans-IO: no clock, no RNG; every change goes through one `transition`.

/// Where the compensation sequence stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The next compensation may be handed out.
    Ready,
    /// `stage`'s compensation has been handed out and not yet reported.
    InProgress { stage: usize },
    /// Every completed stage was compensated.
    Done,
    /// `stage`'s compensation failed; the sequence stopped there.
    Failed { stage: usize },
}

/// The compensations of one saga, newest completed stage first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compensation {
    /// Stages still to compensate, in completion order: the last is next.
    todo: Vec<usize>,
    /// Stages whose compensation succeeded, in the order run.
    compensated: Vec<usize>,
    state: State,
}

impl Compensation {
    /// The compensation of the stages in `completed_in_order` (the order in
    /// which they completed, oldest first).
    pub fn new(completed_in_order: Vec<usize>) -> Compensation {
        let state = if completed_in_order.is_empty() {
            State::Done
        } else {
            State::Ready
        };
        Compensation {
            compensated: Vec::with_capacity(completed_in_order.len()),
            todo: completed_in_order,
            state,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The next stage to compensate, marking it in progress. `None` while a
    /// compensation is in progress and once the sequence is over.
    pub fn poll_next(&mut self) -> Option<usize> {
        if self.state != State::Ready {
            return None;
        }
        let stage = self
            .todo
            .pop()
            .expect("invariant: Ready always has a stage to compensate");
        self.transition(State::InProgress { stage });
        Some(stage)
    }

    /// `stage`'s compensation, handed out by `poll_next`, succeeded.
    pub fn on_compensated(&mut self, stage: usize) {
        self.expect_in_progress(stage, "compensated");
        self.compensated.push(stage);
        let to = if self.todo.is_empty() {
            State::Done
        } else {
            State::Ready
        };
        self.transition(to);
    }

    /// `stage`'s compensation, handed out by `poll_next`, failed: the saga
    /// failed and no further compensation runs.
    pub fn on_compensation_failed(&mut self, stage: usize) {
        self.expect_in_progress(stage, "failed to compensate");
        self.transition(State::Failed { stage });
    }

    /// The sequence is over: all compensated, or one failed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done | State::Failed { .. })
    }

    /// A compensation failed.
    pub fn failed(&self) -> bool {
        matches!(self.state, State::Failed { .. })
    }

    /// The stage whose compensation is in progress, if one is.
    pub fn in_progress(&self) -> Option<usize> {
        match self.state {
            State::InProgress { stage } => Some(stage),
            _ => None,
        }
    }

    /// Stages compensated successfully, in the order their compensations ran.
    pub fn compensated(&self) -> &[usize] {
        &self.compensated
    }

    /// Stages not yet handed out (not counting one in progress).
    pub fn remaining(&self) -> usize {
        match self.state {
            State::Ready | State::InProgress { .. } => self.todo.len(),
            State::Done | State::Failed { .. } => 0,
        }
    }

    fn expect_in_progress(&self, stage: usize, what: &str) {
        assert_eq!(
            self.state,
            State::InProgress { stage },
            "stage {stage} reported {what}, but the compensation in progress is {:?}",
            self.state
        );
    }

    /// The one place the state changes.
    fn transition(&mut self, to: State) {
        let legal = matches!(
            (self.state, to),
            (State::Ready, State::InProgress { .. })
                | (
                    State::InProgress { .. },
                    State::Ready | State::Done | State::Failed { .. }
                )
        );
        assert!(legal, "compensation: illegal {:?} → {to:?}", self.state);
        self.state = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compensates_in_reverse_completion_order_one_at_a_time() {
        let mut c = Compensation::new(vec![2, 0, 3]);
        assert_eq!(c.remaining(), 3);
        assert_eq!(c.poll_next(), Some(3));
        assert_eq!(c.poll_next(), None, "one at a time");
        assert_eq!(c.in_progress(), Some(3));
        c.on_compensated(3);
        assert_eq!(c.poll_next(), Some(0));
        c.on_compensated(0);
        assert!(!c.is_done());
        assert_eq!(c.poll_next(), Some(2));
        c.on_compensated(2);
        assert!(c.is_done());
        assert!(!c.failed());
        assert_eq!(c.state(), State::Done);
        assert_eq!(c.compensated(), &[3, 0, 2]);
        assert_eq!(c.poll_next(), None);
    }

    #[test]
    fn a_failed_compensation_stops_the_sequence() {
        let mut c = Compensation::new(vec![0, 1, 2]);
        assert_eq!(c.poll_next(), Some(2));
        c.on_compensated(2);
        assert_eq!(c.poll_next(), Some(1));
        c.on_compensation_failed(1);
        assert!(c.is_done());
        assert!(c.failed());
        assert_eq!(c.state(), State::Failed { stage: 1 });
        assert_eq!(c.poll_next(), None, "stage 0 is never compensated");
        assert_eq!(c.compensated(), &[2]);
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn nothing_to_undo_is_done_and_not_failed() {
        let mut c = Compensation::new(Vec::new());
        assert!(c.is_done());
        assert!(!c.failed());
        assert_eq!(c.poll_next(), None);
        assert!(c.compensated().is_empty());
    }

    #[test]
    #[should_panic(expected = "stage 0 reported compensated")]
    fn reporting_a_stage_not_in_progress_is_a_bug() {
        let mut c = Compensation::new(vec![0, 1]);
        assert_eq!(c.poll_next(), Some(1));
        c.on_compensated(0);
    }

    proptest! {
        /// Whatever the outcomes, the compensations that ran are a prefix of
        /// the reverse completion order: all of it when none failed, up to
        /// (not including) the failed one otherwise.
        #[test]
        fn runs_a_prefix_of_the_reverse_order(
            order in Just((0..12usize).collect::<Vec<_>>()).prop_shuffle(),
            len in 0usize..12,
            outcomes in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let order = order[..len].to_vec();
            let reverse: Vec<usize> = order.iter().rev().copied().collect();
            let mut c = Compensation::new(order);
            let mut handed = Vec::new();
            let mut outcomes = outcomes.into_iter();
            while let Some(stage) = c.poll_next() {
                prop_assert_eq!(c.poll_next(), None);
                handed.push(stage);
                if outcomes.next().unwrap_or(true) {
                    c.on_compensated(stage);
                } else {
                    c.on_compensation_failed(stage);
                }
            }
            prop_assert!(c.is_done());
            prop_assert_eq!(&handed[..], &reverse[..handed.len()]);
            if c.failed() {
                prop_assert_eq!(c.compensated(), &handed[..handed.len() - 1]);
            } else {
                prop_assert_eq!(c.compensated(), &reverse[..]);
            }
        }
    }
}
