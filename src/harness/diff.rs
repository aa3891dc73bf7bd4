//! `fleetsim diff`: run two variants of a scenario on one seed and name
//! the first event where they part, in the model's own terms; and
//! `fleetsim run --check-determinism`, the same with both sides equal.
//!
//! Why: `check` says that a metric moved; this says why. madsim reports the
//! virtual time of divergence and FoundationDB bisects to the first
//! differing step; owning the whole loop, we can name the event, the task
//! and its history, what each side decided, and the state of the agents
//! involved.
//!
//! How: both sides run to the end once, keeping for each event only its
//! time and a hash of its event-log row (kind, task, request, agent,
//! decision): 16 bytes an event. The first index where the hashes differ
//! (or where one side has ended) is the divergent event. Both sides then
//! run again with a sink that keeps the recent history of each live task
//! and, after the divergent event, the state of the agents it involved.
//! The divergence measure: for each second of virtual time, the events of
//! one side with no equal event (same time, same row) on the other,
//! counted on both sides (the size of the symmetric difference of the two
//! multisets of rows in that second).
//!
//! Against a recorded log (`fleetsim diff SCENARIO --against DIR`): side A
//! is `DIR/events.csv`, written by `fleetsim run --events` with no filter;
//! side B is a fresh run of the scenario. Rows are compared as written
//! (kind, task, request, agent, decision; the event number must run 1, 2,
//! 3, … so a filtered log is refused), so a baseline recorded before a
//! code change shows the first event the change altered. The recorded
//! side's history and row come from the log; the run's side is described
//! as above.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::rng::Seed;
use crate::scenario::Scenario;
use crate::world::World;
use crate::world::trace::{EventRow, Sink, TaskRow, secs};

use super::trace::{EVENT_COLUMNS, event_fields};

/// Keeps each event's time and a hash of its row.
#[derive(Default)]
struct Hashes(Vec<(u64, u64)>);

/// FNV-1a over the row's fields (stable within one process, all we need).
fn row_hash(r: &EventRow) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    };
    eat(r.kind.as_bytes());
    eat(&r.task.map_or(u64::MAX, |x| x).to_le_bytes());
    eat(&r.req.map_or(u32::MAX, |x| x).to_le_bytes());
    eat(&r.agent.map_or(u32::MAX, |x| x).to_le_bytes());
    eat(r.decision.as_bytes());
    h
}

impl Sink for Hashes {
    fn event(&mut self, row: &EventRow) {
        self.0.push((row.time.0, row_hash(row)));
    }
}

/// Keeps the history of live tasks and what happens at event `at`.
struct Detail {
    at: u64,
    last_seq: u64,
    /// Each live task's rows so far (the last `HISTORY`).
    histories: HashMap<u64, Vec<String>>,
    row: Option<EventRow>,
    history: Vec<String>,
    snapshot: Vec<String>,
}

/// Rows of a task's history shown.
const HISTORY: usize = 12;

fn line(r: &EventRow) -> String {
    let mut s = format!("#{} t={} s {}", r.seq, secs(r.time), r.kind);
    if let Some(a) = r.agent {
        let _ = write!(s, " agent {a}");
    }
    if !r.decision.is_empty() {
        let _ = write!(s, ": {}", r.decision);
    }
    s
}

impl Sink for Detail {
    fn records(&self) -> bool {
        true
    }

    fn event(&mut self, row: &EventRow) {
        self.last_seq = row.seq;
        if row.seq == self.at {
            self.row = Some(row.clone());
            if let Some(t) = row.task {
                self.history = self.histories.get(&t).cloned().unwrap_or_default();
            }
            return;
        }
        if row.seq > self.at {
            return;
        }
        if let Some(t) = row.task {
            let h = self.histories.entry(t).or_default();
            if h.len() == HISTORY {
                h.remove(0);
            }
            h.push(line(row));
        }
    }

    fn task(&mut self, row: &TaskRow) {
        // A task that ends before the divergent event is no longer needed.
        if self.last_seq + 1 < self.at {
            self.histories.remove(&row.id);
        }
    }

    fn snapshot_at(&self) -> Option<u64> {
        Some(self.at)
    }

