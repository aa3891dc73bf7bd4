//! Crash-consistent output directories: every command builds its output in
//! a fresh staging directory beside `--out`, writes `manifest.json` there
//! last, and only then puts the whole directory in place in one step.
//!
//! Why: a file written with [`super::write_atomic`] is whole or absent, but a
//! directory of files is not; a run killed half-way used to leave new CSVs
//! beside the previous run's charts. Now:
//!
//! 1. [`Staging::begin`] removes what killed runs left beside `--out`
//!    (`.OUT.staging-PID-NONCE` and `.OUT.old-PID-NONCE` directories whose
//!    process is gone, `.NAME.tmp-PID` files in `--out` and its `charts/`),
//!    restoring a previous output that a crash left renamed aside, then
//!    creates `.OUT.staging-PID-NONCE` in the parent of `--out`.
//! 2. The command writes every file into [`Staging::dir`].
//! 3. [`Staging::commit`] reads every file for `manifest.json` (size,
//!    SHA-256 and rows of every file) and fsyncs each as it is read
//!    (written unflushed, so with a journal the first fsync commits them
//!    all at once), writes the manifest and fsyncs it, fsyncs the
//!    directory, moves into it whatever in the old `--out` is not part
//!    of the old output (nested outputs such as `compare/`, files of
//!    other programs), then exchanges the staging directory with `--out`
//!    in one `renameat2(RENAME_EXCHANGE)`
//!    (Linux; elsewhere, or where the file system lacks it, the old
//!    directory is renamed aside and the new one renamed into place), fsyncs
//!    the parent and removes the old output.
//!
//! What a crash leaves: before the exchange, the previous output untouched
//! (plus, during step 3, some nested entries parked in the staging
//! directory, which the next run moves back); after it, the new complete
//! output. Between the two renames of the fallback, no `--out` at all and
//! the previous output under `.OUT.old-*`, which the next run renames back.
//! A full disk or an I/O error before the exchange removes the staging
//! directory and leaves the previous output as it was.
//!
//! Where the exchange cannot work (`--out` is the current directory or
//! holds it, or is on another file system than its parent, e.g. a mount
//! point), the files are copied into `--out` in place instead: the old
//! `manifest.json` is removed first and the new one written last, so an
//! interrupted copy is seen as incomplete, but the previous output is lost.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::chart::CHART_DIR;
use super::manifest::{MANIFEST_JSON, Manifest, Provenance};
use super::{write_atomic, write_durable};

/// An output directory being built; see the module docs.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    parent: PathBuf,
    name: String,
    dir: PathBuf,
    /// Entries of the old `--out` parked in the staging directory.
    moved: Vec<String>,
    committed: bool,
}

enum Leftover {
    Staging,
    Old,
}

