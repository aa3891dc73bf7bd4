//! Fitting a distribution to logged durations (`fleetsim fit`): read one
//! column of a CSV log, fit each family by maximum likelihood, rank them and
//! say which `service_time = { dist = ... }` line to paste into a scenario.
//!
//! Why: a scenario is only as good as its service-time distribution, and
//! the distribution that matters is the one a real service shows. This
//! module closes the calibration loop: log → fit → scenario → simulated
//! latency, compared with the log.
//!
//! Sans-IO: [`read_log`] takes the bytes of a file (the caller opens it)
//! and [`fit_group`] a slice of seconds; the CSV and the chart are written
//! by `report` and the command line. Families, their CDFs and estimators are
//! in `fit/family.rs`, special functions in `fit/special.rs`.
//!
//! Ranking: by the Kolmogorov–Smirnov distance D = supₓ |Fₙ(x) − F(x)|
//! (smaller is closer), ties broken by the order of [`NAMES`]. AIC =
//! 2k − 2 ln L is reported beside it, with its own rank, for the families
//! with a density. The constant has no density, so only its D is shown; the
//! empirical distribution is the sample itself (D = 0 by construction), so
//! it is listed last, unranked, as the fallback when no family fits well.

pub mod family;
pub mod special;

use std::collections::BTreeMap;

pub use family::{Family, FitError, NAMES, Z99};

/// A bad log. Displayed like a bad trace: `{file}:{line}:{col}: column
/// `{name}`: {message}` for a bad cell, `{file}:{line}: {message}`
/// otherwise. Lines are 1-based, the header being line 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct LogError {
    pub file: String,
    pub line: u64,
    /// 1-based column number and header name of the bad cell.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl LogError {
    fn render(&self) -> String {
        let (file, line, message) = (&self.file, self.line, &self.message);
        match &self.column {
            Some((col, name)) => format!("{file}:{line}:{col}: column `{name}`: {message}"),
            None => format!("{file}:{line}: {message}"),
        }
    }
}

/// A duration cell in seconds: a plain number is `unit` seconds each (1.0:
/// seconds, 1e-3: milliseconds), otherwise a number with a unit as in
/// scenario files ("12ms", "1.5s").
pub fn parse_seconds(cell: &str, unit: f64) -> Result<f64, String> {
    let s = cell.trim();
    if s.is_empty() {
        return Err("empty; write a duration such as 0.012 (seconds) or \"12ms\"".into());
    }
    if let Ok(v) = s.parse::<f64>() {
        if !v.is_finite() {
            return Err(format!("`{s}` is not a finite number of seconds"));
        }
        if v < 0.0 {
            return Err(format!("`{s}` is negative; durations are zero or more"));
        }
        return Ok(v * unit);
    }
    crate::time::parse_duration(s)
        .map(|d| d.as_secs_f64())
        .map_err(|e| e.to_string())
}

/// The durations (seconds) of column `column` of the CSV log `bytes`, by
/// the value of column `by` (one group, named `""`, without it), groups in
/// sorted order; plain numbers are `unit` seconds each. `file` names the
/// log in errors.
pub fn read_log(
    file: &str,
    bytes: &[u8],
    column: &str,
    by: Option<&str>,
    unit: f64,
) -> Result<BTreeMap<String, Vec<f64>>, LogError> {
    let err = |line: u64, column: Option<(usize, String)>, message: String| LogError {
        file: file.to_string(),
        line,
        column,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| err(1, None, format!("cannot read the header: {e}")))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                let have: Vec<&str> = headers.iter().collect();
                err(
                    1,
                    None,
                    format!("no column `{name}`; the header has {have:?}"),
                )
            })
    };
    let value_col = find(column)?;
    let by_col = by.map(find).transpose()?;
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(err(line, None, format!("not a CSV row: {e}")));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let cell = &record[value_col];
        let v = parse_seconds(cell, unit)
            .map_err(|m| err(line, Some((value_col + 1, column.to_string())), m))?;
        let key = by_col.map_or(String::new(), |c| record[c].trim().to_string());
        groups.entry(key).or_default().push(v);
    }
    if groups.is_empty() {
        return Err(err(1, None, "no rows after the header".into()));
    }
    Ok(groups)
}

