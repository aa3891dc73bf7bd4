//! A job's dependency graph ([`Graph`]) and one running job ([`JobRun`]):
//! a stage starts when every stage it waits for has completed, independent
//! stages run at once, and a failure cancels what depends on it — or, in a
//! saga, stops the job and undoes what completed, newest first.
//!
//! Why: the workload's `[[workload.jobs]]` are DAGs of stages, each a fan-out
//! of tasks (docs/scenario.md; the reference platform's ETL pipeline ingestion →
//! validation → transformation → aggregation → export). The world runs the
//! tasks and reports when a stage's tasks all succeeded or when the stage
//! failed; this module decides what may start next and how the job ends.
//!
//! Sources: Kahn's algorithm (1962) for the topological order; the saga's
//! backward recovery of Garcia-Molina and Salem (1987), see [`super::saga`].
//!
//! ## The graph
//! [`Graph::new`] takes the stages in declaration order, each with the names
//! of the stages it waits for (its `after` list); stage `i` is the `i`-th
//! declared. A name repeated within one `after` list counts once. The checks
//! run in this order and report the first problem: a duplicate stage name
//! (the first repeated name), an `after` name that is not a stage (the first
//! in declaration order), a cycle.
//!
//! A reported cycle `[x, y, …, x]` reads like the pipeline arrows: `x → y`
//! means "x, then y", i.e. `y`'s `after` list names `x`. The rule that makes
//! it deterministic: of all the stages that lie on some cycle, take the one
//! declared first, `s`; report a shortest cycle through `s`, found by a
//! breadth-first search from `s` along "is waited for by" links, visiting
//! stages in declaration order. The cycle starts and ends at `s`, so `s` is
//! also the lowest-index stage on it. A self-loop is `[x, x]`.
//!
//! [`Graph::topo_order`] is Kahn's algorithm, ties broken by lowest index.
//!
//! ## A running job
//! - Every stage starts WAITING. A stage whose `after` stages have all
//!   COMPLETED is ready; [`JobRun::poll_ready`] hands out ready stages one at
//!   a time, lowest index first, each once, and marks it RUNNING. The owner
//!   drains it after `new` and after every report; independent stages are
//!   handed out together and run concurrently.
//! - The owner reports each RUNNING stage once: `on_stage_completed` or
//!   `on_stage_failed` (a task failed after its retries). Reporting a stage
//!   that is not RUNNING is a bug in the owner and panics.
//! - Plain job: when a stage fails, every stage that depends on it,
//!   directly or transitively, is CANCELLED (all of them are still WAITING:
//!   a RUNNING stage's dependencies have all completed). Independent stages
//!   keep starting and finishing. The job ends FAILED once nothing is
//!   RUNNING and nothing can start; while stages still run it is RUNNING.
//! - Saga (`saga = true`): the first failure stops everything. Every WAITING
//!   stage is CANCELLED and nothing starts any more; the job is COMPENSATING
//!   from that moment. Stages already RUNNING are waited for (one that then
//!   completes is compensated like the others; one that fails is not). Once
//!   nothing is RUNNING, the COMPLETED stages are compensated one at a time
//!   in exact reverse order of completion ([`JobRun::poll_compensation`],
//!   `on_compensated`, `on_compensation_failed`). The job ends COMPENSATED
//!   when every compensation succeeded, FAILED at the first that fails (the
//!   rest are not run). A saga with no completed stage at that point has
//!   nothing to undo and ends COMPENSATED at once. A failed stage itself is
//!   never compensated (a failure at step k runs k-1 … 1).
//! - A job whose stages all complete ends COMPLETED; a job with no stages
//!   is COMPLETED from the start.
//! - Every job ends in exactly one of COMPLETED, FAILED, COMPENSATED, and
//!   then every stage is COMPLETED, FAILED or CANCELLED. Compensated stages
//!   keep the stage state COMPLETED; [`JobRun::compensations_run`] lists them.
//!
//! Sans-IO: no clock (nothing here depends on time), no RNG; outputs are
//! drained with `poll_*`, outcomes reported with `on_*`. Stage states change
//! in one place (`set_stage`), the job's phase in one `transition`. No
//! allocation per `poll_*` call: the ready set is a heap sized at `new`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use super::saga::Compensation;

/// A validated job graph: stages `0..len()`, `after(i)` = the stages stage
/// `i` waits for. Cheap to clone (the shape is shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    shape: Arc<Shape>,
}

#[derive(Debug, PartialEq, Eq)]
struct Shape {
    names: Vec<String>,
    /// `after[i]`: the stages `i` waits for, in the order its `after` list names them.
    after: Vec<Vec<usize>>,
    /// `dependents[i]`: the stages whose `after` names `i`, in index order.
    dependents: Vec<Vec<usize>>,
    /// Kahn's order, ties by lowest index.
    topo: Vec<usize>,
}

