//! `manifest.json`: what a complete output directory holds, and
//! `fleetsim verify`, which checks a directory against it.
//!
//! Why: every file is written atomically, but a directory of files is not.
//! A run killed half-way (SIGKILL, a full disk) could leave this run's
//! `summary.csv` beside the previous run's charts, with nothing to tell.
//! Every command that writes an output directory now builds it in a staging
//! directory ([`super::staging`]), writes this manifest as the last file
//! there, and only then swaps it into place; a directory whose manifest is
//! missing or does not match its files is incomplete, and `merge` refuses it.
//!
//! The manifest lists every file (top level and `charts/`) with its size,
//! SHA-256 (the `sha2` crate, FIPS 180-4) and, for a CSV, its number of data
//! rows (records after the header, read with the `csv` crate, so a quoted
//! newline does not count). It names the fleetsim package version (never a
//! git commit), the command, scenario, scenario hash and seed, and nothing
//! else: no time, no PID, no path, so the same run writes the same manifest
//! on every machine, except for the `perf.csv` entry (wall-clock times, the
//! one file whose bytes change between runs). One entry per line, so the
//! file diffs cleanly.
//!
//! Subdirectories other than `charts/` are not part of an output: they are
//! other outputs nested in it (`reports/NAME/compare`, `.../sweep`), each
//! with its own manifest, and `verify` leaves them alone.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::chart::CHART_DIR;

/// The manifest's file name.
pub const MANIFEST_JSON: &str = "manifest.json";

/// The manifest format this fleetsim writes and reads.
pub const FORMAT: u32 = 1;

/// Where an output came from: the fields of the manifest beside the file list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The subcommand that wrote the directory (`run`, `sweep`, `merge`, ...).
    pub command: String,
    pub scenario: Option<String>,
    /// The scenario's hash (its text and overrides), as in `shard.csv`.
    pub scenario_hash: Option<u64>,
    pub seed: Option<u64>,
}

/// One file of an output directory.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Relative to the directory, `/`-separated (`charts/latency.svg`).
    pub path: String,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Data rows (records after the header), for a CSV file.
    #[serde(default)]
    pub rows: Option<u64>,
}

/// A parsed `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub fleetsim: String,
    pub command: String,
    pub scenario: Option<String>,
    pub scenario_hash: Option<String>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub note: Option<String>,
    pub files: Vec<Entry>,
}

impl Manifest {
    /// The entry for `path`, if listed.
    pub fn file(&self, path: &str) -> Option<&Entry> {
        self.files.iter().find(|e| e.path == path)
    }

    /// The manifest of the files now in `dir` (its top level and
    /// `charts/`), sorted by path.
    pub fn of_dir(dir: &Path, p: &Provenance) -> io::Result<Manifest> {
        Manifest::of_dir_then(dir, p, |_| Ok(()))
    }

    /// [`Manifest::of_dir`], handing each file, still open once read, to
    /// `then` ([`super::Staging::commit`] flushes it to disk there, so
    /// each file is opened once, not twice).
    pub(crate) fn of_dir_then(
        dir: &Path,
        p: &Provenance,
        mut then: impl FnMut(&fs::File) -> io::Result<()>,
    ) -> io::Result<Manifest> {
        let mut files = Vec::new();
        // One buffer for every file.
        let mut buf = vec![0u8; READ_PIECE];
        for rel in output_files(dir)? {
            let path = dir.join(&rel);
            let mut file = fs::File::open(&path)?;
            files.push(entry_of_open_file(&rel, &path, &mut file, &mut buf)?);
            then(&file)?;
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Manifest {
            format: FORMAT,
            fleetsim: env!("CARGO_PKG_VERSION").to_string(),
            command: p.command.clone(),
            scenario: p.scenario.clone(),
            scenario_hash: p.scenario_hash.map(|h| format!("{h:016x}")),
            seed: p.seed,
            note: files.iter().any(|f| f.path == "perf.csv").then(|| {
                "perf.csv holds wall-clock times: its bytes and hash differ between runs"
                    .to_string()
            }),
            files,
        })
    }

