//! The registry of run metrics: every figure of a [`RunResult`] that is
//! summarised, compared or checked, listed once with its name, unit, labels,
//! decimals, the direction that hurts and its default `check` tolerance.
//!
//! Why one list: the terminal summary, `report.html`, `comparison.csv` and
//! `fleetsim check` each used to keep their own copy of the names, getters
//! and formatting, so a new metric had to be added four times and the
//! copies could drift. Consumers now select from [`ALL`]: report.html shows
//! every metric in registry order, the terminal summary the ones named in
//! [`SUMMARY`], comparisons the ones named in [`COMPARED`] (in that order,
//! which is `comparison.csv`'s column order), and `check` the ones with a
//! default tolerance ([`checked`]), in registry order.

use std::fmt;

use super::RunResult;

/// What a metric counts or measures, and how people are shown it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A number of tasks, retries or trips.
    Count,
    /// A fraction in [0, 1], shown as a percentage.
    Fraction,
    /// Per second of simulated time.
    PerSecond,
    /// Milliseconds of simulated time.
    Millis,
    /// A mean per task (attempts).
    PerTask,
}

impl Unit {
    /// How labels write the shown unit (empty for plain numbers).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Count | Unit::PerTask => "",
            Unit::Fraction => "%",
            Unit::PerSecond => "/s",
            Unit::Millis => "ms",
        }
    }

    /// A value in this unit as people are shown it: fractions as percent.
    pub fn shown(self, x: f64) -> f64 {
        match self {
            Unit::Fraction => x * 100.0,
            Unit::Count | Unit::PerSecond | Unit::Millis | Unit::PerTask => x,
        }
    }
}

/// Which way a metric gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Higher,
    Lower,
    /// Set by the workload, not by how well the fleet serves it.
    Neither,
}

/// One metric of a run.
#[derive(Clone, Copy)]
pub struct Metric {
    /// Its `summary.csv` column; also its name in `comparison.csv`'s
    /// columns, in baselines and in `check --tolerance`.
    pub name: &'static str,
    pub unit: Unit,
    /// How people are shown its name, everywhere: the terminal summary,
    /// report.html's tables, the compare and sweep tables, pages and chart
    /// axes, and `results.json`.
    pub label: &'static str,
    /// Decimals of the value as shown (in [`Unit::shown`]) in the terminal
    /// and report.html.
    pub decimals: usize,
    /// Decimals of the raw value, or of a mean of it over runs, in
    /// `comparison.csv`.
    pub csv_decimals: usize,
    pub worse: Worse,
    /// The default tolerance of `fleetsim check`, in percent: `Some` for
    /// exactly the metrics `check` gates on.
    pub tolerance_pct: Option<f64>,
    /// The raw value of a run (fractions as fractions).
    pub get: fn(&RunResult) -> f64,
}

impl Metric {
    /// The value of `r` as people are shown it.
    pub fn shown(&self, r: &RunResult) -> f64 {
        self.unit.shown((self.get)(r))
    }
}

impl fmt::Debug for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A count of tasks: shown and compared without further ado.
const fn count(
    name: &'static str,
    label: &'static str,
    worse: Worse,
    get: fn(&RunResult) -> f64,
) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
        label,
        decimals: 0,
        csv_decimals: 3,
        worse,
        tolerance_pct: None,
        get,
    }
}

/// A latency or wait in milliseconds.
const fn millis(
    name: &'static str,
    label: &'static str,
    tolerance_pct: Option<f64>,
    get: fn(&RunResult) -> f64,
) -> Metric {
    Metric {
        name,
        unit: Unit::Millis,
        label,
        decimals: 3,
        csv_decimals: 3,
        worse: Worse::Higher,
        tolerance_pct,
        get,
    }
}

