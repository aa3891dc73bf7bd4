//! Sweeps: a grid of scenario variants (the Cartesian product of the
//! `--vary KEY=V1,V2,..` lists, the last key varying fastest) × replications,
//! run in parallel on one machine or as one deterministic shard of many; and
//! `merge`, which puts the shards' reports back together.
//!
//! Why this shape: run `point · R + r` is replication `r` of grid point
//! `point`, and it is the same computation wherever it runs (replication `r`
//! of every point uses the seed `seed.replication(r)`: common random numbers
//! across points). Results are collected in run-index order, so the files do
//! not depend on the number of threads, and the shards `i ≡ I (mod N)`,
//! merged by run index, are the unsharded files byte for byte. Any batch
//! engine that runs N indexed copies of one command (a Kubernetes Indexed
//! Job, a Slurm array, a CI matrix) can therefore run a sweep
//! (docs/determinism.md, "Threads, --jobs, shards and merge"). Shards are checked before they are merged by
//! a small manifest, `shard.csv`, written last by each shard.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::report;
use crate::results::RunRecord;
use crate::rng::Seed;
use crate::scenario::{self, KeyPath, Override, Scenario, ScenarioError};
use crate::stats::mean_ci;

pub use crate::results::shard::{MANIFEST, MANIFEST_FORMAT, Manifest, Shard, Vary};

/// Why a sweep cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("`{0}` is varied twice; give each key one --vary with all its values")]
    DuplicateKey(String),
    #[error("the grid has more points than this machine can count; vary fewer values")]
    TooLarge,
    #[error(
        "two grid points are both labelled `{0}`; values that contain `,` or `=` outside quotes make labels ambiguous"
    )]
    AmbiguousLabel(String),
    #[error("--seed and --vary seed=... both set the seed; use one of them")]
    SeedTwice,
    #[error("{}", .0.join("\n"))]
    InvalidPoints(Vec<String>),
    #[error("{0}")]
    RunFailed(String),
    #[error("cannot start {jobs} worker threads: {source}")]
    Pool {
        jobs: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

/// The grid: the Cartesian product of the `--vary` lists, in the order
/// given, the last key varying fastest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    vary: Vec<Vary>,
    len: usize,
}

impl Grid {
    pub fn new(vary: Vec<Vary>) -> Result<Grid, SweepError> {
        let mut seen: Vec<String> = Vec::new();
        for v in &vary {
            let path = KeyPath::parse(&v.key)
                .map(|p| p.to_string())
                .unwrap_or_else(|| v.key.clone());
            if seen.contains(&path) {
                return Err(SweepError::DuplicateKey(v.key.clone()));
            }
            seen.push(path);
        }
        let len = vary
            .iter()
            .try_fold(1usize, |n, v| n.checked_mul(v.values.len()))
            .ok_or(SweepError::TooLarge)?;
        let grid = Grid { vary, len };
        let mut labels = BTreeMap::new();
        for p in 0..grid.len {
            if labels.insert(grid.label(p), p).is_some() {
                return Err(SweepError::AmbiguousLabel(grid.label(p)));
            }
        }
        Ok(grid)
    }

    /// The `--vary` arguments, in order.
    pub fn vary(&self) -> &[Vary] {
        &self.vary
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The varied keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.vary.iter().map(|v| v.key.as_str()).collect()
    }

    /// The value of each key at `point`.
    pub fn values(&self, point: usize) -> Vec<&str> {
        assert!(point < self.len, "point {point} of {}", self.len);
        let mut rest = point;
        let mut out = vec![""; self.vary.len()];
        for (k, v) in self.vary.iter().enumerate().rev() {
            out[k] = &v.values[rest % v.values.len()];
            rest /= v.values.len();
        }
        out
    }

