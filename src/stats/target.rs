//! Replications to a target precision: `--target-ci p99=2%,success_rate=0.1pp`.
//!
//! Why: the number of replications that gives a wanted precision is not
//! known in advance, since it depends on the spread of the metric. Law
//! (*Simulation Modeling and Analysis*, 5th ed., §9.4.1, "obtaining a
//! specified precision") runs replications until the half-width
//! `t(0.975, n − 1) · s/√n` is at most the target, which needs about
//! `n ≈ (t · s / h)²` replications. Here every target must be met at once.
//!
//! Determinism: the stopping rule is evaluated only at fixed checkpoints
//! (every [`STEP`] replications: 10, 20, 30, …, and at the maximum), on
//! replications 0..n, each of which always runs on the same seed. What
//! the rule sees at a checkpoint is therefore the same however many
//! threads ran the batch, so the replication count it stops at, and every
//! file, do not depend on `--jobs`. A first checkpoint of 10 also keeps
//! the estimate of `s` from resting on two or three values (Law
//! recommends n₀ ≥ 10 for the sequential procedure).
//!
//! A target is relative (`2%`: half-width ≤ 2 % of |mean|) or absolute in
//! the metric's unit (`5ms`, or a plain `5` for a latency; `0.1pp`
//! percentage points for a fraction such as `success_rate`). Metric names
//! are those of the registry (`summary.csv` columns); a latency may be
//! named by its short form (`p99` for `latency_p99_ms`, `mean` for
//! `latency_mean_ms`).

use crate::metrics::registry::{self, Metric, Unit};
use crate::scenario::diagnostic::closest;

use super::mean_ci;

/// Replications between two checkpoints, and the first checkpoint.
pub const STEP: u32 = 10;
/// The default of `--max-replications`.
pub const DEFAULT_MAX: u32 = 200;

/// A wanted half-width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Width {
    /// A fraction of |mean| (`2%` → 0.02).
    Relative(f64),
    /// In the metric's raw unit (milliseconds; a fraction for rates).
    Absolute(f64),
}

/// One target: a metric and its wanted 95% half-width.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub metric: &'static Metric,
    pub width: Width,
}

/// A `--target-ci` that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TargetError {
    #[error("--target-ci `{0}`: expected METRIC=WIDTH, e.g. p99=2% or success_rate=0.1pp")]
    Syntax(String),
    #[error(
        "--target-ci: unknown metric `{got}`{hint}; one of {choices} (or p50, p95, p99, p999, mean for the latency_*_ms ones)"
    )]
    UnknownMetric {
        got: String,
        hint: String,
        choices: String,
    },
    #[error("--target-ci {metric}=`{width}`: {why}")]
    Width {
        metric: String,
        width: String,
        why: String,
    },
    #[error("--target-ci names {0} twice")]
    Twice(String),
}

/// The registry metric called `name`, or by a short latency name.
fn metric(name: &str) -> Option<&'static Metric> {
    registry::get(name).or_else(|| registry::get(&format!("latency_{name}_ms")))
}

/// Parse `p99=2%,success_rate=0.1pp` (specs may also be repeated).
pub fn parse(specs: &[String]) -> Result<Vec<Target>, TargetError> {
    let mut out: Vec<Target> = Vec::new();
    for part in specs.iter().flat_map(|s| s.split(',')) {
        let part = part.trim();
        let (name, width) = part
            .split_once('=')
            .ok_or_else(|| TargetError::Syntax(part.to_string()))?;
        let (name, width) = (name.trim(), width.trim());
        if name.is_empty() || width.is_empty() {
            return Err(TargetError::Syntax(part.to_string()));
        }
        let m = metric(name).ok_or_else(|| {
            let names = registry::ALL.iter().map(|m| m.name);
            let short = ["p50", "p95", "p99", "p999", "mean"];
            TargetError::UnknownMetric {
                got: name.to_string(),
                hint: closest(name, names.clone().chain(short))
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default(),
                choices: names.collect::<Vec<_>>().join(", "),
            }
        })?;
        let width = parse_width(m, width).map_err(|why| TargetError::Width {
            metric: name.to_string(),
            width: width.to_string(),
            why,
        })?;
        if out.iter().any(|t| t.metric.name == m.name) {
            return Err(TargetError::Twice(m.name.to_string()));
        }
        out.push(Target { metric: m, width });
    }
    if out.is_empty() {
        return Err(TargetError::Syntax(String::new()));
    }
    Ok(out)
}

fn parse_width(m: &Metric, w: &str) -> Result<Width, String> {
    let number = |s: &str| -> Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(format!("`{s}` is not a positive number")),
        }
    };
    if let Some(pct) = w.strip_suffix('%') {
        return Ok(Width::Relative(number(pct)? / 100.0));
    }
    if let Some(pp) = w.strip_suffix("pp") {
        return if m.unit == Unit::Fraction {
            Ok(Width::Absolute(number(pp)? / 100.0))
        } else {
            Err(format!(
                "pp (percentage points) is for rates such as success_rate; {} is in {}: write e.g. 2% or an absolute width",
                m.name,
                unit_name(m.unit)
            ))
        };
    }
    match m.unit {
        Unit::Fraction => Err(format!(
            "{} is a rate: write percentage points (e.g. 0.1pp) or a relative width (e.g. 1%)",
            m.name
        )),
        Unit::Millis => {
            let x = w.strip_suffix("ms").unwrap_or(w);
            if x.ends_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "{} is in milliseconds: write e.g. 5ms, 5 or 2%",
                    m.name
                ));
            }
            number(x).map(Width::Absolute)
        }
        _ => number(w).map(Width::Absolute),
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Count => "a count",
        Unit::Fraction => "a fraction",
        Unit::PerSecond => "per second",
        Unit::Millis => "milliseconds",
        Unit::PerTask => "per task",
    }
}

