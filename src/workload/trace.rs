//! Trace replay: arrivals read from a recorded request log, a CSV file with a
//! header row and one row per request.
//!
//! Why: a recorded log carries the burstiness, daily shape and request mix
//! of real traffic, which no textbook arrival process reproduces. The file is
//! streamed, never loaded: [`scan`] reads it once when the scenario loads, so
//! a bad trace fails before the run starts, and [`TraceReader`] reads it
//! again row by row during the run. Both go through the same parser, reuse
//! one `csv::ByteRecord` and do not allocate per row.
//!
//! Times are integer nanoseconds, parsed digit by digit (`"0.000000001"` is
//! exactly 1 ns); timestamps follow RFC 3339 (with a space allowed in place
//! of the `T`, as SQL and most loggers write it) and are turned into days
//! with Howard Hinnant's `days_from_civil` ("chrono-Compatible Low-Level
//! Date Algorithms").

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use crate::orchestration::task_queue::Priority;
use crate::time::{Duration, Instant, NS_PER_S, parse_duration};

/// Nanoseconds per second, signed.
const NS: i64 = NS_PER_S as i64;
/// Seconds per day.
const DAY: i64 = 86_400;

/// How a bound (`start`/`end`) of the replay window was written.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    /// A duration with a unit (`"90s"`, `"2m"`): an offset from the file's
    /// first row.
    Offset(Duration),
    /// A time written like the time column (seconds, a timestamp): absolute.
    At(TraceTime),
}

/// Parse a `start`/`end` value: a duration with a unit is an
/// [`Bound::Offset`], anything else must be a time ([`parse_time`]).
pub fn parse_bound(s: &str) -> Result<Bound, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(Bound::Offset(d));
    }
    match time(s.trim()) {
        Ok(t) => Ok(Bound::At(t)),
        Err(Bad::Range(msg)) => Err(msg),
        Err(Bad::Shape) => Err(format!(
            "`{}` is neither a duration from the first row (\"90s\", \"2m\") nor a time \
             written like the time column (12.5, 18:17:03.97, 2023-11-16 18:17:03.97)",
            s.trim()
        )),
    }
}

/// What a time value is: it decides what its nanoseconds count from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeKind {
    Seconds,
    TimeOfDay,
    DateTime,
}

impl TimeKind {
    /// The kind as a noun phrase, for messages.
    fn what(self) -> &'static str {
        match self {
            TimeKind::Seconds => "seconds",
            TimeKind::TimeOfDay => "a time of day",
            TimeKind::DateTime => "a date and time",
        }
    }
}

/// One parsed time value. `ns` counts from 0 for [`TimeKind::Seconds`],
/// from midnight for [`TimeKind::TimeOfDay`] and from
/// 1970-01-01T00:00:00Z for [`TimeKind::DateTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceTime {
    pub kind: TimeKind,
    pub ns: i64,
}

impl fmt::Display for TraceTime {
    /// The shortest form [`parse_time`] reads back to the same value:
    /// `12.5`, `18:17:03.97`, `2023-11-16T18:17:03.97Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, frac) = (self.ns.div_euclid(NS), self.ns.rem_euclid(NS));
        match self.kind {
            TimeKind::Seconds => write!(f, "{secs}")?,
            // A leap second (`23:59:60`, which parse_time accepts) is the
            // 86,400th second of the day: printed as it was written, since
            // `24:00:00` would not parse back.
            TimeKind::TimeOfDay if secs >= DAY => write!(f, "23:59:{:02}", secs - DAY + 60)?,
            TimeKind::TimeOfDay => write!(
                f,
                "{:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )?,
            TimeKind::DateTime => {
                let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
                let s = secs.rem_euclid(DAY);
                write!(
                    f,
                    "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                )?
            }
        }
        if frac != 0 {
            let (mut v, mut digits) = (frac, 9);
            while v % 10 == 0 {
                v /= 10;
                digits -= 1;
            }
            write!(f, ".{v:0digits$}")?;
        }
        if self.kind == TimeKind::DateTime {
            f.write_str("Z")?;
        }
        Ok(())
    }
}

/// Why a time did not parse: not shaped like any time, or shaped like one
/// with a field out of range (the message says which).
enum Bad {
    Shape,
    Range(String),
}

/// Parse one time value:
///  - seconds: a non-negative decimal (`12`, `12.5`, `0.000000001`), exact
///    to the nanosecond with integer arithmetic; digits past the ninth (as
///    float printers write them) round to the nearest nanosecond. Exponent
///    form (`1.7e9`) goes through `f64`, rounded to the nanosecond;
///  - a time of day: `HH:MM:SS` with an optional fraction of 1 to 9 digits
///    (`18:17:03.9799600`);
///  - a date and time: `YYYY-MM-DD HH:MM:SS[.f]`, or with `T` between
///    (RFC 3339), an optional fraction of 1 to 9 digits, then an optional
///    `Z` or `+HH:MM`/`-HH:MM` offset, applied so the result is UTC (no
///    offset: taken as UTC).
///
/// The error says what was expected, or which field is out of range.
///
/// ```
/// use fleetsim::workload::trace::{parse_time, TimeKind, TraceTime};
/// assert_eq!(parse_time("0.000000001").unwrap(), TraceTime { kind: TimeKind::Seconds, ns: 1 });
/// assert_eq!(parse_time("1970-01-01T00:00:01+00:00").unwrap().ns, 1_000_000_000);
/// ```
pub fn parse_time(s: &str) -> Result<TraceTime, String> {
    let s = s.trim();
    time(s).map_err(|bad| match bad {
        Bad::Shape => format!(
            "`{s}` is not a time; expected seconds (12.5), a time of day (18:17:03.97) \
             or a timestamp (2023-11-16 18:17:03.9799600, RFC 3339)"
        ),
        Bad::Range(msg) => msg,
    })
}

fn time(s: &str) -> Result<TraceTime, Bad> {
    let b = s.as_bytes();
    if b.len() > 4 && b[4] == b'-' && b[..4].iter().all(u8::is_ascii_digit) {
        date_time(s)
    } else if b.contains(&b':') {
        match clock(s, b)? {
            (ns, []) => Ok(TraceTime {
                kind: TimeKind::TimeOfDay,
                ns,
            }),
            _ => Err(Bad::Shape),
        }
    } else {
        seconds(s)
    }
}

/// The value of exactly `n` ASCII digits at the start of `b`.
fn digits(b: &[u8], n: usize) -> Option<i64> {
    let d = b.get(..n)?;
    d.iter()
        .all(u8::is_ascii_digit)
        .then(|| d.iter().fold(0, |v, &c| v * 10 + i64::from(c - b'0')))
}

/// `field` of `s` is `v`, outside `lo..=hi`.
fn out_of_range(s: &str, field: &str, v: i64, lo: &str, hi: &str) -> Bad {
    Bad::Range(format!("`{s}` has {field} {v}; {field}s run {lo} to {hi}"))
}

/// `HH:MM:SS[.f]` at the start of `b`: nanoseconds since midnight and the
/// rest of the input.
fn clock<'a>(s: &str, b: &'a [u8]) -> Result<(i64, &'a [u8]), Bad> {
    let two = |at: usize| digits(b.get(at..)?, 2);
    let (h, m, sec) = match (two(0), b.get(2), two(3), b.get(5), two(6)) {
        (Some(h), Some(b':'), Some(m), Some(b':'), Some(sec)) => (h, m, sec),
        _ => return Err(Bad::Shape),
    };
    let mut rest = &b[8..];
    let mut frac = 0;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(Bad::Shape);
        }
        if n > 9 {
            return Err(Bad::Range(format!(
                "`{s}` has {n} fractional digits; at most 9 (nanoseconds)"
            )));
        }
        frac = digits(tail, n).ok_or(Bad::Shape)? * 10_i64.pow(9 - n as u32);
        rest = &tail[n..];
    }
    if h > 23 {
        return Err(out_of_range(s, "hour", h, "00", "23"));
    }
    if m > 59 {
        return Err(out_of_range(s, "minute", m, "00", "59"));
    }
    if sec > 60 {
        return Err(out_of_range(s, "second", sec, "00", "60"));
    }
    Ok(((h * 3600 + m * 60 + sec) * NS + frac, rest))
}

