//! The statistics of one long run and of many: batch-means coverage on
//! M/M/1, MSER-5 warm-up detection on a known transient, and
//! replications to a target precision.
//!
//! Every model here is M/M/1 at ρ = 0.5 (λ = 0.5/s, μ = 1/s, FIFO):
//! W = 1/(μ − λ) = 2 s, and its sojourn times decorrelate within a few
//! dozen tasks, so short runs suffice.

use fleetsim::harness::{self, precision};
use fleetsim::rng::Seed;
use fleetsim::stats::batch;
use rayon::prelude::*;

use crate::support::{fleetsim, load_text};

const MM1: &str = r#"
name = "mm1_half"
duration = "20000s"
drain = "1h"

[[fleet.tiers]]
name = "server"
count = 1
concurrency = 1
service_time = { dist = "exponential", mean = "1s" }

[workload]
arrivals = { process = "poisson", rate = 0.5 }

[dispatch]
workers = 1
"#;

/// The same M/M/1 with 500 tasks arriving at t = 0 on top.
fn with_backlog(extra: &str) -> String {
    format!(
        "{MM1}{extra}\n[[workload.streams]]\nname = \"backlog\"\narrivals = {{ process = \"bursts\", count = 1, size = 500 }}\n"
    )
}

#[test]
fn batch_means_cover_the_true_w() {
    // 50 seeds × 20,000 s ≈ 10,000 tasks each, in 20
    // batches of about 500 tasks. Warm-up 100 s (≈ 8 relaxation times of
    // M/M/1 at ρ = 0.5: 1/(μ(1 − √ρ)²) ≈ 11.7 s).
    //
    // Nominal coverage is 95 %; with 50 independent seeds the count of
    // covering intervals is Binomial(50, 0.95): mean 47.5, standard error
    // 1.54, so ≥ 45 (90 %) is the mean minus 1.6 standard errors. An
    // interval that ignored the correlation (s/√n of single tasks) would
    // cover far less often (the test below checks that it does).
    let sc = load_text(MM1, &["warmup=\"100s\""]);
    let results: Vec<(f64, f64, f64)> = (1..=50u64)
        .into_par_iter()
        .map(|s| {
            let mut sc = sc.clone();
            sc.seed = Seed(s);
            let mut runs = vec![harness::run_one_opts(&sc, "bm", 0, true, &mut |_| {})];
            let xs: Vec<f64> = runs[0]
                .result
                .latency_series
                .iter()
                .map(|o| o.latency_ns as f64 / 1e9)
                .collect();
            // The naive interval of single observations, for contrast.
            let (_, h_naive) = fleetsim::stats::mean_ci(&xs);
            let bm = precision::batch_means(&mut runs, batch::DEFAULT_BATCHES)[0]
                .1
                .expect("thousands of tasks");
            (bm.mean / 1e3, bm.half_width / 1e3, h_naive)
        })
        .collect();
    let w = 2.0;
    let covered = results
        .iter()
        .filter(|(m, h, _)| (m - w).abs() <= *h)
        .count();
    let naive = results
        .iter()
        .filter(|(m, _, h)| (m - w).abs() <= *h)
        .count();
    eprintln!("batch means covered W in {covered}/50 runs, the naive interval in {naive}/50");
    assert!(
        covered >= 45,
        "batch means covered W = 2 s in {covered}/50 runs"
    );
    assert!(naive < covered, "naive {naive} vs batch means {covered}");
}

#[test]
fn mser5_truncates_a_backlog_where_it_drains() {
    // 500 tasks at t = 0 drain at μ − λ = 0.5 task/s: the backlog is gone
    // after T = 500/0.5 = 1000 s on average, with standard deviation
    // sqrt(n(λ + μ)/(μ − λ)³) = sqrt(500 · 1.5 / 0.125) ≈ 77 s (the
    // first-passage time of a random walk with drift). Tasks arriving at
    // t < T wait behind the backlog; MSER-5 works in arrival order, so
    // the cut lands at T or after it: the stationary rest of this
    // (autocorrelated) series is itself cut by up to ~600 s in 19 of 20
    // seeds (see the stationary test below), so the range is
    // [T − 3σ, T + 3σ + 600 s] = [769, 1831] s. (Measured on seeds 1-20:
    // 881 to 1592 s.)
    for s in 1..=5u64 {
        let mut sc = load_text(&with_backlog(""), &["warmup=\"auto\""]);
        sc.seed = Seed(s);
        let choice = precision::detect_warmup(&mut sc).expect("warmup is auto");
        let t = choice.warmup.as_secs_f64();
        assert!(!choice.at_limit, "{choice:?}");
        assert_eq!(sc.warmup, choice.warmup);
        eprintln!(
            "backlog seed {s}: cut at {t} s ({} of {} tasks)",
            choice.dropped, choice.observations
        );
        assert!((769.0..=1831.0).contains(&t), "seed {s}: cut at {t} s");
    }
}

