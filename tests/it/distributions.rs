//! The distributions of `dist = ...`, parsed from scenario text and drawn
//! by quantile from a seeded uniform stream, against closed forms; the
//! empirical one against its own sample; M/G/1 with gamma and
//! hyperexponential service against Pollaczek–Khinchine; and the
//! validation messages.
//!
//! Tolerances, each 5 standard errors of what is measured over n draws:
//! - the mean: `sqrt(Var / n)`;
//! - the variance: `sqrt((μ₄ − σ⁴) / n)`, μ₄ the central fourth moment,
//!   only where μ₄ is finite (not for the unbounded Pareto with α = 2.5);
//! - the CDF at a point x: the fraction of draws ≤ x is a binomial
//!   proportion, standard error `sqrt(F(x)(1 − F(x)) / n)`; this is the
//!   check used for heavy tails.

use std::sync::atomic::{AtomicU32, Ordering};

use fleetsim::fleet::ServiceTime;
use fleetsim::harness;
use fleetsim::rng::{Dist, Seed, unit};
use fleetsim::scenario::{self, Problem, ScenarioError};

use crate::support::load_text;

const N: usize = 200_000;

fn scenario_with(service_time: &str) -> String {
    format!(
        "duration = \"10s\"\n\n[[fleet.tiers]]\nname = \"a\"\ncount = 1\nservice_time = {service_time}\n\n[workload]\narrivals = {{ process = \"poisson\", rate = 10.0 }}\n"
    )
}

/// The distribution a scenario's service_time parses to.
fn parse(service_time: &str) -> Dist {
    match load_text(&scenario_with(service_time), &[]).tiers[0]
        .service_time
        .clone()
    {
        ServiceTime::Dist(d) => d,
        other => panic!("not a distribution: {other:?}"),
    }
}

/// n draws in milliseconds, by quantile of a seeded stream.
fn draws(d: &Dist) -> Vec<f64> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut rng = Seed(11).stream(&format!(
        "distributions/{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    (0..N)
        .map(|_| d.quantile(unit(&mut rng)).as_nanos() as f64 / 1e6)
        .collect()
}

/// Raw moments E[X^1..4] of a distribution, in ms.
struct Moments([f64; 4]);

impl Moments {
    fn mean(&self) -> f64 {
        self.0[0]
    }
    fn var(&self) -> f64 {
        self.0[1] - self.0[0] * self.0[0]
    }
    /// The central fourth moment.
    fn mu4(&self) -> f64 {
        let [m1, m2, m3, m4] = self.0;
        m4 - 4.0 * m3 * m1 + 6.0 * m2 * m1 * m1 - 3.0 * m1.powi(4)
    }
}

/// Mean (and variance when `check_var`) of the draws within 5 standard
/// errors; the CDF at each point within 5 binomial standard errors.
fn check(name: &str, x: &[f64], m: &Moments, check_var: bool, cdf: &[(f64, f64)]) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    let se = (m.var() / n).sqrt();
    assert!(
        (mean - m.mean()).abs() < 5.0 * se,
        "{name}: mean {mean}, theory {} (se {se})",
        m.mean()
    );
    if check_var {
        let se = ((m.mu4() - m.var() * m.var()) / n).sqrt();
        assert!(
            (var - m.var()).abs() < 5.0 * se,
            "{name}: variance {var}, theory {} (se {se})",
            m.var()
        );
    }
    for &(at, f) in cdf {
        let frac = x.iter().filter(|v| **v <= at).count() as f64 / n;
        let se = (f * (1.0 - f) / n).sqrt();
        assert!(
            (frac - f).abs() < 5.0 * se,
            "{name}: F({at}) measured {frac}, theory {f} (se {se})"
        );
    }
}

fn factorial(r: u32) -> f64 {
    (1..=r).map(f64::from).product()
}

