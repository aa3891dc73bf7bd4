//! The CI regression gate: compare a scenario's key metrics with a baseline
//! committed under `reports/baselines/`, metric by metric, each with a
//! tolerance in the direction that hurts (latency up, success down). The
//! metrics, their directions and default tolerances are the registry's
//! checked ones (`metrics::registry::checked`).
//!
//! Why baselines hold the scenario's hash and seed: a run is deterministic,
//! so against an unchanged scenario any difference comes from the code; a
//! changed scenario makes the comparison meaningless, and `check` says so
//! instead of reporting a "regression". A baseline is one small CSV per
//! scenario (`<name>.csv`: `metric,value` rows after a header of
//! provenance), so a diff in review shows exactly what moved.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::metrics::RunResult;
use crate::metrics::registry::{self, Metric, Worse};
use crate::report::{fixed, write_durable};
use crate::scenario::Scenario;

/// The checked metric called `name`.
fn metric(name: &str) -> Option<&'static Metric> {
    registry::checked().find(|m| m.name == name)
}

/// Why `check` could not run (exit 2), as opposed to a failed check (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "--tolerance `{0}`: not METRIC=PCT (e.g. latency_p99_ms=5%); metrics: {list}",
        list = metric_names()
    )]
    BadTolerance(String),
    #[error("--tolerance: unknown metric `{0}`; one of {list}", list = metric_names())]
    UnknownMetric(String),
    #[error("baseline {path}: {message}")]
    BadBaseline { path: PathBuf, message: String },
    #[error("cannot read or write baseline {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn metric_names() -> String {
    registry::checked()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tolerances per metric, in percent: defaults overridden by
/// `--tolerance latency_p99_ms=5%,success_rate=0.5`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances(BTreeMap<&'static str, f64>);

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances(
            registry::ALL
                .iter()
                .filter_map(|m| Some((m.name, m.tolerance_pct?)))
                .collect(),
        )
    }
}

impl Tolerances {
    /// Apply `METRIC=PCT[,METRIC=PCT...]` (the `%` is optional).
    pub fn parse_into(&mut self, spec: &str) -> Result<(), CheckError> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, pct) = part
                .split_once('=')
                .ok_or_else(|| CheckError::BadTolerance(part.to_string()))?;
            let m =
                metric(name.trim()).ok_or_else(|| CheckError::UnknownMetric(name.to_string()))?;
            let pct: f64 = pct
                .trim()
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| CheckError::BadTolerance(part.to_string()))?;
            self.0.insert(m.name, pct);
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> f64 {
        self.0[name]
    }
}

/// A stored baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    pub scenario: String,
    /// The scenario as the command line names it: the file path as given,
    /// or the built-in name. Only the comment line that says how to
    /// regenerate the file uses it; reading takes it from `scenario`.
    pub source: String,
    /// The scenario's hash (`Origin::hash`) when the baseline was taken.
    pub hash: u64,
    pub seed: u64,
    pub replications: u32,
    pub values: BTreeMap<String, f64>,
    /// The trajectory fingerprint pinned (exact mode): the runs'
    /// fingerprints combined in replication order
    /// (`world::fingerprint::combine`). `None`: an older baseline without
    /// the `fingerprint` row, checked on its metrics only.
    pub fingerprint: Option<u64>,
}

/// The file of `sc`'s baseline in `dir`.
pub fn baseline_path(dir: &Path, sc: &Scenario) -> PathBuf {
    dir.join(format!("{}.csv", sc.name))
}

/// How the command line names `sc`: a built-in by its name, a file by the
/// path it was loaded from (as given, so relative to where `check` ran).
pub fn command_name(sc: &Scenario) -> String {
    let file = &sc.origin.file;
    file.strip_prefix("builtin:").unwrap_or(file).to_string()
}

