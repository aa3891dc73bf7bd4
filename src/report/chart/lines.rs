//! Line charts: a metric against a numeric x (sweep), and the time series
//! of a run (throughput and p99, health) as panels stacked under one title.

use std::ops::Range;

use plotters::prelude::*;

use super::style::*;
use super::{Chart, DrawResult, Plot};
use crate::metrics::{Bucket, CallStats};
use crate::time::Duration;

/// One named line, possibly broken into segments (gaps where there is no
/// value).
struct Line {
    label: String,
    color: RGBColor,
    segments: Vec<Vec<(f64, f64)>>,
}

impl Line {
    fn new(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.to_string(),
            color,
            segments: vec![points],
        }
    }

    fn points(&self) -> impl Iterator<Item = &(f64, f64)> {
        self.segments.iter().flatten()
    }
}

struct Panel {
    x_desc: String,
    y_desc: String,
    x: Range<f64>,
    y: Range<f64>,
    lines: Vec<Line>,
    /// Mark each point (sweeps: few, meaningful points).
    markers: bool,
    /// `y` counts things: whole-number ticks.
    whole: bool,
}

impl Panel {
    fn new(x_desc: &str, y_desc: &str, lines: Vec<Line>) -> Panel {
        Panel {
            x_desc: x_desc.to_string(),
            y_desc: y_desc.to_string(),
            x: 0.0..1.0,
            y: 0.0..1.0,
            lines,
            markers: false,
            whole: false,
        }
        .fit()
    }

    /// Ranges that fit the data, with `y` from zero when it is all positive.
    fn fit(mut self) -> Panel {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
        for &(x, y) in self.lines.iter().flat_map(Line::points) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = f64::min(y0, y);
            y1 = f64::max(y1, y);
        }
        self.x = padded(x0, x1);
        self.y = if y0 < 0.0 {
            padded(y0, y1)
        } else {
            from_zero(y1)
        };
        self
    }

    fn legend(&self) -> Legend {
        Legend::of_lines(
            self.lines.iter().map(|l| (l.label.as_str(), l.color)),
            "series",
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &Area<DB>) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                axis(self.x.clone(), false),
                axis(self.y.clone(), self.whole),
            )?;
        let mut mesh = chart.configure_mesh();
        styled(&mut mesh)
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()?;
        for line in &self.lines {
            for seg in &line.segments {
                chart.draw_series(LineSeries::new(
                    seg.iter().copied(),
                    line.color.stroke_width(2),
                ))?;
                if self.markers {
                    chart
                        .draw_series(seg.iter().map(|&p| Circle::new(p, 3, line.color.filled())))?;
                }
            }
        }
        if self.lines.iter().all(|l| l.points().next().is_none()) {
            no_data(area, "no data")?;
        }
        Ok(())
    }
}

/// Panels stacked top to bottom under one title, each with its legend.
struct Panels {
    title: String,
    panels: Vec<Panel>,
}

impl Plot for Panels {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let legends: Vec<Legend> = self.panels.iter().map(Panel::legend).collect();
        let (plot, side) = frame(root, &self.title, &legends.iter().collect::<Vec<_>>())?;
        let rows = (self.panels.len().max(1), 1);
        let (plots, sides) = (plot.split_evenly(rows), side.split_evenly(rows));
        for (((panel, legend), plot), side) in
            self.panels.iter().zip(&legends).zip(&plots).zip(&sides)
        {
            panel.draw(plot)?;
            legend.draw(side)?;
        }
        Ok(())
    }
}

/// A metric against a numeric x (sweep): one line per series, with a marker
/// at each point; points are joined in the order given, non-finite ones
/// left out.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Chart {
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, (label, pts))| {
            let finite = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            Line::new(label, color(i), finite.collect())
        })
        .collect();
    let panel = Panel {
        markers: true,
        ..Panel::new(x_label, y_label, lines)
    };
    Chart::render(
        title,
        &Panels {
            title: title.to_string(),
            panels: vec![panel],
        },
    )
}

/// Seconds from the start of the run to the end of the last bucket.
fn time_axis(buckets: &[Bucket], width: Duration) -> Range<f64> {
    let end = buckets
        .last()
        .map_or(1.0, |b| (b.start + width).as_secs_f64());
    0.0..end.max(1e-9)
}

/// Where in its bucket a value belongs: a count over the bucket at its
/// middle, a gauge sampled when the bucket closes at its end.
fn at(b: &Bucket, width: Duration, gauge: bool) -> f64 {
    let w = width.as_secs_f64();
    b.start.as_secs_f64() + if gauge { w } else { w / 2.0 }
}

/// (time in s, value) for every bucket.
fn over_time(
    buckets: &[Bucket],
    width: Duration,
    gauge: bool,
    f: impl Fn(&Bucket) -> f64,
) -> Vec<(f64, f64)> {
    buckets
        .iter()
        .map(|b| (at(b, width, gauge), f(b)))
        .collect()
}

