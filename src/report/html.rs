//! `report.html`: one self-contained page per report directory, readable
//! offline (no CDN, no external CSS, no script): the scenario, the headline
//! figures of `summary.csv` (every metric of `metrics::registry`, per run,
//! and mean ± 95 % CI over replications), a table per tier, the jobs'
//! outcomes, and every chart, inlined as SVG and linked as files.
//!
//! Like the CSVs it is a pure function of the results: no wall-clock
//! figures (those stay in `perf.csv`), no date, so it diffs cleanly.

use std::fmt::Write;

use super::chart::{CHART_DIR, Chart};
use super::fixed;
use crate::metrics::{JobOutcome, RunResult, registry};
use crate::results::RunRecord;
use crate::scenario::Scenario;
use crate::stats::mean_ci;

/// Text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page style every report page shares.
pub(crate) const STYLE: &str = "\
body { font-family: \"DejaVu Sans\", Verdana, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ci td { font-weight: bold; background: #f7f7f7; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.9em; color: #555; }
footer { margin-top: 3em; font-size: 0.8em; color: #777; }
";

fn num(out: &mut String, x: f64, decimals: usize) {
    let _ = write!(out, "<td class=\"n\">{}</td>", fixed(x, decimals));
}

fn header(out: &mut String, columns: &[&str]) {
    out.push_str("<thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n");
}

/// `mean ± half-width`, or the mean alone when there is no interval.
fn mean_pm(xs: &[f64], decimals: usize) -> String {
    let (mean, half) = mean_ci(xs);
    if half.is_finite() {
        format!("{} ± {}", fixed(mean, decimals), fixed(half, decimals))
    } else {
        fixed(mean, decimals)
    }
}

/// The variants of `runs`, in order of first appearance.
fn variants(runs: &[RunRecord]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in runs {
        if !out.contains(&r.variant.as_str()) {
            out.push(&r.variant);
        }
    }
    out
}

/// Every run's figures (every metric of the registry, by its label), and
/// per variant the mean ± 95 % CI.
pub(crate) fn summary_table(out: &mut String, runs: &[RunRecord]) {
    out.push_str("<div class=\"scroll\"><table id=\"summary\">\n");
    let mut columns = vec!["variant", "replication", "seed"];
    columns.extend(registry::ALL.iter().map(|m| m.label));
    header(out, &columns);
    out.push_str("<tbody>\n");
    for r in runs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            escape(&r.variant),
            r.replication,
            r.seed
        );
        for m in registry::ALL {
            num(out, m.shown(&r.result), m.decimals);
        }
        out.push_str("</tr>\n");
    }
    for v in variants(runs) {
        let of: Vec<&RunResult> = runs
            .iter()
            .filter(|r| r.variant == v)
            .map(|r| &r.result)
            .collect();
        if of.len() < 2 {
            continue;
        }
        let _ = write!(
            out,
            "<tr class=\"ci\"><td>{}</td><td colspan=\"2\">mean ± 95 % CI ({} runs)</td>",
            escape(v),
            of.len()
        );
        for m in registry::ALL {
            let xs: Vec<f64> = of.iter().map(|r| m.shown(r)).collect();
            let _ = write!(out, "<td class=\"n\">{}</td>", mean_pm(&xs, m.decimals));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn tier_table(out: &mut String, sc: &Scenario, runs: &[RunRecord]) {
    let per_run = runs.len() > 1;
    out.push_str("<div class=\"scroll\"><table id=\"tiers\">\n");
    header(
        out,
        &[
            "tier",
            "agents",
            "weight",
            "concurrency",
            if per_run { "tasks per run" } else { "tasks" },
            if per_run {
                "failures per run"
            } else {
                "failures"
            },
            "mean utilization %",
        ],
    );
    out.push_str("<tbody>\n");
    let d = if per_run { 1 } else { 0 };
    let mut start = 0;
    for t in &sc.tiers {
        let range = start..start + t.count as usize;
        start = range.end;
        // Sums over the tier's agents, averaged over runs.
        let (mut tasks, mut failures, mut util, mut n) = (0.0, 0.0, 0.0, 0usize);
        for r in runs {
            let agents = r.result.agents.get(range.clone()).unwrap_or(&[]);
            tasks += agents.iter().map(|a| a.tasks as f64).sum::<f64>();
            failures += agents.iter().map(|a| a.failures as f64).sum::<f64>();
            util += agents.iter().map(|a| a.utilization).sum::<f64>();
            n += agents.len();
        }
        let runs_n = runs.len().max(1) as f64;
        let _ = write!(out, "<tr><td>{}</td>", escape(&t.name));
        num(out, f64::from(t.count), 0);
        num(out, t.weight, 2);
        num(out, f64::from(t.concurrency), 0);
        num(out, tasks / runs_n, d);
        num(out, failures / runs_n, d);
        num(out, if n == 0 { 0.0 } else { util / n as f64 * 100.0 }, 2);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn jobs_table(out: &mut String, runs: &[RunRecord]) {
    const OUTCOMES: [JobOutcome; 4] = [
        JobOutcome::Completed,
        JobOutcome::Failed,
        JobOutcome::Compensated,
        JobOutcome::Cancelled,
    ];
    out.push_str("<div class=\"scroll\"><table id=\"jobs\">\n");
    let mut columns = vec!["variant", "replication", "jobs"];
    columns.extend(OUTCOMES.iter().map(|o| o.as_str()));
    columns.push("makespan mean ms");
    header(out, &columns);
    out.push_str("<tbody>\n");
    for r in runs {
        let jobs = &r.result.jobs;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td>",
            escape(&r.variant),
            r.replication
        );
        num(out, jobs.len() as f64, 0);
        for o in OUTCOMES {
            num(
                out,
                jobs.iter().filter(|j| j.outcome == o).count() as f64,
                0,
            );
        }
        let makespan = if jobs.is_empty() {
            0.0
        } else {
            jobs.iter()
                .map(|j| j.makespan().as_millis_f64())
                .sum::<f64>()
                / jobs.len() as f64
        };
        num(out, makespan, 3);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The warm-up as a page states it: the scenario's, or the one
/// `warmup = "auto"` detected (MSER-5 on replication 0), saying so.
pub fn warmup_text(sc: &Scenario) -> String {
    if sc.warmup_auto {
        format!("{} (detected by MSER-5)", sc.warmup)
    } else {
        sc.warmup.to_string()
    }
}

/// A page's "Files" section up to its closing `</ul>`: `first`, then the
/// CSVs every run writes (`jobs.csv` and `tiers.csv` when `jobs`/`tiers`),
/// then each chart's SVG and PNG in [`CHART_DIR`]. The run, compare and
/// sweep pages share it.
pub fn files_list<N: AsRef<str>>(
    out: &mut String,
    first: &[&str],
    jobs: bool,
    tiers: bool,
    charts: &[(N, Chart)],
) {
    out.push_str("<h2>Files</h2>\n<ul>\n");
    let common = super::csv::RUN_FILES;
    let optional = [(jobs, "jobs.csv"), (tiers, "tiers.csv")];
    let present = optional.iter().filter(|(on, _)| *on).map(|(_, f)| *f);
    for f in first.iter().copied().chain(common).chain(present) {
        let _ = writeln!(out, "<li><a href=\"{f}\">{f}</a></li>");
    }
    let _ = writeln!(
        out,
        "<li>charts: {}</li>",
        charts
            .iter()
            .map(|(name, _)| format!(
                "{n} (<a href=\"{d}/{n}.svg\">SVG</a>, <a href=\"{d}/{n}.png\">PNG</a>)",
                n = escape(name.as_ref()),
                d = CHART_DIR
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// A chart inlined as SVG, with links to its files in [`CHART_DIR`].
pub fn figure(name: &str, chart: &Chart) -> String {
    let file = |ext: &str| escape(&format!("{CHART_DIR}/{name}.{ext}"));
    format!(
        "<figure id=\"{id}\">\n{svg}<figcaption>{title} · <a href=\"{png}\">PNG</a> · <a href=\"{svg_file}\">SVG</a></figcaption>\n</figure>\n",
        id = escape(name),
        svg = chart.svg(),
        title = escape(chart.title()),
        png = file("png"),
        svg_file = file("svg"),
    )
}

/// The page of a run directory: `charts` are the ones written to
/// `DIR/charts/NAME.{svg,png}`, in the order to show them.
pub fn run_report(sc: &Scenario, runs: &[RunRecord], charts: &[(&str, Chart)]) -> String {
    let mut out = String::new();
    let name = escape(&sc.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fleetsim: {name}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{name}</h1>\n"
    );
    if !sc.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(&sc.description));
    }
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let agents = sc.agent_count() as usize;
    let _ = writeln!(
        out,
        "<p class=\"meta\">{agents} agent{} in {} tier{} · {} run{} · seed {} · \
         duration {}, warm-up {}, drain {} · balancer {} · from {}</p>",
        s(agents),
        sc.tiers.len(),
        s(sc.tiers.len()),
        runs.len(),
        s(runs.len()),
        sc.seed.0,
        sc.duration,
        warmup_text(sc),
        sc.drain,
        escape(&sc.balancer.strategy.to_string()),
        escape(&sc.origin.file),
    );

    out.push_str("<h2>Summary</h2>\n<p>The headline figures of <a href=\"summary.csv\">summary.csv</a>: latency is end to end (arrival to outcome) and wait is arrival to first service, over completed tasks after warm-up.</p>\n");
    summary_table(&mut out, runs);

    out.push_str("<h2>Tiers</h2>\n<p>Per tier, from <a href=\"agents.csv\">agents.csv</a>.</p>\n");
    tier_table(&mut out, sc, runs);

    if !sc.workload.jobs.is_empty() {
        out.push_str(
            "<h2>Jobs</h2>\n<p>Outcomes per run, from <a href=\"jobs.csv\">jobs.csv</a>.</p>\n",
        );
        jobs_table(&mut out, runs);
    }

    out.push_str("<h2>Charts</h2>\n");
    for (name, chart) in charts {
        out.push_str(&figure(name, chart));
    }

    files_list(
        &mut out,
        &["results.json"],
        !sc.workload.jobs.is_empty(),
        sc.fleet_changes(),
        charts,
    );
    let _ = write!(
        out,
        "</ul>\n<footer>fleetsim {}: same scenario and seed, same page. Wall-clock figures are in perf.csv only.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn mean_pm_shows_an_interval_only_when_there_is_one() {
        assert_eq!(mean_pm(&[2.0], 1), "2.0");
        assert_eq!(mean_pm(&[1.0, 3.0], 1), "2.0 ± 12.7");
    }
}
