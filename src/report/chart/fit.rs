//! The chart of `fleetsim fit`: the empirical CDF of the logged durations
//! (a wide black staircase, drawn underneath) against the CDF of each fitted family, on linear axes
//! up to the sample's 99th percentile so that the body, where most of the
//! probability is, gets the room. Where the curves part from the staircase
//! is where a family misfits; the KS distance is the largest vertical gap.

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};
use crate::fit::{Family, GroupFit};

/// Points per fitted curve, and at most this many steps of the ECDF.
const CURVE_POINTS: usize = 240;
const MAX_STEPS: usize = 2000;

struct FitCdf {
    title: String,
    x_max: f64,
    data: Vec<(f64, f64)>,
    curves: Vec<(String, Vec<(f64, f64)>)>,
}

impl Plot for FitCdf {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let labels: Vec<(&str, RGBColor)> = std::iter::once(("data", BLACK))
            .chain(
                self.curves
                    .iter()
                    .enumerate()
                    .map(|(i, (l, _))| (l.as_str(), color(i))),
            )
            .collect();
        let legend = Legend::of_lines(labels.into_iter(), "families");
        let (plot, side) = frame(root, &self.title, &[&legend])?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(axis(0.0..self.x_max, false), axis(0.0..1.0, false))?;
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .x_desc("duration (ms)")
            .y_desc("P(X ≤ x)")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        // The data underneath, wider, so a family that fits well shows on it.
        chart.draw_series(LineSeries::new(
            self.data.iter().copied(),
            BLACK.stroke_width(4),
        ))?;
        for (i, (_, pts)) in self.curves.iter().enumerate() {
            chart.draw_series(LineSeries::new(
                pts.iter().copied(),
                color(i).stroke_width(2),
            ))?;
        }
        legend.draw(&side)?;
        Ok(())
    }
}

/// The ECDF of `fit`'s sample against each fitted family (the empirical
/// one left out: it is the data).
pub fn fit_cdf(title: &str, fit: &GroupFit) -> Chart {
    let xs = &fit.sorted;
    let n = xs.len();
    let ms = |s: f64| s * 1e3;
    let empirical = Family::Empirical { sorted: xs.clone() };
    let p99 = ms(empirical.quantile(0.99));
    let x_max = if p99 > 0.0 { p99 * 1.1 } else { 1.0 };
    // A staircase through at most MAX_STEPS evenly spaced order statistics.
    let step = n.div_ceil(MAX_STEPS).max(1);
    let mut data = vec![(0.0, 0.0)];
    let mut below = 0.0;
    for i in (step - 1..n).step_by(step).chain(std::iter::once(n - 1)) {
        let x = ms(xs[i]).min(x_max);
        let y = (i + 1) as f64 / n as f64;
        data.push((x, below));
        data.push((x, y));
        below = y;
        if ms(xs[i]) >= x_max {
            break;
        }
    }
    let curves = fit
        .rows
        .iter()
        .filter(|r| !matches!(r.family, Family::Empirical { .. }))
        .map(|r| {
            let pts = (0..=CURVE_POINTS)
                .map(|k| {
                    let x = x_max * k as f64 / CURVE_POINTS as f64;
                    (x, r.family.cdf(x / 1e3))
                })
                .collect();
            (r.family.name().to_string(), pts)
        })
        .collect();
    Chart::render(
        title,
        &FitCdf {
            title: title.to_string(),
            x_max,
            data,
            curves,
        },
    )
}