impl Staging {
    /// Clean up after killed runs into `out`, then create the staging
    /// directory beside it.
    pub fn begin(out: &Path) -> io::Result<Staging> {
        let out = if out.file_name().is_none() {
            fs::canonicalize(out)?
        } else {
            out.to_path_buf()
        };
        let name = out
            .file_name()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "--out cannot be the root directory",
                )
            })?
            .to_string_lossy()
            .into_owned();
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        recover(&parent, &name, &out);
        let dir = parent.join(format!(".{name}.staging-{}-{}", super::pid(), nonce()));
        // The parent is made only when missing (it has nothing to recover
        // then): asking first cost two system calls.
        match fs::create_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&parent)?;
                fs::create_dir(&dir)?;
            }
            r => r?,
        }
        super::set_unseen(&dir, true);
        Ok(Staging {
            out,
            parent,
            name,
            dir,
            moved: Vec::new(),
            committed: false,
        })
    }

    /// Where to write the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The final output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Write the manifest and put the output in place; returns the manifest.
    pub fn commit(mut self, p: &Provenance) -> io::Result<Manifest> {
        // Every file was written unflushed: each is flushed to disk as soon
        // as the manifest has read it, through the same open file (with a
        // journal, the first fsync commits them all in one journal commit,
        // the others find nothing left to do); then the manifest.
        let m = Manifest::of_dir_then(&self.dir, p, fs::File::sync_all)?;
        write_durable(&self.dir.join(MANIFEST_JSON), m.to_json().as_bytes())?;
        // Its path is about to name the old output, or nothing.
        super::set_unseen(&self.dir, false);
        let charts = self.dir.join(CHART_DIR);
        if charts.is_dir() {
            sync_dir(&charts)?;
        }
        sync_dir(&self.dir)?;
        let old_location = match fs::symlink_metadata(&self.out) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(&self.dir, &self.out)?;
                None
            }
            Err(e) => return Err(e),
            Ok(meta) if !meta.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", self.out.display()),
                ));
            }
            Ok(_) if self.in_place_only() => {
                self.in_place(&m)?;
                return Ok(m);
            }
            Ok(_) => {
                self.park_foreign()?;
                Some(self.swap()?)
            }
        };
        self.committed = true;
        sync_dir(&self.parent)?;
        if let Some(old) = old_location {
            // A failure here leaves a leftover the next run removes.
            let _ = fs::remove_dir_all(old);
        }
        Ok(m)
    }

    /// `--out` is (or holds) the current directory, or is on another file
    /// system than the staging directory: no directory exchange.
    fn in_place_only(&self) -> bool {
        let Ok(out) = fs::canonicalize(&self.out) else {
            return true;
        };
        if std::env::current_dir().is_ok_and(|cwd| cwd.starts_with(&out)) {
            return true;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (fs::metadata(&out), fs::metadata(&self.dir)) {
                (Ok(a), Ok(b)) => a.dev() != b.dev(),
                _ => true,
            }
        }
        #[cfg(not(unix))]
        false
    }

    /// Copy the staged files into `--out`: the old manifest removed first,
    /// the old output's files that are not written again removed, the new
    /// manifest last.
    fn in_place(&mut self, m: &Manifest) -> io::Result<()> {
        let old = fs::read(self.out.join(MANIFEST_JSON))
            .ok()
            .and_then(|b| Manifest::parse(&b).ok());
        match fs::remove_file(self.out.join(MANIFEST_JSON)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        sync_dir(&self.out)?;
        for f in old.iter().flat_map(|o| &o.files) {
            if m.file(&f.path).is_none() {
                let _ = fs::remove_file(self.out.join(&f.path));
            }
        }
        for f in &m.files {
            write_atomic(&self.out.join(&f.path), &fs::read(self.dir.join(&f.path))?)?;
        }
        for f in &m.files {
            fs::File::open(self.out.join(&f.path))?.sync_all()?;
        }
        if self.out.join(CHART_DIR).is_dir() {
            sync_dir(&self.out.join(CHART_DIR))?;
        }
        write_durable(&self.out.join(MANIFEST_JSON), m.to_json().as_bytes())?;
        sync_dir(&self.out)?;
        self.committed = true;
        let _ = fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// Move every entry of `--out` that is not part of its output into the
    /// staging directory, so the exchange keeps it.
    fn park_foreign(&mut self) -> io::Result<()> {
        let old = fs::read(self.out.join(MANIFEST_JSON))
            .ok()
            .and_then(|b| Manifest::parse(&b).ok());
        for e in fs::read_dir(&self.out)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name == MANIFEST_JSON
                || (name == CHART_DIR && e.file_type()?.is_dir())
                || old.as_ref().is_some_and(|m| m.file(&name).is_some())
                || temp_pid(&name).is_some()
                || self.dir.join(&name).exists();
            if !ours {
                fs::rename(e.path(), self.dir.join(&name))?;
                self.moved.push(name);
            }
        }
        Ok(())
    }

    /// Put the staging directory in place of `--out`; returns where the old
    /// output now is.
    fn swap(&self) -> io::Result<PathBuf> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            match renameat_with(CWD, &self.dir, CWD, &self.out, RenameFlags::EXCHANGE) {
                Ok(()) => return Ok(self.dir.clone()),
                // The kernel or file system has no exchange: rename twice.
                Err(e)
                    if e == rustix::io::Errno::INVAL
                        || e == rustix::io::Errno::NOSYS
                        || e == rustix::io::Errno::OPNOTSUPP => {}
                Err(e) => return Err(e.into()),
            }
        }
        let old = self
            .parent
            .join(format!(".{}.old-{}-{}", self.name, super::pid(), nonce()));
        fs::rename(&self.out, &old)?;
        if let Err(e) = fs::rename(&self.dir, &self.out) {
            let _ = fs::rename(&old, &self.out);
            return Err(e);
        }
        Ok(old)
    }
}

