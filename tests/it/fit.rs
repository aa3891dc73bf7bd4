//! `fleetsim fit`: the estimators recover the parameters of samples drawn
//! from each family, the true family ranks first, and the command reads
//! logs, groups them and refuses bad rows like the trace reader does.
//!
//! Samples: n = 10,000 by inversion (`Family::quantile` of a uniform from
//! SplitMix64), three seeds per family. Tolerances are 4 asymptotic
//! standard errors of the MLE (Fisher information), written beside each
//! check: a correct estimator misses one with probability about 6e-5.

use fleetsim::fit::{Family, fit_group, special::trigamma};
use fleetsim::rng::splitmix64;

use crate::support::{fleetsim, text};

const N: usize = 10_000;
const SEEDS: [u64; 3] = [1, 2, 3];

fn sample(f: &Family, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..N)
        .map(|_| {
            // A uniform in (0, 1) from the top 53 bits.
            let u = ((splitmix64(&mut s) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            f.quantile(u)
        })
        .collect()
}

fn fitted(xs: &[f64], name: &str) -> Family {
    let g = fit_group("", xs);
    g.rows
        .iter()
        .find(|r| r.family.name() == name)
        .unwrap_or_else(|| panic!("{name} was not fitted: {:?}", g.skipped))
        .family
        .clone()
}

fn close(what: &str, got: f64, want: f64, se: f64) {
    assert!(
        (got - want).abs() <= 4.0 * se,
        "{what}: {got} vs {want}, 4 SE = {}",
        4.0 * se
    );
}

fn winner(xs: &[f64]) -> Family {
    fit_group("", xs).best().family.clone()
}

#[test]
fn exponential_mean_is_recovered() {
    let m = 0.04;
    for seed in SEEDS {
        let xs = sample(&Family::Exponential { mean: m }, seed);
        let Family::Exponential { mean } = fitted(&xs, "exponential") else {
            unreachable!()
        };
        close("mean", mean, m, m / (N as f64).sqrt()); // SE = m/√n
        // Gamma and Weibull nest the exponential at shape 1, so either may
        // edge it out on KS; it must then sit at shape 1 within 4 SE.
        match winner(&xs) {
            Family::Exponential { .. } => {}
            // Gamma at k = 1: Var(k̂) = k / (n (k ψ′(k) − 1)).
            Family::Gamma { shape, .. } => close(
                "gamma shape",
                shape,
                1.0,
                (1.0 / (N as f64 * (trigamma(1.0) - 1.0))).sqrt(),
            ),
            // Weibull: Var(k̂) ≈ 0.6079 k² / n.
            Family::Weibull { shape, .. } => {
                close("weibull shape", shape, 1.0, (0.6079 / N as f64).sqrt())
            }
            other => panic!("seed {seed}: exponential sample ranked {other:?} first"),
        }
    }
}

#[test]
fn lognormal_parameters_are_recovered_and_rank_first() {
    let (mu, sigma) = (libm::log(0.041), 0.6);
    let truth = Family::Lognormal { mu, sigma };
    for seed in SEEDS {
        let xs = sample(&truth, seed);
        let Family::Lognormal { mu: m, sigma: s } = fitted(&xs, "lognormal") else {
            unreachable!()
        };
        let n = N as f64;
        close("mu", m, mu, sigma / n.sqrt()); // SE = σ/√n
        close("sigma", s, sigma, sigma / (2.0 * n).sqrt()); // SE = σ/√(2n)
        assert_eq!(winner(&xs).name(), "lognormal", "seed {seed}");
    }
}

#[test]
fn gamma_parameters_are_recovered_and_rank_first() {
    let (k, theta) = (2.5, 0.018);
    let truth = Family::Gamma {
        shape: k,
        scale: theta,
    };
    for seed in SEEDS {
        let xs = sample(&truth, seed);
        let Family::Gamma { shape, scale } = fitted(&xs, "gamma") else {
            unreachable!()
        };
        let n = N as f64;
        // Var(k̂) = k / (n (k ψ′(k) − 1)); the mean is x̄, SE = √k θ / √n.
        close(
            "shape",
            shape,
            k,
            (k / (n * (k * trigamma(k) - 1.0))).sqrt(),
        );
        close(
            "mean",
            shape * scale,
            k * theta,
            k.sqrt() * theta / n.sqrt(),
        );
        assert_eq!(winner(&xs).name(), "gamma", "seed {seed}");
    }
}

#[test]
fn weibull_parameters_are_recovered_and_rank_first() {
    let (k, lambda) = (1.6, 0.05);
    let truth = Family::Weibull {
        shape: k,
        scale: lambda,
    };
    for seed in SEEDS {
        let xs = sample(&truth, seed);
        let Family::Weibull { shape, scale } = fitted(&xs, "weibull") else {
            unreachable!()
        };
        let n = N as f64;
        // Inverse Fisher information: Var(k̂) ≈ 0.6079 k²/n,
        // Var(λ̂) ≈ 1.1087 λ²/(k² n).
        close("shape", shape, k, (0.6079 / n).sqrt() * k);
        close("scale", scale, lambda, (1.1087 / n).sqrt() * lambda / k);
        assert_eq!(winner(&xs).name(), "weibull", "seed {seed}");
    }
}

#[test]
fn pareto_parameters_are_recovered_and_rank_first() {
    let (a, min) = (2.5, 0.01);
    let truth = Family::Pareto { alpha: a, min };
    for seed in SEEDS {
        let xs = sample(&truth, seed);
        let Family::Pareto { alpha, min: m } = fitted(&xs, "pareto") else {
            unreachable!()
        };
        close("alpha", alpha, a, a / (N as f64).sqrt()); // SE = α/√n
        // The sample minimum is above min by Exp-like excess of mean
        // min/(nα): P(excess > 10 min/(nα)) ≈ e^{-10}.
        assert!(
            m >= min && m - min <= 10.0 * min / (N as f64 * a),
            "min {m}"
        );
        assert_eq!(winner(&xs).name(), "pareto", "seed {seed}");
    }
}

fn write_log(dir: &std::path::Path, name: &str, body: &str) -> String {
    std::fs::write(dir.join(name), body).unwrap();
    name.to_string()
}

#[test]
fn a_bad_row_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "log.csv",
        "ts,tier,latency\n1,a,12ms\n2,a,0.015\n3,b,fast\n4,b,1s\n",
    );
    let out = fleetsim(dir.path(), &["fit", &log, "--column", "latency"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("log.csv:4:3: column `latency`: "), "{err}");
    assert!(err.contains("`fast`"), "{err}");
    // A column that is not there: line 1, the header.
    let out = fleetsim(dir.path(), &["fit", &log, "--column", "ms"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("log.csv:1: no column `ms`"),
        "{}",
        text(&out.stderr)
    );
    // A negative duration is refused too.
    let log = write_log(dir.path(), "neg.csv", "latency\n0.1\n-0.2\n");
    let out = fleetsim(dir.path(), &["fit", &log, "--column", "latency"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("neg.csv:3:1: column `latency`: `-0.2` is negative"));
}

#[test]
fn by_fits_each_group_in_sorted_order_and_output_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    // Two tiers, interleaved, "db" first in the file: gamma and lognormal.
    let db = sample(
        &Family::Gamma {
            shape: 3.0,
            scale: 0.004,
        },
        7,
    );
    let api = sample(
        &Family::Lognormal {
            mu: libm::log(0.04),
            sigma: 0.5,
        },
        8,
    );
    let mut body = String::from("endpoint,service_ms\n");
    for i in 0..2000 {
        body += &format!("db,{:.4}ms\n", db[i] * 1e3);
        body += &format!("api,{:.6}\n", api[i]);
    }
    let log = write_log(dir.path(), "log.csv", &body);
    let args = [
        "fit",
        &log,
        "--column",
        "service_ms",
        "--by",
        "endpoint",
        "--out",
        "o1",
    ];
    let out = fleetsim(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("service_time = "))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("\"lognormal\""), "api first: {stdout}");
    assert!(lines[1].contains("\"gamma\""), "db second: {stdout}");
    assert!(stdout.find("[api]").unwrap() < stdout.find("[db]").unwrap());
    let csv = std::fs::read_to_string(dir.path().join("o1/fit.csv")).unwrap();
    assert!(csv.starts_with(
        "group,family,rank_ks,rank_aic,values,parameters,log_likelihood,aic,ks,toml\n"
    ));
    assert_eq!(
        csv.lines().count(),
        1 + 2 * 7,
        "7 families per group:\n{csv}"
    );
    assert!(
        csv.lines().nth(1).unwrap().starts_with("api,lognormal,1,"),
        "{csv}"
    );
    for f in [
        "fit_cdf-api.svg",
        "fit_cdf-api.png",
        "fit_cdf-db.svg",
        "fit_cdf-db.png",
    ] {
        assert!(dir.path().join("o1").join(f).is_file(), "{f}");
    }
    // The empirical line of a group reads that group's own samples, which
    // fit wrote beside fit.csv: a scenario pasting it draws exactly the
    // group's values.
    let row = csv
        .lines()
        .find(|l| l.starts_with("api,empirical,"))
        .unwrap();
    let toml = &row[row.find("\"{").unwrap() + 1..row.len() - 1].replace("\"\"", "\"");
    assert!(toml.contains("samples-api.csv"), "{toml}");
    let scenario = format!(
        "[[fleet.tiers]]\nname = \"api\"\nservice_time = {toml}\n[workload]\narrivals = {{ process = \"poisson\", rate = 1.0 }}\n"
    );
    std::fs::write(dir.path().join("s.toml"), scenario).unwrap();
    let sc = fleetsim::scenario::load(dir.path().join("s.toml").to_str().unwrap(), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let fleetsim::fleet::ServiceTime::Dist(fleetsim::rng::Dist::Empirical(e)) =
        &sc.tiers[0].service_time
    else {
        panic!("not empirical")
    };
    assert_eq!(e.values().len(), 2000);
    let want: f64 = api[..2000]
        .iter()
        .map(|x| (x * 1e6).round() / 1e6)
        .sum::<f64>()
        / 2000.0;
    assert!(
        (e.mean_nanos() / 1e9 - want).abs() < 1e-9,
        "{} vs {want}",
        e.mean_nanos() / 1e9
    );
    let svg = std::fs::read_to_string(dir.path().join("o1/fit_cdf-db.svg")).unwrap();
    assert!(svg.contains("DejaVu Sans"), "the embedded font's family");
    // Same log, same bytes (fit.csv names its own directory's sample
    // files).
    let mut again = args;
    again[7] = "o2";
    assert!(fleetsim(dir.path(), &again).status.success());
    for f in [
        "fit.csv",
        "fit_cdf-api.svg",
        "fit_cdf-api.png",
        "samples-api.csv",
    ] {
        let a = std::fs::read(dir.path().join("o1").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("o2").join(f)).unwrap();
        let a = if f.ends_with(".csv") {
            String::from_utf8(a)
                .unwrap()
                .replace("o1/samples", "o2/samples")
                .into_bytes()
        } else {
            a
        };
        assert!(a == b, "{f} differs between runs");
    }
}

#[test]
fn unit_sets_what_plain_numbers_mean() {
    let dir = tempfile::tempdir().unwrap();
    let xs = sample(&Family::Exponential { mean: 0.02 }, 9);
    let plain: String = xs[..500]
        .iter()
        .map(|x| format!("{:.3}\n", x * 1e3))
        .collect();
    let unit: String = xs[..500]
        .iter()
        .map(|x| format!("{:.3}ms\n", x * 1e3))
        .collect();
    let a = write_log(dir.path(), "a.csv", &format!("ms\n{plain}"));
    let b = write_log(dir.path(), "b.csv", &format!("ms\n{unit}"));
    let run = |log: &str, extra: &[&str]| {
        let mut args = vec!["fit", log, "--column", "ms", "--out", "out"];
        args.extend_from_slice(extra);
        let out = fleetsim(dir.path(), &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let last = text(&out.stdout);
        last.lines()
            .find(|l| l.starts_with("service_time"))
            .unwrap()
            .to_string()
    };
    let with_unit = run(&a, &["--unit", "ms"]);
    assert_eq!(
        with_unit,
        run(&b, &[]),
        "plain ms with --unit ms = cells in ms"
    );
    assert_ne!(
        with_unit,
        run(&a, &[]),
        "without --unit the same numbers are seconds"
    );
    // The empirical line names the log and the unit of its numbers.
    let csv = std::fs::read_to_string(dir.path().join("out/fit.csv")).unwrap();
    run(&a, &["--unit", "ms"]);
    let csv_ms = std::fs::read_to_string(dir.path().join("out/fit.csv")).unwrap();
    let empirical = |c: &str| {
        c.lines()
            .find(|l| l.contains(",empirical,"))
            .unwrap()
            .to_string()
    };
    assert!(!empirical(&csv).contains("unit"), "{csv}");
    assert!(
        empirical(&csv_ms).ends_with(r#"column = ""ms"", unit = ""ms"" }""#),
        "{csv_ms}"
    );
}
