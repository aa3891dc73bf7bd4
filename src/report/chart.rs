//! Charts, as SVG and PNG: pure functions of run results into bytes (same
//! input, same bytes), drawn with plotters.
//!
//! The charts of a run directory ([`run_charts`]) are the latency CDF, the
//! throughput and p99 over time, the utilization per agent by tier, and the
//! healthy agents and open breakers over time (docs/outputs.md, "Charts and
//! report.html"). [`cdf_overlay`], [`bars_with_ci`] and [`lines`] are the
//! building blocks for comparisons and sweeps.
//!
//! Text uses one font only: DejaVu Sans, shipped in `assets/fonts/` (Bitstream
//! Vera licence, `assets/fonts/LICENSE-DejaVu.txt`) and compiled into the
//! binary. plotters lays text out and rasterises it with ab_glyph, so a PNG
//! is the same on a machine without any system font, and no fontconfig or
//! font-kit lookup ever happens. An SVG names the same family, with a
//! `sans-serif` fallback, and leaves drawing the text to the viewer.
//!
//! Parts: `style` (colours, text, axes, legends, the shared layout), `cdf`,
//! `fit` (`fleetsim fit`: data vs fitted CDFs), `bars`, `lines` (the time
//! series), `sweep` (a metric against a swept key, numeric or categorical,
//! with error bars), `heatmap` (two numeric keys), `forest` (paired
//! differences against a baseline) and `utilization`.

mod bars;
mod cdf;
mod fit;
mod forest;
mod heatmap;
mod lines;
mod style;
mod sweep;
mod utilization;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;

pub use bars::bars_with_ci;
pub use cdf::{BandedCdf, cdf, cdf_bands, cdf_overlay};
pub use fit::fit_cdf;
pub use forest::{ForestPanel, forest};
pub use heatmap::heatmap;
pub use lines::{health, lines, throughput_p99, throughput_p99_within};
pub use sweep::{CiSeries, XAxis, sweep_lines};
pub use utilization::utilization;

use super::write_atomic;
use crate::results::RunRecord;
use crate::scenario::Scenario;

/// Size of every chart, in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;

/// The folder of a report directory that holds the charts.
pub const CHART_DIR: &str = "charts";

/// The charts of a run directory, in the order [`run_charts`] returns them.
pub const RUN_CHARTS: [&str; 4] = ["latency_cdf", "throughput_p99", "utilization", "health"];

/// The chart a run directory has besides [`RUN_CHARTS`] when its tiers make
/// calls: attempts and failures over time, per capability.
pub const CALLS_CHART: &str = "calls";

/// The one font family. It is both the key of the embedded font in
/// plotters' font table and the SVG `font-family` list, hence the fallback.
const FAMILY: &str = "DejaVu Sans, sans-serif";
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Register the embedded font with plotters (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            panic!("the embedded DejaVuSans.ttf is not a font ab_glyph can read");
        }
    });
}

/// A rendered chart: its SVG text and PNG bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Chart {
    title: String,
    svg: String,
    png: Vec<u8>,
}

impl Chart {
    /// Draw `plot` into both formats (in parallel: they are independent).
    fn render(title: &str, plot: &impl Plot) -> Chart {
        register_font();
        let (svg, png) = rayon::join(|| render_svg(plot), || render_png(plot));
        Chart {
            title: title.to_string(),
            svg,
            png,
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    /// Width and height in pixels (of both formats).
    pub fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    /// The SVG document (no XML declaration, so it can be inlined in HTML).
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// The PNG file (8-bit RGB).
    pub fn png(&self) -> &[u8] {
        &self.png
    }

    /// Write `dir/NAME.svg` and `dir/NAME.png`, each atomically; returns
    /// their paths.
    pub fn write(&self, dir: &Path, name: &str) -> io::Result<[PathBuf; 2]> {
        let (svg, png) = (
            dir.join(format!("{name}.svg")),
            dir.join(format!("{name}.png")),
        );
        write_atomic(&svg, self.svg.as_bytes())?;
        write_atomic(&png, &self.png)?;
        Ok([svg, png])
    }
}

/// Write every chart into `dir/charts/`; returns the paths written.
pub fn write_all<N: AsRef<str>>(dir: &Path, charts: &[(N, Chart)]) -> io::Result<Vec<PathBuf>> {
    let chart_dir = dir.join(CHART_DIR);
    let mut written = Vec::new();
    for (name, chart) in charts {
        written.extend(chart.write(&chart_dir, name.as_ref())?);
    }
    Ok(written)
}

impl fmt::Debug for Chart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chart")
            .field("title", &self.title)
            .field("svg_bytes", &self.svg.len())
            .field("png_bytes", &self.png.len())
            .finish()
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that draws itself on any plotters backend.
trait Plot: Sync {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

fn render_svg(plot: &impl Plot) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| plot.draw(&root))
            .and_then(|()| root.present())
            .unwrap_or_else(|e| panic!("drawing an SVG chart in memory failed: {e}"));
    }
    svg
}

