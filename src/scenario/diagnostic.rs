//! The lines under a scenario problem's first line, as rustc prints them:
//! the source line (or the `--set` argument) with a caret under the span,
//! where an unclosed bracket or string began, and a "did you mean" help for
//! a near miss of a listed name.
//!
//! Why: the first line, `file:line:col: key.path: message`, is for grep,
//! editors and scripts, and stays as it was; the excerpt is for the person
//! fixing the file. Rendering is annotate-snippets' (rustc's own renderer),
//! always without colour so output is the same on a terminal, in a pipe and
//! in tests. The `--set` argument has no line number, so it is drawn here
//! in the same layout with an empty gutter.
//!
//! Suggestions are computed centrally from the message text: every
//! "unknown …" message names what was given in backticks and lists the
//! choices after "one of" (serde's unknown-field messages after
//! "expected"), so one function serves keys, strategies, processes,
//! distribution families, fault kinds, units and tier names. The distance
//! is Damerau–Levenshtein (strsim), case-insensitive, at most 1 edit for
//! names of up to 4 characters and 2 for longer ones, as cargo's and
//! clap's "did you mean" use an edit distance; units also know their
//! long spellings (`sec`, `min`, `hours`).

use std::fmt::Write as _;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// A secondary mark: where an unclosed construct began.
#[derive(Clone, Debug)]
pub struct Context {
    pub span: Range<usize>,
    pub label: String,
}

/// The excerpt of `text` (the file `file`) under a problem at `span`, with
/// `context` on the same or an earlier line and an optional help line.
/// Spans are byte offsets into `text` on char boundaries; a span over
/// several lines is cut at the end of its first line.
pub fn file_excerpt(
    file: &str,
    text: &str,
    span: Range<usize>,
    context: Option<&Context>,
    help: Option<&str>,
) -> String {
    let at = span.start.min(text.len());
    let first = context.map_or(at, |c| c.span.start.min(at));
    let shown_start = text[..first].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
    let shown_end = line_end(at);
    // Keep a CR of CRLF files out of the excerpt.
    let shown = text[shown_start..shown_end].trim_end_matches('\r');
    let line_start = text[..shown_start].matches('\n').count() + 1;
    let clip = |s: &Range<usize>| {
        let start = s.start.min(text.len());
        let end = s.end.min(line_end(start)).max(start);
        let (start, end) = (start - shown_start, end - shown_start);
        start.min(shown.len())..end.min(shown.len())
    };
    let mut snippet = Snippet::source(shown)
        .path(file)
        .line_start(line_start)
        .fold(true)
        .annotation(AnnotationKind::Primary.span(clip(&(at..span.end))));
    if let Some(c) = context {
        snippet = snippet.annotation(
            AnnotationKind::Context
                .span(clip(&c.span))
                .label(c.label.as_str()),
        );
    }
    let mut group = Group::with_level(Level::ERROR).element(snippet);
    if let Some(h) = help {
        group = group.element(Level::HELP.message(h));
    }
    Renderer::plain().render(&[group]).to_string()
}

/// The excerpt under a problem in a `--set` argument: the argument with a
/// caret under `span` (byte offsets into `arg`), in rustc's layout without
/// a line number.
pub fn argument_excerpt(arg: &str, span: Range<usize>, help: Option<&str>) -> String {
    let pad = arg[..span.start.min(arg.len())].chars().count();
    let width = arg
        .get(span.clone())
        .map_or(1, |s| s.chars().count())
        .max(1);
    let mut out = String::new();
    let _ = writeln!(out, "  |");
    let _ = writeln!(out, "  | {arg}");
    let _ = write!(out, "  | {}{}", " ".repeat(pad), "^".repeat(width));
    if let Some(h) = help {
        let _ = write!(out, "\n  |\n  = help: {h}");
    }
    out
}

/// "did you mean `x`?" when `message` says a name is unknown, lists the
/// choices, and one of them is a near miss.
pub fn did_you_mean(message: &str) -> Option<String> {
    let (got, choices) = near_miss_parts(message)?;
    let alias = message
        .contains("unknown unit")
        .then(|| unit_alias(got))
        .flatten();
    alias
        .or_else(|| closest(got, choices))
        .map(|best| format!("did you mean `{best}`?"))
}

