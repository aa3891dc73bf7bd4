//! The house style of the charts (colours, text, axes, legends) and the
//! layout every chart shares: a title on top, the plot, and a legend column
//! at the right so that a legend never hides data.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawResult, FAMILY};
use crate::report::fixed;

/// Tableau 10: distinguishable, and readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Text of `size` pixels. Sizes are even: plotters' ab_glyph backend puts
/// each glyph's top at `(size / 2 + top) as i32`, and with an odd size that
/// half pixel truncates towards zero, down for tall glyphs (top above the
/// middle) and up for short ones, so in PNGs a "." or "," sat a pixel or two
/// above the baseline of the digits beside it. With an even size every glyph
/// of a line shares one baseline (`tests::png_text_shares_one_baseline`).
pub(super) fn text(size: u32) -> TextStyle<'static> {
    debug_assert!(
        size.is_multiple_of(2),
        "odd text size {size}: glyphs lose their baseline in PNGs"
    );
    (FAMILY, size).into_font().color(&BLACK)
}

pub(super) fn title_style() -> TextStyle<'static> {
    text(20)
}

pub(super) fn label_style() -> TextStyle<'static> {
    text(12)
}

pub(super) fn desc_style() -> TextStyle<'static> {
    text(14)
}

/// A tick label: up to 3 decimals, trailing zeros dropped (`10`, `2.5`).
pub(super) fn tick(v: &f64) -> String {
    let s = fixed(*v, 3);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The house style of axes and grid lines.
pub(super) fn styled<'a, 'b, 'm, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.label_style(label_style())
        .axis_desc_style(desc_style())
        .bold_line_style(BLACK.mix(0.12))
}

/// `lo..hi` with room around the data; never empty.
pub(super) fn padded(lo: f64, hi: f64) -> Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return 0.0..1.0;
    }
    if lo == hi {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return lo - d..hi + d;
    }
    let d = (hi - lo) * 0.05;
    lo - d..hi + d
}

/// `0..max` with headroom; `0..1` when there is nothing above 0.
pub(super) fn from_zero(max: f64) -> Range<f64> {
    if max.is_finite() && max > 0.0 {
        0.0..max * 1.1
    } else {
        0.0..1.0
    }
}

/// The value range of a bounded metric (a percentage within `bounds`),
/// for `lo..hi` (the data with their intervals): from the lower bound when
/// the data fill at least half of that range, else zoomed to the data, so
/// that 97.5, 99.1 and 99.9 % are told apart, with a note for the axis
/// title saying where the zoomed axis starts. Never wider than the bounds,
/// but for a sliver of room above the upper one for markers.
pub(super) fn zoomed(lo: f64, hi: f64, bounds: (f64, f64)) -> (Range<f64>, Option<String>) {
    let (b0, b1) = bounds;
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (b0..b1, None);
    }
    let full = b1 - b0;
    let pad = ((hi - lo) * 0.15).max(full * 0.002);
    let r0 = (lo - pad).max(b0);
    let top = (hi + pad).min(b1);
    if r0 - b0 <= top - r0 {
        let top = top.max(b0 + full * 0.01);
        return (b0..top + (top - b0) * 0.03, None);
    }
    let r1 = top + (top - r0) * 0.03;
    (
        r0..r1,
        Some(format!("axis from {}, not {}", tick(&r0), tick(&b0))),
    )
}

/// A linear axis with ticks (and grid lines) exactly at `ticks`; their
/// labels come from the mesh's formatter.
pub(super) struct Ticked {
    axis: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(super) fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked {
            axis: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.axis.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.axis.range()
    }
}