/// Where one target stands after `n` replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    pub mean: f64,
    /// The 95% half-width, in the metric's raw unit.
    pub half_width: f64,
    /// The wanted half-width, in the raw unit (relative ones times |mean|).
    pub wanted: f64,
    pub met: bool,
}

impl Target {
    /// Where this target stands on the values `xs` of its metric.
    pub fn standing(&self, xs: &[f64]) -> Standing {
        let (mean, half_width) = mean_ci(xs);
        let wanted = match self.width {
            Width::Relative(r) => r * mean.abs(),
            Width::Absolute(a) => a,
        };
        Standing {
            mean,
            half_width,
            wanted,
            met: half_width.is_finite() && half_width <= wanted,
        }
    }

    /// The wanted width as written (`2%`, `0.1pp`, `5ms`).
    pub fn width_text(&self) -> String {
        match self.width {
            Width::Relative(r) => format!("{}%", r * 100.0),
            Width::Absolute(a) => match self.metric.unit {
                Unit::Fraction => format!("{}pp", a * 100.0),
                Unit::Millis => format!("{a}ms"),
                _ => format!("{a}"),
            },
        }
    }

    /// `h` as people are shown it: relative targets in % of |mean|,
    /// rates in percentage points, others in their unit.
    pub fn show(&self, h: f64, mean: f64) -> String {
        match self.width {
            Width::Relative(_) => format!("{:.2}%", 100.0 * h / mean.abs()),
            Width::Absolute(_) => match self.metric.unit {
                Unit::Fraction => format!("{:.3}pp", h * 100.0),
                Unit::Millis => format!("{h:.3}ms"),
                _ => format!("{h:.4}"),
            },
        }
    }
}

/// The checkpoints up to `max`: STEP, 2·STEP, …, and `max` itself.
pub fn checkpoints(max: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (1..).map(|i| i * STEP).take_while(|&n| n < max).collect();
    v.push(max);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Result<Vec<Target>, TargetError> {
        parse(&[s.to_string()])
    }

    #[test]
    fn targets_are_read_with_their_units() {
        let t = one("p99=2%,success_rate=0.1pp, latency_mean_ms=5ms,throughput_per_s=0.5")
            .expect("valid");
        assert_eq!(t[0].metric.name, "latency_p99_ms");
        assert_eq!(t[0].width, Width::Relative(0.02));
        assert_eq!(t[1].metric.name, "success_rate");
        assert_eq!(t[1].width, Width::Absolute(0.001));
        assert_eq!(t[2].width, Width::Absolute(5.0));
        assert_eq!(t[3].width, Width::Absolute(0.5));
        assert_eq!(t[1].width_text(), "0.1pp");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        let e = one("p98=2%").unwrap_err().to_string();
        assert!(
            e.contains("unknown metric `p98`") && e.contains("did you mean `p95`"),
            "{e}"
        );
        let e = one("sucess_rate=1%").unwrap_err().to_string();
        assert!(e.contains("did you mean `success_rate`"), "{e}");
        assert!(matches!(one("p99"), Err(TargetError::Syntax(_))));
        assert!(matches!(one("p99="), Err(TargetError::Syntax(_))));
        let e = one("success_rate=0.1").unwrap_err().to_string();
        assert!(e.contains("percentage points"), "{e}");
        let e = one("p99=1pp").unwrap_err().to_string();
        assert!(e.contains("pp (percentage points) is for rates"), "{e}");
        let e = one("p99=-2%").unwrap_err().to_string();
        assert!(e.contains("not a positive number"), "{e}");
        let e = one("p99=2s").unwrap_err().to_string();
        assert!(e.contains("milliseconds"), "{e}");
        assert!(matches!(
            one("p99=2%,latency_p99_ms=1%"),
            Err(TargetError::Twice(_))
        ));
    }

    #[test]
    fn standing_against_relative_and_absolute_widths() {
        // 1..=5: mean 3, half-width 2.776445 · sqrt(0.5) = 1.963.
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        let rel = one("p99=70%").expect("valid")[0];
        let s = rel.standing(&xs);
        assert!((s.wanted - 2.1).abs() < 1e-12 && s.met);
        let abs = one("p99=1.9").expect("valid")[0];
        assert!(!abs.standing(&xs).met);
        assert!(!abs.standing(&[1.0]).met, "one value has no interval");
    }

    #[test]
    fn checkpoints_are_fixed() {
        assert_eq!(checkpoints(35), vec![10, 20, 30, 35]);
        assert_eq!(checkpoints(20), vec![10, 20]);
        assert_eq!(checkpoints(5), vec![5]);
    }
}