/// Why a job graph is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Stage `stage` names `after` in its `after` list, and no stage has that name.
    #[error(
        "stage `{stage}` waits for `{after}`, which is not a stage of this job; \
         fix the name in its `after` list or declare a stage `{after}`"
    )]
    UnknownStage { stage: String, after: String },
    /// Two stages have this name.
    #[error("two stages are named `{0}`; give each stage a unique name")]
    DuplicateStage(String),
    /// The stages on one cycle, in order, the first repeated at the end; each
    /// waits for the one before it (see the module doc for which cycle).
    #[error("{}", cycle_text(.0))]
    Cycle(Vec<String>),
}

fn cycle_text(cycle: &[String]) -> String {
    match cycle {
        [stage, _] => {
            format!("stage `{stage}` waits for itself; remove `{stage}` from its `after` list")
        }
        _ => format!(
            "stages form a cycle: {} (each waits for the one before it); \
             remove one of these `after` links",
            cycle.join(" → ")
        ),
    }
}

impl Graph {
    /// Build from `(name, after-names)` in declaration order. Deterministic:
    /// the same input always gives the same graph or the same error (the
    /// module doc says which problem and which cycle are reported).
    pub fn new(stages: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
        let n = stages.len();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, &(name, _)) in stages.iter().enumerate() {
            if index.insert(name, i).is_some() {
                return Err(GraphError::DuplicateStage(name.to_string()));
            }
        }
        let mut after = Vec::with_capacity(n);
        for &(name, names) in stages {
            let mut mine: Vec<usize> = Vec::with_capacity(names.len());
            for &dep in names {
                let Some(&j) = index.get(dep) else {
                    return Err(GraphError::UnknownStage {
                        stage: name.to_string(),
                        after: dep.to_string(),
                    });
                };
                if !mine.contains(&j) {
                    mine.push(j);
                }
            }
            after.push(mine);
        }
        let mut dependents = vec![Vec::new(); n];
        for (i, deps) in after.iter().enumerate() {
            for &j in deps {
                dependents[j].push(i);
            }
        }
        let topo = kahn(&after, &dependents);
        if topo.len() < n {
            let cycle = find_cycle(&topo, &dependents);
            return Err(GraphError::Cycle(
                cycle.into_iter().map(|i| stages[i].0.to_string()).collect(),
            ));
        }
        Ok(Graph {
            shape: Arc::new(Shape {
                names: stages.iter().map(|&(name, _)| name.to_string()).collect(),
                after,
                dependents,
                topo,
            }),
        })
    }

    /// Number of stages.
    pub fn len(&self) -> usize {
        self.shape.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shape.names.is_empty()
    }

    /// Stage `i`'s name.
    pub fn name(&self, i: usize) -> &str {
        &self.shape.names[i]
    }

    /// The index of the stage called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.shape.names.iter().position(|n| n == name)
    }

    /// The stages stage `i` waits for, in the order its `after` list names them.
    pub fn after(&self, i: usize) -> &[usize] {
        &self.shape.after[i]
    }

    /// The stages that wait for stage `i`, in index order.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.shape.dependents[i]
    }

    /// A deterministic topological order (Kahn's algorithm, ties by lowest index).
    pub fn topo_order(&self) -> Vec<usize> {
        self.shape.topo.clone()
    }
}

/// Kahn's algorithm, ties by lowest index. Shorter than the graph when
/// stages lie on (or after) a cycle.
fn kahn(after: &[Vec<usize>], dependents: &[Vec<usize>]) -> Vec<usize> {
    let mut missing: Vec<usize> = after.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..after.len())
        .filter(|&i| missing[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(after.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            missing[d] -= 1;
            if missing[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    order
}

/// The cycle to report, as stage indices `[s, …, s]` (module doc): a
/// shortest cycle through the lowest-index stage that lies on any cycle.
/// Every stage on a cycle is missing from Kahn's `sorted` prefix, so only
/// those are searched.
fn find_cycle(sorted: &[usize], dependents: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = dependents.len();
    let mut candidate = vec![true; n];
    for &i in sorted {
        candidate[i] = false;
    }
    let mut parent = vec![UNSEEN; n];
    let mut queue = VecDeque::new();
    for s in (0..n).filter(|&s| candidate[s]) {
        parent.fill(UNSEEN);
        parent[s] = s;
        queue.clear();
        queue.push_back(s);
        while let Some(u) = queue.pop_front() {
            for &v in &dependents[u] {
                if v == s {
                    let mut back = vec![s];
                    let mut x = u;
                    while x != s {
                        back.push(x);
                        x = parent[x];
                    }
                    back.push(s);
                    back.reverse();
                    return back;
                }
                if candidate[v] && parent[v] == UNSEEN {
                    parent[v] = u;
                    queue.push_back(v);
                }
            }
        }
    }
    panic!("invariant: Kahn left stages unsorted, so one lies on a cycle (sorted {sorted:?})")
}

/// One stage of a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageState {
    /// Not started: waiting for its dependencies, or ready and not yet polled.
    Waiting,
    Running,
    Completed,
    Failed,
    /// Will never run: something it depends on failed, or a saga stopped.
    Cancelled,
}

impl StageState {
    /// COMPLETED, FAILED or CANCELLED: the stage will not change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StageState::Completed | StageState::Failed | StageState::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Waiting => "waiting",
            StageState::Running => "running",
            StageState::Completed => "completed",
            StageState::Failed => "failed",
            StageState::Cancelled => "cancelled",
        }
    }
}