    /// The JSON text: fixed key order, one file per line.
    pub fn to_json(&self) -> String {
        let s = |v: &str| serde_json::to_string(v).expect("a string serializes");
        let opt = |v: &Option<String>| v.as_deref().map_or("null".to_string(), s);
        let mut out = String::from("{\n");
        out += &format!("  \"format\": {},\n", self.format);
        out += &format!("  \"fleetsim\": {},\n", s(&self.fleetsim));
        out += &format!("  \"command\": {},\n", s(&self.command));
        out += &format!("  \"scenario\": {},\n", opt(&self.scenario));
        out += &format!("  \"scenario_hash\": {},\n", opt(&self.scenario_hash));
        out += &format!(
            "  \"seed\": {},\n",
            self.seed.map_or("null".to_string(), |x| x.to_string())
        );
        if let Some(note) = &self.note {
            out += &format!("  \"note\": {},\n", s(note));
        }
        out += "  \"files\": [\n";
        for (i, f) in self.files.iter().enumerate() {
            let rows = f.rows.map_or(String::new(), |r| format!(", \"rows\": {r}"));
            out += &format!(
                "    {{\"path\": {}, \"bytes\": {}, \"sha256\": \"{}\"{rows}}}{}\n",
                s(&f.path),
                f.bytes,
                f.sha256,
                if i + 1 < self.files.len() { "," } else { "" }
            );
        }
        out += "  ]\n}\n";
        out
    }

    /// Parse `manifest.json`.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!(
                "format {}; this fleetsim reads format {FORMAT}",
                m.format
            ));
        }
        Ok(m)
    }
}

/// The manifest entry of a file with these bytes.
pub fn entry(rel: &str, bytes: &[u8]) -> Entry {
    Entry {
        path: rel.to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        rows: rel.ends_with(".csv").then(|| csv_rows(bytes)),
    }
}

/// The size of the pieces [`entry_of_file`] reads.
const READ_PIECE: usize = 1 << 17;

/// [`entry`] of the file at `path`, read in pieces of 128 KB that are
/// hashed and counted as they come: a large file (a 100,000-agent fleet's
/// 8 MB `agents.csv`) is never held whole in memory, whose pages were a
/// tenth of the faults of such a run. A CSV with a `"` is read again,
/// whole, and parsed ([`csv_rows`]).
pub fn entry_of_file(rel: &str, path: &Path) -> io::Result<Entry> {
    let mut file = fs::File::open(path)?;
    entry_of_open_file(rel, path, &mut file, &mut vec![0u8; READ_PIECE])
}

/// [`entry_of_file`] of `file`, opened at `path` and not yet read, with
/// `buf` to read into.
fn entry_of_open_file(
    rel: &str,
    path: &Path,
    file: &mut fs::File,
    buf: &mut [u8],
) -> io::Result<Entry> {
    let mut hasher = Sha256::new();
    let mut records = rel.ends_with(".csv").then(LineRecords::default);
    let mut bytes = 0u64;
    loop {
        let n = fill(file, buf)?;
        if n == 0 {
            break;
        }
        let piece = &buf[..n];
        hasher.update(piece);
        if let Some(count) = &mut records {
            // Only the first piece can start with a byte-order mark, and
            // it holds the first three bytes (pieces are full but the last).
            let piece = if bytes == 0 {
                piece.strip_prefix(BOM).unwrap_or(piece)
            } else {
                piece
            };
            if !count.feed(piece) {
                return Ok(entry(rel, &fs::read(path)?));
            }
        }
        bytes += n as u64;
        if n < buf.len() {
            // `fill` stops short only at the end of the file.
            break;
        }
    }
    Ok(Entry {
        path: rel.to_string(),
        bytes,
        sha256: hex(&hasher.finalize()),
        rows: records.map(|c| c.records.saturating_sub(1)),
    })
}

