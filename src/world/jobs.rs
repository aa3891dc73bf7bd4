//! Dependency-graph jobs in the world: a job arrives, its ready stages fan
//! out into tasks on the agents with the stage's capability, and the
//! [`JobRun`] state machine decides what follows each stage's end — the
//! stages that become ready, the cancellation of the dependents of a failed
//! stage, or (sagas) the compensations, run one at a time as tasks on the
//! agents with the stage's `compensate` capability.
//!
//! A stage completes when all its tasks complete; it fails when one of its
//! tasks ends any other way (after its retries). Later outcomes of a failed
//! stage's other tasks are recorded as tasks but do not change the job. A
//! stage without `compensate` has nothing to undo: its compensation
//! succeeds at once.
//!
//! A stage with `work` gives task `i` the amount at quantile
//! `unit_at(seed, i)`, the seed mixed from the job's own draw (from the
//! `work_amount/jobs/NAME` stream, in job arrival order) and the stage
//! index: the same task gets the same amount under every strategy. A job's
//! `work` sums its completed stages' tasks' amounts.

use super::{Given, NO_JOB, Task, World};
use crate::metrics::{JobOutcome, JobRecord, Outcome};
use crate::orchestration::dag::{JobRun, JobState, StageState};
use crate::rng::{splitmix64, unit_at};
use crate::scenario::Scenario;
use crate::time::Instant;

/// One job in progress.
struct Live {
    id: u64,
    kind: u32,
    arrival: Instant,
    run: JobRun,
    /// Tasks of each running stage not yet completed.
    remaining: Vec<u32>,
    /// Names the work amounts its stages' tasks draw (`rng::unit_at`).
    work_seed: u64,
    /// Work of each stage's completed tasks, and of its completed stages.
    stage_work: Vec<f64>,
    work: f64,
}

/// Every job of a run: live ones in a slab, finished ones as records.
#[derive(Default)]
pub(super) struct Jobs {
    live: Vec<Option<Live>>,
    free: Vec<u32>,
    next_id: u64,
    done: Vec<JobRecord>,
}

impl Jobs {
    /// The records of every job, in arrival order; jobs still live at `end`
    /// are cancelled.
    pub(super) fn finish(&mut self, end: Instant) -> Vec<JobRecord> {
        for j in self.live.iter_mut().filter_map(Option::take) {
            self.done.push(JobRecord {
                id: j.id,
                kind: j.kind,
                arrival: j.arrival,
                end,
                outcome: JobOutcome::Cancelled,
                stages_completed: j.run.stages_completed() as u32,
                compensations: j.run.compensations_run().len() as u32,
                work: j.work,
            });
        }
        let mut out = std::mem::take(&mut self.done);
        out.sort_by_key(|r| r.id);
        out
    }
}

