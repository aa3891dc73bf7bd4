//! A structure-aware mutator for text inputs (TOML scenarios, CSV traces,
//! `--set` arguments, durations): byte flips, line deletions, duplications
//! and swaps, values swapped between keys, numbers replaced by extremes,
//! quotes and brackets removed, tokens from a dictionary inserted, and
//! splices from other seeds.
//!
//! Why our own: the stable test loop has no coverage feedback, so it gets
//! far only by mutating in the grammar's own units (lines, keys, numbers),
//! not bytes alone. Deterministic: the same seed mutates the same way, so a
//! failing iteration is reproduced by its seed.

#![allow(dead_code)]

/// SplitMix64, enough for choosing mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Numbers a field is likely to mishandle.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.0",
    "-0.0",
    "1e308",
    "1e309",
    "-1e308",
    "5e-324",
    "1e-320",
    "nan",
    "inf",
    "-inf",
    "+inf",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036.854775807",
    "99999999999999999999999999",
    "0.000000000000000000001",
    "1_000",
    "0x10",
    "0o7",
    "0b1",
    "1e9",
    "1.7e9",
    "2.5",
    "65536",
    "1000000000",
];

/// Tokens of the languages the targets read.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\"\"\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "\r\n",
    "\r",
    "#",
    " ",
    "\t",
    "\\",
    "\\u0000",
    "\0",
    "é",
    "µ",
    "µs",
    "\u{feff}",
    "\u{1F600}",
    "ns",
    "us",
    "ms",
    "s",
    "m",
    "min",
    "h",
    "d",
    "true",
    "false",
    "0s",
    "1ns",
    "584y",
    "99999999999h",
    ".5s",
    "1.0000000001s",
    "T",
    "Z",
    "+23:59",
    "-00:01",
    ":",
    "-",
    "23:59:60",
    "24:00:00",
    "00:00:60.5",
    "1970-01-01",
    "2262-04-12",
    "1677-09-21",
    "0000-02-29",
    "2024-02-30",
    "9999-12-31T23:59:59.999999999Z",
    "[[fleet.tiers]]",
    "[workload]",
    "[dispatch]",
    "[[faults]]",
    "[balancer]",
    "fleet.tiers[0].count",
    "workload.arrivals.rate",
    "[99999999999999999999]",
    "[0]",
    "dist = \"lognormal\"",
    "process = \"trace\"",
    "file = \"traces/api_gateway.csv\"",
    "loop = true",
    "speedup = 1e-300",
];

/// Mutate `input` 1 to 4 times; `others` are seeds to splice from, `keys`
/// words of the language (TOML keys, CSV header fields) to swap in.
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], keys: &[String]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        out = once(rng, out, others, keys);
    }
    out
}

