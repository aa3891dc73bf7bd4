//! A metric against a swept key, with the 95 % confidence interval of each
//! point as an error bar: a numeric key on a linear axis, a categorical one
//! (`balancer.strategy`) on a categorical axis with its values as labels,
//! markers only (nothing is drawn between categories), the series side by
//! side within each category. One series per value of the other keys. A bounded metric (a percentage) zooms to the data, saying so.

use std::ops::Range;

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};

/// What the x axis of a sweep chart is.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    /// The key's values are numbers: a linear axis.
    Numeric,
    /// The key's values, in order, at 0, 1, …: a categorical axis.
    Categories(Vec<String>),
}

/// One line: `(x, mean, half-width of its 95 % CI)` per point (x is the
/// category's index on a categorical axis; a NaN half-width draws no bar).
#[derive(Clone, Debug, PartialEq)]
pub struct CiSeries {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
}

struct SweepPlot {
    title: String,
    x_label: String,
    y_label: String,
    x: XAxis,
    series: Vec<CiSeries>,
    bounds: Option<(f64, f64)>,
}

fn half(h: f64) -> f64 {
    if h.is_finite() { h.abs() } else { 0.0 }
}

impl SweepPlot {
    fn x_range(&self) -> Range<f64> {
        match &self.x {
            XAxis::Categories(c) => -0.5..c.len().max(1) as f64 - 0.5,
            XAxis::Numeric => {
                let xs = self
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.0));
                let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                });
                padded(lo, hi)
            }
        }
    }

    /// The y range, and a note for the axis title when it is zoomed.
    fn y_range(&self) -> (Range<f64>, Option<String>) {
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let lo = pts().map(|p| p.1 - half(p.2)).fold(f64::INFINITY, f64::min);
        let hi = pts()
            .map(|p| p.1 + half(p.2))
            .fold(f64::NEG_INFINITY, f64::max);
        match self.bounds {
            Some(b) => zoomed(lo, hi, b),
            None if lo < 0.0 => (padded(lo, hi), None),
            None => (from_zero(hi), None),
        }
    }

    /// Series side by side within a category, so their bars do not hide
    /// each other.
    fn dodge(&self, i: usize) -> f64 {
        let n = self.series.len();
        match self.x {
            XAxis::Categories(_) if n > 1 => (i as f64 - (n - 1) as f64 / 2.0) * (0.5 / n as f64),
            _ => 0.0,
        }
    }
}

impl Plot for SweepPlot {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let mut legend = Legend::of_lines(
            self.series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.label.as_str(), color(i))),
            "lines",
        );
        if matches!(self.x, XAxis::Categories(_)) {
            for entry in &mut legend.0 {
                if matches!(entry.2, Swatch::Line) {
                    entry.2 = Swatch::Box;
                }
            }
        }
        let (plot, side) = frame(root, &self.title, &[&legend])?;
        let (y, note) = self.y_range();
        let y_desc = match note {
            Some(n) => format!("{} ({n})", self.y_label),
            None => self.y_label.clone(),
        };
        let x_axis = match &self.x {
            XAxis::Categories(c) => {
                Ticked::new(self.x_range(), (0..c.len()).map(|i| i as f64).collect())
            }
            XAxis::Numeric => axis(self.x_range(), false),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_axis, axis(y, false))?;
        let category = |x: &f64| match &self.x {
            XAxis::Categories(c) => {
                let i = x.round();
                if i >= 0.0 && (i - x).abs() < 1e-9 {
                    c.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            XAxis::Numeric => tick(x),
        };
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .x_desc(self.x_label.as_str())
            .y_desc(y_desc.as_str())
            .x_label_formatter(&category)
            .y_label_formatter(&tick);
        if matches!(self.x, XAxis::Categories(_)) {
            mesh.disable_x_mesh();
        }
        mesh.draw()?;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            let dx = self.dodge(i);
            let pts: Vec<(f64, f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|&(x, m, h)| (x + dx, m, h))
                .collect();
            // Categories have no order between them to draw a line along.
            if matches!(self.x, XAxis::Numeric) {
                chart.draw_series(LineSeries::new(
                    pts.iter().map(|&(x, m, _)| (x, m)),
                    c.stroke_width(2),
                ))?;
            }
            chart.draw_series(
                pts.iter()
                    .map(|&(x, m, _)| Circle::new((x, m), 4, c.filled())),
            )?;
            for &(x, m, h) in &pts {
                let h = half(h);
                if h == 0.0 {
                    continue;
                }
                let whisker = c.stroke_width(2);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, m - h), (x, m + h)],
                    whisker,
                )))?;
                for end in [m - h, m + h] {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x, end))
                            + PathElement::new(vec![(-5, 0), (5, 0)], whisker),
                    ))?;
                }
            }
        }
        legend.draw(&side)?;
        if self.series.iter().all(|s| s.points.is_empty()) {
            no_data(&plot, "no data")?;
        }
        Ok(())
    }
}

/// A metric against a swept key: one line per series, a marker at each
/// point and an error bar of ± its half-width; `bounds` (for a percentage,
/// `(0, 100)`) lets the axis zoom to the data with a note.
pub fn sweep_lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    x: XAxis,
    series: &[CiSeries],
    bounds: Option<(f64, f64)>,
) -> Chart {
    let plot = SweepPlot {
        title: title.to_string(),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        x,
        series: series.to_vec(),
        bounds,
    };
    Chart::render(title, &plot)
}
