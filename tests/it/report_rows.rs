//! The hand-written rows of `agents.csv` are the `csv` writer's bytes,
//! over random figures and names that need quoting.

use fleetsim::harness::{self, RunRecord};
use fleetsim::metrics::AgentResult;
use fleetsim::report;
use fleetsim::scenario::Scenario;

use crate::support::load;

/// `agents.csv` as the `csv` writer writes it: one `String` per cell.
fn reference(sc: &Scenario, runs: &[RunRecord]) -> Vec<u8> {
    let tier_of = fleetsim::fleet::tier_of(&sc.tiers);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(report::csv::AGENT_COLUMNS).unwrap();
    for r in runs {
        for (i, a) in r.result.agents.iter().enumerate() {
            let f = report::fixed;
            w.write_record([
                r.variant.clone(),
                r.replication.to_string(),
                fleetsim::fleet::agent_id(i),
                sc.tiers[tier_of[i] as usize].name.clone(),
                a.tasks.to_string(),
                a.failures.to_string(),
                f(a.utilization, 6),
                f(a.latency_mean_ms, 3),
                f(a.latency_p99_ms, 3),
                a.breaker_trips.to_string(),
                f(a.unhealthy_s, 3),
                f(a.down_s, 3),
                f(a.breaker_open_s, 3),
                f(a.degraded_s, 3),
            ])
            .unwrap();
        }
    }
    w.into_inner().unwrap()
}

/// Names a CSV writer must quote, and names it must not.
const NAMES: [&str; 10] = [
    "plain",
    "",
    "a,b",
    "say \"hi\"",
    "two\nlines",
    "cr\rhere",
    "\"",
    " spaced ",
    "ünïcode,",
    "fleet.tiers[0].count=10,workload.arrivals.rate=5",
];

/// A float cell's value from random bits: zeros, fractions, near-halves
/// at three decimals, any bit pattern, non-finite and extreme values.
fn float(r: u64) -> f64 {
    match r % 6 {
        0 => 0.0,
        1 => -0.0,
        2 => (r >> 11) as f64 / (1u64 << 53) as f64,
        3 => ((r >> 20) % 100_000) as f64 / 1000.0 + 0.0005,
        4 => f64::from_bits(r >> 2) * if r & 1 == 0 { 1.0 } else { -1.0 },
        _ => [f64::NAN, f64::INFINITY, 1e300, -1e-300][(r >> 8) as usize % 4],
    }
}

#[test]
fn agent_rows_are_the_csv_writers_bytes() {
    let mut sc = load(
        "scenarios/steady_load.toml",
        &["duration=\"2s\"", "fleet.tiers[1].count=7"],
    );
    let run = harness::run_one(&sc, "v", 0);
    let agents = run.result.agents.len();
    assert_eq!(agents, fleetsim::fleet::tier_of(&sc.tiers).len());
    assert_eq!(
        report::csv::agents(&sc, std::slice::from_ref(&run)),
        reference(&sc, std::slice::from_ref(&run)),
        "the figures of a real run"
    );
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut quoted_seen = false;
    for round in 0..40 {
        for (k, t) in sc.tiers.iter_mut().enumerate() {
            t.name = NAMES[(next() as usize + k) % NAMES.len()].to_string();
        }
        let runs: Vec<RunRecord> = (0..3)
            .map(|rep| {
                let mut r = run.clone();
                r.variant = NAMES[(round + rep) % NAMES.len()].to_string();
                r.replication = [0, 7, 123_456, u32::MAX][(round + rep) % 4];
                for a in r.result.agents.iter_mut() {
                    *a = AgentResult {
                        tasks: next() >> (next() % 64),
                        failures: next() % 1000,
                        utilization: float(next()),
                        latency_mean_ms: float(next()),
                        latency_p99_ms: float(next()),
                        breaker_trips: next() >> (next() % 64),
                        unhealthy_s: float(next()),
                        down_s: float(next()),
                        breaker_open_s: float(next()),
                        degraded_s: float(next()),
                        ..a.clone()
                    };
                }
                r
            })
            .collect();
        let fast = report::csv::agents(&sc, &runs);
        let slow = reference(&sc, &runs);
        quoted_seen |= fast.windows(7).any(|w| w == b"\"say \"\"");
        assert!(
            fast == slow,
            "round {round}:\n{}\n---\n{}",
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
    }
    assert!(quoted_seen, "some names were quoted");
}