impl World<'_> {
    pub(super) fn start_job(&mut self, now: Instant, kind: u32, work_seed: u64) {
        let job = &self.sc.workload.jobs[kind as usize];
        let live = Live {
            id: self.jobs.next_id,
            kind,
            arrival: now,
            run: JobRun::new(&job.graph, job.saga),
            remaining: vec![0; job.stages.len()],
            work_seed,
            stage_work: vec![0.0; job.stages.len()],
            work: 0.0,
        };
        self.jobs.next_id += 1;
        let j = match self.jobs.free.pop() {
            Some(j) => {
                self.jobs.live[j as usize] = Some(live);
                j
            }
            None => {
                self.jobs.live.push(Some(live));
                (self.jobs.live.len() - 1) as u32
            }
        };
        debug_assert_ne!(j, NO_JOB);
        self.advance_job(now, j);
    }

    fn job(&mut self, j: u32) -> &mut Live {
        self.jobs.live[j as usize]
            .as_mut()
            .expect("tasks of a finished job have all ended")
    }

    /// Start what is ready, run the next compensation, or close the job.
    fn advance_job(&mut self, now: Instant, j: u32) {
        let sc: &Scenario = self.sc;
        loop {
            let kind = self.job(j).kind as usize;
            if let Some(stage) = self.job(j).run.poll_ready() {
                let st = &sc.workload.jobs[kind].stages[stage];
                let route =
                    Scenario::route_of(&self.route_caps, st.capability.as_deref(), &st.tags);
                self.job(j).remaining[stage] = st.tasks;
                // Task `i` of a stage draws the same amount whatever the
                // order stages and tasks ran in (common random numbers).
                let stage_seed = {
                    let mut state = self.job(j).work_seed.wrapping_add(stage as u64);
                    splitmix64(&mut state)
                };
                for i in 0..st.tasks {
                    // A task failing inline (no agent) may fail the stage
                    // while it fans out: stop spawning then.
                    if self.jobs.live[j as usize]
                        .as_ref()
                        .is_none_or(|l| l.run.stage_state(stage) != StageState::Running)
                    {
                        break;
                    }
                    let given = Given {
                        priority: None,
                        work: st.work.as_ref().map(|w| w.quantile(unit_at(stage_seed, i))),
                    };
                    self.submit(now, route, j, stage as u16, false, given);
                }
                if self.jobs.live[j as usize].is_none() {
                    return;
                }
                continue;
            }
            if let Some(stage) = self.job(j).run.poll_compensation() {
                match &sc.workload.jobs[kind].stages[stage].compensate {
                    None => self.job(j).run.on_compensated(stage),
                    Some(cap) => {
                        let route = Scenario::route_of(&self.route_caps, Some(cap), &[]);
                        self.submit(now, route, j, stage as u16, true, Given::default());
                        if self.jobs.live[j as usize].is_none() {
                            return;
                        }
                    }
                }
                continue;
            }
            break;
        }
        let live = self.job(j);
        if !live.run.is_finished() {
            return;
        }
        let outcome = match live.run.state() {
            JobState::Completed => JobOutcome::Completed,
            JobState::Compensated => JobOutcome::Compensated,
            JobState::Failed => JobOutcome::Failed,
            s => unreachable!("a finished job is not {s:?}"),
        };
        let live = self.jobs.live[j as usize].take().expect("checked above");
        self.jobs.done.push(JobRecord {
            id: live.id,
            kind: live.kind,
            arrival: live.arrival,
            end: now,
            outcome,
            stages_completed: live.run.stages_completed() as u32,
            compensations: live.run.compensations_run().len() as u32,
            work: live.work,
        });
        self.jobs.free.push(j);
    }

    /// The id of the job in slot `j` (0 for `NO_JOB`).
    pub(super) fn job_id(&self, j: u32) -> u64 {
        match self.jobs.live.get(j as usize) {
            Some(Some(live)) if j != NO_JOB => live.id,
            _ => 0,
        }
    }

    /// `task`, of a job, ended, having done `work` (0 unless completed).
    /// Ignored if its job has ended: a failed stage ends its job while the
    /// stage's other tasks run on, and the slot may hold a newer job by the
    /// time they end.
    pub(super) fn job_task_ended(
        &mut self,
        now: Instant,
        task: &Task,
        outcome: Outcome,
        work: f64,
    ) {
        let (stage, compensation) = (task.stage as usize, task.compensation);
        let Some(live) = self.jobs.live[task.job as usize].as_mut() else {
            return;
        };
        if live.id != task.job_id {
            return;
        }
        let ok = outcome == Outcome::Completed;
        if compensation {
            if ok {
                live.run.on_compensated(stage);
            } else {
                live.run.on_compensation_failed(stage);
            }
        } else {
            if live.run.stage_state(stage) != StageState::Running {
                return;
            }
            if ok {
                live.remaining[stage] -= 1;
                live.stage_work[stage] += work;
                if live.remaining[stage] > 0 {
                    return;
                }
                live.work += live.stage_work[stage];
                live.run.on_stage_completed(stage);
            } else {
                live.run.on_stage_failed(stage);
            }
        }
        self.advance_job(now, task.job);
    }
}
