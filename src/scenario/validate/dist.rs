//! The distributions beyond the four basic ones: `gamma`, `erlang`,
//! `weibull`, `pareto`, `hyperexponential` and `empirical` (inline values,
//! or a column of a CSV file read here, at load time).
//!
//! Why at load time: a bad sample file fails `fleetsim validate` with the
//! file, line and column of the bad row, before any run starts, and every
//! run then shares one sorted copy of the sample (an `Arc`).
//!
//! Ranges (each failure names its key): shapes, `alpha` and every mean,
//! scale and minimum greater than 0; `k` a whole number ≥ 1; gamma's shape
//! and Erlang's `k` at most 10,000 (beyond that the distribution is a
//! constant within 1 %); `min < max`; a Pareto without `max` needs
//! `alpha > 1` (otherwise its mean, and so the load, is infinite); `probs`
//! from 0 to 1, as many as `means`, summing to 1 within 1e-9; `values`
//! not empty, `weights` as many as `values`, not negative, some positive.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Amount, Checker};
use crate::rng::{Dist, Empirical, Phase};
use crate::scenario::Problem;
use crate::scenario::raw::RawDist;
use crate::scenario::source::KeyPath;
use crate::time::{Duration, parse_duration};

/// Largest gamma shape (and Erlang `k`): the coefficient of variation is
/// then 1 %.
const MAX_SHAPE: f64 = 10_000.0;

/// `kind` is one of the kinds of this file; the keys that do not apply to
/// it have been reported already. `takes` lists its keys for messages.
pub(super) fn check<T: Amount>(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: &RawDist<T>,
    kind: &str,
    takes: &[&str],
) -> Option<Dist> {
    let what = format!("dist = \"{kind}\" takes {}", takes.join(", "));
    let duration = |c: &mut Checker<'_, '_>, name: &str, v: &Option<T>| {
        let d = c.required_amount(&path.key(name), v.as_ref(), &what)?;
        if d.is_zero() {
            c.fail(&path.key(name), "must be greater than 0");
            return None;
        }
        Some(d)
    };
    let positive = |c: &mut Checker<'_, '_>, name: &str, v: Option<f64>, hint: &str| match v {
        None => {
            c.fail(&path.key(name), format!("missing; {what}"));
            None
        }
        Some(x) if !x.is_finite() || x <= 0.0 => {
            c.fail(
                &path.key(name),
                format!("is {x}; must be a number greater than 0 ({hint})"),
            );
            None
        }
        Some(x) => Some(x),
    };
    match kind {
        "gamma" => {
            let shape = positive(
                c,
                "shape",
                raw.shape,
                "1 is the exponential; larger is less variable",
            );
            let mean = duration(c, "mean", &raw.mean);
            let shape = shape?;
            if shape > MAX_SHAPE {
                c.fail(
                    &path.key("shape"),
                    format!("is {shape}; at most {MAX_SHAPE} (the coefficient of variation is 1/√shape; use a constant beyond)"),
                );
                return None;
            }
            Some(Dist::Gamma { shape, mean: mean? })
        }
        "erlang" => {
            let k = match raw.k {
                None => {
                    c.fail(&path.key("k"), format!("missing; {what}"));
                    None
                }
                Some(k) if k == 0 || f64::from(k) > MAX_SHAPE => {
                    c.fail(
                        &path.key("k"),
                        format!("is {k}; must be a whole number from 1 to {MAX_SHAPE} (the number of exponential phases)"),
                    );
                    None
                }
                Some(k) => Some(f64::from(k)),
            };
            let mean = duration(c, "mean", &raw.mean);
            Some(Dist::Gamma {
                shape: k?,
                mean: mean?,
            })
        }
        "weibull" => {
            let shape = positive(
                c,
                "shape",
                raw.shape,
                "1 is the exponential; below 1 a heavier tail",
            );
            let scale = duration(c, "scale", &raw.scale);
            Some(Dist::Weibull {
                shape: shape?,
                scale: scale?,
            })
        }
        "pareto" => {
            let alpha = positive(c, "alpha", raw.alpha, "the tail index: smaller is heavier");
            let min = duration(c, "min", &raw.min);
            let max = match &raw.max {
                None => Some(None),
                Some(m) => T::read(c, &path.key("max"), m).map(Some),
            };
            let (alpha, min, max) = (alpha?, min?, max?);
            match max {
                Some(max) if max <= min => {
                    c.fail(
                        &path.key("max"),
                        format!(
                            "max ({}) must be greater than min ({})",
                            T::show(max),
                            T::show(min)
                        ),
                    );
                    None
                }
                None if alpha <= 1.0 => {
                    c.fail(
                        &path.key("alpha"),
                        format!("is {alpha}; without `max` the mean is infinite unless alpha > 1: give alpha > 1 or a max (a bounded Pareto)"),
                    );
                    None
                }
                max => Some(Dist::Pareto { alpha, min, max }),
            }
        }
        "hyperexponential" => hyperexponential(c, path, raw, &what),
        "empirical" => empirical(c, path, raw),
        other => unreachable!("`{other}` is not a kind of this file"),
    }
}