#[test]
fn gamma_and_erlang_match_their_moments_and_cdf() {
    // Gamma(a, θ): E[X^r] = θ^r Γ(a + r) / Γ(a).
    let gamma_moments = |a: f64, theta: f64| {
        Moments(std::array::from_fn(|i| {
            let r = (i + 1) as f64;
            theta.powf(r) * libm::tgamma(a + r) / libm::tgamma(a)
        }))
    };
    // Shape 1/2: F(x) = erf(sqrt(x/θ)). Mean 10 ms, θ = 20 ms.
    let g = parse("{ dist = \"gamma\", shape = 0.5, mean = \"10ms\" }");
    let cdf: Vec<(f64, f64)> = [0.05, 1.0, 5.0, 20.0, 60.0]
        .iter()
        .map(|&x| (x, libm::erf((x / 20.0f64).sqrt())))
        .collect();
    check(
        "gamma(0.5)",
        &draws(&g),
        &gamma_moments(0.5, 20.0),
        true,
        &cdf,
    );
    // Erlang-3, mean 30 ms, θ = 10 ms: F(x) = 1 − e^(−x/θ)(1 + x/θ + (x/θ)²/2).
    let e = parse("{ dist = \"erlang\", k = 3, mean = \"30ms\" }");
    let cdf: Vec<(f64, f64)> = [5.0, 20.0, 30.0, 60.0]
        .iter()
        .map(|&x| {
            let y: f64 = x / 10.0;
            (x, 1.0 - (-y).exp() * (1.0 + y + y * y / 2.0))
        })
        .collect();
    check(
        "erlang(3)",
        &draws(&e),
        &gamma_moments(3.0, 10.0),
        true,
        &cdf,
    );
    // Non-integer shape above 1 (the other branch of the first guess).
    let g = parse("{ dist = \"gamma\", shape = 4.5, mean = \"9ms\" }");
    check(
        "gamma(4.5)",
        &draws(&g),
        &gamma_moments(4.5, 2.0),
        true,
        &[],
    );
}

#[test]
fn weibull_matches_its_moments_and_cdf() {
    for (shape, text) in [
        (0.7, "{ dist = \"weibull\", shape = 0.7, scale = \"8ms\" }"),
        (2.0, "{ dist = \"weibull\", shape = 2, scale = \"8ms\" }"),
    ] {
        let m = Moments(std::array::from_fn(|i| {
            8.0f64.powi(i as i32 + 1) * libm::tgamma(1.0 + (i + 1) as f64 / shape)
        }));
        let cdf: Vec<(f64, f64)> = [1.0, 5.0, 8.0, 20.0]
            .iter()
            .map(|&x| (x, 1.0 - (-(x / 8.0f64).powf(shape)).exp()))
            .collect();
        check(
            &format!("weibull({shape})"),
            &draws(&parse(text)),
            &m,
            true,
            &cdf,
        );
    }
}

#[test]
fn pareto_matches_its_moments_and_cdf() {
    // Bounded on [2, 200] ms, α = 1.5: every moment finite.
    // E[X^r] = α L^α / (1 − (L/H)^α) · (H^(r−α) − L^(r−α)) / (r − α).
    let (a, l, h) = (1.5f64, 2.0f64, 200.0f64);
    let norm = 1.0 - (l / h).powf(a);
    let m = Moments(std::array::from_fn(|i| {
        let r = (i + 1) as f64;
        a * l.powf(a) / norm * (h.powf(r - a) - l.powf(r - a)) / (r - a)
    }));
    let cdf: Vec<(f64, f64)> = [2.5, 5.0, 20.0, 100.0]
        .iter()
        .map(|&x| (x, (1.0 - (l / x).powf(a)) / norm))
        .collect();
    let d = parse("{ dist = \"pareto\", alpha = 1.5, min = \"2ms\", max = \"200ms\" }");
    let x = draws(&d);
    assert!(x.iter().all(|v| (2.0..=200.0).contains(v)));
    check("pareto(1.5, max)", &x, &m, true, &cdf);
    // Unbounded, α = 2.5: the variance is finite but the fourth moment is
    // not, so the mean and the CDF are checked, not the variance.
    let a = 2.5f64;
    let m = Moments([
        a * l / (a - 1.0),
        a * l * l / (a - 2.0),
        f64::INFINITY,
        f64::INFINITY,
    ]);
    let cdf: Vec<(f64, f64)> = [2.5, 4.0, 10.0, 50.0]
        .iter()
        .map(|&x| (x, 1.0 - (l / x).powf(a)))
        .collect();
    let d = parse("{ dist = \"pareto\", alpha = 2.5, min = \"2ms\" }");
    check("pareto(2.5)", &draws(&d), &m, false, &cdf);
}

