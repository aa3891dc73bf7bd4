//! Charts and `report.html` of a run directory: every chart is a valid SVG
//! and PNG, the page references every chart file and escapes its text, and
//! the same run writes the same bytes.

use std::fs;
use std::path::Path;

use fleetsim::harness;
use fleetsim::report::chart::{CHART_DIR, HEIGHT, RUN_CHARTS, WIDTH};
use fleetsim::scenario::Scenario;

use crate::support::load;

/// A short scenario with breakers, crashes and a partition: every chart has
/// something to show.
fn faulty() -> Scenario {
    load("scenarios/fault_tolerant_service.toml", &[])
}

/// Run `replications` of `sc` and write its reports into `dir`.
fn write_reports(dir: &Path, sc: &Scenario, replications: u32) -> Vec<std::path::PathBuf> {
    let runs = harness::run_replications(sc, "default", replications, false);
    harness::write_run_reports(dir, sc, &runs).expect("reports are written")
}

/// The PNG signature, an IHDR of the chart size, and image data that decodes.
fn assert_png(bytes: &[u8], what: &str) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{what}: PNG signature");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT), "{what}");
}

fn assert_svg(text: &str, what: &str) {
    assert!(text.starts_with("<svg"), "{what}: starts with <svg");
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{what}: ends with </svg>"
    );
    assert!(text.contains("<text"), "{what}: has text");
}

#[test]
fn every_chart_is_a_valid_svg_and_png_and_the_page_shows_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = faulty();
    let written = write_reports(tmp.path(), &sc, 3);
    let html = fs::read_to_string(tmp.path().join("report.html")).expect("report.html");
    assert!(written.contains(&tmp.path().join("report.html")));
    for name in RUN_CHARTS {
        for ext in ["svg", "png"] {
            let rel = format!("{CHART_DIR}/{name}.{ext}");
            let path = tmp.path().join(&rel);
            assert!(written.contains(&path), "{rel} is among the paths returned");
            assert!(
                html.contains(&format!("href=\"{rel}\"")),
                "report.html links {rel}"
            );
        }
        let svg = fs::read_to_string(tmp.path().join(format!("{CHART_DIR}/{name}.svg"))).unwrap();
        assert_svg(&svg, name);
        assert!(html.contains(&svg), "report.html inlines {name}.svg");
        assert_png(
            &fs::read(tmp.path().join(format!("{CHART_DIR}/{name}.png"))).unwrap(),
            name,
        );
    }
    // One CDF line per replication, labelled; tiers in the legend.
    let cdf = fs::read_to_string(tmp.path().join("charts/latency_cdf.svg")).unwrap();
    for r in 0..3 {
        assert!(
            cdf.contains(&format!(">\nreplication {r}\n</text>")),
            "replication {r}"
        );
    }
    let util = fs::read_to_string(tmp.path().join("charts/utilization.svg")).unwrap();
    for tier in &sc.tiers {
        assert!(
            util.contains(&format!(">\n{}\n</text>", tier.name)),
            "{}",
            tier.name
        );
    }
    // The page: the scenario, per-run rows and the interval, the tiers.
    assert!(html.contains("<h1>fault_tolerant_service</h1>"));
    assert!(html.contains(&sc.description));
    assert_eq!(
        html.matches("<tr><td>default</td>").count(),
        3,
        "a row per run"
    );
    assert!(html.contains("mean ± 95 % CI (3 runs)"));
    for tier in &sc.tiers {
        assert!(html.contains(&format!("<tr><td>{}</td>", tier.name)));
    }
    assert!(!html.contains("id=\"jobs\""), "no jobs, no jobs table");
    // Self-contained: nothing is fetched.
    for outside in ["<script", "<link", "src=", "@import", "https://"] {
        assert!(!html.contains(outside), "report.html has {outside}");
    }
}

#[test]
fn the_same_run_writes_the_same_charts_and_page() {
    let sc = faulty();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_reports(a.path(), &sc, 2);
    write_reports(b.path(), &sc, 2);
    let mut files: Vec<String> = RUN_CHARTS
        .iter()
        .flat_map(|n| {
            [
                format!("{CHART_DIR}/{n}.svg"),
                format!("{CHART_DIR}/{n}.png"),
            ]
        })
        .collect();
    files.push("report.html".into());
    for f in files {
        let (x, y) = (
            fs::read(a.path().join(&f)).unwrap(),
            fs::read(b.path().join(&f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two identical runs");
    }
}

#[test]
fn jobs_get_their_table_and_the_description_is_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = load(
        "scenarios/etl_pipeline.toml",
        &[
            "duration=\"10s\"",
            "description=\"\\\"quoted\\\" & <i>not italic</i>\"",
        ],
    );
    write_reports(tmp.path(), &sc, 1);
    let html = fs::read_to_string(tmp.path().join("report.html")).unwrap();
    assert!(html.contains("id=\"jobs\"") && html.contains("href=\"jobs.csv\""));
    assert!(html.contains("&quot;quoted&quot; &amp; &lt;i&gt;not italic&lt;/i&gt;"));
    assert!(
        !html.contains("<i>not italic"),
        "the description is escaped"
    );
}

#[test]
fn compare_and_sweep_draw_their_charts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = crate::support::fleetsim(dir.path(), args);
        assert!(o.status.success(), "{}", crate::support::text(&o.stderr));
    };
    let short = "duration=\"2000s\"";
    run(&[
        "compare",
        "mmc",
        "--strategies",
        "least_connections,round_robin",
        "--replications",
        "3",
        "--set",
        short,
        "--out",
        "cmp",
        "--quiet",
    ]);
    for name in ["compare_p99", "compare_success", "compare_cdf"] {
        let svg =
            fs::read_to_string(dir.path().join(format!("cmp/{CHART_DIR}/{name}.svg"))).unwrap();
        assert_svg(&svg, name);
        assert_png(
            &fs::read(dir.path().join(format!("cmp/{CHART_DIR}/{name}.png"))).unwrap(),
            name,
        );
    }
    run(&[
        "sweep",
        "mmc",
        "--vary",
        "workload.arrivals.rate=6,7",
        "--set",
        short,
        "--out",
        "sw",
        "--quiet",
    ]);
    for name in ["sweep_latency_p99_ms", "sweep_success_rate"] {
        let svg =
            fs::read_to_string(dir.path().join(format!("sw/{CHART_DIR}/{name}.svg"))).unwrap();
        assert_svg(&svg, name);
    }
}
