//! Utilization per agent: a bar per agent, coloured by tier (agents are
//! numbered tier by tier in scenario order), grouped into a few hundred
//! bars for large fleets.

use std::ops::Range;

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};
use crate::metrics::AgentResult;
use crate::scenario::Scenario;

/// Above this many agents, a bar stands for a group of neighbours (of one
/// tier) at their mean: 10,000 one-pixel bars would be neither fast nor
/// legible.
const MAX_BARS: usize = 400;

struct Utilization {
    title: String,
    agents: usize,
    /// Tier names, in scenario order.
    tiers: Vec<String>,
    /// (agents, tier, mean utilization in %).
    bars: Vec<(Range<usize>, usize, f64)>,
    /// Agents per bar.
    group: usize,
}

impl Plot for Utilization {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let legend = Legend(
            self.tiers
                .iter()
                .enumerate()
                .map(|(k, name)| (name.clone(), color(k), Swatch::Box))
                .collect(),
        );
        let (plot, side) = frame(root, &self.title, &[&legend])?;
        let top = self.bars.iter().map(|b| b.2).fold(0.0, f64::max);
        let y = if top > 0.0 {
            0.0..(top * 1.1).min(100.0)
        } else {
            0.0..100.0
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(axis(0.0..self.agents.max(1) as f64, true), axis(y, false))?;
        let x_desc = if self.group > 1 {
            format!("agent, tier by tier (a bar: mean of {} agents)", self.group)
        } else {
            "agent, tier by tier".to_string()
        };
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc("utilization (%)")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        // A gap between bars only where they are wide enough to show one.
        let gap = if self.group == 1 && self.agents <= 150 {
            0.12
        } else {
            0.0
        };
        chart.draw_series(self.bars.iter().map(|(r, k, u)| {
            Rectangle::new(
                [(r.start as f64 + gap, 0.0), (r.end as f64 - gap, *u)],
                color(*k).filled(),
            )
        }))?;
        legend.draw(&side)?;
        if self.bars.is_empty() {
            no_data(&plot, "no agents")?;
        }
        Ok(())
    }
}

/// Utilization per agent, one bar per agent coloured by tier (agents are
/// numbered tier by tier, `sc.tiers[k].count` each), with a legend of tiers.
/// Past 400 agents a bar is the mean of a group of neighbours in one tier.
pub fn utilization(title: &str, sc: &Scenario, agents: &[AgentResult]) -> Chart {
    let n = agents.len();
    let group = n.div_ceil(MAX_BARS).max(1);
    let mut bars = Vec::new();
    let mut start = 0;
    for (k, t) in sc.tiers.iter().enumerate() {
        let end = (start + t.count as usize).min(n);
        for lo in (start..end).step_by(group) {
            let hi = (lo + group).min(end);
            let sum: f64 = agents[lo..hi].iter().map(|a| a.utilization).sum();
            bars.push((lo..hi, k, sum / (hi - lo) as f64 * 100.0));
        }
        start = end;
    }
    let plot = Utilization {
        title: title.to_string(),
        agents: n,
        tiers: sc.tiers.iter().map(|t| t.name.clone()).collect(),
        bars,
        group,
    };
    Chart::render(title, &plot)
}
