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

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::rng::Seed;
use crate::scenario::Scenario;
use crate::world::World;
use crate::world::trace::{EventRow, Sink, TaskRow, secs};

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
    let first = ha
        .iter()
        .zip(&hb)
        .position(|(x, y)| x != y)
        .or_else(|| (ha.len() != hb.len()).then(|| ha.len().min(hb.len())));
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
    let at = ha.get(k).or(hb.get(k)).map_or(0, |x| x.0);
    let _ = writeln!(
        out,
        "first difference at event #{seq}, t = {} s (the {} events before it are identical)",
        secs(crate::time::Instant(at)),
        k
    );
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
        let _ = writeln!(
            out,
            "\ntask {t}, its history so far (identical on both sides):"
        );
        if history.is_empty() {
            let _ = writeln!(out, "  (none: it starts here)");
        }
        for l in history {
            let _ = writeln!(out, "  {l}");
        }
    }
    for (side, d) in [(a, &da), (b, &db)] {
        let _ = writeln!(out, "\n{}:", side.label);
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
