//! The scenario generator of [`super`]: one seed → one random but valid
//! scenario, as TOML text, so that it goes through the real parser and
//! validator and a failing one can be printed and saved as it was run.
//!
//! Swarm testing (Groce, Zhang, Eide, Chen and Regehr, "Swarm Testing",
//! ISSTA 2012): each seed first decides which features it uses at all
//! (a coin per feature), then draws the details of those. A scenario
//! with every feature at once exercises each of them less sharply than
//! many scenarios that each combine a few; some bugs need a feature to be
//! absent (no retries, no breaker) to show.
//!
//! Scenarios are kept small (1–4 tiers of 1–4 agents, a few simulated
//! seconds, tens of tasks per second) so that a run takes milliseconds.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::rng::{Seed, Stream, below, unit};

/// What one seed drew: the scenario's text, the trace file it replays
/// (if any: its name beside the scenario and its bytes), and the
/// features it uses.
#[derive(Clone, Debug)]
pub struct Generated {
    pub toml: String,
    pub trace: Option<(String, String)>,
    pub features: BTreeSet<&'static str>,
}

/// The file name the trace scenario of `seed` refers to (beside it).
pub fn trace_file(seed: u64) -> String {
    format!("swarm-{seed}-trace.csv")
}

struct Gen {
    rng: Stream,
    /// The run's duration, in milliseconds.
    duration_ms: u64,
    features: BTreeSet<&'static str>,
    out: String,
}

impl Gen {
    fn coin(&mut self, p: f64) -> bool {
        unit(&mut self.rng) < p
    }