    /// The variant label of `point`: `key1=v1,key2=v2`.
    pub fn label(&self, point: usize) -> String {
        self.overrides(point)
            .iter()
            .map(|o| format!("{}={}", o.path, o.value))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The overrides that make `point`.
    pub fn overrides(&self, point: usize) -> Vec<Override> {
        self.keys()
            .into_iter()
            .zip(self.values(point))
            .map(|(k, v)| Override {
                path: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }
}

/// One grid point, validated.
#[derive(Clone, Debug)]
pub struct Point {
    pub label: String,
    pub scenario: Scenario,
}

/// A validated sweep: every point's scenario checked before anything runs.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The scenario with `--set` and `--seed` applied (no grid point).
    pub base: Scenario,
    pub set: Vec<Override>,
    pub grid: Grid,
    pub points: Vec<Point>,
    pub replications: u32,
}

impl Sweep {
    /// Load `spec` with `set`, then every grid point with `set` followed by
    /// the point's values; `seed` replaces the root seed everywhere.
    pub fn plan(
        spec: &str,
        set: &[Override],
        seed: Option<u64>,
        vary: Vec<Vary>,
        replications: u32,
    ) -> Result<Sweep, SweepError> {
        let mut base = scenario::load(spec, set)?;
        let grid = Grid::new(vary)?;
        if seed.is_some() && grid.keys().contains(&"seed") {
            return Err(SweepError::SeedTwice);
        }
        if let Some(s) = seed {
            base.seed = Seed(s);
        }
        let mut points = Vec::with_capacity(grid.len());
        let mut errors: Vec<String> = Vec::new();
        for p in 0..grid.len() {
            let mut overrides = set.to_vec();
            overrides.extend(grid.overrides(p));
            match scenario::load(spec, &overrides) {
                Ok(mut sc) => {
                    if let Some(s) = seed {
                        sc.seed = Seed(s);
                    }
                    points.push(Point {
                        label: grid.label(p),
                        scenario: sc,
                    });
                }
                Err(e) => {
                    let msg = point_error(&e, &grid, p);
                    if !errors.contains(&msg) {
                        errors.push(msg);
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(SweepError::InvalidPoints(errors));
        }
        Ok(Sweep {
            base,
            set: set.to_vec(),
            grid,
            points,
            replications,
        })
    }

    /// Runs in the whole sweep: points × replications.
    pub fn total_runs(&self) -> usize {
        self.points.len() * self.replications as usize
    }

    /// Does any point have jobs (and so a `jobs.csv`)?
    fn has_jobs(&self) -> bool {
        self.points
            .iter()
            .any(|p| !p.scenario.workload.jobs.is_empty())
    }

    /// Does the fleet change at some point of the grid (`tiers.csv`)?
    fn fleet_changes(&self) -> bool {
        self.points.iter().any(|p| p.scenario.fleet_changes())
    }

    /// The manifest of `shard` of this sweep.
    pub fn manifest(&self, shard: Shard) -> Manifest {
        Manifest {
            fleetsim: env!("CARGO_PKG_VERSION").to_string(),
            scenario: self.base.name.clone(),
            source: self.base.origin.file.clone(),
            scenario_hash: self.base.origin.hash,
            seed: self.base.seed.0,
            set: self
                .set
                .iter()
                .map(|o| format!("{}={}", o.path, o.value))
                .collect(),
            vary: self.grid.vary().to_vec(),
            replications: self.replications,
            points: self.grid.len(),
            runs_total: self.total_runs(),
            shard,
            runs: shard.runs(self.total_runs()),
        }
    }

    /// Run the sweep (`shard` = `None`), or one shard of it with its
    /// manifest, on a pool of `jobs` threads (`None`: one per core),
    /// results in run-index order.
    pub fn run(
        &self,
        shard: Option<Shard>,
        jobs: Option<usize>,
        progress: bool,
    ) -> Result<SweepOutput, SweepError> {
        let threads = jobs.unwrap_or(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|source| SweepError::Pool {
                jobs: threads,
                source,
            })?;
        let indices = shard.unwrap_or(Shard::ALL).runs(self.total_runs());
        let points: Vec<(&Scenario, &str)> = self
            .points
            .iter()
            .map(|p| (&p.scenario, p.label.as_str()))
            .collect();
        let keys = self.grid.keys();
        let with_jobs = self.has_jobs();
        let with_tiers = self.fleet_changes();
        let rows: Vec<RunRows> = pool.install(|| {
            run_indexed(&points, self.replications, &indices, progress, |i, rec| {
                let point = i / self.replications as usize;
                let sc = &self.points[point].scenario;
                let one = std::slice::from_ref(&rec);
                let values: Vec<String> = self
                    .grid
                    .values(point)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                RunRows {
                    index: i,
                    summary: report::csv::with_columns(
                        &report::csv::summary(one),
                        &keys,
                        &[values],
                    ),
                    agents: report::csv::agents(sc, one),
                    timeseries: report::csv::timeseries(one),
                    bus: report::csv::bus(one),
                    calls: report::csv::calls(one),
                    perf: report::csv::perf(one),
                    jobs: if with_jobs {
                        report::csv::jobs(sc, one)
                    } else {
                        Vec::new()
                    },
                    tiers: if with_tiers {
                        report::csv::tiers(sc, one)
                    } else {
                        Vec::new()
                    },
                    headline: Headline::of(&rec),
                    failed: crate::harness::check_runs(one).err(),
                }
            })
        });
        if let Some(failed) = rows.iter().find_map(|r| r.failed.as_ref()) {
            return Err(SweepError::RunFailed(failed.to_string()));
        }
        let base = &self.base;
        let empty_summary = report::csv::with_columns(&report::csv::summary(&[]), &keys, &[]);
        let mut files = vec![
            (
                "summary.csv",
                report::csv::concat(&empty_summary, rows.iter().map(|r| &r.summary[..])),
            ),
            (
                "agents.csv",
                report::csv::concat(
                    &report::csv::agents(base, &[]),
                    rows.iter().map(|r| &r.agents[..]),
                ),
            ),
            (
                "timeseries.csv",
                report::csv::concat(
                    &report::csv::timeseries(&[]),
                    rows.iter().map(|r| &r.timeseries[..]),
                ),
            ),
            (
                "bus.csv",
                report::csv::concat(&report::csv::bus(&[]), rows.iter().map(|r| &r.bus[..])),
            ),
            (
                "calls.csv",
                report::csv::concat(&report::csv::calls(&[]), rows.iter().map(|r| &r.calls[..])),
            ),
            (
                "perf.csv",
                report::csv::concat(&report::csv::perf(&[]), rows.iter().map(|r| &r.perf[..])),
            ),
        ];
        if with_jobs {
            files.push((
                "jobs.csv",
                report::csv::concat(
                    &report::csv::jobs(base, &[]),
                    rows.iter().map(|r| &r.jobs[..]),
                ),
            ));
        }
        if with_tiers {
            files.push((
                "tiers.csv",
                report::csv::concat(
                    &report::csv::tiers(base, &[]),
                    rows.iter().map(|r| &r.tiers[..]),
                ),
            ));
        }
        let manifest = shard.map(|s| self.manifest(s));
        Ok(SweepOutput {
            files,
            manifest,
            runs: rows.iter().map(|r| (r.index, r.headline)).collect(),
        })
    }

    /// The terminal table: one row per point that ran, mean ± 95% CI over
    /// its replications.
    pub fn table(&self, out: &SweepOutput) -> String {
        let r = self.replications as usize;
        let mut by_point: BTreeMap<usize, Vec<Headline>> = BTreeMap::new();
        for &(i, h) in &out.runs {
            by_point.entry(i / r).or_default().push(h);
        }
        let label = |n: &str| {
            crate::metrics::registry::get(n)
                .map_or(n, |m| m.label)
                .to_string()
        };
        let mut rows = vec![vec![
            "point".to_string(),
            "runs".to_string(),
            label("success_rate"),
            label("throughput_per_s"),
            label("latency_mean_ms"),
            label("latency_p99_ms"),
        ]];
        for (p, hs) in &by_point {
            let cell = |get: fn(&Headline) -> f64, d: usize| {
                let xs: Vec<f64> = hs.iter().map(get).collect();
                super::compare::pm(mean_ci(&xs), d)
            };
            rows.push(vec![
                self.points[*p].label.clone(),
                hs.len().to_string(),
                cell(|h| h.success_rate * 100.0, 2),
                cell(|h| h.throughput_per_s, 2),
                cell(|h| h.latency_mean_ms, 3),
                cell(|h| h.latency_p99_ms, 3),
            ]);
        }
        let mut s = format!(
            "{} — {} point{} × {} replication{} (common random numbers), seed {}\n",
            self.base.name,
            self.grid.len(),
            if self.grid.len() == 1 { "" } else { "s" },
            self.replications,
            if self.replications == 1 { "" } else { "s" },
            self.base.seed.0
        );
        s.push_str(&super::compare::align(&rows, &[0]));
        s
    }
}

/// Name the `KEY=VALUE` of `point` that made its scenario invalid, as
/// `file (--vary KEY=VALUE): path: message`; a problem that is not at one
/// of the point's values (a combination of values, say) is prefixed with
/// the whole point.
fn point_error(e: &ScenarioError, grid: &Grid, point: usize) -> String {
    let overrides = grid.overrides(point);
    let whole = || format!("--vary point {}: {e}", grid.label(point));
    let ScenarioError::Invalid(problems) = e else {
        return whole();
    };
    let mut named = false;
    let lines: Vec<String> = problems
        .iter()
        .map(
            |pr| match overrides.iter().find(|ov| pr.location == ov.to_string()) {
                Some(ov) => {
                    named = true;
                    let path = if pr.path.is_empty() {
                        String::new()
                    } else {
                        format!(" {}:", pr.path)
                    };
                    let help = crate::scenario::diagnostic::did_you_mean(&pr.message)
                        .map(|h| format!("\n  = help: {h}"))
                        .unwrap_or_default();
                    format!(
                        "{} (--vary {}={}):{path} {}{help}",
                        pr.file, ov.path, ov.value, pr.message
                    )
                }
                None => pr.to_string(),
            },
        )
        .collect();
    if named { lines.join("\n") } else { whole() }
}

/// The numbers of a run that the terminal tables show.
#[derive(Clone, Copy, Debug)]
pub struct Headline {
    pub success_rate: f64,
    pub throughput_per_s: f64,
    pub latency_mean_ms: f64,
    pub latency_p99_ms: f64,
}

impl Headline {
    fn of(rec: &RunRecord) -> Headline {
        let r = &rec.result;
        Headline {
            success_rate: r.success_rate,
            throughput_per_s: r.throughput_per_s,
            latency_mean_ms: r.latency_mean_ms,
            latency_p99_ms: r.latency_p99_ms,
        }
    }
}

/// One run's report rows (each a table with its header), kept instead of
/// the run itself so a large sweep holds only text.
struct RunRows {
    index: usize,
    summary: Vec<u8>,
    agents: Vec<u8>,
    timeseries: Vec<u8>,
    bus: Vec<u8>,
    calls: Vec<u8>,
    perf: Vec<u8>,
    jobs: Vec<u8>,
    tiers: Vec<u8>,
    headline: Headline,
    /// The run's results are invalid (its trace changed underneath it).
    failed: Option<crate::harness::RunFailed>,
}

/// What a sweep (or one shard of it) writes.
#[derive(Clone, Debug)]
pub struct SweepOutput {
    /// Report files and their bytes, in the order written.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// The shard manifest, for a sharded run.
    pub manifest: Option<Manifest>,
    /// The runs done: (run index, headline numbers), in index order.
    pub runs: Vec<(usize, Headline)>,
}

/// Write the page files of a whole sweep into `dir`: the charts, the sweep
/// page (`report.html`) and `results.json`, drawn from its `summary.csv`
/// (among `files`) and its description `m` alone
/// (`report::sweep_page`), so a merge of shards writes the same bytes as
/// the sweep run whole; returns the paths written.
pub fn write_pages(
    dir: &Path,
    m: &Manifest,
    files: &[(&'static str, Vec<u8>)],
) -> io::Result<Vec<PathBuf>> {
    let summary = files
        .iter()
        .find(|(n, _)| *n == "summary.csv")
        .map_or(&[][..], |(_, b)| &b[..]);
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, format!("summary.csv: {e}"));
    let rows = report::read::summary(summary).map_err(bad)?;
    let has = |name: &str| files.iter().any(|(n, _)| *n == name);
    let charts = report::sweep_page::charts(m, &rows);
    let mut written = report::chart::write_all(dir, &charts)?;
    let html = report::sweep_page::page(m, &rows, &charts, has("jobs.csv"), has("tiers.csv"));
    let meta = report::json::Meta {
        command: "sweep",
        scenario: &m.scenario,
        source: &m.source,
        scenario_hash: m.scenario_hash,
        seed: m.seed,
        set: &m.set,
        replications: m.replications,
    };
    let json = report::json::results(&meta, summary, None, Some(&m.vary)).map_err(bad)?;
    written.extend(report::write_files(
        dir,
        &[
            ("report.html", html.into_bytes()),
            ("results.json", json.into_bytes()),
        ],
    )?);
    Ok(written)
}

impl SweepOutput {
    /// Write the files into `dir` atomically, the manifest last (so a
    /// shard directory with a manifest is complete); returns the paths.
    pub fn write(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut written = report::write_files(dir, &self.files)?;
        if let Some(m) = &self.manifest {
            let p = dir.join(MANIFEST);
            report::write_atomic(&p, &report::csv::shard_manifest(m))?;
            written.push(p);
        }
        Ok(written)
    }
}

/// Run `indices` (run `i` is replication `i % replications` of point
/// `i / replications`) on the current rayon pool. Each result goes through
/// `f` on the thread that ran it (so a run can be reduced to what is kept);
/// the results come back in the order of `indices`.
pub fn run_indexed<T: Send>(
    points: &[(&Scenario, &str)],
    replications: u32,
    indices: &[usize],
    progress: bool,
    f: impl Fn(usize, RunRecord) -> T + Sync,
) -> Vec<T> {
    let r = replications as usize;
    let bar = match points.first() {
        Some((sc, _)) if progress => {
            super::progress_bar(indices.len() as u64, "{pos}/{len} runs", &sc.name)
        }
        _ => ProgressBar::hidden(),
    };
    let out = indices
        .par_iter()
        .map(|&i| {
            let (sc, label) = points[i / r];
            let rec = super::run_one(sc, label, (i % r) as u32);
            bar.inc(1);
            f(i, rec)
        })
        .collect();
    bar.finish_and_clear();
    out
}

/// Parse a shard's manifest, `shard.csv` (`field,value` rows), and check it
/// against the grid its `vary` lists make.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let mut rd = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = rd.headers().map_err(|e| e.to_string())?.clone();
    if header.iter().collect::<Vec<_>>() != ["field", "value"] {
        return Err("the header is not `field,value`".to_string());
    }
    let mut one: BTreeMap<String, String> = BTreeMap::new();
    let mut set = Vec::new();
    let mut vary = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let (Some(field), Some(value)) = (rec.get(0), rec.get(1)) else {
            return Err(format!("a row is not field,value: {rec:?}"));
        };
        match field {
            "set" => set.push(value.to_string()),
            "vary" => vary.push(value.parse::<Vary>()?),
            _ => {
                if one.insert(field.to_string(), value.to_string()).is_some() {
                    return Err(format!("`{field}` is given twice"));
                }
            }
        }
    }
    let mut take = |f: &str| one.remove(f).ok_or_else(|| format!("no `{f}` row"));
    let format = take("format")?;
    if format != MANIFEST_FORMAT {
        return Err(format!(
            "format `{format}`; this fleetsim reads `{MANIFEST_FORMAT}`"
        ));
    }
    fn num<T: FromStr>(f: &str, v: String) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("`{f}` is `{v}`, not a whole number"))
    }
    let fleetsim = take("fleetsim")?;
    let scenario = take("scenario")?;
    let source = take("source")?;
    let hash = take("scenario_hash")?;
    let scenario_hash = u64::from_str_radix(&hash, 16)
        .map_err(|_| format!("`scenario_hash` is `{hash}`, not 16 hex digits"))?;
    let seed = num("seed", take("seed")?)?;
    let replications: u32 = num("replications", take("replications")?)?;
    let points: usize = num("points", take("points")?)?;
    let runs_total: usize = num("runs_total", take("runs_total")?)?;
    let shard: Shard = format!("{}/{}", take("shard")?, take("shards")?).parse()?;
    let runs = take("runs")?
        .split_whitespace()
        .map(|r| num("runs", r.to_string()))
        .collect::<Result<Vec<usize>, String>>()?;
    if let Some(f) = one.keys().next() {
        return Err(format!("unknown field `{f}`"));
    }
    let m = Manifest {
        fleetsim,
        scenario,
        source,
        scenario_hash,
        seed,
        set,
        vary,
        replications,
        points,
        runs_total,
        shard,
        runs,
    };
    let grid = Grid::new(m.vary.clone()).map_err(|e| e.to_string())?;
    if grid.len() != m.points || m.points * m.replications as usize != m.runs_total {
        return Err(format!(
            "{} points × {} replications do not make {} runs",
            m.points, m.replications, m.runs_total
        ));
    }
    if m.runs != m.shard.runs(m.runs_total) {
        return Err(format!(
            "the run list is not the runs ≡ {} (mod {}) of {}",
            m.shard.index, m.shard.count, m.runs_total
        ));
    }
    Ok(m)
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{dir}: no {MANIFEST}: not a sweep shard, or the shard did not finish")]
    NotAShard { dir: String },
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
    #[error(
        "{dir} is not a shard of the same sweep as {first}: {field} is `{value}` there and `{first_value}` in {first}"
    )]
    Mismatch {
        dir: String,
        first: String,
        field: &'static str,
        value: String,
        first_value: String,
    },
    #[error("shard {shard} is given twice: {a} and {b}")]
    Duplicate { shard: Shard, a: String, b: String },
    #[error("missing shard{}: {} (a sweep in {count} shards needs 0/{count} … {last}/{count}, each once)",
        if .missing.len() == 1 { "" } else { "s" },
        .missing.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", "),
        last = .count - 1)]
    Missing { missing: Vec<u32>, count: u32 },
    #[error("{0}; merge only shards whose sweep finished (run the shard again)")]
    Unverified(String),
    #[error("--out {0} is one of the shard directories; merge into a new directory")]
    OutIsInput(String),
}

