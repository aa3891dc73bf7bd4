//! A fleet that changes: `drain` loses nothing and routes nothing to a
//! draining agent, `join` gives new agents traffic only once registered
//! (and probed, with probes on), `rolling_restart` goes batch by batch, and
//! the autoscaler follows a step in load to the HPA fixed point within the
//! number of intervals the rule predicts, inside `[min, max]`.

use crate::support::{load_text, run_text as run};
use fleetsim::metrics::RunResult;

/// 4 agents, one slot each, constant 20 ms service, a constant 40 tasks/s
/// routed round robin: agent `k` gets arrivals `k, k + 4, …` (one every
/// 100 ms), so counts follow by arithmetic.
const BASE: &str = r#"name = "f"
seed = 7
duration = "30s"
drain = "30s"

[[fleet.tiers]]
name = "a"
count = 4
service_time = { dist = "constant", value = "20ms" }

[workload]
arrivals = { process = "constant", rate = 40.0 }

[balancer]
strategy = "round_robin"
"#;

const FAST_HEALTH: &str =
    "[health]\ninterval = \"200ms\"\ntimeout = \"100ms\"\nunhealthy_after = 2\n";

fn no_losses(r: &RunResult) {
    assert_eq!(r.submitted, r.completed, "{r:?}");
    assert_eq!((r.failed, r.rejected, r.cancelled), (0, 0, 0));
}

#[test]
fn a_drained_agent_finishes_everything_it_holds_and_gets_nothing_new() {
    // agent-0 is slowed tenfold (200 ms a task, one every 100 ms): at the
    // drain it holds a long queue, and with an 80 ms network the request
    // sent to it at 9.9 s is still on its way at 9.95 s. Arrivals before
    // 9.95 s are k = 0..=397 (every 25 ms); agent-0 gets k = 0, 4, …, 396:
    // exactly 100, all of which it must serve, and not one more.
    let text = format!(
        "{BASE}[network]\nlatency = {{ dist = \"constant\", value = \"40ms\" }}\n\
         [[faults]]\nat = \"0s\"\nkind = \"slow\"\nfactor = 10.0\ntarget = {{ agents = [\"agent-0\"] }}\n\
         [[faults]]\nat = \"9.95s\"\nkind = \"drain\"\ntarget = {{ agents = [\"agent-0\"] }}\n"
    );
    let r = run(&text, &[]);
    no_losses(&r);
    let a0 = &r.agents[0];
    assert_eq!(a0.tasks, 100, "{a0:?}");
    assert_eq!(a0.drained_s.get(), Some(9.95));
    assert!(a0.last_sent_s.get().unwrap() < 9.95, "{a0:?}");
    // It served ~50 by 9.95 s and leaves once the other ~50 are done,
    // 200 ms each: around 20 s; then it is no longer part of the fleet.
    assert!((18.0..22.0).contains(&a0.present_s), "{a0:?}");
    // The three others took every arrival from 9.95 s on: 1200 − 100.
    let others: u64 = r.agents[1..].iter().map(|a| a.tasks).sum();
    assert_eq!(others, 1100);
    let last = r.buckets.last().unwrap();
    assert_eq!(last.agents_serving, 3);
    assert!(r.buckets[5].agents_serving == 4, "{:?}", r.buckets[5]);
}

#[test]
fn a_drain_with_for_comes_back_and_serves_again() {
    let text = format!(
        "{BASE}[[faults]]\nat = \"5s\"\nkind = \"drain\"\ntarget = {{ agents = [\"agent-1\"] }}\nfor = \"5s\"\n"
    );
    let r = run(&text, &[]);
    no_losses(&r);
    let a1 = &r.agents[1];
    assert_eq!(a1.registered_s.get(), Some(10.0));
    assert!(a1.first_sent_s.get().unwrap() >= 10.0, "{a1:?}");
    // Present for 30 s of the run, less the ~5 s it was away (it held
    // nothing when drained: 20 ms tasks every 100 ms; it left at once
    // unless a task was in service).
    assert!((a1.present_s - 25.0).abs() < 0.05, "{a1:?}");
    // agent-0 takes 1 in 4 arrivals while agent-1 is in, 1 in 3 while it
    // is out: 10/s · 5 s + 13.3/s · 5 s + 10/s · 20 s ≈ 317.
    assert!(
        (315..=318).contains(&r.agents[0].tasks),
        "{:?}",
        r.agents[0]
    );
}