fn date_time(s: &str) -> Result<TraceTime, Bad> {
    let b = s.as_bytes();
    let two = |at: usize| digits(b.get(at..)?, 2);
    let (y, mo, d) = match (digits(b, 4), b.get(4), two(5), b.get(7), two(8)) {
        (Some(y), Some(b'-'), Some(mo), Some(b'-'), Some(d)) => (y, mo, d),
        _ => return Err(Bad::Shape),
    };
    if !matches!(b.get(10), Some(b' ' | b'T' | b't')) {
        return Err(Bad::Shape);
    }
    let (clock_ns, rest) = clock(s, &b[11..])?;
    let offset_s = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] if tail.len() == 5 && tail[2] == b':' => {
            let (oh, om) = match (digits(tail, 2), digits(&tail[3..], 2)) {
                (Some(oh), Some(om)) => (oh, om),
                _ => return Err(Bad::Shape),
            };
            if oh > 23 || om > 59 {
                return Err(Bad::Range(format!(
                    "`{s}` has offset {}; offsets run -23:59 to +23:59",
                    String::from_utf8_lossy(rest)
                )));
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(Bad::Shape),
    };
    if !(1..=12).contains(&mo) {
        return Err(out_of_range(s, "month", mo, "01", "12"));
    }
    let days_in_month = match mo {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days_in_month).contains(&d) {
        return Err(Bad::Range(format!(
            "`{s}` has day {d}, but {y:04}-{mo:02} has {days_in_month} days"
        )));
    }
    let secs = i128::from(days_from_civil(y, mo, d) * DAY - offset_s);
    let ns = secs * i128::from(NS) + i128::from(clock_ns);
    let ns = i64::try_from(ns).map_err(|_| {
        Bad::Range(format!(
            "`{s}` is out of range; timestamps run from 1677-09-21 to 2262-04-11"
        ))
    })?;
    Ok(TraceTime {
        kind: TimeKind::DateTime,
        ns,
    })
}

fn seconds(s: &str) -> Result<TraceTime, Bad> {
    let out_of_range = || {
        Bad::Range(format!(
            "`{s}` is out of range; seconds run up to 9223372036.854775807"
        ))
    };
    let b = s.as_bytes();
    let ns = if b.iter().any(|&c| c == b'e' || c == b'E') {
        // Exponent form: only digits, '.', 'e' and signs, starting with a
        // digit or '.', so "inf", "NaN" and negatives are not numbers here.
        let shape_ok =
            b.iter().all(|c| b"0123456789.eE+-".contains(c)) && matches!(b[0], b'0'..=b'9' | b'.');
        let v: f64 = match s.parse() {
            Ok(v) if shape_ok => v,
            _ => return Err(Bad::Shape),
        };
        let ns = (v * NS as f64).round();
        // 2^63 (written as the nearest shortest float): the first value past i64::MAX.
        if ns >= 9.223_372_036_854_776e18 {
            return Err(out_of_range());
        }
        ns as i64
    } else {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(Bad::Shape);
        }
        let whole = int.bytes().try_fold(0_i64, |v, c| {
            v.checked_mul(10)?.checked_add(i64::from(c - b'0'))
        });
        let mut ns = whole
            .and_then(|w| w.checked_mul(NS))
            .ok_or_else(out_of_range)?;
        let f = frac.as_bytes();
        let n = f.len().min(9);
        let mut part = digits(f, n).unwrap_or(0) * 10_i64.pow(9 - n as u32);
        if f.get(9).is_some_and(|&c| c >= b'5') {
            part += 1;
        }
        ns = ns.checked_add(part).ok_or_else(out_of_range)?;
        ns
    };
    Ok(TraceTime {
        kind: TimeKind::Seconds,
        ns,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// What a scenario says about a trace (the `arrivals` table of a trace
/// source), validated by the caller except for what needs the file.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    /// Already resolved by the caller.
    pub path: PathBuf,
    pub time_column: String,
    pub work_column: Option<String>,
    pub priority_column: Option<String>,
    pub capability_column: Option<String>,
    /// > 0: replay time = trace time / speedup.
    pub speedup: f64,
    pub start: Option<Bound>,
    pub end: Option<Bound>,
    pub looped: bool,
}

/// What one streaming pass over the file found ([`scan`]), needed to replay it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceInfo {
    /// Rows inside the window.
    pub rows: u64,
    /// The trace time (ns) that becomes t = 0: `start` if given, else the
    /// first row in the window.
    pub origin: i64,
    /// Replayed (after speedup) time from t = 0 to the last row in the window.
    pub span: Duration,
    /// The loop period after speedup; `None` unless looped.
    pub period: Option<Duration>,
    /// Distinct values of the capability column in the window, sorted.
    pub capabilities: Vec<String>,
}

/// One request of the trace, in replay time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceRow {
    /// `(t − origin) / speedup + loop · period`, rounded to the nanosecond
    /// (integer arithmetic when speedup is exactly 1).
    pub at: Instant,
    /// Finite, >= 0.
    pub work: Option<f64>,
    pub priority: Option<Priority>,
    /// An index into [`TraceInfo::capabilities`].
    pub capability: Option<u32>,
}

/// A bad trace. Displayed as `{file}:{line}:{col}: column `{name}`: {message}`
/// when a column applies, `{file}:{line}: {message}` otherwise, and
/// `{file}: {message}` for line 0 (the file as a whole: it cannot be opened,
/// or the scenario's `speedup` is not usable). Lines are 1-based lines of the
/// file, the header being line 1 (blank lines and quoted line breaks
/// counted); columns are 1-based field indices.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct TraceError {
    pub file: String,
    pub line: u64,
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl TraceError {
    fn render(&self) -> String {
        let (file, line, message) = (&self.file, self.line, &self.message);
        match (&self.column, line) {
            (_, 0) => format!("{file}: {message}"),
            (Some((col, name)), _) => format!("{file}:{line}:{col}: column `{name}`: {message}"),
            (None, _) => format!("{file}:{line}: {message}"),
        }
    }
}

