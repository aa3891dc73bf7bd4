//! Control-plane publish/subscribe through the world: who receives what
//! (patterns, header filters, broadcast, direct), and retention replaying
//! what an agent missed while it was down.

use fleetsim::bus::Kind;

use super::support::run_text;

const SCENARIO: &str = r#"name = "pubsub"
duration = "30s"
drain = "1s"

[[fleet.tiers]]
name = "eu"
count = 4
service_time = { dist = "constant", value = "1ms" }

[[fleet.tiers]]
name = "us"
count = 6
service_time = { dist = "constant", value = "1ms" }

[workload]
arrivals = { process = "constant", rate = 1.0 }

[[bus.topics]]
name = "config.pricing"
every = "1s"
start = "500ms"
retain = 3
headers = { region = "eu" }

[[bus.topics]]
name = "config.flags"
every = "2s"
start = "500ms"
retain = 2
headers = { region = "us" }

[[bus.topics]]
name = "announce"
every = "5s"
to = "all"

[[bus.topics]]
name = "ping.one"
every = "10s"
to = "agent-3"

[[bus.subscriptions]]
pattern = "config.*"
filter = "region=eu"
agents = { tier = "eu" }

[[bus.subscriptions]]
pattern = "config.>"
agents = { tier = "us" }

[[faults]]
at = "10.25s"
kind = "crash"
target = { agents = ["agent-0"] }
for = "10s"
"#;

#[test]
fn publications_reach_their_subscribers_and_a_returning_agent_catches_up() {
    let r = run_text(SCENARIO, &[]);
    // The last task (arriving at 29 s) ends at 29.001 s, and the run with
    // it: publications up to then count.
    // config.pricing (region=eu), at 0.5 … 28.5 s: 29 messages, to the 4 eu
    // agents (config.*, region=eu) and the 6 us agents (config.>), less the
    // 10 that agent-0 missed while down (10.5 … 19.5 s).
    let pricing = 29 * 10 - 10;
    // Back at 20.25 s, agent-0 subscribes again and is sent the last 3
    // retained pricing messages (config.flags is retained too, but its
    // region=us header fails agent-0's filter).
    let replayed = 3;
    // config.flags (region=us), at 0.5 … 28.5 s every 2 s: 15, to the 6 us
    // agents only.
    let flags = 15 * 6;
    // announce, broadcast at 0, 5, …, 25 s to every agent that is up
    // (agent-0 is down at 15 and 20 s).
    let announce = 6 * 10 - 2;
    // ping.one, direct to agent-3 at 0, 10, 20 s.
    let ping = 3;
    let publish = r.bus.kind(Kind::Publish);
    assert_eq!(
        publish.sent,
        pricing + replayed + flags + announce + ping,
        "{publish:?}"
    );
    assert_eq!(publish.delivered, publish.sent);
    assert_eq!(r.bus.replayed, replayed);
    assert!(r.conserved());
}

#[test]
fn without_retention_nothing_is_replayed_and_loss_takes_its_share() {
    let r = run_text(
        SCENARIO,
        &[
            "bus.topics[0].retain=0",
            "bus.topics[1].retain=0",
            "network.loss=0.2",
            "request.timeout=\"1s\"",
        ],
    );
    assert_eq!(r.bus.replayed, 0);
    let p = r.bus.kind(Kind::Publish);
    // The run's end moves with the lost requests' timeouts, so the number
    // of publications does too: about 431 copies.
    assert!((420..=450).contains(&p.sent), "{p:?}");
    assert_eq!(p.delivered + p.lost_dropped, p.sent);
    // Each copy is lost with p = 0.2: sd = sqrt(n · 0.16) ≈ 8.3; 4 sd.
    let n = p.sent as f64;
    let lost = p.lost_dropped as f64;
    assert!(
        (lost - 0.2 * n).abs() < 4.0 * (n * 0.16).sqrt(),
        "{lost} of {n} lost"
    );
}