#[test]
fn joined_agents_get_traffic_only_once_registered_and_probed() {
    let join = "[[faults]]\nat = \"10s\"\nkind = \"join\"\ntarget = { tier = \"a\" }\ncount = 2\n";
    // Without probes: registered and eligible at 10 s.
    let plain = run(&format!("{BASE}{join}"), &[]);
    no_losses(&plain);
    assert_eq!(plain.agents.len(), 6, "two spares, numbered after the tier");
    for a in &plain.agents[4..] {
        assert_eq!(
            (a.registered_s.get(), a.serving_s.get()),
            (Some(10.0), Some(10.0))
        );
        assert!(
            a.first_sent_s.get().unwrap() >= 10.0 && a.tasks > 0,
            "{a:?}"
        );
    }
    // With probes: registered at 10 s, eligible only once a probe passes
    // (probes every 200 ms, answered in ~20 ms), and no request before.
    let probed = run(&format!("{BASE}{FAST_HEALTH}{join}"), &[]);
    no_losses(&probed);
    for a in &probed.agents[4..] {
        let serving = a.serving_s.get().unwrap();
        assert_eq!(a.registered_s.get(), Some(10.0));
        assert!(serving > 10.0 && serving <= 10.25, "{a:?}");
        assert!(a.first_sent_s.get().unwrap() >= serving, "{a:?}");
    }
    // The serving count goes 4 → 6.
    assert_eq!(probed.buckets[5].agents_serving, 4);
    assert_eq!(probed.buckets[15].agents_serving, 6);
}

#[test]
fn a_rolling_restart_goes_batch_by_batch_and_loses_nothing() {
    let text = format!(
        "{BASE}{FAST_HEALTH}[[faults]]\nat = \"5s\"\nkind = \"rolling_restart\"\n\
         target = {{ tier = \"a\" }}\nbatch = 2\nfor = \"1s\"\npause = \"1s\"\n"
    );
    let r = run(&text, &[]);
    no_losses(&r);
    let (a, b) = (&r.agents[0], &r.agents[2]);
    // Batch 1 (agents 0, 1) drains at 5 s and is back ~1 s after leaving;
    // batch 2 drains 1 s after batch 1 serves again.
    assert_eq!(a.drained_s.get(), Some(5.0));
    let back = a.serving_s.get().unwrap();
    assert!(back > 6.0 && back < 6.5, "{a:?}");
    let second = b.drained_s.get().unwrap();
    assert!(second >= back + 1.0 && second < back + 1.3, "{b:?}");
    // Never fewer than two serving.
    assert!(r.buckets.iter().all(|b| b.agents_serving >= 2));
}

/// 10 agents, one slot, constant 100 ms: 30 tasks/s load them to 0.3;
/// from t0 = 65 s a second source adds 60/s (3λ in all) until 125 s.
fn autoscaled(min: u32, max: u32) -> String {
    format!(
        r#"name = "scale"
seed = 3
duration = "200s"
drain = "10s"

[[fleet.tiers]]
name = "a"
count = 10
service_time = {{ dist = "constant", value = "100ms" }}

[workload]
arrivals = {{ process = "constant", rate = 30.0 }}

[[workload.streams]]
name = "step"
arrivals = {{ process = "bursts", count = 60, size = 60, every = "1s", start = "65s", spread = "1s" }}

[balancer]
strategy = "least_connections"

[[autoscale]]
tier = "a"
metric = "utilization"
target = 0.3
interval = "10s"
min = {min}
max = {max}
startup = "0s"
cooldown = "20s"
"#
    )
}

#[test]
fn the_autoscaler_reaches_the_hpa_fixed_point_in_two_intervals() {
    // Unsaturated agents have u = λ s / n, so one decision from a full
    // interval at load λ' gives ceil(n · (λ' s / n) / target) =
    // ceil(λ' s / target), whatever n was: the fixed point at once. With
    // λ' = 90/s, s = 0.1 s, target 0.3: n* = 30; within the 10 %
    // tolerance, any n with 9/n ∈ [0.27, 0.33]: n ∈ [28, 33].
    // The step at t0 = 65 s is mid-interval: the decision at 70 s sees
    // [60, 70) half at 0.3 and half at 0.9, mean 0.6 → ceil(10 · 2) = 20;
    // the one at 80 s sees a full interval at 90/s on 20 agents (0.45 →
    // ceil(20 · 1.5) = 30). So the fixed point holds from t0 + 2 intervals
    // at the latest (startup 0). 10 agents at 90/s are at 0.9 < 1: never
    // saturated, so the linear argument holds at every step.
    let r = run(&autoscaled(8, 40), &[]);
    no_losses(&r);
    let at = |t: usize| r.buckets[t].agents_serving; // bucket t ends at t + 1 s
    assert_eq!(at(60), 10);
    assert!(
        (18..=22).contains(&at(72)),
        "after one decision: {}",
        at(72)
    );
    for t in 81..125 {
        assert!((28..=33).contains(&at(t)), "t = {t}: {}", at(t));
    }
    // Back to λ at 125 s: n = 30 → ceil(30 · 0.1 / 0.3) = 10 once the
    // 20 s cooldown has passed.
    assert!((10..=11).contains(&at(190)), "{}", at(190));
    for b in &r.buckets {
        assert!((8..=40).contains(&b.agents_serving), "{b:?}");
    }
}

