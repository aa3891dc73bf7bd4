//! The message broker as a server (`[bus.broker]`) and its outages
//! (`broker_down`): the M/M/1/K blocking fraction under Poisson load, the
//! exact losses of an outage and the `broker` failure cause, and what a
//! persistent broker replays after it.

use fleetsim::bus::Kind;
use fleetsim::harness;
use fleetsim::metrics::Cause;
use fleetsim::scenario::{self, Override, ScenarioError};

use super::support::{load_text, run_text};

/// Poisson requests at λ = 2000/s through a one-slot broker with
/// exponential service of mean 400 µs (μ = 2500/s, ρ = 0.8) and 4 waiting
/// places (K = 5 in the system). The network is instant and the agent
/// takes an hour per request, so no reply (and no other message) reaches
/// the broker before the run ends: the broker sees exactly the Poisson
/// request stream, and by PASTA the fraction of requests dropped is the
/// M/M/1/K blocking probability.
const MM1K: &str = r#"name = "mm1k"
duration = "25s"
drain = "1ms"

[[fleet.tiers]]
name = "slow"
count = 1
concurrency = 1
service_time = { dist = "constant", value = "1h" }

[workload]
arrivals = { process = "poisson", rate = 2000.0 }

[bus.broker]
service_time = { dist = "exponential", mean = "400us" }
capacity = 4
"#;

#[test]
fn a_one_slot_broker_drops_the_mm1k_blocking_fraction() {
    let sc = load_text(MM1K, &[]);
    let (rho, k) = (0.8_f64, 5);
    // P_K = (1 − ρ) ρ^K / (1 − ρ^(K+1)) (Kleinrock, Queueing Systems I,
    // eq. 3.45): 0.0888 here.
    let p_k = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    // Ten independent replications (about 50,000 requests each): the
    // per-run fractions are independent, so their standard error is an
    // honest one although drops within a run come in bursts. The run
    // starts empty; the queue forgets that within milliseconds, a bias
    // below 1e-5 of the fraction over 25 s.
    let n = 10;
    let fractions: Vec<f64> = (0..n)
        .map(|rep| {
            let r = harness::run_one(&sc, "v", rep).result;
            let req = r.bus.kind(Kind::Request);
            assert_eq!(r.bus.kind(Kind::Reply).sent, 0, "no reply before the end");
            assert_eq!(req.lost_partition + req.lost_dropped, 0);
            req.lost_overflow as f64 / req.sent as f64
        })
        .collect();
    let mean = fractions.iter().sum::<f64>() / n as f64;
    let var = fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let se = (var / n as f64).sqrt();
    // Four standard errors: a false alarm about once in 16,000 runs (t with
    // 9 degrees of freedom: somewhat more, still rare).
    eprintln!("M/M/1/K blocking: measured {mean:.5} ± {se:.5} (se), theory {p_k:.5}");
    assert!(se < 0.003, "the test must be able to fail: se {se}");
    assert!(
        (mean - p_k).abs() < 4.0 * se,
        "blocking {mean:.5} vs M/M/1/K {p_k:.5} (se {se:.5}, runs {fractions:?})"
    );
}

/// Requests every 10 ms from 10 ms on, answered in 1 ms, through a broker
/// that takes no time; the broker is down from 10.005 s to 12.005 s.
const OUTAGE: &str = r#"name = "outage"
duration = "20s"
drain = "2s"

[[fleet.tiers]]
name = "a"
count = 4
service_time = { dist = "constant", value = "1ms" }

[workload]
arrivals = { process = "constant", rate = 100.0 }

[request]
timeout = "500ms"

[registry]
ttl = "10s"
heartbeat = "1s"

[bus.broker]
service_time = { dist = "constant", value = "0s" }

[[faults]]
at = "10.005s"
kind = "broker_down"
for = "2s"
"#;

#[test]
fn an_outage_loses_exactly_what_is_sent_during_it() {
    let r = run_text(OUTAGE, &[]);
    let req = r.bus.kind(Kind::Request);
    // Requests at 10.01 … 12.00 s: 200, each refused at once.
    assert_eq!(req.lost_broker, 200);
    assert_eq!(r.failed_by[Cause::Broker as usize], 200);
    assert_eq!(r.failed, 200, "nothing else fails");
    assert_eq!(r.completed, r.submitted - 200);
    // No reply is due in the outage (each leaves 1 ms after its request);
    // nothing was in the broker when it went down.
    let reply = r.bus.kind(Kind::Reply);
    assert_eq!((reply.lost_broker, reply.lost_crash), (0, 0));
    assert_eq!(req.lost_crash, 0);
    // Heartbeats every second from each of the 4 agents: 2 each fall in
    // the 2 s outage. Leases (10 s) do not run out.
    assert_eq!(r.bus.kind(Kind::Heartbeat).lost_broker, 8);
    assert_eq!(r.failed_by[Cause::NoAgent as usize], 0);
    // Every other message is delivered.
    let all = r.bus.total();
    assert_eq!(all.sent, all.delivered + 208);
}