/// Read from `file` until `buf` is full or the file ends; the bytes read.
fn fill(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read as _;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Data rows of a CSV file: records after the header (a record that does
/// not parse still counts, so the number is defined for any bytes).
///
/// Counted without parsing when the file holds no `"`: the `csv` crate's
/// reader, as configured here (its default terminator, where `\r`, `\n`
/// and `\r\n` each end a record; no comment character), then reads one
/// record per run of bytes between line breaks, after a UTF-8 byte-order
/// mark at the very start, which it skips. Empty lines are skipped,
/// a last record without a line break still counts, and nothing else in
/// an unquoted record can end it or fail it (records of any length are
/// accepted, bytes are not checked as UTF-8). Only a quote can hold a
/// line break inside a record, so a file with one is parsed. A large
/// fleet's `agents.csv` was parsed a second time for this count.
pub fn csv_rows(bytes: &[u8]) -> u64 {
    let mut count = LineRecords::default();
    if count.feed(bytes.strip_prefix(BOM).unwrap_or(bytes)) {
        count.records.saturating_sub(1)
    } else {
        parsed_csv_rows(bytes)
    }
}

/// The UTF-8 byte-order mark, which the `csv` reader skips at the start.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The records of quote-free bytes fed in pieces: their runs of bytes
/// other than `\r` and `\n`.
#[derive(Debug)]
struct LineRecords {
    records: u64,
    /// Whether the last byte fed was a line break (or none was fed).
    prev_break: bool,
}

impl Default for LineRecords {
    fn default() -> Self {
        LineRecords {
            records: 0,
            prev_break: true,
        }
    }
}

impl LineRecords {
    /// Count the records starting in `bytes`, the next piece; `false`
    /// (the count is then meaningless) if it holds a `"`. One pass, in
    /// blocks of 64 bytes the compiler turns into vector instructions (a
    /// large fleet's `agents.csv` is 8 MB).
    fn feed(&mut self, bytes: &[u8]) -> bool {
        const W: usize = 64;
        let is_break = |b: u8| (b == b'\n') | (b == b'\r');
        // A record starts at each byte that is not a break after one that
        // is (or at the first byte).
        let mut blocks = bytes.chunks_exact(W);
        for block in &mut blocks {
            let block: &[u8; W] = block.try_into().expect("chunks_exact gives W bytes");
            let mut breaks = [false; W];
            let mut quote = false;
            for (brk, &b) in breaks.iter_mut().zip(block) {
                *brk = is_break(b);
                quote |= b == b'"';
            }
            if quote {
                return false;
            }
            let mut starts = u32::from(self.prev_break & !breaks[0]);
            for j in 1..W {
                starts += u32::from(breaks[j - 1] & !breaks[j]);
            }
            self.records += u64::from(starts);
            self.prev_break = breaks[W - 1];
        }
        for &b in blocks.remainder() {
            if b == b'"' {
                return false;
            }
            self.records += u64::from(self.prev_break & !is_break(b));
            self.prev_break = is_break(b);
        }
        true
    }
}

/// [`csv_rows`] by reading every record with the `csv` crate.
fn parsed_csv_rows(bytes: &[u8]) -> u64 {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    // One record read into again and again (the iterator allocates one a
    // row); an error is a record too, as it is for the iterator.
    let mut record = ::csv::ByteRecord::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return rows,
            Ok(true) | Err(_) => rows += 1,
        }
    }
}

/// The files of an output in `dir`, relative and `/`-separated: regular
/// files at the top level (but the manifest) and in `charts/`, sorted.
/// Other subdirectories are other outputs and are not listed.
pub fn output_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type()?;
        if ty.is_dir() {
            if name == CHART_DIR {
                for c in fs::read_dir(e.path())? {
                    let c = c?;
                    out.push(format!("{CHART_DIR}/{}", c.file_name().to_string_lossy()));
                }
            }
        } else if name != MANIFEST_JSON {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Why a directory is not a complete output.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{dir}: no such directory")]
    NoDir { dir: String },
    #[error(
        "{dir}: no {MANIFEST_JSON}: not a fleetsim output, or the command that wrote it did not finish (run it again)"
    )]
    NoManifest { dir: String },
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{dir}/{MANIFEST_JSON}: {message}")]
    BadManifest { dir: String, message: String },
    #[error("{dir}: {file} is listed in {MANIFEST_JSON} but missing")]
    Missing { dir: String, file: String },
    #[error("{dir}: {file} has {what} {found}; {MANIFEST_JSON} says {want}")]
    Differs {
        dir: String,
        file: String,
        what: &'static str,
        found: String,
        want: String,
    },
    #[error(
        "{dir}: {file} is not listed in {MANIFEST_JSON} (left by another program or an interrupted run?)"
    )]
    Unlisted { dir: String, file: String },
}

impl VerifyError {
    /// Exit code for `fleetsim verify`: 2 when the directory does not exist
    /// or cannot be read, 1 when it is not a complete, unchanged output.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::NoDir { .. } | VerifyError::Read { .. } => 2,
            _ => 1,
        }
    }
}

