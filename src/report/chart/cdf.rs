//! Latency CDFs: the empirical CDF of an HdrHistogram as a staircase, with
//! the percentile axis in `-log10(1 - p)` as HdrHistogram's own percentile
//! plots have it, so that the tail (99 %, 99.9 %, 99.99 %) gets as much room
//! as the body. Quantiles above 99.99 %, the maximum included, are drawn at
//! the top of the axis.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};
use crate::time::NS_PER_MS;

/// Percentile ticks of the CDF: (quantile, label).
pub(super) const TAIL_TICKS: [(f64, &str); 5] = [
    (0.5, "50 %"),
    (0.9, "90 %"),
    (0.99, "99 %"),
    (0.999, "99.9 %"),
    (0.9999, "99.99 %"),
];
/// The top of the percentile axis, in `-log10(1 - p)`: 99.99 %. Higher
/// quantiles (and the maximum, p = 1) are drawn at the top.
const TAIL_MAX: f64 = 4.0;

/// `-log10(1 - q)`, capped at [`TAIL_MAX`].
fn tail(q: f64) -> f64 {
    let rest = (1.0 - q).max(libm::pow(10.0, -TAIL_MAX));
    (-libm::log10(rest)).clamp(0.0, TAIL_MAX)
}

/// The empirical CDF of a latency histogram (nanoseconds) as a staircase
/// of (ms, tail) points: a step up at each recorded value, at the highest
/// latency its histogram bucket stands for.
fn cdf_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let ms = |ns: u64| ns as f64 / NS_PER_MS as f64;
    let mut pts = Vec::new();
    let mut below = 0.0;
    for v in h.iter_recorded() {
        let (x, y) = (ms(v.value_iterated_to()), tail(v.quantile_iterated_to()));
        pts.push((x, below));
        pts.push((x, y));
        below = y;
    }
    pts
}

/// The band of a series across replications: at each of a grid of levels
/// of the percentile axis, the lowest and highest latency (ms) any
/// replication has there, as `(tail, low, high)`.
fn band_points(reps: &[&Histogram<u64>]) -> Vec<(f64, f64, f64)> {
    const LEVELS: usize = 120;
    let ms = |ns: u64| ns as f64 / NS_PER_MS as f64;
    let reps: Vec<&&Histogram<u64>> = reps.iter().filter(|h| !h.is_empty()).collect();
    if reps.len() < 2 {
        return Vec::new();
    }
    (0..=LEVELS)
        .map(|k| {
            let y = TAIL_MAX * k as f64 / LEVELS as f64;
            let q = 1.0 - libm::pow(10.0, -y);
            let at = |h: &&&Histogram<u64>| ms(h.value_at_quantile(q));
            let lo = reps.iter().map(at).fold(f64::INFINITY, f64::min);
            let hi = reps.iter().map(at).fold(f64::NEG_INFINITY, f64::max);
            (y, lo, hi)
        })
        .collect()
}

/// One series of [`cdf_bands`]: its label, the histogram of every
/// replication's tasks together, and each replication's own.
pub struct BandedCdf<'a> {
    pub label: &'a str,
    pub pooled: &'a Histogram<u64>,
    pub replications: Vec<&'a Histogram<u64>>,
}

struct Cdf {
    title: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
    /// Per series, its band across replications (empty: none).
    bands: Vec<Vec<(f64, f64, f64)>>,
}

