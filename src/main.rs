//! `fleetsim`: parse arguments, run, map the outcome to an exit code
//! (0 ok, 1 a check failed, 2 usage, scenario or I/O error).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use fleetsim::cli::{Cli, Command, RunArgs};
use fleetsim::discovery::balancer::Strategy;
use fleetsim::harness;
use fleetsim::rng::Seed;
use fleetsim::scenario::{self, ScenarioError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => {
            list();
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let spec = args.scenario.as_deref().unwrap_or("steady_load");
    let mut sc = scenario::load(spec, &args.set)?;
    if let Some(seed) = args.seed {
        sc.seed = Seed(seed);
    }
    let runs = harness::run_replications(
        &sc,
        "default",
        args.replications,
        !args.quiet && harness::interactive(),
    );
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| harness::default_out_dir(&sc));
    harness::write_run_reports(&dir, &sc, &runs)
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    if !args.quiet {
        print!("{}", harness::summary_table(&sc, &runs));
        println!(
            "reports: {}/ (report.html, summary.csv, agents.csv, timeseries.csv, perf.csv, charts/)",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(specs: &[String]) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    for spec in specs {
        match scenario::load(spec, &[]) {
            Ok(sc) => println!(
                "ok: {spec} ({}: {}, {}, {} balancing)",
                sc.name,
                plural(u64::from(sc.agent_count()), "agent"),
                plural(sc.tiers.len() as u64, "tier"),
                sc.balancer.strategy
            ),
            Err(
                e @ (ScenarioError::Invalid(_)
                | ScenarioError::Read { .. }
                | ScenarioError::NotFound(_)),
            ) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} scenario(s) invalid", specs.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn list() {
    println!("Built-in scenarios (fleetsim run NAME):");
    for name in scenario::builtin_names() {
        let desc = scenario::load(name, &[])
            .map(|s| s.description)
            .unwrap_or_default();
        println!("  {name:<20} {desc}");
    }
    println!("\nBalancer strategies (balancer.strategy):");
    for s in Strategy::ALL {
        println!("  {:<20} {}", s.as_str(), s.describe());
    }
    println!("\nService-time and latency distributions (dist = ...):");
    println!("  constant    {{ value }}");
    println!("  uniform     {{ min, max }}");
    println!("  exponential {{ mean }}");
    println!("  lognormal   {{ median, p99 }}");
    println!("\nArrival processes (workload.arrivals.process = ...):");
    println!("  poisson     {{ rate }}                          exponential gaps, rate per second");
    println!("  constant    {{ rate }}                          evenly spaced, rate per second");
    println!("  bursts      {{ count, size, every, start?, spread? }}");
}