/// Stream the file once and check every row, inside the window and out
/// (its time, order and every column the scenario names), to the end of
/// the file. The caller does this when the scenario loads, so a bad row
/// anywhere in the file fails before the run starts.
pub fn scan(spec: &TraceSpec) -> Result<TraceInfo, TraceError> {
    let mut pass = Pass::open(spec)?;
    pass.check_all = true;
    let mut capabilities = BTreeSet::new();
    let (mut rows, mut first, mut last, mut last_line) = (0_u64, 0, 0, 0);
    while let Some(row) = pass.next()? {
        if rows == 0 {
            first = row.t;
        }
        (rows, last, last_line) = (rows + 1, row.t, row.line);
        if let Some(c) = row.capability
            && !capabilities.contains(c)
        {
            capabilities.insert(c.to_owned());
        }
    }
    let origin = pass.start.unwrap_or(first);
    let period = if spec.looped {
        let raw = match pass.end {
            Some(end) => end.abs_diff(origin),
            None => {
                if rows == 1 {
                    return Err(pass.error(
                        last_line,
                        None,
                        "looping a one-row trace needs `end`: one row has no gap to repeat it after"
                            .into(),
                    ));
                }
                let spread = u128::from(last.abs_diff(first));
                let gaps = u128::from(rows - 1);
                let gap = (spread + gaps / 2) / gaps;
                u64::try_from(spread + gap).unwrap_or(u64::MAX)
            }
        };
        if raw == 0 {
            let at = TraceTime {
                kind: pass.kind.unwrap_or(TimeKind::Seconds),
                ns: last,
            };
            return Err(pass.error(
                last_line,
                None,
                format!(
                    "every row in the window is at {at}, so the loop would not advance; \
                     set `end` to give the loop a length"
                ),
            ));
        }
        let period = scale(raw, spec.speedup);
        if period == 0 {
            return Err(pass.error(
                last_line,
                None,
                format!(
                    "the loop period, {}, is 0 ns after speedup = {}; lower the speedup",
                    Duration(raw),
                    spec.speedup
                ),
            ));
        }
        Some(Duration(period))
    } else {
        None
    };
    Ok(TraceInfo {
        rows,
        origin,
        span: Duration(scale(last.abs_diff(origin), spec.speedup)),
        period,
        capabilities: capabilities.into_iter().collect(),
    })
}

/// `dt` nanoseconds of trace time in replay time: `dt / speedup`, rounded.
fn scale(dt: u64, speedup: f64) -> u64 {
    if speedup == 1.0 {
        dt
    } else {
        // `as` saturates: too large → u64::MAX.
        (dt as f64 / speedup).round() as u64
    }
}

/// The replaying reader: one per run, streaming the file (reopened for each
/// loop).
pub struct TraceReader {
    spec: TraceSpec,
    pass: Pass,
    origin: i64,
    /// The loop period in ns after speedup; 0 unless looped.
    period: u64,
    capabilities: Vec<String>,
    /// Rows in the window, as [`scan`] counted them.
    rows: u64,
    /// How many times the window has been replayed before this pass.
    lap: u64,
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.spec.path)
            .field("lap", &self.lap)
            .field("line", &self.pass.line)
            .finish_non_exhaustive()
    }
}

impl TraceReader {
    /// Open the file for replay; `info` is what [`scan`] found in it.
    pub fn open(spec: &TraceSpec, info: &TraceInfo) -> Result<TraceReader, TraceError> {
        Ok(TraceReader {
            spec: spec.clone(),
            pass: Pass::open(spec)?,
            origin: info.origin,
            period: info.period.map_or(0, Duration::as_nanos),
            capabilities: info.capabilities.clone(),
            rows: info.rows,
            lap: 0,
        })
    }

    /// The next row in replay order; `Ok(None)` when the trace (without
    /// loop) is over. With `looped` it never ends: after the window's last
    /// row it reopens the file and replays the window again, shifted by the
    /// period (the caller stops it at the scenario's duration).
    pub fn next_row(&mut self) -> Result<Option<TraceRow>, TraceError> {
        loop {
            if let Some(row) = self.pass.next()? {
                let (t, line, work, priority) = (row.t, row.line, row.work, row.priority);
                let capability = match row.capability {
                    None => None,
                    Some(c) => match self
                        .capabilities
                        .binary_search_by(|known| known.as_str().cmp(c))
                    {
                        Ok(i) => Some(i as u32),
                        Err(_) => {
                            let msg = format!("capability `{c}` was not in the window");
                            return Err(self.changed(line, msg));
                        }
                    },
                };
                let first = self.pass.in_window == 1 && self.pass.start.is_none();
                if t < self.origin || (first && t != self.origin) {
                    let msg = format!("the window starts at {} ns, not {} ns", t, self.origin);
                    return Err(self.changed(line, msg));
                }
                let dt = scale(t.abs_diff(self.origin), self.spec.speedup);
                let shift = self.lap.saturating_mul(self.period);
                return Ok(Some(TraceRow {
                    at: Instant(dt.saturating_add(shift)),
                    work,
                    priority,
                    capability,
                }));
            }
            if self.pass.in_window != self.rows {
                let msg = format!(
                    "{} rows in the window, not {}",
                    self.pass.in_window, self.rows
                );
                return Err(self.changed(self.pass.line, msg));
            }
            if !self.spec.looped {
                return Ok(None);
            }
            self.pass = Pass::open(&self.spec)?;
            self.lap += 1;
        }
    }

    fn changed(&self, line: u64, what: String) -> TraceError {
        self.pass.error(
            line,
            None,
            format!("the file changed since the scenario was loaded: {what}"),
        )
    }
}

const NOT_UTF8: &str = "the cell is not UTF-8 text";

/// Which field (0-based) each role reads.
#[derive(Clone, Copy, Debug)]
struct Columns {
    time: usize,
    work: Option<usize>,
    priority: Option<usize>,
    capability: Option<usize>,
}

/// One row inside the window, parsed; the capability borrows the record.
#[derive(Clone, Copy, Debug)]
struct Row<'a> {
    t: i64,
    line: u64,
    work: Option<f64>,
    priority: Option<Priority>,
    capability: Option<&'a str>,
}

/// One streaming pass over the file: the parser both [`scan`] and
/// [`TraceReader`] use, so replay sees exactly the rows the scan checked.
struct Pass {
    file: String,
    csv: csv::Reader<Lines<File>>,
    header: csv::ByteRecord,
    header_line: u64,
    record: csv::ByteRecord,
    columns: Columns,
    bounds: (Option<Bound>, Option<Bound>),
    /// Set by the file's first row: the kind every time must have, that
    /// row's time and line, and the window in trace ns.
    kind: Option<TimeKind>,
    first: (i64, u64),
    start: Option<i64>,
    end: Option<i64>,
    /// The previous row's time, line and text (the buffer is reused).
    prev: Option<(i64, u64)>,
    prev_text: String,
    /// Rows read in the file, rows returned in the window.
    rows: u64,
    in_window: u64,
    /// The line of the current row.
    line: u64,
    done: bool,
    /// Check every cell of every row, outside the window too, and read to
    /// the end of the file ([`scan`]); a replay stops at the window's end.
    check_all: bool,
    /// The line of the first row at or past `end`, once read.
    ended_at: Option<u64>,
}