/// One family fitted to a group.
#[derive(Clone, Debug, PartialEq)]
pub struct FitRow {
    pub family: Family,
    /// ln L; `None` without a density (constant, empirical).
    pub log_likelihood: Option<f64>,
    pub aic: Option<f64>,
    /// Kolmogorov–Smirnov distance to the sample.
    pub ks: f64,
    /// 1 = closest by KS; `None` for the empirical.
    pub rank_ks: Option<usize>,
    /// 1 = lowest AIC; `None` without a density.
    pub rank_aic: Option<usize>,
}

/// Every family fitted to one group, ranked.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFit {
    /// The `--by` value (`""` without `--by`).
    pub group: String,
    /// The sample, sorted (seconds).
    pub sorted: Vec<f64>,
    /// The fitted families, by KS rank, the empirical last.
    pub rows: Vec<FitRow>,
    /// The families that could not be fitted, and why.
    pub skipped: Vec<(&'static str, FitError)>,
}

impl GroupFit {
    /// The best-ranked family (by KS).
    pub fn best(&self) -> &FitRow {
        &self.rows[0]
    }
}

/// The Kolmogorov–Smirnov distance between the sorted sample and `f`.
pub fn ks_distance(sorted: &[f64], f: &Family) -> f64 {
    let n = sorted.len() as f64;
    match f {
        Family::Empirical { .. } => 0.0,
        Family::Constant { value } => {
            let below = sorted.partition_point(|x| x < value) as f64 / n;
            let upto = sorted.partition_point(|x| x <= value) as f64 / n;
            below.max(1.0 - upto)
        }
        _ => sorted
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let c = f.cdf(x);
                ((i + 1) as f64 / n - c).max(c - i as f64 / n)
            })
            .fold(0.0, f64::max),
    }
}

/// Fit every family of [`NAMES`] to `xs` (seconds) and rank them.
pub fn fit_group(group: &str, xs: &[f64]) -> GroupFit {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for name in NAMES {
        let family = match Family::fit(name, &sorted) {
            Ok(f) => f,
            Err(e) => {
                skipped.push((name, e));
                continue;
            }
        };
        let log_likelihood = family.parameters().map(|_| {
            sorted
                .iter()
                .map(|&x| family.ln_pdf(x).unwrap_or(f64::NEG_INFINITY))
                .sum()
        });
        let aic = family
            .parameters()
            .zip(log_likelihood)
            .map(|(k, ll): (usize, f64)| 2.0 * k as f64 - 2.0 * ll);
        let ks = ks_distance(&sorted, &family);
        rows.push(FitRow {
            family,
            log_likelihood,
            aic,
            ks,
            rank_ks: None,
            rank_aic: None,
        });
    }
    let order = |r: &FitRow| NAMES.iter().position(|n| *n == r.family.name());
    // AIC ranks (finite AICs only), then the KS order of the table.
    let mut by_aic: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].aic.is_some_and(f64::is_finite))
        .collect();
    by_aic.sort_by(|&a, &b| {
        rows[a]
            .aic
            .unwrap()
            .total_cmp(&rows[b].aic.unwrap())
            .then(order(&rows[a]).cmp(&order(&rows[b])))
    });
    for (r, &i) in by_aic.iter().enumerate() {
        rows[i].rank_aic = Some(r + 1);
    }
    rows.sort_by(|a, b| {
        let emp = |r: &FitRow| matches!(r.family, Family::Empirical { .. });
        emp(a)
            .cmp(&emp(b))
            .then(a.ks.total_cmp(&b.ks))
            .then(order(a).cmp(&order(b)))
    });
    for (r, row) in rows.iter_mut().enumerate() {
        if !matches!(row.family, Family::Empirical { .. }) {
            row.rank_ks = Some(r + 1);
        }
    }
    GroupFit {
        group: group.to_string(),
        sorted,
        rows,
        skipped,
    }
}

/// A duration in seconds as scenario files write it, to 4 significant
/// digits in the largest unit below it ("41.2ms", "1.5s", "750ns").
pub fn format_duration(secs: f64) -> String {
    let (value, unit, max_decimals) = if secs >= 1.0 {
        (secs, "s", 9)
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms", 6)
    } else if secs >= 1e-6 {
        (secs * 1e6, "us", 3)
    } else {
        (secs * 1e9, "ns", 0)
    };
    let magnitude = if value > 0.0 {
        libm::floor(libm::log10(value)) as i32
    } else {
        0
    };
    let decimals = (3 - magnitude).clamp(0, max_decimals) as usize;
    let mut s = format!("{value:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{unit}")
}