/// A job as a whole. COMPENSATING and COMPENSATED occur only in sagas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobState {
    Running,
    Completed,
    Failed,
    Compensating,
    Compensated,
}

impl JobState {
    /// COMPLETED, FAILED or COMPENSATED: the job's outcome.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Compensated
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Compensating => "compensating",
            JobState::Compensated => "compensated",
        }
    }
}

/// The job's phase, with the data each phase needs.
#[derive(Clone, Debug)]
enum Phase {
    /// Stages start as their dependencies complete (a plain job stays here
    /// after a failure while independent stages still run).
    Running,
    /// A saga after a failure: nothing starts; the running stages are waited for.
    Draining,
    /// A saga undoing its completed stages, newest first.
    Compensating(Compensation),
    /// The outcome, and the stages compensated (in the order run).
    Finished {
        outcome: JobState,
        compensated: Vec<usize>,
    },
}

impl Phase {
    fn job_state(&self) -> JobState {
        match self {
            Phase::Running => JobState::Running,
            Phase::Draining | Phase::Compensating(_) => JobState::Compensating,
            Phase::Finished { outcome, .. } => *outcome,
        }
    }
}

/// One running job over a [`Graph`] (module doc for the semantics).
#[derive(Clone, Debug)]
pub struct JobRun {
    graph: Graph,
    saga: bool,
    stages: Vec<StageState>,
    /// Per stage: dependencies not yet COMPLETED.
    missing: Vec<usize>,
    /// Ready stages not yet handed out, lowest index first.
    ready: BinaryHeap<Reverse<usize>>,
    /// Stages in the order they completed.
    completed: Vec<usize>,
    waiting: usize,
    running: usize,
    /// The first stage that failed.
    first_failure: Option<usize>,
    phase: Phase,
}

impl JobRun {
    /// A job over `graph`, all stages WAITING; `saga` = compensate on failure.
    pub fn new(graph: &Graph, saga: bool) -> JobRun {
        let n = graph.len();
        let missing: Vec<usize> = (0..n).map(|i| graph.after(i).len()).collect();
        let mut ready = BinaryHeap::with_capacity(n);
        ready.extend((0..n).filter(|&i| missing[i] == 0).map(Reverse));
        let mut run = JobRun {
            graph: graph.clone(),
            saga,
            stages: vec![StageState::Waiting; n],
            missing,
            ready,
            completed: Vec::with_capacity(n),
            waiting: n,
            running: 0,
            first_failure: None,
            phase: Phase::Running,
        };
        run.settle();
        run
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn is_saga(&self) -> bool {
        self.saga
    }

    /// The next stage that may start now (all its `after` stages COMPLETED),
    /// lowest index first, marked RUNNING. Each stage is returned once; drain
    /// after `new` and after every report. `None` once the job has failed in
    /// a saga, and when nothing is ready.
    pub fn poll_ready(&mut self) -> Option<usize> {
        if !matches!(self.phase, Phase::Running) {
            return None;
        }
        while let Some(Reverse(i)) = self.ready.pop() {
            if self.stages[i] == StageState::Waiting {
                self.set_stage(i, StageState::Running);
                return Some(i);
            }
        }
        None
    }

    /// Every task of RUNNING `stage` succeeded.
    pub fn on_stage_completed(&mut self, stage: usize) {
        self.expect_running(stage, "completed");
        self.set_stage(stage, StageState::Completed);
        if matches!(self.phase, Phase::Running) {
            for &d in self.graph.dependents(stage) {
                self.missing[d] -= 1;
                if self.missing[d] == 0 && self.stages[d] == StageState::Waiting {
                    self.ready.push(Reverse(d));
                }
            }
        }
        self.settle();
    }

    /// RUNNING `stage` failed (a task failed after its retries).
    pub fn on_stage_failed(&mut self, stage: usize) {
        self.expect_running(stage, "failed");
        self.set_stage(stage, StageState::Failed);
        self.first_failure.get_or_insert(stage);
        if matches!(self.phase, Phase::Running) {
            if self.saga {
                for i in 0..self.stages.len() {
                    if self.stages[i] == StageState::Waiting {
                        self.set_stage(i, StageState::Cancelled);
                    }
                }
                self.ready.clear();
                self.transition(Phase::Draining);
            } else {
                self.cancel_dependents(stage);
            }
        }
        self.settle();
    }

    /// Saga: the next completed stage to compensate (reverse completion
    /// order), one at a time. `None` while one is in progress, before the
    /// running stages have all reported, and when there is nothing to do.
    pub fn poll_compensation(&mut self) -> Option<usize> {
        match &mut self.phase {
            Phase::Compensating(undo) => undo.poll_next(),
            _ => None,
        }
    }

    /// Saga: `stage`'s compensation, handed out by `poll_compensation`, succeeded.
    pub fn on_compensated(&mut self, stage: usize) {
        match &mut self.phase {
            Phase::Compensating(undo) => undo.on_compensated(stage),
            other => panic!("stage {stage} reported compensated, but the job is {other:?}"),
        }
        self.settle();
    }

    /// Saga: `stage`'s compensation failed; the job ends FAILED.
    pub fn on_compensation_failed(&mut self, stage: usize) {
        match &mut self.phase {
            Phase::Compensating(undo) => undo.on_compensation_failed(stage),
            other => {
                panic!("stage {stage} reported failed to compensate, but the job is {other:?}")
            }
        }
        self.settle();
    }

    pub fn state(&self) -> JobState {
        self.phase.job_state()
    }

    pub fn stage_state(&self, i: usize) -> StageState {
        self.stages[i]
    }

    /// Stages COMPLETED so far (compensated ones included).
    pub fn stages_completed(&self) -> usize {
        self.completed.len()
    }

    /// Stages in the order they completed.
    pub fn completion_order(&self) -> &[usize] {
        &self.completed
    }

    /// Stages RUNNING now.
    pub fn stages_running(&self) -> usize {
        self.running
    }

    /// The first stage that failed, if any.
    pub fn failed_stage(&self) -> Option<usize> {
        self.first_failure
    }

    /// Stages whose compensation succeeded, in the order run (a failed
    /// compensation is not listed).
    pub fn compensations_run(&self) -> &[usize] {
        match &self.phase {
            Phase::Compensating(undo) => undo.compensated(),
            Phase::Finished { compensated, .. } => compensated,
            Phase::Running | Phase::Draining => &[],
        }
    }

    /// The outcome is final: COMPLETED, FAILED or COMPENSATED.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished { .. })
    }

