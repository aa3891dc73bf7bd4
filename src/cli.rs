//! The command line: clap types (parse), then a checked plan (validate),
//! then the run. Exit codes: 0 success, 1 a run worked but a check failed,
//! 2 usage, scenario or I/O error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::scenario::Override;

#[derive(Debug, Parser)]
#[command(
    name = "fleetsim",
    version,
    about = "Deterministic discrete-event simulator and benchmark harness for fleets of service agents",
    after_help = "Run `fleetsim run` to simulate the built-in steady-load scenario, `fleetsim list` for what is built in."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (the built-in steady_load if none is given) and write reports.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (or built-in names).
        #[arg(required = true)]
        scenarios: Vec<String>,
    },
    /// List built-in scenarios, balancer strategies, distributions and arrival processes.
    List,
    /// Compare scenarios' key metrics with committed baselines; exit 1 on a regression.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files (or built-in names).
    #[arg(required = true)]
    pub scenarios: Vec<String>,
    /// Directory of baselines (one `<scenario name>.csv` each), e.g. reports/baselines.
    #[arg(long)]
    pub baseline: PathBuf,
    /// Per-metric tolerances in percent, e.g. latency_p99_ms=5%,success_rate=0.5.
    #[arg(long, value_name = "METRIC=PCT,...")]
    pub tolerance: Vec<String>,
    /// Write fresh baselines instead of checking.
    #[arg(long)]
    pub update: bool,
    /// Replications per scenario (their mean is compared).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: u32,
    /// Also write the markdown report to this file (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: Option<String>,
    /// Report directory [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Root seed, overriding the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any scenario key by its dotted path, e.g. --set balancer.strategy=p2c.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Override>,
    /// Independent replications (seeds derived from the root seed), run in parallel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: u32,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}