/// Ticks at round values (steps of 1, 2 or 5 × 10^k) in `r`, at most about
/// `n`; whole numbers only when `whole` (counts of agents).
pub(super) fn nice_ticks(r: &Range<f64>, n: usize, whole: bool) -> Vec<f64> {
    let span = r.end - r.start;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let raw = span / n.max(1) as f64;
    let mag = libm::pow(10.0, libm::floor(libm::log10(raw)));
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    if whole {
        step = libm::ceil(step).max(1.0);
    }
    let first = libm::ceil(r.start / step - 1e-9) as i64;
    (first..)
        .map(|i| i as f64 * step)
        .take_while(|&t| t <= r.end + step * 1e-9)
        .collect()
}

/// A linear axis over `r` with round ticks.
pub(super) fn axis(r: Range<f64>, whole: bool) -> Ticked {
    let ticks = nice_ticks(&r, 10, whole);
    Ticked::new(r, ticks)
}

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Line,
    Box,
    /// Text only (a note such as "20 runs").
    None,
}

/// A legend, drawn in a column at the right of the chart so that it never
/// hides data.
pub(super) struct Legend(pub(super) Vec<(String, RGBColor, Swatch)>);

/// A legend is worth its room for up to this many series; past it, a note.
pub(super) const MAX_LEGEND: usize = 12;
/// Legend rows, and the legend's top (level with the top of the plot).
const LEGEND_ROW: i32 = 20;
const LEGEND_TOP: i32 = 20;
const LEGEND_MAX_WIDTH: u32 = 240;

impl Legend {
    /// One line per series, or a note of their number when there are too
    /// many to tell apart.
    pub(super) fn of_lines<'a>(
        labels: impl ExactSizeIterator<Item = (&'a str, RGBColor)>,
        what: &str,
    ) -> Legend {
        let n = labels.len();
        if n > MAX_LEGEND {
            return Legend(vec![(format!("{n} {what}"), BLACK, Swatch::None)]);
        }
        Legend(
            labels
                .map(|(l, c)| (l.to_string(), c, Swatch::Line))
                .collect(),
        )
    }

    /// Pixels it needs (0: no legend).
    pub(super) fn width<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
        let mut w = 0;
        for (label, _, _) in &self.0 {
            w = w.max(area.estimate_text_size(label, &label_style())?.0 + 50);
        }
        Ok(w.min(LEGEND_MAX_WIDTH))
    }

    /// Draw the legend in `area`, wrapping an entry too long for the
    /// column onto more rows (after a `,` or a space where it can) rather
    /// than clipping it.
    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let style = label_style().pos(Pos::new(HPos::Left, VPos::Center));
        let room = area.dim_in_pixel().0.saturating_sub(40).max(40);
        let mut y = LEGEND_TOP;
        for (label, c, swatch) in &self.0 {
            match swatch {
                Swatch::Line => {
                    area.draw(&PathElement::new(vec![(4, y), (28, y)], c.stroke_width(2)))?
                }
                Swatch::Box => area.draw(&Rectangle::new([(9, y - 6), (23, y + 6)], c.filled()))?,
                Swatch::None => {}
            }
            for line in wrap(area, label, room)? {
                area.draw_text(&line, &style, (36, y))?;
                y += LEGEND_ROW;
            }
        }
        Ok(())
    }
}

