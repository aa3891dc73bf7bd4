//! The command line: clap types (parse), then a checked plan (validate),
//! then the run. Exit codes: 0 success, 1 a run worked but a check failed,
//! 2 usage, scenario or I/O error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::discovery::balancer::Strategy;
use crate::results::shard::{Shard, Vary};
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
    /// Run several balancer strategies on the same seeds (common random numbers) and rank them.
    Compare(CompareArgs),
    /// Run a grid of scenario variants × replications, in parallel or as one shard of many.
    Sweep(SweepArgs),
    /// Combine the directories of sweep shards into what one unsharded sweep writes.
    Merge(MergeArgs),
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
    /// Fit distributions to a column of logged durations and print the service_time line to paste.
    Fit(FitArgs),
    /// Print the JSON Schema of scenario files (for editor completion and validation).
    #[command(
        after_help = "Save it with `fleetsim schema > scenario.schema.json` and point your editor at it, \
e.g. a `#:schema ./scenario.schema.json` line at the top of a scenario file (taplo, Even Better TOML)."
    )]
    Schema,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Cells are plain numbers (seconds, or --unit), or durations with a unit as in scenario files (\"12ms\", \"1.5s\"). \
Fits constant, exponential, lognormal, gamma, weibull and pareto by maximum likelihood, ranks them by the \
Kolmogorov-Smirnov distance (AIC and its rank shown beside), lists the empirical distribution last, and prints the \
best family's TOML. Writes fit.csv and fit_cdf.svg/.png (one chart per group with --by) into --out. \
A bad row exits 2 naming the file, line and column."
)]
pub struct FitArgs {
    /// A CSV log with a header row.
    pub file: PathBuf,
    /// The column of durations.
    #[arg(long)]
    pub column: String,
    /// Fit one distribution per value of this column (e.g. tier or endpoint), in sorted order.
    #[arg(long, value_name = "COLUMN")]
    pub by: Option<String>,
    /// The unit of plain numbers (cells with a unit, like "12ms", keep theirs).
    #[arg(long, default_value = "s", value_parser = ["ns", "us", "ms", "s"])]
    pub unit: String,
    /// Report directory.
    #[arg(long, default_value = "reports/fit")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
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

/// The options of every command that runs a scenario (run, compare, sweep).
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Root seed, overriding the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario key by its dotted path, e.g. --set dispatch.workers=8 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Override>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: Option<String>,
    /// Report directory [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Independent replications (seeds derived from the root seed), run in parallel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: u32,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Replication r of every strategy uses the same seed, so every strategy sees the same tasks. \
Each strategy is set after the --set overrides. \
Writes summary.csv, agents.csv, timeseries.csv, bus.csv and perf.csv over all runs (strategy, then replication) \
and comparison.csv: per strategy and key metric, mean ± 95% CI and the paired difference against the first strategy."
)]
pub struct CompareArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: String,
    /// Balancer strategies to compare, comma-separated; the first is the baseline of the differences.
    #[arg(long, required = true, value_delimiter = ',', value_name = "A,B,..")]
    pub strategies: Vec<Strategy>,
    /// Replications per strategy (seeds derived from the root seed; replication 0 is the seed itself).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: u32,
    /// Report directory [default: reports/<scenario name>/compare/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The grid is the Cartesian product of the --vary lists, the last key varying fastest. \
Run point·R + r is replication r of grid point `point`, on the seed of replication r (the same at every point). \
Values are TOML as for --set, and a grid point's values are set after the --set overrides; \
commas inside quotes, [arrays] and {inline tables} do not split values. \
With --shard I/N only the runs with index ≡ I (mod N) run, and shard.csv records the sweep for `fleetsim merge`."
)]
pub struct SweepArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: String,
    /// A key and the values it takes, e.g. --vary balancer.strategy=p2c,round_robin (repeat for more keys).
    #[arg(long, required = true, value_name = "KEY=V1,V2,..")]
    pub vary: Vec<Vary>,
    /// Replications per grid point.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: u32,
    /// Worker threads [default: one per core]; the files do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Run only shard I of N: the runs whose index is ≡ I (mod N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Report directory [default: reports/<scenario name>/sweep/, or .../sweep-shard-I-of-N/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Checks that the shards come from the same sweep (scenario hash, seed, grid, \
replications, shard count) and that every shard 0..N-1 is there once, then writes summary.csv, \
agents.csv, timeseries.csv, bus.csv (and jobs.csv) byte for byte as the unsharded sweep would, and perf.csv \
in the same order."
)]
pub struct MergeArgs {
    /// The shards' output directories, in any order.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged reports.
    #[arg(long, required = true)]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}
