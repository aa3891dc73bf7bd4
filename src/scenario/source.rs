//! A scenario's text with its spans: where every key stands (line:column),
//! `--set key.path=value` overrides applied to the parsed document, and key
//! paths (`fleet.tiers[0].count`) turned back into locations for errors.
//!
//! Why keep spans separately from the typed mirror: validation errors name a
//! key path, and this is the one place that knows where that path is written
//! (in the file, or on the command line by `--set`).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::diagnostic::{self, Context};
use super::{Problem, ScenarioError};

/// Spans at or above this offset stand for `--set` arguments, not the file.
const OVERRIDE_BASE: usize = usize::MAX / 2;

/// One segment of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `fleet.tiers[0].service_time.min`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, k: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }

    /// This path with an array index appended.
    pub fn index(&self, i: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }

    /// Parse `a.b[0].c` or `a.b.0.c`.
    pub fn parse(s: &str) -> Option<KeyPath> {
        let mut segs = Vec::new();
        for part in s.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() && rest.is_empty() {
                return None;
            }
            if !name.is_empty() {
                match name.parse::<usize>() {
                    Ok(i) if segs.is_empty() => return Some(KeyPath(vec![Seg::Index(i)])),
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => segs.push(Seg::Key(name.to_string())),
                }
            }
            while let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                segs.push(Seg::Index(r[..end].parse().ok()?));
                rest = &r[end + 1..];
            }
            if !rest.is_empty() {
                return None;
            }
        }
        (!segs.is_empty()).then_some(KeyPath(segs))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One `--set key.path=value` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (path, value) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. balancer.strategy=p2c)"))?;
        let path = path.trim();
        if KeyPath::parse(path).is_none() {
            return Err(format!(
                "`{path}` is not a key path (e.g. fleet.tiers[0].count)"
            ));
        }
        Ok(Override {
            path: path.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--set {}={}", self.path, self.value)
    }
}

/// The parsed document with its spans, overrides applied.
pub struct Source<'a> {
    pub file: String,
    text: &'a str,
    overrides: &'a [Override],
    pub table: Spanned<DeTable<'a>>,
}