impl Drop for Staging {
    /// An output that was not committed: give back what was parked, then
    /// remove the staging directory (kept if something could not be given
    /// back; the next run retries).
    fn drop(&mut self) {
        super::set_unseen(&self.dir, false);
        if self.committed {
            return;
        }
        let mut kept = false;
        for name in &self.moved {
            kept |= fs::rename(self.dir.join(name), self.out.join(name)).is_err();
        }
        if !kept {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A name for this process's staging directory that no earlier one had.
fn nonce() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{:x}",
        t ^ COUNT.fetch_add(1, Ordering::Relaxed).rotate_left(48)
    )
}

/// The PID in `.OUT.staging-PID-NONCE` / `.OUT.old-PID-NONCE`.
fn leftover(entry: &str, name: &str) -> Option<(Leftover, u32)> {
    let rest = entry.strip_prefix(&format!(".{name}."))?;
    let (kind, rest) = if let Some(r) = rest.strip_prefix("staging-") {
        (Leftover::Staging, r)
    } else {
        (Leftover::Old, rest.strip_prefix("old-")?)
    };
    let (pid, nonce) = rest.split_once('-')?;
    let hex = !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (hex && digits).then_some(())?;
    Some((kind, pid.parse().ok()?))
}

/// The PID in a temporary file `.NAME.tmp-PID` of [`write_atomic`].
fn temp_pid(entry: &str) -> Option<u32> {
    let (_, pid) = entry.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    pid.parse().ok()
}

/// Is `pid` a running process other than this one (where `/proc` tells)?
/// This process's own leftovers are left alone too.
fn alive(pid: u32) -> bool {
    pid == super::pid()
        || (Path::new("/proc/self").exists() && Path::new(&format!("/proc/{pid}")).exists())
}

/// Remove what killed runs into `out` left (best effort; see the module docs).
fn recover(parent: &Path, name: &str, out: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    // The parent can be a large directory (`/tmp`): its other entries are
    // passed over without making a string of their names.
    let prefix = format!(".{name}.");
    let mut found: Vec<(String, Leftover)> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name();
            if !n.as_encoded_bytes().starts_with(prefix.as_bytes()) {
                return None;
            }
            let n = n.to_string_lossy().into_owned();
            let (kind, pid) = leftover(&n, name)?;
            (!alive(pid)).then_some((n, kind))
        })
        .collect();
    found.sort_by_key(|(n, k)| (matches!(k, Leftover::Staging), n.clone()));
    for (n, kind) in found {
        let p = parent.join(&n);
        match kind {
            Leftover::Old if !out.exists() => {
                let _ = fs::rename(&p, out);
            }
            Leftover::Old => {
                let _ = fs::remove_dir_all(&p);
            }
            Leftover::Staging => {
                give_back(&p, out);
                let _ = fs::remove_dir_all(&p);
            }
        }
    }
    for d in [out.to_path_buf(), out.join(CHART_DIR)] {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if temp_pid(&n).is_some_and(|pid| !alive(pid)) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Move the entries a killed commit parked in `staging` (those its
/// manifest does not list) back into `out`.
fn give_back(staging: &Path, out: &Path) {
    let Some(m) = fs::read(staging.join(MANIFEST_JSON))
        .ok()
        .and_then(|b| Manifest::parse(&b).ok())
    else {
        return;
    };
    if !out.is_dir() {
        return;
    }
    for e in fs::read_dir(staging).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n == MANIFEST_JSON || n == CHART_DIR || m.file(&n).is_some() {
            continue;
        }
        let target = out.join(&n);
        if !target.exists() {
            let _ = fs::rename(e.path(), target);
        }
    }
}

/// fsync a directory, so the renames in it are on disk (a no-op where
/// directories cannot be opened).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match fs::File::open(dir).and_then(|f| f.sync_all()) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::manifest;

    fn prov() -> Provenance {
        Provenance {
            command: "run".into(),
            ..Provenance::default()
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_commit_replaces_the_output_and_keeps_nested_outputs() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::begin(&out).unwrap();
        write_atomic(&s.dir().join("a.csv"), b"x\n1\n").unwrap();
        write_atomic(&s.dir().join("old.csv"), b"x\n").unwrap();
        s.commit(&prov()).unwrap();
        manifest::verify(&out).unwrap();
        fs::create_dir(out.join("compare")).unwrap();
        fs::write(out.join("compare/keep.txt"), "k").unwrap();
        let s = Staging::begin(&out).unwrap();
        write_atomic(&s.dir().join("a.csv"), b"x\n2\n").unwrap();
        s.commit(&prov()).unwrap();
        manifest::verify(&out).unwrap();
        assert_eq!(names(&out), ["a.csv", "compare", "manifest.json"]);
        assert_eq!(fs::read(out.join("compare/keep.txt")).unwrap(), b"k");
        assert_eq!(names(root.path()), ["out"], "no staging directory is left");
    }

    #[test]
    fn an_unfinished_output_leaves_the_previous_one_and_is_cleaned_up() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::begin(&out).unwrap();
        write_atomic(&s.dir().join("a.csv"), b"x\n1\n").unwrap();
        s.commit(&prov()).unwrap();
        let before = fs::read(out.join(MANIFEST_JSON)).unwrap();
        // Dropped without a commit (an error while writing).
        let s = Staging::begin(&out).unwrap();
        write_atomic(&s.dir().join("a.csv"), b"x\n2\n").unwrap();
        drop(s);
        assert_eq!(names(root.path()), ["out"]);
        assert_eq!(fs::read(out.join(MANIFEST_JSON)).unwrap(), before);
        // What a killed process left (PID 0 is never a user process) is
        // removed by the next begin, and an output left aside restored.
        fs::create_dir(root.path().join(".out.staging-0-1f")).unwrap();
        fs::write(root.path().join("out/.a.csv.tmp-0"), "").unwrap();
        fs::rename(&out, root.path().join(".out.old-0-2e")).unwrap();
        fs::create_dir(root.path().join(".other.staging-0-1f")).unwrap();
        let s = Staging::begin(&out).unwrap();
        let mut left = names(root.path());
        left.retain(|n| !n.starts_with(".out.staging-") || s.dir().ends_with(n));
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(left.contains(&".other.staging-0-1f".to_string()));
        drop(s);
        assert_eq!(fs::read(out.join(MANIFEST_JSON)).unwrap(), before);
        manifest::verify(&out).unwrap();
    }

    #[test]
    fn entries_parked_by_a_killed_commit_are_given_back() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::begin(&out).unwrap();
        write_atomic(&s.dir().join("a.csv"), b"x\n1\n").unwrap();
        s.commit(&prov()).unwrap();
        // A commit killed after writing its manifest and parking `compare/`
        // (a nested output) and `notes.txt` (another program's file).
        let parked = root.path().join(".out.staging-0-ab");
        fs::create_dir(&parked).unwrap();
        fs::write(parked.join("a.csv"), "x\n2\n").unwrap();
        let m = Manifest::of_dir(&parked, &prov()).unwrap();
        fs::write(parked.join(MANIFEST_JSON), m.to_json()).unwrap();
        fs::create_dir(parked.join("compare")).unwrap();
        fs::write(parked.join("compare/x"), "x").unwrap();
        fs::write(parked.join("notes.txt"), "n").unwrap();
        drop(Staging::begin(&out).unwrap());
        assert_eq!(names(root.path()), ["out"]);
        assert_eq!(
            names(&out),
            ["a.csv", "compare", "manifest.json", "notes.txt"]
        );
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"x\n1\n");
    }

    #[test]
    fn files_are_written_under_their_own_names_only_while_staged() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::begin(&out).unwrap();
        assert!(crate::report::unseen_dir(&s.dir().join(CHART_DIR)));
        write_atomic(&s.dir().join("charts/a.svg"), b"<svg/>").unwrap();
        let staged = s.dir().to_path_buf();
        s.commit(&prov()).unwrap();
        assert!(!crate::report::unseen_dir(&staged), "committed");
        assert!(!crate::report::unseen_dir(&out));
        let s = Staging::begin(&out).unwrap();
        let staged = s.dir().to_path_buf();
        drop(s);
        assert!(!crate::report::unseen_dir(&staged), "dropped");
        manifest::verify(&out).unwrap();
        assert_eq!(names(&out.join(CHART_DIR)), ["a.svg"]);
    }

    #[test]
    fn leftover_names_are_recognised_strictly() {
        assert!(matches!(
            leftover(".out.staging-12-ab", "out"),
            Some((Leftover::Staging, 12))
        ));
        assert!(matches!(
            leftover(".out.old-3-f", "out"),
            Some((Leftover::Old, 3))
        ));
        assert!(leftover(".out.staging-12-", "out").is_none());
        assert!(leftover(".out.staging-x-ab", "out").is_none());
        assert!(leftover(".outer.staging-1-ab", "out").is_none());
        assert_eq!(temp_pid(".a.csv.tmp-42"), Some(42));
        assert_eq!(temp_pid("a.csv.tmp-42"), None);
        assert_eq!(temp_pid(".a.csv.tmp-"), None);
    }
}
