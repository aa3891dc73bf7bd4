//! Work per task: amounts drawn from `work = { dist, ... }` on the
//! workload, a stream or a job stage; `per_work` service from them; the
//! `work_done`, `work_per_s` and jobs.csv `work` columns; common random
//! numbers across strategies; existing scenarios unchanged.

use crate::support::{fleetsim, load_text, root, run_text, text};
use fleetsim::scenario;

/// One fast agent with room for everything (no queueing), serving in a
/// constant time: work amounts only reach the reports.
fn drawing(work: &str) -> String {
    format!(
        r#"
duration = "200s"
[[fleet.tiers]]
name = "a"
count = 1
concurrency = 1000
service_time = {{ dist = "constant", value = "1ms" }}
[workload]
arrivals = {{ process = "constant", rate = 100.0 }}
work = {work}
"#
    )
}

/// The mean amount drawn per task against the distribution's mean: the
/// standard error of a mean of n draws is sd / √n; allow 5 of them.
fn mean_within_5_se(work: &str, mean: f64, sd: f64) {
    let r = run_text(&drawing(work), &[]);
    assert_eq!(r.completed, r.submitted);
    let n = r.completed as f64;
    let measured = r.work_done / n;
    let se = sd / n.sqrt();
    eprintln!("{work}: measured {measured:.3}, theory {mean:.3}, se {se:.3}");
    assert!(
        (measured - mean).abs() < 5.0 * se,
        "{work}: mean {measured:.3} vs {mean:.3} (se {se:.3}, n {n})"
    );
}