#[test]
fn mser5_cuts_a_run_from_empty_far_less_than_a_backlog() {
    // M/M/1 at ρ = 0.5 from empty is within 1 % of steady state after a
    // few relaxation times (≈ 12 s each). Its sojourn times are strongly
    // autocorrelated, and MSER-5 then drops an early stretch that
    // happens to be busy: on seeds 1-20 it cut nothing on 8, and at most
    // 12 % of the series (median about 1 %). The criterion: at most 15 %
    // of the tasks, and nothing at all on some seeds. (On independent
    // data the cut is within the first few batches: see the unit tests
    // of stats::mser.)
    let mut zero = 0;
    for s in 1..=10u64 {
        let mut sc = load_text(MM1, &["warmup=\"auto\""]);
        sc.seed = Seed(s);
        let choice = precision::detect_warmup(&mut sc).expect("warmup is auto");
        assert!(
            choice.dropped * 100 <= 15 * choice.observations,
            "seed {s}: {choice:?}"
        );
        zero += usize::from(choice.dropped == 0);
    }
    assert!(zero >= 2, "only {zero} of 10 seeds kept the whole run");
}

/// The rows of a CSV file as maps from header to cell.
fn rows(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("the CSV reads");
    let header = r.headers().expect("a header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("a record");
            header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn target_precision_stops_where_the_ci_arithmetic_says() {
    // Pilot: 400 replications of a 2,000 s M/M/1 (≈ 1,000 tasks each) on
    // another root seed give the coefficient of variation c = s/W̄ of a
    // replication's mean latency (about 0.10) and its kurtosis κ (about
    // 4). A relative target r needs n* ≈ (t(0.975, n* − 1) · c / r)²
    // replications (about 62 for r = 2.5 %). The n it stops at is the
    // first checkpoint (multiple of 10) where the estimated c_n is small
    // enough; c_n/c has a standard error of δ ≈ sqrt((κ − 1)/(4n*))
    // (the delta method on s²), plus the pilot's own sqrt((κ − 1)/(4·400)),
    // so n lies in [n*(1 − 3δ)², n*(1 + 3δ)²] rounded up to checkpoints.
    let text = MM1.replace("20000s", "2000s");
    let mut pilot_sc = load_text(&text, &[]);
    pilot_sc.seed = Seed(99);
    let pilot: Vec<f64> = harness::run_replications(&pilot_sc, "pilot", 400, false)
        .iter()
        .map(|r| r.result.latency_mean_ms)
        .collect();
    let n = pilot.len() as f64;
    let mean = pilot.iter().sum::<f64>() / n;
    let var = pilot.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let kurt = pilot.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var);
    let c = var.sqrt() / mean;
    let r = 0.025;
    let mut n_star = 60.0f64;
    for _ in 0..20 {
        n_star = (fleetsim::stats::t95(n_star as u32 - 1) * c / r).powi(2);
    }
    let delta = ((kurt - 1.0) / (4.0 * n_star) + (kurt - 1.0) / (4.0 * n)).sqrt();
    let up10 = |x: f64| (x / 10.0).ceil() * 10.0;
    let (lo, hi) = (
        up10(n_star * (1.0 - 3.0 * delta).powi(2)),
        up10(n_star * (1.0 + 3.0 * delta).powi(2)),
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("mm1.toml"), &text).expect("written");
    let mut outs = Vec::new();
    for jobs in ["1", "2"] {
        let out = format!("out{jobs}");
        let o = fleetsim(
            dir.path(),
            &[
                "run",
                "mm1.toml",
                "--target-ci",
                "mean=2.5%",
                "--max-replications",
                "300",
                "--jobs",
                jobs,
                "--out",
                &out,
            ],
        );
        assert!(o.status.success(), "{}", crate::support::text(&o.stderr));
        let stdout = crate::support::text(&o.stdout);
        assert!(stdout.contains("target precision met after"), "{stdout}");
        outs.push(dir.path().join(out));
    }
    for file in ["summary.csv", "target_ci.csv", "timeseries.csv"] {
        assert_eq!(
            std::fs::read(outs[0].join(file)).expect("written"),
            std::fs::read(outs[1].join(file)).expect("written"),
            "{file} differs between --jobs 1 and 2"
        );
    }
    let t = rows(&outs[0].join("target_ci.csv"));
    assert_eq!(t.len(), 1);
    let stopped: f64 = t[0]["replications"].parse().expect("a number");
    let half: f64 = t[0]["ci95_half_width"].parse().expect("a number");
    let m: f64 = t[0]["mean"].parse().expect("a number");
    assert_eq!(
        (t[0]["met"].as_str(), t[0]["stopped"].as_str()),
        ("true", "met")
    );
    assert!(half <= r * m, "half-width {half} > {r} × {m}");
    eprintln!(
        "stopped at {stopped}; n* = {n_star:.1}, range [{lo}, {hi}]; half-width {half} ≤ {}",
        r * m
    );
    assert!(
        (lo..=hi).contains(&stopped),
        "stopped at {stopped}, predicted n* = {n_star:.1} in [{lo}, {hi}] (c = {c:.4}, κ = {kurt:.2})"
    );
    assert_eq!(rows(&outs[0].join("summary.csv")).len() as f64, stopped);
}

#[test]
fn target_precision_reports_a_maximum_reached() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("mm1.toml"), MM1.replace("20000s", "500s")).expect("written");
    let o = fleetsim(
        dir.path(),
        &[
            "run",
            "mm1.toml",
            "--target-ci",
            "p99=0.1%",
            "--max-replications",
            "15",
            "--out",
            "o",
        ],
    );
    assert!(o.status.success(), "{}", crate::support::text(&o.stderr));
    assert!(crate::support::text(&o.stdout).contains("NOT met: stopped at --max-replications 15"));
    let t = rows(&dir.path().join("o/target_ci.csv"));
    assert_eq!(
        (t[0]["replications"].as_str(), t[0]["stopped"].as_str()),
        ("15", "max_replications")
    );
}