#[test]
fn hyperexponential_matches_its_moments_and_cdf() {
    // E[X^r] = Σ pᵢ r! mᵢ^r.
    let (p, mu) = ([0.75, 0.25], [5.0f64, 45.0]);
    let m = Moments(std::array::from_fn(|i| {
        let r = i as u32 + 1;
        (0..2)
            .map(|j| p[j] * factorial(r) * mu[j].powi(r as i32))
            .sum()
    }));
    let cdf: Vec<(f64, f64)> = [1.0, 5.0, 15.0, 60.0, 200.0]
        .iter()
        .map(|&x| (x, (0..2).map(|j| p[j] * (1.0 - (-x / mu[j]).exp())).sum()))
        .collect();
    let d =
        parse("{ dist = \"hyperexponential\", means = [\"5ms\", \"45ms\"], probs = [0.75, 0.25] }");
    check("hyperexponential", &draws(&d), &m, true, &cdf);
}

#[test]
fn empirical_reproduces_its_sample() {
    let values = ["7ms", "1ms", "3.5ms", "2ms", "2ms", "40ms", "9ms", "11ms"];
    let list = values.map(|v| format!("\"{v}\"")).join(", ");
    let d = parse(&format!("{{ dist = \"empirical\", values = [{list}] }}"));
    let mut sorted: Vec<f64> = values
        .iter()
        .map(|v| fleetsim::time::parse_duration(v).unwrap().as_nanos() as f64 / 1e6)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    // Quantile (i + ½)/n and the ends of each step are exactly x₍ᵢ₎.
    for (i, want) in sorted.iter().enumerate() {
        for q in [
            i as f64 / n,
            (i as f64 + 0.5) / n,
            (i as f64 + 1.0) / n - 1e-12,
        ] {
            let got = d.quantile(q).as_nanos() as f64 / 1e6;
            assert_eq!(got, *want, "q = {q}");
        }
    }
    // Draws have the sample's mean and (population) variance.
    let mean = sorted.iter().sum::<f64>() / n;
    let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m4: f64 = sorted.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
    let raw = |r: i32| sorted.iter().map(|v| v.powi(r)).sum::<f64>() / n;
    let m = Moments([raw(1), raw(2), raw(3), raw(4)]);
    assert!((m.var() - var).abs() < 1e-9 && (m.mu4() - m4).abs() < 1e-6);
    check(
        "empirical",
        &draws(&d),
        &m,
        true,
        &[(2.0, 3.0 / 8.0), (9.0, 6.0 / 8.0)],
    );

    // Weights: 1 ms twice as likely as 3 ms.
    let w = parse("{ dist = \"empirical\", values = [\"3ms\", \"1ms\"], weights = [1, 2] }");
    assert_eq!(w.quantile(0.0).as_nanos(), 1_000_000);
    assert_eq!(w.quantile(0.666).as_nanos(), 1_000_000);
    assert_eq!(w.quantile(0.667).as_nanos(), 3_000_000);
}