fn hyperexponential<T: Amount>(
    c: &mut Checker<'_, '_>,
    path: &KeyPath,
    raw: &RawDist<T>,
    what: &str,
) -> Option<Dist> {
    let example = format!("e.g. {}, probs = [0.9, 0.1]", T::EXAMPLE_MEANS);
    let means = match &raw.means {
        None => {
            c.fail(&path.key("means"), format!("missing; {what}: {example}"));
            None
        }
        Some(m) if m.is_empty() => {
            c.fail(&path.key("means"), format!("is empty; {example}"));
            None
        }
        Some(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (i, s) in m.iter().enumerate() {
                let p = path.key("means").index(i);
                match T::read(c, &p, s) {
                    Some(d) if d.is_zero() => c.fail(&p, "must be greater than 0"),
                    Some(d) => out.push(d),
                    None => {}
                }
            }
            (out.len() == m.len()).then_some(out)
        }
    };
    let probs = match &raw.probs {
        None => {
            c.fail(&path.key("probs"), format!("missing; {what}: {example}"));
            None
        }
        Some(p) => {
            let bad = p
                .iter()
                .position(|x| !x.is_finite() || !(0.0..=1.0).contains(x));
            let sum: f64 = p.iter().sum();
            if let Some(i) = bad {
                c.fail(
                    &path.key("probs").index(i),
                    format!("is {}; a probability is a number from 0 to 1", p[i]),
                );
                None
            } else if (sum - 1.0).abs() > 1e-9 {
                c.fail(
                    &path.key("probs"),
                    format!("sum to {sum}; the probabilities of the phases must sum to 1"),
                );
                None
            } else {
                Some(p.clone())
            }
        }
    };
    let (means, probs) = (means?, probs?);
    if means.len() != probs.len() {
        c.fail(
            &path.key("probs"),
            format!(
                "has {} entries for {} means; give one probability per mean",
                probs.len(),
                means.len()
            ),
        );
        return None;
    }
    let phases: Vec<Phase> = means
        .into_iter()
        .zip(probs)
        .map(|(mean, prob)| Phase { prob, mean })
        .collect();
    Some(Dist::HyperExponential(phases.into()))
}

