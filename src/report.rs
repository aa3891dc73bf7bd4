//! Reports: pure functions from run results to bytes (fixed column order,
//! float formatting and row order, so outputs diff cleanly), the one
//! function that puts bytes on disk atomically, and whole output
//! directories: built in a staging directory, described by `manifest.json`
//! and swapped into place ([`staging`], [`manifest`]). The pages of a
//! compare and of a sweep directory are [`compare_page`] and
//! [`sweep_page`]; `results.json` is [`json`], drawn like the sweep page
//! from `summary.csv` read back ([`read`]).

pub mod chart;
pub mod compare_page;
pub mod csv;
pub mod html;
pub mod json;
pub mod manifest;
pub mod read;
pub mod staging;
pub mod sweep_page;

pub use manifest::{Provenance, verify};
pub use staging::Staging;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Write each `(name, bytes)` to `dir/name` atomically, in order; returns
/// the paths written.
pub fn write_files<B: AsRef<[u8]>>(dir: &Path, files: &[(&str, B)]) -> io::Result<Vec<PathBuf>> {
    files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            write_atomic(&p, bytes.as_ref())?;
            Ok(p)
        })
        .collect()
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, then renamed over the target, so a reader never sees a
/// half-written report. Not flushed to disk: the files of an output
/// directory are written with this into a [`Staging`] directory, whose
/// [`Staging::commit`] flushes them all at once before the output is put
/// in place (one `fsync` per file each forced its own journal commit: a
/// short run spent most of its wall time waiting for them). A file that
/// must survive a crash on its own is written with [`write_durable`].
///
/// Inside a staging directory of this process (before its commit) the
/// file is written under its own name, without the temporary one: no
/// reader sees that directory, which is put in place whole or removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, |f| f.write_all(bytes), false)
}

/// [`write_atomic`] of what `write` writes, as it writes it: a large
/// file need not be held in memory whole first.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<&mut fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    write_replacing(
        path,
        |f| {
            let mut w = io::BufWriter::new(f);
            write(&mut w)?;
            w.flush()
        },
        false,
    )
}

/// [`write_atomic`], and flushed to disk before the rename: after a crash
/// the file is the old one or the new one, whole.
pub fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, |f| f.write_all(bytes), true)
}

fn write_replacing(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
    sync: bool,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "report path has no file name")
    })?;
    let unseen = unseen_dir(dir);
    let tmp: PathBuf = if unseen {
        path.to_path_buf()
    } else {
        dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), pid()))
    };
    let result = (|| {
        // The directory is made only when missing: asking first cost two
        // system calls a file.
        let mut f = match fs::File::create(&tmp) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                fs::File::create(&tmp)?
            }
            r => r?,
        };
        write(&mut f)?;
        if sync {
            f.sync_all()?;
        }
        if unseen {
            Ok(())
        } else {
            fs::rename(&tmp, path)
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The staging directories of this process not yet committed or dropped
/// ([`Staging`] adds and removes them): no other reader sees what is in
/// them, so a file written there needs no temporary name (a rename a file
/// saved). A path written through another spelling of one of them is
/// written the usual way.
static UNSEEN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether `dir` is in (or is) a directory of [`UNSEEN`].
fn unseen_dir(dir: &Path) -> bool {
    UNSEEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|d| dir.starts_with(d))
}

/// Add `dir` to [`UNSEEN`] (`true`) or take it out (`false`).
fn set_unseen(dir: &Path, unseen: bool) {
    let mut dirs = UNSEEN.lock().unwrap_or_else(PoisonError::into_inner);
    dirs.retain(|d| d != dir);
    if unseen {
        dirs.push(dir.to_path_buf());
    }
}

/// This process's ID (a system call each time it is asked for).
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A float with a fixed number of decimals; never `-0.000`, and `NaN` or
/// infinities as an empty cell.
pub fn fixed(x: f64, decimals: usize) -> String {
    let mut s = Vec::new();
    fixed_into(&mut s, x, decimals);
    String::from_utf8(s).expect("a formatted float is ASCII")
}

/// [`fixed`], appended to `out` as bytes (no allocation once `out` has
/// room: the per-agent rows of a large fleet write millions of cells).
#[inline]
pub fn fixed_into(out: &mut Vec<u8>, x: f64, decimals: usize) {
    if x == 0.0 {
        // The common case in per-agent rows (no time down, unhealthy,
        // open): what the formatter writes for 0 (and, less its sign, -0).
        const ZERO: &[u8] = b"0.000000000";
        match decimals {
            0 => out.push(b'0'),
            d if d + 2 <= ZERO.len() => out.extend_from_slice(&ZERO[..d + 2]),
            d => {
                out.extend_from_slice(b"0.");
                out.extend(std::iter::repeat_n(b'0', d));
            }
        }
    } else if x.is_finite() {
        fixed_nonzero(out, x, decimals);
    }
}