    /// A uniform integer in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + below(&mut self.rng, hi - lo + 1)
    }

    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        let x = lo + (hi - lo) * unit(&mut self.rng);
        (x * 1000.0).round() / 1000.0
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[below(&mut self.rng, xs.len() as u64) as usize]
    }

    /// A fraction of `count` agents that names at least one of them.
    fn fraction(&mut self, count: u64) -> f64 {
        let k = self.int(1, count);
        ((k as f64 / count as f64) * 1000.0).round() / 1000.0
    }

    /// Does this seed use `feature`? Records it when it does.
    fn uses(&mut self, feature: &'static str, p: f64) -> bool {
        let yes = self.coin(p);
        if yes {
            self.features.insert(feature);
        }
        yes
    }

    fn ms(&mut self, lo: u64, hi: u64) -> String {
        format!("\"{}ms\"", self.int(lo, hi))
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A distribution of durations around `scale_ms`, of any family.
    fn time_dist(&mut self, scale_ms: u64) -> String {
        let s = scale_ms.max(1);
        let family = self.pick(&[
            "constant",
            "uniform",
            "exponential",
            "lognormal",
            "gamma",
            "erlang",
            "weibull",
            "pareto",
            "hyperexponential",
            "empirical",
        ]);
        self.features.insert(match family {
            "constant" => "dist:constant",
            "uniform" => "dist:uniform",
            "exponential" => "dist:exponential",
            "lognormal" => "dist:lognormal",
            "gamma" => "dist:gamma",
            "erlang" => "dist:erlang",
            "weibull" => "dist:weibull",
            "pareto" => "dist:pareto",
            "hyperexponential" => "dist:hyperexponential",
            _ => "dist:empirical",
        });
        match family {
            "constant" => format!("{{ dist = \"constant\", value = \"{s}ms\" }}"),
            "uniform" => format!(
                "{{ dist = \"uniform\", min = \"{}ms\", max = \"{}ms\" }}",
                s / 2,
                s * 2
            ),
            "exponential" => format!("{{ dist = \"exponential\", mean = \"{s}ms\" }}"),
            "lognormal" => format!(
                "{{ dist = \"lognormal\", median = \"{s}ms\", p99 = \"{}ms\" }}",
                s * self.int(2, 5)
            ),
            "gamma" => format!(
                "{{ dist = \"gamma\", shape = {}, mean = \"{s}ms\" }}",
                self.float(0.5, 4.0)
            ),
            "erlang" => format!(
                "{{ dist = \"erlang\", k = {}, mean = \"{s}ms\" }}",
                self.int(1, 4)
            ),
            "weibull" => format!(
                "{{ dist = \"weibull\", shape = {}, scale = \"{s}ms\" }}",
                self.float(0.7, 3.0)
            ),
            "pareto" => {
                let alpha = self.float(1.5, 3.0);
                if self.coin(0.5) {
                    format!(
                        "{{ dist = \"pareto\", alpha = {alpha}, min = \"{}ms\", max = \"{}ms\" }}",
                        (s / 2).max(1),
                        s * 10
                    )
                } else {
                    format!(
                        "{{ dist = \"pareto\", alpha = {alpha}, min = \"{}ms\" }}",
                        (s / 2).max(1)
                    )
                }
            }
            "hyperexponential" => format!(
                "{{ dist = \"hyperexponential\", means = [\"{}ms\", \"{}ms\"], probs = [0.8, 0.2] }}",
                (s / 2).max(1),
                s * 3
            ),
            _ => format!(
                "{{ dist = \"empirical\", values = [\"{}ms\", \"{s}ms\", \"{}ms\"], weights = [1.0, 2.0, 1.0] }}",
                (s / 2).max(1),
                s * 2
            ),
        }
    }

    /// A distribution of work amounts (plain numbers).
    fn work_dist(&mut self) -> String {
        match self.int(0, 5) {
            0 => format!("{{ dist = \"constant\", value = {} }}", self.int(1, 20)),
            1 => format!(
                "{{ dist = \"uniform\", min = 1.0, max = {} }}",
                self.int(2, 30)
            ),
            2 => format!("{{ dist = \"exponential\", mean = {} }}", self.int(1, 20)),
            3 => "{ dist = \"lognormal\", median = 5.0, p99 = 40.0 }".to_string(),
            4 => "{ dist = \"pareto\", alpha = 2.0, min = 1.0, max = 50.0 }".to_string(),
            _ => "{ dist = \"empirical\", values = [1.0, 4.0, 16.0] }".to_string(),
        }
    }

    /// An arrival process at about `rate` per second; a replay of the
    /// trace file `trace` if given.
    fn arrivals(&mut self, rate: u64, trace: Option<&str>) -> String {
        let kind = if trace.is_some() {
            "trace"
        } else {
            self.pick(&["poisson", "constant", "bursts", "ramp", "diurnal"])
        };
        self.features.insert(match kind {
            "poisson" => "arrivals:poisson",
            "constant" => "arrivals:constant",
            "bursts" => "arrivals:bursts",
            "ramp" => "arrivals:ramp",
            "diurnal" => "arrivals:diurnal",
            _ => "arrivals:trace",
        });
        match kind {
            "poisson" => format!("{{ process = \"poisson\", rate = {rate}.0 }}"),
            "constant" => format!("{{ process = \"constant\", rate = {rate}.0 }}"),
            "bursts" => {
                // The last burst starts before the end of the run, and
                // bursts do not overlap.
                let count = self.int(1, 4);
                let start = self.int(0, 500);
                let room = (self.duration_ms - start - 1) / count;
                let every = self.int(room.min(200), room);
                let spread = if self.coin(0.5) {
                    format!(", spread = \"{}ms\"", self.int(0, every.min(300)))
                } else {
                    String::new()
                };
                format!(
                    "{{ process = \"bursts\", count = {count}, size = {}, every = \"{every}ms\", start = \"{start}ms\"{spread} }}",
                    self.int(1, rate.max(2) / 2 + 1),
                )
            }
            "ramp" => format!(
                "{{ process = \"ramp\", from = {}.0, to = {}.0 }}",
                self.int(1, rate),
                self.int(1, rate * 2)
            ),
            "diurnal" => format!(
                "{{ process = \"diurnal\", mean = {rate}.0, amplitude = {}, period = {}, phase = {} }}",
                self.float(0.0, 0.9) * rate as f64,
                self.ms(500, 4000),
                self.ms(0, 1000)
            ),
            _ => {
                let mut opts = String::new();
                if self.coin(0.5) {
                    opts.push_str(&format!(", speedup = {}", self.float(0.5, 3.0)));
                }
                if self.coin(0.3) {
                    opts.push_str(", loop = true");
                }
                let file = trace.unwrap_or_default();
                format!(
                    "{{ process = \"trace\", file = \"{file}\", time_column = \"t\", work_column = \"bytes\", priority_column = \"priority\"{opts} }}"
                )
            }
        }
    }

    fn retry(&mut self) -> String {
        let strategy = self.pick(&["exponential", "linear", "constant"]);
        let jitter = self.pick(&["none", "full", "equal", "decorrelated"]);
        let mut s = format!(
            "{{ strategy = \"{strategy}\", max_attempts = {}, base = {}, max_delay = {}, jitter = \"{jitter}\"",
            self.int(1, 4),
            self.ms(5, 50),
            self.ms(100, 500)
        );
        if strategy == "exponential" && self.coin(0.5) {
            s.push_str(&format!(", multiplier = {}", self.float(1.5, 3.0)));
        }
        if self.uses("retry budget", 0.3) {
            s.push_str(&format!(
                ", budget = {{ ratio = {}, min_per_s = {}, window = {} }}",
                self.float(0.05, 0.5),
                self.int(0, 10),
                self.ms(500, 3000)
            ));
        }
        s.push_str(" }");
        s
    }

    fn breaker(&mut self) -> String {
        let mut s = format!(
            "{{ failure_threshold = {}, open_for = {}, half_open_probes = {}",
            self.int(1, 5),
            self.ms(100, 1000),
            self.int(1, 3)
        );
        if self.uses("breaker window", 0.4) {
            s.push_str(&format!(
                ", window = {{ size = {}, min_calls = {}, rate = {} }}",
                self.int(5, 20),
                self.int(1, 5),
                self.float(0.2, 0.8)
            ));
        }
        if self.uses("breaker backoff", 0.4) {
            s.push_str(&format!(
                ", backoff = {}, max_open_for = {}",
                self.float(1.0, 3.0),
                self.ms(1000, 3000)
            ));
        }
        s.push_str(" }");
        s
    }

    /// A fault target: a tier (with a fraction), or listed agents.
    fn target(&mut self, tiers: &[Tier], agents: u64) -> String {
        if self.coin(0.5) {
            let t = &tiers[below(&mut self.rng, tiers.len() as u64) as usize];
            format!(
                "{{ tier = \"{}\", fraction = {} }}",
                t.name,
                self.fraction(t.count)
            )
        } else {
            let a = self.int(0, agents - 1);
            format!("{{ agents = [\"agent-{a}\"] }}")
        }
    }
}