#[test]
fn bad_targets_exit_2_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (arg, want) in [
        ("p98=2%", "did you mean `p95`?"),
        ("sucess_rate=0.1pp", "did you mean `success_rate`?"),
        ("p99", "expected METRIC=WIDTH"),
        ("success_rate=0.1", "percentage points"),
    ] {
        let o = fleetsim(dir.path(), &["run", "mm1", "--target-ci", arg, "--quiet"]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        let err = crate::support::text(&o.stderr);
        assert!(err.contains(want), "{arg}: {err}");
    }
}

#[test]
fn batch_means_and_auto_warmup_reach_the_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("bl.toml"), with_backlog("")).expect("written");
    let o = fleetsim(
        dir.path(),
        &[
            "run",
            "bl.toml",
            "--set",
            "warmup=\"auto\"",
            "--batch-means",
            "--replications",
            "2",
            "--out",
            "o",
        ],
    );
    assert!(o.status.success(), "{}", crate::support::text(&o.stderr));
    let stdout = crate::support::text(&o.stdout);
    assert!(
        stdout.contains("warm-up (auto, MSER-5 on replication 0)"),
        "{stdout}"
    );
    assert!(stdout.contains("batch means of latency"), "{stdout}");
    let s = rows(&dir.path().join("o/summary.csv"));
    let w: f64 = s[0]["warmup_s"].parse().expect("a number");
    assert!(w > 500.0 && s[1]["warmup_s"] == s[0]["warmup_s"], "{w}");
    let b = rows(&dir.path().join("o/batch_means.csv"));
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["batches"], "20");
    let manifest = std::fs::read_to_string(dir.path().join("o/manifest.json")).expect("written");
    assert!(manifest.contains("batch_means.csv"));
    // The page states the detected warm-up, and that it was detected.
    let page = std::fs::read_to_string(dir.path().join("o/report.html")).expect("written");
    assert!(
        page.contains("(detected by MSER-5)"),
        "no detected warm-up on the page"
    );
}

#[test]
fn a_warmup_that_is_neither_a_duration_nor_auto_names_both() {
    let err = fleetsim::scenario::load_str(
        "t.toml",
        "t",
        &MM1.replace("drain", "warmup = \"soon\"\ndrain"),
        &[],
    )
    .expect_err("invalid warm-up")
    .to_string();
    assert!(err.contains("warmup") && err.contains("\"auto\""), "{err}");
    let sc = load_text(&MM1.replace("drain", "warmup = \" auto \"\ndrain"), &[]);
    assert!(sc.warmup_auto && sc.warmup.is_zero());
}