impl Plot for Cdf {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let banded = self.bands.iter().any(|b| !b.is_empty());
        let mut legend = if self.series.len() > 1 || banded {
            Legend::of_lines(
                self.series
                    .iter()
                    .enumerate()
                    .map(|(i, (l, _))| (l.as_str(), color(i))),
                "runs",
            )
        } else {
            Legend(Vec::new())
        };
        if banded {
            legend.0.push((
                "shaded: range over replications".to_string(),
                BLACK,
                Swatch::None,
            ));
        }
        let (plot, side) = frame(root, &self.title, &[&legend])?;
        let x_max = self
            .series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
            .chain(self.bands.iter().flatten().map(|b| b.2))
            .fold(0.0, f64::max);
        let ticks: Vec<f64> = TAIL_TICKS.iter().map(|&(q, _)| tail(q)).collect();
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(
                axis(from_zero(x_max), false),
                Ticked::new(0.0..TAIL_MAX * 1.04, ticks),
            )?;
        let label_of = |y: &f64| {
            TAIL_TICKS
                .iter()
                .find(|&&(q, _)| (tail(q) - y).abs() < 1e-9)
                .map_or_else(String::new, |&(_, l)| l.to_string())
        };
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .x_desc("latency (ms)")
            .y_desc("percentile (1 − p on a log scale)")
            .x_label_formatter(&tick)
            .y_label_formatter(&label_of)
            .draw()?;
        for (i, band) in self.bands.iter().enumerate() {
            if band.is_empty() {
                continue;
            }
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|&(y, lo, _)| (lo, y))
                .chain(band.iter().rev().map(|&(y, _, hi)| (hi, y)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color(i).mix(0.2).filled(),
            )))?;
        }
        for (i, (_, pts)) in self.series.iter().enumerate() {
            // A point on the pixel of the one before adds nothing to the
            // line: a million tasks' staircase has some 20,000 points, most
            // of them on a pixel already drawn.
            let mut last = None;
            let drawn = pts.iter().copied().filter(|p| {
                let px = Some(chart.backend_coord(p));
                let new = px != last;
                last = px;
                new
            });
            chart.draw_series(LineSeries::new(drawn, color(i).stroke_width(2)))?;
        }
        legend.draw(&side)?;
        if self.series.iter().all(|(_, p)| p.is_empty()) {
            no_data(&plot, "no completed tasks")?;
        }
        Ok(())
    }
}

/// Latency CDFs (histograms of nanoseconds) on one chart titled `title`,
/// one line per series.
pub fn cdf(title: &str, series: &[(&str, &Histogram<u64>)]) -> Chart {
    let plot = Cdf {
        title: title.to_string(),
        series: series
            .iter()
            .map(|(label, h)| (label.to_string(), cdf_points(h)))
            .collect(),
        bands: Vec::new(),
    };
    Chart::render(title, &plot)
}

/// Latency CDFs with bands (compare): per series, the CDF of its pooled
/// histogram (every replication's tasks together) as a line, and a shaded
/// band from the lowest to the highest latency its replications reach at
/// each percentile, so the spread across replications shows beside the
/// line. A series needs two replications for a band.
pub fn cdf_bands(title: &str, series: &[BandedCdf<'_>]) -> Chart {
    let plot = Cdf {
        title: title.to_string(),
        series: series
            .iter()
            .map(|s| (s.label.to_string(), cdf_points(s.pooled)))
            .collect(),
        bands: series
            .iter()
            .map(|s| band_points(&s.replications))
            .collect(),
    };
    Chart::render(title, &plot)
}

/// Several latency CDFs on one chart (compare: one line per strategy).
pub fn cdf_overlay(series: &[(&str, &Histogram<u64>)]) -> Chart {
    cdf("End-to-end latency CDF", series)
}

#[cfg(test)]
mod tests {
    use super::super::tests::histogram;
    use super::*;

    #[test]
    fn tail_axis_puts_the_ticks_where_their_labels_say() {
        assert_eq!(tail(0.0), 0.0);
        assert!((tail(0.5) - std::f64::consts::LOG10_2).abs() < 1e-12);
        assert!((tail(0.99) - 2.0).abs() < 1e-9);
        assert!((tail(0.9999) - 4.0).abs() < 1e-9);
        assert_eq!(tail(1.0), TAIL_MAX, "the maximum is drawn at the top");
    }

    #[test]
    fn cdf_points_climb_to_the_top() {
        let h = histogram(&[10, 20, 30, 40]);
        let pts = cdf_points(&h);
        assert_eq!(pts.len(), 8, "a step up per recorded value");
        assert_eq!(pts.first().unwrap().1, 0.0);
        assert!((pts[1].1 - tail(0.25)).abs() < 1e-12);
        assert_eq!(pts.last().unwrap().1, TAIL_MAX);
        assert!((pts.last().unwrap().0 - 40.0).abs() < 0.05);
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(cdf_points(&histogram(&[])).is_empty());
    }
}