impl<'a> Source<'a> {
    /// Parse `text` (named `file` in messages) and apply `overrides` in order.
    pub fn parse(
        file: &str,
        text: &'a str,
        overrides: &'a [Override],
    ) -> Result<Source<'a>, ScenarioError> {
        let mut src = Source {
            file: file.to_string(),
            text,
            overrides,
            table: Spanned::new(0..0, DeTable::new()),
        };
        src.table = DeTable::parse(text).map_err(|e| {
            let found = e.span().unwrap_or(0..0);
            let context = unclosed_context(text, &found);
            let mut span = found;
            // At the very end, after the last newline: point at the end of
            // the last line instead of a line that is not there.
            if span.start == text.len() && text.ends_with('\n') {
                let end = text.trim_end_matches(['\n', '\r']).len();
                span = end..end;
            }
            let mut problem = src.problem_at(span.clone(), "", e.message().trim());
            if context.is_some() {
                let help = diagnostic::did_you_mean(&problem.message);
                problem.snippet = diagnostic::file_excerpt(
                    &src.file,
                    text,
                    span,
                    context.as_ref(),
                    help.as_deref(),
                );
            }
            ScenarioError::from(problem)
        })?;
        for (i, ov) in overrides.iter().enumerate() {
            src.apply_override(i, ov)?;
        }
        Ok(src)
    }

    fn apply_override(&mut self, i: usize, ov: &'a Override) -> Result<(), ScenarioError> {
        let span = (OVERRIDE_BASE + i)..(OVERRIDE_BASE + i + 1);
        let path = KeyPath::parse(&ov.path).expect("checked when the override was parsed");
        // A TOML value if it is one (numbers, booleans, quoted strings,
        // arrays, inline tables), otherwise the text itself as a string, so
        // `--set balancer.strategy=p2c` needs no quotes.
        let value = match DeValue::parse(&ov.value) {
            Ok(v) => respan(v.into_inner(), &span),
            Err(_) => DeValue::String(Cow::Borrowed(ov.value.as_str())),
        };
        // Descend from the root as a table value, then put the root back.
        let root = std::mem::take(self.table.get_mut());
        let mut root = DeValue::Table(root);
        let result = set_path(&mut root, &path, value, &span);
        let DeValue::Table(root) = root else {
            unreachable!("the root stays a table")
        };
        *self.table.get_mut() = root;
        result.map_err(|message| {
            // The path is what is wrong: put the caret under it.
            let arg = format!("{ov}");
            let at = "--set ".len();
            Problem {
                file: self.file.clone(),
                location: arg.clone(),
                path: path.to_string(),
                snippet: diagnostic::argument_excerpt(&arg, at..at + ov.path.len(), None),
                message,
            }
            .into()
        })
    }

    /// The span of the value at `path`, or of its nearest existing parent.
    pub fn span_of(&self, path: &KeyPath) -> Range<usize> {
        let mut span = self.table.span();
        let mut node = self.table.get_ref();
        let mut value: Option<&DeValue<'a>> = None;
        for seg in &path.0 {
            let next = match (seg, value) {
                (Seg::Key(k), None) => node.get(k.as_str()),
                (Seg::Key(k), Some(DeValue::Table(t))) => t.get(k.as_str()),
                (Seg::Index(n), Some(DeValue::Array(a))) => a.get(*n),
                _ => None,
            };
            let Some(next) = next else { break };
            span = next.span();
            value = Some(next.get_ref());
            if let DeValue::Table(t) = next.get_ref() {
                node = t;
            }
        }
        span
    }

    /// A problem at the location of `path`.
    pub fn problem(&self, path: &KeyPath, message: impl Into<String>) -> Problem {
        self.problem_at(self.span_of(path), &path.to_string(), message)
    }

    /// A problem at a byte span (or an override's sentinel span).
    pub fn problem_at(
        &self,
        span: Range<usize>,
        path: &str,
        message: impl Into<String>,
    ) -> Problem {
        let message = message.into();
        let help = diagnostic::did_you_mean(&message);
        let (location, snippet) = if span.start >= OVERRIDE_BASE {
            let i = span.start - OVERRIDE_BASE;
            match self.overrides.get(i) {
                Some(ov) => {
                    // The caret goes under the value.
                    let arg = format!("{ov}");
                    let at = arg.len() - ov.value.len();
                    let snippet =
                        diagnostic::argument_excerpt(&arg, at..arg.len(), help.as_deref());
                    (arg, snippet)
                }
                None => ("--set".to_string(), String::new()),
            }
        } else {
            let (line, col) = line_col(self.text, span.start);
            // A key missing from the document has no better place than the
            // whole document: no excerpt then.
            let whole = span == self.table.span() && !self.text.is_empty();
            let snippet = if whole {
                help.map(|h| format!("  = help: {h}")).unwrap_or_default()
            } else {
                diagnostic::file_excerpt(&self.file, self.text, span, None, help.as_deref())
            };
            (format!("{line}:{col}"), snippet)
        };
        Problem {
            file: self.file.clone(),
            location,
            path: path.to_string(),
            message,
            snippet,
        }
    }

    /// The scenario text (without the `--set` arguments).
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Where the bracket or string that a syntax error at `span` is inside
/// began, when that is on an earlier line: an unclosed `{`, `[` or `"`
/// shows up only where the parser next stumbles. The toml crate's error
/// keeps only the stumble; its parser, toml_parser, also knows the opening
/// token, so the text is parsed again with it to find the same error.
fn unclosed_context(text: &str, span: &Range<usize>) -> Option<Context> {
    let source = toml_parser::Source::new(text);
    let tokens = source.lex().into_vec();
    let mut errors: Vec<toml_parser::ParseError> = Vec::new();
    toml_parser::parser::parse_document(&tokens, &mut (), &mut errors);
    let from_parser = errors
        .iter()
        .find(|e| {
            e.unexpected()
                .is_some_and(|u| u.start() == span.start && u.end() == span.end)
        })
        .and_then(|e| e.context());
    // A string is one token: one left open runs on to the end of the file,
    // and the error (from decoding it) is at its end.
    let ctx = from_parser.or_else(|| {
        tokens
            .iter()
            .map(|t| t.span())
            .find(|t| {
                t.start() < span.start
                    && t.end() >= span.start
                    && text[t.start()..].starts_with(['"', '\''])
            })
            .map(|t| toml_parser::Span::new_unchecked(t.start(), t.start() + 1))
    })?;
    let (open, _) = line_col(text, ctx.start());
    let (here, _) = line_col(text, span.start);
    if open >= here {
        return None;
    }
    let label = match text.get(ctx.start()..)?.chars().next()? {
        '{' => "this inline table starts here; is its `}` missing?",
        '[' => "this array starts here; is its `]` missing?",
        '"' | '\'' => "this string starts here; is its closing quote missing?",
        _ => "while reading this",
    };
    Some(Context {
        span: ctx.start()..ctx.end(),
        label: label.to_string(),
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Give every node of an override's value the override's sentinel span.
fn respan<'a>(v: DeValue<'a>, span: &Range<usize>) -> DeValue<'a> {
    match v {
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, val) in t {
                out.insert(
                    Spanned::new(span.clone(), k.into_inner()),
                    Spanned::new(span.clone(), respan(val.into_inner(), span)),
                );
            }
            DeValue::Table(out)
        }
        DeValue::Array(a) => {
            let mut out = DeArray::new();
            for item in a.iter() {
                out.push(Spanned::new(
                    span.clone(),
                    respan(item.get_ref().clone(), span),
                ));
            }
            DeValue::Array(out)
        }
        other => other,
    }
}