#[test]
fn empirical_reads_a_csv_column_relative_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/samples.csv"),
        "host,latency_ms\na,5\nb,2.5\nc,12ms\nd,0\n",
    )
    .unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        scenario_with(
            "{ dist = \"empirical\", file = \"data/samples.csv\", column = \"latency_ms\", unit = \"ms\" }",
        ),
    )
    .unwrap();
    let sc = scenario::load_file(&file, &[]).unwrap_or_else(|e| panic!("{e}"));
    let ServiceTime::Dist(Dist::Empirical(e)) = &sc.tiers[0].service_time else {
        panic!("{:?}", sc.tiers[0].service_time);
    };
    let ms: Vec<f64> = e
        .values()
        .iter()
        .map(|v| v.as_nanos() as f64 / 1e6)
        .collect();
    assert_eq!(ms, [0.0, 2.5, 5.0, 12.0]);
    // Bare numbers are seconds without `unit`.
    std::fs::write(
        &file,
        scenario_with(
            "{ dist = \"empirical\", file = \"data/samples.csv\", column = \"latency_ms\" }",
        ),
    )
    .unwrap();
    let sc = scenario::load_file(&file, &[]).unwrap();
    assert_eq!(
        sc.tiers[0]
            .service_time
            .of(fleetsim::rng::Quantile::new(0.99), None)
            .as_nanos(),
        5_000_000_000
    );

    // A bad row: the CSV's file, line and column.
    std::fs::write(
        dir.path().join("data/samples.csv"),
        "host,latency_ms\na,5\nb,fast\n",
    )
    .unwrap();
    let ps = invalid(scenario::load_file(&file, &[]));
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert!(ps[0].file.ends_with("samples.csv"), "{}", ps[0]);
    assert_eq!(ps[0].location, "3:2");
    assert!(ps[0].message.contains("column `latency_ms`"), "{}", ps[0]);
    for (text, line) in [
        ("host,latency_ms\na,-1\n", "2:2"),
        ("host,latency_ms\na,\n", "2:2"),
        ("host,latency_ms\na\n", "2:2"),
    ] {
        std::fs::write(dir.path().join("data/samples.csv"), text).unwrap();
        let ps = invalid(scenario::load_file(&file, &[]));
        assert_eq!(ps[0].location, line, "{text:?}: {}", ps[0]);
    }
    // A missing column and a missing file point at the scenario's keys.
    std::fs::write(dir.path().join("data/samples.csv"), "host,ms\na,1\n").unwrap();
    let ps = invalid(scenario::load_file(&file, &[]));
    assert_eq!(ps[0].path, "fleet.tiers[0].service_time.column");
    assert!(
        ps[0].message.contains("its columns are: host, ms"),
        "{}",
        ps[0]
    );
    std::fs::write(dir.path().join("data/samples.csv"), "host,latency_ms\n").unwrap();
    let ps = invalid(scenario::load_file(&file, &[]));
    assert_eq!(ps[0].path, "fleet.tiers[0].service_time.file");
    assert!(ps[0].message.contains("no rows"), "{}", ps[0]);
    std::fs::remove_file(dir.path().join("data/samples.csv")).unwrap();
    let ps = invalid(scenario::load_file(&file, &[]));
    assert_eq!(ps[0].path, "fleet.tiers[0].service_time.file");
    assert!(ps[0].message.contains("cannot read"), "{}", ps[0]);
}

