//! The CSV reports (every column is described in docs/outputs.md):
//! `summary.csv`, `agents.csv`, `timeseries.csv` and `perf.csv`, with the
//! original columns first, in order, and the extra `jobs.csv`, `bus.csv`,
//! `calls.csv`, `tiers.csv`, `comparison.csv`, `shard.csv` and `fit.csv`. Floats have fixed
//! decimals; rows come in run order (variant, then replication), agents in
//! id order, buckets in time order, message kinds in `bus::Kind::ALL` order.

use std::io::{self, Write};

use super::{fixed, fixed_into};
use crate::bus::{BusStats, Kind, KindStats};
use crate::metrics::{Cause, JobOutcome, RunResult, registry};
use crate::results::RunRecord;
use crate::results::comparison::Comparison;
use crate::results::shard::{MANIFEST_FORMAT, Manifest};
use crate::scenario::Scenario;
use crate::text::push_decimal_bytes;

/// The contract columns of `summary.csv`, then the extra ones.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "scenario",
    "variant",
    "seed",
    "replication",
    "tasks_submitted",
    "tasks_completed",
    "tasks_failed",
    "tasks_rejected",
    "tasks_cancelled",
    "success_rate",
    "throughput_per_s",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "wait_mean_ms",
    "attempts_mean",
    "breaker_trips",
    "events",
    "in_system_mean",
    "arrival_rate_per_s",
    "simulated_s",
    "histogram_overflow",
    "failed_error",
    "failed_refused",
    "failed_timeout",
    "failed_no_agent",
    "wait_mean_ms_critical",
    "wait_mean_ms_high",
    "wait_mean_ms_normal",
    "wait_mean_ms_low",
    "retries",
    "retry_budget_exhausted",
    "jobs",
    "jobs_completed",
    "jobs_failed",
    "jobs_compensated",
    "jobs_cancelled",
    "job_makespan_mean_ms",
    "messages_lost",
    "bus_latency_p99_ms",
    "failed_deadline",
    "failed_dependency",
    "attempts_per_task",
    "failed_no_dispatcher",
    "dispatcher_wait_mean_ms",
    "dispatcher_utilization",
    "failed_broker",
    "agent_seconds",
    "work_done",
    "work_per_s",
    "warmup_s",
    "fingerprint",
];

pub const CALLS_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "capability",
    "calls",
    "attempts",
    "attempts_per_task",
    "completed",
    "failed",
    "cancelled",
    "failed_error",
    "failed_refused",
    "failed_timeout",
    "failed_no_agent",
    "failed_deadline",
    "failed_dependency",
    "success_rate",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "breaker_trips",
    "failed_no_dispatcher",
    "failed_broker",
];

pub const JOB_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "job",
    "kind",
    "arrival_s",
    "outcome",
    "makespan_ms",
    "stages_completed",
    "stages",
    "compensations",
    "work",
];

/// The CSV files every run directory has, in the order pages list them
/// (`jobs.csv` and `tiers.csv` come besides them when there are jobs or
/// fleet changes).
pub const RUN_FILES: [&str; 6] = [
    "summary.csv",
    "agents.csv",
    "timeseries.csv",
    "bus.csv",
    "calls.csv",
    "perf.csv",
];

pub const AGENT_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "agent",
    "tier",
    "tasks",
    "failures",
    "utilization",
    "latency_mean_ms",
    "latency_p99_ms",
    "breaker_trips",
    "unhealthy_s",
    "down_s",
    "breaker_open_s",
    "degraded_s",
];

pub const TIMESERIES_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "t_s",
    "arrivals",
    "completions",
    "failures",
    "in_flight",
    "queue_len",
    "latency_p99_ms",
    "healthy_agents",
    "open_breakers",
    "agents_down",
    "queue_critical",
    "queue_high",
    "queue_normal",
    "queue_low",
    "degraded_agents",
    "dispatcher_queue",
    "agents_serving",
];

pub const BUS_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "kind",
    "sent",
    "delivered",
    "lost",
    "lost_partition",
    "lost_dropped",
    "timed_out",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "replayed",
    "lost_overflow",
    "lost_broker",
    "lost_crash",
];

pub const PERF_COLUMNS: &[&str] = &[
    "variant",
    "replication",
    "events",
    "wall_ms",
    "events_per_s",
    "speedup",
    "peak_rss_mb",
];

fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(header)
        .expect("writing to memory cannot fail");
    for row in rows {
        debug_assert_eq!(row.len(), header.len());
        w.write_record(&row).expect("writing to memory cannot fail");
    }
    w.into_inner().expect("writing to memory cannot fail")
}

/// Milliseconds with microsecond resolution.
fn ms(x: f64) -> String {
    fixed(x, 3)
}

/// One row per run.
pub fn summary(runs: &[RunRecord]) -> Vec<u8> {
    table(
        SUMMARY_COLUMNS,
        runs.iter().map(|r| {
            let s = &r.result;
            vec![
                r.scenario.clone(),
                r.variant.clone(),
                r.seed.to_string(),
                r.replication.to_string(),
                s.submitted.to_string(),
                s.completed.to_string(),
                s.failed.to_string(),
                s.rejected.to_string(),
                s.cancelled.to_string(),
                fixed(s.success_rate, 6),
                fixed(s.throughput_per_s, 3),
                ms(s.latency_mean_ms),
                ms(s.latency_p50_ms),
                ms(s.latency_p95_ms),
                ms(s.latency_p99_ms),
                ms(s.latency_p999_ms),
                ms(s.latency_max_ms),
                ms(s.wait_mean_ms),
                fixed(s.attempts_mean, 4),
                s.breaker_trips.to_string(),
                s.events.to_string(),
                fixed(s.in_system_mean, 4),
                fixed(s.arrival_rate_per_s, 4),
                fixed(s.simulated_s, 3),
                s.histogram_overflow.to_string(),
                s.failed_by[0].to_string(),
                s.failed_by[1].to_string(),
                s.failed_by[2].to_string(),
                s.failed_by[3].to_string(),
                ms(s.wait_mean_ms_by_priority[0]),
                ms(s.wait_mean_ms_by_priority[1]),
                ms(s.wait_mean_ms_by_priority[2]),
                ms(s.wait_mean_ms_by_priority[3]),
                s.retries.to_string(),
                s.retry_budget_exhausted.to_string(),
                s.jobs.len().to_string(),
                job_count(s, JobOutcome::Completed),
                job_count(s, JobOutcome::Failed),
                job_count(s, JobOutcome::Compensated),
                job_count(s, JobOutcome::Cancelled),
                ms(if s.jobs.is_empty() {
                    0.0
                } else {
                    s.jobs
                        .iter()
                        .map(|j| j.makespan().as_millis_f64())
                        .sum::<f64>()
                        / s.jobs.len() as f64
                }),
                messages_lost(&s.bus.total()).to_string(),
                ms(s.bus.latency_quantile_ns(0.99) as f64 / 1e6),
                s.failed_by[Cause::Deadline as usize].to_string(),
                s.failed_by[Cause::Dependency as usize].to_string(),
                fixed(s.attempts_per_task, 4),
                s.failed_by[Cause::NoDispatcher as usize].to_string(),
                ms(s.dispatcher_wait_mean_ms),
                fixed(s.dispatcher_utilization, 4),
                s.failed_by[Cause::Broker as usize].to_string(),
                fixed(s.agent_seconds, 3),
                fixed(s.work_done, 6),
                fixed(s.work_per_s, 3),
                fixed(s.warmup_s, 6),
                format!("{:016x}", s.fingerprint),
            ]
        }),
    )
}

/// `batch_means.csv`: one row per replication, the batch-means estimate
/// of its mean latency (`fleetsim run --batch-means`; empty cells when a
/// run had fewer completed tasks than batches).
pub fn batch_means(
    scenario: &str,
    batches: u32,
    rows: &[(u32, Option<crate::stats::batch::BatchMeans>)],
) -> Vec<u8> {
    table(
        &[
            "scenario",
            "replication",
            "metric",
            "batches",
            "batch_size",
            "dropped",
            "mean",
            "ci95_half_width",
            "lag1_autocorrelation",
            "lag1_threshold",
            "lag1_significant",
        ],
        rows.iter().map(|(rep, bm)| {
            let head = vec![
                scenario.to_string(),
                rep.to_string(),
                "latency_mean_ms".to_string(),
                batches.to_string(),
            ];
            let tail = match bm {
                None => vec![String::new(); 7],
                Some(b) => vec![
                    b.batch_size.to_string(),
                    b.dropped.to_string(),
                    ms(b.mean),
                    ms(b.half_width),
                    fixed(b.lag1, 4),
                    fixed(crate::stats::batch::lag1_threshold(batches), 4),
                    b.lag1_significant.to_string(),
                ],
            };
            head.into_iter().chain(tail).collect()
        }),
    )
}