fn once(rng: &mut Rng, mut b: Vec<u8>, others: &[Vec<u8>], keys: &[String]) -> Vec<u8> {
    let len = b.len();
    match rng.below(16) {
        // Bytes.
        0 if len > 0 => {
            let i = rng.below(len);
            b[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            b[i] = rng.next() as u8;
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(8.min(len - i));
            b.drain(i..i + n);
        }
        // Lines.
        3..=5 => {
            let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            let i = rng.below(n);
            match rng.below(3) {
                0 if n > 1 => {
                    lines.remove(i);
                }
                1 => {
                    let copies = if rng.chance(8) { 1 + rng.below(64) } else { 1 };
                    for _ in 0..copies {
                        lines.insert(i, lines[i].clone());
                    }
                }
                _ => {
                    let j = rng.below(n);
                    lines.swap(i, j);
                }
            }
            b = lines.join(&b'\n');
        }
        // A number replaced by an extreme.
        6 | 7 => {
            let starts: Vec<usize> = (0..len)
                .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
                .collect();
            if !starts.is_empty() {
                let s = *rng.pick(&starts);
                let e = (s..len)
                    .find(|&i| !(b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_'))
                    .unwrap_or(len);
                b.splice(s..e, rng.pick(EXTREMES).bytes());
            }
        }
        // Values swapped between two `key = value` lines, or a key renamed.
        8 | 9 => {
            let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let with_eq: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(&b'='))
                .collect();
            if !with_eq.is_empty() {
                let i = *rng.pick(&with_eq);
                let eq = lines[i].iter().position(|&c| c == b'=').expect("has =");
                if rng.chance(2) && !keys.is_empty() {
                    let key = rng.pick(keys).clone();
                    let mut line = key.into_bytes();
                    line.extend_from_slice(b" ");
                    line.extend_from_slice(&lines[i][eq..]);
                    lines[i] = line;
                } else {
                    let j = *rng.pick(&with_eq);
                    let eq_j = lines[j].iter().position(|&c| c == b'=').expect("has =");
                    let (vi, vj) = (lines[i][eq..].to_vec(), lines[j][eq_j..].to_vec());
                    lines[i].truncate(eq);
                    lines[i].extend_from_slice(&vj);
                    lines[j].truncate(eq_j);
                    lines[j].extend_from_slice(&vi);
                }
            }
            b = lines.join(&b'\n');
        }
        // A quote, bracket or separator removed.
        10 => {
            let at: Vec<usize> = (0..len)
                .filter(|&i| b"\"'[]{},=:".contains(&b[i]))
                .collect();
            if !at.is_empty() {
                b.remove(*rng.pick(&at));
            }
        }
        // A token or key inserted.
        11 | 12 => {
            let i = rng.below(len + 1);
            let token: Vec<u8> = if rng.chance(3) && !keys.is_empty() {
                rng.pick(keys).clone().into_bytes()
            } else {
                rng.pick(TOKENS).as_bytes().to_vec()
            };
            b.splice(i..i, token);
        }
        // A splice from another seed.
        13 if !others.is_empty() => {
            let other = rng.pick(others);
            if !other.is_empty() {
                let s = rng.below(other.len());
                let e = s + rng.below((other.len() - s).min(256)) + 1;
                let i = rng.below(len + 1);
                let cut = if rng.chance(2) {
                    (len - i).min(e - s)
                } else {
                    0
                };
                b.splice(i..i + cut, other[s..e].iter().copied());
            }
        }
        // A cell of a CSV row replaced or emptied.
        14 => {
            let at: Vec<usize> = (0..len).filter(|&i| b[i] == b',').collect();
            if !at.is_empty() {
                let s = *rng.pick(&at) + 1;
                let e = (s..len)
                    .find(|&i| b[i] == b',' || b[i] == b'\n')
                    .unwrap_or(len);
                let with: &[u8] = match rng.below(4) {
                    0 => b"",
                    1 => rng.pick(EXTREMES).as_bytes(),
                    2 => rng.pick(TOKENS).as_bytes(),
                    _ => b"\"a,\nb\"",
                };
                b.splice(s..e, with.iter().copied());
            }
        }
        // Truncated.
        _ if len > 0 => b.truncate(rng.below(len)),
        _ => b.extend_from_slice(rng.pick(TOKENS).as_bytes()),
    }
    b
}

/// Words to swap in as keys: the identifiers before `=` and inside `[...]`
/// headers, and the fields of CSV header lines, of every seed.
pub fn keys_of(seeds: &[Vec<u8>]) -> Vec<String> {
    let mut keys = std::collections::BTreeSet::new();
    for seed in seeds {
        for line in String::from_utf8_lossy(seed).lines() {
            let line = line.trim();
            if let Some((k, _)) = line.split_once('=') {
                let k = k.trim();
                if !k.is_empty() && k.len() < 40 && !k.contains(['"', '{', ',']) {
                    keys.insert(k.to_string());
                }
            }
            if line.starts_with('[') {
                keys.insert(line.to_string());
            }
        }
    }
    keys.into_iter().collect()
}