/// One tier as drawn.
struct Tier {
    name: String,
    count: u64,
    cap: String,
    tags: Vec<&'static str>,
}

/// The scenario of `seed` (deterministic: the same seed gives the same text).
pub fn generate(seed: u64) -> Generated {
    let mut g = Gen {
        rng: Seed(seed).stream("swarm"),
        duration_ms: 0,
        features: BTreeSet::new(),
        out: String::new(),
    };
    let duration = g.int(2, 4);
    g.duration_ms = duration * 1000;
    g.line(&format!("name = \"swarm-{seed}\""));
    g.line(&format!("seed = {seed}"));
    g.line(&format!("duration = \"{duration}s\""));
    let warmup = if g.uses("warmup", 0.3) {
        g.ms(100, 800)
    } else {
        "\"0s\"".to_string()
    };
    g.line(&format!("warmup = {warmup}"));
    let drain = g.ms(200, 2000);
    g.line(&format!("drain = {drain}"));
    g.line("");

    // The fleet: tier i serves capability `c{i}` and may call the tiers after it.
    let n_tiers = g.int(1, 4) as usize;
    if n_tiers > 1 {
        g.features.insert("tiers>1");
    }
    let mut tiers = Vec::new();
    for i in 0..n_tiers {
        let tags: Vec<&'static str> = if g.uses("tags", 0.3) {
            vec![g.pick(&["blue", "green"])]
        } else {
            Vec::new()
        };
        tiers.push(Tier {
            name: format!("t{i}"),
            count: g.int(1, 4),
            cap: format!("c{i}"),
            tags,
        });
    }
    let agents: u64 = tiers.iter().map(|t| t.count).sum();
    let has_work = g.uses("work", 0.4);
    let rate = g.int(10, 60);
    let mut async_tiers = 0;
    for i in 0..n_tiers {
        let t = &tiers[i];
        let (name, count, cap) = (t.name.clone(), t.count, t.cap.clone());
        let tags = t.tags.clone();
        g.line("[[fleet.tiers]]");
        g.line(&format!("name = \"{name}\""));
        g.line(&format!("count = {count}"));
        let conc = g.int(1, 4);
        g.line(&format!("concurrency = {conc}"));
        if g.uses("weight", 0.3) {
            let w = g.float(0.2, 5.0);
            g.line(&format!("weight = {w}"));
        }
        let scale = g.int(1, 15);
        let st = if g.uses("per_work", 0.2) {
            let otherwise = g.time_dist(scale);
            format!(
                "{{ dist = \"per_work\", base = \"{scale}ms\", per_unit = \"{}us\", otherwise = {otherwise} }}",
                g.int(10, 500)
            )
        } else {
            g.time_dist(scale)
        };
        g.line(&format!("service_time = {st}"));
        if g.uses("error_rate", 0.4) {
            let e = g.float(0.0, 0.15);
            g.line(&format!("error_rate = {e}"));
        }
        g.line(&format!("capabilities = [\"{cap}\"]"));
        if !tags.is_empty() {
            g.line(&format!("tags = [\"{}\"]", tags[0]));
        }
        if g.uses("uptime/mttr", 0.2) {
            let up = g.float(0.8, 0.99);
            let mttr = if g.coin(0.5) {
                g.ms(100, 1000)
            } else {
                g.time_dist(300)
            };
            g.line(&format!("uptime = {up}"));
            g.line(&format!("mttr = {mttr}"));
        }
        // Calls to later tiers (no cycles).
        if i + 1 < n_tiers && g.uses("calls", 0.5) {
            let mut steps = Vec::new();
            for _ in 0..g.int(1, 2) {
                let j = g.int(i as u64 + 1, n_tiers as u64 - 1) as usize;
                let c = tiers[j].cap.clone();
                let kind = g.int(0, 3);
                let mut step = match kind {
                    0 | 1 => format!("{{ capability = \"{c}\""),
                    2 => {
                        g.features.insert("calls:all");
                        format!("{{ all = [\"{c}\"]")
                    }
                    _ => {
                        g.features.insert("calls:any");
                        format!("{{ any = [\"{c}\"], need = 1")
                    }
                };
                if g.uses("calls:probability", 0.3) {
                    step.push_str(&format!(", probability = {}", g.float(0.1, 1.0)));
                }
                if g.uses("calls:optional", 0.3) {
                    step.push_str(", optional = true");
                }
                step.push_str(" }");
                steps.push(step);
            }
            g.line(&format!("calls = [{}]", steps.join(", ")));
            if g.uses("calls:async", 0.3) {
                async_tiers += 1;
                g.line("async = true");
                let ft = g.time_dist(2);
                g.line(&format!("finish_time = {ft}"));
            }
        }
        g.line("");
    }
    let _ = async_tiers;

    // Where tasks go: a capability (with the tier's tag) or any agent.
    let main_tier = g.int(0, n_tiers as u64 - 1) as usize;
    let trace = g.coin(0.08);
    g.line("[workload]");
    let file = trace_file(seed);
    let arr = g.arrivals(rate, trace.then_some(file.as_str()));
    // Only a trace scenario gets a trace file, and then it uses it.
    let trace = arr.contains("\"trace\"");
    g.line(&format!("arrivals = {arr}"));
    if g.uses("capability", 0.6) {
        let cap = tiers[main_tier].cap.clone();
        g.line(&format!("capability = \"{cap}\""));
    }
    if g.uses("priorities", 0.3) {
        let p: Vec<u64> = (0..4).map(|_| g.int(0, 4)).collect();
        let p3 = p[3].max(1);
        g.line(&format!(
            "priorities = {{ critical = {}.0, high = {}.0, normal = {}.0, low = {p3}.0 }}",
            p[0], p[1], p[2]
        ));
    }
    let deadline = g.uses("deadline", 0.3);
    if deadline {
        let d = g.ms(50, 1500);
        g.line(&format!("deadline = {d}"));
    }
    if has_work && !trace {
        let w = g.work_dist();
        g.line(&format!("work = {w}"));
    }
    g.line("");

    // More streams of tasks.
    if g.uses("streams", 0.3) {
        for k in 0..g.int(1, 2) {
            let t = g.int(0, n_tiers as u64 - 1) as usize;
            let a = g.arrivals(rate / 2 + 1, None);
            let cap = tiers[t].cap.clone();
            let tags = tiers[t].tags.clone();
            g.line("[[workload.streams]]");
            g.line(&format!("name = \"s{k}\""));
            g.line(&format!("arrivals = {a}"));
            g.line(&format!("capability = \"{cap}\""));
            if !tags.is_empty() && g.coin(0.7) {
                g.features.insert("tags:routed");
                g.line(&format!("tags = [\"{}\"]", tags[0]));
            }
            if g.coin(0.3) {
                let w = g.work_dist();
                g.line(&format!("work = {w}"));
            }
            g.line("");
        }
    }

    // Jobs: a DAG of stages over the tiers' capabilities; some are sagas.
    if g.uses("jobs", 0.3) {
        for k in 0..g.int(1, 2) {
            let saga = g.uses("sagas", 0.4);
            let job_rate = g.int(1, 5);
            let a = g.arrivals(job_rate, None);
            g.line("[[workload.jobs]]");
            g.line(&format!("name = \"j{k}\""));
            g.line(&format!("arrivals = {a}"));
            if saga {
                g.line("saga = true");
            }
            let stages = g.int(1, 4);
            for s in 0..stages {
                let t = g.int(0, n_tiers as u64 - 1) as usize;
                let cap = tiers[t].cap.clone();
                g.line("[[workload.jobs.stages]]");
                g.line(&format!("name = \"st{s}\""));
                g.line(&format!("capability = \"{cap}\""));
                if !saga {
                    let n = g.int(1, 3);
                    g.line(&format!("tasks = {n}"));
                }
                if s > 0 {
                    let dep = g.int(0, s - 1);
                    g.line(&format!("after = [\"st{dep}\"]"));
                }
                if saga && g.coin(0.7) {
                    g.line(&format!("compensate = \"{cap}\""));
                }
                if g.coin(0.2) {
                    let w = g.work_dist();
                    g.line(&format!("work = {w}"));
                }
            }
            g.line("");
        }
    }

    if g.uses("dispatch", 0.5) {
        let workers = g.int(0, 8);
        g.line("[dispatch]");
        g.line(&format!("workers = {workers}"));
        if workers > 0 {
            let cap = g.int(0, 50);
            g.line(&format!("queue_capacity = {cap}"));
        }
        if workers > 0 && g.uses("aging", 0.3) {
            let a = g.ms(100, 1000);
            g.line(&format!("aging = {a}"));
        }
        g.line("");
    }

    let strategies = [
        "round_robin",
        "least_connections",
        "weighted",
        "random",
        "weighted_random",
        "p2c",
        "peak_ewma",
    ];
    g.line("[balancer]");
    let s = g.pick(&strategies);
    g.line(&format!("strategy = \"{s}\""));
    if g.uses("healthy_only", 0.5) {
        g.line("healthy_only = true");
    }
    if g.uses("panic_threshold", 0.2) {
        let p = g.float(0.1, 0.9);
        g.line(&format!("panic_threshold = {p}"));
    }
    if g.uses("degraded:equal", 0.3) {
        g.line("degraded = \"equal\"");
    }
    if g.uses("strategy changes", 0.2) {
        let at = g.ms(200, duration * 1000);
        let s2 = g.pick(&strategies);
        g.line(&format!("changes = [{{ at = {at}, strategy = \"{s2}\" }}]"));
    }
    g.line("");

    let request_timeout = g.uses("request timeout", 0.5);
    if g.uses("network", 0.6) {
        g.line("[network]");
        let l = g.time_dist(2);
        g.line(&format!("latency = {l}"));
        if request_timeout && g.uses("network loss", 0.4) {
            let loss = g.float(0.0, 0.05);
            g.line(&format!("loss = {loss}"));
        }
        g.line("");
    }

    if g.uses("health", 0.5) {
        g.line("[health]");
        let iv = g.int(100, 500);
        let to = g.int(20, iv - 1);
        g.line(&format!("interval = \"{iv}ms\""));
        g.line(&format!("timeout = \"{to}ms\""));
        let n = g.int(1, 3);
        g.line(&format!("unhealthy_after = {n}"));
        if g.uses("health degraded", 0.5) {
            let d = g.ms(2, 25);
            let a = g.float(0.1, 0.9);
            g.line(&format!("degraded_threshold = {d}"));
            g.line(&format!("ema_alpha = {a}"));
        }
        g.line("");
    }

    if g.uses("breaker", 0.5) {
        let b = g.breaker();
        // Written as a table: the inline form's keys, one a line.
        g.line("[breaker]");
        for kv in split_inline(&b) {
            g.line(&kv);
        }
        g.line("");
    }

    if g.uses("retry", 0.5) {
        let r = g.retry();
        g.line("[retry]");
        for kv in split_inline(&r) {
            g.line(&kv);
        }
        g.line("");
    }

    if request_timeout {
        g.line("[request]");
        let t = g.ms(50, 2000);
        g.line(&format!("timeout = {t}"));
        if deadline && g.uses("propagate_deadline", 0.4) {
            g.line("propagate_deadline = true");
        }
        g.line("");
    }

    if g.uses("registry", 0.3) {
        g.line("[registry]");
        let hb = g.int(100, 500);
        let ttl = hb * g.int(2, 4);
        g.line(&format!("ttl = \"{ttl}ms\""));
        g.line(&format!("heartbeat = \"{hb}ms\""));
        g.line("");
    }

    // Per-capability policies for calls between tiers.
    if n_tiers > 1 && g.uses("capability policies", 0.4) {
        for t in tiers.iter().skip(1) {
            if !g.coin(0.6) {
                continue;
            }
            g.line(&format!("[capabilities.{}]", t.cap));
            let to = g.ms(50, 1000);
            g.line(&format!("timeout = {to}"));
            if g.coin(0.5) {
                let r = g.retry();
                g.line(&format!("retry = {r}"));
            }
            if g.coin(0.5) {
                let b = g.breaker();
                g.line(&format!("breaker = {b}"));
            }
            if g.coin(0.4) {
                let s = g.pick(&strategies);
                g.line(&format!("balancer = \"{s}\""));
            }
            g.line("");
        }
    }

    if g.uses("dispatcher", 0.3) {
        g.line("[dispatcher]");
        let st = g.time_dist(1);
        g.line(&format!("service_time = {st}"));
        let c = g.int(1, 4);
        g.line(&format!("concurrency = {c}"));
        if g.uses("queue_while_down", 0.5) {
            g.line("queue_while_down = true");
        }
        g.line("");
    }

    let broker = g.uses("broker", 0.3);
    let topics = g.uses("bus topics", 0.4);
    if broker {
        g.line("[bus.broker]");
        let st = g.time_dist(1);
        g.line(&format!("service_time = {st}"));
        let c = g.int(1, 3);
        let cap = g.int(1, 200);
        g.line(&format!("concurrency = {c}"));
        g.line(&format!("capacity = {cap}"));
        if g.uses("broker persistence", 0.5) {
            g.line("persistence = true");
        }
        g.line("");
    }
    if topics {
        for k in 0..g.int(1, 3) {
            g.line("[[bus.topics]]");
            g.line(&format!("name = \"cfg.t{k}\""));
            let every = g.ms(100, 1000);
            g.line(&format!("every = {every}"));
            match g.int(0, 2) {
                0 => {
                    let r = g.int(0, 3);
                    g.line(&format!("retain = {r}"));
                }
                1 => {
                    g.features.insert("topic to all");
                    g.line("to = \"all\"");
                }
                _ => {
                    let a = g.int(0, agents - 1);
                    g.line(&format!("to = \"agent-{a}\""));
                }
            }
            if g.coin(0.5) {
                let region = g.pick(&["eu", "us"]);
                g.line(&format!("headers = {{ region = \"{region}\" }}"));
            }
        }
        for _ in 0..g.int(0, 2) {
            g.features.insert("bus subscriptions");
            g.line("[[bus.subscriptions]]");
            let p = g.pick(&["cfg.>", "cfg.t0", "cfg.*"]);
            g.line(&format!("pattern = \"{p}\""));
            if g.coin(0.4) {
                g.features.insert("bus filters");
                let f = g.pick(&["region=eu", "region=eu|us, !canary", "region!=us", "region"]);
                g.line(&format!("filter = \"{f}\""));
            }
            if g.coin(0.5) {
                let t = g.target(&tiers, agents);
                g.line(&format!("agents = {t}"));
            }
        }
        g.line("");
    }

    // Faults of every kind, inside the run.
    let horizon = duration * 1000;
    let mut kinds_used = Vec::new();
    if g.uses("faults", 0.6) {
        for _ in 0..g.int(1, 4) {
            let kind = g.pick(&[
                "crash",
                "recover",
                "slow",
                "partition",
                "dispatcher_down",
                "broker_down",
                "drain",
                "join",
                "rolling_restart",
            ]);
            kinds_used.push(kind);
            g.features.insert(match kind {
                "crash" => "fault:crash",
                "recover" => "fault:recover",
                "slow" => "fault:slow",
                "partition" => "fault:partition",
                "dispatcher_down" => "fault:dispatcher_down",
                "broker_down" => "fault:broker_down",
                "drain" => "fault:drain",
                "join" => "fault:join",
                _ => "fault:rolling_restart",
            });
            let at = g.ms(0, horizon);
            g.line("[[faults]]");
            g.line(&format!("at = {at}"));
            g.line(&format!("kind = \"{kind}\""));
            match kind {
                "crash" | "partition" | "slow" => {
                    let t = g.target(&tiers, agents);
                    g.line(&format!("target = {t}"));
                    if kind == "slow" {
                        let f = g.float(1.5, 10.0);
                        g.line(&format!("factor = {f}"));
                    }
                    if g.coin(0.8) {
                        let f = g.ms(100, 2000);
                        g.line(&format!("for = {f}"));
                    }
                }
                "recover" | "drain" => {
                    let t = g.target(&tiers, agents);
                    g.line(&format!("target = {t}"));
                }
                "dispatcher_down" | "broker_down" => {
                    let f = g.ms(100, 1500);
                    g.line(&format!("for = {f}"));
                }
                "join" => {
                    let t = &tiers[below(&mut g.rng, n_tiers as u64) as usize];
                    let name = t.name.clone();
                    g.line(&format!("target = {{ tier = \"{name}\" }}"));
                    let c = g.int(1, 3);
                    g.line(&format!("count = {c}"));
                }
                _ => {
                    let t = &tiers[below(&mut g.rng, n_tiers as u64) as usize];
                    let (name, count) = (t.name.clone(), t.count);
                    let fr = g.fraction(count);
                    g.line(&format!(
                        "target = {{ tier = \"{name}\", fraction = {fr} }}"
                    ));
                    let b = g.int(1, 2);
                    let f = g.ms(50, 500);
                    g.line(&format!("batch = {b}"));
                    g.line(&format!("for = {f}"));
                    if g.coin(0.5) {
                        let p = g.ms(0, 300);
                        g.line(&format!("pause = {p}"));
                    }
                }
            }
            g.line("");
        }
    }
    let _ = kinds_used;

    if g.uses("autoscale", 0.2) {
        let t = g.int(0, n_tiers as u64 - 1) as usize;
        let name = tiers[t].name.clone();
        let queue = g.coin(0.5);
        g.line("[[autoscale]]");
        g.line(&format!("tier = \"{name}\""));
        if queue {
            g.features.insert("autoscale:queue");
            let tg = g.float(0.5, 4.0);
            g.line("metric = \"queue\"");
            g.line(&format!("target = {tg}"));
        } else {
            let tg = g.float(0.2, 0.9);
            g.line("metric = \"utilization\"");
            g.line(&format!("target = {tg}"));
        }
        let iv = g.ms(100, 800);
        let mx = tiers[t].count + g.int(0, 3);
        let st = g.ms(0, 500);
        let cd = g.ms(0, 1000);
        g.line(&format!("interval = {iv}"));
        g.line("min = 1");
        g.line(&format!("max = {mx}"));
        g.line(&format!("startup = {st}"));
        g.line(&format!("cooldown = {cd}"));
        g.line("");
    }

    g.line("[report]");
    let b = g.pick(&["\"100ms\"", "\"250ms\"", "\"500ms\""]);
    g.line(&format!("bucket = {b}"));

    let trace = trace.then(|| (file, trace_csv(&mut g, rate)));
    Generated {
        toml: g.out,
        trace,
        features: g.features,
    }
}

