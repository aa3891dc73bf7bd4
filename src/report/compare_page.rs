//! The comparison of strategies, as the terminal table, charts and the
//! `report.html` of a `fleetsim compare` directory: the page a user opens to
//! pick a strategy.
//!
//! The page holds, in order: what was compared (the scenario, and what
//! varied: `balancer.strategy` over the strategies given, everything else
//! fixed); the ranking table exactly as the terminal prints it; a forest
//! plot of each strategy's paired difference against the baseline with its
//! 95 % confidence interval, one panel per metric that decides (p99, mean
//! latency, success rate); the latency CDFs, one labelled line per strategy
//! over the pooled tasks of its replications with a band over the
//! replications' spread; p99 and success rate by strategy with their
//! intervals; each strategy's throughput and p99 over time (replication 0),
//! side by side; every run's figures; and the files.
//!
//! Like every report it is a pure function of its inputs (no date, no wall
//! clock), so `--jobs` does not change a byte.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::chart::{self, Chart, ForestPanel};
use super::fixed;
use super::html::{STYLE, escape, figure, files_list, summary_table};
use crate::metrics::registry::{self, Metric, Unit};
use crate::results::RunRecord;
use crate::results::comparison::{Comparison, Row};
use crate::scenario::Scenario;

/// The metrics of the ranking and of the forest plot, in that order.
pub const DECIDING: [&str; 3] = ["latency_p99_ms", "latency_mean_ms", "success_rate"];

fn metric(name: &str) -> &'static Metric {
    registry::get(name).unwrap_or_else(|| panic!("no metric called {name} in the registry"))
}

/// A metric's label for a difference: a percentage's difference is in
/// percentage points.
fn diff_label(m: &Metric) -> String {
    match m.unit {
        Unit::Fraction => m.label.trim_end_matches('%').trim_end().to_string() + " pp",
        _ => m.label.to_string(),
    }
}

/// `mean ± half` with `d` decimals (no `±` part when the half-width is
/// unknown, as with one replication).
pub fn pm((mean, half): (f64, f64), d: usize) -> String {
    if half.is_finite() {
        format!("{} ± {}", fixed(mean, d), fixed(half, d))
    } else {
        fixed(mean, d)
    }
}

/// [`pm`] with an explicit `+` on a positive mean.
pub fn signed_pm((mean, half): (f64, f64), d: usize) -> String {
    let s = pm((mean, half), d);
    let zero = fixed(0.0, d);
    if s.starts_with('-') || s.starts_with(&zero) {
        s
    } else {
        format!("+{s}")
    }
}

/// The rows strategies ranked by mean p99 (lowest first; ties keep the
/// order given).
pub fn ranked(c: &Comparison) -> Vec<&Row> {
    let mut ranked: Vec<&Row> = c.rows.iter().collect();
    ranked.sort_by(|a, b| {
        a.stat("latency_p99_ms")
            .mean
            .total_cmp(&b.stat("latency_p99_ms").mean)
    });
    ranked
}

/// The ranking table (a header row, then a row per strategy ranked by mean
/// p99): success rate and p99 as mean ± 95 % CI and their paired
/// differences against the baseline, then the mean latency. Labels come
/// from the metric registry; the terminal and the page show the same cells.
pub fn ranking_rows(c: &Comparison) -> Vec<Vec<String>> {
    let base = c.baseline();
    let (sr, p99, mean) = (
        metric("success_rate"),
        metric("latency_p99_ms"),
        metric("latency_mean_ms"),
    );
    let mut rows = vec![vec![
        "rank".to_string(),
        "strategy".to_string(),
        sr.label.to_string(),
        format!("Δ {} vs {base}", diff_label(sr)),
        p99.label.to_string(),
        format!("Δ {} vs {base}", diff_label(p99)),
        mean.label.to_string(),
    ]];
    for (i, row) in ranked(c).iter().enumerate() {
        let is_base = row.strategy == base;
        let shown = |m: &Metric| {
            let s = row.stat(m.name);
            (m.unit.shown(s.mean), m.unit.shown(s.ci95))
        };
        let diff = |m: &Metric| {
            if is_base {
                "(baseline)".to_string()
            } else {
                let s = row.stat(m.name);
                signed_pm(
                    (m.unit.shown(s.diff), m.unit.shown(s.diff_ci95)),
                    m.decimals,
                )
            }
        };
        rows.push(vec![
            (i + 1).to_string(),
            row.strategy.to_string(),
            pm(shown(sr), sr.decimals),
            diff(sr),
            pm(shown(p99), p99.decimals),
            diff(p99),
            pm(shown(mean), mean.decimals),
        ]);
    }
    rows
}