#[test]
fn the_autoscaler_never_leaves_min_max() {
    // max 15: the rule asks for 20 then 30; the count stops at 15.
    let r = run(&autoscaled(8, 15), &[]);
    assert!(
        r.buckets
            .iter()
            .all(|b| (8..=15).contains(&b.agents_serving))
    );
    assert_eq!(r.buckets[100].agents_serving, 15);
    // Agents are allocated up to max: 15, five of them spares.
    assert_eq!(r.agents.len(), 15);
    // Agent-seconds: 10 agents all along, plus what the 5 spares ran. They
    // start at the decision of 70 s. The load falls at 125 s; the decision
    // at 130 s still sees 0.4 (wants more), the one at 140 s wants 10 or
    // 11 (0.2 measured, ceil of 10.0x), but 15 was asked at 130 s, within
    // the 20 s cooldown: the tier sheds at 150 s, highest ids first. So a
    // spare ran 80 s, or to the end if the tier kept 11.
    let base = 10.0 * r.simulated_s;
    let spares: Vec<f64> = r.agents[10..].iter().map(|a| a.present_s).collect();
    let kept = r.buckets.last().unwrap().agents_serving - 10;
    for (k, s) in spares.iter().enumerate() {
        let want = if (k as u64) < kept {
            r.simulated_s - 70.0
        } else {
            80.0
        };
        assert!((s - want).abs() < 1e-6, "spare {k}: {spares:?}");
    }
    let sum = base + spares.iter().sum::<f64>();
    assert!(
        (r.agent_seconds - sum).abs() < 1e-6,
        "{} vs {sum}",
        r.agent_seconds
    );
}

#[test]
fn bad_fleet_keys_are_reported_with_their_paths() {
    let bad = [
        (
            "[[faults]]\nat = \"1s\"\nkind = \"join\"\ntarget = { agents = [\"agent-0\"] }\ncount = 1\n",
            "faults[0].target",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkind = \"join\"\ntarget = { tier = \"a\" }\n",
            "faults[0].count",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkind = \"rolling_restart\"\ntarget = { tier = \"a\" }\n",
            "faults[0].batch",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkind = \"drain\"\ntarget = { tier = \"a\" }\nbatch = 2\n",
            "faults[0].batch",
        ),
        (
            "[[autoscale]]\ntier = \"zz\"\ntarget = 0.5\nmax = 9\n",
            "autoscale[0].tier",
        ),
        (
            "[[autoscale]]\ntier = \"a\"\ntarget = 0.5\nmax = 2\n",
            "autoscale[0].max",
        ),
        (
            "[[autoscale]]\ntier = \"a\"\ntarget = 1.5\nmax = 9\n",
            "autoscale[0].target",
        ),
        (
            "[[autoscale]]\ntier = \"a\"\nmetric = \"cpu\"\ntarget = 0.5\nmax = 9\n",
            "autoscale[0].metric",
        ),
        (
            "[[autoscale]]\ntier = \"a\"\ntarget = 0.5\nmin = 5\nmax = 9\n",
            "autoscale[0].min",
        ),
    ];
    for (extra, path) in bad {
        let text = format!("{BASE}{extra}");
        let err = fleetsim::scenario::load_str("bad.toml", "bad", &text, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(path), "{path} not in: {msg}");
    }
    // And a good one parses.
    let ok = load_text(
        &format!("{BASE}[[autoscale]]\ntier = \"a\"\ntarget = 0.5\nmax = 9\n"),
        &[],
    );
    assert_eq!(ok.tiers[0].spares, 5);
}

