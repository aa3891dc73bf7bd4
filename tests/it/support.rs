//! Shared helpers for the integration tests.

use std::path::PathBuf;

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
