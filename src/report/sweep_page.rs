//! The page, charts and terminal-free summary of a sweep: drawn from the
//! sweep's `summary.csv` and the sweep's description alone (its `--vary`
//! lists, replications, scenario and seed, as in a shard's `shard.csv`), so
//! that `merge` draws exactly what `sweep` draws, whatever the shards and
//! `--jobs` (docs/outputs.md, "The sweep page").
//!
//! The charts plot each headline metric against the first varied key: a
//! numeric key on a linear axis, a categorical one (`balancer.strategy`,
//! or any key with a value that is not a number) on a categorical axis
//! labelled with its values; one line per combination of the other keys;
//! every point the mean over its replications with an error bar of its
//! 95 % confidence interval (Student t, `stats::mean_ci`) when there are
//! two replications or more. Success rate zooms to the data with a note.
//! When exactly two keys are varied and both are numeric, heat maps show
//! p99 latency and success rate over the grid.

use std::fmt::Write;

use super::chart::{self, Chart, CiSeries, XAxis};
use super::fixed;
use super::html::{STYLE, escape, figure};
use super::read::{self, SummaryRow};
use crate::metrics::registry::{self, Metric, Unit};
use crate::results::shard::{Manifest, Vary};
use crate::stats::mean_ci;

/// The metrics a sweep charts and tabulates, in order.
pub const SWEPT: [&str; 4] = [
    "latency_p99_ms",
    "latency_mean_ms",
    "success_rate",
    "throughput_per_s",
];

/// The metrics of the heat maps (two numeric keys).
pub const HEATMAPS: [&str; 2] = ["latency_p99_ms", "success_rate"];

/// One grid point and the runs of it found in `summary.csv`.
#[derive(Clone, Debug)]
pub struct PointRuns<'a> {
    /// Its variant label, `key1=v1,key2=v2`.
    pub label: String,
    /// The value of each key.
    pub values: Vec<String>,
    pub runs: Vec<&'a SummaryRow>,
}

impl PointRuns<'_> {
    /// Mean and 95 % CI half-width of `m` (as shown: fractions in percent).
    pub fn stat(&self, m: &Metric) -> (f64, f64) {
        let i = read::index(m.name);
        let xs: Vec<f64> = self
            .runs
            .iter()
            .map(|r| m.unit.shown(r.metrics[i]))
            .filter(|x| x.is_finite())
            .collect();
        mean_ci(&xs)
    }
}

/// The value of each key at `point` (the last key varying fastest).
pub fn point_values(vary: &[Vary], point: usize) -> Vec<String> {
    let mut rest = point;
    let mut out = vec![String::new(); vary.len()];
    for (k, v) in vary.iter().enumerate().rev() {
        let n = v.values.len().max(1);
        out[k] = v.values[rest % n].clone();
        rest /= n;
    }
    out
}

/// The number of grid points.
pub fn point_count(vary: &[Vary]) -> usize {
    vary.iter().map(|v| v.values.len()).product()
}

/// Every grid point with its runs in `rows` (points without runs too).
pub fn points<'a>(vary: &[Vary], rows: &'a [SummaryRow]) -> Vec<PointRuns<'a>> {
    (0..point_count(vary))
        .map(|p| {
            let values = point_values(vary, p);
            let label = vary
                .iter()
                .zip(&values)
                .map(|(k, v)| format!("{}={v}", k.key))
                .collect::<Vec<_>>()
                .join(",");
            let runs = rows.iter().filter(|r| r.variant == label).collect();
            PointRuns {
                label,
                values,
                runs,
            }
        })
        .collect()
}

/// A value as people read it: TOML strings without their quotes.
fn shown_value(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// The key's values as numbers, when every one is a number.
fn numeric(v: &Vary) -> Option<Vec<f64>> {
    v.values
        .iter()
        .map(|s| shown_value(s).replace('_', "").parse::<f64>().ok())
        .collect::<Option<Vec<f64>>>()
        .filter(|xs| xs.iter().all(|x| x.is_finite()))
}

fn metric(name: &str) -> &'static Metric {
    registry::get(name).unwrap_or_else(|| panic!("no metric called {name} in the registry"))
}

