//! `results.json`: one document with everything a notebook or dashboard
//! reads from a run, compare, sweep or merge directory: the scenario (name,
//! source, hash), the seeds, the metric registry's names, labels and units,
//! every run's metrics, per variant the mean and 95 % CI, and the
//! comparison or the sweep's grid. The CSVs stay as they are; this is the
//! same numbers in one file (docs/outputs.md, "results.json", documents
//! every field).
//!
//! Why it is built from `summary.csv`'s bytes: `merge` has nothing else,
//! and the merged `summary.csv` is the unsharded one byte for byte, so the
//! document is too, whatever `--jobs` or shards made it. No timestamps or
//! wall-clock times ever enter it. Object keys come out sorted (serde_json's
//! map), floats in their shortest round-trip form, non-finite values
//! (a CI of one replication) as `null`.

use serde_json::{Map, Value, json};

use super::read::{self, SummaryRow};
use crate::metrics::registry::{self, Unit};
use crate::results::comparison::Comparison;
use crate::results::shard::Vary;
use crate::stats::mean_ci;

/// The schema version in the document's `schema` field; raised on any
/// change that is not a new field.
pub const SCHEMA: u32 = 1;

/// What produced the document and from what.
#[derive(Clone, Debug)]
pub struct Meta<'a> {
    /// `run`, `compare`, `sweep` or `merge`.
    pub command: &'a str,
    pub scenario: &'a str,
    /// The scenario file (or built-in name) as loaded.
    pub source: &'a str,
    pub scenario_hash: u64,
    /// The root seed.
    pub seed: u64,
    /// The `--set` overrides, as given.
    pub set: &'a [String],
    pub replications: u32,
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Count => "count",
        Unit::Fraction => "fraction",
        Unit::PerSecond => "per_s",
        Unit::Millis => "ms",
        Unit::PerTask => "per_task",
    }
}

/// Mean and CI of each metric over `rows`, by metric name.
fn stats(rows: &[&SummaryRow]) -> Value {
    let mut m = Map::new();
    for (i, metric) in registry::ALL.iter().enumerate() {
        let xs: Vec<f64> = rows
            .iter()
            .map(|r| r.metrics[i])
            .filter(|x| x.is_finite())
            .collect();
        let (mean, ci95) = mean_ci(&xs);
        m.insert(
            metric.name.to_string(),
            json!({ "mean": num(mean), "ci95": num(ci95), "n": xs.len() }),
        );
    }
    Value::Object(m)
}

/// The document for `summary` (the directory's `summary.csv` bytes), with
/// the comparison of a compare directory or the grid of a sweep's.
pub fn results(
    meta: &Meta<'_>,
    summary: &[u8],
    comparison: Option<&Comparison>,
    sweep: Option<&[Vary]>,
) -> Result<String, String> {
    let rows = read::summary(summary)?;
    let metrics: Vec<Value> = registry::ALL
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "label": m.label,
                "unit": unit(m.unit),
                "decimals": m.decimals,
            })
        })
        .collect();
    let runs: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut values = Map::new();
            for (m, &x) in registry::ALL.iter().zip(&r.metrics) {
                values.insert(m.name.to_string(), num(x));
            }
            json!({
                "variant": r.variant,
                "replication": r.replication,
                "seed": r.seed,
                "metrics": values,
            })
        })
        .collect();
    let variants: Vec<Value> = read::by_variant(&rows)
        .into_iter()
        .map(|(v, of)| json!({ "variant": v, "runs": of.len(), "metrics": stats(&of) }))
        .collect();
    let comparison = comparison.map(|c| {
        let rows: Vec<Value> = c
            .rows
            .iter()
            .map(|row| {
                let mut m = Map::new();
                for (name, s) in registry::COMPARED.iter().zip(&row.stats) {
                    m.insert(
                        name.to_string(),
                        json!({
                            "mean": num(s.mean),
                            "ci95": num(s.ci95),
                            "diff": num(s.diff),
                            "diff_ci95": num(s.diff_ci95),
                        }),
                    );
                }
                json!({ "strategy": row.strategy.as_str(), "metrics": m })
            })
            .collect();
        json!({
            "baseline": c.baseline().as_str(),
            "ranked_by": "latency_p99_ms",
            "ranking": super::compare_page::ranked(c)
                .iter()
                .map(|r| r.strategy.as_str())
                .collect::<Vec<_>>(),
            "rows": rows,
        })
    });
    let sweep = sweep.map(|vary| {
        let points: Vec<Value> = (0..super::sweep_page::point_count(vary))
            .map(|p| {
                let values = super::sweep_page::point_values(vary, p);
                let mut by_key = Map::new();
                for (k, v) in vary.iter().zip(&values) {
                    by_key.insert(k.key.clone(), Value::String(v.clone()));
                }
                let label = vary
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| format!("{}={v}", k.key))
                    .collect::<Vec<_>>()
                    .join(",");
                json!({ "point": p, "variant": label, "values": by_key })
            })
            .collect();
        json!({
            "keys": vary.iter().map(|v| json!({ "key": v.key, "values": v.values })).collect::<Vec<_>>(),
            "points": points,
        })
    });
    let doc = json!({
        "schema": SCHEMA,
        "fleetsim": env!("CARGO_PKG_VERSION"),
        "command": meta.command,
        "scenario": {
            "name": meta.scenario,
            "source": meta.source,
            "hash": format!("{:016x}", meta.scenario_hash),
            "set": meta.set,
        },
        "seed": meta.seed,
        "replications": meta.replications,
        "metrics": metrics,
        "runs": runs,
        "variants": variants,
        "comparison": comparison,
        "sweep": sweep,
    });
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_of_two_runs() {
        let csv = "scenario,variant,seed,replication,success_rate,latency_p99_ms\n\
                   s,default,7,0,0.975000,12.500\ns,default,8,1,0.985000,13.500\n";
        let meta = Meta {
            command: "run",
            scenario: "s",
            source: "s.toml",
            scenario_hash: 0xab,
            seed: 1,
            set: &[],
            replications: 2,
        };
        let text = results(&meta, csv.as_bytes(), None, None).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["scenario"]["hash"], "00000000000000ab");
        assert_eq!(v["runs"][1]["seed"], 8);
        assert_eq!(v["runs"][0]["metrics"]["success_rate"], 0.975);
        assert_eq!(v["runs"][0]["metrics"]["tasks_submitted"], Value::Null);
        let sr = &v["variants"][0]["metrics"]["latency_p99_ms"];
        assert_eq!(sr["mean"], 13.0);
        assert_eq!(sr["n"], 2);
        // s = √0.5, n = 2: half-width t(1) × √(0.5 / 2) = t(1) × 0.5.
        let want = crate::stats::t95(1) * 0.5;
        assert!((sr["ci95"].as_f64().unwrap() - want).abs() < 1e-9);
        assert_eq!(v["comparison"], Value::Null);
        assert_eq!(text, results(&meta, csv.as_bytes(), None, None).unwrap());
    }
}
