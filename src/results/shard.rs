//! A sweep shard's identity: the `--vary` lists and the `--shard I/N` that
//! define it, and the manifest, `shard.csv`, that a shard writes last.
//!
//! Why these live below the reports: `report::csv::shard_manifest` writes
//! the manifest as a pure function of it, and the harness (which runs
//! sweeps, and reads manifests back in `merge`, checking them against the
//! grid) builds on top. Run `i` of a sweep with `R` replications is
//! replication `i % R` of grid point `i / R`; a shard holds the runs
//! `i ≡ I (mod N)` (docs/determinism.md, "Threads, --jobs, shards and
//! merge").

use std::fmt;
use std::str::FromStr;

use crate::scenario::KeyPath;

/// The manifest's file name in a shard's directory.
pub const MANIFEST: &str = "shard.csv";

/// The manifest format written in its `format` row.
pub const MANIFEST_FORMAT: &str = "fleetsim-shard 1";

/// One `--vary KEY=V1,V2,..` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vary {
    /// The key path, as given.
    pub key: String,
    /// The values, trimmed, in order; TOML values as for `--set`.
    pub values: Vec<String>,
}

impl FromStr for Vary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, list) = s.split_once('=').ok_or_else(|| {
            format!("`{s}` is not KEY=V1,V2,.. (e.g. balancer.strategy=p2c,round_robin)")
        })?;
        let key = key.trim();
        if KeyPath::parse(key).is_none() {
            return Err(format!(
                "`{key}` is not a key path (e.g. fleet.tiers[0].count)"
            ));
        }
        let values = split_values(list).map_err(|e| format!("`{s}`: {e}"))?;
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(format!("`{key}={v}` is listed twice"));
            }
        }
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }
}

impl fmt::Display for Vary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.values.join(","))
    }
}

/// Split `V1,V2,..` at the commas that are outside quotes, arrays and
/// inline tables, so `{dist="uniform",min="1ms",max="2ms"}` is one value.
fn split_values(list: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in list.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced `{c}`"))?;
            }
            ',' if depth == 0 => {
                values.push(list[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err("a quoted value is not closed".to_string());
    }
    if depth != 0 {
        return Err("an array or inline table is not closed".to_string());
    }
    values.push(list[start..].trim().to_string());
    if values.iter().any(String::is_empty) {
        return Err("empty value (values are separated by commas)".to_string());
    }
    Ok(values)
}

/// `--shard I/N`: the runs whose index is ≡ I (mod N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The run indices of this shard out of `total`, ascending.
    pub fn runs(self, total: usize) -> Vec<usize> {
        (self.index as usize..total)
            .step_by(self.count as usize)
            .collect()
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not I/N with 0 ≤ I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A shard's manifest (`shard.csv`): what sweep it belongs to and which runs
/// it holds, so `merge` can check that shards belong together and that
/// none is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The fleetsim version that wrote it.
    pub fleetsim: String,
    pub scenario: String,
    /// The scenario file (or `builtin:NAME`); informative only.
    pub source: String,
    /// FNV-1a of the scenario text and the `--set` overrides.
    pub scenario_hash: u64,
    /// The root seed (after `--seed`).
    pub seed: u64,
    /// The `--set` overrides, `KEY=VALUE`.
    pub set: Vec<String>,
    pub vary: Vec<Vary>,
    pub replications: u32,
    pub points: usize,
    pub runs_total: usize,
    pub shard: Shard,
    /// The run indices in this shard, ascending.
    pub runs: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary(s: &str) -> Vary {
        s.parse().unwrap()
    }

    #[test]
    fn vary_splits_at_top_level_commas_only() {
        let v = vary(
            r#"service_time={dist="uniform",min="1ms",max="2ms"}, {dist="constant",value="1ms"}"#,
        );
        assert_eq!(v.key, "service_time");
        assert_eq!(
            v.values,
            [
                r#"{dist="uniform",min="1ms",max="2ms"}"#,
                r#"{dist="constant",value="1ms"}"#
            ]
        );
        assert_eq!(vary("tags=[\"a,b\"],'c,d'").values, ["[\"a,b\"]", "'c,d'"]);
        assert_eq!(vary("a= 1 ,2").values, ["1", "2"]);
        for bad in [
            "a", "a=", "a=1,,2", "a=[1,2", "a=\"x", "a=1,1", "a..b=1", "a=}",
        ] {
            assert!(bad.parse::<Vary>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn shards_partition_the_runs() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s.runs(8), [1, 4, 7]);
        assert_eq!(Shard::ALL.runs(3), [0, 1, 2]);
        for bad in ["3/3", "0/0", "1", "-1/2", "a/b"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let mut all: Vec<usize> = (0..3)
            .flat_map(|i| Shard { index: i, count: 3 }.runs(10))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