fn invalid<T: std::fmt::Debug>(r: Result<T, ScenarioError>) -> Vec<Problem> {
    match r {
        Err(ScenarioError::Invalid(p)) => p,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn bad_parameters_name_the_key_and_the_range() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "{ dist = \"gamma\", shape = 0, mean = \"1ms\" }",
            "shape",
            "greater than 0",
        ),
        ("{ dist = \"gamma\", shape = 2 }", "mean", "missing"),
        (
            "{ dist = \"gamma\", shape = 20000, mean = \"1ms\" }",
            "shape",
            "at most",
        ),
        (
            "{ dist = \"gamma\", shape = 2, mean = \"0ms\" }",
            "mean",
            "greater than 0",
        ),
        (
            "{ dist = \"gamma\", shape = 2, mean = \"1ms\", k = 2 }",
            "k",
            "does not apply",
        ),
        (
            "{ dist = \"erlang\", k = 0, mean = \"1ms\" }",
            "k",
            "from 1",
        ),
        (
            "{ dist = \"weibull\", shape = -1, scale = \"1ms\" }",
            "shape",
            "greater than 0",
        ),
        ("{ dist = \"weibull\", shape = 1 }", "scale", "missing"),
        (
            "{ dist = \"pareto\", alpha = 0, min = \"1ms\" }",
            "alpha",
            "greater than 0",
        ),
        (
            "{ dist = \"pareto\", alpha = 0.9, min = \"1ms\" }",
            "alpha",
            "mean is infinite",
        ),
        (
            "{ dist = \"pareto\", alpha = 2, min = \"5ms\", max = \"5ms\" }",
            "max",
            "greater than min",
        ),
        (
            "{ dist = \"pareto\", alpha = 2, min = \"0s\" }",
            "min",
            "greater than 0",
        ),
        (
            "{ dist = \"hyperexponential\", means = [\"1ms\"], probs = [0.9] }",
            "probs",
            "sum to 1",
        ),
        (
            "{ dist = \"hyperexponential\", means = [\"1ms\", \"2ms\"], probs = [1.0] }",
            "probs",
            "one probability per mean",
        ),
        (
            "{ dist = \"hyperexponential\", means = [], probs = [] }",
            "means",
            "is empty",
        ),
        (
            "{ dist = \"hyperexponential\", means = [\"1ms\", \"2ms\"], probs = [1.5, -0.5] }",
            "probs[0]",
            "from 0 to 1",
        ),
        (
            "{ dist = \"hyperexponential\", means = [\"1ms\", \"0ms\"], probs = [0.5, 0.5] }",
            "means[1]",
            "greater than 0",
        ),
        (
            "{ dist = \"hyperexponential\", probs = [1.0] }",
            "means",
            "missing",
        ),
        ("{ dist = \"empirical\" }", "values", "missing"),
        (
            "{ dist = \"empirical\", values = [] }",
            "values",
            "is empty",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\", \"soon\"] }",
            "values[1]",
            "unit",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\"], weights = [1, 2] }",
            "weights",
            "one weight per value",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\", \"2ms\"], weights = [0, 0] }",
            "weights",
            "positive",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\"], weights = [-1] }",
            "weights[0]",
            "at least 0",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\"], column = \"x\" }",
            "column",
            "only to a sample read from a file",
        ),
        (
            "{ dist = \"empirical\", values = [\"1ms\"], file = \"x.csv\" }",
            "file",
            "not both",
        ),
        (
            "{ dist = \"empirical\", file = \"x.csv\", column = \"x\", weights = [1] }",
            "weights",
            "only to inline values",
        ),
        (
            "{ dist = \"empirical\", file = \"x.csv\", column = \"x\", unit = \"parsecs\" }",
            "unit",
            "one of ns, us",
        ),
    ];
    for (dist, key, fragment) in cases {
        let ps = invalid(scenario::load_str("t.toml", "t", &scenario_with(dist), &[]));
        let path = format!("fleet.tiers[0].service_time.{key}");
        let p = ps
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{dist}: no problem at {path}: {ps:#?}"));
        assert!(p.message.contains(fragment), "{dist}: {p}");
        assert!(p.location.contains(':') && p.file == "t.toml", "{p}");
    }
    // The new distributions work wherever a distribution does: latency,
    // the dispatcher, per_work's `otherwise`.
    let base = scenario_with("{ dist = \"constant\", value = \"1ms\" }");
    load_text(
        &base,
        &[
            "network.latency={dist=\"gamma\",shape=2,mean=\"1ms\"}",
            "dispatcher.service_time={dist=\"hyperexponential\",means=[\"1ms\",\"3ms\"],probs=[0.5,0.5]}",
            "fleet.tiers[0].service_time={dist=\"per_work\",base=\"1ms\",per_unit=\"1ns\",otherwise={dist=\"weibull\",shape=1.5,scale=\"2ms\"}}",
        ],
    );
}

/// Mean sojourn (s) of each of `reps` replications of an M/G/1 queue.
fn mg1(service_time: &str, rate: f64, reps: u32) -> Vec<f64> {
    let text = format!(
        "duration = \"{}s\"\nwarmup = \"200s\"\ndrain = \"1h\"\n\n[[fleet.tiers]]\nname = \"server\"\ncount = 1\nconcurrency = 1\nservice_time = {service_time}\n\n[workload]\narrivals = {{ process = \"poisson\", rate = {rate} }}\n\n[dispatch]\nworkers = 1\n\n[balancer]\nstrategy = \"least_connections\"\n",
        // About 300,000 tasks per replication.
        (300_000.0 / rate).round()
    );
    let sc = load_text(&text, &[]);
    harness::run_replications(&sc, "mg1", reps, false)
        .iter()
        .map(|r| r.result.latency_mean_ms / 1e3)
        .collect()
}

/// Pollaczek–Khinchine: W = E[S] + λ E[S²] / (2 (1 − ρ)).
fn pollaczek_khinchine(lambda: f64, es: f64, es2: f64) -> f64 {
    es + lambda * es2 / (2.0 * (1.0 - lambda * es))
}

/// Replication mean and its standard error (sd across replications / √r).
fn mean_se(w: &[f64]) -> (f64, f64) {
    let r = w.len() as f64;
    let m = w.iter().sum::<f64>() / r;
    let var = w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r - 1.0);
    (m, (var / r).sqrt())
}