/// [`fixed_into`] for a finite `x` other than 0.
fn fixed_nonzero(out: &mut Vec<u8>, x: f64, decimals: usize) {
    use std::io::Write as _;
    if fixed_fast(out, x, decimals) {
        return;
    }
    let start = out.len();
    write!(out, "{x:.decimals$}").expect("writing to memory cannot fail");
    if out[start..].starts_with(b"-") && out[start + 1..].iter().all(|&c| c == b'0' || c == b'.') {
        out.remove(start);
    }
}

/// [`fixed_into`] without the formatter, when the answer is certain:
/// `|x|·10^decimals` is worked out in floating point (within a relative
/// 2⁻⁵³ of the exact product), and unless its fraction is that close to
/// one half, it rounds to the same integer as the exact decimal expansion
/// the formatter rounds (ties to even, which only an exact half can
/// reach, are left to it). `false` (nothing written) when unsure, or out
/// of range. Most cells of a large fleet's `agents.csv` take this path.
fn fixed_fast(out: &mut Vec<u8>, x: f64, decimals: usize) -> bool {
    const POW10: [u64; 10] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    let Some(&pow) = POW10.get(decimals) else {
        return false;
    };
    let scale = pow as f64; // exact: below 2^53
    // Finite (x is) and not negative.
    let y = x.abs() * scale;
    if y >= (1u64 << 52) as f64 {
        return false;
    }
    // `floor` without a call: y is in [0, 2^52), where truncation is floor.
    let whole = (y as u64) as f64;
    let frac = y - whole; // exact: y < 2^52
    // The product's error is at most half an ulp of y (≤ y·2⁻⁵³); keep
    // well clear of it.
    if (frac - 0.5).abs() <= y * f64::EPSILON + f64::MIN_POSITIVE {
        return false;
    }
    let rounded = whole as u64 + u64::from(frac > 0.5);
    let (int, fraction) = (rounded / pow, rounded % pow);
    if x < 0.0 && rounded != 0 {
        out.push(b'-');
    }
    // Digits by hand: `write!` of the integer and the zero-padded fraction
    // gave back three fifths of the saving (100,000 agents: 2.93 G
    // instructions against 2.86 G).
    crate::text::push_decimal_bytes(out, int);
    if decimals > 0 {
        out.push(b'.');
        // `pow + fraction` has `decimals + 1` digits, a `1` and then the
        // fraction's, zero-padded.
        let mut buf = [0u8; 20];
        out.extend_from_slice(&crate::text::decimal(pow + fraction, &mut buf)[1..]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_formatting_is_stable() {
        assert_eq!(fixed(1.23456, 3), "1.235");
        assert_eq!(fixed(-0.0001, 3), "0.000");
        assert_eq!(fixed(-1.5, 1), "-1.5");
        assert_eq!(fixed(f64::NAN, 2), "");
        for d in 0..14 {
            assert_eq!(fixed(0.0, d), format!("{:.d$}", 0.0), "{d} decimals");
            assert_eq!(fixed(-0.0, d), fixed(0.0, d));
        }
    }

    /// The fast path writes what the formatter writes (less its `-0`),
    /// over magnitudes, decimals, halves and near-halves.
    #[test]
    fn fixed_matches_the_formatter() {
        let formatter = |x: f64, d: usize| {
            let s = format!("{x:.d$}");
            if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
                s[1..].to_string()
            } else {
                s
            }
        };
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut values = vec![
            0.5, 1.5, 2.5, 0.125, 0.375, 1.0005, 0.0005, 2.675, 1e15, 4.5e15,
        ];
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            let magnitude = 10f64.powi((state % 19) as i32 - 9);
            let sign = if state & (1 << 10) == 0 { 1.0 } else { -1.0 };
            values.push(sign * mantissa * magnitude);
            // Halves and values a hair from them at a few decimals.
            let half = ((state >> 20) % 100_000) as f64 + 0.5;
            values.push(half / 1000.0);
            values.push(f64::from_bits((half / 1000.0).to_bits() + 1));
            values.push(f64::from_bits((half / 1000.0).to_bits() - 1));
        }
        for &x in &values {
            for d in [0, 1, 2, 3, 4, 6, 9] {
                assert_eq!(fixed(x, d), formatter(x, d), "{x:e} at {d} decimals");
            }
        }
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.csv");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
    }
}
