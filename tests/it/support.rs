//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetsim::harness;
use fleetsim::metrics::RunResult;
use fleetsim::scenario::{self, Override, Scenario};

/// The repository root (where `scenarios/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `--set` style overrides.
pub fn overrides(sets: &[&str]) -> Vec<Override> {
    sets.iter()
        .map(|s| s.parse().expect("valid override"))
        .collect()
}

/// Load a scenario file from the repository with `--set` style overrides.
pub fn load(rel: &str, sets: &[&str]) -> Scenario {
    scenario::load_file(&root().join(rel), &overrides(sets))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Load a scenario from its text with `--set` style overrides.
pub fn load_text(text: &str, sets: &[&str]) -> Scenario {
    scenario::load_str("t.toml", "t", text, &overrides(sets)).unwrap_or_else(|e| panic!("{e}"))
}

/// Run replication 0 of a scenario given as text.
pub fn run_text(text: &str, sets: &[&str]) -> RunResult {
    harness::run_one(&load_text(text, sets), "v", 0).result
}

/// Run the real binary in `dir` (with `CI` set: no progress bars).
pub fn fleetsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .output()
        .expect("the binary runs")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The peak resident memory (MB) that `perf.csv` in `out` reports for its
/// first run; `None` where the platform does not report it.
pub fn peak_rss_mb(out: &Path) -> Option<f64> {
    let perf = std::fs::read_to_string(out.join("perf.csv")).unwrap();
    let header: Vec<&str> = perf.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "peak_rss_mb").unwrap();
    let value = perf.lines().nth(1).unwrap().split(',').nth(col).unwrap();
    (!value.is_empty()).then(|| value.parse().unwrap())
}

/// A small valid scenario: two agents of one tier serving `compute`, Poisson
/// arrivals; tests of errors break one key of it.
pub const BASE: &str = r#"name = "base"
duration = "10s"

[[fleet.tiers]]
name = "a"
count = 2
service_time = { dist = "constant", value = "5ms" }
capabilities = ["compute"]

[workload]
arrivals = { process = "poisson", rate = 10.0 }
"#;