/// What a merge found and wrote.
#[derive(Clone, Debug)]
pub struct MergeOutput {
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub shards: u32,
    pub runs: usize,
    pub scenario: String,
    pub scenario_hash: u64,
    pub seed: u64,
    /// The first shard's manifest: the sweep's description.
    pub manifest: Manifest,
}

/// Merge shard directories (in any order) into the files an unsharded
/// sweep writes: check the manifests, then re-order every file's rows by
/// run index (derived from `variant` and `replication`).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeOutput, MergeError> {
    let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(d) = dirs.iter().find(|d| same(d, out)) {
        return Err(MergeError::OutIsInput(d.display().to_string()));
    }
    // The manifests.
    let mut shards: Vec<(PathBuf, Manifest)> = Vec::new();
    let mut contents: Vec<report::manifest::Manifest> = Vec::new();
    for dir in dirs {
        let path = dir.join(MANIFEST);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(MergeError::NotAShard {
                    dir: dir.display().to_string(),
                });
            }
            Err(source) => {
                return Err(MergeError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let m = parse_manifest(&bytes).map_err(|message| MergeError::Bad {
            path: path.display().to_string(),
            message,
        })?;
        // Every file as the shard wrote it: sizes, hashes and row counts.
        let content = report::verify(dir).map_err(|e| MergeError::Unverified(e.to_string()))?;
        if content.command != "sweep" || content.file(MANIFEST).is_none() {
            return Err(MergeError::Unverified(format!(
                "{}: its {} is not a sweep shard's",
                dir.display(),
                report::manifest::MANIFEST_JSON
            )));
        }
        shards.push((dir.clone(), m));
        contents.push(content);
    }
    let (first_dir, first) = shards
        .first()
        .cloned()
        .expect("clap requires at least one directory");
    for (dir, m) in &shards[1..] {
        let checks: [(&'static str, String, String); 7] = [
            ("fleetsim", m.fleetsim.clone(), first.fleetsim.clone()),
            ("scenario", m.scenario.clone(), first.scenario.clone()),
            (
                "scenario_hash",
                format!("{:016x}", m.scenario_hash),
                format!("{:016x}", first.scenario_hash),
            ),
            ("seed", m.seed.to_string(), first.seed.to_string()),
            ("vary", vary_text(&m.vary), vary_text(&first.vary)),
            (
                "replications",
                m.replications.to_string(),
                first.replications.to_string(),
            ),
            (
                "shards",
                m.shard.count.to_string(),
                first.shard.count.to_string(),
            ),
        ];
        for (field, value, first_value) in checks {
            if value != first_value {
                return Err(MergeError::Mismatch {
                    dir: dir.display().to_string(),
                    first: first_dir.display().to_string(),
                    field,
                    value,
                    first_value,
                });
            }
        }
    }
    let count = first.shard.count;
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (k, (dir, m)) in shards.iter().enumerate() {
        let slot = &mut by_index[m.shard.index as usize];
        if let Some(prev) = *slot {
            return Err(MergeError::Duplicate {
                shard: m.shard,
                a: shards[prev].0.display().to_string(),
                b: dir.display().to_string(),
            });
        }
        *slot = Some(k);
    }
    let missing: Vec<u32> = (0..count)
        .filter(|&i| by_index[i as usize].is_none())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    // Shards in index order; which shard owns each run.
    let order: Vec<usize> = by_index.into_iter().flatten().collect();
    let total = first.runs_total;
    let grid = Grid::new(first.vary.clone()).expect("checked when the manifest was parsed");
    let point_of: BTreeMap<String, usize> = (0..grid.len()).map(|p| (grid.label(p), p)).collect();
    let mut names = report::csv::RUN_FILES.to_vec();
    let with_jobs = first_dir.join("jobs.csv").exists();
    if with_jobs {
        names.push("jobs.csv");
    }
    if first_dir.join("tiers.csv").exists() {
        names.push("tiers.csv");
    }
    let mut files = Vec::new();
    for name in names {
        // Files with a fixed number of rows per run: a shard missing one
        // (or holding a duplicate) is refused rather than merged.
        let per_run: Option<u32> = match name {
            "summary.csv" | "perf.csv" => Some(1),
            "bus.csv" => Some(crate::bus::Kind::ALL.len() as u32 + 1),
            // One per capability in use, which a swept key may change.
            _ => None,
        };
        let mut header: Option<(::csv::ByteRecord, String)> = None;
        let mut rows: Vec<(usize, ::csv::ByteRecord)> = Vec::new();
        let mut seen = vec![0u32; total];
        for &k in &order {
            let (dir, m) = &shards[k];
            let path = dir.join(name);
            let shown = path.display().to_string();
            let bad = |message: String| MergeError::Bad {
                path: shown.clone(),
                message,
            };
            let bytes = fs::read(&path).map_err(|source| MergeError::Read {
                path: shown.clone(),
                source,
            })?;
            let mut rd = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&bytes[..]);
            let mut records = rd.byte_records();
            let head = records
                .next()
                .ok_or_else(|| bad("empty file".to_string()))?
                .map_err(|e| bad(e.to_string()))?;
            match &header {
                None => header = Some((head.clone(), shown.clone())),
                Some((h, from)) if *h != head => {
                    return Err(bad(format!("its header differs from {from}'s")));
                }
                Some(_) => {}
            }
            let col = |c: &str| {
                head.iter()
                    .position(|f| f == c.as_bytes())
                    .ok_or_else(|| bad(format!("no `{c}` column")))
            };
            let (vcol, rcol) = (col("variant")?, col("replication")?);
            let owned: std::collections::BTreeSet<usize> = m.runs.iter().copied().collect();
            let mut count = 0u64;
            for rec in records {
                count += 1;
                let rec = rec.map_err(|e| bad(e.to_string()))?;
                let variant = String::from_utf8_lossy(&rec[vcol]).into_owned();
                let replication = String::from_utf8_lossy(&rec[rcol]).into_owned();
                let run = point_of
                    .get(&variant)
                    .zip(replication.parse::<u32>().ok())
                    .filter(|&(_, r)| r < first.replications)
                    .map(|(&p, r)| p * first.replications as usize + r as usize)
                    .ok_or_else(|| {
                        bad(format!(
                            "a row for variant `{variant}` replication `{replication}`, which is not a run of this sweep"
                        ))
                    })?;
                if !owned.contains(&run) {
                    return Err(bad(format!(
                        "a row for run {run} (`{variant}` replication {replication}), which belongs to shard {}/{count}",
                        run % count as usize
                    )));
                }
                seen[run] += 1;
                rows.push((run, rec));
            }
            let listed = contents[k].file(name).and_then(|e| e.rows);
            if listed != Some(count) {
                return Err(bad(format!(
                    "{count} data rows; its {} says {}",
                    report::manifest::MANIFEST_JSON,
                    listed.map_or("nothing".to_string(), |r| r.to_string())
                )));
            }
            // Every run has at least one row in the files with a row per
            // agent or per interval.
            if matches!(name, "agents.csv" | "timeseries.csv")
                && let Some(&run) = m.runs.iter().find(|&&r| seen[r] == 0)
            {
                return Err(bad(format!(
                    "no row for run {run} (`{}` replication {})",
                    grid.label(run / first.replications as usize),
                    run % first.replications as usize
                )));
            }
            if let Some(want) = per_run
                && let Some(&run) = m.runs.iter().find(|&&r| seen[r] != want)
            {
                return Err(bad(format!(
                    "{} rows for run {run} (`{}` replication {}); want exactly {want}",
                    seen[run],
                    grid.label(run / first.replications as usize),
                    run % first.replications as usize
                )));
            }
        }
        // Stable: a run's rows keep their order (bus.csv's kinds).
        rows.sort_by_key(|&(run, _)| run);
        let (head, _) = header.expect("there is at least one shard");
        let mut w = ::csv::Writer::from_writer(Vec::new());
        w.write_byte_record(&head)
            .expect("writing to memory cannot fail");
        for (_, rec) in &rows {
            w.write_byte_record(rec)
                .expect("writing to memory cannot fail");
        }
        files.push((name, w.into_inner().expect("writing to memory cannot fail")));
    }
    Ok(MergeOutput {
        files,
        shards: count,
        runs: total,
        scenario: first.scenario.clone(),
        scenario_hash: first.scenario_hash,
        seed: first.seed,
        manifest: first,
    })
}

