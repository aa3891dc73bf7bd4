//! # fleetsim
//!
//! A deterministic discrete-event simulator and benchmark harness for fleets
//! of service agents. A virtual-clock event loop drives the real
//! orchestration and discovery logic against seeded simulated fleets and
//! writes CSV reports.
//!
//! ## The determinism contract
//! - Virtual time is an integer: `u64` nanoseconds ([`time`]).
//! - Events are ordered by `(time, seq)`, FIFO on ties ([`engine`]).
//! - Every random draw comes from a named ChaCha stream derived from the root
//!   seed ([`rng`]); a task's own randomness is drawn where it arises, so
//!   strategies compared on one seed see the same tasks.
//! - No hash-map iteration reaches output; one thread per run, rayon only
//!   across runs, results collected in a fixed order ([`harness`]).
//! - Same scenario + seed ⇒ byte-identical CSVs. Wall-clock figures live
//!   only in `perf.csv`.
//!
//! ## Module map
//! `time`, `rng`, `hist` (HdrHistogram's counts, cheap to record), `text`
//! (decimal digits without the formatter) →
//! components (`orchestration`, `discovery`, `bus`,
//! `fleet`, `workload`, `faults`) → `world` (the only scheduler, on
//! `engine`) → `metrics` (with the registry of metrics) → `stats`,
//! `results` → `report` → `harness` → `cli`. Reports are pure functions of
//! `results`; the harness runs things and calls the reports, never the
//! other way round. Scenarios are parsed and validated in `scenario` before
//! anything runs. Components never import `engine` or `world`: they take
//! `now` as an argument and randomness as a parameter. `fit` (fitting
//! distributions to logged durations, `fleetsim fit`) sits with the
//! results: it reads bytes and returns fits, and `report` draws them.
#![forbid(unsafe_code)]

pub mod bus;
pub mod cli;
pub mod discovery;
pub mod engine;
pub mod faults;
pub mod fit;
pub mod fleet;
pub mod harness;
pub mod hist;
pub mod metrics;
pub mod orchestration;
pub mod report;
pub mod results;
pub mod rng;
pub mod scenario;
pub mod stats;
pub mod text;
pub mod time;
pub mod workload;
pub mod world;