/// The bounds of a metric's shown values, for axes that may zoom.
fn bounds(m: &Metric) -> Option<(f64, f64)> {
    (m.unit == Unit::Fraction).then_some((0.0, 100.0))
}

/// The sweep charts, named `sweep_<metric>` (in [`SWEPT`] order), then
/// `sweep_heatmap_<metric>` when two numeric keys are varied.
pub fn charts(m: &Manifest, rows: &[SummaryRow]) -> Vec<(String, Chart)> {
    let Some(first) = m.vary.first() else {
        return Vec::new();
    };
    let pts = points(&m.vary, rows);
    let n_first = first.values.len().max(1);
    let rest = pts.len() / n_first;
    let nums = numeric(first);
    let x_axis = match &nums {
        Some(_) => XAxis::Numeric,
        None => XAxis::Categories(first.values.iter().map(|v| shown_value(v)).collect()),
    };
    let x_of = |i: usize| nums.as_ref().map_or(i as f64, |xs| xs[i]);
    let per = if m.replications > 1 {
        format!("mean, 95 % CI over {} replications", m.replications)
    } else {
        "one replication".to_string()
    };
    let mut out: Vec<(String, Chart)> = SWEPT
        .iter()
        .map(|&name| {
            let met = metric(name);
            let series: Vec<CiSeries> = (0..rest)
                .map(|j| {
                    let points = (0..n_first)
                        .filter_map(|i| {
                            let p = &pts[i * rest + j];
                            let (mean, half) = p.stat(met);
                            mean.is_finite().then_some((x_of(i), mean, half))
                        })
                        .collect();
                    let label = if rest == 1 {
                        met.label.to_string()
                    } else {
                        m.vary[1..]
                            .iter()
                            .zip(&pts[j].values[1..])
                            .map(|(k, v)| format!("{}={}", k.key, shown_value(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    CiSeries { label, points }
                })
                .collect();
            (
                format!("sweep_{name}"),
                chart::sweep_lines(
                    &format!("{} against {} ({per})", met.label, first.key),
                    &first.key,
                    met.label,
                    x_axis.clone(),
                    &series,
                    bounds(met),
                ),
            )
        })
        .collect();
    if let [a, b] = &m.vary[..]
        && numeric(a).is_some()
        && numeric(b).is_some()
    {
        let xs: Vec<String> = a.values.iter().map(|v| shown_value(v)).collect();
        let ys: Vec<String> = b.values.iter().map(|v| shown_value(v)).collect();
        for name in HEATMAPS {
            let met = metric(name);
            // Point i * |b| + j is (a_i, b_j): rows of the map are b's values.
            let values: Vec<Vec<f64>> = (0..ys.len())
                .map(|j| {
                    (0..xs.len())
                        .map(|i| pts[i * ys.len() + j].stat(met).0)
                        .collect()
                })
                .collect();
            out.push((
                format!("sweep_heatmap_{name}"),
                chart::heatmap(
                    &format!("{} over {} × {}", met.label, a.key, b.key),
                    &a.key,
                    &b.key,
                    &xs,
                    &ys,
                    &values,
                    met.label,
                    met.decimals,
                ),
            ));
        }
    }
    out
}

/// The table of points: the keys' values, the runs found, and mean ± 95 %
/// CI of each metric of [`SWEPT`] (a header row first).
pub fn point_rows(m: &Manifest, rows: &[SummaryRow]) -> Vec<Vec<String>> {
    let mut head: Vec<String> = m.vary.iter().map(|v| v.key.clone()).collect();
    head.push("runs".to_string());
    head.extend(SWEPT.iter().map(|n| metric(n).label.to_string()));
    head.push("warm-up s".to_string());
    let mut out = vec![head];
    for p in points(&m.vary, rows) {
        let mut row: Vec<String> = p.values.iter().map(|v| shown_value(v)).collect();
        row.push(p.runs.len().to_string());
        for name in SWEPT {
            let met = metric(name);
            row.push(super::compare_page::pm(p.stat(met), met.decimals));
        }
        // The same in every replication of a point (`warmup = "auto"`
        // detects it once per point, on replication 0).
        row.push(p.runs.first().map_or(String::new(), |r| {
            if r.warmup_s.is_nan() {
                String::new()
            } else {
                fixed(r.warmup_s, 3)
            }
        }));
        out.push(row);
    }
    out
}

/// The page of a sweep directory (its `report.html`); `charts` are those of
/// [`charts`]; `has_jobs`/`has_tiers` say whether `jobs.csv`/`tiers.csv`
/// are there.
pub fn page(
    m: &Manifest,
    rows: &[SummaryRow],
    charts: &[(String, Chart)],
    has_jobs: bool,
    has_tiers: bool,
) -> String {
    let mut out = String::new();
    let name = escape(&m.scenario);
    let n = point_count(&m.vary);
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fleetsim sweep: {name}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{name}: sweep of {n} point{}</h1>\n",
        s(n)
    );
    let varied: Vec<String> = m
        .vary
        .iter()
        .map(|v| {
            format!(
                "<code>{}</code> ∈ {{{}}}",
                escape(&v.key),
                escape(
                    &v.values
                        .iter()
                        .map(|x| shown_value(x))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            )
        })
        .collect();
    let set = if m.set.is_empty() {
        String::new()
    } else {
        format!(
            " with <code>{}</code>",
            escape(
                &m.set
                    .iter()
                    .map(|s| format!("--set {s}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        )
    };
    let _ = writeln!(
        out,
        "<p class=\"meta\">What varied: {} (the last key fastest); everything else as in {}{set}. \
         {} replication{} per point on common random numbers (replication <i>r</i> of every point uses the same seed), root seed {}.</p>",
        varied.join(", "),
        escape(&m.source),
        m.replications,
        s(m.replications as usize),
        m.seed,
    );
    out.push_str(
        "<h2>Points</h2>\n<p>Mean ± 95 % confidence interval over each point's replications \
         (Student t), from <a href=\"summary.csv\">summary.csv</a>, and the warm-up each point \
         measured from (with <code>warmup = \"auto\"</code>, detected for each point).</p>\n",
    );
    let table = point_rows(m, rows);
    let keys = m.vary.len();
    out.push_str("<div class=\"scroll\"><table id=\"points\">\n<thead><tr>");
    for h in &table[0] {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table[1..] {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i < keys {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str("<h2>Charts</h2>\n");
    let first = m.vary.first().map_or("", |v| v.key.as_str());
    let _ = writeln!(
        out,
        "<p>Each metric against <code>{}</code>, one line per value of the other keys{}.</p>",
        escape(first),
        if m.replications > 1 {
            ", with error bars of the 95 % confidence interval"
        } else {
            " (one replication: no intervals)"
        }
    );
    for (name, c) in charts {
        out.push_str(&figure(name, c));
    }
    super::html::files_list(&mut out, &["results.json"], has_jobs, has_tiers, charts);
    let _ = write!(
        out,
        "</ul>\n<footer>fleetsim {}: drawn from summary.csv alone, so a merged sweep has the same page. Wall-clock figures are in perf.csv only.</footer>\n</body>\n</html>\n",
        m.fleetsim
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_grid_order() {
        let vary: Vec<Vary> = vec!["a=1,2".parse().unwrap(), "b=x,\"y z\"".parse().unwrap()];
        assert_eq!(point_count(&vary), 4);
        assert_eq!(point_values(&vary, 1), ["1", "\"y z\""]);
        assert_eq!(point_values(&vary, 2), ["2", "x"]);
        assert_eq!(numeric(&vary[0]), Some(vec![1.0, 2.0]));
        assert_eq!(numeric(&vary[1]), None);
        assert_eq!(shown_value("\"p2c\""), "p2c");
    }
}
