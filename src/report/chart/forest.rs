//! A forest plot: for each metric (a panel), each strategy's paired
//! difference against the baseline as a point with a horizontal 95 %
//! confidence interval, and a vertical line at zero (no difference). An
//! interval that does not cross zero is a difference the replications
//! resolve; one that does is not.

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};

/// One metric: its axis title, and `(strategy, difference, half-width)`
/// per row (a NaN half-width draws no interval).
#[derive(Clone, Debug, PartialEq)]
pub struct ForestPanel {
    pub x_label: String,
    pub rows: Vec<(String, f64, f64)>,
}

struct Forest {
    title: String,
    panels: Vec<ForestPanel>,
}

fn half(h: f64) -> f64 {
    if h.is_finite() { h.abs() } else { 0.0 }
}

fn draw_panel<DB: DrawingBackend>(p: &ForestPanel, area: &Area<DB>) -> DrawResult<DB> {
    let known = || p.rows.iter().filter(|r| r.1.is_finite());
    let lo = known().map(|r| r.1 - half(r.2)).fold(0.0, f64::min);
    let hi = known().map(|r| r.1 + half(r.2)).fold(0.0, f64::max);
    let n = p.rows.len().max(1);
    let y = Ticked::new(
        -0.5..n as f64 - 0.5,
        (0..p.rows.len()).map(|i| i as f64).collect(),
    );
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(120)
        .build_cartesian_2d(axis(padded(lo, hi), false), y)?;
    // Rows top to bottom in the order given.
    let name = |v: &f64| {
        let i = v.round();
        if i >= 0.0 && (i - v).abs() < 1e-9 {
            let k = p.rows.len().saturating_sub(1 + i as usize);
            p.rows.get(k).map_or_else(String::new, |r| r.0.clone())
        } else {
            String::new()
        }
    };
    let mut mesh = chart.configure_mesh();
    styled(&mut mesh)
        .disable_y_mesh()
        .x_desc(p.x_label.as_str())
        .x_label_formatter(&tick)
        .y_label_formatter(&name)
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
        BLACK.mix(0.6).stroke_width(1),
    )))?;
    for (k, r) in p.rows.iter().enumerate() {
        if !r.1.is_finite() {
            continue;
        }
        let yk = (p.rows.len() - 1 - k) as f64;
        let c = color(k + 1);
        let h = half(r.2);
        if h > 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(r.1 - h, yk), (r.1 + h, yk)],
                c.stroke_width(2),
            )))?;
            for end in [r.1 - h, r.1 + h] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((end, yk))
                        + PathElement::new(vec![(0, -5), (0, 5)], c.stroke_width(2)),
                ))?;
            }
        }
        chart.draw_series(std::iter::once(Circle::new((r.1, yk), 5, c.filled())))?;
    }
    if p.rows.is_empty() {
        no_data(area, "no other strategy")?;
    }
    Ok(())
}

impl Plot for Forest {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let (plot, _) = frame(root, &self.title, &[])?;
        let areas = plot.split_evenly((self.panels.len().max(1), 1));
        for (p, a) in self.panels.iter().zip(&areas) {
            draw_panel(p, a)?;
        }
        Ok(())
    }
}

/// The forest plot titled `title`, one panel per metric, top to bottom.
pub fn forest(title: &str, panels: &[ForestPanel]) -> Chart {
    let plot = Forest {
        title: title.to_string(),
        panels: panels.to_vec(),
    };
    Chart::render(title, &plot)
}