    fn expect_running(&self, stage: usize, what: &str) {
        assert_eq!(
            self.stages[stage],
            StageState::Running,
            "stage {stage} (`{}`) reported {what} but it is not running; job {:?}",
            self.graph.name(stage),
            self.phase.job_state()
        );
    }

    /// Cancel every WAITING stage that depends on `stage`, transitively.
    fn cancel_dependents(&mut self, stage: usize) {
        let graph = self.graph.clone();
        let mut stack: Vec<usize> = graph.dependents(stage).to_vec();
        while let Some(d) = stack.pop() {
            if self.stages[d] == StageState::Waiting {
                self.set_stage(d, StageState::Cancelled);
                stack.extend_from_slice(graph.dependents(d));
            }
        }
    }

    /// The one place a stage's state changes; the counters follow it.
    fn set_stage(&mut self, i: usize, to: StageState) {
        let from = self.stages[i];
        let legal = matches!(
            (from, to),
            (
                StageState::Waiting,
                StageState::Running | StageState::Cancelled
            ) | (
                StageState::Running,
                StageState::Completed | StageState::Failed
            )
        );
        assert!(legal, "stage {i}: illegal {from:?} → {to:?}");
        match from {
            StageState::Waiting => self.waiting -= 1,
            StageState::Running => self.running -= 1,
            _ => {}
        }
        match to {
            StageState::Running => self.running += 1,
            StageState::Completed => self.completed.push(i),
            _ => {}
        }
        self.stages[i] = to;
    }

    /// Move the phase on as far as the facts allow: after every report.
    fn settle(&mut self) {
        loop {
            let next = match &self.phase {
                _ if self.running > 0 => None,
                Phase::Running if self.waiting == 0 => Some(Phase::Finished {
                    outcome: if self.first_failure.is_some() {
                        JobState::Failed
                    } else {
                        JobState::Completed
                    },
                    compensated: Vec::new(),
                }),
                Phase::Draining => Some(Phase::Compensating(Compensation::new(
                    self.completed.clone(),
                ))),
                Phase::Compensating(undo) if undo.is_done() => Some(Phase::Finished {
                    outcome: if undo.failed() {
                        JobState::Failed
                    } else {
                        JobState::Compensated
                    },
                    compensated: undo.compensated().to_vec(),
                }),
                Phase::Running | Phase::Compensating(_) | Phase::Finished { .. } => None,
            };
            match next {
                Some(to) => self.transition(to),
                None => return,
            }
        }
    }