/// `target_ci.csv`: one row per `--target-ci` target: where it stood when
/// the replications stopped, and why they stopped.
pub fn target_ci(
    replications: u32,
    met_all: bool,
    rows: &[(crate::stats::target::Target, crate::stats::target::Standing)],
) -> Vec<u8> {
    table(
        &[
            "metric",
            "target",
            "replications",
            "mean",
            "ci95_half_width",
            "wanted_half_width",
            "met",
            "stopped",
        ],
        rows.iter().map(|(t, s)| {
            let d = t.metric.csv_decimals;
            vec![
                t.metric.name.to_string(),
                t.width_text(),
                replications.to_string(),
                fixed(s.mean, d),
                fixed(s.half_width, d),
                fixed(s.wanted, d),
                s.met.to_string(),
                if met_all { "met" } else { "max_replications" }.to_string(),
            ]
        }),
    )
}

/// One row per capability in use × run: the calls made to it (a task is
/// the dispatcher's call), their attempts and outcomes.
pub fn calls(runs: &[RunRecord]) -> Vec<u8> {
    table(
        CALLS_COLUMNS,
        runs.iter().flat_map(|r| {
            let submitted = r.result.submitted;
            r.result.calls.iter().map(move |c| {
                let mut row = vec![
                    r.variant.clone(),
                    r.replication.to_string(),
                    c.capability.clone(),
                    c.calls.to_string(),
                    c.attempts.to_string(),
                    fixed(
                        if submitted == 0 {
                            0.0
                        } else {
                            c.attempts as f64 / submitted as f64
                        },
                        4,
                    ),
                    c.completed.to_string(),
                    c.failed.to_string(),
                    c.cancelled.to_string(),
                ];
                // Causes in their historical column order; the causes
                // added later (`no_dispatcher`, `broker`) are the last
                // columns.
                row.extend(
                    c.failed_by[..=Cause::Dependency as usize]
                        .iter()
                        .map(u64::to_string),
                );
                row.extend([
                    fixed(c.success_rate(), 6),
                    ms(c.latency_mean_ms()),
                    ms(c.latency_ms(0.50)),
                    ms(c.latency_ms(0.99)),
                    c.breaker_trips.to_string(),
                    c.failed_by[Cause::NoDispatcher as usize].to_string(),
                    c.failed_by[Cause::Broker as usize].to_string(),
                ]);
                row
            })
        }),
    )
}

fn job_count(s: &RunResult, o: JobOutcome) -> String {
    s.jobs.iter().filter(|j| j.outcome == o).count().to_string()
}

/// One row per job per run, in arrival order.
pub fn jobs(sc: &Scenario, runs: &[RunRecord]) -> Vec<u8> {
    table(
        JOB_COLUMNS,
        runs.iter().flat_map(|r| {
            r.result.jobs.iter().map(|j| {
                let kind = &sc.workload.jobs[j.kind as usize];
                vec![
                    r.variant.clone(),
                    r.replication.to_string(),
                    j.id.to_string(),
                    kind.name.clone(),
                    fixed(j.arrival.as_secs_f64(), 6),
                    j.outcome.as_str().to_string(),
                    ms(j.makespan().as_millis_f64()),
                    j.stages_completed.to_string(),
                    kind.stages.len().to_string(),
                    j.compensations.to_string(),
                    fixed(j.work, 6),
                ]
            })
        }),
    )
}