/// Put `value` at `path` under `root`, creating missing tables on the way.
fn set_path<'a>(
    root: &mut DeValue<'a>,
    path: &KeyPath,
    value: DeValue<'a>,
    span: &Range<usize>,
) -> Result<(), String> {
    let mut node = root;
    let last = path.0.len() - 1;
    for (depth, seg) in path.0.iter().enumerate() {
        let here = KeyPath(path.0[..depth].to_vec());
        let what = |v: &DeValue<'_>| {
            if depth == 0 {
                "the document"
            } else {
                v.type_str()
            }
        };
        node = match (seg, node) {
            (Seg::Key(k), DeValue::Table(t)) => {
                if depth == last {
                    t.insert(
                        Spanned::new(span.clone(), Cow::Owned(k.clone())),
                        Spanned::new(span.clone(), value),
                    );
                    return Ok(());
                }
                if !t.contains_key(k.as_str()) {
                    t.insert(
                        Spanned::new(span.clone(), Cow::Owned(k.clone())),
                        Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
                    );
                }
                t.get_mut(k.as_str()).expect("just ensured").get_mut()
            }
            (Seg::Index(n), DeValue::Array(a)) => {
                let len = a.len();
                let Some(item) = a.get_mut(*n) else {
                    return Err(format!(
                        "`{here}` has {len} entr{}; index {n} is out of range",
                        if len == 1 { "y" } else { "ies" }
                    ));
                };
                if depth == last {
                    *item = Spanned::new(span.clone(), value);
                    return Ok(());
                }
                item.get_mut()
            }
            (Seg::Key(_), other) => {
                return Err(format!("`{here}` is {}, not a table", what(other)));
            }
            (Seg::Index(_), other) => {
                return Err(format!("`{here}` is {}, not an array", what(other)));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_parse_and_print() {
        let p = KeyPath::parse("fleet.tiers[0].count").unwrap();
        assert_eq!(
            p.0,
            vec![
                Seg::Key("fleet".into()),
                Seg::Key("tiers".into()),
                Seg::Index(0),
                Seg::Key("count".into())
            ]
        );
        assert_eq!(p.to_string(), "fleet.tiers[0].count");
        assert_eq!(
            KeyPath::parse("fleet.tiers.2.count").unwrap().to_string(),
            "fleet.tiers[2].count"
        );
        assert!(KeyPath::parse("a..b").is_none());
        assert!(KeyPath::parse("a[x]").is_none());
        assert!(KeyPath::parse("").is_none());
    }

    #[test]
    fn line_and_column_are_one_based() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
    }
}