/// Check `dir` against its manifest: every listed file present with its
/// size, hash and rows, and no unlisted file at the top level or in
/// `charts/`. Returns the manifest; the error names the first mismatch.
pub fn verify(dir: &Path) -> Result<Manifest, VerifyError> {
    let shown = dir.display().to_string();
    let read = |p: PathBuf| {
        fs::read(&p).map_err(|e| VerifyError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        })
    };
    if !dir.is_dir() {
        return Err(VerifyError::NoDir { dir: shown });
    }
    let mpath = dir.join(MANIFEST_JSON);
    if !mpath.exists() {
        return Err(VerifyError::NoManifest { dir: shown });
    }
    let m = Manifest::parse(&read(mpath)?).map_err(|message| VerifyError::BadManifest {
        dir: shown.clone(),
        message,
    })?;
    for f in &m.files {
        let safe = match f.path.split_once('/') {
            None => !f.path.is_empty() && !f.path.starts_with('.'),
            Some((d, rest)) => d == CHART_DIR && !rest.contains('/') && !rest.is_empty(),
        };
        if !safe || f.path == MANIFEST_JSON {
            return Err(VerifyError::BadManifest {
                dir: shown,
                message: format!("`{}` is not a file of an output directory", f.path),
            });
        }
        let p = dir.join(&f.path);
        if !p.is_file() {
            return Err(VerifyError::Missing {
                dir: shown,
                file: f.path.clone(),
            });
        }
        let got = entry_of_file(&f.path, &p).map_err(|e| VerifyError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        let differs = |what, found: String, want: String| VerifyError::Differs {
            dir: shown.clone(),
            file: f.path.clone(),
            what,
            found,
            want,
        };
        if got.bytes != f.bytes {
            return Err(differs(
                "size",
                format!("{} bytes", got.bytes),
                format!("{} bytes", f.bytes),
            ));
        }
        if got.sha256 != f.sha256 {
            return Err(differs("SHA-256", got.sha256, f.sha256.clone()));
        }
        if got.rows != f.rows {
            let show = |r: Option<u64>| r.map_or("none".to_string(), |r| r.to_string());
            return Err(differs("data rows", show(got.rows), show(f.rows)));
        }
    }
    let files = output_files(dir).map_err(|e| VerifyError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    if let Some(extra) = files.into_iter().find(|f| m.file(f).is_none()) {
        return Err(VerifyError::Unlisted {
            dir: shown,
            file: extra,
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count is the csv crate's own record count, for any bytes.
    #[test]
    fn rows_are_what_the_record_iterator_counts() {
        let cases: [&[u8]; 9] = [
            b"",
            b"a,b",
            b"a,b\n1,2",
            b"a,b\r\n1,2\r\n\r\n3\n",
            b"a\n\n\n1\n",
            b"a,b\n\"unterminated,2\n3,4\n",
            b"a,b\n1,\"x\"\"y\"\n\"z\nw\",5\n",
            b"\xff\xfe,\x00\n\x80\n",
            b"a\rb\rc",
        ];
        for bytes in cases {
            let iterated = ::csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(bytes)
                .byte_records()
                .count() as u64;
            assert_eq!(csv_rows(bytes), iterated, "{bytes:?}");
        }
    }

    /// The count without parsing is the parsed count, for any bytes and
    /// for bytes made of what matters to a CSV reader.
    mod fast_count {
        use super::super::{LineRecords, csv_rows, entry, entry_of_file, parsed_csv_rows};
        use proptest::prelude::*;
        use std::fs;

        /// CSV-ish bytes: line breaks of every kind, delimiters, spaces, a
        /// byte-order mark, a `#`, text, and (sometimes) quotes.
        fn csvish(quotes: bool) -> impl Strategy<Value = Vec<u8>> {
            let mut parts: Vec<&'static [u8]> = vec![
                b"\n",
                b"\r",
                b"\r\n",
                b"\n\n",
                b",",
                b"a",
                b"12.5",
                b" ",
                b"\xef\xbb\xbf",
                b"#",
                b"\t",
                b"\x00",
                b"\xff",
            ];
            if quotes {
                parts.extend([b"\"" as &[u8], b"\"\"", b"\"x,\ny\""]);
            }
            prop::collection::vec(prop::sample::select(parts), 0..80).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            #[test]
            fn on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                prop_assert_eq!(csv_rows(&bytes), parsed_csv_rows(&bytes));
            }

            #[test]
            fn on_csv_without_quotes(bytes in csvish(false)) {
                prop_assert_eq!(csv_rows(&bytes), parsed_csv_rows(&bytes));
            }

            #[test]
            fn on_csv_with_quotes(bytes in csvish(true)) {
                prop_assert_eq!(csv_rows(&bytes), parsed_csv_rows(&bytes));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Fed in pieces, the count is the count of the whole.
            #[test]
            fn in_pieces(
                bytes in csvish(false),
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            ) {
                let mut whole = LineRecords::default();
                let whole_ok = whole.feed(&bytes);
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
                at.push(0);
                at.push(bytes.len());
                at.sort_unstable();
                let mut pieces = LineRecords::default();
                let pieces_ok = at.windows(2).all(|w| pieces.feed(&bytes[w[0]..w[1]]));
                prop_assert_eq!(pieces_ok, whole_ok);
                prop_assert_eq!(pieces.records, whole.records);
            }
        }

        /// A file read in pieces has the entry of its bytes: small, empty,
        /// with a byte-order mark, larger than a piece, with a quote past
        /// the first piece, not a CSV.
        #[test]
        fn files_read_in_pieces() {
            let dir = tempfile::tempdir().unwrap();
            let row = b"v,0,agent-1,premium,3,0,0.5,1.000,2.000,0,0.000,0.000,0.000,0.000\n";
            let big: Vec<u8> = row
                .iter()
                .copied()
                .cycle()
                .take(row.len() * 5000 + 7)
                .collect();
            let mut late_quote = big.clone();
            late_quote.extend_from_slice(b"\"x\ny\",1\n");
            let mut crlf = b"\xef\xbb\xbfh\r\n".to_vec();
            crlf.extend(b"1,2\r\n\r\n".iter().copied().cycle().take(300_001));
            let cases: [(&str, &[u8]); 8] = [
                ("a.csv", b"h\n1\n2\n"),
                ("empty.csv", b""),
                ("bom.csv", b"\xef\xbb\xbf\n1\n"),
                ("bo.csv", b"\xef\xbb"),
                ("big.csv", &big),
                ("late.csv", &late_quote),
                ("crlf.csv", &crlf),
                ("big.svg", &big),
            ];
            for (name, bytes) in cases {
                let p = dir.path().join(name);
                fs::write(&p, bytes).unwrap();
                assert_eq!(
                    entry_of_file(name, &p).unwrap(),
                    entry(name, bytes),
                    "{name}"
                );
            }
        }

        #[test]
        fn on_the_edges() {
            for bytes in [
                &b""[..],
                b"\n",
                b"\r\n\r\n",
                b"h",
                b"h\n",
                b"h\n1",
                b"h\r1\r\r2\n\n",
                b"\n\nh\n1\n",
                b",\n,\n",
                b" \n \n",
                b"\xef\xbb\xbf\n1\n",
                b"#c\n1\n",
            ] {
                assert_eq!(csv_rows(bytes), parsed_csv_rows(bytes), "{bytes:?}");
            }
        }
    }

    #[test]
    fn rows_count_records_not_lines() {
        assert_eq!(csv_rows(b"a,b\n1,2\n3,4\n"), 2);
        assert_eq!(csv_rows(b"a,b\n\"x\ny\",2\n"), 1);
        assert_eq!(csv_rows(b"a,b\n"), 0);
        assert_eq!(csv_rows(b""), 0);
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        // FIPS 180-4 example "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_json_reads_back_and_verify_names_the_first_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.csv"), "x\n1\n2\n").unwrap();
        fs::create_dir(dir.path().join("charts")).unwrap();
        fs::write(dir.path().join("charts/c.svg"), "<svg/>").unwrap();
        fs::create_dir(dir.path().join("nested")).unwrap();
        let p = Provenance {
            command: "run".into(),
            scenario: Some("s\"q".into()),
            scenario_hash: Some(0xabc),
            seed: Some(7),
        };
        let m = Manifest::of_dir(dir.path(), &p).unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.file("a.csv").unwrap().rows, Some(2));
        assert_eq!(m.file("charts/c.svg").unwrap().rows, None);
        let json = m.to_json();
        assert_eq!(Manifest::parse(json.as_bytes()).unwrap(), m);
        fs::write(dir.path().join(MANIFEST_JSON), &json).unwrap();
        assert_eq!(verify(dir.path()).unwrap(), m);
        fs::write(dir.path().join("stray.txt"), "").unwrap();
        let e = verify(dir.path()).unwrap_err().to_string();
        assert!(e.contains("stray.txt is not listed"), "{e}");
        fs::remove_file(dir.path().join("stray.txt")).unwrap();
        fs::write(dir.path().join("a.csv"), "x\n1\n").unwrap();
        let e = verify(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a.csv has size 4 bytes"), "{e}");
        fs::write(dir.path().join("a.csv"), "x\n1\n3\n").unwrap();
        let e = verify(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a.csv has SHA-256"), "{e}");
        fs::remove_file(dir.path().join("a.csv")).unwrap();
        let e = verify(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("a.csv is listed in manifest.json but missing"),
            "{e}"
        );
    }
}
