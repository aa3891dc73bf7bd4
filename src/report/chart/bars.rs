//! Bars with confidence intervals: a bar per label at its mean, with an
//! error bar of ± the half-width of its interval (compare). A bounded
//! metric (a percentage) whose values sit close together zooms to them and
//! shows each mean as a dot instead of a bar, since a bar's length from a
//! zoomed axis would mislead; the axis title then says where it starts.

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};

struct Bars {
    title: String,
    y_label: String,
    rows: Vec<(String, f64, f64)>,
    bounds: Option<(f64, f64)>,
}

impl Plot for Bars {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let (plot, _) = frame(root, &self.title, &[])?;
        let n = self.rows.len();
        // Values are means; a NaN half-width (one replication) has no bar.
        let half = |h: f64| if h.is_finite() { h.abs() } else { 0.0 };
        let known = || self.rows.iter().filter(|r| r.1.is_finite());
        let lo = known().map(|r| r.1 - half(r.2)).fold(0.0, f64::min);
        let hi = known().map(|r| r.1 + half(r.2)).fold(0.0, f64::max);
        let (y, note) = match self.bounds {
            Some(b) => {
                let lo = known()
                    .map(|r| r.1 - half(r.2))
                    .fold(f64::INFINITY, f64::min);
                zoomed(lo, hi, b)
            }
            None if lo < 0.0 => (padded(lo, hi), None),
            None => (from_zero(hi), None),
        };
        let y_desc = match &note {
            Some(n) => format!("{} ({n})", self.y_label),
            None => self.y_label.clone(),
        };
        let dots = note.is_some();
        let x = Ticked::new(
            -0.5..n.max(1) as f64 - 0.5,
            (0..n).map(|i| i as f64).collect(),
        );
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, axis(y, false))?;
        let label_of = |x: &f64| {
            let i = x.round();
            if i >= 0.0 && (i - x).abs() < 1e-9 {
                self.rows
                    .get(i as usize)
                    .map_or_else(String::new, |r| r.0.clone())
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .disable_x_mesh()
            .y_desc(y_desc.as_str())
            .x_label_formatter(&label_of)
            .y_label_formatter(&tick)
            .draw()?;
        chart.draw_series(
            self.rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.1.is_finite() && !dots)
                .map(|(i, r)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.35, 0.0), (x + 0.35, r.1)],
                        color(i).mix(0.8).filled(),
                    )
                }),
        )?;
        let whisker = BLACK.stroke_width(2);
        for (i, r) in self.rows.iter().enumerate() {
            let h = half(r.2);
            if !r.1.is_finite() || h == 0.0 {
                continue;
            }
            let x = i as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, r.1 - h), (x, r.1 + h)],
                whisker,
            )))?;
            for end in [r.1 - h, r.1 + h] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, end)) + PathElement::new(vec![(-6, 0), (6, 0)], whisker),
                ))?;
            }
        }
        if dots {
            chart.draw_series(
                self.rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.1.is_finite())
                    .map(|(i, r)| Circle::new((i as f64, r.1), 6, color(i).filled())),
            )?;
        }
        if n == 0 {
            no_data(&plot, "no data")?;
        }
        Ok(())
    }
}

/// One bar per row, `(label, mean, half-width of its confidence interval)`,
/// with an error bar of ± half-width (none when it is NaN: one replication).
/// `bounds` (for a percentage, `(0, 100)`) lets the axis zoom to the data.
pub fn bars_with_ci(
    title: &str,
    y_label: &str,
    rows: &[(String, f64, f64)],
    bounds: Option<(f64, f64)>,
) -> Chart {
    let plot = Bars {
        title: title.to_string(),
        y_label: y_label.to_string(),
        rows: rows.to_vec(),
        bounds,
    };
    Chart::render(title, &plot)
}