fn render_png(plot: &impl Plot) -> Vec<u8> {
    const LEN: usize = WIDTH as usize * HEIGHT as usize * 3;
    // Pixel buffers are kept for the next chart, whatever thread draws it:
    // a fresh 1.2 MB buffer for every chart cost a page fault per 4 KB
    // page on its first fill, and one freed when its thread ends cost
    // handing the pages back. As many are kept as charts were ever drawn
    // at once, up to `KEPT`. The fill with white below overwrites every
    // pixel the previous chart drew.
    const KEPT: usize = 8;
    static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let kept = BUFFERS.lock().ok().and_then(|mut b| b.pop());
    // A new buffer is asked for zeroed (fresh pages need no writing).
    let mut rgb = kept.unwrap_or_else(|| vec![0u8; LEN]);
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| plot.draw(&root))
            .and_then(|()| root.present())
            .unwrap_or_else(|e| panic!("drawing a PNG chart in memory failed: {e}"));
    }
    let png = encode_png(&rgb, WIDTH, HEIGHT);
    if let Ok(mut b) = BUFFERS.lock()
        && b.len() < KEPT
    {
        b.push(rgb);
    }
    png
}

/// 8-bit RGB pixels into a PNG file. The encoder is deterministic: same
/// pixels, same bytes.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc
        .write_header()
        .expect("a PNG header in memory cannot fail");
    w.write_image_data(rgb)
        .unwrap_or_else(|e| panic!("{width}×{height} RGB pixels ({} bytes): {e}", rgb.len()));
    w.finish().expect("finishing a PNG in memory cannot fail");
    out
}

/// The label of a run among `runs`: its variant, its replication, or both.
fn run_label(runs: &[RunRecord], r: &RunRecord) -> String {
    let variants = runs.iter().any(|x| x.variant != r.variant);
    let replications = runs.iter().any(|x| x.replication != r.replication);
    match (variants, replications) {
        (true, true) => format!("{} #{}", r.variant, r.replication),
        (true, false) => r.variant.clone(),
        (false, _) => format!("replication {}", r.replication),
    }
}

/// The latency CDF of every run, one line each.
pub fn latency_cdf(title: &str, runs: &[RunRecord]) -> Chart {
    let labels: Vec<String> = runs.iter().map(|r| run_label(runs, r)).collect();
    let series: Vec<(&str, &Histogram<u64>)> = labels
        .iter()
        .zip(runs)
        .map(|(l, r)| (l.as_str(), &r.result.latency))
        .collect();
    cdf(title, &series)
}

