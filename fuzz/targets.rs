//! The fuzz targets: each takes arbitrary bytes, feeds them to one parser
//! and checks that it returns a value or an error and never panics, plus the
//! properties the parser promises (a duration prints as text that parses
//! back to the same duration, a replayed trace yields the rows its scan
//! counted, ...). A broken property is a panic here, so every engine (the
//! stable loop in `tests/it/fuzz.rs`, libFuzzer via `cargo fuzz`) reports
//! it the same way.
//!
//! Why: scenario files, `--set` arguments and trace logs are written by
//! people and programs we do not control; "never hang, never half-write"
//! starts with never panicking on what they write.
//!
//! Targets only parse and validate; none runs a scenario (a valid mutated
//! scenario can ask for a billion agents). Shared by the stable test loop
//! and the libFuzzer harness through `#[path]`, so it uses only the public
//! API of `fleetsim`.

#![allow(dead_code)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use fleetsim::scenario::{self, KeyPath, Override};
use fleetsim::time::{Duration, parse_duration};
use fleetsim::workload::trace::{self, TraceReader, TraceSpec, parse_bound, parse_time};

/// The longest input a target looks at; libFuzzer's `-max_len` should match.
pub const MAX_LEN: usize = 64 * 1024;

/// A target: any bytes in, a panic if something is wrong.
pub type Target = fn(&[u8]);

/// The targets by name, as `cargo fuzz run NAME` and the test loop call them.
pub const TARGETS: &[(&str, Target)] = &[
    ("scenario", scenario),
    ("set", set),
    ("trace", trace),
    ("duration", duration),
];

/// The folder whose relative paths a fuzzed scenario resolves against
/// (so `file = "traces/api_gateway.csv"` finds the reference trace). This
/// file is in `fuzz/`, included from the package and from `fuzz/`'s crate.
fn scenarios_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("scenarios").is_dir() {
        here.join("scenarios")
    } else {
        here.join("../scenarios")
    }
}

/// Scenario text → `Scenario` or an error, never a panic. Bytes that are
/// not UTF-8 go through `load_file`, which reports where the bad byte is.
pub fn scenario(data: &[u8]) {
    let data = &data[..data.len().min(MAX_LEN)];
    let file = scenarios_dir().join("fuzz.toml");
    let result = match std::str::from_utf8(data) {
        Ok(text) => scenario::load_str(&file.display().to_string(), "fuzz", text, &[]),
        Err(_) => with_temp_file("toml", data, |path| scenario::load_file(path, &[])),
    };
    if let Err(e) = result {
        let _ = e.to_string();
    }
}

/// `--set` arguments: the input is `ARG\nARG\n...` then, after a NUL byte,
/// the scenario text (none: the built-in `steady_load`). Each argument parses
/// as an `Override` or an error; a parsed one prints as an argument that
/// parses back to itself, and its key path prints as a path that parses
/// back to the same path. Then the scenario loads with them applied, or
/// fails with an error.
pub fn set(data: &[u8]) {
    let data = &data[..data.len().min(MAX_LEN)];
    let (args, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let args = String::from_utf8_lossy(args);
    let mut overrides = Vec::new();
    for arg in args.lines().take(16) {
        let Ok(ov) = Override::from_str(arg) else {
            continue;
        };
        let shown = ov.to_string();
        let again = shown
            .strip_prefix("--set ")
            .map(Override::from_str)
            .unwrap_or_else(|| panic!("{shown:?} does not start with `--set `"));
        assert_eq!(again.as_ref(), Ok(&ov), "{arg:?} printed as {shown:?}");
        let path = KeyPath::parse(&ov.path).expect("a parsed override has a key path");
        let printed = path.to_string();
        assert_eq!(
            KeyPath::parse(&printed).as_ref(),
            Some(&path),
            "key path {:?} printed as {printed:?}",
            ov.path
        );
        overrides.push(ov);
    }
    let text = match text {
        Some(t) => String::from_utf8_lossy(t).into_owned(),
        None => scenario::builtin("steady_load")
            .expect("steady_load is built in")
            .to_string(),
    };
    let file = scenarios_dir().join("fuzz.toml");
    if let Err(e) = scenario::load_str(&file.display().to_string(), "fuzz", &text, &overrides) {
        let _ = e.to_string();
    }
}

/// Options for the trace target, from the input's first line:
/// `key=value` pairs separated by `;` (`time=ts;work=bytes;priority=p;`
/// `capability=c;speedup=2;start=60s;end=2m;loop=1`); unknown keys are
/// ignored, and a missing `time` means the header's first field.
#[derive(Debug, Default)]
struct TraceOptions {
    time: Option<String>,
    work: Option<String>,
    priority: Option<String>,
    capability: Option<String>,
    speedup: Option<f64>,
    start: Option<String>,
    end: Option<String>,
    looped: bool,
}

impl TraceOptions {
    fn parse(line: &str) -> TraceOptions {
        let mut o = TraceOptions::default();
        for pair in line.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let v = v.to_string();
            match k.trim() {
                "time" => o.time = Some(v),
                "work" => o.work = Some(v),
                "priority" => o.priority = Some(v),
                "capability" => o.capability = Some(v),
                "speedup" => o.speedup = v.trim().parse().ok(),
                "start" => o.start = Some(v),
                "end" => o.end = Some(v),
                "loop" => o.looped = v.trim() == "1" || v.trim() == "true",
                _ => {}
            }
        }
        o
    }
}