/// The unit meant by a spelling that is too far from every unit's name
/// for an edit distance (`sec` is 2 edits from `s`).
fn unit_alias(got: &str) -> Option<&'static str> {
    Some(match got.to_lowercase().as_str() {
        "nsec" | "nsecs" | "nanos" | "nanosecond" | "nanoseconds" => "ns",
        "µs" | "μs" | "usec" | "usecs" | "micros" | "microsecond" | "microseconds" => "us",
        "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
        "sec" | "secs" | "second" | "seconds" => "s",
        "min" | "mins" | "minute" | "minutes" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        _ => return None,
    })
}

/// The given name and the listed choices of an "unknown …" message:
/// "unknown strategy `p2cc`; one of round_robin, p2c, …", serde's
/// "unknown field `x`, expected one of `a`, `b`" or "expected `a` or `b`",
/// "no tier named `x`; tiers: a, b".
fn near_miss_parts(message: &str) -> Option<(&str, Vec<&str>)> {
    let i = ["unknown ", "no tier named "]
        .iter()
        .filter_map(|m| message.find(m))
        .min()?;
    let rest = &message[i..];
    let open = rest.find('`')? + 1;
    let close = open + rest[open..].find('`')?;
    let got = &rest[open..close];
    let after = &rest[close + 1..];
    let list_at = ["one of ", "expected ", "tiers: "]
        .iter()
        .find_map(|m| after.find(m).map(|k| k + m.len()))?;
    let list = &after[list_at..];
    // The list ends where an example or a note begins.
    let list = [";", " e.g.", " (", "\n"]
        .iter()
        .filter_map(|m| list.find(m))
        .min()
        .map_or(list, |end| &list[..end]);
    let choices = list
        .split([',', ' '])
        .map(|w| w.trim_matches('`'))
        .filter(|w| {
            !w.is_empty()
                && *w != "or"
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        })
        .collect();
    Some((got, choices))
}

/// The choice nearest to `got`, if near enough (see the module docs).
pub fn closest<'c>(got: &str, choices: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let got_lower = got.to_lowercase();
    let limit = if got.chars().count() <= 4 { 1 } else { 2 };
    choices
        .into_iter()
        .filter(|c| *c != got)
        .map(|c| {
            (
                strsim::damerau_levenshtein(&got_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= limit && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_and_far_ones_are_not() {
        assert_eq!(
            did_you_mean("unknown strategy `p2cc`; one of round_robin, p2c, peak_ewma").as_deref(),
            Some("did you mean `p2c`?")
        );
        assert_eq!(
            did_you_mean(
                "unknown field `service_tme`, expected one of `name`, `count`, `service_time`"
            )
            .as_deref(),
            Some("did you mean `service_time`?")
        );
        assert_eq!(
            did_you_mean("unknown field `worker`, expected `workers` or `aging`").as_deref(),
            Some("did you mean `workers`?")
        );
        assert_eq!(
            did_you_mean("`5mss` has unknown unit `mss`; use one of ns, us, ms, s, m, h")
                .as_deref(),
            Some("did you mean `ms`?")
        );
        assert_eq!(
            did_you_mean("`2min` has unknown unit `min`; use one of ns, us, ms, s, m, h")
                .as_deref(),
            Some("did you mean `m`?")
        );
        assert_eq!(
            did_you_mean("no tier named `edgee`; tiers: edge, core").as_deref(),
            Some("did you mean `edge`?")
        );
        // Transposed letters are one edit; case does not count.
        assert_eq!(
            did_you_mean("unknown distribution `Exponetnial`; one of constant, exponential")
                .as_deref(),
            Some("did you mean `exponential`?")
        );
        assert_eq!(
            did_you_mean("unknown field `colour`, expected one of `arrivals`, `work`"),
            None
        );
        // Not an "unknown" message, or nothing listed.
        assert_eq!(did_you_mean("missing; one of crash, recover"), None);
        assert_eq!(did_you_mean("unknown field `x`, there are no fields"), None);
        // A one-letter name is not suggested for a two-letter one.
        assert_eq!(closest("xx", ["s", "h"]), None);
    }

    #[test]
    fn the_excerpt_puts_a_caret_under_the_span() {
        let text = "a = 1\nbad = \"x\"\n";
        let out = file_excerpt("t.toml", text, 12..15, None, Some("did you mean `b`?"));
        assert_eq!(
            out,
            " --> t.toml:2:7\n  |\n2 | bad = \"x\"\n  |       ^^^\n  |\n  = help: did you mean `b`?"
        );
        let out = argument_excerpt("--set a.b=9", 10..11, None);
        assert_eq!(out, "  |\n  | --set a.b=9\n  |           ^");
    }
}