/// Every metric, in the order of report.html's summary table.
pub const ALL: &[Metric] = &[
    count("tasks_submitted", "tasks submitted", Worse::Neither, |r| {
        r.submitted as f64
    }),
    count("tasks_completed", "completed", Worse::Lower, |r| {
        r.completed as f64
    }),
    count("tasks_failed", "failed", Worse::Higher, |r| r.failed as f64),
    count("tasks_rejected", "rejected", Worse::Higher, |r| {
        r.rejected as f64
    }),
    count("tasks_cancelled", "cancelled", Worse::Higher, |r| {
        r.cancelled as f64
    }),
    Metric {
        name: "success_rate",
        unit: Unit::Fraction,
        label: "success rate %",
        decimals: 2,
        csv_decimals: 6,
        worse: Worse::Lower,
        tolerance_pct: Some(1.0),
        get: |r| r.success_rate,
    },
    Metric {
        name: "throughput_per_s",
        unit: Unit::PerSecond,
        label: "throughput /s",
        decimals: 2,
        csv_decimals: 3,
        worse: Worse::Lower,
        tolerance_pct: Some(2.0),
        get: |r| r.throughput_per_s,
    },
    millis("latency_mean_ms", "latency mean ms", Some(5.0), |r| {
        r.latency_mean_ms
    }),
    millis("latency_p50_ms", "latency p50 ms", Some(5.0), |r| {
        r.latency_p50_ms
    }),
    millis("latency_p95_ms", "latency p95 ms", None, |r| {
        r.latency_p95_ms
    }),
    millis("latency_p99_ms", "latency p99 ms", Some(10.0), |r| {
        r.latency_p99_ms
    }),
    millis("latency_p999_ms", "latency p99.9 ms", None, |r| {
        r.latency_p999_ms
    }),
    millis("latency_max_ms", "latency max ms", None, |r| {
        r.latency_max_ms
    }),
    millis("wait_mean_ms", "wait mean ms", Some(10.0), |r| {
        r.wait_mean_ms
    }),
    Metric {
        name: "attempts_mean",
        unit: Unit::PerTask,
        label: "attempts mean",
        decimals: 3,
        csv_decimals: 4,
        worse: Worse::Higher,
        tolerance_pct: None,
        get: |r| r.attempts_mean,
    },
    Metric {
        name: "attempts_per_task",
        unit: Unit::PerTask,
        label: "attempts per task, every hop",
        decimals: 3,
        csv_decimals: 4,
        worse: Worse::Higher,
        tolerance_pct: None,
        get: |r| r.attempts_per_task,
    },
    count("retries", "retries", Worse::Higher, |r| r.retries as f64),
    count("breaker_trips", "breaker trips", Worse::Higher, |r| {
        r.breaker_trips as f64
    }),
    Metric {
        name: "dispatcher_wait_mean_ms",
        unit: Unit::Millis,
        label: "dispatcher wait ms",
        decimals: 3,
        csv_decimals: 3,
        worse: Worse::Higher,
        tolerance_pct: None,
        get: |r| r.dispatcher_wait_mean_ms,
    },
    Metric {
        name: "agent_seconds",
        unit: Unit::Count,
        label: "agent-seconds",
        decimals: 1,
        csv_decimals: 3,
        worse: Worse::Higher,
        tolerance_pct: None,
        get: |r| r.agent_seconds,
    },
];

/// The terminal summary of `fleetsim run`, in order.
pub const SUMMARY: &[&str] = &[
    "tasks_submitted",
    "tasks_completed",
    "tasks_failed",
    "tasks_rejected",
    "tasks_cancelled",
    "success_rate",
    "throughput_per_s",
    "latency_mean_ms",
    "latency_p99_ms",
    "wait_mean_ms",
];

/// The metrics a comparison of strategies estimates, in `comparison.csv`'s
/// column order.
pub const COMPARED: &[&str] = &[
    "success_rate",
    "throughput_per_s",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "wait_mean_ms",
    "tasks_failed",
    "breaker_trips",
];

/// The metric called `name`.
pub fn get(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name)
}

/// The metrics called `names`, in that order.
///
/// # Panics
/// On a name that is not registered: the lists above are fixed, and a test
/// checks them.
pub fn named(names: &'static [&'static str]) -> impl Iterator<Item = &'static Metric> {
    names
        .iter()
        .map(|n| get(n).unwrap_or_else(|| panic!("no metric called {n} in the registry")))
}

