//! The event log and per-task records on disk: `events.csv`, `tasks.csv`
//! and `attempts.csv`, streamed through buffered writers as a run goes
//! (constant memory), with their filters.
//!
//! Files are written into the staging directory of the run's report
//! directory, so they are listed in `manifest.json` with the rest. One run
//! writes `events.csv` (or the name given); with replications, replication
//! `r` writes `events-r<r>.csv` (and `tasks-r<r>.csv`, `attempts-r<r>.csv`),
//! each run to its own files, so the bytes do not depend on the number of
//! threads. Rows come in the order the world produces them: events by
//! sequence number, tasks by the time they end, attempts by the time they
//! settle. Times are seconds with nine decimals (exact nanoseconds).

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::time::{Duration, Instant};
use crate::world::trace::{AttemptRow, EventRow, Sink, TaskRow, outcome_str, secs};

/// A time window `[from, to)` of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: Instant,
    pub to: Instant,
}

impl Window {
    pub const ALL: Window = Window {
        from: Instant::ZERO,
        to: Instant::MAX,
    };

    pub fn contains(&self, t: Instant) -> bool {
        self.from <= t && t < self.to
    }
}

impl std::str::FromStr for Window {
    type Err = String;

    /// `FROM..TO` in scenario durations (`10s..20s`); either end may be
    /// left out (`..30s`, `5m..`).
    fn from_str(s: &str) -> Result<Window, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("`{s}`: not FROM..TO, e.g. 10s..20s or ..30s"))?;
        let at = |x: &str, default: Instant| -> Result<Instant, String> {
            let x = x.trim();
            if x.is_empty() {
                return Ok(default);
            }
            crate::time::parse_duration(x)
                .map(|d: Duration| Instant(d.as_nanos()))
                .map_err(|e| format!("`{x}`: {e}"))
        };
        let w = Window {
            from: at(a, Instant::ZERO)?,
            to: at(b, Instant::MAX)?,
        };
        if w.from >= w.to {
            return Err(format!(
                "`{s}`: the window is empty (FROM must be before TO)"
            ));
        }
        Ok(w)
    }
}

/// Which events go to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    /// Kinds by name (`world::Event::KINDS`); empty: all.
    pub kinds: Vec<String>,
    /// Agents by id; empty: all (an event with no agent passes only when
    /// this is empty).
    pub agents: Vec<u32>,
    pub window: Window,
}

/// Which tasks get records (their attempts follow them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordFilter {
    /// Tasks whose arrival is in the window.
    pub window: Window,
    /// Tasks whose number is a multiple of `sample` (1: all).
    pub sample: u64,
}

/// What to write: the file names (in the report directory) and filters.
#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    /// `events.csv` (or another name) and its filter.
    pub events: Option<(String, EventFilter)>,
    /// `tasks.csv` (or another name; attempts go to `attempts.csv`) and
    /// the filter.
    pub records: Option<(String, RecordFilter)>,
}

impl TraceOptions {
    pub fn any(&self) -> bool {
        self.events.is_some() || self.records.is_some()
    }

    /// The files replication `r` of `replications` writes, in order
    /// (events, tasks, attempts).
    pub fn files(&self, r: u32, replications: u32) -> Vec<String> {
        let mut out = Vec::new();
        let name = |base: &str| {
            if replications == 1 {
                base.to_string()
            } else {
                let (stem, ext) = base.rsplit_once('.').unwrap_or((base, "csv"));
                format!("{stem}-r{r}.{ext}")
            }
        };
        if let Some((f, _)) = &self.events {
            out.push(name(f));
        }
        if let Some((f, _)) = &self.records {
            out.push(name(f));
            out.push(name(ATTEMPTS));
        }
        out
    }
}

/// The attempts file's name.
pub const ATTEMPTS: &str = "attempts.csv";

pub const EVENT_COLUMNS: &[&str] = &[
    "seq", "time_s", "kind", "task", "request", "agent", "decision",
];
pub const TASK_COLUMNS: &[&str] = &[
    "task",
    "arrival_s",
    "priority",
    "capability",
    "attempts",
    "end_s",
    "latency_ms",
    "outcome",
    "cause",
];
pub const ATTEMPT_COLUMNS: &[&str] = &[
    "task",
    "attempt",
    "agent",
    "sent_s",
    "received_s",
    "service_start_s",
    "replied_s",
    "settled_s",
    "outcome",
    "cause",
    "caller",
    "capability",
];

/// An event's row in `events.csv`, field by field (see [`EVENT_COLUMNS`]).
pub fn event_fields(row: &EventRow) -> [String; 7] {
    let n = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
    [
        row.seq.to_string(),
        secs(row.time),
        row.kind.to_string(),
        n(row.task),
        n(row.req.map(u64::from)),
        n(row.agent.map(u64::from)),
        row.decision.clone(),
    ]
}

type Csv = ::csv::Writer<BufWriter<File>>;

/// Writes one run's files as rows come.
pub struct CsvSink {
    events: Option<(Csv, EventFilter)>,
    records: Option<(Csv, Csv, RecordFilter)>,
    /// Kinds by code, resolved from the filter's names.
    kinds: Vec<bool>,
    error: Option<io::Error>,
    paths: Vec<PathBuf>,
}

fn open(path: &Path, header: &[&str]) -> io::Result<Csv> {
    let mut w = ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, File::create(path)?));
    w.write_record(header)?;
    Ok(w)
}