#[test]
fn drawn_amounts_follow_their_distribution() {
    // uniform(3000, 6000): mean 4500, sd 3000/√12.
    mean_within_5_se(
        r#"{ dist = "uniform", min = 3000, max = 6000 }"#,
        4500.0,
        3000.0 / 12f64.sqrt(),
    );
    // exponential(250): sd = mean.
    mean_within_5_se(r#"{ dist = "exponential", mean = 250 }"#, 250.0, 250.0);
    // lognormal(median 100, p99 400): σ = ln 4 / z99, mean = m·e^{σ²/2},
    // sd = mean·√(e^{σ²} − 1).
    let sigma = 4f64.ln() / 2.326_347_874_040_841;
    let mean = 100.0 * (sigma * sigma / 2.0).exp();
    let sd = mean * ((sigma * sigma).exp() - 1.0).sqrt();
    mean_within_5_se(
        r#"{ dist = "lognormal", median = 100, p99 = 400 }"#,
        mean,
        sd,
    );
}

#[test]
fn every_family_draws_work_amounts() {
    // gamma(shape 2, mean 300): sd = mean / √shape; Erlang-4 likewise.
    mean_within_5_se(
        r#"{ dist = "gamma", shape = 2.0, mean = 300 }"#,
        300.0,
        300.0 / 2f64.sqrt(),
    );
    mean_within_5_se(r#"{ dist = "erlang", k = 4, mean = 80 }"#, 80.0, 40.0);
    // Weibull(k = 0.8, λ = 100): mean λΓ(1+1/k), sd λ√(Γ(1+2/k) − Γ(1+1/k)²).
    let g1 = libm::tgamma(1.0 + 1.0 / 0.8);
    let g2 = libm::tgamma(1.0 + 2.0 / 0.8);
    mean_within_5_se(
        r#"{ dist = "weibull", shape = 0.8, scale = 100 }"#,
        100.0 * g1,
        100.0 * (g2 - g1 * g1).sqrt(),
    );
    // Pareto(α = 3, min 10): mean αL/(α−1) = 15, variance L²α/((α−1)²(α−2)) = 75.
    mean_within_5_se(
        r#"{ dist = "pareto", alpha = 3.0, min = 10 }"#,
        15.0,
        75f64.sqrt(),
    );
    // Hyperexponential: 0.9 × exp(10) + 0.1 × exp(1000): mean 109,
    // E[X²] = 2(0.9·100 + 0.1·10⁶).
    let e2 = 2.0 * (0.9 * 100.0 + 0.1 * 1e6);
    mean_within_5_se(
        r#"{ dist = "hyperexponential", means = [10, 1000], probs = [0.9, 0.1] }"#,
        109.0,
        (e2 - 109.0f64 * 109.0).sqrt(),
    );
    // Empirical with weights: mean Σwx/Σw = (1·10 + 3·50)/4 = 40;
    // E[X²] = (100 + 3·2500)/4 = 1900.
    mean_within_5_se(
        r#"{ dist = "empirical", values = [10, 50], weights = [1, 3] }"#,
        40.0,
        (1900.0f64 - 1600.0).sqrt(),
    );
}

#[test]
fn per_work_serves_base_plus_work_times_per_unit_exactly() {
    // 250 units at 10 µs each after a 2 ms base: 4.5 ms, on a free network
    // and an idle agent, so every latency is exactly that.
    let r = run_text(
        r#"
duration = "10s"
[[fleet.tiers]]
name = "a"
count = 1
service_time = { dist = "per_work", base = "2ms", per_unit = "10us" }
[workload]
arrivals = { process = "constant", rate = 10.0 }
work = { dist = "constant", value = 250 }
"#,
        &[],
    );
    assert_eq!(r.completed, 100);
    let exact = r.latency_exact;
    assert_eq!(exact.count, 100);
    assert_eq!(exact.sum_ns, 100 * 4_500_000);
    assert_eq!(exact.max_ns, 4_500_000);
    // Known counts: 100 tasks of 250 units over 10 s.
    assert_eq!(r.work_done, 25_000.0);
    assert_eq!(r.work_per_s, 2_500.0);
}

/// Plain tasks of a stream and a job whose stages draw, routed by
/// `strategy`; nothing fails, everything ends within the drain.
fn mixed(strategy: &str) -> String {
    format!(
        r#"
duration = "30s"
[[fleet.tiers]]
name = "a"
count = 4
concurrency = 2
service_time = {{ dist = "per_work", base = "1ms", per_unit = "20us" }}
[[workload.streams]]
name = "bg"
arrivals = {{ process = "poisson", rate = 20.0 }}
work = {{ dist = "exponential", mean = 100 }}
[[workload.jobs]]
name = "batch"
arrivals = {{ process = "poisson", rate = 2.0 }}
[[workload.jobs.stages]]
name = "load"
tasks = 3
work = {{ dist = "uniform", min = 100, max = 300 }}
[[workload.jobs.stages]]
name = "save"
after = ["load"]
work = {{ dist = "constant", value = 50 }}
[balancer]
strategy = "{strategy}"
"#
    )
}

#[test]
fn work_done_and_jobs_work_add_up_in_the_csvs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.toml"), mixed("round_robin")).unwrap();
    let o = fleetsim(dir.path(), &["run", "w.toml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let read = |f: &str| std::fs::read_to_string(dir.path().join("out").join(f)).unwrap();
    let col = |csv: &str, name: &str| -> Vec<String> {
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let i = header.iter().position(|h| *h == name).unwrap();
        lines
            .map(|l| l.split(',').nth(i).unwrap().to_string())
            .collect()
    };
    let summary = read("summary.csv");
    let jobs = read("jobs.csv");
    // The work columns come last, before warmup_s (appended after them).
    assert!(
        summary
            .lines()
            .next()
            .unwrap()
            .ends_with(",work_done,work_per_s,warmup_s,fingerprint")
    );
    assert!(
        jobs.lines()
            .next()
            .unwrap()
            .ends_with(",compensations,work")
    );
    let num = |s: &String| s.parse::<f64>().unwrap();
    let work_done = num(&col(&summary, "work_done")[0]);
    let work_per_s = num(&col(&summary, "work_per_s")[0]);
    assert_eq!(col(&summary, "tasks_failed")[0], "0");
    assert_eq!(col(&summary, "tasks_cancelled")[0], "0");
    // work_per_s is work_done over the 30 s duration (3 decimals).
    assert!((work_per_s - work_done / 30.0).abs() <= 0.0005 + 1e-9);
    // Every job completed: its `work` is its stages' tasks' work; the
    // stream's tasks make up the rest. Each stage-`save` task carries 50.
    let job_work: f64 = col(&jobs, "work").iter().map(num).sum();
    let n_jobs = col(&jobs, "outcome").len();
    assert!(n_jobs > 30, "{n_jobs} jobs");
    assert!(col(&jobs, "outcome").iter().all(|o| o == "completed"));
    assert!(job_work > n_jobs as f64 * (50.0 + 3.0 * 100.0));
    // Recompute work_done from a run of the same scenario without the
    // stream's tasks' work: the rest must be the stream's.
    let r = run_text(&mixed("round_robin"), &[]);
    assert!((r.work_done - work_done).abs() < 1e-5);
    let jobs_only: f64 = r.jobs.iter().map(|j| j.work).sum();
    assert!((jobs_only - job_work).abs() < 1e-5 * n_jobs as f64);
    let stream_only = run_text(
        &mixed("round_robin"),
        &["workload.jobs[0].arrivals={process=\"poisson\",rate=1e-9}"],
    );
    assert!(stream_only.jobs.is_empty());
    assert!(
        (stream_only.work_done + job_work - work_done).abs() < 1e-3,
        "stream {} + jobs {job_work} != {work_done}",
        stream_only.work_done
    );
}

#[test]
fn strategies_on_one_seed_see_the_same_work() {
    let a = run_text(&mixed("round_robin"), &[]);
    let b = run_text(&mixed("random"), &[]);
    assert_eq!(a.submitted, b.submitted);
    assert_eq!(a.failed + a.cancelled + b.failed + b.cancelled, 0);
    // The same total work submitted (and done); summed in another order.
    assert!((a.work_done - b.work_done).abs() < 1e-6 * a.work_done);
    // And each job the same amount.
    assert_eq!(a.jobs.len(), b.jobs.len());
    for (x, y) in a.jobs.iter().zip(&b.jobs) {
        assert!(
            (x.work - y.work).abs() < 1e-6,
            "job {}: {} vs {}",
            x.id,
            x.work,
            y.work
        );
    }
    // The strategies did route differently.
    let per_agent = |r: &fleetsim::metrics::RunResult| -> Vec<u64> {
        r.agents.iter().map(|a| a.tasks).collect()
    };
    assert_ne!(per_agent(&a), per_agent(&b));
}

#[test]
fn without_work_nothing_is_counted() {
    let r = run_text(
        &drawing("{ dist = \"constant\", value = 0 }"),
        &["duration=\"1s\""],
    );
    assert_eq!(r.work_done, 0.0);
    let sc = load_text(&drawing("{ dist = \"constant\", value = 1 }"), &[]);
    assert!(sc.workload.work.is_some());
}

fn problems(work: &str) -> String {
    match scenario::load_str("t.toml", "t", &drawing(work), &[]) {
        Ok(_) => panic!("{work} should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_work_amounts_are_refused_naming_the_key() {
    let e = problems(r#"{ dist = "uniform", min = 6000, max = 3000 }"#);
    assert!(
        e.contains("workload.work.min: min (6000) is greater than max (3000)"),
        "{e}"
    );
    let e = problems(r#"{ dist = "uniform", min = "3s", max = 3000 }"#);
    assert!(
        e.contains("workload.work.min") && e.contains("a number"),
        "{e}"
    );
    let e = problems(r#"{ dist = "per_work", value = 1 }"#);
    assert!(
        e.contains("workload.work.dist: `per_work` applies only to a tier's service_time"),
        "{e}"
    );
    let e = problems(r#"{ dist = "gamma", shape = 2.0 }"#);
    assert!(
        e.contains("workload.work.mean: missing; dist = \"gamma\" takes shape, mean (numbers of work units, not durations)"),
        "{e}"
    );
    let e = problems(r#"{ dist = "empirical", values = [10, "20ms"] }"#);
    assert!(e.contains("workload.work.values"), "{e}");
    let e = problems(r#"{ dist = "pareto", alpha = 1.5, min = 10, max = 5 }"#);
    assert!(
        e.contains("workload.work.max: max (5) must be greater than min (10)"),
        "{e}"
    );
    let e = problems(r#"{ dist = "empirical", file = "x.csv", column = "n", unit = "ms" }"#);
    assert!(
        e.contains("workload.work.unit: unknown field `unit`"),
        "{e}"
    );
    let e = problems(r#"{ dist = "constant", value = 1, mean = 2 }"#);
    assert!(
        e.contains("workload.work.mean: does not apply to dist = \"constant\""),
        "{e}"
    );
    let e = problems(r#"{ dist = "exponential", mean = -1 }"#);
    assert!(
        e.contains("workload.work.mean: is -1; a work amount must be a number from 0"),
        "{e}"
    );
    let e = problems(r#"{ dist = "lognormal", median = 10 }"#);
    assert!(e.contains("workload.work.p99: missing"), "{e}");
    let e = problems(r#"{ value = 1 }"#);
    assert!(e.contains("workload.work.dist: missing"), "{e}");
    // A stage's and a stream's keys are named by their paths.
    let text = mixed("round_robin").replace(
        "work = { dist = \"constant\", value = 50 }",
        "work = { dist = \"constant\", value = 1e13 }",
    );
    let e = scenario::load_str("t.toml", "t", &text, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("workload.jobs[0].stages[1].work.value: is 10000000000000"),
        "{e}"
    );
    // `work` on the workload needs plain arrivals.
    let text = mixed("round_robin") + "\n[workload]\n";
    let text = text.replace(
        "[[workload.streams]]",
        "[workload]\nwork = { dist = \"constant\", value = 1 }\n[[workload.streams]]",
    );
    let text = text.trim_end().trim_end_matches("[workload]").to_string();
    let e = scenario::load_str("t.toml", "t", &text, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("workload.work: applies to the plain tasks of workload.arrivals"),
        "{e}"
    );
}

#[test]
fn reference_scenarios_other_than_etl_are_unchanged() {
    let list = [
        "steady_load",
        "burst_traffic",
        "agent_failures",
        "fault_tolerant_service",
        "monte_carlo",
        "saga_orders",
        "partition",
        "cascade",
        "scenarios/api_gateway_replay.toml",
    ];
    let mut args = vec!["check"];
    args.extend(list);
    args.extend(["--baseline", "reports/baselines"]);
    let o = fleetsim(&root(), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(" % |")).collect();
    assert!(rows.len() >= 9 * 6, "{out}");
    for row in rows {
        assert!(row.contains("| 0.00 % |"), "changed: {row}");
    }
}

#[test]
fn etl_pipeline_moves_22442_records_in_about_6_61_s() {
    let sc = scenario::load("etl_pipeline", &[]).unwrap();
    let r = fleetsim::harness::run_one(&sc, "v", 0).result;
    assert!(
        r.jobs
            .iter()
            .all(|j| j.outcome == fleetsim::metrics::JobOutcome::Completed)
    );
    // Every record through every one of the five stages.
    assert_eq!(r.work_done, 5.0 * 22_442.0);
    let last = r.jobs.iter().map(|j| j.end).max().unwrap().as_secs_f64();
    assert!(
        (last - 6.61).abs() / 6.61 < 0.02,
        "last batch exported at {last} s"
    );
}