/// `s` as one shell word: as is when it needs no quoting, else in single
/// quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The runs' fingerprints combined, in order (what a baseline pins).
pub fn fingerprint_of(runs: &[RunResult]) -> u64 {
    crate::world::fingerprint::combine(runs.iter().map(|r| r.fingerprint))
}

/// The mean of each metric over the runs.
pub fn measure(runs: &[RunResult]) -> BTreeMap<String, f64> {
    registry::checked()
        .map(|m| {
            let mean = runs.iter().map(m.get).sum::<f64>() / runs.len().max(1) as f64;
            (m.name.to_string(), mean)
        })
        .collect()
}

impl Baseline {
    pub fn new(sc: &Scenario, replications: u32, runs: &[RunResult]) -> Baseline {
        Baseline {
            scenario: sc.name.clone(),
            source: command_name(sc),
            hash: sc.origin.hash,
            seed: sc.seed.0,
            replications,
            values: measure(runs),
            fingerprint: Some(fingerprint_of(runs)),
        }
    }

    /// The file's bytes: a comment with the command that regenerates it
    /// into `dir` (ignored when read), the provenance, then one metric per
    /// row.
    pub fn to_csv(&self, dir: &Path) -> Vec<u8> {
        let replications = if self.replications == 1 {
            String::new()
        } else {
            format!(" --replications {}", self.replications)
        };
        let mut out = format!(
            "# fleetsim baseline: regenerate with `fleetsim check {} --baseline {}{replications} --update`\n",
            shell_word(&self.source),
            shell_word(&dir.display().to_string()),
        );
        out += "key,value\n";
        out += &format!("scenario,{}\n", self.scenario);
        out += &format!("scenario_hash,{:016x}\n", self.hash);
        out += &format!("seed,{}\n", self.seed);
        out += &format!("replications,{}\n", self.replications);
        if let Some(f) = self.fingerprint {
            out += &format!("fingerprint,{f:016x}\n");
        }
        for (k, v) in &self.values {
            out += &format!("{k},{}\n", fixed(*v, 6));
        }
        out.into_bytes()
    }

