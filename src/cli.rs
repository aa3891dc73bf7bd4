//! The command line: clap types (parse), then a checked plan (validate),
//! then the run. Exit codes: 0 success, 1 a run worked but a check failed,
//! 2 usage, scenario or I/O error.
//!
//! Every subcommand's `--help` ends with an "Examples:" block, and the
//! top-level `--help` lists the exit codes. `--version` carries the git
//! commit when built from a checkout (`build.rs` sets `FLEETSIM_VERSION`);
//! no report writes it. `completions` and `man` print shell completions
//! (clap_complete) and the roff man page (clap_mangen) from these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::discovery::balancer::Strategy;
use crate::results::shard::{Shard, Vary};
use crate::scenario::Override;

#[derive(Debug, Parser)]
#[command(
    name = "fleetsim",
    version = env!("FLEETSIM_VERSION"),
    about = "Deterministic discrete-event simulator and benchmark harness for fleets of service agents",
    after_help = "Run `fleetsim run` to simulate the built-in steady-load scenario, `fleetsim list` for what is built in.

Exit codes:
  0  success
  1  the runs worked but a check failed (`fleetsim check` found a regression), or
     `fleetsim verify` found an output directory incomplete or changed, or
     `fleetsim swarm` found a seed that broke an invariant, or
     `fleetsim diff` (or `run --check-determinism`) found a difference
  2  usage, scenario or I/O error

Examples:
  fleetsim run
  fleetsim run scenarios/partition.toml --replications 10
  fleetsim compare steady_load --strategies p2c,round_robin,least_connections
  fleetsim check steady_load partition --baseline reports/baselines"
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
    #[command(
        after_help = "Exits 2 if any scenario is invalid, after printing every error.

