//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetsim::scenario::{self, Override, Scenario};

/// The repository root (where `scenarios/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Load a scenario file from the repository with `--set` style overrides.
pub fn load(rel: &str, sets: &[&str]) -> Scenario {
    let overrides: Vec<Override> = sets
        .iter()
        .map(|s| s.parse().expect("valid override"))
        .collect();
    scenario::load_file(&root().join(rel), &overrides).unwrap_or_else(|e| panic!("{rel}: {e}"))
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