#[test]
fn callers_stop_calling_a_drained_agent_at_once() {
    // Two front agents call `db` on four db agents, each through its own
    // client (balancer and all). db agent-2 (the first db agent) drains at
    // 5 s: no caller may send it anything after that, and every call it
    // held completes.
    let text = r#"name = "calls"
seed = 5
duration = "20s"
drain = "10s"

[[fleet.tiers]]
name = "front"
count = 2
service_time = { dist = "constant", value = "1ms" }
concurrency = 8
capabilities = ["web"]
calls = [{ capability = "db" }]

[[fleet.tiers]]
name = "db"
count = 4
service_time = { dist = "constant", value = "30ms" }
capabilities = ["db"]

[workload]
arrivals = { process = "poisson", rate = 60.0 }
capability = "web"

[network]
latency = { dist = "constant", value = "2ms" }

[[faults]]
at = "5s"
kind = "drain"
target = { agents = ["agent-2"] }
"#;
    let r = run(text, &[]);
    no_losses(&r);
    let db = &r.agents[2];
    assert_eq!(db.drained_s.get(), Some(5.0));
    assert!(db.last_sent_s.get().unwrap() < 5.0, "{db:?}");
    assert!(db.tasks > 50, "{db:?}");
    // The other db agents took every call from 5 s on.
    assert!(
        r.agents[3..]
            .iter()
            .all(|a| a.last_sent_s.get().unwrap() > 19.0)
    );
}

#[test]
fn fleet_changes_replay_byte_for_byte() {
    // Drains, restarts, joins and autoscaling follow from the schedule and
    // the run's streams: two runs agree to the byte, across thread counts.
    use fleetsim::harness;
    use fleetsim::report::csv;
    for file in [
        "scenarios/rolling_deploy.toml",
        "scenarios/autoscale_burst.toml",
    ] {
        let sc = crate::support::load(file, &[]);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let runs = pool.install(|| harness::run_replications(&sc, "v", 2, false));
            [
                csv::summary(&runs),
                csv::agents(&sc, &runs),
                csv::timeseries(&runs),
            ]
        };
        assert_eq!(on(1), on(2), "{file}");
    }
}

/// The autoscaler reads each agent's busy time while health probes hold
/// some of its slots (a probe in a slot is not a request): the saturated
/// `autoscale_burst` variant runs to the end with every task accounted for
/// (reading a probe's slot as a request's once indexed past the requests).
#[test]
fn the_autoscaler_reads_busy_time_with_probes_in_the_slots() {
    let sc = crate::support::load(
        "scenarios/autoscale_burst.toml",
        &["autoscale[0].target=0.5", "autoscale[0].cooldown=\"30s\""],
    );
    let r = fleetsim::world::run(&sc, sc.seed);
    assert!(r.conserved(), "{r:?}");
    assert!(r.completed > 0);
}

/// `tiers.csv`'s per-tier counts add up to `agents_serving` in every bucket
/// while a rolling restart takes agents of every tier out and back.
#[test]
fn per_tier_serving_counts_add_up_to_the_fleet() {
    let sc = crate::support::load("scenarios/rolling_deploy.toml", &["duration=\"20s\""]);
    let r = fleetsim::world::run(&sc, sc.seed);
    assert!(!r.buckets.is_empty());
    let mut dipped = vec![false; sc.tiers.len()];
    for b in &r.buckets {
        assert_eq!(b.agents_by_tier.len(), sc.tiers.len(), "{b:?}");
        let sum: u64 = b.agents_by_tier.iter().map(|&n| u64::from(n)).sum();
        assert_eq!(sum, b.agents_serving, "{b:?}");
        for (i, (&n, t)) in b.agents_by_tier.iter().zip(&sc.tiers).enumerate() {
            assert!(n <= t.count, "{b:?}");
            dipped[i] |= n < t.count;
        }
    }
    assert!(dipped[0], "the restart reaches the first tier within 20 s");
}

/// A sweep of a changing fleet merged from shards writes the same
/// `tiers.csv` as the unsharded sweep.
#[test]
fn tiers_csv_merges_byte_for_byte() {
    use crate::support::{fleetsim, text};
    let dir = tempfile::tempdir().unwrap();
    let scenario = crate::support::root().join("scenarios/autoscale_burst.toml");
    let scenario = scenario.to_str().unwrap();
    let args = |out: &str, shard: Option<&str>| {
        let mut a = vec![
            "sweep",
            scenario,
            "--vary",
            "autoscale[0].target=0.3,0.5",
            "--set",
            "seed=42",
            "--quiet",
            "--out",
        ];
        a.push(out);
        if let Some(s) = shard {
            a.extend(["--shard", s]);
        }
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for (out, shard) in [("all", None), ("s0", Some("0/2")), ("s1", Some("1/2"))] {
        let a = args(out, shard);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = fleetsim(dir.path(), &a);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let o = fleetsim(
        dir.path(),
        &["merge", "s0", "s1", "--out", "merged", "--quiet"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    let all = read("all/tiers.csv");
    assert!(text(&all).lines().count() > 2);
    assert_eq!(all, read("merged/tiers.csv"));
}