Examples:
  fleetsim validate scenarios/*.toml
  fleetsim validate steady_load my_fleet.toml"
    )]
    Validate {
        /// Scenario files (or built-in names).
        #[arg(required = true)]
        scenarios: Vec<String>,
    },
    /// List built-in scenarios, balancer strategies, distributions and arrival processes.
    #[command(after_help = "Examples:
  fleetsim list
  fleetsim list | grep -A8 'Balancer strategies'")]
    List,
    /// Compare scenarios' key metrics with committed baselines; exit 1 on a regression.
    Check(CheckArgs),
    /// Fit distributions to a column of logged durations and print the service_time line to paste.
    Fit(FitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    #[command(after_help = "Examples:
  fleetsim completions bash > ~/.local/share/bash-completion/completions/fleetsim
  fleetsim completions zsh > ~/.zfunc/_fleetsim     # with fpath+=(~/.zfunc) before compinit
  fleetsim completions fish > ~/.config/fish/completions/fleetsim.fish
  fleetsim completions powershell >> $PROFILE")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(after_help = "Examples:
  fleetsim man > fleetsim.1 && man ./fleetsim.1
  fleetsim man | sudo tee /usr/local/share/man/man1/fleetsim.1 > /dev/null")]
    Man,
    /// Print the JSON Schema of scenario files (for editor completion and validation).
    #[command(
        after_help = "Save it and point your editor at it, e.g. a `#:schema ./scenario.schema.json` line \
at the top of a scenario file (taplo, Even Better TOML).

Examples:
  fleetsim schema > scenario.schema.json
  fleetsim schema | python3 -m json.tool | less"
    )]
    Schema,
    /// Check that an output directory is complete and unchanged: every file against its manifest.json.
    Verify(VerifyArgs),
    /// Swarm testing: run random scenarios, each twice, and check the simulator's invariants.
    Swarm(SwarmArgs),
    /// Run two variants of a scenario on one seed and name the first event where they differ.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Cells are plain numbers (seconds, or --unit), or durations with a unit as in scenario files (\"12ms\", \"1.5s\"). \
Fits constant, exponential, lognormal, gamma, weibull and pareto by maximum likelihood, ranks them by the \
Kolmogorov-Smirnov distance (AIC and its rank shown beside), lists the empirical distribution last, and prints the \
best family's TOML. Writes fit.csv and fit_cdf.svg/.png (one chart per group with --by) into --out. \
A bad row exits 2 naming the file, line and column.

Examples:
  fleetsim fit durations.csv --column duration_s
  fleetsim fit access.csv --column latency_ms --unit ms --by tier --out reports/fit-access"
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
#[command(
    after_help = "Runs each scenario, compares its key metrics with <baseline>/<scenario name>.csv within the \
tolerances and prints a markdown table; exits 1 if any metric moved past its tolerance or the scenario changed \
(a different scenario hash), 0 otherwise.

Examples:
  fleetsim check steady_load partition scenarios/api_gateway_replay.toml --baseline reports/baselines
  fleetsim check steady_load --baseline reports/baselines --tolerance latency_p99_ms=5%,success_rate=0.5
  fleetsim check steady_load --baseline reports/baselines --update"
)]
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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
    pub replications: u32,
    /// Also write the markdown report to this file (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The most replications (or runs per sweep point) a command accepts.
pub const MAX_REPLICATIONS: u32 = 100_000;

/// `--max-events` and `--max-memory`: a run whose estimated cost is over
/// either is refused before it starts (exit 2), naming the keys that drive
/// it.
#[derive(Debug, Args, Clone, Copy)]
pub struct LimitArgs {
    /// Refuse a plan estimated to process more events than this (all runs together), e.g. 5e9.
    #[arg(long, value_name = "N", default_value = "1e9", value_parser = parse_count)]
    pub max_events: u64,
    /// Refuse a plan estimated to need more memory than this (runs in parallel, plus results), e.g. 16GiB, 500MB or plain bytes.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = crate::scenario::cost::parse_bytes)]
    pub max_memory: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> crate::scenario::cost::Limits {
        crate::scenario::cost::Limits {
            max_events: self.max_events,
            max_memory: self.max_memory,
        }
    }
}

/// A count written as an integer or in scientific notation (`5e9`).
fn parse_count(s: &str) -> Result<u64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number; e.g. 1000000000 or 1e9"))?;
    if !x.is_finite() || x < 1.0 || x > u64::MAX as f64 {
        return Err(format!("`{s}`: must be at least 1"));
    }
    Ok(x as u64)
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
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "--batch-means [K] splits each run's completed tasks (after the warm-up, in completion order) \
into K non-overlapping batches (default 20) and prints the 95% CI of the mean latency from the batch means, with the \
lag-1 autocorrelation of the batch means and a warning when it exceeds 1.96/sqrt(K); written to batch_means.csv. \
--target-ci runs replications in batches of 10 and stops at the first multiple of 10 where every target's 95% \
half-width is met (relative: 2%; absolute in the metric's unit: 5ms, or 0.1pp for rates), or at --max-replications; \
written to target_ci.csv. Replication i always runs on the same seed, so the files do not depend on --jobs.

Examples:
  fleetsim run
  fleetsim run scenarios/partition.toml --replications 10 --out reports/partition-10
  fleetsim run steady_load --seed 7 --set dispatch.workers=8 --set balancer.strategy=round_robin
  fleetsim run mm1 --batch-means --set duration=\"20000s\"
  fleetsim run steady_load --target-ci p99=2%,success_rate=0.1pp --max-replications 300
  fleetsim run agent_failures --events --events-kind done,breaker_timer --events-window 20s..40s
  fleetsim run steady_load --records --records-sample 100
  fleetsim run my_fleet.toml --check-determinism"
)]
pub struct RunArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: Option<String>,
    /// Report directory [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Independent replications (seeds derived from the root seed), run in parallel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
    pub replications: u32,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Batch-means 95% CI of the mean latency within each run, in K batches (default 20; Law: 10 to 30).
    #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "20", value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub batch_means: Option<u32>,
    /// Add replications until every 95% half-width is met, e.g. p99=2%,success_rate=0.1pp (metric names as in summary.csv; p50/p95/p99/p999/mean for latencies).
    #[arg(long, value_name = "METRIC=WIDTH,..", conflicts_with = "replications")]
    pub target_ci: Vec<String>,
    /// With --target-ci, stop after this many replications even if a target is not met.
    #[arg(long, value_name = "N", default_value_t = crate::stats::target::DEFAULT_MAX, requires = "target_ci", value_parser = clap::value_parser!(u32).range(2..=MAX_REPLICATIONS as i64))]
    pub max_replications: u32,
    /// Worker threads [default: one per core, or one for a single replication]; the files do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Run the scenario twice (seed of replication 0) and report the first event that differs, if any; writes no report (exit 1 on a difference).
    #[arg(long)]
    pub check_determinism: bool,
}

/// `--events` and `--records` and their filters (on `run`).
#[derive(Debug, Args, Clone)]
pub struct TraceArgs {
    /// Write the event log: one row per event handled, with the decisions taken [default name: events.csv].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "events.csv", value_parser = plain_csv_name, conflicts_with_all = ["target_ci", "batch_means"])]
    pub events: Option<String>,
    /// Only these event kinds, comma-separated (e.g. done,breaker_timer; an unknown one is refused with the list).
    #[arg(long, value_name = "KIND,..", value_delimiter = ',', value_parser = event_kind, requires = "events")]
    pub events_kind: Vec<String>,
    /// Only events that concern these agents (ids as in agents.csv), comma-separated.
    #[arg(long, value_name = "ID,..", value_delimiter = ',', requires = "events")]
    pub events_agent: Vec<u32>,
    /// Only events in this window of virtual time, FROM..TO (e.g. 20s..40s, ..1m).
    #[arg(long, value_name = "FROM..TO", requires = "events")]
    pub events_window: Option<crate::harness::trace::Window>,
    /// Write per-task records: tasks.csv (or FILE) and attempts.csv [default name: tasks.csv].
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "tasks.csv", value_parser = plain_csv_name, conflicts_with_all = ["target_ci", "batch_means"])]
    pub records: Option<String>,
    /// Only tasks that arrive in this window of virtual time, FROM..TO.
    #[arg(long, value_name = "FROM..TO", requires = "records")]
    pub records_window: Option<crate::harness::trace::Window>,
    /// Only tasks whose number is a multiple of N (a 1-in-N sample).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), requires = "records")]
    pub records_sample: u64,
}

impl TraceArgs {
    pub fn options(&self) -> crate::harness::trace::TraceOptions {
        use crate::harness::trace::{EventFilter, RecordFilter, TraceOptions, Window};
        TraceOptions {
            events: self.events.clone().map(|f| {
                (
                    f,
                    EventFilter {
                        kinds: self.events_kind.clone(),
                        agents: self.events_agent.clone(),
                        window: self.events_window.unwrap_or(Window::ALL),
                    },
                )
            }),
            records: self.records.clone().map(|f| {
                (
                    f,
                    RecordFilter {
                        window: self.records_window.unwrap_or(Window::ALL),
                        sample: self.records_sample,
                    },
                )
            }),
        }
    }
}

/// A file name in the report directory, ending in .csv, not one of the
/// files a run writes anyway.
fn plain_csv_name(s: &str) -> Result<String, String> {
    let mut taken = crate::report::csv::RUN_FILES.to_vec();
    taken.extend(["jobs.csv", "tiers.csv", crate::harness::trace::ATTEMPTS]);
    if s.contains(['/', '\\']) || !s.ends_with(".csv") || s.len() <= 4 {
        return Err(format!(
            "`{s}`: a file name ending in .csv, written in the report directory (--out)"
        ));
    }
    if taken.contains(&s) {
        return Err(format!(
            "`{s}`: the run writes that file already; pick another name"
        ));
    }
    Ok(s.to_string())
}

/// An event kind's name.
fn event_kind(s: &str) -> Result<String, String> {
    let kinds = crate::world::Event::KINDS;
    if kinds.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown event kind `{s}`; one of {}",
            kinds.join(", ")
        ))
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Side A is the scenario with the --set overrides; side B the same with the --vs overrides \
applied after them, or the second scenario file; or, with --against DIR, side A is the event log recorded in \
DIR/events.csv (by `fleetsim run SCENARIO --events --out DIR`, with no event filter) and side B a run of the scenario \
now, e.g. after a code change. Both run on one seed (the scenario's, or --seed). \
Prints the first event whose row in the event log differs (its number, virtual time, kind, the task and its \
history so far, what each side decided, and the breaker, health and balancer state of the agents involved \
after it), then how far the runs diverge afterwards: the events differing per second of virtual time.

Exit codes: 0 no difference, 1 a difference (printed), 2 usage, scenario or I/O error.

Examples:
  fleetsim diff agent_failures --set breaker.failure_threshold=5 --vs breaker.failure_threshold=3
  fleetsim diff steady_load --vs balancer.strategy=round_robin --seed 7
  fleetsim diff old.toml new.toml
  fleetsim diff agent_failures --against reports/agent_failures-events"
)]
pub struct DiffArgs {
    /// A scenario (file or built-in name), or two scenario files to compare.
    #[arg(required = true, num_args = 1..=2, value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Side B's overrides, applied after --set (repeatable), e.g. --vs breaker.failure_threshold=3.
    #[arg(long = "vs", value_name = "KEY=VALUE")]
    pub vs: Vec<Override>,
    /// Compare a run of the scenario with the event log recorded in DIR (DIR/events.csv from `fleetsim run --events --out DIR`, unfiltered).
    #[arg(long, value_name = "DIR", conflicts_with = "vs")]
    pub against: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Replication r of every strategy uses the same seed, so every strategy sees the same tasks. \
Each strategy is set after the --set overrides. \
Writes summary.csv, agents.csv, timeseries.csv, bus.csv and perf.csv over all runs (strategy, then replication) \
and comparison.csv: per strategy and key metric, mean ± 95% CI and the paired difference against the first strategy.

Examples:
  fleetsim compare steady_load --strategies p2c,round_robin,least_connections
  fleetsim compare scenarios/cascade.toml --strategies p2c,peak_ewma --replications 30 --seed 1"
)]
pub struct CompareArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: String,
    /// Balancer strategies to compare, comma-separated; the first is the baseline of the differences.
    #[arg(long, required = true, value_delimiter = ',', value_name = "A,B,..")]
    pub strategies: Vec<Strategy>,
    /// Replications per strategy (seeds derived from the root seed; replication 0 is the seed itself).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
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
With --shard I/N only the runs with index ≡ I (mod N) run, and shard.csv records the sweep for `fleetsim merge`.

Examples:
  fleetsim sweep steady_load --vary dispatch.workers=4,8,16 --vary balancer.strategy=p2c,round_robin --replications 5
  fleetsim sweep steady_load --vary dispatch.workers=4,8,16 --replications 5 --shard 0/4 --out shards/0"
)]
pub struct SweepArgs {
    /// A scenario file, or the name of a built-in scenario.
    pub scenario: String,
    /// A key and the values it takes, e.g. --vary balancer.strategy=p2c,round_robin (repeat for more keys).
    #[arg(long, required = true, value_name = "KEY=V1,V2,..")]
    pub vary: Vec<Vary>,
    /// Replications per grid point.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
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
in the same order; then the sweep page (report.html), its charts and results.json, drawn from the merged \
summary.csv, so also byte for byte the unsharded sweep's.

Examples:
  fleetsim merge shards/0 shards/1 shards/2 shards/3 --out reports/steady_load/sweep
  fleetsim merge reports/steady_load/sweep-shard-*-of-4 --out reports/steady_load/sweep"
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

#[derive(Debug, Args)]
#[command(
    after_help = "Every command that writes a directory (run, compare, sweep, merge, fit) builds it beside --out \
and puts it in place only when every file is written, with manifest.json last: each file's size, SHA-256 and, \
for a CSV, its number of data rows. verify re-reads them all and also refuses files the manifest does not list \
(subdirectories other than charts/ are other outputs and are skipped).

Exits 0 when everything matches; 1 naming the first mismatch (a missing manifest, a missing, changed or \
unlisted file); 2 when DIR does not exist or cannot be read.

Examples:
  fleetsim verify reports/steady_load
  fleetsim verify shards/* && fleetsim merge shards/* --out reports/steady_load/sweep"
)]
pub struct VerifyArgs {
    /// Output directories to check.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Each seed draws a random but valid scenario (a random subset of the features: tiers, every \
arrival process, faults of every kind, network loss, breakers, health, retries, jobs, sagas, the bus and broker, \
calls between tiers, the dispatcher, autoscaling), runs it twice and checks: task, message and call conservation, \
no event before now, legal breaker and health transitions, gauges in bounds, and byte-identical CSVs between the \
two runs. A failed seed prints its breaches and the command that reruns it alone. Exits 1 if any seed failed, \
0 otherwise.

Examples:
  fleetsim swarm --seeds 300
  fleetsim swarm --seeds 100000 --start 1000000 --jobs 8
  fleetsim swarm --seeds 1 --start 4242 --save swarm-failures && fleetsim run swarm-failures/swarm-4242.toml"
)]
pub struct SwarmArgs {
    /// How many seeds (scenarios) to run.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Worker threads [default: one per core]; the findings do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Write the scenario (and trace file) of every failed seed into DIR as swarm-SEED.toml; with --seeds 1, the seed's scenario whatever happens.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Print only the failures and the totals line.
    #[arg(long)]
    pub quiet: bool,
}