/// The most rows the trace target replays (per lap).
const MAX_ROWS: u64 = 4096;

/// A trace: the first line holds the options ([`TraceOptions`]), the rest is
/// the CSV file. `scan` returns what it found or an error; when it succeeds,
/// the replay yields exactly the rows it counted, in time order, inside the
/// span, with capability indices in range, and a looped replay repeats the
/// first lap shifted by the period.
pub fn trace(data: &[u8]) {
    let data = &data[..data.len().min(MAX_LEN)];
    let (opts, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let o = TraceOptions::parse(&String::from_utf8_lossy(opts));
    // Bounds as the scenario gives them: strings through parse_bound.
    let start = match o.start.as_deref().map(parse_bound) {
        Some(Err(_)) => return,
        b => b.map(Result::unwrap),
    };
    let end = match o.end.as_deref().map(parse_bound) {
        Some(Err(_)) => return,
        b => b.map(Result::unwrap),
    };
    let time_column = o.time.clone().unwrap_or_else(|| {
        let first = body
            .split(|&b| b == b'\n' || b == b',')
            .next()
            .unwrap_or(b"");
        String::from_utf8_lossy(first).trim().to_string()
    });
    with_temp_file("csv", body, |path| {
        let spec = TraceSpec {
            path: path.to_path_buf(),
            time_column,
            work_column: o.work.clone(),
            priority_column: o.priority.clone(),
            capability_column: o.capability.clone(),
            speedup: o.speedup.unwrap_or(1.0),
            start,
            end,
            looped: o.looped,
        };
        let info = match trace::scan(&spec) {
            Ok(info) => info,
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        };
        assert!(info.rows > 0, "a scan that succeeds has rows: {info:?}");
        if info.rows > MAX_ROWS {
            return;
        }
        let mut reader = TraceReader::open(&spec, &info).expect("the file scanned a moment ago");
        let laps = if spec.looped { 2 } else { 1 };
        let mut first_lap = Vec::new();
        for lap in 0..laps {
            let mut prev = None;
            for i in 0..info.rows {
                let row = reader
                    .next_row()
                    .unwrap_or_else(|e| panic!("row {i} of lap {lap}: {e} ({info:?})"))
                    .unwrap_or_else(|| panic!("lap {lap} ended after {i} rows ({info:?})"));
                assert!(
                    prev <= Some(row.at),
                    "time went backwards at row {i}: {row:?}"
                );
                prev = Some(row.at);
                if let Some(c) = row.capability {
                    assert!((c as usize) < info.capabilities.len(), "{row:?} {info:?}");
                }
                if let Some(w) = row.work {
                    assert!(w.is_finite() && w >= 0.0, "{row:?}");
                }
                if lap == 0 {
                    assert!(
                        row.at.as_nanos() <= info.span.as_nanos(),
                        "{row:?} {info:?}"
                    );
                    first_lap.push(row);
                } else {
                    let period = info.period.expect("looped").as_nanos();
                    let r0 = first_lap[i as usize];
                    assert_eq!(
                        row.at.as_nanos(),
                        r0.at.as_nanos().saturating_add(period),
                        "lap 1 row {i} is lap 0's shifted by the period ({info:?})"
                    );
                }
            }
        }
        if !spec.looped {
            let after = reader.next_row();
            assert!(matches!(after, Ok(None)), "after the last row: {after:?}");
        }
    });
}

/// Duration strings, and the other small time parsers of scenario values:
/// `parse_duration`, `parse_time`, `parse_bound` return a value or an
/// error; a parsed duration or trace time prints as text that parses back
/// to the same value.
pub fn duration(data: &[u8]) {
    let data = &data[..data.len().min(4096)];
    let s = String::from_utf8_lossy(data);
    match parse_duration(&s) {
        Ok(d) => {
            let shown = d.to_string();
            assert_eq!(
                parse_duration(&shown),
                Ok(d),
                "{s:?} parsed as {} ns, printed as {shown:?}",
                d.as_nanos()
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(t) = parse_time(&s) {
        let shown = t.to_string();
        assert_eq!(
            parse_time(&shown),
            Ok(t),
            "{s:?} parsed as {t:?}, printed as {shown:?}"
        );
    }
    let _ = parse_bound(&s);
    // The printer alone, on any nanosecond count.
    if data.len() >= 8 {
        let ns = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let d = Duration::from_nanos(ns);
        assert_eq!(
            parse_duration(&d.to_string()),
            Ok(d),
            "{ns} ns printed as {d}"
        );
    }
}

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// Write `data` to a fresh file in this process's temporary folder, give its
/// path to `f`, and remove it.
fn with_temp_file<T>(ext: &str, data: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    let dir = std::env::temp_dir().join(format!("fleetsim-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let n = COUNTER.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let path =
        dir.join(format!("{:?}-{n}.{ext}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, data).expect("a temporary file");
    let out = f(&path);
    let _ = std::fs::remove_file(&path);
    out
}