/// The line under the ranking table.
pub fn ranking_note(c: &Comparison) -> String {
    format!(
        "ranked by mean p99; ± is a 95% CI; Δ is the paired difference against {} \
         (mean of per-replication differences, t with R−1 df)",
        c.baseline()
    )
}

/// The names of the comparison charts, in the order the page shows them;
/// then one `compare_timeseries_<strategy>` per strategy.
pub const COMPARE_CHARTS: [&str; 4] = [
    "compare_forest",
    "compare_cdf",
    "compare_p99",
    "compare_success",
];

/// The comparison charts: the forest plot of paired differences; the
/// latency CDFs pooled per strategy with their bands; p99 and success rate
/// per strategy with their 95 % CIs (success rate zoomed to the data); and
/// each strategy's throughput and p99 over time (replication 0).
pub fn charts(sc: &Scenario, c: &Comparison, runs: &[RunRecord]) -> Vec<(String, Chart)> {
    let base = c.baseline();
    let bars = |name: &str| -> Vec<(String, f64, f64)> {
        let m = metric(name);
        c.rows
            .iter()
            .map(|r| {
                let s = r.stat(name);
                (
                    r.strategy.to_string(),
                    m.unit.shown(s.mean),
                    m.unit.shown(s.ci95),
                )
            })
            .collect()
    };
    let panels: Vec<ForestPanel> = DECIDING
        .iter()
        .map(|&name| {
            let m = metric(name);
            ForestPanel {
                x_label: format!("Δ {} vs {base}", diff_label(m)),
                rows: c.rows[1..]
                    .iter()
                    .map(|r| {
                        let s = r.stat(name);
                        (
                            r.strategy.to_string(),
                            m.unit.shown(s.diff),
                            m.unit.shown(s.diff_ci95),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    // Pooled histograms, and each strategy's replications.
    let of = |r: &Row| -> Vec<&Histogram<u64>> {
        runs.iter()
            .filter(|x| x.variant == r.strategy.as_str())
            .map(|x| &x.result.latency)
            .collect()
    };
    let labels: Vec<String> = c.rows.iter().map(|r| r.strategy.to_string()).collect();
    let pooled: Vec<Histogram<u64>> = c
        .rows
        .iter()
        .map(|r| {
            let reps = of(r);
            let mut all = reps.first().map_or_else(
                || {
                    Histogram::new_with_bounds(1, crate::metrics::HIGHEST_NS, 3)
                        .expect("valid bounds")
                },
                |h| Histogram::clone(h),
            );
            for h in reps.iter().skip(1) {
                all.add(*h)
                    .expect("histograms of one scenario share their bounds");
            }
            all
        })
        .collect();
    let cdf_series: Vec<chart::BandedCdf<'_>> = c
        .rows
        .iter()
        .zip(&labels)
        .zip(&pooled)
        .map(|((r, label), h)| chart::BandedCdf {
            label,
            pooled: h,
            replications: of(r),
        })
        .collect();
    let reps = c.replications;
    let mut out = vec![
        (
            "compare_forest".to_string(),
            chart::forest(
                &format!("Paired difference against {base} (mean, 95 % CI)"),
                &panels,
            ),
        ),
        (
            "compare_cdf".to_string(),
            chart::cdf_bands(
                &format!(
                    "End-to-end latency CDF by strategy ({reps} replication{} pooled)",
                    if reps == 1 { "" } else { "s" }
                ),
                &cdf_series,
            ),
        ),
        (
            "compare_p99".to_string(),
            chart::bars_with_ci(
                "p99 latency by strategy (mean, 95 % CI)",
                metric("latency_p99_ms").label,
                &bars("latency_p99_ms"),
                None,
            ),
        ),
        (
            "compare_success".to_string(),
            chart::bars_with_ci(
                "Success rate by strategy (mean, 95 % CI)",
                metric("success_rate").label,
                &bars("success_rate"),
                Some((0.0, 100.0)),
            ),
        ),
    ];
    // Replication 0 of each strategy, on shared scales.
    let firsts: Vec<&[crate::metrics::Bucket]> = c
        .rows
        .iter()
        .map(|r| {
            runs.iter()
                .find(|x| x.variant == r.strategy.as_str() && x.replication == 0)
                .map_or(&[][..], |x| &x.result.buckets[..])
        })
        .collect();
    let secs = sc.report.bucket.as_secs_f64().max(1e-12);
    let all = || firsts.iter().flat_map(|b| b.iter());
    let rate = all()
        .map(|b| b.completions.max(b.arrivals) as f64 / secs)
        .fold(0.0, f64::max);
    let p99 = all().map(|b| b.latency_p99_ms).fold(0.0, f64::max);
    for (r, buckets) in c.rows.iter().zip(&firsts) {
        out.push((
            format!("compare_timeseries_{}", r.strategy),
            chart::throughput_p99_within(
                &format!("{}: throughput and p99 latency (replication 0)", r.strategy),
                buckets,
                sc.report.bucket,
                Some((rate, p99)),
            ),
        ));
    }
    out
}

/// The page of a compare directory (its `report.html`): `sc` is the first
/// strategy's scenario, `set` the `--set` overrides as given
/// (`path=value`), `charts` those of [`charts`], in that order.
pub fn page(
    sc: &Scenario,
    set: &[String],
    c: &Comparison,
    runs: &[RunRecord],
    charts: &[(String, Chart)],
) -> String {
    let mut out = String::new();
    let name = escape(&sc.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fleetsim compare: {name}</title>\n<style>\n{STYLE}\
         .grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 1em; }}\n\
         </style>\n</head>\n<body>\n<h1>{name}: {} strategies compared</h1>\n",
        c.rows.len()
    );
    if !sc.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(&sc.description));
    }
    let strategies: Vec<String> = c.rows.iter().map(|r| r.strategy.to_string()).collect();
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let agents = sc.agent_count() as usize;
    let _ = writeln!(
        out,
        "<p class=\"meta\">What varied: <code>balancer.strategy</code> ∈ {{{}}}; everything else as in {}{} \
         ({agents} agent{} in {} tier{} · duration {}, warm-up {}, drain {}). \
         {} replication{} per strategy on common random numbers (replication <i>r</i> of every strategy uses the same seed), root seed {} · baseline {}.</p>",
        escape(&strategies.join(", ")),
        escape(&sc.origin.file),
        if set.is_empty() {
            String::new()
        } else {
            format!(
                " with <code>{}</code>",
                escape(
                    &set.iter()
                        .map(|s| format!("--set {s}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            )
        },
        s(agents),
        sc.tiers.len(),
        s(sc.tiers.len()),
        sc.duration,
        super::html::warmup_text(sc),
        sc.drain,
        c.replications,
        s(c.replications as usize),
        sc.seed.0,
        escape(&c.baseline().to_string()),
    );

    out.push_str("<h2>Ranking</h2>\n<p>As <code>fleetsim compare</code> prints it; the same figures for every compared metric are in <a href=\"comparison.csv\">comparison.csv</a>.</p>\n");
    let rows = ranking_rows(c);
    out.push_str("<div class=\"scroll\"><table id=\"ranking\">\n<thead><tr>");
    for h in &rows[0] {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows[1..] {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 1 {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    let _ = writeln!(
        out,
        "</tbody></table></div>\n<p class=\"meta\">{}</p>",
        escape(&ranking_note(c))
    );

    let find = |n: &str| charts.iter().find(|(name, _)| name == n);
    let section = |out: &mut String, title: &str, text: &str, names: &[&str]| {
        let _ = writeln!(out, "<h2>{title}</h2>\n<p>{text}</p>");
        for n in names {
            if let Some((name, chart)) = find(n) {
                out.push_str(&figure(name, chart));
            }
        }
    };
    section(
        &mut out,
        "Differences against the baseline",
        &format!(
            "Each point is a strategy's mean paired difference against {} over the replications, \
             with its 95 % confidence interval; an interval that does not cross the zero line is a \
             difference the replications resolve.",
            escape(&c.baseline().to_string())
        ),
        &["compare_forest"],
    );
    section(
        &mut out,
        "Latency distribution",
        "One line per strategy over the tasks of all its replications; the shaded band spans the \
         lowest to the highest latency its replications reach at each percentile.",
        &["compare_cdf"],
    );
    section(
        &mut out,
        "p99 and success rate",
        "Means over replications with their 95 % confidence intervals.",
        &["compare_p99", "compare_success"],
    );
    let _ = writeln!(
        out,
        "<h2>Over time</h2>\n<p>Throughput and p99 latency of replication 0 of each strategy, side by side.</p>\n<div class=\"grid\">"
    );
    for (name, chart) in charts
        .iter()
        .filter(|(n, _)| n.starts_with("compare_timeseries_"))
    {
        out.push_str(&figure(name, chart));
    }
    out.push_str("</div>\n");

    out.push_str("<h2>Runs</h2>\n<p>Every run's figures, from <a href=\"summary.csv\">summary.csv</a>, and per strategy the mean ± 95 % CI.</p>\n");
    summary_table(&mut out, runs);

    files_list(
        &mut out,
        &["comparison.csv", "results.json"],
        !sc.workload.jobs.is_empty(),
        sc.fleet_changes(),
        charts,
    );
    let _ = write!(
        out,
        "</ul>\n<footer>fleetsim {}: same scenario, strategies and seed, same page. Wall-clock figures are in perf.csv only.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}