    /// The one place the job's phase changes.
    fn transition(&mut self, to: Phase) {
        let legal = matches!(
            (&self.phase, &to),
            (Phase::Running, Phase::Draining | Phase::Finished { .. })
                | (Phase::Draining, Phase::Compensating(_))
                | (Phase::Compensating(_), Phase::Finished { .. })
        );
        assert!(legal, "job: illegal {:?} → {to:?}", self.phase);
        self.phase = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph(stages: &[(&str, &[&str])]) -> Graph {
        Graph::new(stages).unwrap()
    }

    fn cycle(stages: &[(&str, &[&str])]) -> Vec<String> {
        match Graph::new(stages) {
            Err(GraphError::Cycle(c)) => c,
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    fn drain(run: &mut JobRun) -> Vec<usize> {
        std::iter::from_fn(|| run.poll_ready()).collect()
    }

    /// a → {b, c} → d
    fn diamond() -> Graph {
        graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])])
    }

    #[test]
    fn an_unknown_stage_is_named_with_the_stage_that_waits_for_it() {
        let err = Graph::new(&[("extract", &[]), ("load", &["extrct"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownStage {
                stage: "load".into(),
                after: "extrct".into()
            }
        );
        let text = err.to_string();
        assert!(text.contains("`load` waits for `extrct`"), "{text}");
    }

    #[test]
    fn a_duplicate_stage_is_rejected() {
        let err = Graph::new(&[("a", &[]), ("b", &["a"]), ("a", &[])]).unwrap_err();
        assert_eq!(err, GraphError::DuplicateStage("a".into()));
        assert!(err.to_string().contains("two stages are named `a`"));
    }

    #[test]
    fn a_three_cycle_names_every_stage_on_it_in_order() {
        let c = cycle(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"])]);
        assert_eq!(c, ["a", "b", "c", "a"]);
        let text = GraphError::Cycle(c).to_string();
        assert_eq!(
            text,
            "stages form a cycle: a → b → c → a (each waits for the one before it); \
             remove one of these `after` links"
        );
        // Declared in another order, the cycle still starts at the first declared.
        let c = cycle(&[
            ("load", &["transform"]),
            ("extract", &["load"]),
            ("transform", &["extract"]),
        ]);
        assert_eq!(c, ["load", "extract", "transform", "load"]);
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        let c = cycle(&[("a", &[]), ("b", &["a", "b"])]);
        assert_eq!(c, ["b", "b"]);
        assert_eq!(
            GraphError::Cycle(c).to_string(),
            "stage `b` waits for itself; remove `b` from its `after` list"
        );
    }

    #[test]
    fn a_cycle_not_reachable_from_stage_0_is_found() {
        // Stage 0 and its dependent are fine; 2 → 3 → 4 → 2 is a cycle; 5
        // waits for the cycle, so Kahn leaves it unsorted too, but it is not on it.
        let c = cycle(&[
            ("solo", &[]),
            ("after_solo", &["solo"]),
            ("x", &["z"]),
            ("y", &["x"]),
            ("z", &["y"]),
            ("tail", &["z"]),
        ]);
        assert_eq!(c, ["x", "y", "z", "x"]);
    }

    #[test]
    fn the_shortest_cycle_through_the_first_stage_on_one_is_reported() {
        // a → b → a and a → c → d → a: both through a; the shorter wins.
        let c = cycle(&[
            ("a", &["b", "d"]),
            ("c", &["a"]),
            ("d", &["c"]),
            ("b", &["a"]),
        ]);
        assert_eq!(c, ["a", "b", "a"]);
    }

    #[test]
    fn the_etl_chain_sorts_in_pipeline_order() {
        let g = graph(&[
            ("export", &["aggregation"]),
            ("aggregation", &["transformation"]),
            ("transformation", &["validation"]),
            ("validation", &["ingestion"]),
            ("ingestion", &[]),
        ]);
        let names: Vec<&str> = g.topo_order().into_iter().map(|i| g.name(i)).collect();
        assert_eq!(
            names,
            [
                "ingestion",
                "validation",
                "transformation",
                "aggregation",
                "export"
            ]
        );
        let mut run = JobRun::new(&g, false);
        let mut order = Vec::new();
        while let Some(s) = run.poll_ready() {
            assert_eq!(run.poll_ready(), None, "a chain runs one stage at a time");
            order.push(g.name(s));
            run.on_stage_completed(s);
        }
        assert_eq!(order, names);
        assert_eq!(run.state(), JobState::Completed);
    }

    #[test]
    fn the_diamond_sorts_deterministically_ties_by_index() {
        let g = diamond();
        assert_eq!(g.topo_order(), [0, 1, 2, 3]);
        assert_eq!(g.after(3), [1, 2]);
        assert_eq!(g.dependents(0), [1, 2]);
        // Ties by lowest index, not by declaration of the links.
        let g = graph(&[("d", &["c", "b"]), ("c", &["a"]), ("b", &["a"]), ("a", &[])]);
        assert_eq!(g.topo_order(), [3, 1, 2, 0]);
        assert_eq!(
            g.after(0),
            [1, 2],
            "in the order the `after` list names them"
        );
        assert_eq!(g.index_of("b"), Some(2));
    }

    #[test]
    fn repeated_after_names_count_once() {
        let g = graph(&[("a", &[]), ("b", &["a", "a"])]);
        assert_eq!(g.after(1), [0]);
        let mut run = JobRun::new(&g, false);
        assert_eq!(drain(&mut run), [0]);
        run.on_stage_completed(0);
        assert_eq!(drain(&mut run), [1]);
    }

    #[test]
    fn the_diamond_runs_both_middle_stages_concurrently() {
        let mut run = JobRun::new(&diamond(), false);
        assert_eq!(drain(&mut run), [0]);
        assert_eq!(run.stage_state(0), StageState::Running);
        run.on_stage_completed(0);
        assert_eq!(drain(&mut run), [1, 2]);
        assert_eq!(run.stages_running(), 2);
        run.on_stage_completed(2);
        assert_eq!(drain(&mut run), [0usize; 0], "d waits for b too");
        run.on_stage_completed(1);
        assert_eq!(drain(&mut run), [3]);
        assert!(!run.is_finished());
        run.on_stage_completed(3);
        assert!(run.is_finished());
        assert_eq!(run.state(), JobState::Completed);
        assert_eq!(run.stages_completed(), 4);
        assert_eq!(run.completion_order(), [0, 2, 1, 3]);
    }

    #[test]
    fn a_failure_cancels_exactly_its_dependents() {
        // a → b → d → e, a → c, c and f independent of b.
        let g = graph(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["b"]),
            ("e", &["d", "c"]),
            ("f", &[]),
        ]);
        let mut run = JobRun::new(&g, false);
        assert_eq!(drain(&mut run), [0, 5]);
        run.on_stage_completed(0);
        assert_eq!(drain(&mut run), [1, 2]);
        run.on_stage_failed(1);
        use StageState::*;
        let states: Vec<StageState> = (0..6).map(|i| run.stage_state(i)).collect();
        assert_eq!(
            states,
            [Completed, Failed, Running, Cancelled, Cancelled, Running]
        );
        assert_eq!(run.state(), JobState::Running, "c and f still run");
        assert_eq!(run.failed_stage(), Some(1));
    }

    #[test]
    fn a_plain_job_keeps_its_independent_branches() {
        // Two chains: a → b and x → y.
        let g = graph(&[("a", &[]), ("b", &["a"]), ("x", &[]), ("y", &["x"])]);
        let mut run = JobRun::new(&g, false);
        assert_eq!(drain(&mut run), [0, 2]);
        run.on_stage_failed(0);
        assert_eq!(run.stage_state(1), StageState::Cancelled);
        assert_eq!(drain(&mut run), [0usize; 0]);
        run.on_stage_completed(2);
        assert_eq!(
            drain(&mut run),
            [3],
            "the independent branch starts after the failure"
        );
        assert!(!run.is_finished());
        run.on_stage_completed(3);
        assert!(run.is_finished());
        assert_eq!(run.state(), JobState::Failed);
        assert_eq!(run.stages_completed(), 2);
        assert_eq!(
            run.poll_compensation(),
            None,
            "a plain job compensates nothing"
        );
    }

    #[test]
    fn a_saga_compensates_in_exact_reverse_completion_order() {
        // a → {b, c, d} → e. c completes, d fails while b still runs; b then
        // completes after the failure and is compensated like the others.
        let g = graph(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["a"]),
            ("e", &["b", "c", "d"]),
        ]);
        let mut run = JobRun::new(&g, true);
        assert_eq!(drain(&mut run), [0]);
        run.on_stage_completed(0);
        assert_eq!(drain(&mut run), [1, 2, 3]);
        run.on_stage_completed(2);
        run.on_stage_failed(3);
        assert_eq!(run.state(), JobState::Compensating);
        assert_eq!(run.stage_state(4), StageState::Cancelled);
        assert_eq!(drain(&mut run), [0usize; 0], "a failed saga starts nothing");
        assert_eq!(run.poll_compensation(), None, "b is still running");
        run.on_stage_completed(1);
        assert_eq!(run.completion_order(), [0, 2, 1]);
        let mut undone = Vec::new();
        while let Some(s) = run.poll_compensation() {
            assert_eq!(run.poll_compensation(), None, "one at a time");
            undone.push(s);
            run.on_compensated(s);
        }
        assert_eq!(undone, [1, 2, 0]);
        assert_eq!(run.compensations_run(), [1, 2, 0]);
        assert!(run.is_finished());
        assert_eq!(run.state(), JobState::Compensated);
    }

    #[test]
    fn a_failing_compensation_ends_the_saga_failed() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
        let mut run = JobRun::new(&g, true);
        for s in [0, 1] {
            assert_eq!(drain(&mut run), [s]);
            run.on_stage_completed(s);
        }
        assert_eq!(drain(&mut run), [2]);
        run.on_stage_failed(2);
        assert_eq!(run.poll_compensation(), Some(1));
        run.on_compensation_failed(1);
        assert!(run.is_finished());
        assert_eq!(run.state(), JobState::Failed);
        assert_eq!(run.poll_compensation(), None, "a is never compensated");
        assert_eq!(run.compensations_run(), [0usize; 0]);
    }

    #[test]
    fn a_saga_with_nothing_completed_ends_compensated() {
        let g = graph(&[("a", &[]), ("b", &["a"])]);
        let mut run = JobRun::new(&g, true);
        assert_eq!(drain(&mut run), [0]);
        run.on_stage_failed(0);
        assert!(run.is_finished());
        assert_eq!(run.state(), JobState::Compensated);
        assert_eq!(run.stage_state(1), StageState::Cancelled);
        assert_eq!(run.poll_compensation(), None);
    }

    #[test]
    fn a_saga_that_completes_is_completed() {
        let mut run = JobRun::new(&diamond(), true);
        while let Some(s) = run.poll_ready() {
            run.on_stage_completed(s);
        }
        assert_eq!(run.state(), JobState::Completed);
        assert_eq!(run.compensations_run(), [0usize; 0]);
    }

    #[test]
    fn an_empty_job_is_completed() {
        let g = graph(&[]);
        assert!(g.is_empty());
        let mut run = JobRun::new(&g, true);
        assert_eq!(run.poll_ready(), None);
        assert_eq!(run.state(), JobState::Completed);
    }

    #[test]
    #[should_panic(expected = "stage 1 (`b`) reported completed but it is not running")]
    fn reporting_a_stage_that_is_not_running_is_a_bug() {
        let mut run = JobRun::new(&diamond(), false);
        run.on_stage_completed(1);
    }

    /// A job spec: `(name, after-names)` in declaration order.
    type Spec = Vec<(String, Vec<String>)>;

    fn build(spec: &Spec) -> Result<Graph, GraphError> {
        let afters: Vec<Vec<&str>> = spec
            .iter()
            .map(|(_, a)| a.iter().map(String::as_str).collect())
            .collect();
        let stages: Vec<(&str, &[&str])> = spec
            .iter()
            .zip(&afters)
            .map(|((name, _), a)| (name.as_str(), a.as_slice()))
            .collect();
        Graph::new(&stages)
    }

    /// A random DAG of 1–11 stages `s0…`: `sj` waits for `si` (i < j) with
    /// probability density/4, declared in a shuffled order.
    fn dag(min: usize) -> impl Strategy<Value = Spec> {
        (min..12usize, 0u8..4)
            .prop_flat_map(|(n, density)| {
                (
                    proptest::collection::vec(0u8..4, n * n),
                    Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                    Just(density),
                )
            })
            .prop_map(|(draws, order, density)| {
                let n = order.len();
                order
                    .iter()
                    .map(|&j| {
                        let after = (0..j)
                            .filter(|&i| draws[i * n + j] < density)
                            .map(|i| format!("s{i}"))
                            .collect();
                        (format!("s{j}"), after)
                    })
                    .collect()
            })
    }

    /// Drive `run` to the end: `choices` pick which running stage reports
    /// next and whether it (or a compensation) fails (one in four); when they
    /// run out, the first running stage succeeds. Checks the invariants on
    /// the way and returns the completion order and compensations run.
    fn simulate(
        g: &Graph,
        run: &mut JobRun,
        choices: &[u8],
    ) -> Result<(Vec<usize>, Vec<usize>), TestCaseError> {
        let n = g.len();
        let mut choices = choices.iter().copied().chain(std::iter::repeat(1));
        let mut started = vec![false; n];
        let mut running: Vec<usize> = Vec::new();
        let mut completed = Vec::new();
        let mut compensated = Vec::new();
        let mut failed = false;
        let mut steps = 0;
        while !run.is_finished() {
            steps += 1;
            prop_assert!(steps <= 2 * n + 2, "no progress: {:?}", run.state());
            prop_assert_eq!(
                run.state(),
                if failed && run.is_saga() {
                    JobState::Compensating
                } else {
                    JobState::Running
                }
            );
            while let Some(s) = run.poll_ready() {
                prop_assert!(!started[s], "stage {} returned twice", s);
                prop_assert!(!(failed && run.is_saga()), "a failed saga started {}", s);
                for &d in g.after(s) {
                    prop_assert_eq!(run.stage_state(d), StageState::Completed);
                }
                prop_assert_eq!(run.stage_state(s), StageState::Running);
                started[s] = true;
                running.push(s);
            }
            if let Some(c) = run.poll_compensation() {
                prop_assert!(running.is_empty(), "compensating while stages run");
                prop_assert_eq!(run.poll_compensation(), None);
                if choices.next().unwrap() % 4 == 0 {
                    run.on_compensation_failed(c);
                } else {
                    run.on_compensated(c);
                    compensated.push(c);
                }
                continue;
            }
            prop_assert!(!running.is_empty(), "stuck: {:?}", run.state());
            let r = choices.next().unwrap();
            let s = running.remove(usize::from(r / 4) % running.len());
            if r % 4 == 0 {
                failed = true;
                run.on_stage_failed(s);
            } else {
                completed.push(s);
                run.on_stage_completed(s);
            }
        }
        prop_assert!(running.is_empty());
        prop_assert_eq!(run.poll_ready(), None);
        prop_assert_eq!(run.poll_compensation(), None);
        Ok((completed, compensated))
    }

    proptest! {
        #[test]
        fn random_jobs_end_in_one_final_state(
            spec in dag(1),
            saga in any::<bool>(),
            choices in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let g = build(&spec).unwrap();
            let n = g.len();
            // The graph is the spec.
            for (i, (name, after)) in spec.iter().enumerate() {
                prop_assert_eq!(g.name(i), name.as_str());
                let names: Vec<&str> = g.after(i).iter().map(|&j| g.name(j)).collect();
                prop_assert_eq!(names, after.iter().map(String::as_str).collect::<Vec<_>>());
            }
            let mut run = JobRun::new(&g, saga);
            let (completed, compensated) = simulate(&g, &mut run, &choices)?;

            let states: Vec<StageState> = (0..n).map(|i| run.stage_state(i)).collect();
            prop_assert!(states.iter().all(|s| s.is_final()), "{:?}", states);
            prop_assert!(run.state().is_final());
            prop_assert_eq!(run.completion_order(), &completed[..]);
            prop_assert_eq!(run.stages_completed(), completed.len());
            for (i, s) in states.iter().enumerate() {
                prop_assert_eq!(*s == StageState::Completed, completed.contains(&i));
            }
            let any_failed = states.contains(&StageState::Failed);
            prop_assert_eq!(run.failed_stage().is_some(), any_failed);
            let reverse: Vec<usize> = completed.iter().rev().copied().collect();
            match (saga, any_failed) {
                (_, false) => {
                    prop_assert_eq!(run.state(), JobState::Completed);
                    prop_assert_eq!(completed.len(), n);
                    prop_assert!(compensated.is_empty());
                }
                (false, true) => {
                    prop_assert_eq!(run.state(), JobState::Failed);
                    prop_assert!(compensated.is_empty());
                    // Cancelled exactly when something upstream failed.
                    let mut doomed = vec![false; n];
                    for i in g.topo_order() {
                        doomed[i] = g.after(i).iter().any(|&d| {
                            doomed[d] || states[d] == StageState::Failed
                        });
                        prop_assert_eq!(doomed[i], states[i] == StageState::Cancelled, "stage {}", i);
                    }
                }
                (true, true) => {
                    prop_assert_eq!(run.compensations_run(), &compensated[..]);
                    match run.state() {
                        JobState::Compensated => prop_assert_eq!(&compensated, &reverse),
                        JobState::Failed => {
                            prop_assert!(compensated.len() < reverse.len());
                            prop_assert_eq!(&compensated[..], &reverse[..compensated.len()]);
                        }
                        other => prop_assert!(false, "a failed saga ended {:?}", other),
                    }
                }
            }
        }

        #[test]
        fn a_back_edge_is_always_rejected_as_a_real_cycle(
            spec in dag(2),
            pick in any::<(usize, usize)>(),
        ) {
            let mut spec = spec;
            let n = spec.len();
            let i = pick.0 % (n - 1);
            let j = i + 1 + pick.1 % (n - 1 - i);
            let (si, sj) = (format!("s{i}"), format!("s{j}"));
            let at = |name: &str, spec: &Spec| spec.iter().position(|(s, _)| s == name).unwrap();
            // Force si → sj, then add the back edge sj → si.
            let pj = at(&sj, &spec);
            if !spec[pj].1.contains(&si) {
                spec[pj].1.push(si.clone());
            }
            let pi = at(&si, &spec);
            spec[pi].1.push(sj.clone());

            let Err(GraphError::Cycle(c)) = build(&spec) else {
                return Err(TestCaseError::fail("not rejected as a cycle"));
            };
            prop_assert_eq!(build(&spec), Err(GraphError::Cycle(c.clone())), "deterministic");
            prop_assert!(c.len() >= 2);
            prop_assert_eq!(c.first(), c.last());
            let on: Vec<usize> = c.iter().map(|name| at(name, &spec)).collect();
            let body = &on[..on.len() - 1];
            let mut distinct = body.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), body.len(), "a simple cycle: {:?}", c);
            for w in c.windows(2) {
                let later = &spec[at(&w[1], &spec)].1;
                prop_assert!(later.contains(&w[0]), "{} does not wait for {}", &w[1], &w[0]);
            }
            // It starts at the first-declared stage that lies on any cycle.
            let reaches_itself = |s: usize| {
                let mut seen = vec![false; n];
                let mut stack = vec![s];
                while let Some(u) = stack.pop() {
                    for (v, (_, after)) in spec.iter().enumerate() {
                        if after.contains(&spec[u].0) {
                            if v == s {
                                return true;
                            }
                            if !seen[v] {
                                seen[v] = true;
                                stack.push(v);
                            }
                        }
                    }
                }
                false
            };
            let first = (0..n).find(|&s| reaches_itself(s));
            prop_assert_eq!(Some(on[0]), first);
        }
    }
}