/// One row per agent per run (see [`write_agents`]).
pub fn agents(sc: &Scenario, runs: &[RunRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    write_agents(&mut out, sc, runs).expect("writing to memory cannot fail");
    out
}

/// Bytes of `agents.csv` gathered before they are handed to the writer.
const AGENTS_CHUNK: usize = 64 * 1024;

/// Write `agents.csv`, one row per agent per run, to `w`, a chunk of
/// [`AGENTS_CHUNK`] bytes at a time: 100,000 agents make 8 MB, which as
/// one buffer cost two thousand page faults to write once.
///
/// Written byte by byte rather than through the `csv` writer: a fleet of
/// 100,000 agents writes 1.4 million cells, and formatting each one and
/// checking it for quoting was a quarter of such a run. The bytes are those
/// of `table`: numbers never need quoting, and the names that might (the
/// variant, the tiers) are quoted by the `csv` writer once, up front
/// ([`quoted`]).
pub fn write_agents(w: &mut impl Write, sc: &Scenario, runs: &[RunRecord]) -> io::Result<()> {
    let tier_of = crate::fleet::tier_of(&sc.tiers);
    let tier_names: Vec<Vec<u8>> = sc.tiers.iter().map(|t| quoted(&t.name)).collect();
    let mut out = table(AGENT_COLUMNS, std::iter::empty());
    // Rows are short (60 to 90 bytes, more only for long names): a chunk
    // rarely outgrows its first size.
    out.reserve(AGENTS_CHUNK + 256);
    let mut lead = Vec::new();
    for r in runs {
        // `variant,replication,agent-`: the same for every row of the run
        // (an agent id is the prefix and the agent's number).
        lead.clear();
        lead.extend_from_slice(&quoted(&r.variant));
        lead.push(b',');
        push_decimal_bytes(&mut lead, u64::from(r.replication));
        lead.push(b',');
        lead.extend_from_slice(crate::fleet::AGENT_ID_PREFIX.as_bytes());
        for (i, a) in r.result.agents.iter().enumerate() {
            out.extend_from_slice(&lead);
            push_decimal_bytes(&mut out, i as u64);
            out.push(b',');
            out.extend_from_slice(&tier_names[tier_of[i] as usize]);
            out.push(b',');
            push_decimal_bytes(&mut out, a.tasks);
            out.push(b',');
            push_decimal_bytes(&mut out, a.failures);
            out.push(b',');
            fixed_into(&mut out, a.utilization, 6);
            out.push(b',');
            fixed_into(&mut out, a.latency_mean_ms, 3);
            out.push(b',');
            fixed_into(&mut out, a.latency_p99_ms, 3);
            out.push(b',');
            push_decimal_bytes(&mut out, a.breaker_trips);
            for x in [a.unhealthy_s, a.down_s, a.breaker_open_s, a.degraded_s] {
                out.push(b',');
                fixed_into(&mut out, x, 3);
            }
            out.push(b'\n');
            if out.len() >= AGENTS_CHUNK {
                w.write_all(&out)?;
                out.clear();
            }
        }
    }
    w.write_all(&out)
}

/// `field` as the `csv` writer writes it in a record of several fields:
/// quoted (and its quotes doubled) when it holds a comma, a quote or a line
/// break, as is otherwise.
fn quoted(field: &str) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    // A second, empty field: a record of one empty field is written `""`.
    w.write_record([field, ""])
        .expect("writing to memory cannot fail");
    let mut bytes = w.into_inner().expect("writing to memory cannot fail");
    assert!(
        bytes.ends_with(b",\n"),
        "the csv writer ends a record of two fields, the last empty, with `,\\n`: {bytes:?}"
    );
    bytes.truncate(bytes.len() - 2);
    bytes
}

/// One row per time bucket per run.
pub fn timeseries(runs: &[RunRecord]) -> Vec<u8> {
    table(
        TIMESERIES_COLUMNS,
        runs.iter().flat_map(|r| {
            r.result.buckets.iter().map(|b| {
                vec![
                    r.variant.clone(),
                    r.replication.to_string(),
                    fixed(b.start.as_secs_f64(), 3),
                    b.arrivals.to_string(),
                    b.completions.to_string(),
                    b.failures.to_string(),
                    b.in_flight.to_string(),
                    b.queue_len.to_string(),
                    ms(b.latency_p99_ms),
                    b.healthy_agents.to_string(),
                    b.open_breakers.to_string(),
                    b.agents_down.to_string(),
                    b.queue_by_priority[0].to_string(),
                    b.queue_by_priority[1].to_string(),
                    b.queue_by_priority[2].to_string(),
                    b.queue_by_priority[3].to_string(),
                    b.degraded_agents.to_string(),
                    b.dispatcher_queue.to_string(),
                    b.agents_serving.to_string(),
                ]
            })
        }),
    )
}

pub const TIER_COLUMNS: &[&str] = &["variant", "replication", "t_s", "tier", "agents_serving"];

/// One row per time bucket × tier × run (scenarios whose fleet changes):
/// the tier's agents serving at the bucket's end.
pub fn tiers(sc: &Scenario, runs: &[RunRecord]) -> Vec<u8> {
    table(
        TIER_COLUMNS,
        runs.iter().flat_map(|r| {
            r.result.buckets.iter().flat_map(move |b| {
                b.agents_by_tier.iter().zip(&sc.tiers).map(move |(n, t)| {
                    vec![
                        r.variant.clone(),
                        r.replication.to_string(),
                        fixed(b.start.as_secs_f64(), 3),
                        t.name.clone(),
                        n.to_string(),
                    ]
                })
            })
        }),
    )
}