impl Pass {
    fn open(spec: &TraceSpec) -> Result<Pass, TraceError> {
        let file = spec.path.display().to_string();
        let whole = |message: String| TraceError {
            file: file.clone(),
            line: 0,
            column: None,
            message,
        };
        if !(spec.speedup.is_finite() && spec.speedup > 0.0) {
            return Err(whole(format!(
                "speedup = {}; it must be a number > 0",
                spec.speedup
            )));
        }
        let f = File::open(&spec.path).map_err(|e| whole(format!("cannot open the trace: {e}")))?;
        let mut csv = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .has_headers(true)
            .from_reader(Lines::new(f));
        let header = match csv.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(whole(format!("cannot read the trace: {e}"))),
        };
        let header_line = csv.get_mut().line_at(0);
        let mut pass = Pass {
            file,
            csv,
            header,
            header_line,
            record: csv::ByteRecord::new(),
            columns: Columns {
                time: 0,
                work: None,
                priority: None,
                capability: None,
            },
            bounds: (spec.start.clone(), spec.end.clone()),
            kind: None,
            first: (0, 0),
            start: None,
            end: None,
            prev: None,
            prev_text: String::new(),
            rows: 0,
            in_window: 0,
            line: header_line,
            done: false,
            check_all: false,
            ended_at: None,
        };
        if pass.header.is_empty() {
            return Err(pass.error(
                1,
                None,
                "the file is empty; a trace needs a header row naming its columns, \
                 then one row per request"
                    .into(),
            ));
        }
        pass.columns = Columns {
            time: pass.column("time_column", &spec.time_column)?,
            work: pass.optional_column("work_column", &spec.work_column)?,
            priority: pass.optional_column("priority_column", &spec.priority_column)?,
            capability: pass.optional_column("capability_column", &spec.capability_column)?,
        };
        Ok(pass)
    }

    /// The index of the header field `name`, asked for by scenario key `key`.
    fn column(&self, key: &str, name: &str) -> Result<usize, TraceError> {
        if let Some(i) = self.header.iter().position(|h| h == name.as_bytes()) {
            return Ok(i);
        }
        let fields: Vec<_> = self.header.iter().map(String::from_utf8_lossy).collect();
        Err(self.error(
            self.header_line,
            None,
            format!(
                "{key} = \"{name}\": no column `{name}`; the header has: {}",
                fields.join(", ")
            ),
        ))
    }

    fn optional_column(
        &self,
        key: &str,
        name: &Option<String>,
    ) -> Result<Option<usize>, TraceError> {
        name.as_deref().map(|n| self.column(key, n)).transpose()
    }

    fn error(&self, line: u64, column: Option<usize>, message: String) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line,
            column: column.map(|i| {
                let name = self.header.get(i).unwrap_or_default();
                (i + 1, String::from_utf8_lossy(name).into_owned())
            }),
            message,
        }
    }

    /// Field `i` of the current row as text.
    fn cell(&self, i: usize) -> Result<&str, TraceError> {
        let bytes = self.record.get(i).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.error(self.line, Some(i), NOT_UTF8.into()))
    }

    /// The next row inside the window, checked; `None` after the window.
    fn next(&mut self) -> Result<Option<Row<'_>>, TraceError> {
        if self.done {
            return Ok(None);
        }
        let t = loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return self.finish().map(|()| None);
                }
                Err(e) => return Err(self.csv_error(e)),
            }
            let start = self.record.position().map_or(0, csv::Position::byte);
            self.line = self.csv.get_mut().line_at(start);
            self.rows += 1;
            let t = self.time()?;
            if self.start.is_some_and(|s| t < s) {
                if self.check_all {
                    self.check_cells()?;
                }
                continue;
            }
            if self.end.is_some_and(|e| t >= e) {
                self.ended_at.get_or_insert(self.line);
                if self.check_all {
                    self.check_cells()?;
                    continue;
                }
                self.done = true;
                return self.finish().map(|()| None);
            }
            break t;
        };
        let work = match self.columns.work {
            Some(i) => self.work(i)?,
            None => None,
        };
        let priority = match self.columns.priority {
            Some(i) => self.priority(i)?,
            None => None,
        };
        self.in_window += 1;
        let capability = match self.columns.capability {
            Some(i) => Some(self.cell(i)?).filter(|c| !c.is_empty()),
            None => None,
        };
        Ok(Some(Row {
            t,
            line: self.line,
            work,
            priority,
            capability,
        }))
    }

    /// The current row's time, checked against the first row's kind and
    /// the previous row's time; the file's first row sets the window.
    fn time(&mut self) -> Result<i64, TraceError> {
        let i = self.columns.time;
        // Borrow the record alone, so the fields set below stay free.
        let Ok(text) = std::str::from_utf8(self.record.get(i).unwrap_or_default()) else {
            return Err(self.error(self.line, Some(i), NOT_UTF8.into()));
        };
        if text.is_empty() {
            return Err(self.error(self.line, Some(i), "empty; every row needs a time".into()));
        }
        let t = parse_time(text).map_err(|msg| self.error(self.line, Some(i), msg))?;
        match self.kind {
            None => {}
            Some(kind) if kind == t.kind => {}
            Some(kind) => {
                return Err(self.error(
                    self.line,
                    Some(i),
                    format!(
                        "`{text}` is {}, but line {} has {}; write every time the same way",
                        t.kind.what(),
                        self.first.1,
                        kind.what()
                    ),
                ));
            }
        }
        if let Some((prev, prev_line)) = self.prev
            && t.ns < prev
        {
            let hint = if t.kind == TimeKind::TimeOfDay {
                " (a time of day cannot pass midnight; log dates too)"
            } else {
                ""
            };
            return Err(self.error(
                self.line,
                Some(i),
                format!(
                    "`{text}` is earlier than `{}` on line {prev_line}: time goes backwards; \
                     sort the log by time first{hint}",
                    self.prev_text
                ),
            ));
        }
        if self.kind.is_none() {
            (self.start, self.end) = self.window(t, text)?;
            (self.kind, self.first) = (Some(t.kind), (t.ns, self.line));
        }
        self.prev = Some((t.ns, self.line));
        self.prev_text.clear();
        self.prev_text.push_str(text);
        Ok(t.ns)
    }

    /// The window (start, end) in trace ns, from the file's first row,
    /// at `first` (written `text`).
    fn window(
        &self,
        first: TraceTime,
        text: &str,
    ) -> Result<(Option<i64>, Option<i64>), TraceError> {
        let at = |ns| TraceTime {
            kind: first.kind,
            ns,
        };
        let resolve = |key: &str, bound: &Option<Bound>| -> Result<Option<i64>, TraceError> {
            match bound {
                None => Ok(None),
                Some(Bound::Offset(d)) => i64::try_from(d.as_nanos())
                    .ok()
                    .and_then(|d| first.ns.checked_add(d))
                    .map(Some)
                    .ok_or_else(|| {
                        let msg = format!("{key} = \"{d}\" is past the last time there can be");
                        self.error(self.header_line, None, msg)
                    }),
                Some(Bound::At(t)) if t.kind != first.kind => Err(self.error(
                    self.header_line,
                    Some(self.columns.time),
                    format!(
                        "{key} = \"{t}\" is {}, but the column holds {} (line {}: `{text}`); \
                         write {key} the same way, or as a duration from the first row (\"90s\")",
                        t.kind.what(),
                        first.kind.what(),
                        self.line
                    ),
                )),
                Some(Bound::At(t)) => Ok(Some(t.ns)),
            }
        };
        let start = resolve("start", &self.bounds.0)?;
        let end = resolve("end", &self.bounds.1)?;
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            return Err(self.error(
                self.header_line,
                None,
                format!(
                    "end ({}) is not after start ({}); the window would be empty",
                    at(e),
                    at(s)
                ),
            ));
        }
        Ok((start, end))
    }

    fn work(&self, i: usize) -> Result<Option<f64>, TraceError> {
        let text = self.cell(i)?;
        if text.is_empty() {
            return Ok(None);
        }
        let bad = |msg: String| Err(self.error(self.line, Some(i), msg));
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v + 0.0)),
            Ok(v) if v < 0.0 => bad(format!("`{text}` is negative; work is a number >= 0")),
            Ok(_) => bad(format!(
                "`{text}` is not a finite number; work is a number >= 0"
            )),
            Err(_) => bad(format!(
                "`{text}` is not a number; expected work >= 0 (e.g. 1.5), or an empty cell for none"
            )),
        }
    }

    fn priority(&self, i: usize) -> Result<Option<Priority>, TraceError> {
        let text = self.cell(i)?;
        if text.is_empty() {
            return Ok(None);
        }
        let by_name = Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text));
        let by_number = match text.as_bytes() {
            [d @ b'0'..=b'3'] => Some(Priority::ALL[usize::from(d - b'0')]),
            _ => None,
        };
        match by_name.or(by_number) {
            Some(p) => Ok(Some(p)),
            None => Err(self.error(
                self.line,
                Some(i),
                format!(
                    "`{text}` is not a priority; expected critical, high, normal or low \
                     (or 0 to 3, 0 = critical), or an empty cell for none"
                ),
            )),
        }
    }

    /// The cells of a row outside the window: what a row inside it would
    /// have to be (its time is checked already).
    fn check_cells(&self) -> Result<(), TraceError> {
        if let Some(i) = self.columns.work {
            self.work(i)?;
        }
        if let Some(i) = self.columns.priority {
            self.priority(i)?;
        }
        if let Some(i) = self.columns.capability {
            self.cell(i)?;
        }
        Ok(())
    }

    /// After the last row of the window: fine if it had rows.
    fn finish(&self) -> Result<(), TraceError> {
        if self.rows == 0 {
            return Err(self.error(
                self.header_line,
                None,
                "no rows: the file has a header but no rows".into(),
            ));
        }
        if self.in_window > 0 {
            return Ok(());
        }
        let kind = self.kind.unwrap_or(TimeKind::Seconds);
        let show =
            |b: Option<i64>| b.map_or("none".to_string(), |ns| TraceTime { kind, ns }.to_string());
        Err(self.error(
            self.ended_at.unwrap_or(self.line),
            None,
            format!(
                "no rows between start ({}) and end ({}); the file's first row (line {}) is at {}",
                show(self.start),
                show(self.end),
                self.first.1,
                show(Some(self.first.0)),
            ),
        ))
    }

    fn csv_error(&mut self, e: csv::Error) -> TraceError {
        let line = match e.position() {
            Some(pos) => self.csv.get_mut().line_at(pos.byte()),
            None => self.line,
        };
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths { len, .. } => format!(
                "{len} fields, but the header has {}; every row needs one field per column \
                 (quote fields that contain commas)",
                self.header.len()
            ),
            csv::ErrorKind::Io(e) => format!("cannot read the trace: {e}"),
            _ => e.to_string(),
        };
        self.error(line, None, message)
    }
}