#[test]
fn retries_apply_to_a_broker_failure() {
    // One retry after 3 s: a request refused in the outage is tried again
    // once the broker is back, and succeeds.
    let r = run_text(
        &format!(
            "{OUTAGE}\n[retry]\nstrategy = \"constant\"\nmax_attempts = 2\nbase = \"3s\"\njitter = \"none\"\nbudget = {{ ratio = 1.0, min_per_s = 1000, window = \"10s\" }}\n"
        ),
        &[],
    );
    assert_eq!(r.bus.kind(Kind::Request).lost_broker, 200);
    assert_eq!(r.retries, 200);
    assert_eq!(r.failed, 0);
    assert_eq!(r.completed, r.submitted);
}

#[test]
fn queued_messages_are_lost_when_the_broker_goes_down() {
    // A 30 ms broker under 100 requests/s: a queue builds, and what it
    // holds when it goes down never arrives (and is no refusal).
    let r = run_text(
        OUTAGE,
        &["bus.broker.service_time.value=\"6ms\"", "duration=\"11s\""],
    );
    let req = r.bus.kind(Kind::Request);
    let reply = r.bus.kind(Kind::Reply);
    assert!(
        req.lost_crash + reply.lost_crash >= 1,
        "something was in the broker: {req:?} {reply:?}"
    );
    assert_eq!(r.failed_by[Cause::Broker as usize], req.lost_broker);
}

/// A retained topic published every second, to 4 subscribers; the broker
/// is down from 10.25 s to 12.25 s.
const RETAINED: &str = r#"name = "retained"
duration = "20s"
drain = "1s"

[[fleet.tiers]]
name = "a"
count = 4
service_time = { dist = "constant", value = "1ms" }

[workload]
arrivals = { process = "constant", rate = 1.0 }

[request]
timeout = "500ms"

[registry]
ttl = "10s"
heartbeat = "1s"

[bus.broker]
service_time = { dist = "constant", value = "0s" }
persistence = false

[[bus.topics]]
name = "config.pricing"
every = "1s"
start = "500ms"
retain = 3

[[bus.subscriptions]]
pattern = "config.>"

[[faults]]
at = "10.25s"
kind = "broker_down"
for = "2s"
"#;

#[test]
fn only_a_persistent_broker_replays_what_it_retained() {
    let off = run_text(RETAINED, &[]);
    let on = run_text(RETAINED, &["bus.broker.persistence=true"]);
    for r in [&off, &on] {
        // Publications at 10.5 and 11.5 s are refused: one message each.
        assert_eq!(r.bus.kind(Kind::Publish).lost_broker, 2);
    }
    // Back at 12.25 s, the 4 agents subscribe again: a persistent broker
    // replays the last 3 retained (7.5, 8.5 and 9.5 s) to each.
    assert_eq!(on.bus.replayed, 12);
    assert_eq!(off.bus.replayed, 0, "forgotten with the restart");
    // Copies: the last task (arriving at 19 s) ends at 19.001 s, and the
    // run with it: 19 publications (0.5 … 18.5 s) less the 2 refused, to
    // 4 agents, plus the replays.
    let copies = |r: &fleetsim::metrics::RunResult| {
        let p = r.bus.kind(Kind::Publish);
        p.sent - p.lost_broker
    };
    assert_eq!(copies(&off), 17 * 4);
    assert_eq!(copies(&on), 17 * 4 + 12);
}

fn problems(text: &str) -> Vec<String> {
    match scenario::load_str("t.toml", "t", text, &[] as &[Override]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ScenarioError::Invalid(p)) => p
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect(),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn bad_broker_settings_are_refused() {
    let bad = |extra: &str, path: &str, fragment: &str| {
        let ps = problems(&format!("{OUTAGE}{extra}").replace(
            "[bus.broker]\nservice_time = { dist = \"constant\", value = \"0s\" }\n",
            "",
        ));
        assert!(
            ps.iter()
                .any(|p| p.starts_with(path) && p.contains(fragment)),
            "{path} / {fragment}: {ps:#?}"
        );
    };
    bad(
        "[bus.broker]\ncapacity = 3\n",
        "bus.broker.service_time",
        "missing",
    );
    bad(
        "[bus.broker]\nservice_time = { dist = \"constant\", value = \"1ms\" }\nconcurrency = 0\n",
        "bus.broker.concurrency",
        "from 1 to 10000",
    );
    bad(
        "[bus.broker]\nservice_time = { dist = \"constant\", value = \"1ms\" }\ncapacity = 1000000000\n",
        "bus.broker.capacity",
        "at most",
    );
    bad(
        "[bus.broker]\nservice_time = { dist = \"constant\", value = \"1ms\" }\nslots = 2\n",
        "",
        "slots",
    );
    bad(
        "[[faults]]\nat = \"1s\"\nkind = \"broker_down\"\ntarget = { agents = [\"agent-0\"] }\n",
        "faults[1].target",
        "one server",
    );
}