    fn snapshot(&mut self, lines: Vec<String>) {
        self.snapshot = lines;
    }
}

/// One side of a diff.
pub struct Side<'a> {
    pub label: String,
    pub sc: &'a Scenario,
}

/// What a diff found.
pub struct Diff {
    /// The first divergent event's number (from 1), if any.
    pub first: Option<u64>,
    pub text: String,
}

fn hashes(sc: &Scenario, seed: Seed) -> (Vec<(u64, u64)>, u64) {
    let mut h = Hashes::default();
    let r = World::new(sc, seed).with_sink(&mut h).run();
    (h.0, r.fingerprint)
}

fn detail(sc: &Scenario, seed: Seed, at: u64) -> Detail {
    let mut d = Detail {
        at,
        last_seq: 0,
        histories: HashMap::new(),
        row: None,
        history: Vec::new(),
        snapshot: Vec::new(),
    };
    World::new(sc, seed).with_sink(&mut d).run();
    d
}

/// Run both sides on `seed` and describe the first difference.
pub fn diff(a: &Side, b: &Side, seed: Seed) -> Diff {
    let ((ha, fa), (hb, fb)) = rayon::join(|| hashes(a.sc, seed), || hashes(b.sc, seed));
    let first = first_divergence(&ha, &hb);
    let mut out = String::new();
    let Some(k) = first else {
        let _ = writeln!(
            out,
            "no difference: both sides handled the same {} events with the same decisions \
             (fingerprint {fa:016x})",
            ha.len()
        );
        if fa != fb {
            let _ = writeln!(out, "but the fingerprints differ: {fa:016x} vs {fb:016x}");
        }
        return Diff {
            first: None,
            text: out,
        };
    };
    let seq = k as u64 + 1;
    let (da, db) = rayon::join(|| detail(a.sc, seed, seq), || detail(b.sc, seed, seq));
    let at = first_line(&mut out, ha.as_slice(), hb.as_slice(), k);
    let task = da
        .row
        .as_ref()
        .and_then(|r| r.task)
        .or(db.row.as_ref().and_then(|r| r.task));
    if let Some(t) = task {
        let history = if da.history.is_empty() {
            &db.history
        } else {
            &da.history
        };
        write_history(&mut out, t, history.iter().cloned());
    }
    for (side, d) in [(a, &da), (b, &db)] {
        describe_side(&mut out, &side.label, d, seq);
    }
    let _ = writeln!(out);
    out += &divergence(&ha, &hb, at);
    let _ = writeln!(
        out,
        "fingerprints: {fa:016x} ({}) vs {fb:016x} ({})",
        a.label, b.label
    );
    Diff {
        first: Some(seq),
        text: out,
    }
}

