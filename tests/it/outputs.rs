//! Crash-consistent output directories through the real binary: a run
//! killed at random points never leaves a directory that `verify` accepts
//! but that differs from a complete run, the previous output survives,
//! `verify` names what is wrong, `merge` refuses a shard that lost a row in
//! any CSV, and `manifest.json` is deterministic like the CSVs.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::support::{fleetsim, text};

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = fleetsim(dir, args);
    assert!(
        o.status.success(),
        "fleetsim {args:?} failed: {}",
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// The manifest without its `perf.csv` line (wall-clock times differ
/// between runs; every other byte of the manifest must not).
fn manifest_sans_perf(dir: &Path) -> String {
    let m = fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    m.lines()
        .filter(|l| !l.contains("\"path\": \"perf.csv\""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn verify_code(dir: &Path, target: &str) -> (Option<i32>, String) {
    let o = fleetsim(dir, &["verify", target]);
    (o.status.code(), text(&o.stderr))
}

/// A run of a few seconds of simulation and eight charts: long enough to
/// be killed while writing.
const RUN: &[&str] = &["run", "steady_load", "--replications", "3", "--quiet"];

#[test]
fn a_killed_run_leaves_the_previous_output_or_the_new_one_never_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fn with(seed: &'static str, out: &'static str) -> Vec<&'static str> {
        let mut a = RUN.to_vec();
        a.extend_from_slice(&["--seed", seed, "--out", out]);
        a
    }
    // What a complete run of each seed writes.
    let started = Instant::now();
    ok(d, &with("2", "new"));
    let full = started.elapsed();
    ok(d, &with("1", "out"));
    let (previous, new) = (
        manifest_sans_perf(&d.join("out")),
        manifest_sans_perf(&d.join("new")),
    );
    assert_ne!(previous, new, "the two seeds must give different outputs");
    // Kill the seed-2 run into `out` after delays spread over a whole run,
    // from a fixed list (a seeded LCG), so a failure replays.
    let mut x: u64 = 0x5eed;
    let mut states = [0usize; 2];
    for _ in 0..10 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let frac = (x >> 33) as f64 / (1u64 << 31) as f64;
        let delay = full.mul_f64(frac * 1.1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(with("2", "out"))
            .current_dir(d)
            .env("CI", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        let (code, err) = verify_code(d, "out");
        assert_eq!(code, Some(0), "after a kill at {delay:?}: {err}");
        let now = manifest_sans_perf(&d.join("out"));
        if now == previous {
            states[0] += 1;
        } else {
            assert_eq!(now, new, "after a kill at {delay:?}: a mix of two runs");
            states[1] += 1;
            // Back to the previous output for the next kill.
            ok(d, &with("1", "out"));
        }
    }
    eprintln!(
        "kills: {} left the previous output, {} the new one",
        states[0], states[1]
    );
    assert!(states[0] > 0, "no kill landed before the swap: {states:?}");
    // The next complete run cleans up whatever the kills left beside it.
    ok(d, &with("2", "out"));
    assert_eq!(manifest_sans_perf(&d.join("out")), new);
    let mut left: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["new", "out"], "leftovers of killed runs");
}

#[test]
fn a_killed_first_run_leaves_nothing_verify_accepts_but_a_complete_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args = RUN.to_vec();
    args.extend_from_slice(&["--out", "ref"]);
    let started = Instant::now();
    ok(d, &args);
    let full = started.elapsed();
    let want = manifest_sans_perf(&d.join("ref"));
    for (i, frac) in [0.2, 0.5, 0.8, 0.95].into_iter().enumerate() {
        let out = format!("fresh{i}");
        let mut a = RUN.to_vec();
        a.extend_from_slice(&["--out", &out]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(&a)
            .current_dir(d)
            .env("CI", "true")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(frac));
        let _ = child.kill();
        child.wait().unwrap();
        if verify_code(d, &out).0 == Some(0) {
            assert_eq!(manifest_sans_perf(&d.join(&out)), want);
        } else {
            assert!(
                !d.join(&out).exists(),
                "{out}: an incomplete output in place"
            );
        }
    }
}

#[test]
fn verify_names_a_changed_a_missing_and_an_unlisted_file_and_a_missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["run", "steady_load", "--quiet", "--out", "o"]);
    let out = ok(d, &["verify", "o"]);
    assert!(out.contains("ok: o ("), "{out}");
    let o = d.join("o");
    let check = |want: &str| {
        let (code, err) = verify_code(d, "o");
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(want), "want `{want}` in: {err}");
    };
    // A changed byte of the same size.
    let png = fs::read(o.join("charts/health.png")).unwrap();
    let mut changed = png.clone();
    *changed.last_mut().unwrap() ^= 1;
    fs::write(o.join("charts/health.png"), &changed).unwrap();
    check("charts/health.png has SHA-256");
    fs::write(o.join("charts/health.png"), &png).unwrap();
    ok(d, &["verify", "o"]);
    // A missing file, an unlisted one, no manifest.
    let summary = fs::read(o.join("summary.csv")).unwrap();
    fs::remove_file(o.join("summary.csv")).unwrap();
    check("summary.csv is listed in manifest.json but missing");
    fs::write(o.join("summary.csv"), &summary).unwrap();
    fs::write(o.join("charts/extra.svg"), "<svg/>").unwrap();
    check("charts/extra.svg is not listed");
    fs::remove_file(o.join("charts/extra.svg")).unwrap();
    fs::remove_file(o.join("manifest.json")).unwrap();
    check("no manifest.json");
    let (code, err) = verify_code(d, "nowhere");
    assert_eq!(code, Some(2), "{err}");
    // fit writes a manifest too.
    fs::write(d.join("log.csv"), "d\n0.1\n0.2\n0.35\n0.5\n0.9\n1.4\n").unwrap();
    ok(
        d,
        &["fit", "log.csv", "--column", "d", "--quiet", "--out", "f"],
    );
    ok(d, &["verify", "f"]);
}