/// A dimensionless parameter: 4 significant digits, at most 4 decimals.
pub fn format_number(x: f64) -> String {
    let magnitude = if x.abs() > 0.0 {
        libm::floor(libm::log10(x.abs())) as i32
    } else {
        0
    };
    let decimals = (3 - magnitude).clamp(0, 4) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where a scenario's `empirical` distribution reads a group's sample: the
/// log itself (with the unit of its plain numbers unless seconds), or, for
/// one group of a `--by` fit, a file of that group's samples in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleFile {
    pub file: String,
    pub column: String,
    pub unit: Option<String>,
}

/// A group's sample as a CSV file `empirical` reads: a header `column`,
/// then one duration in seconds per row (shortest round-trip form), in
/// sorted order.
pub fn sample_csv(column: &str, sorted: &[f64]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    w.write_record([column]).expect("in memory");
    for x in sorted {
        w.write_record([format!("{x}")]).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

impl Family {
    /// The parameters as the scenario file spells them: `name=value`
    /// pairs, durations with units.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let d = format_duration;
        match *self {
            Family::Constant { value } => vec![("value", d(value))],
            Family::Exponential { mean } => vec![("mean", d(mean))],
            Family::Lognormal { mu, sigma } => vec![
                ("median", d(libm::exp(mu))),
                ("p99", d(libm::exp(mu + Z99 * sigma))),
            ],
            Family::Gamma { shape, scale } => {
                vec![("shape", format_number(shape)), ("mean", d(shape * scale))]
            }
            Family::Weibull { shape, scale } => {
                vec![("shape", format_number(shape)), ("scale", d(scale))]
            }
            Family::Pareto { alpha, min } => {
                vec![("alpha", format_number(alpha)), ("min", d(min))]
            }
            Family::Empirical { ref sorted } => vec![("values", sorted.len().to_string())],
        }
    }

    /// The inline table to paste as `service_time = ...`; `sample` names
    /// the file the empirical one reads.
    pub fn toml(&self, sample: &SampleFile) -> String {
        let name = self.name();
        if let Family::Empirical { .. } = self {
            let SampleFile { file, column, unit } = sample;
            return match unit {
                Some(u) => format!(
                    "{{ dist = \"{name}\", file = {file:?}, column = {column:?}, unit = {u:?} }}"
                ),
                None => format!("{{ dist = \"{name}\", file = {file:?}, column = {column:?} }}"),
            };
        }
        let params: Vec<String> = self
            .describe()
            .into_iter()
            .map(|(k, v)| {
                if matches!(k, "shape" | "alpha") {
                    format!("{k} = {v}")
                } else {
                    format!("{k} = \"{v}\"")
                }
            })
            .collect();
        format!("{{ dist = \"{name}\", {} }}", params.join(", "))
    }
}

/// The terminal table of one group: one row per family by KS rank, then
/// the families that could not be fitted, then the line to paste.
pub fn table(fit: &GroupFit, sample: &SampleFile) -> String {
    use std::fmt::Write;
    let column = &sample.column;
    let mut out = String::new();
    let xs = &fit.sorted;
    let q = |p: f64| Family::Empirical { sorted: xs.clone() }.quantile(p);
    let group = if fit.group.is_empty() {
        String::new()
    } else {
        format!(" [{}]", fit.group)
    };
    let _ = writeln!(
        out,
        "{column}{group}: {} values, min {}, median {}, p99 {}, max {}",
        xs.len(),
        format_duration(xs[0]),
        format_duration(q(0.5)),
        format_duration(q(0.99)),
        format_duration(xs[xs.len() - 1]),
    );
    let _ = writeln!(
        out,
        "ranked by Kolmogorov–Smirnov distance (smaller is closer); AIC rank beside it"
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<12} {:<34} {:>14} {:>14} {:>8} {:>4}",
        "rank", "family", "parameters", "log-lik", "AIC", "KS", "AIC#"
    );
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
    for row in &fit.rows {
        let params: Vec<String> = row
            .family
            .describe()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{:>4}  {:<12} {:<34} {:>14} {:>14} {:>8.4} {:>4}",
            row.rank_ks.map_or("-".to_string(), |r| r.to_string()),
            row.family.name(),
            params.join(" "),
            opt(row.log_likelihood),
            opt(row.aic),
            row.ks,
            row.rank_aic.map_or("-".to_string(), |r| r.to_string()),
        );
    }
    for (name, why) in &fit.skipped {
        let _ = writeln!(out, "   -  {name:<12} not fitted: {why}");
    }
    let _ = writeln!(out, "service_time = {}", fit.best().family.toml(sample));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_scenario_files_parse_them() {
        for (s, want) in [
            (0.0412, "41.2ms"),
            (1.5, "1.5s"),
            (0.18, "180ms"),
            (7.5e-7, "750ns"),
            (1.23456e-5, "12.35us"),
            (0.0, "0ns"),
        ] {
            assert_eq!(format_duration(s), want);
            let back = crate::time::parse_duration(want).unwrap().as_secs_f64();
            assert!((back - s).abs() <= 5e-4 * s + 1e-9, "{s} → {want} → {back}");
        }
        assert_eq!(format_number(2.1), "2.1");
        assert_eq!(format_number(0.123456), "0.1235");
    }

    #[test]
    fn cells_are_seconds_or_durations() {
        assert_eq!(parse_seconds("0.25", 1.0), Ok(0.25));
        assert_eq!(parse_seconds(" 12ms ", 1e-3), Ok(0.012));
        assert_eq!(parse_seconds("12", 1e-3), Ok(0.012));
        assert!(parse_seconds("-1", 1.0).unwrap_err().contains("negative"));
        assert!(parse_seconds("", 1.0).unwrap_err().contains("empty"));
        assert!(parse_seconds("12 parsecs", 1.0).is_err());
    }

    #[test]
    fn a_bad_cell_names_file_line_and_column() {
        let log = b"ts,latency\n1,10ms\n2,oops\n";
        let e = read_log("log.csv", log, "latency", None, 1.0).unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.column, Some((2, "latency".into())));
        assert!(
            e.to_string().starts_with("log.csv:3:2: column `latency`: "),
            "{e}"
        );
        let e = read_log("log.csv", log, "nope", None, 1.0).unwrap_err();
        assert!(
            e.to_string().starts_with("log.csv:1: no column `nope`"),
            "{e}"
        );
    }

    #[test]
    fn groups_come_sorted() {
        let log = b"tier,t\nb,1\na,2\nb,3\n";
        let g = read_log("x", log, "t", Some("tier"), 1.0).unwrap();
        assert_eq!(g.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(g["b"], [1.0, 3.0]);
    }

    #[test]
    fn ks_of_a_constant_is_the_mass_off_it() {
        let f = Family::Constant { value: 2.0 };
        assert_eq!(ks_distance(&[1.0, 2.0, 2.0, 3.0], &f), 0.25);
        assert_eq!(ks_distance(&[2.0, 2.0], &f), 0.0);
        // Exponential(1) vs the sample {ln 2}: F = 0.5 at the one point.
        let e = Family::Exponential { mean: 1.0 };
        assert!((ks_distance(&[std::f64::consts::LN_2], &e) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn toml_lines_have_the_scenario_keys() {
        let none = SampleFile {
            file: "f".into(),
            column: "c".into(),
            unit: None,
        };
        let g = Family::Gamma {
            shape: 2.1,
            scale: 0.045 / 2.1,
        };
        assert_eq!(
            g.toml(&none),
            r#"{ dist = "gamma", shape = 2.1, mean = "45ms" }"#
        );
        let l = Family::Lognormal {
            mu: libm::log(0.0412),
            sigma: 0.5,
        };
        assert!(
            l.toml(&none)
                .starts_with(r#"{ dist = "lognormal", median = "41.2ms", p99 = "#)
        );
        let e = Family::Empirical { sorted: vec![1.0] };
        let mut sample = SampleFile {
            file: "logs/a.csv".into(),
            column: "ms".into(),
            unit: None,
        };
        assert_eq!(
            e.toml(&sample),
            r#"{ dist = "empirical", file = "logs/a.csv", column = "ms" }"#
        );
        sample.unit = Some("ms".into());
        assert_eq!(
            e.toml(&sample),
            r#"{ dist = "empirical", file = "logs/a.csv", column = "ms", unit = "ms" }"#
        );
        assert_eq!(
            sample_csv("lat", &[0.5, 0.0125]),
            b"lat\n0.5\n0.0125\n".to_vec()
        );
    }
}
