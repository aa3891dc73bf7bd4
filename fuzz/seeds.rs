//! The seed inputs of each fuzz target, built from the repository's own
//! files: the reference scenarios, the theory scenarios, the reference
//! trace, plus hand-written `--set` arguments, trace options and duration
//! strings, and every saved crasher under `tests/fuzz_regressions/<target>/`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (this file is in `fuzz/`, included from two crates).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("scenarios").is_dir() {
        here.to_path_buf()
    } else {
        here.join("..")
    }
}

fn files(dir: &Path, ext: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| ext.is_empty() || p.extension().is_some_and(|e| e == ext))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("a readable seed"))
        .collect()
}

/// Saved crashers of `target`, by file name.
pub fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fuzz_regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("a readable crasher"))
        })
        .collect();
    out.sort();
    out
}

fn scenario_texts() -> Vec<Vec<u8>> {
    let root = root();
    let mut out = files(&root.join("scenarios"), "toml");
    out.extend(files(&root.join("scenarios/theory"), "toml"));
    out
}

/// `--set` arguments as people write them.
const SET_ARGS: &[&str] = &[
    "dispatch.workers=8",
    "balancer.strategy=round_robin",
    "balancer.strategy=p2c",
    "workload.arrivals.speedup=2",
    "workload.arrivals.start=\"60s\"",
    "workload.arrivals.end=\"180s\"",
    "workload.arrivals.loop=true",
    "duration=\"20m\"",
    "duration=20m",
    "seed=7",
    "fleet.tiers[0].count=4",
    "fleet.tiers.0.count=4",
    "fleet.tiers[0].service_time={ dist = \"fixed\", value = \"1ms\" }",
    "fleet.tiers[0].service_time.dist=lognormal",
    "workload.arrivals.rate=250.0",
    "faults=[]",
    "health.interval=\"1s\"",
    "request.deadline=\"2s\"",
    "name=\"x\"",
];

/// Trace option lines (see `targets::trace`) and CSV bodies.
fn traces() -> Vec<Vec<u8>> {
    let root = root();
    let mut out = Vec::new();
    for body in files(&root.join("scenarios/traces"), "csv") {
        // The first 200 lines: long enough for every shape, short enough to mutate.
        let text = String::from_utf8_lossy(&body);
        let head: String = text.lines().take(200).map(|l| format!("{l}\n")).collect();
        let first = text.lines().next().unwrap_or("");
        let cols: Vec<&str> = first.split(',').collect();
        let pick = |name: &str| cols.iter().find(|c| **c == name).copied();
        let mut opts = format!("time={}", cols[0]);
        if let Some(w) = pick("bytes") {
            opts.push_str(&format!(";work={w}"));
        }
        if let Some(p) = pick("priority") {
            opts.push_str(&format!(";priority={p}"));
        }
        for extra in [
            "",
            ";capability=path",
            ";speedup=2;start=1s;end=5s;loop=1",
            ";start=2026-03-10 09:00:01;end=2026-03-10 09:00:03",
        ] {
            out.push(format!("{opts}{extra}\n{head}").into_bytes());
        }
    }
    let synthetic = [
        "time=t;work=w\nt,w\n0,1\n0.5,2\n1.25,\n2,0.5\n",
        "time=t;loop=1;speedup=0.5\nt\n0\n1\n3\n",
        "time=t;end=10s;loop=1\nt\n5\n",
        "time=at;priority=p;capability=cap\nat,p,cap\n18:17:03.97,high,db\n18:17:04,0,\n18:17:04.5,low,cache\n23:59:60,critical,db\n",
        "time=ts\nts\n2023-11-16T18:17:03.97Z\n2023-11-16 18:17:04+01:00\n2023-11-16t18:17:05-00:30\n",
        "time=t;start=1e9;end=1.7e9\nt\n1e9\n1.5e9\n1.6e9\n",
        "time=t\nt,x\n\"1\",\"a\nb\"\n2,\"c\"\"d\"\n",
        "time=t;speedup=1e-300\nt\n0\n9223372036.854775807\n",
    ];
    out.extend(synthetic.iter().map(|s| s.as_bytes().to_vec()));
    out
}

/// Duration and time strings.
const DURATIONS: &[&str] = &[
    "250us",
    "250µs",
    "10ms",
    "1.5s",
    "2m",
    "2min",
    "1h",
    "7ns",
    "0s",
    ".5s",
    "1_000ms",
    "+3s",
    "1.000001s",
    "0.000000001s",
    "18446744073.709551615s",
    "5124095h",
    "12.5",
    "18:17:03.97",
    "23:59:60.5",
    "2023-11-16 18:17:03.9799600",
    "2023-11-16T18:17:03+05:30",
    "1.7e9",
];

/// The seeds of `target`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out = match target {
        "scenario" => scenario_texts(),
        "set" => {
            let mut out: Vec<Vec<u8>> = SET_ARGS.iter().map(|a| a.as_bytes().to_vec()).collect();
            out.push(SET_ARGS.join("\n").into_bytes());
            for (i, text) in scenario_texts().into_iter().enumerate() {
                let mut s = SET_ARGS[i % SET_ARGS.len()].as_bytes().to_vec();
                s.push(b'\n');
                s.extend_from_slice(SET_ARGS[(i * 7 + 3) % SET_ARGS.len()].as_bytes());
                s.push(0);
                s.extend_from_slice(&text);
                out.push(s);
            }
            out
        }
        "trace" => traces(),
        "duration" => DURATIONS.iter().map(|d| d.as_bytes().to_vec()).collect(),
        other => panic!("no fuzz target `{other}`"),
    };
    out.extend(regressions(target).into_iter().map(|(_, b)| b));
    out
}