fn empirical<T: Amount>(c: &mut Checker<'_, '_>, path: &KeyPath, raw: &RawDist<T>) -> Option<Dist> {
    let how = format!(
        "give the sample inline, {} (and optional weights), or from a CSV file, file = \"samples.csv\", column = \"latency\"",
        T::EXAMPLE_VALUES
    );
    match (&raw.values, &raw.file) {
        (None, None) => {
            c.fail(&path.key("values"), format!("missing; {how}"));
            None
        }
        (Some(_), Some(_)) => {
            c.fail(&path.key("file"), "give either values or file, not both");
            None
        }
        (Some(values), None) => {
            let mut ok = true;
            for key in ["column", "unit"] {
                if raw.keys().iter().any(|(k, present)| *k == key && *present) {
                    c.fail(
                        &path.key(key),
                        "applies only to a sample read from a file (file = \"...\")",
                    );
                    ok = false;
                }
            }
            if values.is_empty() {
                c.fail(&path.key("values"), format!("is empty; {how}"));
                return None;
            }
            let mut out = Vec::with_capacity(values.len());
            for (i, s) in values.iter().enumerate() {
                if let Some(d) = T::read(c, &path.key("values").index(i), s) {
                    out.push(d);
                }
            }
            let weights = raw.weights.as_deref();
            if let Some(w) = weights {
                if w.len() != values.len() {
                    c.fail(
                        &path.key("weights"),
                        format!(
                            "has {} entries for {} values; give one weight per value",
                            w.len(),
                            values.len()
                        ),
                    );
                    return None;
                }
                if let Some(i) = w.iter().position(|x| !x.is_finite() || *x < 0.0) {
                    c.fail(
                        &path.key("weights").index(i),
                        format!("is {}; a weight is a number of at least 0", w[i]),
                    );
                    return None;
                }
                if !w.iter().any(|x| *x > 0.0) {
                    c.fail(
                        &path.key("weights"),
                        "are all 0; give some weight a positive value",
                    );
                    return None;
                }
            }
            if !ok || out.len() != values.len() {
                return None;
            }
            let e = Empirical::new(&out, weights).expect("values and weights checked above");
            Some(Dist::Empirical(Arc::new(e)))
        }
        (None, Some(file)) => {
            if raw.weights.is_some() {
                c.fail(
                    &path.key("weights"),
                    "applies only to inline values; a file's rows count equally (repeat a row to weigh it)",
                );
                return None;
            }
            let column = match &raw.column {
                None => {
                    c.fail(
                        &path.key("column"),
                        "missing; the header name of the file's column of samples",
                    );
                    None
                }
                Some(col) if col.trim().is_empty() => {
                    c.fail(
                        &path.key("column"),
                        "is empty; name a column of the file's header",
                    );
                    None
                }
                Some(col) => Some(col.clone()),
            };
            let unit = match raw.unit.as_deref() {
                None => Some(Duration::from_secs(1)),
                Some(u) => match parse_duration(&format!("1{}", u.trim())) {
                    Ok(d)
                        if !u.trim().is_empty()
                            && u.trim().chars().all(|ch| ch.is_ascii_alphabetic()) =>
                    {
                        Some(d)
                    }
                    _ => {
                        c.fail(
                            &path.key("unit"),
                            format!("is `{u}`; the unit of bare numbers in the file: one of ns, us, ms, s, m, h"),
                        );
                        None
                    }
                },
            };
            if file.trim().is_empty() {
                c.fail(
                    &path.key("file"),
                    "is empty; give the path of a CSV file of samples",
                );
                return None;
            }
            let base = Path::new(&c.src.file)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let (column, unit) = (column?, unit?);
            match read_samples::<T>(&base.join(file), &column, unit) {
                Ok(values) => {
                    let e = Empirical::new(&values, None).expect("read_samples returns some rows");
                    Some(Dist::Empirical(Arc::new(e)))
                }
                Err(SampleError::AtKey(key, message)) => {
                    c.fail(&path.key(key), message);
                    None
                }
                Err(SampleError::AtRow(problem)) => {
                    c.problems.push(problem);
                    None
                }
            }
        }
    }
}

enum SampleError {
    /// A problem with the file as a whole, reported at a scenario key.
    AtKey(&'static str, String),
    /// A bad row, reported at the file's line and column.
    AtRow(Problem),
}

/// The samples of `column` in the CSV file at `path` (with a header row):
/// each cell a duration (`"12ms"`) or a bare number in `unit`s.
fn read_samples<T: Amount>(
    path: &PathBuf,
    column: &str,
    unit: Duration,
) -> Result<Vec<Duration>, SampleError> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| SampleError::AtKey("file", format!("cannot read `{shown}`: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| {
            SampleError::AtKey("file", format!("cannot read the header of `{shown}`: {e}"))
        })?
        .clone();
    let Some(col) = header.iter().position(|h| h.trim() == column) else {
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        return Err(SampleError::AtKey(
            "column",
            format!(
                "no column `{column}` in the header of `{shown}`; its columns are: {}",
                names.join(", ")
            ),
        ));
    };
    let at = |line: u64, message: String| {
        SampleError::AtRow(Problem {
            file: shown.clone(),
            location: format!("{line}:{}", col + 1),
            path: String::new(),
            snippet: String::new(),
            message: format!("column `{column}`: {message}"),
        })
    };
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(at(line, format!("unreadable row: {e}")));
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let Some(cell) = record.get(col).map(str::trim) else {
            return Err(at(
                line,
                "missing: the row is shorter than the header".to_string(),
            ));
        };
        if cell.is_empty() {
            return Err(at(line, "is empty; every row needs a sample".to_string()));
        }
        let value = match cell.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 && T::in_range(x) => T::from_number(x, unit),
            Ok(x) => {
                return Err(at(line, format!("is {x}; {}", T::SAMPLE_RANGE)));
            }
            Err(_) if T::CELL_DURATIONS => {
                parse_duration(cell).map_err(|e| at(line, e.to_string()))?
            }
            Err(_) => {
                return Err(at(line, format!("is `{cell}`; {}", T::SAMPLE_RANGE)));
            }
        };
        out.push(value);
    }
    if out.is_empty() {
        return Err(SampleError::AtKey(
            "file",
            format!("`{shown}` has no rows below its header; give at least one sample"),
        ));
    }
    Ok(out)
}