/// Four agents, 5 simulated seconds.
const SMALL: &str = r#"
name = "small"
seed = 7
duration = "5s"

[[fleet.tiers]]
name = "fast"
count = 4
service_time = { dist = "exponential", mean = "20ms" }

[workload]
arrivals = { process = "poisson", rate = 30.0 }
"#;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn merge_refuses_a_shard_that_lost_a_row_of_any_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("small.toml"), SMALL).unwrap();
    for i in 0..2 {
        ok(
            d,
            &[
                "sweep",
                "small.toml",
                "--vary",
                "workload.arrivals.rate=20,40",
                "--replications",
                "2",
                "--quiet",
                "--shard",
                &format!("{i}/2"),
                "--out",
                &format!("s{i}"),
            ],
        );
    }
    ok(d, &["verify", "s0", "s1"]);
    ok(d, &["merge", "s0", "s1", "--out", "m", "--quiet"]);
    ok(d, &["verify", "m"]);
    let mut tried = 0;
    for name in [
        "summary.csv",
        "agents.csv",
        "timeseries.csv",
        "bus.csv",
        "calls.csv",
        "perf.csv",
    ] {
        let body = fs::read_to_string(d.join("s1").join(name)).unwrap();
        let lines: Vec<&str> = body.lines().collect();
        if lines.len() < 2 {
            continue;
        }
        tried += 1;
        let cut = format!("cut-{name}");
        copy_dir(&d.join("s1"), &d.join(&cut));
        // Drop the last data row and change nothing else.
        let kept = lines[..lines.len() - 1].join("\n") + "\n";
        fs::write(d.join(&cut).join(name), kept).unwrap();
        let o = fleetsim(d, &["merge", "s0", &cut, "--out", &format!("m-{name}")]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("{cut}: {name} has size")) && err.contains("run the shard again"),
            "{name}: {err}"
        );
        assert!(!d.join(format!("m-{name}")).exists(), "nothing is written");
    }
    assert!(tried >= 5, "{tried} CSVs with rows");
}

#[test]
fn the_manifest_is_the_same_on_every_run_but_for_perf_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("small.toml"), SMALL).unwrap();
    for out in ["a", "b"] {
        ok(
            d,
            &[
                "run",
                "small.toml",
                "--replications",
                "2",
                "--quiet",
                "--out",
                out,
            ],
        );
        ok(
            d,
            &[
                "sweep",
                "small.toml",
                "--vary",
                "workload.arrivals.rate=20,40",
                "--quiet",
                "--shard",
                "1/2",
                "--out",
                &format!("{out}/shard"),
            ],
        );
    }
    for sub in ["", "shard"] {
        let (a, b) = (d.join("a").join(sub), d.join("b").join(sub));
        assert_eq!(manifest_sans_perf(&a), manifest_sans_perf(&b), "{sub}");
        let m = fs::read_to_string(a.join("manifest.json")).unwrap();
        assert!(m.contains("\"fleetsim\": \"0."), "{m}");
        // No staging directory or temporary file (named with a process
        // id) reaches the manifest. (This asked whether the test's own
        // process id appeared anywhere in it, which a hash or a size
        // could contain by chance: it failed once, for pid 4744.)
        for leftover in [".staging-", ".old-", ".tmp-"] {
            assert!(!m.contains(leftover), "{leftover} in {m}");
        }
        for line in m
            .lines()
            .filter(|l| l.contains("\"path\"") && !l.contains("perf.csv"))
        {
            let path = line.split('"').nth(3).unwrap();
            assert_eq!(
                fs::read(a.join(path)).unwrap(),
                fs::read(b.join(path)).unwrap(),
                "{sub}/{path}"
            );
        }
    }
    // The nested shard survived the second run into its parent, and the
    // parent's manifest does not list it.
    assert!(!manifest_sans_perf(&d.join("a")).contains("shard"));
}
