//! Build script: the version that `fleetsim --version` prints.
//!
//! Built from a git checkout, the version carries the short commit,
//! `0.1.0 (1a2b3c4)`; built without git or outside a checkout (a crates.io
//! package, a container that copied no `.git`), it is the plain package
//! version. The result is the `FLEETSIM_VERSION` environment variable of the
//! crate, read by `cli.rs` for `--version` only: reports, baselines and shard
//! manifests write the plain `CARGO_PKG_VERSION`, so outputs stay
//! byte-identical across commits.
//!
//! The script reruns when `HEAD` moves or the branch it points at gets a new
//! commit (`rerun-if-changed` on `HEAD`, the ref file and `packed-refs`),
//! not on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let full = match commit() {
        Some(hash) => format!("{version} ({hash})"),
        None => version,
    };
    println!("cargo:rustc-env=FLEETSIM_VERSION={full}");
}

/// The short commit of the checkout this crate is the top of, if any.
fn commit() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Only this crate's own checkout: a copy of the sources inside some other
    // repository (vendored, unpacked into a monorepo) has no commit of ours.
    let top = git(&manifest, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(&manifest).ok()? {
        return None;
    }
    // HEAD (a file in the worktree's git dir), the branch ref it names and
    // packed-refs (both in the common dir, `--git-path` resolves each).
    let mut watch = vec![git(&manifest, &["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(&manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watch.extend(git(&manifest, &["rev-parse", "--git-path", &branch]));
    }
    watch.extend(git(&manifest, &["rev-parse", "--git-path", "packed-refs"]));
    for path in watch {
        let path = manifest.join(path);
        // A missing file would make cargo rerun the script on every build.
        // A branch that lives only in packed-refs gets a file of its own at
        // its next commit: watch the directory it will appear in.
        let watched = if path.exists() {
            Some(path)
        } else {
            path.parent().filter(|d| d.is_dir()).map(Path::to_path_buf)
        };
        if let Some(path) = watched {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(&manifest, &["rev-parse", "--short", "HEAD"])
}

/// `git ARGS` run in `dir`: its trimmed stdout, or None if git is missing,
/// fails or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}