/// The index of the first event whose time or row differs between two
/// runs' `(time, row hash)` lists, or where the shorter one ends.
fn first_divergence(a: &[(u64, u64)], b: &[(u64, u64)]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// The report's first line for divergent event index `k`; returns its
/// virtual time (from whichever side has the event).
fn first_line(out: &mut String, a: &[(u64, u64)], b: &[(u64, u64)], k: usize) -> u64 {
    let at = a.get(k).or(b.get(k)).map_or(0, |x| x.0);
    let _ = writeln!(
        out,
        "first difference at event #{}, t = {} s (the {k} events before it are identical)",
        k + 1,
        secs(crate::time::Instant(at)),
    );
    at
}

/// Task `t`'s history before the divergent event, one line each.
fn write_history(out: &mut String, t: u64, lines: impl Iterator<Item = String>) {
    let _ = writeln!(
        out,
        "\ntask {t}, its history so far (identical on both sides):"
    );
    let mut none = true;
    for l in lines {
        none = false;
        let _ = writeln!(out, "  {l}");
    }
    if none {
        let _ = writeln!(out, "  (none: it starts here)");
    }
}

/// One side's event #`seq`: its row, what it decided, and the state of
/// the agents involved after it.
fn describe_side(out: &mut String, label: &str, d: &Detail, seq: u64) {
    let _ = writeln!(out, "\n{label}:");
    match &d.row {
        None => {
            let _ = writeln!(out, "  (no event #{seq}: this side's run has ended)");
        }
        Some(r) => {
            let _ = writeln!(out, "  {}", line(r));
            if r.decision.is_empty() {
                let _ = writeln!(out, "  (decided nothing)");
            }
            for s in &d.snapshot {
                let _ = writeln!(out, "  after it: {s}");
            }
        }
    }
}

/// The events differing per second of virtual time, from the divergent
/// second on (see the module docs for the measure).
fn divergence(a: &[(u64, u64)], b: &[(u64, u64)], from: u64) -> String {
    const S: u64 = 1_000_000_000;
    let mut per: BTreeMap<u64, HashMap<u64, i64>> = BTreeMap::new();
    for &(t, h) in a.iter().filter(|x| x.0 >= from / S * S) {
        *per.entry(t / S)
            .or_default()
            .entry(h ^ t.rotate_left(17))
            .or_default() += 1;
    }
    for &(t, h) in b.iter().filter(|x| x.0 >= from / S * S) {
        *per.entry(t / S)
            .or_default()
            .entry(h ^ t.rotate_left(17))
            .or_default() -= 1;
    }
    let counts: Vec<(u64, u64)> = per
        .iter()
        .map(|(s, m)| (*s, m.values().map(|v| v.unsigned_abs()).sum::<u64>()))
        .collect();
    let total: u64 = counts.iter().map(|c| c.1).sum();
    let differing: Vec<&(u64, u64)> = counts.iter().filter(|c| c.1 > 0).collect();
    let mut out = format!(
        "divergence: {total} events differ (counted on both sides) over {} of the {} seconds from {} s on \
         ({} events on one side, {} on the other)\n",
        differing.len(),
        counts.len(),
        from / S,
        a.len(),
        b.len()
    );
    if let (Some(first), Some(last)) = (differing.first(), differing.last()) {
        out += &format!("  last second with a difference: {} s\n", last.0);
        out += "  events differing per second, first seconds:";
        for (s, n) in counts.iter().filter(|c| c.0 >= first.0).take(10) {
            out += &format!(" {s}s:{n}");
        }
        out += "\n";
        let peak = differing
            .iter()
            .max_by_key(|c| (c.1, std::cmp::Reverse(c.0)))
            .unwrap();
        out += &format!("  peak: {} at {} s\n", peak.1, peak.0);
    }
    out
}

/// A recorded event log that cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Format {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// FNV-1a over an event row's compared fields (kind, task, request,
/// agent, decision), each followed by a separator byte.
fn fields_hash<S: AsRef<str>>(fields: &[S]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in fields {
        for &b in f.as_ref().as_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A live run's events, hashed as their `events.csv` rows.
#[derive(Default)]
struct RowHashes(Vec<(u64, u64)>);

impl Sink for RowHashes {
    fn event(&mut self, row: &EventRow) {
        let f = event_fields(row);
        self.0.push((row.time.0, fields_hash(&f[2..])));
    }
}

/// `S.NNNNNNNNN` (as `events.csv` writes times) in nanoseconds.
fn parse_secs(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.')?;
    if frac.len() != 9 {
        return None;
    }
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac.parse::<u64>().ok()?)
}

/// A recorded log: each event's time and row hash, and its task
/// (`NO_TASK`: none).
struct Recorded {
    hashes: Vec<(u64, u64)>,
    tasks: Vec<u64>,
}

const NO_TASK: u64 = u64::MAX;

fn read_log(path: &Path) -> Result<Recorded, LogError> {
    let io = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |line: u64, message: String| LogError::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::new(file));
    let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    if header.iter().ne(EVENT_COLUMNS.iter().copied()) {
        return Err(bad(
            1,
            format!(
                "not an event log: the header must be {}",
                EVENT_COLUMNS.join(",")
            ),
        ));
    }
    let mut hashes = Vec::new();
    let mut tasks = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        if rec.len() != EVENT_COLUMNS.len() {
            return Err(bad(
                line,
                format!("{} fields, expected {}", rec.len(), EVENT_COLUMNS.len()),
            ));
        }
        let seq: u64 = rec[0]
            .parse()
            .map_err(|_| bad(line, format!("seq `{}` is not a number", &rec[0])))?;
        if seq != i as u64 + 1 {
            return Err(bad(
                line,
                format!(
                    "event #{seq} where #{} was expected: the log is filtered; \
                     record it with plain `fleetsim run SCENARIO --events` (no --events-kind, \
                     --events-agent or --events-window)",
                    i + 1
                ),
            ));
        }
        let t = parse_secs(&rec[1]).ok_or_else(|| {
            bad(
                line,
                format!("time_s `{}` is not seconds with 9 decimals", &rec[1]),
            )
        })?;
        let fields: Vec<&str> = rec.iter().skip(2).collect();
        hashes.push((t, fields_hash(&fields)));
        tasks.push(rec[3].parse().unwrap_or(NO_TASK));
    }
    Ok(Recorded { hashes, tasks })
}

