//! Writes `scenarios/traces/api_gateway.csv`: five minutes of a made-up API
//! gateway's request log, the example trace for `process = "trace"` arrivals.
//!
//! Regenerate with `cargo run --release --example make_trace` (or pass an
//! output path). The generator is seeded with a constant and draws its
//! transcendental functions from `libm`, so every machine writes the same
//! bytes.
//!
//! The log: requests at about 8.5 per second, the rate rising and falling
//! ±2 per second over the five minutes (a thinned non-homogeneous Poisson
//! process, Lewis and Shedler 1979), plus a 15-second spike of 25 more per
//! second from 3:00. Each request has a path from a fixed mix, a lognormal
//! response size whose median and spread depend on the path (reports are
//! large and heavy-tailed, health checks tiny), and a priority, mostly
//! normal.

use std::fmt::Write as _;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seconds of log, and the wall-clock time of its first second.
const SPAN: f64 = 300.0;
const START: (u32, u32, u32) = (9, 0, 0);
const DATE: &str = "2026-03-10";

/// Base rate, the amplitude of its slow swing, and the spike.
const BASE: f64 = 8.5;
const SWING: f64 = 2.0;
const SPIKE: (f64, f64, f64) = (180.0, 195.0, 25.0);

/// An endpoint: share of requests, median response bytes, lognormal sigma,
/// and the chances of high and low priority.
struct Endpoint {
    path: &'static str,
    share: f64,
    median: f64,
    sigma: f64,
    high: f64,
    low: f64,
}

const ENDPOINTS: [Endpoint; 5] = [
    Endpoint {
        path: "/api/search",
        share: 0.40,
        median: 3_500.0,
        sigma: 0.8,
        high: 0.08,
        low: 0.05,
    },
    Endpoint {
        path: "/api/orders",
        share: 0.22,
        median: 1_200.0,
        sigma: 0.5,
        high: 0.25,
        low: 0.02,
    },
    Endpoint {
        path: "/api/users",
        share: 0.18,
        median: 800.0,
        sigma: 0.4,
        high: 0.05,
        low: 0.05,
    },
    Endpoint {
        path: "/api/report",
        share: 0.05,
        median: 60_000.0,
        sigma: 1.2,
        high: 0.0,
        low: 0.30,
    },
    Endpoint {
        path: "/health",
        share: 0.15,
        median: 40.0,
        sigma: 0.1,
        high: 0.0,
        low: 1.0,
    },
];

fn rate(t: f64) -> f64 {
    let swing = SWING * libm::sin(std::f64::consts::TAU * t / SPAN);
    let spike = if (SPIKE.0..SPIKE.1).contains(&t) {
        SPIKE.2
    } else {
        0.0
    };
    BASE + swing + spike
}

/// A standard normal draw (Box–Muller, one of the pair).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    libm::sqrt(-2.0 * libm::log(u)) * libm::cos(std::f64::consts::TAU * v)
}

fn main() -> std::io::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/traces/api_gateway.csv"
        )
        .to_string()
    });
    let mut rng = ChaCha8Rng::seed_from_u64(20_260_310);
    let peak = BASE + SWING + SPIKE.2;
    let mut csv = String::from("timestamp,path,bytes,priority\n");
    let (mut t, mut rows) = (0.0, 0);
    loop {
        // Candidates at the peak rate, each kept with probability rate / peak.
        t += -libm::log(1.0 - rng.random::<f64>()) / peak;
        if t >= SPAN {
            break;
        }
        if rng.random::<f64>() * peak >= rate(t) {
            continue;
        }
        let mut pick = rng.random::<f64>();
        let e = ENDPOINTS
            .iter()
            .find(|e| {
                pick -= e.share;
                pick < 0.0
            })
            .unwrap_or(&ENDPOINTS[0]);
        let bytes = (e.median * libm::exp(e.sigma * normal(&mut rng))).round() as u64;
        let p = rng.random::<f64>();
        let priority = if p < e.high {
            "high"
        } else if p < e.high + e.low {
            "low"
        } else {
            "normal"
        };
        // 100 ns ticks: seven fractional digits, as many loggers write.
        let ticks = (t * 1e7) as u64;
        let secs = u64::from(START.0 * 3600 + START.1 * 60 + START.2) + ticks / 10_000_000;
        let frac = ticks % 10_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        writeln!(
            csv,
            "{DATE} {h:02}:{m:02}:{s:02}.{frac:07},{},{bytes},{priority}",
            e.path
        )
        .expect("writing to a String");
        rows += 1;
    }
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &csv)?;
    println!("{out}: {rows} requests, {} bytes", csv.len());
    Ok(())
}