/// Completions (and arrivals) per second, and the p99 latency of each time
/// bucket (`width` wide), in two panels.
pub fn throughput_p99(title: &str, buckets: &[Bucket], width: Duration) -> Chart {
    throughput_p99_within(title, buckets, width, None)
}

/// [`throughput_p99`] with the y axes set to `0..max` (tasks per second,
/// p99 ms) when given, so that charts side by side share their scales.
pub fn throughput_p99_within(
    title: &str,
    buckets: &[Bucket],
    width: Duration,
    max: Option<(f64, f64)>,
) -> Chart {
    let secs = width.as_secs_f64().max(1e-12);
    // Buckets without a measured completion have no p99: leave a gap.
    let mut p99 = vec![Vec::new()];
    for b in buckets {
        let last = p99.last_mut().expect("never empty");
        if b.latency_p99_ms > 0.0 {
            last.push((at(b, width, false), b.latency_p99_ms));
        } else if !last.is_empty() {
            p99.push(Vec::new());
        }
    }
    p99.retain(|s| !s.is_empty());
    let x = time_axis(buckets, width);
    let rates = Panel::new(
        "time (s)",
        "tasks per second",
        vec![
            Line::new(
                "completions/s",
                color(0),
                over_time(buckets, width, false, |b| b.completions as f64 / secs),
            ),
            Line::new(
                "arrivals/s",
                color(9),
                over_time(buckets, width, false, |b| b.arrivals as f64 / secs),
            ),
        ],
    );
    let latency = Panel::new(
        "time (s)",
        "p99 latency (ms)",
        vec![Line {
            label: "p99 latency".into(),
            color: color(2),
            segments: p99,
        }],
    );
    let panels = vec![
        Panel {
            x: x.clone(),
            ..rates
        },
        Panel { x, ..latency },
    ];
    let panels = match max {
        None => panels,
        Some((rate, p99)) => {
            let mut it = panels.into_iter();
            let (a, b) = (
                it.next().expect("two panels"),
                it.next().expect("two panels"),
            );
            vec![
                Panel {
                    y: from_zero(rate),
                    ..a
                },
                Panel {
                    y: from_zero(p99),
                    ..b
                },
            ]
        }
    };
    Chart::render(
        title,
        &Panels {
            title: title.to_string(),
            panels,
        },
    )
}

/// Per capability called: attempts sent and calls failed per second, per
/// time bucket (`width` wide), in two panels, one line per capability.
pub fn calls(title: &str, calls: &[CallStats], width: Duration, end: Duration) -> Chart {
    let secs = width.as_secs_f64().max(1e-12);
    let w = width.as_secs_f64();
    let series = |f: fn(&(u64, u64)) -> u64| -> Vec<Line> {
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pts = c
                    .series
                    .iter()
                    .enumerate()
                    .map(|(k, v)| ((k as f64 + 0.5) * w, f(v) as f64 / secs))
                    .collect();
                Line::new(&c.capability, color(i), pts)
            })
            .collect()
    };
    let x = 0.0..end.as_secs_f64().max(1e-9);
    let attempts = Panel {
        x: x.clone(),
        ..Panel::new("time (s)", "attempts per second", series(|v| v.0))
    };
    let failures = Panel {
        x,
        ..Panel::new("time (s)", "failed calls per second", series(|v| v.1))
    };
    Chart::render(
        title,
        &Panels {
            title: title.to_string(),
            panels: vec![attempts, failures],
        },
    )
}

/// Healthy agents (of `agents`) and those of them held DEGRADED, and open
/// breakers and agents actually down, per time bucket (`width` wide), in
/// two panels.
pub fn health(title: &str, buckets: &[Bucket], width: Duration, agents: u32) -> Chart {
    let x = time_axis(buckets, width);
    let healthy = Panel {
        x: x.clone(),
        whole: true,
        y: 0.0..f64::from(agents.max(1)) * 1.08,
        ..Panel::new(
            "time (s)",
            "agents",
            vec![
                Line::new(
                    &format!("healthy (of {agents})"),
                    color(4),
                    over_time(buckets, width, true, |b| b.healthy_agents as f64),
                ),
                Line::new(
                    "of which degraded",
                    color(3),
                    over_time(buckets, width, true, |b| b.degraded_agents as f64),
                ),
            ],
        )
    };
    let most = buckets
        .iter()
        .map(|b| b.open_breakers.max(b.agents_down))
        .max()
        .unwrap_or(0);
    let trouble = Panel {
        x,
        whole: true,
        y: 0.0..(most as f64 + 1.0) * 1.1,
        ..Panel::new(
            "time (s)",
            "agents",
            vec![
                Line::new(
                    "open breakers",
                    color(2),
                    over_time(buckets, width, true, |b| b.open_breakers as f64),
                ),
                Line::new(
                    "down",
                    color(1),
                    over_time(buckets, width, true, |b| b.agents_down as f64),
                ),
            ],
        )
    };
    Chart::render(
        title,
        &Panels {
            title: title.to_string(),
            panels: vec![healthy, trouble],
        },
    )
}