/// One pass over a recorded log up to event #`to`: the rows before it
/// that concern `task` (all fields, `seq` first), and row #`to` itself.
fn log_rows(path: &Path, task: Option<&str>, to: u64) -> (Vec<Vec<String>>, Option<Vec<String>>) {
    let mut history = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return (history, None);
    };
    let mut reader = ::csv::Reader::from_reader(std::io::BufReader::new(file));
    for rec in reader.records().map_while(Result::ok) {
        let seq: u64 = rec[0].parse().unwrap_or(0);
        let fields = || rec.iter().map(str::to_string).collect();
        if seq == to {
            return (history, Some(fields()));
        }
        if task.is_some_and(|t| &rec[3] == t) {
            history.push(fields());
        }
    }
    (history, None)
}

/// A recorded row as [`line`] shows a live one.
fn log_line(f: &[String]) -> String {
    let mut s = format!("#{} t={} s {}", f[0], f[1], f[2]);
    if !f[5].is_empty() {
        let _ = write!(s, " agent {}", f[5]);
    }
    if !f[6].is_empty() {
        let _ = write!(s, ": {}", f[6]);
    }
    s
}

/// Compare the recorded log `dir/events.csv` (side A, `label_a`) with a
/// fresh run of `sc` on `seed` (side B, `label_b`).
pub fn against_log(dir: &Path, label_a: &str, b: &Side, seed: Seed) -> Result<Diff, LogError> {
    let path = dir.join("events.csv");
    let recorded = read_log(&path)?;
    let mut live = RowHashes::default();
    let fb = World::new(b.sc, seed)
        .with_sink(&mut live)
        .run()
        .fingerprint;
    let (ha, hb) = (&recorded.hashes, &live.0);
    let first = first_divergence(ha, hb);
    let mut out = String::new();
    let Some(k) = first else {
        let _ = writeln!(
            out,
            "no difference: the run handled the same {} events with the same decisions as {} \
             (fingerprint {fb:016x})",
            hb.len(),
            path.display()
        );
        return Ok(Diff {
            first: None,
            text: out,
        });
    };
    let seq = k as u64 + 1;
    let db = detail(b.sc, seed, seq);
    let at = first_line(&mut out, ha, hb, k);
    // The task: the recorded row's, else the run's; then, in one pass
    // over the log, its rows before the divergent event and that event's.
    let task = recorded
        .tasks
        .get(k)
        .copied()
        .filter(|&t| t != NO_TASK)
        .or_else(|| db.row.as_ref().and_then(|r| r.task));
    let task_text = task.map(|t| t.to_string());
    let (history, recorded_row) = log_rows(&path, task_text.as_deref(), seq);
    if let Some(t) = task {
        let recent = &history[history.len().saturating_sub(HISTORY)..];
        write_history(&mut out, t, recent.iter().map(|f| log_line(f)));
    }
    let _ = writeln!(out, "\n{label_a}:");
    match &recorded_row {
        None => {
            let _ = writeln!(out, "  (no event #{seq}: the recorded run had ended)");
        }
        Some(f) => {
            let _ = writeln!(out, "  {}", log_line(f));
            if f[6].is_empty() {
                let _ = writeln!(out, "  (decided nothing)");
            }
        }
    }
    describe_side(&mut out, &b.label, &db, seq);
    let _ = writeln!(out);
    out += &divergence(ha, hb, at);
    let _ = writeln!(out, "fingerprint of the run: {fb:016x}");
    Ok(Diff {
        first: Some(seq),
        text: out,
    })
}
