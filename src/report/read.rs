//! `summary.csv` read back: the per-run figures that the sweep page and
//! `results.json` are drawn from.
//!
//! Why from the file and not from the runs: `merge` has only the shards'
//! CSVs, and a page or document drawn from the merged `summary.csv` (which
//! is the unsharded one byte for byte) is then the unsharded one byte for
//! byte too, whatever `--jobs` or shards made it. Values are the CSV's
//! fixed-decimal text parsed back, so every command reads the same numbers.

use crate::metrics::registry;

/// One row of `summary.csv`: a run's labels and every registry metric
/// found in the file ([`registry::ALL`] order, raw values: fractions as
/// fractions; NaN where the column is missing or the cell empty).
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub replication: u32,
    pub metrics: Vec<f64>,
    /// The start of the measured window (`warmup_s`; NaN in a file
    /// written before the column existed).
    pub warmup_s: f64,
}

/// Parse `summary.csv` (or a sweep's, with its key columns at the end).
pub fn summary(bytes: &[u8]) -> Result<Vec<SummaryRow>, String> {
    let mut rd = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let head = rd.headers().map_err(|e| e.to_string())?.clone();
    let col = |c: &str| head.iter().position(|h| h == c);
    let need = |c: &str| col(c).ok_or_else(|| format!("summary.csv has no `{c}` column"));
    let (sc, v, s, r) = (
        need("scenario")?,
        need("variant")?,
        need("seed")?,
        need("replication")?,
    );
    let cols: Vec<Option<usize>> = registry::ALL.iter().map(|m| col(m.name)).collect();
    let warmup = col("warmup_s");
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let cell = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: Option<usize>| {
            i.map(cell)
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        rows.push(SummaryRow {
            scenario: cell(sc).to_string(),
            variant: cell(v).to_string(),
            seed: cell(s)
                .parse()
                .map_err(|_| format!("seed `{}` is not a whole number", cell(s)))?,
            replication: cell(r)
                .parse()
                .map_err(|_| format!("replication `{}` is not a whole number", cell(r)))?,
            metrics: cols.iter().map(|&c| num(c)).collect(),
            warmup_s: num(warmup),
        });
    }
    Ok(rows)
}

/// The position of the metric `name` in [`SummaryRow::metrics`].
pub fn index(name: &str) -> usize {
    registry::ALL
        .iter()
        .position(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric called {name} in the registry"))
}

/// The variants of `rows`, in order of first appearance, each with its rows.
pub fn by_variant(rows: &[SummaryRow]) -> Vec<(&str, Vec<&SummaryRow>)> {
    let mut out: Vec<(&str, Vec<&SummaryRow>)> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|(v, _)| *v == row.variant) {
            Some((_, of)) => of.push(row),
            None => out.push((&row.variant, vec![row])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_the_csv_holds() {
        let csv = "scenario,variant,seed,replication,success_rate,latency_p99_ms,extra\n\
                   s,a,7,0,0.975000,12.500,x\ns,a,8,1,,13.000,y\ns,b,7,0,1.000000,9.000,z\n";
        let rows = summary(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].metrics[index("success_rate")], 0.975);
        assert!(rows[1].metrics[index("success_rate")].is_nan());
        assert!(rows[0].metrics[index("tasks_submitted")].is_nan());
        let v = by_variant(&rows);
        assert_eq!(
            v.iter().map(|(n, r)| (*n, r.len())).collect::<Vec<_>>(),
            [("a", 2), ("b", 1)]
        );
        assert!(summary(b"variant\nx\n").is_err());
    }
}