/// `label` in lines at most `room` pixels wide: broken after a `,` or a
/// space where possible, inside a word only when the word alone is wider.
pub(super) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    room: u32,
) -> AreaResult<Vec<String>, DB> {
    let fits = |s: &str| -> AreaResult<bool, DB> {
        Ok(area.estimate_text_size(s, &label_style())?.0 <= room)
    };
    // Pieces that end at a break opportunity.
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in label.chars() {
        cur.push(ch);
        if ch == ',' || ch == ' ' {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let joined = format!("{line}{piece}");
        if line.is_empty() || fits(joined.trim_end())? {
            line = joined;
        } else {
            lines.push(std::mem::take(&mut line));
            line = piece;
        }
        // A piece wider than the column on its own: break it by characters.
        while !fits(line.trim_end())? && line.chars().count() > 1 {
            let mut head = String::new();
            for ch in line.chars() {
                head.push(ch);
                if !fits(&head)? {
                    head.pop();
                    break;
                }
            }
            if head.is_empty() {
                head = line.chars().next().map(String::from).unwrap_or_default();
            }
            line = line[head.len()..].to_string();
            lines.push(head);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    Ok(lines
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect())
}

pub(super) type Area<DB> = DrawingArea<DB, Shift>;
pub(super) type AreaResult<T, DB> =
    Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draw the title, and set a column at the right apart for `legend_width`:
/// returns the plotting area and the legend column.
pub(super) fn frame<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    legends: &[&Legend],
) -> AreaResult<(Area<DB>, Area<DB>), DB> {
    let body = root.margin(8, 0, 0, 0).titled(title, title_style())?;
    let mut w = 0;
    for legend in legends {
        w = w.max(legend.width(&body)?);
    }
    let (body_w, _) = body.dim_in_pixel();
    Ok(body.split_horizontally(body_w.saturating_sub(w)))
}

/// "no data" in the middle of an area.
pub(super) fn no_data<DB: DrawingBackend>(area: &Area<DB>, what: &str) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    let style = desc_style().pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(what, &style, (w as i32 / 2, h as i32 / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowest inked row of `s` drawn at `size` px in a PNG buffer.
    fn bottom_row(s: &str, size: u32) -> usize {
        super::super::register_font();
        let (w, h) = (60u32, 60u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            let style = TextStyle::from((FAMILY, size).into_font()).color(&BLACK);
            root.draw_text(s, &style, (5, 10)).unwrap();
            root.present().unwrap();
        }
        (0..h as usize)
            .rev()
            .find(|&y| (0..w as usize).any(|x| rgb[(y * w as usize + x) * 3] < 128))
            .unwrap_or_else(|| panic!("{s:?} at {size} px left no ink"))
    }

    #[test]
    fn png_text_shares_one_baseline() {
        for style in [label_style(), desc_style(), title_style()] {
            let size = style.font.get_size() as u32;
            assert_eq!(
                bottom_row(".", size),
                bottom_row("9", size),
                "at {size} px the dot sits on the digits' baseline"
            );
        }
        // The cause, shown: at an odd size the dot is drawn a row too high.
        assert_eq!(bottom_row(".", 13) + 1, bottom_row("9", 13));
    }

    #[test]
    fn bounded_axes_zoom_to_close_values_and_say_so() {
        // 97.5, 99.1 and 99.9 %: zoomed, the note names where the axis starts.
        let (r, note) = zoomed(97.5, 99.9, (0.0, 100.0));
        assert!(r.start > 97.0 && r.start < 97.5 && r.end <= 100.1, "{r:?}");
        assert!(note.unwrap().starts_with("axis from 97."));
        // Values spread over most of the range: from 0, no note.
        let (r, note) = zoomed(30.0, 95.0, (0.0, 100.0));
        assert_eq!(r.start, 0.0);
        assert!(note.is_none());
        // All at 100 %: a small window under the bound, never far above it.
        let (r, _) = zoomed(100.0, 100.0, (0.0, 100.0));
        assert!(r.start >= 99.0 && r.end > 100.0 && r.end < 100.05, "{r:?}");
    }

    #[test]
    fn ticks_are_round_and_whole_when_counting() {
        assert_eq!(
            nice_ticks(&(0.0..10.0), 10, false),
            (0..=10).map(f64::from).collect::<Vec<_>>()
        );
        assert_eq!(nice_ticks(&(0.0..3.3), 10, true), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(nice_ticks(&(0.0..3.3), 10, false).len(), 7, "steps of 0.5");
        assert_eq!(
            nice_ticks(&(-0.5..1049.0), 10, false)[..3],
            [0.0, 200.0, 400.0]
        );
        assert!(nice_ticks(&(1.0..1.0), 10, false).is_empty());
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&-0.0), "0");
    }
}
