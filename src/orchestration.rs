//! Orchestration: the central priority task queue and, as the layer grows,
//! the dependency graph, worker pool, retry policy and saga. Each is a
//! sans-IO component: no clock, no RNG of its own (DESIGN.md).

pub mod task_queue;