    pub fn read(path: &Path) -> Result<Option<Baseline>, CheckError> {
        let text = match crate::scenario::read_bounded(path).and_then(|b| {
            String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CheckError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let bad = |message: String| CheckError::BadBaseline {
            path: path.to_path_buf(),
            message,
        };
        let mut kv = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line == "key,value" || line.trim().is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once(',')
                .ok_or_else(|| bad(format!("line {}: not KEY,VALUE", i + 1)))?;
            kv.insert(k.to_string(), v.to_string());
        }
        let mut take = |k: &str| {
            kv.remove(k)
                .ok_or_else(|| bad(format!("no `{k}` row; regenerate it with --update")))
        };
        let scenario = take("scenario")?;
        let hash = u64::from_str_radix(&take("scenario_hash")?, 16)
            .map_err(|e| bad(format!("scenario_hash: {e}")))?;
        let seed = take("seed")?
            .parse()
            .map_err(|e| bad(format!("seed: {e}")))?;
        let replications = take("replications")?
            .parse()
            .map_err(|e| bad(format!("replications: {e}")))?;
        let fingerprint = match kv.remove("fingerprint") {
            None => None,
            Some(f) => {
                Some(u64::from_str_radix(&f, 16).map_err(|e| bad(format!("fingerprint: {e}")))?)
            }
        };
        let values = kv
            .into_iter()
            .map(|(k, v)| {
                v.parse::<f64>()
                    .map(|x| (k.clone(), x))
                    .map_err(|e| bad(format!("{k}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Baseline {
            source: scenario.clone(),
            scenario,
            hash,
            seed,
            replications,
            values,
            fingerprint,
        }))
    }

    pub fn write(&self, path: &Path) -> Result<(), CheckError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CheckError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        write_durable(path, &self.to_csv(dir)).map_err(|source| CheckError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// One metric's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub baseline: f64,
    pub current: f64,
    /// Relative change in percent (0 when both are 0).
    pub change_pct: f64,
    pub tolerance_pct: f64,
    pub regressed: bool,
}

/// The result of checking one scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Compared metric by metric.
    Compared(Vec<Row>),
    /// No baseline file.
    Missing,
    /// The scenario (or seed, or replication count) differs from the
    /// baseline's: the numbers are not comparable.
    Changed { what: String },
    /// Every metric is within its tolerance, but the baseline pins a
    /// fingerprint and the runs' differs: some event changed.
    Trajectory {
        rows: Vec<Row>,
        baseline: u64,
        current: u64,
    },
}

impl Verdict {
    pub fn passed(&self) -> bool {
        match self {
            Verdict::Compared(rows) => rows.iter().all(|r| !r.regressed),
            _ => false,
        }
    }
}

/// Compare a measurement with its baseline.
pub fn compare(
    sc: &Scenario,
    replications: u32,
    current: &BTreeMap<String, f64>,
    baseline: Option<&Baseline>,
    tol: &Tolerances,
) -> Verdict {
    let Some(b) = baseline else {
        return Verdict::Missing;
    };
    let mut changed = Vec::new();
    if b.hash != sc.origin.hash {
        changed.push(format!(
            "the scenario changed (hash {:016x} in the baseline, {:016x} now)",
            b.hash, sc.origin.hash
        ));
    }
    if b.seed != sc.seed.0 {
        changed.push(format!("the seed changed ({} → {})", b.seed, sc.seed.0));
    }
    if b.replications != replications {
        changed.push(format!(
            "the replications changed ({} → {replications})",
            b.replications
        ));
    }
    if !changed.is_empty() {
        return Verdict::Changed {
            what: changed.join("; "),
        };
    }
    let rows = registry::checked()
        .filter_map(|m| {
            let base = *b.values.get(m.name)?;
            let cur = current[m.name];
            let change_pct = if base == 0.0 {
                if cur == 0.0 {
                    0.0
                } else {
                    f64::INFINITY.copysign(cur)
                }
            } else {
                (cur - base) / base.abs() * 100.0
            };
            let tolerance_pct = tol.get(m.name);
            let worse_by = match m.worse {
                Worse::Higher => change_pct,
                Worse::Lower => -change_pct,
                // Cannot get worse (and is never checked: a registry test).
                Worse::Neither => 0.0,
            };
            Some(Row {
                metric: m.name,
                baseline: base,
                current: cur,
                change_pct,
                tolerance_pct,
                regressed: worse_by > tolerance_pct,
            })
        })
        .collect();
    Verdict::Compared(rows)
}

/// Exact mode: a verdict that passed on its metrics fails if the baseline
/// pins a fingerprint and `current` (the runs' combined fingerprint)
/// differs. Baselines without a pin are left as they were.
pub fn exact(verdict: Verdict, baseline: Option<&Baseline>, current: u64) -> Verdict {
    match (verdict, baseline.and_then(|b| b.fingerprint)) {
        (Verdict::Compared(rows), Some(pinned))
            if pinned != current && rows.iter().all(|r| !r.regressed) =>
        {
            Verdict::Trajectory {
                rows,
                baseline: pinned,
                current,
            }
        }
        (v, _) => v,
    }
}

/// A markdown report of every scenario's verdict (for a CI step summary).
pub struct Report<'a>(pub &'a [(String, Verdict)]);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.0.iter().filter(|(_, v)| !v.passed()).count();
        if failed == 0 {
            writeln!(
                f,
                "### fleetsim check: all {} scenario(s) within tolerance\n",
                self.0.len()
            )?;
        } else {
            writeln!(
                f,
                "### fleetsim check: {failed} of {} scenario(s) failed\n",
                self.0.len()
            )?;
        }
        writeln!(
            f,
            "| scenario | metric | baseline | current | change | tolerance | |"
        )?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---|")?;
        for (name, v) in self.0 {
            match v {
                Verdict::Missing => writeln!(
                    f,
                    "| {name} | — | | | | | ❌ no baseline: run `fleetsim check {name} --baseline DIR --update` |"
                )?,
                Verdict::Changed { what } => writeln!(
                    f,
                    "| {name} | — | | | | | ❌ not comparable: {what}; review it, then refresh the baseline with `--update` |"
                )?,
                Verdict::Compared(rows) | Verdict::Trajectory { rows, .. } => {
                    for r in rows {
                        let change = if r.change_pct.abs() < 0.005 {
                            "0.00 %".to_string()
                        } else if r.change_pct.is_finite() {
                            format!("{:+.2} %", r.change_pct)
                        } else {
                            "from 0".to_string()
                        };
                        writeln!(
                            f,
                            "| {name} | {} | {} | {} | {change} | {} % | {} |",
                            r.metric,
                            fixed(r.baseline, 3),
                            fixed(r.current, 3),
                            fixed(r.tolerance_pct, 1),
                            if r.regressed { "❌ regressed" } else { "✅" }
                        )?;
                    }
                    if let Verdict::Trajectory {
                        baseline, current, ..
                    } = v
                    {
                        writeln!(
                            f,
                            "| {name} | fingerprint | {baseline:016x} | {current:016x} | | exact | ❌ trajectory changed: \
                             every metric is within tolerance, but the events differ; \
                             `fleetsim diff` shows the first that differs; if intended, refresh the baseline with `--update` |"
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn sc() -> Scenario {
        scenario::load("mm1", &[]).unwrap()
    }

    fn values(p99: f64, success: f64) -> BTreeMap<String, f64> {
        let mut v: BTreeMap<String, f64> = registry::checked()
            .map(|m| (m.name.to_string(), 10.0))
            .collect();
        v.insert("latency_p99_ms".into(), p99);
        v.insert("success_rate".into(), success);
        v
    }

    fn baseline(sc: &Scenario, p99: f64, success: f64) -> Baseline {
        Baseline {
            scenario: sc.name.clone(),
            source: sc.name.clone(),
            hash: sc.origin.hash,
            seed: sc.seed.0,
            replications: 1,
            values: values(p99, success),
            fingerprint: Some(0xabc),
        }
    }

    #[test]
    fn a_regression_is_a_change_beyond_the_tolerance_in_the_bad_direction() {
        let sc = sc();
        let tol = Tolerances::default();
        let b = baseline(&sc, 100.0, 0.99);
        let same = compare(&sc, 1, &values(100.0, 0.99), Some(&b), &tol);
        assert!(same.passed());
        // p99 +10 % is at the default tolerance (10 %): passes; +10.5 % fails.
        assert!(compare(&sc, 1, &values(110.0, 0.99), Some(&b), &tol).passed());
        assert!(!compare(&sc, 1, &values(110.5, 0.99), Some(&b), &tol).passed());
        // Better is never a regression, however large.
        assert!(compare(&sc, 1, &values(50.0, 1.0), Some(&b), &tol).passed());
        // Success down 2 % (tolerance 1 %) fails.
        assert!(!compare(&sc, 1, &values(100.0, 0.97), Some(&b), &tol).passed());
    }

    #[test]
    fn tolerances_parse_and_unknown_metrics_are_named() {
        let mut t = Tolerances::default();
        t.parse_into("latency_p99_ms=5%, success_rate=0.5").unwrap();
        assert_eq!(t.get("latency_p99_ms"), 5.0);
        assert_eq!(t.get("success_rate"), 0.5);
        let e = t.parse_into("p99=5").unwrap_err().to_string();
        assert!(
            e.contains("unknown metric `p99`") && e.contains("latency_p99_ms"),
            "{e}"
        );
        assert!(t.parse_into("latency_p99_ms=lots").is_err());
    }

    #[test]
    fn a_changed_scenario_or_seed_is_not_comparable() {
        let sc = sc();
        let mut b = baseline(&sc, 100.0, 0.99);
        b.hash ^= 1;
        b.seed += 1;
        match compare(
            &sc,
            1,
            &values(100.0, 0.99),
            Some(&b),
            &Tolerances::default(),
        ) {
            Verdict::Changed { what } => {
                assert!(
                    what.contains("scenario changed") && what.contains("seed changed"),
                    "{what}"
                )
            }
            v => panic!("{v:?}"),
        }
        assert_eq!(
            compare(&sc, 1, &values(1.0, 1.0), None, &Tolerances::default()),
            Verdict::Missing
        );
    }

    #[test]
    fn baselines_round_trip_through_their_file() {
        let sc = sc();
        let b = baseline(&sc, 123.456789, 0.5);
        let dir = tempfile::tempdir().unwrap();
        let p = baseline_path(dir.path(), &sc);
        b.write(&p).unwrap();
        let back = Baseline::read(&p).unwrap().unwrap();
        assert_eq!(back.hash, b.hash);
        assert_eq!(back.fingerprint, Some(0xabc));
        assert_eq!(back.values["latency_p99_ms"], 123.456789);
        assert_eq!(Baseline::read(&dir.path().join("none.csv")).unwrap(), None);
    }

    #[test]
    fn the_comment_gives_a_command_that_names_the_scenario_as_loaded() {
        let sc = sc();
        let mut b = baseline(&sc, 1.0, 1.0);
        // A built-in by name, the directory as given.
        let text = String::from_utf8(b.to_csv(Path::new("reports/baselines"))).unwrap();
        assert!(
            text.starts_with(&format!(
                "# fleetsim baseline: regenerate with `fleetsim check {} --baseline reports/baselines --update`\n",
                sc.name
            )),
            "{text}"
        );
        // A file by its path, replications kept, odd paths quoted.
        b.source = "scenarios/api gateway.toml".into();
        b.replications = 3;
        let text = String::from_utf8(b.to_csv(Path::new("ci/baselines"))).unwrap();
        assert!(
            text.starts_with(
                "# fleetsim baseline: regenerate with `fleetsim check 'scenarios/api gateway.toml' \
                 --baseline ci/baselines --replications 3 --update`\n"
            ),
            "{text}"
        );
        // The comment is not data: two baselines that differ only in it
        // read back the same.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, &text).unwrap();
        let a = Baseline::read(&p).unwrap().unwrap();
        let other = text.replacen("ci/baselines", "elsewhere", 1);
        std::fs::write(&p, other).unwrap();
        assert_eq!(Baseline::read(&p).unwrap().unwrap(), a);
    }

    #[test]
    fn a_pinned_fingerprint_fails_a_check_whose_metrics_pass_and_says_why() {
        let sc = sc();
        let tol = Tolerances::default();
        let mut b = baseline(&sc, 100.0, 0.99);
        let v = |b: &Baseline| compare(&sc, 1, &values(100.0, 0.99), Some(b), &tol);
        assert!(exact(v(&b), Some(&b), 0xabc).passed());
        let changed = exact(v(&b), Some(&b), 0xabd);
        assert!(!changed.passed());
        let report = Report(&[("mm1".into(), changed)]).to_string();
        assert!(
            report.contains("trajectory changed")
                && report.contains("0000000000000abc")
                && report.contains("0000000000000abd"),
            "{report}"
        );
        // A metric past its tolerance is reported as a regression.
        let worse = compare(&sc, 1, &values(200.0, 0.99), Some(&b), &tol);
        assert!(matches!(exact(worse, Some(&b), 1), Verdict::Compared(_)));
        // A baseline without a pin is checked on its metrics only.
        b.fingerprint = None;
        assert!(exact(v(&b), Some(&b), 0xabd).passed());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        b.write(&p).unwrap();
        assert_eq!(Baseline::read(&p).unwrap().unwrap().fingerprint, None);
    }
}
