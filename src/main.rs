//! `fleetsim`: parse arguments, run, map the outcome to an exit code
//! (0 ok, 1 a check failed, `verify` found a directory incomplete or
//! changed, or `diff` found a difference, 2 usage, scenario or I/O error).

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use fleetsim::cli::{
    CheckArgs, Cli, Command, CompareArgs, DiffArgs, FitArgs, LimitArgs, MergeArgs, RunArgs,
    SwarmArgs, SweepArgs, VerifyArgs,
};
use fleetsim::discovery::balancer::Strategy;
use fleetsim::harness::{self, compare, sweep};
use fleetsim::report;
use fleetsim::rng::Seed;
use fleetsim::scenario::{self, ScenarioError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Sweep(args) => sweep(args),
        Command::Merge(args) => merge(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => {
            list();
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => check(args),
        Command::Fit(args) => fit(args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
        Command::Schema => {
            print!("{}", scenario::schema::json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => Ok(verify(&args)),
        Command::Swarm(args) => swarm(args),
        Command::Diff(args) => diff(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `fleetsim fit`: read the log, fit every group, print the tables and
/// write fit.csv and the CDF charts.
fn fit(args: FitArgs) -> anyhow::Result<ExitCode> {
    use fleetsim::fit;
    let name = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read the log {name}"))?;
    let unit = match args.unit.as_str() {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        _ => 1.0,
    };
    let groups = fit::read_log(&name, &bytes, &args.column, args.by.as_deref(), unit)?;
    let fits: Vec<fit::GroupFit> = groups.iter().map(|(g, xs)| fit::fit_group(g, xs)).collect();
    let staging = report::Staging::begin(&args.out)
        .with_context(|| format!("cannot write reports to {}", args.out.display()))?;
    let dir = staging.dir();
    let write = |file: &str, bytes: &[u8]| {
        report::write_atomic(&dir.join(file), bytes)
            .with_context(|| format!("cannot write {}", args.out.join(file).display()))
    };
    // One suffix per group for its chart and sample file: `-slug`, made
    // unique by the group's index when two slugs collide.
    let mut used = std::collections::BTreeSet::new();
    let mut suffixes = Vec::new();
    for (i, f) in fits.iter().enumerate() {
        let slug: String = f
            .group
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut suffix = if f.group.is_empty() {
            String::new()
        } else {
            format!("-{}", slug.trim_matches('_'))
        };
        if !used.insert(suffix.clone()) {
            suffix = format!("{suffix}-{i}");
            used.insert(suffix.clone());
        }
        suffixes.push(suffix);
    }
    // The empirical line reads the log itself, or with --by a file of the
    // group's own samples (the log mixes every group).
    let mut samples = Vec::new();
    for (f, suffix) in fits.iter().zip(&suffixes) {
        if args.by.is_none() {
            samples.push(fit::SampleFile {
                file: name.clone(),
                column: args.column.clone(),
                unit: (args.unit != "s").then(|| args.unit.clone()),
            });
        } else {
            let file = format!("samples{suffix}.csv");
            write(&file, &fit::sample_csv(&args.column, &f.sorted))?;
            samples.push(fit::SampleFile {
                file: args.out.join(&file).display().to_string(),
                column: args.column.clone(),
                unit: None,
            });
        }
    }
    write("fit.csv", &report::csv::fit(&fits, &samples))?;
    let mut charts = Vec::new();
    for (f, suffix) in fits.iter().zip(&suffixes) {
        let chart = format!("fit_cdf{suffix}");
        let title = if f.group.is_empty() {
            format!("{}: data vs fitted CDFs", args.column)
        } else {
            format!("{} [{}]: data vs fitted CDFs", args.column, f.group)
        };
        report::chart::fit_cdf(&title, f)
            .write(dir, &chart)
            .with_context(|| format!("cannot write the chart {chart} to {}", args.out.display()))?;
        charts.push(chart);
    }
    let out = staging.out().to_path_buf();
    staging
        .commit(&report::Provenance {
            command: "fit".to_string(),
            ..report::Provenance::default()
        })
        .with_context(|| format!("cannot write reports to {}", out.display()))?;
    let dir = &args.out;
    if !args.quiet {
        for (i, f) in fits.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", fit::table(f, &samples[i]));
        }
        println!(
            "\nreports: {}/ (fit.csv, {}.svg/.png)",
            dir.display(),
            charts.join(".svg/.png, ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    use fleetsim::harness::check::{self, Baseline, Report, Tolerances};
    let mut tol = Tolerances::default();
    for spec in &args.tolerance {
        tol.parse_into(spec)?;
    }
    // Load every scenario first: a bad one is exit 2 before anything runs.
    let mut scenarios = args
        .scenarios
        .iter()
        .map(|s| scenario::load(s, &[]))
        .collect::<Result<Vec<_>, _>>()?;
    for sc in &mut scenarios {
        harness::precision::detect_warmup(sc);
    }
    for sc in &scenarios {
        within_limits(sc, u64::from(args.replications), &args.limits)?;
    }
    let mut verdicts = Vec::new();
    for sc in &scenarios {
        let runs = harness::run_replications(sc, "default", args.replications, false);
        harness::check_runs(&runs)?;
        let runs: Vec<_> = runs.into_iter().map(|r| r.result).collect();
        let path = check::baseline_path(&args.baseline, sc);
        if args.update {
            Baseline::new(sc, args.replications, &runs).write(&path)?;
            println!("baseline written: {}", path.display());
            continue;
        }
        let baseline = Baseline::read(&path)?;
        let verdict = check::compare(
            sc,
            args.replications,
            &check::measure(&runs),
            baseline.as_ref(),
            &tol,
        );
        let verdict = check::exact(verdict, baseline.as_ref(), check::fingerprint_of(&runs));
        verdicts.push((sc.name.clone(), verdict));
    }
    if args.update {
        return Ok(ExitCode::SUCCESS);
    }
    let report = Report(&verdicts).to_string();
    print!("{report}");
    if let Some(p) = &args.summary {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .and_then(|mut f| f.write_all(report.as_bytes()))
            .with_context(|| format!("cannot write the summary to {}", p.display()))?;
    }
    Ok(if verdicts.iter().all(|(_, v)| v.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    use fleetsim::harness::precision;
    let spec = args.scenario.as_deref().unwrap_or("steady_load");
    let mut sc = scenario::load(spec, &args.common.set)?;
    if let Some(seed) = args.common.seed {
        sc.seed = Seed(seed);
    }
    if args.check_determinism {
        within_limits(&sc, 4, &args.common.limits)?;
        let side = |label: &str| harness::diff::Side {
            label: label.to_string(),
            sc: &sc,
        };
        let d = harness::diff::diff(
            &side("first run"),
            &side("second run"),
            sc.seed.replication(0),
        );
        if d.first.is_some() {
            print!(
                "{}\nthe simulator is not deterministic for this scenario\n",
                d.text
            );
            return Ok(ExitCode::from(1));
        }
        if !args.common.quiet {
            print!("deterministic: {}", d.text);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let targets = if args.target_ci.is_empty() {
        None
    } else {
        Some(fleetsim::stats::target::parse(&args.target_ci)?)
    };
    let planned = if targets.is_some() {
        args.max_replications
    } else {
        args.replications
    };
    // Every thread of the command is in this pool (the runs and then the
    // charts): asking rayon for its thread count outside it would start
    // its global pool, two more thread start-ups for nothing. One run
    // gets one worker: a second one only drew half the charts, and
    // starting it, its own pixel buffer and its idle spinning cost more
    // CPU time than it saved wall-clock time.
    let threads = args
        .jobs
        .map_or(if planned == 1 { 1 } else { 0 }, |j| j as usize);
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(threads);
    if threads == 1 {
        // A pool of one is this thread: no thread to start.
        builder = builder.use_current_thread();
    }
    let pool = builder
        .build()
        .with_context(|| format!("cannot start {threads} worker threads"))?;
    within_limits_on(
        &sc,
        u64::from(planned) + u64::from(sc.warmup_auto),
        pool.current_num_threads() as u64,
        &args.common.limits,
    )?;
    let progress = !args.common.quiet && harness::interactive();
    let keep = args.batch_means.is_some();
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| harness::default_out_dir(&sc));
    let trace = args.trace.options();
    // The event log and records stream into the staging directory while
    // the runs go.
    let staging = report::Staging::begin(&dir)
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    let (warmup, mut runs, precision) = pool.install(|| -> anyhow::Result<_> {
        let warmup = precision::detect_warmup(&mut sc);
        Ok(match &targets {
            None if trace.any() => {
                let runs = harness::run_replications_traced(
                    &sc,
                    "default",
                    args.replications,
                    staging.dir(),
                    &trace,
                )
                .with_context(|| format!("cannot write reports to {}", dir.display()))?;
                (warmup, runs, None)
            }
            None => {
                let runs = harness::run_replications_opts(
                    &sc,
                    "default",
                    args.replications,
                    keep,
                    progress,
                );
                (warmup, runs, None)
            }
            Some(t) => {
                let (runs, p) = precision::run_to_precision(
                    &sc,
                    "default",
                    t,
                    args.max_replications,
                    keep,
                    progress,
                );
                (warmup, runs, Some(p))
            }
        })
    })?;
    harness::check_runs(&runs)?;
    let batch = args
        .batch_means
        .map(|k| (k, precision::batch_means(&mut runs, k)));
    // The charts are drawn on the same worker threads as the runs: a
    // second (global) pool cost two more thread start-ups and their idle
    // spinning.
    pool.install(|| harness::write_run_reports(staging.dir(), &sc, &runs))
        .and_then(|_| {
            report::write_atomic(
                &staging.dir().join("results.json"),
                &harness::results_json("run", &sc, &args.common.set, &runs, None),
            )?;
            if let Some((k, bms)) = &batch {
                report::write_atomic(
                    &staging.dir().join("batch_means.csv"),
                    &report::csv::batch_means(&sc.name, *k, bms),
                )?;
            }
            if let Some(p) = &precision {
                let rows: Vec<_> = p
                    .targets
                    .iter()
                    .copied()
                    .zip(p.standings.iter().copied())
                    .collect();
                report::write_atomic(
                    &staging.dir().join("target_ci.csv"),
                    &report::csv::target_ci(p.replications, p.met, &rows),
                )?;
            }
            Ok(())
        })
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    staging
        .commit(&provenance("run", &sc))
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    if !args.common.quiet {
        if let Some(w) = &warmup {
            println!("{}", precision::warmup_line(w));
        }
        print!("{}", harness::summary_table(&sc, &runs));
        if let Some((k, bms)) = &batch {
            print!("{}", precision::batch_means_lines(bms, *k));
        }
        if let Some(p) = &precision {
            print!("{}", precision::precision_lines(p));
        }
        let mut extra = String::new();
        if batch.is_some() {
            extra.push_str("batch_means.csv, ");
        }
        if precision.is_some() {
            extra.push_str("target_ci.csv, ");
        }
        println!(
            "reports: {}/ (report.html, results.json, summary.csv, agents.csv, timeseries.csv, bus.csv, calls.csv, perf.csv, {extra}charts/{})",
            dir.display(),
            trace
                .files(0, args.replications)
                .iter()
                .map(|f| format!(", {f}"))
                .collect::<String>()
        );
    }
    // The process ends here: freeing the results (handing their pages
    // back to the kernel) and waking the idle workers only to stop them
    // is work the exit does anyway, at once.
    std::mem::forget((runs, pool));
    Ok(ExitCode::SUCCESS)
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let mut scenarios = compare::plan(
        &args.scenario,
        &args.common.set,
        args.common.seed,
        &args.strategies,
    )?;
    let first = &scenarios[0];
    within_limits(
        first,
        scenarios.len() as u64 * u64::from(args.replications),
        &args.common.limits,
    )?;
    // `warmup = "auto"`: detected on the first (baseline) strategy's
    // replication 0, and the same window used for every strategy.
    let warmup = harness::precision::detect_warmup(&mut scenarios[0]);
    if let Some(w) = &warmup {
        for sc in &mut scenarios[1..] {
            sc.warmup = w.warmup;
        }
        if !args.common.quiet {
            println!("{}", harness::precision::warmup_line(w));
        }
    }
    let first = &scenarios[0];
    if !args.common.quiet && !first.balancer.changes.is_empty() {
        eprintln!(
            "note: {} changes strategy during the run ([[balancer.changes]]); compare sets only the initial strategy",
            first.name
        );
    }
    let runs = compare::run(
        &scenarios,
        args.replications,
        !args.common.quiet && harness::interactive(),
    );
    harness::check_runs(&runs)?;
    let comparison = compare::compare(&runs, &args.strategies, args.replications);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| harness::default_out_dir(first).join("compare"));
    let staging = report::Staging::begin(&dir)
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    let staging_dir = staging.dir().to_path_buf();
    let written =
        compare::write_reports(staging.dir(), first, &args.common.set, &comparison, &runs)
            .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    staging
        .commit(&provenance("compare", first))
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    if !args.common.quiet {
        print!("{}", compare::table(&comparison));
        let names: Vec<String> = written
            .iter()
            .filter(|p| p.parent() == Some(staging_dir.as_path()))
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        println!(
            "reports: {}/ ({}, charts/)",
            dir.display(),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let plan = sweep::Sweep::plan(
        &args.scenario,
        &args.common.set,
        args.common.seed,
        args.vary,
        args.replications,
    )?;
    // The costliest point, as often as the sweep (or shard) runs.
    // Each point's estimate once, not once per comparison.
    let costliest = plan
        .points
        .iter()
        .map(|p| (scenario::cost::estimate(&p.scenario), &p.scenario))
        .max_by(|(a, _), (b, _)| {
            (a.events, a.bytes)
                .partial_cmp(&(b.events, b.bytes))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map_or(&plan.base, |(_, sc)| sc);
    let runs = match args.shard {
        Some(s) => (plan.total_runs() as u64).div_ceil(u64::from(s.count).max(1)),
        None => plan.total_runs() as u64,
    };
    let parallel = args.jobs.unwrap_or(rayon::current_num_threads() as u64);
    within_limits_on(costliest, runs, parallel, &args.common.limits)?;
    // `warmup = "auto"`: each point's own warm-up, from its replication 0
    // (deterministic, so every shard finds the same).
    let mut plan = plan;
    if plan.points.iter().any(|p| p.scenario.warmup_auto) {
        use rayon::prelude::*;
        plan.points.par_iter_mut().for_each(|p| {
            harness::precision::detect_warmup(&mut p.scenario);
        });
    }
    let dir = args.out.clone().unwrap_or_else(|| {
        let base = harness::default_out_dir(&plan.base);
        match args.shard {
            None => base.join("sweep"),
            Some(s) => base.join(format!("sweep-shard-{}-of-{}", s.index, s.count)),
        }
    });
    let jobs = args.jobs.map(|j| usize::try_from(j).unwrap_or(usize::MAX));
    let out = plan.run(
        args.shard,
        jobs,
        !args.common.quiet && harness::interactive(),
    )?;
    let staging = report::Staging::begin(&dir)
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    out.write(staging.dir())
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    if args.shard.is_none() {
        sweep::write_pages(staging.dir(), &plan.manifest(sweep::Shard::ALL), &out.files)
            .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    }
    staging
        .commit(&provenance("sweep", &plan.base))
        .with_context(|| format!("cannot write reports to {}", dir.display()))?;
    if !args.common.quiet {
        if let Some(shard) = args.shard {
            println!(
                "shard {shard} of {}: {} of {} runs ({} points × {} replications)",
                plan.base.name,
                out.runs.len(),
                plan.total_runs(),
                plan.grid.len(),
                plan.replications
            );
        } else {
            print!("{}", plan.table(&out));
        }
        let names: Vec<&str> = out.files.iter().map(|(n, _)| *n).collect();
        let manifest = if out.manifest.is_some() {
            ", shard.csv"
        } else {
            ", report.html, results.json, charts/"
        };
        println!(
            "reports: {}/ ({}{manifest})",
            dir.display(),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuse `runs` runs of `sc` (as many in parallel as there are threads)
/// whose estimated cost is over `--max-events` or `--max-memory`.
fn within_limits(sc: &scenario::Scenario, runs: u64, limits: &LimitArgs) -> anyhow::Result<()> {
    within_limits_on(sc, runs, rayon::current_num_threads() as u64, limits)
}

fn within_limits_on(
    sc: &scenario::Scenario,
    runs: u64,
    parallel: u64,
    limits: &LimitArgs,
) -> anyhow::Result<()> {
    scenario::cost::estimate(sc).check(&sc.name, runs, parallel, &limits.limits())?;
    Ok(())
}

fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let merged = sweep::merge(&args.dirs, &args.out)?;
    let staging = report::Staging::begin(&args.out)
        .with_context(|| format!("cannot write reports to {}", args.out.display()))?;
    merged
        .write(staging.dir())
        .with_context(|| format!("cannot write reports to {}", args.out.display()))?;
    staging
        .commit(&report::Provenance {
            command: "merge".to_string(),
            scenario: Some(merged.scenario.clone()),
            scenario_hash: Some(merged.scenario_hash),
            seed: Some(merged.seed),
        })
        .with_context(|| format!("cannot write reports to {}", args.out.display()))?;
    if !args.quiet {
        let names: Vec<&str> = merged.files.iter().map(|(n, _)| *n).collect();
        println!(
            "merged {} shards of {}: {} runs",
            merged.shards, merged.scenario, merged.runs
        );
        println!(
            "reports: {}/ ({}, report.html, results.json, charts/)",
            args.out.display(),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `fleetsim diff`: exit 0 no difference, 1 a difference, 2 bad input.
fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.against {
        let [one] = args.scenarios.as_slice() else {
            anyhow::bail!("--against goes with one scenario: the one the log was recorded from");
        };
        let sc = scenario::load(one, &args.common.set)?;
        let seed = args.common.seed.map_or(sc.seed, Seed);
        within_limits(&sc, 2, &args.common.limits)?;
        let d = harness::diff::against_log(
            dir,
            &format!("recorded ({})", dir.join("events.csv").display()),
            &harness::diff::Side {
                label: format!("now ({one})"),
                sc: &sc,
            },
            seed,
        )?;
        if !(args.common.quiet && d.first.is_none()) {
            print!("{}", d.text);
        }
        return Ok(if d.first.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let (a, b) = match args.scenarios.as_slice() {
        [one] => {
            let a = scenario::load(one, &args.common.set)?;
            let both: Vec<_> = args.common.set.iter().chain(&args.vs).cloned().collect();
            let b = scenario::load(one, &both)?;
            (a, b)
        }
        [one, two] => {
            if !args.vs.is_empty() {
                anyhow::bail!("--vs goes with one scenario; with two, side B is the second file");
            }
            (
                scenario::load(one, &args.common.set)?,
                scenario::load(two, &args.common.set)?,
            )
        }
        _ => unreachable!("clap takes one or two scenarios"),
    };
    let seed = args.common.seed.map_or(a.seed, Seed);
    within_limits(&a, 2, &args.common.limits)?;
    within_limits(&b, 2, &args.common.limits)?;
    let label = |sc: &scenario::Scenario, sets: &[scenario::Override], fallback: &str| {
        if sets.is_empty() {
            format!("{fallback} ({})", sc.name)
        } else {
            let s: Vec<String> = sets
                .iter()
                .map(|o| o.to_string().trim_start_matches("--set ").to_string())
                .collect();
            format!("{fallback} ({})", s.join(" "))
        }
    };
    let (la, lb) = if args.scenarios.len() == 1 {
        (label(&a, &args.common.set, "A"), label(&b, &args.vs, "B"))
    } else {
        (
            format!("A ({})", args.scenarios[0]),
            format!("B ({})", args.scenarios[1]),
        )
    };
    let d = harness::diff::diff(
        &harness::diff::Side { label: la, sc: &a },
        &harness::diff::Side { label: lb, sc: &b },
        seed,
    );
    if !(args.common.quiet && d.first.is_none()) {
        print!("{}", d.text);
    }
    Ok(if d.first.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What the manifest of an output of `command` on `sc` records.
fn provenance(command: &str, sc: &scenario::Scenario) -> report::Provenance {
    report::Provenance {
        command: command.to_string(),
        scenario: Some(sc.name.clone()),
        scenario_hash: Some(sc.origin.hash),
        seed: Some(sc.seed.0),
    }
}

fn validate(specs: &[String]) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    for spec in specs {
        match scenario::load(spec, &[]) {
            Ok(sc) => {
                println!(
                    "ok: {spec} ({}: {}, {}, {} balancing; {})",
                    sc.name,
                    plural(u64::from(sc.agent_count()), "agent"),
                    plural(sc.tiers.len() as u64, "tier"),
                    sc.balancer.strategy,
                    scenario::cost::estimate(&sc).summary()
                );
                for note in scenario::validate::limits::idle_periods(&sc) {
                    eprintln!("note: {spec}: {note}");
                }
            }
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
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "Built-in scenarios (fleetsim run NAME):");
    for name in scenario::builtin_names() {
        let desc = scenario::load(name, &[])
            .map(|s| s.description)
            .unwrap_or_default();
        let _ = writeln!(out, "  {name:<22} {desc}");
    }
    let _ = writeln!(out, "\nBalancer strategies (balancer.strategy):");
    for s in Strategy::ALL {
        let _ = writeln!(out, "  {:<20} {}", s.as_str(), s.describe());
    }
    let _ = writeln!(
        out,
        "\nDistributions (dist = ...: service times, latencies, repair times, work amounts):"
    );
    let _ = writeln!(out, "  constant    {{ value }}");
    let _ = writeln!(out, "  uniform     {{ min, max }}");
    let _ = writeln!(out, "  exponential {{ mean }}");
    let _ = writeln!(out, "  lognormal   {{ median, p99 }}");
    let _ = writeln!(
        out,
        "  gamma       {{ shape, mean }}                  shape 1 = exponential; SCV = 1/shape"
    );
    let _ = writeln!(
        out,
        "  erlang      {{ k, mean }}                      gamma with whole shape k"
    );
    let _ = writeln!(
        out,
        "  weibull     {{ shape, scale }}                 P(X > x) = exp(-(x/scale)^shape)"
    );
    let _ = writeln!(
        out,
        "  pareto      {{ alpha, min, max? }}             heavy tail from min; truncated at max"
    );
    let _ = writeln!(
        out,
        "  hyperexponential {{ means = [..], probs = [..] }}  a mixture of exponentials"
    );
    let _ = writeln!(
        out,
        "  empirical   {{ values = [..], weights? }} or {{ file, column, unit? }}  a sample (step inverse CDF)"
    );
    let _ = writeln!(
        out,
        "  per_work    {{ base, per_unit, otherwise? }}    service_time only: base + work × per_unit"
    );
    let _ = writeln!(
        out,
        "\nArrival processes (workload.arrivals.process = ...):"
    );
    let _ = writeln!(
        out,
        "  poisson     {{ rate }}                          exponential gaps, rate per second"
    );
    let _ = writeln!(
        out,
        "  constant    {{ rate }}                          evenly spaced, rate per second"
    );
    let _ = writeln!(
        out,
        "  bursts      {{ count, size, every, start?, spread? }}"
    );
    let _ = writeln!(
        out,
        "  ramp        {{ from, to }}                      rate linear from `from` to `to` over the run"
    );
    let _ = writeln!(
        out,
        "  diurnal     {{ mean, amplitude, period?, phase? }}  a sine around `mean` (period 24h)"
    );
    let _ = writeln!(
        out,
        "  trace       {{ file, time_column, work_column?, priority_column?, capability_column?,\n              speedup?, start?, end?, loop? }}  a recorded request log (CSV), replayed"
    );
    let _ = writeln!(
        out,
        "\nRetry backoff (retry.strategy) and jitter (retry.jitter):"
    );
    let _ = writeln!(
        out,
        "  exponential, linear, constant; none, full, equal, decorrelated"
    );
    let _ = writeln!(out, "\nFault kinds ([[faults]] kind = ...):");
    let _ = writeln!(
        out,
        "  crash, recover, slow {{ factor }}, partition, dispatcher_down, broker_down,\n  drain, join {{ count }}, rolling_restart {{ batch, pause? }}"
    );
    let _ = writeln!(out, "\nFrom data:");
    let _ = writeln!(
        out,
        "  fleetsim fit LOG.csv --column NAME [--by COLUMN] [--unit ms]\n              fits the families above to logged durations and prints the line to paste"
    );
    // A closed pipe (`fleetsim list | head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
}

/// `fleetsim completions SHELL`: the completion script, from the clap types.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "fleetsim", &mut out);
    print_bytes(&out);
    Ok(ExitCode::SUCCESS)
}

/// `fleetsim man`: one roff man page, from the clap types: the top-level
/// command, then a section per subcommand (its synopsis, options and
/// examples as subsections), so `man ./fleetsim.1` documents everything.
fn man() -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .context("cannot render the man page")?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("fleetsim {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&name));
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)
            .and_then(|()| man.render_description_section(&mut part))
            .and_then(|()| man.render_options_section(&mut part))
            .and_then(|()| man.render_extra_section(&mut part))
            .context("cannot render the man page")?;
        let part = String::from_utf8_lossy(&part).replace("\n.SH ", "\n.SS ");
        let part = part
            .strip_prefix(".SH ")
            .map_or(part.clone(), |rest| format!(".SS {rest}"));
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    print_bytes(&out);
    Ok(ExitCode::SUCCESS)
}

/// Write to stdout; a closed pipe (`fleetsim man | head`) is not an error.
fn print_bytes(bytes: &[u8]) {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), bytes);
}

/// `fleetsim verify DIR...`: 0 when every directory matches its manifest,
/// else the worst code of [`report::manifest::VerifyError::exit_code`] (1 a
/// mismatch, 2 a directory that cannot be read), after naming each problem.
fn verify(args: &VerifyArgs) -> ExitCode {
    let mut worst = 0;
    for dir in &args.dirs {
        match report::verify(dir) {
            Ok(m) => {
                if !args.quiet {
                    println!("ok: {} ({} files)", dir.display(), m.files.len());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                worst = worst.max(e.exit_code());
            }
        }
    }
    ExitCode::from(worst)
}

/// `fleetsim swarm`: run the seeds, save what was asked, print the
/// report; exit 1 if any seed broke an invariant.
fn swarm(args: SwarmArgs) -> anyhow::Result<ExitCode> {
    use fleetsim::harness::swarm;
    let started = std::time::Instant::now();
    let bar = if harness::interactive() && !args.quiet {
        indicatif::ProgressBar::new(args.seeds)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let keep_all = args.seeds == 1 && args.save.is_some();
    let jobs = args.jobs.map(|j| j as usize);
    let summary = swarm::run(args.start, args.seeds, jobs, keep_all, &|| bar.inc(1));
    bar.finish_and_clear();
    if let Some(dir) = &args.save {
        for r in &summary.failed {
            let path = swarm::write_scenario(dir, &r.generated, r.seed)
                .with_context(|| format!("cannot write into {}", dir.display()))?;
            eprintln!("saved {}", path.display());
        }
    }
    let text = swarm::render(&summary, args.start, started.elapsed().as_secs_f64());
    if args.quiet {
        for line in text
            .lines()
            .take_while(|l| !l.starts_with("features covered"))
        {
            println!("{line}");
        }
    } else {
        print!("{text}");
    }
    let failed = summary.failed.iter().any(|r| !r.failures.is_empty());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