fn vary_text(vary: &[Vary]) -> String {
    vary.iter()
        .map(|v| format!("--vary {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl MergeOutput {
    /// Write the merged files into `dir` atomically, then the charts, the
    /// sweep page and `results.json` ([`write_pages`]); returns the paths.
    pub fn write(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut written = report::write_files(dir, &self.files)?;
        written.extend(write_pages(dir, &self.manifest, &self.files)?);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary(s: &str) -> Vary {
        s.parse().unwrap()
    }

    #[test]
    fn the_last_key_varies_fastest() {
        let g = Grid::new(vec![vary("a=1,2"), vary("b=x,y,z")]).unwrap();
        assert_eq!(g.len(), 6);
        let labels: Vec<String> = (0..6).map(|p| g.label(p)).collect();
        assert_eq!(
            labels,
            [
                "a=1,b=x", "a=1,b=y", "a=1,b=z", "a=2,b=x", "a=2,b=y", "a=2,b=z"
            ]
        );
        assert_eq!(g.values(4), ["2", "y"]);
        assert!(matches!(
            Grid::new(vec![vary("a[0]=1"), vary("a.0=2")]),
            Err(SweepError::DuplicateKey(_))
        ));
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let m = Manifest {
            fleetsim: "0.1.0".to_string(),
            scenario: "small".to_string(),
            source: "dir/small, v2.toml".to_string(),
            scenario_hash: 0x0123_4567_89ab_cdef,
            seed: u64::MAX,
            set: vec!["balancer.strategy=p2c".to_string()],
            vary: vec![vary("a=1,2"), vary("b={x=1,y=2},{x=3}")],
            replications: 3,
            points: 4,
            runs_total: 12,
            shard: "1/5".parse().unwrap(),
            runs: vec![1, 6, 11],
        };
        let bytes = report::csv::shard_manifest(&m);
        assert_eq!(parse_manifest(&bytes), Ok(m.clone()));
        let text = String::from_utf8(bytes).unwrap();
        let broken = text.replace("runs,1 6 11", "runs,1 6");
        assert!(parse_manifest(broken.as_bytes()).is_err());
    }
}
