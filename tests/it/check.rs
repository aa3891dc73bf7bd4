//! `fleetsim check`: the CI regression gate, through the real binary.

use crate::support::fleetsim;
use std::fs;

const SMALL: &str = r#"
name = "gate"
seed = 3
duration = "20s"

[[fleet.tiers]]
count = 3
service_time = { dist = "exponential", mean = "50ms" }

[workload]
arrivals = { process = "poisson", rate = 40.0 }
"#;

#[test]
fn check_passes_on_a_fresh_baseline_fails_on_a_regression_and_explains_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("gate.toml"), SMALL).unwrap();
    let o = fleetsim(d, &["check", "gate.toml", "--baseline", "base", "--update"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let baseline = d.join("base/gate.csv");
    assert!(baseline.exists());

    // Against itself: every metric within tolerance, exit 0, a markdown table.
    let o = fleetsim(
        d,
        &[
            "check",
            "gate.toml",
            "--baseline",
            "base",
            "--summary",
            "summary.md",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("| gate | latency_p99_ms |") && out.contains("within tolerance"),
        "{out}"
    );
    assert_eq!(fs::read_to_string(d.join("summary.md")).unwrap(), out);

    // A baseline whose p99 was half of today's: today regressed by 100 %.
    let text = fs::read_to_string(&baseline).unwrap();
    let halved: String = text
        .lines()
        .map(|l| match l.strip_prefix("latency_p99_ms,") {
            Some(v) => format!("latency_p99_ms,{}\n", v.parse::<f64>().unwrap() / 2.0),
            None => format!("{l}\n"),
        })
        .collect();
    fs::write(&baseline, halved).unwrap();
    let o = fleetsim(d, &["check", "gate.toml", "--baseline", "base"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("| gate | latency_p99_ms |") && out.contains("regressed"),
        "{out}"
    );
    // ... unless the tolerance allows it.
    let o = fleetsim(
        d,
        &[
            "check",
            "gate.toml",
            "--baseline",
            "base",
            "--tolerance",
            "latency_p99_ms=150%",
        ],
    );
    assert_eq!(o.status.code(), Some(0));

    // A changed scenario is not compared: check says so and fails.
    fs::write(
        d.join("gate.toml"),
        SMALL.replace("rate = 40.0", "rate = 41.0"),
    )
    .unwrap();
    let o = fleetsim(d, &["check", "gate.toml", "--baseline", "base"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("not comparable: the scenario changed"),
        "{out}"
    );

    // No baseline at all, and a bad tolerance (exit 2).
    let o = fleetsim(d, &["check", "gate.toml", "--baseline", "elsewhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no baseline"));
    let o = fleetsim(
        d,
        &[
            "check",
            "gate.toml",
            "--baseline",
            "base",
            "--tolerance",
            "p99=5%",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown metric `p99`"));
}