fn messages_lost(k: &KindStats) -> u64 {
    k.lost_partition + k.lost_dropped + k.lost_overflow + k.lost_broker + k.lost_crash
}

/// One row per message kind per run, in [`Kind::ALL`] order, then a row
/// `all` with the totals. The bus keeps one latency histogram over every
/// kind, so the latency cells are filled on the `all` row only (mean and
/// max exact, percentiles to 3 significant digits) and empty on the
/// per-kind rows.
pub fn bus(runs: &[RunRecord]) -> Vec<u8> {
    table(
        BUS_COLUMNS,
        runs.iter().flat_map(|r| {
            let b: &BusStats = &r.result.bus;
            let counts = |name: &str, k: &KindStats| {
                vec![
                    r.variant.clone(),
                    r.replication.to_string(),
                    name.to_string(),
                    k.sent.to_string(),
                    k.delivered.to_string(),
                    messages_lost(k).to_string(),
                    k.lost_partition.to_string(),
                    k.lost_dropped.to_string(),
                    k.timed_out.to_string(),
                ]
            };
            // Replayed retained messages are publish messages.
            let replayed = |kind: Option<Kind>| match kind {
                None | Some(Kind::Publish) => b.replayed.to_string(),
                Some(_) => "0".to_string(),
            };
            let broker = |k: &KindStats| {
                [
                    k.lost_overflow.to_string(),
                    k.lost_broker.to_string(),
                    k.lost_crash.to_string(),
                ]
            };
            let per_kind = Kind::ALL.into_iter().map(move |kind| {
                let mut row = counts(kind.name(), b.kind(kind));
                row.extend(std::iter::repeat_n(String::new(), 4));
                row.push(replayed(Some(kind)));
                row.extend(broker(b.kind(kind)));
                row
            });
            let total = b.total();
            let mut all = counts("all", &total);
            all.extend([
                ms(b.latency_mean_ns() / 1e6),
                ms(b.latency_quantile_ns(0.50) as f64 / 1e6),
                ms(b.latency_quantile_ns(0.99) as f64 / 1e6),
                ms(b.latency_max_ns() as f64 / 1e6),
                replayed(None),
            ]);
            all.extend(broker(&total));
            per_kind.chain(std::iter::once(all))
        }),
    )
}

/// One row per run: the only report with wall-clock figures.
pub fn perf(runs: &[RunRecord]) -> Vec<u8> {
    table(
        PERF_COLUMNS,
        runs.iter().map(|r| {
            let wall_s = r.wall.as_secs_f64();
            let per_s = |x: f64| if wall_s > 0.0 { x / wall_s } else { 0.0 };
            vec![
                r.variant.clone(),
                r.replication.to_string(),
                r.result.events.to_string(),
                fixed(wall_s * 1e3, 3),
                fixed(per_s(r.result.events as f64), 0),
                fixed(per_s(r.result.simulated_s), 1),
                r.peak_rss
                    .map_or(String::new(), |b| fixed(b as f64 / (1024.0 * 1024.0), 1)),
            ]
        }),
    )
}

/// `table` (a CSV with a header) with `names` appended to its header and
/// `values[i]` to its row `i`: a sweep's `summary.csv` is [`summary`] with
/// one column per varied key.
pub fn with_columns(table: &[u8], names: &[&str], values: &[Vec<String>]) -> Vec<u8> {
    let mut rd = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(table);
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut rows = 0;
    for (i, rec) in rd.byte_records().enumerate() {
        let mut rec = rec.expect("a table written by this module reads back");
        if i == 0 {
            for n in names {
                rec.push_field(n.as_bytes());
            }
        } else {
            let extra = &values[i - 1];
            assert_eq!(extra.len(), names.len(), "one value per added column");
            for v in extra {
                rec.push_field(v.as_bytes());
            }
            rows += 1;
        }
        w.write_byte_record(&rec)
            .expect("writing to memory cannot fail");
    }
    assert_eq!(rows, values.len(), "one list of values per row");
    w.into_inner().expect("writing to memory cannot fail")
}

/// Tables with one header: `empty` (a table with a header and no rows),
/// then the rows of each part in order. Every part must have the same
/// header; a part per run, concatenated in run order, is the table of all
/// the runs.
pub fn concat<'a>(empty: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = empty.to_vec();
    for part in parts {
        let body = part
            .strip_prefix(empty)
            .expect("every part has the header of `empty`");
        out.extend_from_slice(body);
    }
    out
}