#[test]
fn mg1_with_gamma_and_hyperexponential_service_matches_pollaczek_khinchine() {
    // The tolerance is 5 standard errors of the mean over 10 independent
    // replications (the replications' own spread, t with 9 degrees of
    // freedom: P(|t| > 5) < 0.001). Each case also checks that the
    // standard error is small (under 2 % of W) and that M/M/1 with the same
    // mean, the wrong model, lies far outside the tolerance.
    struct Case {
        st: &'static str,
        lambda: f64,
        es: f64,
        es2: f64,
    }
    let cases = [
        // Gamma, shape 1/2, mean 10 ms: E[S²] = (1 + 1/a) E[S]² = 3e-4 s²;
        // λ = 70/s, ρ = 0.7: W = 0.045 s.
        Case {
            st: "{ dist = \"gamma\", shape = 0.5, mean = \"10ms\" }",
            lambda: 70.0,
            es: 0.010,
            es2: 3e-4,
        },
        // Hyperexponential 0.75 × 5 ms + 0.25 × 45 ms: E[S] = 15 ms,
        // E[S²] = 2 (0.75 · 25 + 0.25 · 2025) ms² = 1.05e-3 s²;
        // λ = 40/s, ρ = 0.6: W = 0.0675 s.
        Case {
            st: "{ dist = \"hyperexponential\", means = [\"5ms\", \"45ms\"], probs = [0.75, 0.25] }",
            lambda: 40.0,
            es: 0.015,
            es2: 1.05e-3,
        },
    ];
    for c in cases {
        let theory = pollaczek_khinchine(c.lambda, c.es, c.es2);
        let (w, se) = mean_se(&mg1(c.st, c.lambda, 10));
        eprintln!("M/G/1 {}: W = {w:.6} s ± {se:.6}, P-K {theory:.6}", c.st);
        assert!(se < 0.02 * theory, "{}: se {se} too wide to test", c.st);
        assert!(
            (w - theory).abs() < 5.0 * se,
            "{}: W = {w}, P-K {theory}, se {se}",
            c.st
        );
        let mm1 = pollaczek_khinchine(c.lambda, c.es, 2.0 * c.es * c.es);
        assert!(
            (w - mm1).abs() > 10.0 * se,
            "{}: W = {w} does not tell it from M/M/1 {mm1}",
            c.st
        );
    }
}

#[test]
fn a_distribution_of_repair_times_keeps_the_uptime() {
    // 10,000 agents down 10 % of the time in the long run, their repairs
    // lognormal (median 1 s, p99 30 s: mean ≈ 2.9 s, most repairs short, a
    // few very long), watched for their first 10 s. Starting in the
    // long-run state, the fraction down is 0.1 at every instant, so also
    // over the window. Each agent's fraction of the window spent down is an
    // independent draw (its own stream), so the fleet's mean has standard
    // error sd/√10,000 from the agents' own spread (about 0.0025); allow 5.
    // Starting the down agents on a fresh repair instead of the residual of
    // one in progress gives about 0.077 (most fresh repairs are short).
    let text = r#"
duration = "10s"
drain = "0s"
[[fleet.tiers]]
name = "a"
count = 10000
service_time = { dist = "constant", value = "1ms" }
uptime = 0.9
mttr = { dist = "lognormal", median = "1s", p99 = "30s" }
[workload]
arrivals = { process = "constant", rate = 1.0 }
"#;
    let sc = load_text(text, &[]);
    let r = harness::run_one(&sc, "repair", 0).result;
    let fr: Vec<f64> = r.agents.iter().map(|a| a.down_s / 10.0).collect();
    let n = fr.len() as f64;
    let mean = fr.iter().sum::<f64>() / n;
    let sd = (fr.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let se = sd / n.sqrt();
    eprintln!("fraction down {mean:.4} ± {se:.4} (uptime 0.9)");
    assert!(
        (mean - 0.1).abs() < 5.0 * se,
        "fraction down {mean}, se {se}"
    );
    // And the key takes a plain mean as before, or refuses a zero mean.
    let bad = text.replace(
        r#"{ dist = "lognormal", median = "1s", p99 = "30s" }"#,
        r#"{ dist = "constant", value = "0s" }"#,
    );
    let e = scenario::load_str("t.toml", "t", &bad, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fleet.tiers[0].mttr: has a mean of 0 ns; repairs must take time"),
        "{e}"
    );
    let bad = text.replace(r#"{ dist = "lognormal", median = "1s", p99 = "30s" }"#, "5");
    let e = scenario::load_str("t.toml", "t", &bad, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fleet.tiers[0].mttr") && e.contains("a mean repair time"),
        "{e}"
    );
}
