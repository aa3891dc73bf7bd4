//! Every validation error path: each bad scenario gives an error that names
//! the file, the line:column and the key path, and says what is allowed.

use fleetsim::scenario::{self, Override, Problem, ScenarioError};

use crate::support::BASE;

fn problems(text: &str, sets: &[&str]) -> Vec<Problem> {
    let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
    match scenario::load_str("t.toml", "t", text, &overrides) {
        Ok(_) => panic!("expected an error for:\n{text}\n{sets:?}"),
        Err(ScenarioError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

/// The single problem of `text`, checked for its path, a message fragment
/// and (when given) its location.
fn expect(text: &str, path: &str, fragment: &str, location: Option<&str>) {
    let ps = problems(text, &[]);
    let p = ps
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at `{path}`; got {ps:#?}"));
    assert!(
        p.message.contains(fragment),
        "`{path}`: {:?} lacks {fragment:?}",
        p.message
    );
    assert_eq!(p.file, "t.toml");
    if let Some(loc) = location {
        assert_eq!(p.location, loc, "{p}");
    }
    // Every location is a real line:column.
    for p in &ps {
        let (l, c) = p.location.split_once(':').expect("line:column");
        assert!(
            l.parse::<usize>().unwrap() >= 1 && c.parse::<usize>().unwrap() >= 1,
            "{p}"
        );
    }
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn the_base_scenario_is_valid() {
    scenario::load_str("t.toml", "t", BASE, &[]).unwrap();
}

#[test]
fn syntax_errors_have_a_location() {
    let ps = problems("a = [1,\n b = 2\n", &[]);
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].location, "2:4");
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_the_choices() {
    expect(
        &with("colour = 1\n"),
        "workload.colour",
        "expected one of `arrivals`",
        Some("12:1"),
    );
    expect(
        &BASE.replace("count = 2", "count = 2\nspeed = 3"),
        "fleet.tiers[0].speed",
        "unknown field",
        Some("7:1"),
    );
    expect(
        &with("[dispatch]\nworker = 3\n"),
        "dispatch.worker",
        "`workers`",
        None,
    );
}

#[test]
fn wrong_types_are_errors() {
    expect(
        &BASE.replace("count = 2", "count = \"two\""),
        "fleet.tiers[0].count",
        "whole number",
        Some("6:9"),
    );
    expect(
        &BASE.replace("count = 2", "count = -2"),
        "fleet.tiers[0].count",
        "whole number",
        None,
    );
    expect(
        &BASE.replace("rate = 10.0", "rate = \"fast\""),
        "workload.arrivals.rate",
        "a number",
        None,
    );
}

#[test]
fn rates_must_be_positive() {
    expect(
        &BASE.replace("rate = 10.0", "rate = -1.0"),
        "workload.arrivals.rate",
        "greater than 0",
        Some("11:42"),
    );
    expect(
        &BASE.replace("rate = 10.0", "rate = 0"),
        "workload.arrivals.rate",
        "greater than 0",
        None,
    );
    expect(
        &BASE.replace("rate = 10.0", "rate = nan"),
        "workload.arrivals.rate",
        "greater than 0",
        None,
    );
    expect(
        &BASE.replace(", rate = 10.0", ""),
        "workload.arrivals.rate",
        "missing",
        None,
    );
}

#[test]
fn the_fleet_cannot_be_empty() {
    let no_fleet =
        "duration = \"1s\"\n[workload]\narrivals = { process = \"poisson\", rate = 1.0 }\n";
    expect(no_fleet, "fleet.tiers", "the fleet is empty", None);
    expect(
        &BASE.replace("count = 2", "count = 0"),
        "fleet.tiers",
        "at least one agent",
        None,
    );
}

#[test]
fn distributions_are_checked() {
    let st = |d: &str| BASE.replace("{ dist = \"constant\", value = \"5ms\" }", d);
    expect(
        &st("{ dist = \"uniform\", min = \"9ms\", max = \"3ms\" }"),
        "fleet.tiers[0].service_time.min",
        "greater than max",
        Some("7:42"),
    );
    expect(
        &st("{ dist = \"uniform\", min = \"9ms\" }"),
        "fleet.tiers[0].service_time.max",
        "missing",
        None,
    );
    expect(
        &st("{ dist = \"exponential\", mean = \"0s\" }"),
        "fleet.tiers[0].service_time.mean",
        "greater than 0",
        None,
    );
    expect(
        &st("{ dist = \"lognormal\", median = \"9ms\", p99 = \"9ms\" }"),
        "fleet.tiers[0].service_time.p99",
        "greater than median",
        None,
    );
    expect(
        &st("{ dist = \"zipf\", mean = \"9ms\" }"),
        "fleet.tiers[0].service_time.dist",
        "one of constant, uniform",
        None,
    );
    expect(
        &st("{ value = \"9ms\" }"),
        "fleet.tiers[0].service_time.dist",
        "missing",
        None,
    );
    expect(
        &st("{ dist = \"constant\", value = \"5ms\", mean = \"1ms\" }"),
        "fleet.tiers[0].service_time.mean",
        "does not apply",
        None,
    );
    expect(
        &st("{ dist = \"empirical\", file = \"x.csv\" }"),
        "fleet.tiers[0].service_time.column",
        "missing",
        None,
    );
    expect(
        &BASE.replace(
            "service_time = { dist = \"constant\", value = \"5ms\" }\n",
            "",
        ),
        "fleet.tiers[0].service_time",
        "missing",
        None,
    );
}

#[test]
fn work_dependent_service_times_are_checked() {
    let st = |d: &str| BASE.replace("{ dist = \"constant\", value = \"5ms\" }", d);
    let ok = scenario::load_str(
        "t.toml",
        "t",
        &st(
            "{ dist = \"per_work\", base = \"2ms\", per_unit = \"10ns\", otherwise = { dist = \"uniform\", min = \"1ms\", max = \"3ms\" } }",
        ),
        &[],
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
    expect(
        &st("{ dist = \"per_work\", base = \"2ms\" }"),
        "fleet.tiers[0].service_time.per_unit",
        "missing; dist = \"per_work\" takes base and per_unit",
        None,
    );
    expect(
        &st("{ dist = \"per_work\", base = \"2ms\", per_unit = \"1ns\", mean = \"1ms\" }"),
        "fleet.tiers[0].service_time.mean",
        "takes: base, per_unit, otherwise",
        None,
    );
    expect(
        &st(
            "{ dist = \"per_work\", base = \"2ms\", per_unit = \"1ns\", otherwise = { dist = \"per_work\" } }",
        ),
        "fleet.tiers[0].service_time.otherwise.dist",
        "ordinary distribution",
        None,
    );
    expect(
        &st(
            "{ dist = \"per_work\", base = \"2ms\", per_unit = \"1ns\", otherwise = { dist = \"uniform\", min = \"1ms\" } }",
        ),
        "fleet.tiers[0].service_time.otherwise.max",
        "missing",
        None,
    );
    expect(
        &st("{ dist = \"constant\", value = \"5ms\", base = \"1ms\" }"),
        "fleet.tiers[0].service_time.base",
        "does not apply",
        None,
    );
    expect(
        &with("[network]\nlatency = { dist = \"per_work\", base = \"1ms\", per_unit = \"1ns\" }\n"),
        "network.latency.dist",
        "only to a tier's service_time",
        None,
    );
}

#[test]
fn bus_topics_and_subscriptions_are_checked() {
    let topic = |t: &str| with(&format!("[[bus.topics]]\n{t}\n"));
    expect(
        &topic("every = \"1s\""),
        "bus.topics[0].name",
        "missing",
        None,
    );
    expect(
        &topic("name = \"config.*\"\nevery = \"1s\""),
        "bus.topics[0].name",
        "is a pattern, not a topic",
        None,
    );
    expect(
        &topic("name = \"a\""),
        "bus.topics[0].every",
        "missing",
        None,
    );
    expect(
        &topic("name = \"a\"\nevery = \"1s\"\nto = \"agent-9\""),
        "bus.topics[0].to",
        "agent-0 to agent-1",
        None,
    );
    expect(
        &topic("name = \"a\"\nevery = \"1s\"\nto = \"all\"\nretain = 2"),
        "bus.topics[0].retain",
        "only to to = \"subscribers\"",
        None,
    );
    let sub = |t: &str| with(&format!("[[bus.subscriptions]]\n{t}\n"));
    expect(
        &sub("pattern = \"a.>.b\""),
        "bus.subscriptions[0].pattern",
        "last",
        None,
    );
    expect(
        &sub("pattern = \"a.*\"\nfilter = \"=x\""),
        "bus.subscriptions[0].filter",
        "key",
        None,
    );
    expect(
        &sub("pattern = \"a.*\"\nagents = { tier = \"nope\" }"),
        "bus.subscriptions[0].agents.tier",
        "no tier named `nope`",
        None,
    );
}

#[test]
fn durations_are_checked() {
    expect(
        &BASE.replace("\"10s\"", "\"10\""),
        "duration",
        "has no unit",
        Some("2:12"),
    );
    expect(
        &BASE.replace("\"10s\"", "\"ten seconds\""),
        "duration",
        "not a number",
        None,
    );
    expect(
        &BASE.replace("\"10s\"", "\"0s\""),
        "duration",
        "greater than 0",
        None,
    );
    expect(
        &BASE.replace("\"5ms\"", "\"-5ms\""),
        "fleet.tiers[0].service_time.value",
        "negative",
        None,
    );
    expect(
        &with("").replace("duration = \"10s\"", "duration = \"10s\"\nwarmup = \"10s\""),
        "warmup",
        "shorter than duration",
        None,
    );
}

#[test]
fn tiers_are_checked() {
    expect(
        &BASE.replace("count = 2", "count = 2\nweight = 0"),
        "fleet.tiers[0].weight",
        "greater than 0",
        None,
    );
    // Above a million, the weighted balancers' exact sums would overflow
    // (a weight of 1e300 once routed every task of a weighted_random run
    // to one agent).
    expect(
        &BASE.replace("count = 2", "count = 2\nweight = 1e300"),
        "fleet.tiers[0].weight",
        "is 1e300; a weight must be at most 1000000",
        None,
    );
    let top = BASE.replace("count = 2", "count = 2\nweight = 1000000.0");
    assert!(scenario::load_str("t.toml", "t", &top, &[]).is_ok());
    expect(
        &BASE.replace("count = 2", "count = 2\nconcurrency = 0"),
        "fleet.tiers[0].concurrency",
        "at least 1",
        None,
    );
    expect(
        &BASE.replace("count = 2", "count = 2\nerror_rate = 1.5"),
        "fleet.tiers[0].error_rate",
        "from 0 to 1",
        None,
    );
    expect(
        &BASE.replace("name = \"a\"", "name = \"a b\""),
        "fleet.tiers[0].name",
        "not a usable tier name",
        None,
    );
    let twice = BASE.replace("[workload]", "[[fleet.tiers]]\nname = \"a\"\nservice_time = { dist = \"constant\", value = \"1ms\" }\n\n[workload]");
    expect(&twice, "fleet.tiers[1].name", "used twice", None);
    expect(
        &BASE.replace("[\"compute\"]", "[\"\"]"),
        "fleet.tiers[0].capabilities[0]",
        "is empty",
        None,
    );
}

#[test]
fn the_workload_is_checked() {
    expect(
        &with("capability = \"gpu\"\n"),
        "workload.capability",
        "capabilities in the fleet: compute",
        None,
    );
    expect(
        &with("priorities = { normal = 0.0 }\n"),
        "workload.priorities",
        "add up to 0",
        None,
    );
    expect(
        &with("priorities = { high = -1.0 }\n"),
        "workload.priorities.high",
        "0 or more",
        None,
    );
    expect(
        &BASE.replace("\"poisson\"", "\"steady\""),
        "workload.arrivals.process",
        "one of poisson, constant, bursts",
        None,
    );
    let trace = |t: &str| BASE.replace("{ process = \"poisson\", rate = 10.0 }", t);
    expect(
        &trace("{ process = \"trace\", rate = 10.0 }"),
        "workload.arrivals.rate",
        "does not apply to process = \"trace\", which takes: file, time_column",
        None,
    );
    expect(
        &trace("{ process = \"trace\", time_column = \"t\" }"),
        "workload.arrivals.file",
        "missing; the CSV request log",
        None,
    );
    expect(
        &trace("{ process = \"trace\", file = \"x.csv\" }"),
        "workload.arrivals.time_column",
        "missing",
        None,
    );
    expect(
        &trace("{ process = \"trace\", file = \"x.csv\", time_column = \"t\", speedup = 0.0 }"),
        "workload.arrivals.speedup",
        "greater than 0",
        None,
    );
    expect(
        &trace("{ process = \"trace\", file = \"x.csv\", time_column = \"t\", start = \"soon\" }"),
        "workload.arrivals.start",
        "neither a duration",
        None,
    );
    // Paths resolve against the scenario file's directory; "t.toml" has
    // none, so this one is relative to the crate root, where tests run.
    expect(
        &trace(
            "{ process = \"trace\", file = \"scenarios/traces/api_gateway.csv\", time_column = \"timestamp\", capability_column = \"path\" }",
        ),
        "workload.arrivals.capability_column",
        "no agent has capability `/api/orders`",
        None,
    );
    expect(
        &trace("{ process = \"trace\", file = \"no/such/trace.csv\", time_column = \"t\" }"),
        "workload.arrivals.file",
        "no/such/trace.csv",
        None,
    );
    expect(
        &BASE.replace("process = \"poisson\", ", ""),
        "workload.arrivals.process",
        "missing",
        None,
    );
    let bursts = |b: &str| BASE.replace("{ process = \"poisson\", rate = 10.0 }", b);
    expect(
        &bursts("{ process = \"bursts\", count = 3, size = 10 }"),
        "workload.arrivals.every",
        "missing",
        None,
    );
    expect(
        &bursts("{ process = \"bursts\", count = 3, size = 10, every = \"5s\" }"),
        "workload.arrivals",
        "not before duration",
        None,
    );
    // Overlapping bursts would hand out arrivals out of time order (found
    // by `fleetsim swarm`: the run panicked scheduling one in the past).
    expect(
        &bursts("{ process = \"bursts\", count = 2, size = 10, every = \"1s\", spread = \"2s\" }"),
        "workload.arrivals.spread",
        "the bursts would overlap",
        None,
    );
    expect(
        &bursts("{ process = \"bursts\", count = 1, size = 0 }"),
        "workload.arrivals.size",
        "at least 1",
        None,
    );
    expect(
        &bursts("{ process = \"bursts\", size = 5, rate = 2.0 }"),
        "workload.arrivals.rate",
        "does not apply",
        None,
    );
    let no_arrivals = BASE.replace("arrivals = { process = \"poisson\", rate = 10.0 }\n", "");
    expect(&no_arrivals, "workload.arrivals", "missing", None);
}

#[test]
fn dispatch_balancer_network_and_report_are_checked() {
    expect(
        &with("[dispatch]\nqueue_capacity = 5\n"),
        "dispatch.queue_capacity",
        "no effect with workers = 0",
        None,
    );
    expect(
        &with("[balancer]\nstrategy = \"fastest\"\n"),
        "balancer.strategy",
        "one of round_robin, least_connections",
        Some("13:12"),
    );
    expect(
        &with("[network]\nlatency = { dist = \"uniform\", min = \"2ms\", max = \"1ms\" }\n"),
        "network.latency.min",
        "greater than max",
        None,
    );
    expect(
        &with("[network]\nloss = 0.1\n"),
        "network.loss",
        "needs a [request] timeout",
        None,
    );
    expect(
        &with("[network]\nloss = 1.0\n[request]\ntimeout = \"1s\"\n"),
        "network.loss",
        "below 1",
        None,
    );
    expect(
        &with("[report]\nbucket = \"0s\"\n"),
        "report.bucket",
        "greater than 0",
        None,
    );
    expect(
        &with("[retry]\nmax_attempts = 0\n"),
        "retry.max_attempts",
        "at least 1",
        None,
    );
    expect(
        &with("[retry]\njitter = \"some\"\n"),
        "retry.jitter",
        "none, full, equal, decorrelated",
        None,
    );
    expect(
        &with("[retry]\nbudget = { window = \"1us\" }\n"),
        "retry.budget.window",
        "at least 1ms",
        None,
    );
    expect(
        &with(
            "[[workload.jobs]]\nname = \"j\"\narrivals = { process = \"constant\", rate = 1.0 }\n[[workload.jobs.stages]]\nname = \"s\"\ncompensate = \"compute\"\n",
        ),
        "workload.jobs[0].stages[0].compensate",
        "only to saga jobs",
        None,
    );
    expect(
        &with(
            "[[workload.jobs]]\nname = \"j\"\narrivals = { process = \"constant\", rate = 1.0 }\n[[workload.jobs.stages]]\nname = \"s\"\ncapability = \"gpu\"\n",
        ),
        "workload.jobs[0].stages[0].capability",
        "no agent has capability `gpu`",
        None,
    );
    expect(
        &with(
            "[[workload.jobs]]\nname = \"j\"\narrivals = { process = \"constant\", rate = 1.0 }\n[[workload.jobs.stages]]\nname = \"s\"\nafter = [\"t\"]\n",
        ),
        "workload.jobs[0].stages[0].after",
        "not a stage of this job",
        None,
    );
    expect(
        &with("[retry]\nstrategy = \"linear\"\nmultiplier = 3.0\n"),
        "retry.multiplier",
        "only to strategy = \"exponential\"",
        None,
    );
    expect(
        &BASE.replace("name = \"base\"", "name = \"../up\""),
        "name",
        "not a usable name",
        None,
    );
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = BASE
        .replace("\"10s\"", "\"10\"")
        .replace("count = 2", "count = 2\nconcurrency = 0")
        .replace("rate = 10.0", "rate = -1.0");
    let ps = problems(&text, &[]);
    let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "duration",
            "fleet.tiers[0].concurrency",
            "workload.arrivals.rate"
        ]
    );
}

#[test]
fn override_errors_point_at_the_argument() {
    let ps = problems(BASE, &["workload.arrivals.rate=-4"]);
    assert_eq!(ps[0].location, "--set workload.arrivals.rate=-4");
    assert_eq!(ps[0].path, "workload.arrivals.rate");
    assert!(
        ps[0]
            .to_string()
            .starts_with("t.toml (--set workload.arrivals.rate=-4): workload.arrivals.rate: is -4"),
        "{}",
        ps[0]
    );
    let ps = problems(BASE, &["fleet.tiers[4].count=1"]);
    assert!(ps[0].message.contains("index 4 is out of range"), "{ps:?}");
    let ps = problems(BASE, &["duration.x=1"]);
    assert!(ps[0].message.contains("not a table"), "{ps:?}");
    let ps = problems(BASE, &["dispatch.workerz=3"]);
    assert_eq!(ps[0].path, "dispatch.workerz");
    assert!(ps[0].location.starts_with("--set"), "{ps:?}");
}

#[test]
fn overrides_apply_to_nested_keys_and_create_tables() {
    let sc = scenario::load_str(
        "t.toml",
        "t",
        BASE,
        &[
            "fleet.tiers[0].count=7".parse().unwrap(),
            "fleet.tiers.0.weight=2.5".parse().unwrap(),
            "balancer.strategy=p2c".parse().unwrap(),
            "dispatch.workers=3".parse().unwrap(),
            "workload.arrivals={process=\"constant\",rate=4}"
                .parse()
                .unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(sc.tiers[0].count, 7);
    assert_eq!(sc.tiers[0].weight, 2.5);
    assert_eq!(sc.balancer.strategy.as_str(), "p2c");
    assert_eq!(sc.dispatch.workers, 3);
    assert_eq!(
        sc.workload.arrivals,
        Some(fleetsim::workload::Arrivals::Constant { rate: 4.0 })
    );
    assert!("no-equals-sign".parse::<Override>().is_err());
    assert!("a..b=1".parse::<Override>().is_err());
}

#[test]
fn defaults_make_a_small_file_useful() {
    let tiny = "[[fleet.tiers]]\nservice_time = { dist = \"constant\", value = \"1ms\" }\n[workload]\narrivals = { process = \"poisson\", rate = 5.0 }\n";
    let sc = scenario::load_str("tiny.toml", "tiny", tiny, &[]).unwrap();
    assert_eq!(sc.name, "tiny");
    assert_eq!(sc.agent_count(), 1);
    assert_eq!(sc.duration, fleetsim::time::Duration::from_secs(60));
    let r = fleetsim::world::run(&sc, sc.seed);
    assert!(r.completed > 200);
}

#[test]
fn discovery_and_fault_keys_are_checked() {
    let tier = |extra: &str| {
        BASE.replace(
            "capabilities = [\"compute\"]\n",
            &format!("capabilities = [\"compute\"]\n{extra}"),
        )
    };
    expect(
        &tier("uptime = 1.5\n"),
        "fleet.tiers[0].uptime",
        "greater than 0 and at most 1",
        None,
    );
    expect(
        &tier("uptime = 0.9\nmttr = \"0s\"\n"),
        "fleet.tiers[0].mttr",
        "greater than 0",
        None,
    );
    expect(
        &with("[health]\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
        "health.timeout",
        "longer than the probe interval",
        None,
    );
    expect(
        &with("[health]\nema_alpha = 0.0\n"),
        "health.ema_alpha",
        "greater than 0",
        None,
    );
    expect(
        &with("[health]\nunhealthy_after = 0\n"),
        "health.unhealthy_after",
        "at least 1",
        None,
    );
    expect(
        &with("[breaker]\nfailure_threshold = 0\n"),
        "breaker.failure_threshold",
        "at least 1",
        None,
    );
    expect(
        &with("[breaker]\nbackoff = 0.5\n"),
        "breaker.backoff",
        "1 (none) or more",
        None,
    );
    expect(
        &with("[breaker]\nopen_for = \"10s\"\nmax_open_for = \"5s\"\n"),
        "breaker.max_open_for",
        "shorter than open_for",
        None,
    );
    expect(
        &with("[breaker]\nwindow = { size = 10, min_calls = 20, rate = 0.5 }\n"),
        "breaker.window.min_calls",
        "more than the window size",
        None,
    );
    expect(
        &with("[breaker]\nwindow = { size = 10 }\n"),
        "breaker.window.rate",
        "missing",
        None,
    );
    expect(
        &with("[request]\ntimeout = \"0s\"\n"),
        "request.timeout",
        "greater than 0",
        None,
    );
    expect(
        &with("[registry]\nttl = \"1s\"\nheartbeat = \"2s\"\n"),
        "registry.heartbeat",
        "not shorter than the lease ttl",
        None,
    );
    expect(
        &with("[balancer]\ndegraded = \"never\"\n"),
        "balancer.degraded",
        "one of fallback, equal",
        None,
    );
    expect(
        &with("[balancer]\npanic_threshold = 2.0\n"),
        "balancer.panic_threshold",
        "from 0 to 1",
        None,
    );
    expect(
        &with("[[balancer.changes]]\nat = \"5s\"\nstrategy = \"fastest\"\n"),
        "balancer.changes[0].strategy",
        "unknown strategy",
        None,
    );
    expect(
        &with("[[balancer.changes]]\nat = \"50s\"\nstrategy = \"p2c\"\n"),
        "balancer.changes[0].at",
        "never happen",
        None,
    );
    let fault = |body: &str| with(&format!("[[faults]]\n{body}"));
    expect(
        &fault("kind = \"crash\"\ntarget = { tier = \"a\" }\n"),
        "faults[0].at",
        "missing",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"explode\"\ntarget = { tier = \"a\" }\n"),
        "faults[0].kind",
        "one of crash, recover, slow, partition",
        Some("14:8"),
    );
    expect(
        &fault("at = \"1s\"\nkind = \"slow\"\ntarget = { tier = \"a\" }\n"),
        "faults[0].factor",
        "missing",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"crash\"\nfactor = 2.0\ntarget = { tier = \"a\" }\n"),
        "faults[0].factor",
        "only to kind = \"slow\"",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"crash\"\n"),
        "faults[0].target",
        "missing",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"crash\"\ntarget = { tier = \"b\" }\n"),
        "faults[0].target.tier",
        "no tier named `b`; tiers: a",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"crash\"\ntarget = { tier = \"a\", fraction = 0.1 }\n"),
        "faults[0].target.fraction",
        "rounds to none",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"crash\"\ntarget = { agents = [\"agent-7\"] }\n"),
        "faults[0].target.agents[0]",
        "agent-0 to agent-1",
        None,
    );
    expect(
        &fault(
            "at = \"1s\"\nkind = \"crash\"\ntarget = { agents = [\"agent-0\"], tier = \"a\" }\n",
        ),
        "faults[0].target",
        "either agents, or tier",
        None,
    );
    expect(
        &fault("at = \"1s\"\nkind = \"recover\"\nfor = \"2s\"\ntarget = { tier = \"a\" }\n"),
        "faults[0].for",
        "does not apply",
        None,
    );
    // A valid file with every discovery key loads.
    let ok = format!(
        "{}\n[balancer]\nstrategy = \"p2c\"\npanic_threshold = 0.5\n[[balancer.changes]]\nat = \"5s\"\nstrategy = \"least_connections\"\n[health]\ninterval = \"1s\"\n[breaker]\nfailure_threshold = 3\nwindow = {{ size = 10, rate = 0.5 }}\n[request]\ntimeout = \"1s\"\n[registry]\nttl = \"2s\"\nheartbeat = \"500ms\"\n[[faults]]\nat = \"2s\"\nkind = \"slow\"\nfactor = 3.0\ntarget = {{ tier = \"a\", fraction = 0.5 }}\nfor = \"1s\"\n",
        tier("uptime = 0.95\nmttr = \"2s\"\n")
    );
    let sc = scenario::load_str("t.toml", "t", &ok, &[]).expect("valid");
    assert_eq!(sc.faults.len(), 1);
    assert_eq!(sc.balancer.changes.len(), 1);
    assert!(sc.health.is_some() && sc.breaker.is_some());
    assert_eq!(sc.tiers[0].uptime, 0.95);
}

