//! Tag routing: a stream, a job stage or a call step that requires `tags`
//! only reaches agents having every one of them, through its own pool and
//! balancer. Checked on the canary split (from the real binary's
//! `agents.csv` and `calls.csv`), on calls and stages, and on the
//! validation errors.

use fleetsim::scenario::{self, Override, Problem, ScenarioError};

use crate::support::{fleetsim, run_text, text};

/// Eight stable agents (agent-0 … agent-7) and two canaries (agent-8,
/// agent-9) of one capability; 10 % of the traffic asks for the canary.
const CANARY: &str = r#"name = "canary"
duration = "60s"

[[fleet.tiers]]
name = "stable"
count = 8
service_time = { dist = "exponential", mean = "20ms" }
capabilities = ["api"]
tags = ["stable", "v1"]

[[fleet.tiers]]
name = "canary"
count = 2
service_time = { dist = "exponential", mean = "20ms" }
capabilities = ["api"]
tags = ["canary", "v2"]

[workload]
capability = "api"

[[workload.streams]]
name = "stable"
arrivals = { process = "poisson", rate = 90.0 }
tags = ["stable"]

[[workload.streams]]
name = "canary"
arrivals = { process = "poisson", rate = 10.0 }
tags = ["canary"]
"#;

/// A CSV as rows of (header → value).
fn rows(csv: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn a_canary_stream_reaches_only_canary_agents_and_the_rest_never_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("canary.toml"), CANARY).unwrap();
    let out = fleetsim(
        dir.path(),
        &["run", "canary.toml", "--out", "out", "--quiet"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |f: &str| std::fs::read_to_string(dir.path().join("out").join(f)).unwrap();
    let calls = rows(&read("calls.csv"));
    let by_cap = |cap: &str| -> u64 {
        calls
            .iter()
            .find(|r| r["capability"] == cap)
            .unwrap_or_else(|| panic!("no calls.csv row for {cap}"))["calls"]
            .parse()
            .unwrap()
    };
    let (stable_calls, canary_calls) = (by_cap("api[stable]"), by_cap("api[canary]"));
    // The workload's own (untagged) route is there, and unused.
    assert_eq!(by_cap("api"), 0);
    let agents = rows(&read("agents.csv"));
    let tasks = |tier: &str| -> Vec<u64> {
        agents
            .iter()
            .filter(|r| r["tier"] == tier)
            .map(|r| r["tasks"].parse().unwrap())
            .collect()
    };
    let (stable, canary) = (tasks("stable"), tasks("canary"));
    // Every canary task was served by a canary, every stable task by a
    // stable agent, and both pools were used (round robin within each).
    assert_eq!(canary.iter().sum::<u64>(), canary_calls);
    assert_eq!(stable.iter().sum::<u64>(), stable_calls);
    assert!(canary.iter().all(|&n| n > 200), "{canary:?}");
    assert!(stable.iter().all(|&n| n > 200), "{stable:?}");
    // About 10 % of 6,000 tasks: Poisson counts, 4 standard deviations.
    let sd = 600f64.sqrt();
    assert!(
        (canary_calls as f64 - 600.0).abs() < 4.0 * sd,
        "{canary_calls}"
    );
}

#[test]
fn an_untagged_stream_shares_the_whole_pool_with_the_canary_one() {
    // Without tags = ["stable"], the main stream's pool is every `api`
    // agent: canaries get its tasks too. That is why the pattern tags both.
    let text = CANARY.replacen("tags = [\"stable\"]\n", "", 1);
    let r = run_text(&text, &[]);
    let canary: u64 = r.agents[8..].iter().map(|a| a.tasks).sum();
    let canary_route = r
        .calls
        .iter()
        .find(|c| c.capability == "api[canary]")
        .unwrap();
    assert!(canary > canary_route.calls + 500, "{canary}");
}

#[test]
fn a_call_step_and_a_job_stage_with_tags_reach_only_tagged_agents() {
    let text = r#"name = "gpu"
duration = "20s"

[[fleet.tiers]]
name = "front"
count = 2
service_time = { dist = "constant", value = "1ms" }
capabilities = ["front"]
calls = [{ capability = "model", tags = ["gpu"] }]

[[fleet.tiers]]
name = "cpu"
count = 4
service_time = { dist = "constant", value = "5ms" }
capabilities = ["model"]
tags = ["cpu"]

[[fleet.tiers]]
name = "gpu"
count = 2
service_time = { dist = "constant", value = "2ms" }
capabilities = ["model"]
tags = ["fast", "gpu"]

[workload]
capability = "front"
arrivals = { process = "constant", rate = 20.0 }

[[workload.jobs]]
name = "batch"
arrivals = { process = "constant", rate = 5.0 }
[[workload.jobs.stages]]
name = "infer"
capability = "model"
tags = ["gpu", "fast", "gpu"]
tasks = 2
"#;
    let r = run_text(text, &[]);
    assert!(r.conserved());
    assert_eq!(r.failed, 0);
    // 400 calls from the front tier and 100 jobs × 2 stage tasks, all on
    // the two GPU agents; the CPU agents serve nothing.
    assert!(
        r.agents[2..6].iter().all(|a| a.tasks == 0),
        "{:?}",
        r.agents
    );
    assert_eq!(r.agents[6].tasks + r.agents[7].tasks, 400 + 200);
    let labels: Vec<&str> = r.calls.iter().map(|c| c.capability.as_str()).collect();
    // The step's tags and the stage's (sorted, distinct) are two routes.
    assert_eq!(labels, ["front", "model[fast+gpu]", "model[gpu]"]);
}

fn problems(text: &str) -> Vec<Problem> {
    let none: Vec<Override> = Vec::new();
    match scenario::load_str("t.toml", "t", text, &none) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ScenarioError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

fn expect(text: &str, path: &str, fragment: &str) {
    let ps = problems(text);
    assert!(
        ps.iter()
            .any(|p| p.path == path && p.message.contains(fragment)),
        "no `{path}` problem with {fragment:?}: {ps:#?}"
    );
}

#[test]
fn tags_no_agent_has_are_named() {
    // No `api` agent is both stable and canary.
    let both = CANARY.replacen(
        "tags = [\"canary\"]\n",
        "tags = [\"canary\", \"stable\"]\n",
        1,
    );
    expect(
        &both,
        "workload.streams[1].tags",
        "no agent has capability `api` and the tags [canary, stable]",
    );
    expect(
        &CANARY.replacen("tags = [\"canary\"]\n", "tags = [\"\"]\n", 1),
        "workload.streams[1].tags[0]",
        "is empty",
    );
    let step = CANARY.replacen(
        "tags = [\"stable\", \"v1\"]\n",
        "tags = [\"stable\", \"v1\"]\ncalls = [{ capability = \"api\", tags = [\"gpu\"] }]\n",
        1,
    );
    expect(&step, "fleet.tiers[0].calls[0].tags", "the tags [gpu]");
    let stage = format!(
        "{CANARY}\n[[workload.jobs]]\nname = \"j\"\narrivals = {{ process = \"constant\", rate = 1.0 }}\n[[workload.jobs.stages]]\nname = \"s\"\ncapability = \"api\"\ntags = [\"v3\"]\n"
    );
    expect(&stage, "workload.jobs[0].stages[0].tags", "the tags [v3]");
}