/// `{ a = 1, b = { c = 2 } }` → `["a = 1", "b = { c = 2 }"]`: the top-level
/// keys of an inline table, to write it as a `[table]`.
fn split_inline(s: &str) -> Vec<String> {
    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for ch in inner.chars() {
        match ch {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_string());
    }
    parts
}

/// A small request log: times in seconds from 0, a work column and a
/// priority column, about `rate` rows a second for two seconds.
fn trace_csv(g: &mut Gen, rate: u64) -> String {
    let mut out = String::from("t,bytes,priority\n");
    let mut t = 0.0;
    let n = rate * 2;
    for _ in 0..n {
        t += g.float(0.0, 2.0 / rate as f64);
        let bytes = g.int(1, 5000);
        let p = g.pick(&["critical", "high", "normal", "low"]);
        let _ = writeln!(out, "{t:.4},{bytes},{p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_text() {
        for seed in 0..20 {
            assert_eq!(generate(seed).toml, generate(seed).toml);
        }
    }

    #[test]
    fn inline_tables_split_at_top_level_commas() {
        assert_eq!(
            split_inline("{ a = 1, b = { c = 2, d = [3, 4] }, e = \"x\" }"),
            vec!["a = 1", "b = { c = 2, d = [3, 4] }", "e = \"x\""]
        );
    }
}
