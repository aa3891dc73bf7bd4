//! A heat map of one metric over a grid of two swept numeric keys: a cell
//! per grid point, coloured on a light-to-dark scale from the lowest to the
//! highest value, with the value written in the cell so that it is read,
//! not guessed from a colour. Both axes list the swept values in the order
//! given (they are the values tried, not a continuum).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::*;
use super::{Chart, DrawResult, Plot};
use crate::report::fixed;

struct Heat {
    title: String,
    x_label: String,
    y_label: String,
    xs: Vec<String>,
    ys: Vec<String>,
    /// `values[y][x]`; NaN: no value.
    values: Vec<Vec<f64>>,
    value_label: String,
    decimals: usize,
}

/// White-yellow to dark blue through teal (a viridis-like ramp), `t` in 0..=1.
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 4] = [
        (0xff, 0xf7, 0xbc),
        (0x7f, 0xcd, 0xbb),
        (0x2c, 0x7f, 0xb8),
        (0x25, 0x34, 0x94),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let k = ((t * 3.0) as usize).min(2);
    let f = t * 3.0 - k as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f) as u8;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Plot for Heat {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let finite = || {
            self.values
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
        };
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let legend = Legend(vec![
            (self.value_label.clone(), BLACK, Swatch::None),
            (
                format!("lowest {}", fixed(lo, self.decimals)),
                ramp(0.0),
                Swatch::Box,
            ),
            (
                format!("highest {}", fixed(hi, self.decimals)),
                ramp(1.0),
                Swatch::Box,
            ),
        ]);
        let (plot, side) = frame(root, &self.title, &[&legend])?;
        let (nx, ny) = (self.xs.len().max(1), self.ys.len().max(1));
        let x = Ticked::new(
            -0.5..nx as f64 - 0.5,
            (0..self.xs.len()).map(|i| i as f64).collect(),
        );
        let y = Ticked::new(
            -0.5..ny as f64 - 0.5,
            (0..self.ys.len()).map(|i| i as f64).collect(),
        );
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)?;
        let name = |list: &[String], v: &f64| {
            let i = v.round();
            if i >= 0.0 && (i - v).abs() < 1e-9 {
                list.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let x_name = |v: &f64| name(&self.xs, v);
        let y_name = |v: &f64| name(&self.ys, v);
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .disable_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_name)
            .y_label_formatter(&y_name)
            .draw()?;
        let span = if hi > lo { hi - lo } else { 1.0 };
        let centre = label_style().pos(Pos::new(HPos::Center, VPos::Center));
        for (j, row) in self.values.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                let (cx, cy) = (i as f64, j as f64);
                let t = (v - lo) / span;
                let fill = if v.is_finite() { ramp(t) } else { WHITE };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(cx - 0.5, cy - 0.5), (cx + 0.5, cy + 0.5)],
                    fill.filled(),
                )))?;
                let ink = if v.is_finite() && t > 0.55 {
                    WHITE
                } else {
                    BLACK
                };
                let text = if v.is_finite() {
                    fixed(v, self.decimals)
                } else {
                    "–".to_string()
                };
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    (cx, cy),
                    centre.clone().color(&ink),
                )))?;
            }
        }
        legend.draw(&side)?;
        if finite().next().is_none() {
            no_data(&plot, "no data")?;
        }
        Ok(())
    }
}

/// A heat map: `values[y][x]` of the metric `value_label` at the grid
/// point (`xs[x]`, `ys[y]`), each cell labelled with its value.
#[allow(clippy::too_many_arguments)]
pub fn heatmap(
    title: &str,
    x_label: &str,
    y_label: &str,
    xs: &[String],
    ys: &[String],
    values: &[Vec<f64>],
    value_label: &str,
    decimals: usize,
) -> Chart {
    let plot = Heat {
        title: title.to_string(),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        xs: xs.to_vec(),
        ys: ys.to_vec(),
        values: values.to_vec(),
        value_label: value_label.to_string(),
        decimals,
    };
    Chart::render(title, &plot)
}