/// The charts of a run directory, named as in [`RUN_CHARTS`] and in that
/// order: the CDF of every run; the time series and utilization of the
/// first (replication 0).
pub fn run_charts(sc: &Scenario, runs: &[RunRecord]) -> Vec<(&'static str, Chart)> {
    let first = runs.first();
    let of_first = match first {
        Some(r) if runs.len() > 1 => format!(" ({})", run_label(runs, r)),
        _ => String::new(),
    };
    let buckets = first.map_or(&[][..], |r| &r.result.buckets);
    let agents = first.map_or(&[][..], |r| &r.result.agents);
    let width = sc.report.bucket;
    let name = &sc.name;
    RUN_CHARTS
        .par_iter()
        .map(|&chart| {
            let drawn = match chart {
                "latency_cdf" => latency_cdf(&format!("{name}: end-to-end latency CDF"), runs),
                "throughput_p99" => throughput_p99(
                    &format!("{name}: throughput and p99 latency{of_first}"),
                    buckets,
                    width,
                ),
                "utilization" => utilization(
                    &format!("{name}: utilization per agent{of_first}"),
                    sc,
                    agents,
                ),
                "health" => health(
                    &format!("{name}: healthy agents and open breakers{of_first}"),
                    buckets,
                    width,
                    sc.agent_count(),
                ),
                other => unreachable!("RUN_CHARTS has no chart {other:?}"),
            };
            (chart, drawn)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .chain(sc.has_calls().then(|| {
            let calls = first.map_or(&[][..], |r| &r.result.calls);
            let end = buckets.len() as u64 * width.as_nanos();
            (
                CALLS_CHART,
                lines::calls(
                    &format!("{name}: attempts and failures per capability{of_first}"),
                    calls,
                    width,
                    crate::time::Duration(end),
                ),
            )
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::cdf::TAIL_TICKS;
    use super::*;
    use crate::metrics::{AgentResult, MaybeSecs};
    use crate::time::NS_PER_MS;

    /// A latency histogram (nanoseconds) of the given milliseconds.
    pub(super) fn histogram(values_ms: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, crate::metrics::HIGHEST_NS, 3).unwrap();
        for &v in values_ms {
            h.record(v * NS_PER_MS).unwrap();
        }
        h
    }

    /// Width and height from the IHDR chunk, after checking the signature.
    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&png[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&png[16..20]), be(&png[20..24]))
    }

    /// Decode the whole image: the PNG is valid, not just its header.
    fn decoded_size(png: &[u8]) -> (u32, u32) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .expect("a valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("a sane size")];
        let info = reader.next_frame(&mut buf).expect("valid image data");
        (info.width, info.height)
    }

    fn assert_valid(chart: &Chart, title: &str) {
        let svg = chart.svg();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("<text") && svg.contains(&format!(">\n{title}\n</text>")),
            "the title {title:?} is a <text> element"
        );
        assert!(svg.contains(r#"font-family="DejaVu Sans, sans-serif""#));
        assert_eq!(png_size(chart.png()), (WIDTH, HEIGHT));
        assert_eq!(decoded_size(chart.png()), (WIDTH, HEIGHT));
    }

    #[test]
    fn cdf_overlay_draws_every_series_and_the_tail_ticks() {
        let a = histogram(&(1..=1000).collect::<Vec<_>>());
        let b = histogram(&(1..=1000).map(|v| v * 2).collect::<Vec<_>>());
        let chart = cdf_overlay(&[("round_robin", &a), ("p2c <fast> & co", &b)]);
        assert_valid(&chart, "End-to-end latency CDF");
        let svg = chart.svg();
        assert!(svg.contains("round_robin"));
        assert!(
            svg.contains("p2c &lt;fast&gt; &amp; co"),
            "labels are escaped"
        );
        for (_, label) in TAIL_TICKS {
            assert!(
                svg.contains(&format!(">\n{label}\n</text>")),
                "tick {label}"
            );
        }
        // One line per series, and its legend entry.
        assert_eq!(
            svg.matches(r##"stroke="#4E79A7" stroke-width="2""##)
                .count(),
            2
        );
        assert_eq!(
            svg.matches(r##"stroke="#F28E2B" stroke-width="2""##)
                .count(),
            2
        );
    }

    #[test]
    fn charts_are_pure_functions_of_their_input() {
        let a = histogram(&[5, 7, 9, 200]);
        let one = cdf_overlay(&[("a", &a)]);
        let two = cdf_overlay(&[("a", &a)]);
        assert_eq!(one.svg(), two.svg());
        assert_eq!(one.png(), two.png());
        let other = cdf_overlay(&[("a", &histogram(&[5, 7, 9, 300]))]);
        assert_ne!(
            one.png(),
            other.png(),
            "a different input draws differently"
        );
    }

    #[test]
    fn a_pixel_buffer_kept_from_another_chart_leaves_no_trace() {
        let a = histogram(&[5, 7, 9, 200]);
        let first = cdf_overlay(&[("a", &a)]);
        // Drawn into the buffer `first` left (or another, kept by a test
        // on another thread): every pixel is drawn again.
        let rows = vec![("x".to_string(), 1e6, 1e5), ("y".to_string(), 3.0, 1.0)];
        let other = bars_with_ci("dark", "ms", &rows, None);
        assert_ne!(other.png(), first.png());
        assert_eq!(cdf_overlay(&[("a", &a)]).png(), first.png());
    }

    #[test]
    fn bars_with_ci_draws_a_bar_per_row_and_whiskers_where_known() {
        let rows = vec![
            ("round_robin".to_string(), 52.5, 3.0),
            ("p2c".to_string(), 31.0, 1.5),
            ("one run".to_string(), 40.0, f64::NAN),
        ];
        let chart = bars_with_ci("p99 latency by strategy", "p99 latency (ms)", &rows, None);
        assert_valid(&chart, "p99 latency by strategy");
        let svg = chart.svg();
        for (label, _, _) in &rows {
            assert!(svg.contains(&format!(">\n{label}\n</text>")), "{label}");
        }
        assert!(svg.contains("p99 latency (ms)"));
        // 2 whiskers × (stem + 2 caps).
        assert_eq!(
            svg.matches(r##"stroke="#000000" stroke-width="2""##)
                .count(),
            6
        );
        assert_valid(&bars_with_ci("empty", "ms", &[], None), "empty");
    }

    #[test]
    fn lines_draws_each_series_with_markers() {
        let series = vec![
            (
                "p99".to_string(),
                vec![(10.0, 20.0), (20.0, 25.0), (40.0, 90.0)],
            ),
            ("mean".to_string(), vec![(10.0, 8.0), (20.0, f64::NAN)]),
        ];
        let chart = lines("latency against load", "rate (tasks/s)", "ms", &series);
        assert_valid(&chart, "latency against load");
        let svg = chart.svg();
        assert!(svg.contains("rate (tasks/s)"));
        assert_eq!(svg.matches("<circle").count(), 4, "NaN points are left out");
        // A single point still has a range to sit in.
        assert_valid(
            &lines("one", "x", "y", &[("s".into(), vec![(3.0, 3.0)])]),
            "one",
        );
    }

    #[test]
    fn long_legend_entries_wrap_instead_of_being_clipped() {
        let long = "workload.arrivals.rate=1500, fleet.tiers[0].service_time={dist=exponential,mean=10ms,extra=abcdefghijklmnop}";
        let series = [CiSeries {
            label: long.to_string(),
            points: vec![(1.0, 2.0, f64::NAN), (2.0, 3.0, 0.5)],
        }];
        let chart = sweep_lines("t", "x", "y", XAxis::Numeric, &series, None);
        assert_valid(&chart, "t");
        let svg = chart.svg();
        let lines: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit(">\n").next())
            .map(|t| t.trim_end_matches('\n'))
            .filter(|t| long.contains(t.trim()) && t.len() > 3)
            .collect();
        assert!(
            !svg.contains(&format!(">\n{long}\n</text>")),
            "one row would be clipped"
        );
        assert_eq!(
            lines.first(),
            Some(&"workload.arrivals.rate=1500,"),
            "{lines:?}"
        );
        let joined: String = lines.concat().split_whitespace().collect();
        assert_eq!(
            joined,
            long.split_whitespace().collect::<String>(),
            "no part is lost"
        );
    }

    #[test]
    fn many_agents_are_grouped_into_a_few_hundred_bars() {
        let sc = crate::scenario::load_str(
            "many.toml",
            "many",
            "[[fleet.tiers]]\nname = \"big\"\ncount = 9000\nservice_time = { dist = \"constant\", value = \"1ms\" }\n\
             [[fleet.tiers]]\nname = \"small\"\ncount = 1000\nservice_time = { dist = \"constant\", value = \"1ms\" }\n\
             [workload]\narrivals = { process = \"poisson\", rate = 10.0 }\n",
            &[],
        )
        .unwrap();
        let agents: Vec<AgentResult> = (0..10_000)
            .map(|i| AgentResult {
                tasks: 1,
                failures: 0,
                utilization: (i % 100) as f64 / 100.0,
                latency_mean_ms: 0.0,
                latency_p99_ms: 0.0,
                breaker_trips: 0,
                unhealthy_s: 0.0,
                down_s: 0.0,
                breaker_open_s: 0.0,
                degraded_s: 0.0,
                present_s: 0.0,
                registered_s: MaybeSecs::NONE,
                serving_s: MaybeSecs::NONE,
                drained_s: MaybeSecs::NONE,
                first_sent_s: MaybeSecs::NONE,
                last_sent_s: MaybeSecs::NONE,
            })
            .collect();
        let chart = utilization("utilization", &sc, &agents);
        assert_valid(&chart, "utilization");
        let svg = chart.svg();
        assert!(svg.contains("mean of 25 agents"));
        let rects = svg.matches("<rect").count();
        assert!((400..=420).contains(&rects), "{rects} rectangles");
        assert!(svg.contains(">\nbig\n</text>") && svg.contains(">\nsmall\n</text>"));
    }
}
