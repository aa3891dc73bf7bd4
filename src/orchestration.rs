//! Orchestration: the central priority task queue, the retry policy and
//! budget, dependency-graph jobs and sagas. Each is a sans-IO component: no
//! clock, no RNG of its own (docs/architecture.md).

pub mod autoscale;
pub mod dag;
pub mod retry;
pub mod saga;
pub mod task_queue;