#[test]
fn ramps_and_daily_cycles_are_checked() {
    let arr = |a: &str| BASE.replace("{ process = \"poisson\", rate = 10.0 }", a);
    expect(
        &arr("{ process = \"ramp\", from = 1.0 }"),
        "workload.arrivals.to",
        "missing",
        None,
    );
    expect(
        &arr("{ process = \"ramp\", from = 0.0, to = 0.0 }"),
        "workload.arrivals",
        "nothing would arrive",
        None,
    );
    expect(
        &arr("{ process = \"ramp\", from = 1.0, to = 2.0, rate = 3.0 }"),
        "workload.arrivals.rate",
        "does not apply",
        None,
    );
    expect(
        &arr("{ process = \"diurnal\", mean = 10.0, amplitude = 20.0 }"),
        "workload.arrivals.amplitude",
        "from 0 to mean",
        None,
    );
    expect(
        &arr("{ process = \"diurnal\", mean = 10.0, period = \"0s\" }"),
        "workload.arrivals.period",
        "greater than 0",
        None,
    );
    expect(
        &with("[[workload.streams]]\nname = \"bg\"\n"),
        "workload.streams[0].arrivals",
        "missing",
        None,
    );
    expect(
        &with(
            "[[workload.streams]]\narrivals = { process = \"poisson\", rate = 1.0 }\ncapability = \"gpu\"\n",
        ),
        "workload.streams[0].capability",
        "no agent has capability `gpu`",
        None,
    );
    let ok = scenario::load_str(
        "t.toml",
        "t",
        &arr("{ process = \"diurnal\", mean = 10.0, amplitude = 5.0, phase = \"6h\" }"),
        &[],
    )
    .unwrap();
    assert!(matches!(
        ok.workload.arrivals,
        Some(fleetsim::workload::Arrivals::Diurnal { .. })
    ));
}