/// Counts lines under the CSV reader. The `csv` crate's positions count the
/// `\n`s consumed so far, which lags behind a record's line by the blank
/// lines before it and, with CRLF endings, by one more. This remembers the
/// byte offset and line of every line that starts with content; a record's
/// line is that of the first such line at or after the record's start
/// offset. Entries before the current record are dropped, so the queue holds
/// no more than the lines of the reader's look-ahead buffer.
struct Lines<R> {
    inner: R,
    /// Bytes passed on so far, and the line the next byte is on.
    offset: u64,
    line: u64,
    /// The previous byte ended a line (or there was none).
    at_break: bool,
    /// The previous byte was `\r` (so a `\n` now ends no new line).
    after_cr: bool,
    starts: VecDeque<(u64, u64)>,
}

impl<R> Lines<R> {
    fn new(inner: R) -> Self {
        Lines {
            inner,
            offset: 0,
            line: 1,
            at_break: true,
            after_cr: false,
            starts: VecDeque::new(),
        }
    }

    /// The line of the first content at or after byte `start`.
    fn line_at(&mut self, start: u64) -> u64 {
        while self.starts.front().is_some_and(|&(at, _)| at < start) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(_, line)| line)
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.line += 1;
                    self.at_break = true;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    if self.at_break {
                        self.starts.push_back((self.offset, self.line));
                    }
                    self.at_break = false;
                    self.after_cr = false;
                }
            }
            self.offset += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const S: i64 = NS;

    fn ok(s: &str) -> (TimeKind, i64) {
        let t = parse_time(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (t.kind, t.ns)
    }

    fn err(s: &str) -> String {
        match parse_time(s) {
            Ok(t) => panic!("{s} parsed as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn seconds_are_exact_to_the_nanosecond() {
        use TimeKind::Seconds;
        assert_eq!(ok("0"), (Seconds, 0));
        assert_eq!(ok("12"), (Seconds, 12 * S));
        assert_eq!(ok("12.5"), (Seconds, 12 * S + S / 2));
        assert_eq!(ok("0.000000001"), (Seconds, 1));
        assert_eq!(ok("0.1"), (Seconds, 100_000_000));
        assert_eq!(ok(".5"), (Seconds, S / 2));
        assert_eq!(ok("7."), (Seconds, 7 * S));
        assert_eq!(
            ok("1700000000.123456789"),
            (Seconds, 1_700_000_000_123_456_789)
        );
        assert_eq!(ok("9223372036.854775807"), (Seconds, i64::MAX));
        // Float printers' digits past the ninth round to the nearest ns.
        assert_eq!(ok("0.30000000000000004"), (Seconds, 300_000_000));
        assert_eq!(ok("0.0000000015"), (Seconds, 2));
        assert_eq!(ok("0.9999999996"), (Seconds, S));
        // Exponent form goes through f64, rounded to the ns.
        assert_eq!(ok("1.7e9"), (Seconds, 1_700_000_000 * S));
        assert_eq!(ok("1e-9"), (Seconds, 1));
        assert_eq!(ok("2.5E0"), (Seconds, 2 * S + S / 2));
    }

    #[test]
    fn times_of_day_take_0_to_9_fractional_digits() {
        let base = (18 * 3600 + 17 * 60 + 3) * S;
        for n in 0..=9 {
            let frac = &"123456789"[..n];
            let text = if n == 0 {
                "18:17:03".to_string()
            } else {
                format!("18:17:03.{frac}")
            };
            let ns = if n == 0 {
                0
            } else {
                frac.parse::<i64>().unwrap() * 10_i64.pow(9 - n as u32)
            };
            assert_eq!(ok(&text), (TimeKind::TimeOfDay, base + ns), "{text}");
        }
        assert_eq!(
            ok("18:17:03.9799600"),
            (TimeKind::TimeOfDay, base + 979_960_000)
        );
        assert_eq!(ok("00:00:00"), (TimeKind::TimeOfDay, 0));
        assert_eq!(ok("23:59:60"), (TimeKind::TimeOfDay, DAY * S));
    }

    #[test]
    fn timestamps_follow_rfc_3339_with_a_space_allowed() {
        use TimeKind::DateTime;
        // date -u -d '2023-11-16 18:17:03' +%s
        let base = 1_700_158_623 * S;
        for n in 0..=9 {
            let frac = &"987654321"[..n];
            let dot = if n == 0 { "" } else { "." };
            let ns = if n == 0 {
                0
            } else {
                frac.parse::<i64>().unwrap() * 10_i64.pow(9 - n as u32)
            };
            for sep in [" ", "T"] {
                for zone in ["", "Z"] {
                    let text = format!("2023-11-16{sep}18:17:03{dot}{frac}{zone}");
                    assert_eq!(ok(&text), (DateTime, base + ns), "{text}");
                }
            }
        }
        assert_eq!(
            ok("2023-11-16 18:17:03.9799600"),
            (DateTime, base + 979_960_000)
        );
        // Offsets are applied: the result is UTC.
        assert_eq!(ok("2023-11-16T19:17:03+01:00"), (DateTime, base));
        assert_eq!(ok("2023-11-16T12:47:03.5-05:30"), (DateTime, base + S / 2));
        assert_eq!(ok("2023-11-16t18:17:03z"), (DateTime, base));
        assert_eq!(ok("1970-01-01T00:00:00Z"), (DateTime, 0));
        assert_eq!(ok("1969-12-31 23:59:59.5"), (DateTime, -S / 2));
        // Leap years: 2024 and 2000 have a 29 February, 1900 and 2023 not.
        assert_eq!(ok("2024-02-29 12:00:00"), (DateTime, 1_709_208_000 * S));
        assert_eq!(ok("2000-02-29 00:00:00"), (DateTime, 951_782_400 * S));
        assert_eq!(
            ok("2024-03-01 00:00:00").1 - ok("2024-02-28 00:00:00").1,
            2 * DAY * S
        );
        assert!(err("2023-02-29 00:00:00").contains("2023-02 has 28 days"));
        assert!(err("1900-02-29 00:00:00").contains("has day 29"));
    }

    #[test]
    fn bad_times_say_what_was_expected() {
        assert_eq!(
            err("18:7:03"),
            "`18:7:03` is not a time; expected seconds (12.5), a time of day \
             (18:17:03.97) or a timestamp (2023-11-16 18:17:03.9799600, RFC 3339)"
        );
        assert_eq!(
            err("18:17:03.1234567890"),
            "`18:17:03.1234567890` has 10 fractional digits; at most 9 (nanoseconds)"
        );
        assert!(err("2023-11-16 18:17:03.1234567890").contains("10 fractional digits"));
        assert_eq!(
            err("24:00:00"),
            "`24:00:00` has hour 24; hours run 00 to 23"
        );
        assert!(err("12:60:00").contains("minute 60"));
        assert!(err("12:00:61").contains("second 61"));
        assert_eq!(
            err("2023-13-01 00:00:00"),
            "`2023-13-01 00:00:00` has month 13; months run 01 to 12"
        );
        assert!(err("2023-00-01 00:00:00").contains("month 0"));
        assert!(err("2023-04-31 00:00:00").contains("2023-04 has 30 days"));
        assert!(err("2023-11-16 18:17:03+24:00").contains("offset +24:00"));
        assert!(err("3000-01-01 00:00:00").contains("out of range"));
        assert!(err("9999999999").contains("out of range"));
        assert!(err("1e400").contains("out of range"));
        for garbage in [
            "",
            "garbage",
            "12:3:04",
            "1:02:03",
            "12:03",
            "12:03:04.",
            "12:03:04Z",
            "-5",
            "+5",
            "1.2.3",
            "1,5",
            "nan",
            "inf",
            "-1e3",
            "e5",
            "2023-11-16",
            "2023-11-16  18:17:03",
            "2023-11-16 18:17:03 Z",
            "2023-11-16 18:17:03+0100",
            "2023-11-16 18:17:03+01",
            "2023/11/16 18:17:03",
            "23-11-16 18:17:03",
        ] {
            assert!(err(garbage).contains("is not a time"), "{garbage}");
        }
    }

    #[test]
    fn times_display_in_a_form_that_parses_back() {
        for s in [
            "0",
            "12.5",
            "0.000000001",
            "1700000000.123456789",
            "18:17:03.97996",
            "00:00:00",
            "2023-11-16T18:17:03.97996Z",
            "1969-12-31T23:59:59.5Z",
            "2024-02-29T00:00:00Z",
            // A leap second of a time of day: once printed as `24:00:00.5`,
            // which has no hour 24 (found by fuzzing).
            "23:59:60",
            "23:59:60.5",
        ] {
            let t = parse_time(s).unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(parse_time(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn bounds_are_offsets_or_times() {
        assert_eq!(
            parse_bound("90s"),
            Ok(Bound::Offset(Duration::from_secs(90)))
        );
        assert_eq!(
            parse_bound("2m"),
            Ok(Bound::Offset(Duration::from_secs(120)))
        );
        let at = |kind, ns| Ok(Bound::At(TraceTime { kind, ns }));
        assert_eq!(parse_bound("12"), at(TimeKind::Seconds, 12 * S));
        assert_eq!(
            parse_bound("1.7e9"),
            at(TimeKind::Seconds, 1_700_000_000 * S)
        );
        assert_eq!(parse_bound("00:01:00"), at(TimeKind::TimeOfDay, 60 * S));
        assert_eq!(
            parse_bound("1970-01-01T00:00:01Z"),
            at(TimeKind::DateTime, S)
        );
        let e = parse_bound("soon").unwrap_err();
        assert!(
            e.contains("neither a duration") && e.contains("90s") && e.contains("18:17:03.97"),
            "{e}"
        );
        // A time with a field out of range says which.
        assert!(parse_bound("25:00:00").unwrap_err().contains("hour 25"));
    }

    // ---- the reader ----

    struct Trace {
        _dir: tempfile::TempDir,
        spec: TraceSpec,
    }

    fn trace(text: &str) -> Trace {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, text).unwrap();
        Trace {
            spec: spec_for(&path),
            _dir: dir,
        }
    }

    fn spec_for(path: &Path) -> TraceSpec {
        TraceSpec {
            path: path.to_owned(),
            time_column: "ts".into(),
            work_column: None,
            priority_column: None,
            capability_column: None,
            speedup: 1.0,
            start: None,
            end: None,
            looped: false,
        }
    }

    /// Scan, then replay up to `limit` rows.
    fn replay(spec: &TraceSpec, limit: usize) -> (TraceInfo, Vec<TraceRow>) {
        let info = scan(spec).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = TraceReader::open(spec, &info).unwrap();
        let mut rows = Vec::new();
        while rows.len() < limit {
            match reader.next_row().unwrap_or_else(|e| panic!("{e}")) {
                Some(row) => rows.push(row),
                None => {
                    // Over is over.
                    assert_eq!(reader.next_row(), Ok(None));
                    break;
                }
            }
        }
        (info, rows)
    }

    fn times(rows: &[TraceRow]) -> Vec<u64> {
        rows.iter().map(|r| r.at.0).collect()
    }

    fn scan_err(t: &Trace) -> String {
        scan(&t.spec).unwrap_err().to_string()
    }

    fn file(t: &Trace) -> String {
        t.spec.path.display().to_string()
    }

    #[test]
    fn a_bad_row_outside_the_window_fails_the_scan_too() {
        // A bad work cell before `start`, after `end`, and a time going
        // backwards after `end`: each is named, though no replay reads it.
        for (text, want) in [
            ("ts,w\n1,x\n5,1\n", "2:2: column `w`: `x` is not a number"),
            ("ts,w\n5,1\n20,-1\n", "3:2: column `w`: `-1` is negative"),
            (
                "ts,w\n5,1\n20,1\n19,1\n",
                "4:1: column `ts`: `19` is earlier than `20`",
            ),
        ] {
            let mut t = trace(text);
            t.spec.work_column = Some("w".into());
            t.spec.start = Some(parse_bound("4").unwrap());
            t.spec.end = Some(parse_bound("10").unwrap());
            let err = scan_err(&t);
            assert!(err.contains(want), "{text:?}: {err}");
        }
        // The same rows in the window's bounds replay as before.
        let mut t = trace("ts,w\n1,1\n5,2\n20,3\n");
        t.spec.work_column = Some("w".into());
        t.spec.start = Some(parse_bound("4").unwrap());
        t.spec.end = Some(parse_bound("10").unwrap());
        let (info, rows) = replay(&t.spec, 10);
        assert_eq!((info.rows, rows.len()), (1, 1));
    }

    #[test]
    fn replays_exact_nanosecond_times_from_the_first_row() {
        let t = trace("ts,path\n10.000000001,/a\n10.5,/b\n10.5,/c\n12,/d\n");
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(
            times(&rows),
            vec![0, 499_999_999, 499_999_999, 1_999_999_999]
        );
        assert_eq!(info.rows, 4);
        assert_eq!(info.origin, 10 * S + 1);
        assert_eq!(info.span, Duration(1_999_999_999));
        assert_eq!(info.period, None);
        assert!(info.capabilities.is_empty());
        assert!(
            rows.iter()
                .all(|r| r.work.is_none() && r.priority.is_none())
        );
    }

    #[test]
    fn timestamps_with_seven_digits_and_offsets_replay_exactly() {
        let t = trace(
            "ts\n2026-03-10 09:00:00.1234567\n2026-03-10T10:00:00.1234568+01:00\n\
             2026-03-10 09:00:01Z\n",
        );
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(times(&rows), vec![0, 100, 876_543_300]);
        assert_eq!(info.origin, 1_773_133_200 * S + 123_456_700);
    }

    #[test]
    fn speedup_divides_replay_time() {
        let mut t = trace("ts\n100\n101\n103.000000003\n");
        t.spec.speedup = 2.0;
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(times(&rows), vec![0, S as u64 / 2, 1_500_000_002]);
        assert_eq!(info.span, Duration(1_500_000_002));
        t.spec.speedup = 0.5;
        assert_eq!(
            times(&replay(&t.spec, 100).1),
            vec![0, 2 * S as u64, 6_000_000_006]
        );
    }

    #[test]
    fn the_window_keeps_rows_from_start_until_before_end() {
        let text = "ts\n00:00:10\n00:00:20\n00:00:30\n00:00:40\n00:00:50\n";
        let mut t = trace(text);
        // Offsets count from the file's first row; origin is start.
        t.spec.start = Some(Bound::Offset(Duration::from_secs(5)));
        t.spec.end = Some(Bound::Offset(Duration::from_secs(30)));
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(info.rows, 2);
        assert_eq!(info.origin, 15 * S);
        assert_eq!(times(&rows), vec![5 * S as u64, 15 * S as u64]);
        // The same window written as times; a row at `end` is outside.
        t.spec.start = Some(parse_bound("00:00:15").unwrap());
        t.spec.end = Some(parse_bound("00:00:40").unwrap());
        assert_eq!(replay(&t.spec, 100), (info.clone(), rows.clone()));
        // A row at `start` is inside and becomes t = 0.
        t.spec.start = Some(parse_bound("00:00:20").unwrap());
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(
            (info.origin, times(&rows)),
            (20 * S, vec![0, 10 * S as u64])
        );
        // Only an end.
        t.spec.start = None;
        t.spec.end = Some(Bound::Offset(Duration::from_secs(10)));
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!((info.origin, times(&rows)), (10 * S, vec![0]));
    }

    #[test]
    fn the_window_rejects_mismatched_and_empty_bounds() {
        let mut t = trace("ts\n00:00:10\n00:00:20\n");
        let f = file(&t);
        t.spec.start = Some(parse_bound("12.5").unwrap());
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:1:1: column `ts`: start = \"12.5\" is seconds, but the column holds \
                 a time of day (line 2: `00:00:10`); write start the same way, or as a \
                 duration from the first row (\"90s\")"
            )
        );
        t.spec.start = Some(parse_bound("00:00:15").unwrap());
        t.spec.end = Some(parse_bound("00:00:15").unwrap());
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:1: end (00:00:15) is not after start (00:00:15); the window would be empty"
            )
        );
        t.spec.start = Some(Bound::Offset(Duration::from_secs(60)));
        t.spec.end = None;
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:3: no rows between start (00:01:10) and end (none); \
                 the file's first row (line 2) is at 00:00:10"
            )
        );
    }

    #[test]
    fn a_loop_repeats_the_window_shifted_by_its_period() {
        let ms = |v: &[u64]| v.iter().map(|x| x * 1_000_000).collect::<Vec<_>>();
        let mut t = trace("ts\n1\n2\n5\n9\n");
        t.spec.looped = true;
        // With end: end − origin (7 s − 1 s), whatever the rows.
        t.spec.end = Some(Bound::Offset(Duration::from_secs(6)));
        let (info, rows) = replay(&t.spec, 9);
        assert_eq!((info.rows, info.period), (3, Some(Duration::from_secs(6))));
        let expect = ms(&[0, 1000, 4000, 6000, 7000, 10_000, 12_000, 13_000, 16_000]);
        assert_eq!(times(&rows), expect);
        // Without end: the spread plus one mean gap, 8 s + 8 s / 3 gaps.
        t.spec.end = None;
        let (info, rows) = replay(&t.spec, 9);
        assert_eq!(info.period, Some(Duration(10_666_666_667)));
        assert_eq!(rows[4].at, Instant(10_666_666_667));
        assert_eq!(rows[8].at, Instant(21_333_333_334));
        // A start shifts the origin, not the period.
        t.spec.start = Some(Bound::Offset(Duration::from_secs(1)));
        t.spec.end = Some(Bound::Offset(Duration::from_secs(6)));
        let (info, rows) = replay(&t.spec, 6);
        assert_eq!(info.period, Some(Duration::from_secs(5)));
        assert_eq!(times(&rows), ms(&[0, 3000, 5000, 8000, 10_000, 13_000]));
        // Speedup divides the period too.
        t.spec.start = None;
        t.spec.speedup = 2.0;
        let (info, rows) = replay(&t.spec, 6);
        assert_eq!(info.period, Some(Duration::from_secs(3)));
        assert_eq!(times(&rows), ms(&[0, 500, 2000, 3000, 3500, 5000]));
    }

    #[test]
    fn a_loop_needs_a_length() {
        let mut t = trace("ts\n1\n");
        t.spec.looped = true;
        let f = file(&t);
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:2: looping a one-row trace needs `end`: one row has no gap to repeat it after"
            )
        );
        t.spec.end = Some(Bound::Offset(Duration::from_millis(10)));
        assert_eq!(replay(&t.spec, 3).1[2].at, Instant(20_000_000));
        let mut t = trace("ts\n1\n1\n");
        t.spec.looped = true;
        assert!(scan_err(&t).contains("the loop would not advance"));
    }

    #[test]
    fn work_priority_and_capability_columns() {
        let mut t = trace(
            "ts,bytes,prio,svc\n\
             0,10,high,search\n\
             1,,,\n\
             2,2.5e3,LOW,orders\n\
             3,0,0,search\n\
             4, 7 , Normal , api gateway \n\
             5,1,3,orders\n",
        );
        t.spec.work_column = Some("bytes".into());
        t.spec.priority_column = Some("prio".into());
        t.spec.capability_column = Some("svc".into());
        let (info, rows) = replay(&t.spec, 100);
        assert_eq!(info.capabilities, ["api gateway", "orders", "search"]);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.work, r.priority, r.capability))
            .collect();
        use Priority::*;
        assert_eq!(
            got,
            vec![
                (Some(10.0), Some(High), Some(2)),
                (None, None, None),
                (Some(2500.0), Some(Low), Some(1)),
                (Some(0.0), Some(Critical), Some(2)),
                (Some(7.0), Some(Normal), Some(0)),
                (Some(1.0), Some(Low), Some(1)),
            ]
        );
        for (r, name) in
            rows.iter()
                .zip(["search", "", "orders", "search", "api gateway", "orders"])
        {
            if let Some(c) = r.capability {
                assert_eq!(info.capabilities[c as usize], name);
            }
        }
        // The window's capabilities only.
        t.spec.end = Some(Bound::Offset(Duration::from_secs(3)));
        assert_eq!(scan(&t.spec).unwrap().capabilities, ["orders", "search"]);
    }

    #[test]
    fn a_missing_column_lists_the_header() {
        let mut t = trace("time, bytes ,path\n1,2,/a\n");
        let f = file(&t);
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:1: time_column = \"ts\": no column `ts`; the header has: time, bytes, path"
            )
        );
        t.spec.time_column = "time".into();
        t.spec.priority_column = Some("prio".into());
        assert!(scan_err(&t).contains("priority_column = \"prio\": no column `prio`"));
    }

    #[test]
    fn bad_cells_name_their_line_and_column() {
        let mut t = trace("ts,bytes,prio\n1,5,high\n2,lots,low\n");
        let f = file(&t);
        t.spec.work_column = Some("bytes".into());
        assert_eq!(
            scan_err(&t),
            format!(
                "{f}:3:2: column `bytes`: `lots` is not a number; expected work >= 0 (e.g. 1.5), \
                 or an empty cell for none"
            )
        );
        let cases = [
            (
                "ts,bytes,prio\n1,-5,high\n",
                "2:2: column `bytes`: `-5` is negative",
            ),
            (
                "ts,bytes,prio\n1,inf,high\n",
                "2:2: column `bytes`: `inf` is not a finite number",
            ),
            (
                "ts,bytes,prio\n1,1,urgent\n",
                "2:3: column `prio`: `urgent` is not a priority",
            ),
            (
                "ts,bytes,prio\n1,1,4\n",
                "2:3: column `prio`: `4` is not a priority",
            ),
            (
                "ts,bytes,prio\n1,1,1\n18:00:00,1,1\n",
                "3:1: column `ts`: `18:00:00` is a time of day, but line 2 has seconds",
            ),
            (
                "ts,bytes,prio\n1,1,1\n,1,1\n",
                "3:1: column `ts`: empty; every row needs a time",
            ),
            (
                "ts,bytes,prio\n1,1,1\n12:3:04,1,1\n",
                "3:1: column `ts`: `12:3:04` is not a time",
            ),
        ];
        for (text, want) in cases {
            let mut t = trace(text);
            t.spec.work_column = Some("bytes".into());
            t.spec.priority_column = Some("prio".into());
            let e = scan_err(&t);
            assert!(
                e.starts_with(&format!("{}:{want}", file(&t))),
                "{e}\nwant {want}"
            );
        }
    }

    #[test]
    fn time_going_backwards_names_both_values() {
        let t = trace("ts\n2026-03-10 09:00:01\n2026-03-10 09:00:01\n2026-03-10 09:00:00.5\n");
        assert_eq!(
            scan(&t.spec).unwrap_err(),
            TraceError {
                file: file(&t),
                line: 4,
                column: Some((1, "ts".into())),
                message:
                    "`2026-03-10 09:00:00.5` is earlier than `2026-03-10 09:00:01` on line 3: \
                          time goes backwards; sort the log by time first"
                        .into(),
            }
        );
        // Before the window too: skipped rows are still checked for order.
        let mut t = trace("ts\n23:59:59\n00:00:01\n");
        t.spec.start = Some(Bound::Offset(Duration::from_secs(10)));
        assert!(scan_err(&t).contains("cannot pass midnight"));
    }

    #[test]
    fn empty_and_header_only_files_have_no_rows() {
        let t = trace("");
        assert_eq!(
            scan_err(&t),
            format!(
                "{}:1: the file is empty; a trace needs a header row naming its columns, \
                 then one row per request",
                file(&t)
            )
        );
        let t = trace("ts,bytes\n\n");
        assert_eq!(
            scan_err(&t),
            format!("{}:1: no rows: the file has a header but no rows", file(&t))
        );
        let mut t = trace("ts\n1\n");
        t.spec.path = t.spec.path.with_file_name("absent.csv");
        assert!(scan_err(&t).starts_with(&format!("{}: cannot open the trace", file(&t))));
    }

    #[test]
    fn lines_count_blank_lines_crlf_and_quoted_breaks() {
        let e = |text: &str| scan_err(&trace(text));
        let t = trace("ts,a\n1,x\n2,y,z\n");
        assert_eq!(
            scan_err(&t),
            format!(
                "{}:3: 3 fields, but the header has 2; every row needs one field per column \
                 (quote fields that contain commas)",
                file(&t)
            )
        );
        assert!(e("ts,a\r\n1,x\r\n\r\n\r\n2,y,z\r\n").contains(":5: 3 fields"));
        assert!(e("\n\nts,a\n\n1,\"x\ny\"\n\n9,y\n3,z\n").contains(":9:1: column `ts`"));
        assert!(e("ts,a\r1,x\r0,y\r").contains(":3:1: column `ts`"));
        assert!(e("\u{feff}ts,a\n2,x\n1,y\n").contains(":3:1: column `ts`: `1` is earlier"));
    }

    #[test]
    fn the_reader_notices_a_file_changed_since_the_scan() {
        let t = trace("ts\n1\n2\n3\n");
        let info = scan(&t.spec).unwrap();
        std::fs::write(&t.spec.path, "ts\n1\n2\n").unwrap();
        let mut reader = TraceReader::open(&t.spec, &info).unwrap();
        assert!(reader.next_row().unwrap().is_some());
        assert!(reader.next_row().unwrap().is_some());
        let e = reader.next_row().unwrap_err().to_string();
        assert!(
            e.contains("the file changed since the scenario was loaded"),
            "{e}"
        );
    }

    #[test]
    fn the_example_api_gateway_log_scans() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces/api_gateway.csv");
        let spec = TraceSpec {
            time_column: "timestamp".into(),
            work_column: Some("bytes".into()),
            priority_column: Some("priority".into()),
            ..spec_for(&path)
        };
        let info = scan(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert!(info.rows > 1000, "{info:?}");
        assert!(info.span > Duration::from_secs(200), "{info:?}");
    }
}
