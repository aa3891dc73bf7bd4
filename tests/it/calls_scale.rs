//! Call graphs at scale: ten million top-level tasks through three layers
//! run in memory that does not grow with the number of tasks (calls and
//! requests live in slabs whose slots are reused).

use crate::support::{fleetsim, peak_rss_mb, text};

#[test]
fn ten_million_tasks_through_three_layers_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deep.toml"),
        r#"name = "deep"
duration = "1000s"
drain = "10s"

[[fleet.tiers]]
name = "front"
count = 4
concurrency = 8
capabilities = ["front"]
service_time = { dist = "constant", value = "100us" }
calls = [ { capability = "middle" } ]

[[fleet.tiers]]
name = "middle"
count = 4
concurrency = 8
capabilities = ["middle"]
service_time = { dist = "constant", value = "100us" }
calls = [ { capability = "storage" } ]
async = true

[[fleet.tiers]]
name = "storage"
count = 4
concurrency = 4
capabilities = ["storage"]
service_time = { dist = "constant", value = "200us" }

[workload]
arrivals = { process = "constant", rate = 10000.0 }
capability = "front"
"#,
    )
    .unwrap();
    let out = fleetsim(dir.path(), &["run", "deep.toml", "--quiet", "--out", "out"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[4], "10000000", "tasks submitted");
    assert_eq!(row[5], "10000000", "tasks completed");
    let calls = std::fs::read_to_string(dir.path().join("out/calls.csv")).unwrap();
    for (line, cap) in calls.lines().skip(1).zip(["front", "middle", "storage"]) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!((f[2], f[3], f[6]), (cap, "10000000", "10000000"), "{line}");
    }
    let Some(mb) = peak_rss_mb(&dir.path().join("out")) else {
        eprintln!("peak memory is not reported on this platform; not checked");
        return;
    };
    eprintln!("10M tasks through 3 layers: peak resident memory {mb} MB");
    assert!(mb < 100.0, "peak resident memory {mb} MB");
}