/// The columns of `comparison.csv`: labels, then for each key metric
/// (`registry::COMPARED`, in order) its mean and 95% CI half-width,
/// and the paired difference against the first strategy with its CI.
pub fn comparison_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["scenario", "strategy", "baseline", "seed", "replications"]
        .map(String::from)
        .to_vec();
    for m in registry::named(registry::COMPARED) {
        for suffix in ["mean", "ci95", "diff", "diff_ci95"] {
            cols.push(format!("{}_{suffix}", m.name));
        }
    }
    cols
}

/// `comparison.csv`: one row per strategy, in the order given.
pub fn comparison(c: &Comparison) -> Vec<u8> {
    let cols = comparison_columns();
    let header: Vec<&str> = cols.iter().map(String::as_str).collect();
    table(
        &header,
        c.rows.iter().map(|row| {
            let mut cells = vec![
                c.scenario.clone(),
                row.strategy.to_string(),
                c.baseline().to_string(),
                c.seed.to_string(),
                c.replications.to_string(),
            ];
            for (m, s) in registry::named(registry::COMPARED).zip(&row.stats) {
                for x in [s.mean, s.ci95, s.diff, s.diff_ci95] {
                    cells.push(fixed(x, m.csv_decimals));
                }
            }
            cells
        }),
    )
}

/// A sweep shard's manifest, `shard.csv`: `field,value` rows; `set` and
/// `vary` repeat, once per argument, in order; `runs` is the run indices,
/// space-separated.
pub fn shard_manifest(m: &Manifest) -> Vec<u8> {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["format".into(), MANIFEST_FORMAT.into()],
        vec!["fleetsim".into(), m.fleetsim.clone()],
        vec!["scenario".into(), m.scenario.clone()],
        vec!["source".into(), m.source.clone()],
        vec!["scenario_hash".into(), format!("{:016x}", m.scenario_hash)],
        vec!["seed".into(), m.seed.to_string()],
    ];
    rows.extend(m.set.iter().map(|s| vec!["set".into(), s.clone()]));
    rows.extend(m.vary.iter().map(|v| vec!["vary".into(), v.to_string()]));
    rows.extend([
        vec!["replications".into(), m.replications.to_string()],
        vec!["points".into(), m.points.to_string()],
        vec!["runs_total".into(), m.runs_total.to_string()],
        vec!["shard".into(), m.shard.index.to_string()],
        vec!["shards".into(), m.shard.count.to_string()],
        vec![
            "runs".into(),
            m.runs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ],
    ]);
    table(&["field", "value"], rows.into_iter())
}

/// The columns of `fit.csv` (`fleetsim fit`).
pub const FIT_COLUMNS: &[&str] = &[
    "group",
    "family",
    "rank_ks",
    "rank_aic",
    "values",
    "parameters",
    "log_likelihood",
    "aic",
    "ks",
    "toml",
];

/// `fit.csv`: one row per group (sorted) and family (by KS rank, the
/// empirical last); parameters as a scenario file spells them, `name=value`
/// separated by spaces; empty log-likelihood and AIC for the families
/// without a density (constant, empirical). `file` and `column` name the
/// log in the empirical family's TOML.
/// `fit.csv`; `samples[i]` is where group `i`'s empirical line reads.
pub fn fit(fits: &[crate::fit::GroupFit], samples: &[crate::fit::SampleFile]) -> Vec<u8> {
    let opt = |x: Option<f64>| x.map_or_else(String::new, |v| fixed(v, 3));
    let rank = |r: Option<usize>| r.map_or_else(String::new, |r| r.to_string());
    table(
        FIT_COLUMNS,
        fits.iter().zip(samples).flat_map(|(g, sample)| {
            g.rows.iter().map(move |r| {
                let params: Vec<String> = r
                    .family
                    .describe()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                vec![
                    g.group.clone(),
                    r.family.name().to_string(),
                    rank(r.rank_ks),
                    rank(r.rank_aic),
                    g.sorted.len().to_string(),
                    params.join(" "),
                    opt(r.log_likelihood),
                    opt(r.aic),
                    fixed(r.ks, 6),
                    r.family.toml(sample),
                ]
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_metric_is_a_summary_column() {
        for m in registry::ALL {
            assert!(
                SUMMARY_COLUMNS.contains(&m.name),
                "{} is not a summary.csv column",
                m.name
            );
        }
    }
}