/// The metrics `fleetsim check` gates on (those with a default tolerance),
/// in registry order.
pub fn checked() -> impl Iterator<Item = &'static Metric> {
    ALL.iter().filter(|m| m.tolerance_pct.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusStats;
    use crate::metrics::ExactLatency;

    /// A result whose every figure differs from every other.
    fn distinct() -> RunResult {
        RunResult {
            submitted: 101,
            completed: 102,
            failed: 103,
            rejected: 104,
            cancelled: 105,
            failed_by: [106, 107, 108, 109, 135, 136, 238, 239],
            retries: 110,
            retry_budget_exhausted: 111,
            success_rate: 0.112,
            throughput_per_s: 113.5,
            latency_mean_ms: 114.5,
            latency_p50_ms: 115.5,
            latency_p95_ms: 116.5,
            latency_p99_ms: 117.5,
            latency_p999_ms: 118.5,
            latency_max_ms: 119.5,
            latency_exact: ExactLatency {
                count: 120,
                sum_ns: 121,
                max_ns: 122,
            },
            wait_mean_ms: 123.5,
            wait_mean_ms_by_priority: [124.5, 125.5, 126.5, 127.5],
            attempts_mean: 128.5,
            breaker_trips: 129,
            events: 130,
            in_system_mean: 131.5,
            arrival_rate_per_s: 132.5,
            histogram_overflow: 133,
            simulated_s: 134.5,
            latency: hdrhistogram::Histogram::new(3).expect("3 significant digits are valid"),
            agents: Vec::new(),
            buckets: Vec::new(),
            jobs: Vec::new(),
            bus: BusStats::new(),
            calls: Vec::new(),
            attempts_per_task: 137.5,
            agent_seconds: 141.5,
            errors: Vec::new(),
            dispatcher_wait_mean_ms: 139.5,
            dispatcher_utilization: 0.140,
            work_done: 142.5,
            work_per_s: 143.5,
            fingerprint: 0,
            invariants: Default::default(),
            warmup_s: 144.5,
            latency_series: Vec::new(),
        }
    }

    #[test]
    fn each_getter_reads_its_own_field() {
        let r = distinct();
        let want: &[(&str, f64)] = &[
            ("tasks_submitted", 101.0),
            ("tasks_completed", 102.0),
            ("tasks_failed", 103.0),
            ("tasks_rejected", 104.0),
            ("tasks_cancelled", 105.0),
            ("success_rate", 0.112),
            ("throughput_per_s", 113.5),
            ("latency_mean_ms", 114.5),
            ("latency_p50_ms", 115.5),
            ("latency_p95_ms", 116.5),
            ("latency_p99_ms", 117.5),
            ("latency_p999_ms", 118.5),
            ("latency_max_ms", 119.5),
            ("wait_mean_ms", 123.5),
            ("attempts_mean", 128.5),
            ("attempts_per_task", 137.5),
            ("retries", 110.0),
            ("breaker_trips", 129.0),
            ("dispatcher_wait_mean_ms", 139.5),
            ("agent_seconds", 141.5),
        ];
        assert_eq!(ALL.len(), want.len(), "a metric without an expected value");
        for (m, (name, value)) in ALL.iter().zip(want) {
            assert_eq!(m.name, *name, "registry order");
            assert_eq!((m.get)(&r), *value, "{name} reads the wrong field");
        }
        // Shown values: fractions as percent, the rest as they are.
        assert_eq!(get("success_rate").unwrap().shown(&r), 0.112 * 100.0);
        assert_eq!(get("latency_p99_ms").unwrap().shown(&r), 117.5);
    }

    #[test]
    fn names_and_labels_are_unique() {
        for (i, m) in ALL.iter().enumerate() {
            for n in &ALL[..i] {
                assert_ne!(m.name, n.name, "two metrics called {}", m.name);
                assert_ne!(m.label, n.label, "two metrics labelled {}", m.label);
            }
        }
    }

    #[test]
    fn labels_name_their_unit() {
        for m in ALL {
            let unit = m.unit.symbol();
            assert!(
                m.label.ends_with(unit),
                "{}: `{}` should end in `{unit}`",
                m.name,
                m.label
            );
        }
    }

    #[test]
    fn checked_metrics_have_a_tolerance_and_a_direction() {
        let names: Vec<&str> = checked().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "success_rate",
                "throughput_per_s",
                "latency_mean_ms",
                "latency_p50_ms",
                "latency_p99_ms",
                "wait_mean_ms"
            ]
        );
        for m in checked() {
            let tol = m.tolerance_pct.expect("checked means a tolerance");
            assert!(tol.is_finite() && tol > 0.0, "{}: {tol}", m.name);
            assert_ne!(m.worse, Worse::Neither, "{} is checked", m.name);
        }
    }

    #[test]
    fn selections_name_registered_metrics_once() {
        for list in [SUMMARY, COMPARED] {
            let metrics: Vec<&Metric> = named(list).collect();
            assert_eq!(metrics.len(), list.len());
            for (i, n) in list.iter().enumerate() {
                assert!(!list[..i].contains(n), "{n} is listed twice");
            }
        }
        assert!(get("p99").is_none());
    }

    #[test]
    #[should_panic(expected = "no metric called nope")]
    fn an_unknown_name_is_a_broken_invariant() {
        let _ = named(&["nope"]).count();
    }
}