fn opt(t: Option<Instant>) -> String {
    t.map(secs).unwrap_or_default()
}

impl CsvSink {
    /// Create replication `r`'s files in `dir`.
    pub fn create(dir: &Path, o: &TraceOptions, r: u32, replications: u32) -> io::Result<CsvSink> {
        let files = o.files(r, replications);
        let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
        let mut i = 0;
        let events = match &o.events {
            None => None,
            Some((_, f)) => {
                i += 1;
                Some((open(&paths[0], EVENT_COLUMNS)?, f.clone()))
            }
        };
        let records = match &o.records {
            None => None,
            Some((_, f)) => Some((
                open(&paths[i], TASK_COLUMNS)?,
                open(&paths[i + 1], ATTEMPT_COLUMNS)?,
                *f,
            )),
        };
        let kinds = match &o.events {
            Some((_, f)) if !f.kinds.is_empty() => crate::world::Event::KINDS
                .iter()
                .map(|k| f.kinds.iter().any(|x| x == k))
                .collect(),
            _ => vec![true; crate::world::Event::KINDS.len()],
        };
        Ok(CsvSink {
            events,
            records,
            kinds,
            error: None,
            paths,
        })
    }

    /// Flush the files; the first write error, if any.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some((w, _)) = &mut self.events {
            w.flush()?;
        }
        if let Some((t, a, _)) = &mut self.records {
            t.flush()?;
            a.flush()?;
        }
        Ok(self.paths)
    }

    fn keep(&mut self, r: ::csv::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e.into());
        }
    }
}

impl RecordFilter {
    fn keeps(&self, task: u64, arrival: Instant) -> bool {
        task.is_multiple_of(self.sample) && self.window.contains(arrival)
    }
}

impl Sink for CsvSink {
    fn events(&self) -> bool {
        self.events.is_some()
    }

    fn records(&self) -> bool {
        self.records.is_some()
    }

    fn event(&mut self, row: &EventRow) {
        let Some((w, f)) = &mut self.events else {
            return;
        };
        let kind = crate::world::Event::KINDS
            .iter()
            .position(|k| *k == row.kind)
            .unwrap_or(0);
        if !self.kinds[kind]
            || !f.window.contains(row.time)
            || !(f.agents.is_empty() || row.agent.is_some_and(|a| f.agents.contains(&a)))
        {
            return;
        }
        let r = w.write_record(event_fields(row));
        self.keep(r);
    }

    fn task(&mut self, row: &TaskRow) {
        let Some((w, _, f)) = &mut self.records else {
            return;
        };
        if !f.keeps(row.id, row.arrival) {
            return;
        }
        let outcome = outcome_str(row.outcome);
        let (outcome, cause) = outcome.split_once(' ').unwrap_or((&outcome, ""));
        let latency = row.end.0 - row.arrival.0;
        let r = w.write_record([
            row.id.to_string(),
            secs(row.arrival),
            row.priority.as_str().to_string(),
            row.capability.clone(),
            row.attempts.to_string(),
            secs(row.end),
            format!("{}.{:06}", latency / 1_000_000, latency % 1_000_000),
            outcome.to_string(),
            cause.to_string(),
        ]);
        self.keep(r);
    }

    fn attempt(&mut self, row: &AttemptRow) {
        let Some((_, w, f)) = &mut self.records else {
            return;
        };
        if !f.keeps(row.task, row.arrival) {
            return;
        }
        let (outcome, cause) = match row.cause {
            None => ("ok", ""),
            Some(c @ crate::world::trace::AttemptEnd::Cancelled) => ("cancelled", c.as_str()),
            Some(c) => ("failed", c.as_str()),
        };
        let r = w.write_record([
            row.task.to_string(),
            row.attempt.to_string(),
            row.agent.to_string(),
            secs(row.sent),
            opt(row.received),
            opt(row.service_start),
            opt(row.replied),
            secs(row.settled),
            outcome.to_string(),
            if cause == "cancelled" {
                String::new()
            } else {
                cause.to_string()
            },
            row.caller.map(|a| a.to_string()).unwrap_or_default(),
            row.capability.clone(),
        ]);
        self.keep(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_open_ends_and_refuse_empty_ones() {
        let w: Window = "10s..20s".parse().unwrap();
        assert!(w.contains(Instant(10_000_000_000)) && !w.contains(Instant(20_000_000_000)));
        assert_eq!("..5s".parse::<Window>().unwrap().from, Instant::ZERO);
        assert_eq!("5s..".parse::<Window>().unwrap().to, Instant::MAX);
        assert!("5s".parse::<Window>().unwrap_err().contains("FROM..TO"));
        assert!("5s..1s".parse::<Window>().unwrap_err().contains("empty"));
    }

    #[test]
    fn replications_get_one_file_each() {
        let o = TraceOptions {
            events: Some((
                "events.csv".into(),
                EventFilter {
                    kinds: vec![],
                    agents: vec![],
                    window: Window::ALL,
                },
            )),
            records: Some((
                "tasks.csv".into(),
                RecordFilter {
                    window: Window::ALL,
                    sample: 1,
                },
            )),
        };
        assert_eq!(o.files(0, 1), ["events.csv", "tasks.csv", "attempts.csv"]);
        assert_eq!(
            o.files(2, 3),
            ["events-r2.csv", "tasks-r2.csv", "attempts-r2.csv"]
        );
    }
}
