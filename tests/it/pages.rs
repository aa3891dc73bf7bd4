//! The compare and sweep pages and `results.json`: the same bytes whatever
//! the threads, shards and merge; every chart on them titled, with text and
//! labelled axes; a categorical sweep key on a categorical axis; and every
//! page (run, compare, sweep) loaded in headless Chromium without a broken
//! image or a script error (skipped, saying so, where no browser is
//! installed or `FLEETSIM_SKIP_BROWSER=1`).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::text;

/// Short runs of M/M/10 near saturation: strategies differ clearly.
const SHORT: [&str; 4] = ["--set", "duration=\"400s\"", "--set", "warmup=\"40s\""];

fn fleetsim_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetsim"));
    cmd.args(args).current_dir(dir).env("CI", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("the binary runs");
    assert!(o.status.success(), "fleetsim {args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    fleetsim_env(dir, args, &[])
}

fn compare_args(out: &str) -> Vec<&str> {
    let mut a = vec![
        "compare",
        "mmc",
        "--strategies",
        "least_connections,round_robin,random",
        "--replications",
        "3",
        "--out",
        out,
        "--quiet",
    ];
    a.extend(SHORT);
    a
}

fn sweep_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "sweep",
        "mmc",
        "--vary",
        "balancer.strategy=least_connections,round_robin",
        "--vary",
        "workload.arrivals.rate=6,8",
        "--replications",
        "2",
        "--out",
        out,
        "--quiet",
    ];
    a.extend(SHORT);
    a.extend(extra);
    a
}

/// Every file under `dir` but perf.csv and manifest.json (wall-clock
/// times), relative path → bytes, in path order.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if rel != "perf.csv" && rel != "manifest.json" {
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_dirs(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&fa),
        names(&fb),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// `<text …>\nLABEL\n</text>`, as plotters writes a text element.
fn has_text(svg: &str, label: &str) -> bool {
    let escaped = label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    svg.contains(&format!(">\n{escaped}\n</text>"))
}

/// The chart `name` in `dir`: SVG text, its title, and every axis title in
/// `axes`, each a `<text>` element; the page inlines it.
fn assert_chart(dir: &Path, html: &str, name: &str, axes: &[&str]) {
    let svg = fs::read_to_string(dir.join(format!("charts/{name}.svg")))
        .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
    assert!(svg.matches("<text").count() >= 3, "{name}: text");
    let title = html
        .split(&format!("<figure id=\"{name}\">"))
        .nth(1)
        .and_then(|rest| rest.split("<figcaption>").nth(1))
        .and_then(|cap| cap.split(" · ").next())
        .unwrap_or_else(|| panic!("the page shows {name} with a caption"));
    assert!(
        !title.is_empty() && svg.contains(title),
        "{name}: its title {title:?} is drawn"
    );
    for axis in axes {
        assert!(has_text(&svg, axis), "{name}: axis title {axis:?}");
    }
    assert!(html.contains(&svg), "the page inlines {name}.svg");
    assert!(
        dir.join(format!("charts/{name}.png")).exists(),
        "{name}.png"
    );
}

#[test]
fn the_compare_page_ranks_and_shows_every_chart_and_is_the_same_on_any_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let loud: Vec<&str> = compare_args("one")
        .into_iter()
        .filter(|a| *a != "--quiet")
        .collect();
    let table = fleetsim_env(d, &loud, &[("RAYON_NUM_THREADS", "1")]);
    fleetsim_env(d, &compare_args("two"), &[("RAYON_NUM_THREADS", "2")]);
    assert_same_dirs(&d.join("one"), &d.join("two"));
    let dir = d.join("one");
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    // What varied, said correctly; no single-run meta line.
    assert!(
        html.contains("<code>balancer.strategy</code> ∈ {least_connections, round_robin, random}")
    );
    assert!(
        !html.contains("balancer least_connections"),
        "no single-run meta line"
    );
    // The ranking as the terminal prints it: every cell of every row.
    for line in table.lines().skip(1).take(4) {
        for cell in line.split("  ").map(str::trim).filter(|c| !c.is_empty()) {
            let cell = cell.replace('&', "&amp;");
            assert!(html.contains(&cell), "the page's ranking has {cell:?}");
        }
    }
    let base = "vs least_connections";
    assert_chart(
        &dir,
        &html,
        "compare_forest",
        &[
            &format!("Δ latency p99 ms {base}"),
            &format!("Δ latency mean ms {base}"),
            &format!("Δ success rate pp {base}"),
        ],
    );
    assert_chart(
        &dir,
        &html,
        "compare_cdf",
        &["latency (ms)", "percentile (1 − p on a log scale)"],
    );
    let cdf = fs::read_to_string(dir.join("charts/compare_cdf.svg")).unwrap();
    for s in [
        "least_connections",
        "round_robin",
        "random",
        "shaded: range over replications",
    ] {
        assert!(has_text(&cdf, s), "the CDF's legend names {s}");
    }
    assert!(cdf.contains("<polygon"), "bands over replications");
    assert_chart(&dir, &html, "compare_p99", &["latency p99 ms"]);
    let success = fs::read_to_string(dir.join("charts/compare_success.svg")).unwrap();
    assert!(success.contains("success rate %"), "{}", &success[..200]);
    assert_chart(&dir, &html, "compare_success", &[]);
    for s in ["least_connections", "round_robin", "random"] {
        assert_chart(
            &dir,
            &html,
            &format!("compare_timeseries_{s}"),
            &["time (s)", "tasks per second", "p99 latency (ms)"],
        );
    }
    // results.json: the comparison, and every run.
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["command"], "compare");
    assert_eq!(json["runs"].as_array().unwrap().len(), 9);
    assert_eq!(json["comparison"]["baseline"], "least_connections");
    assert_eq!(json["comparison"]["ranking"][0], "least_connections");
    let manifest = fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"results.json\""),
        "the manifest lists results.json"
    );
}

#[test]
fn the_sweep_page_is_the_same_across_jobs_and_shards_and_puts_categories_on_a_categorical_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &sweep_args("j1", &["--jobs", "1"]));
    ok(d, &sweep_args("j2", &["--jobs", "2"]));
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = format!("s{i}");
        ok(d, &sweep_args(&out, &["--shard", &shard]));
    }
    ok(d, &["merge", "s2", "s0", "s1", "--out", "m", "--quiet"]);
    assert_same_dirs(&d.join("j1"), &d.join("j2"));
    assert_same_dirs(&d.join("j1"), &d.join("m"));
    let dir = d.join("j1");
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<code>balancer.strategy</code> ∈ {least_connections, round_robin}"));
    assert!(html.contains("<code>workload.arrivals.rate</code> ∈ {6, 8}"));
    // The table of points: mean ± CI.
    assert_eq!(html.matches("<tr><td>least_connections</td>").count(), 2);
    assert!(html.contains(" ± "));
    // Each point's warm-up, from summary.csv's warmup_s.
    assert!(html.contains("<th>warm-up s</th>"));
    for (name, label) in [
        ("sweep_latency_p99_ms", "latency p99 ms"),
        ("sweep_latency_mean_ms", "latency mean ms"),
        ("sweep_success_rate", "success rate %"),
        ("sweep_throughput_per_s", "throughput /s"),
    ] {
        assert_chart(&dir, &html, name, &["balancer.strategy"]);
        let svg = fs::read_to_string(dir.join(format!("charts/{name}.svg"))).unwrap();
        assert!(svg.contains(label), "{name}: y axis {label}");
        // Categories label the axis; no numeric 0–1 ticks stand in for them.
        assert!(
            has_text(&svg, "least_connections") && has_text(&svg, "round_robin"),
            "{name}"
        );
        assert!(
            !has_text(&svg, "0.5"),
            "{name}: no ticks between categories"
        );
        // A line per value of the second key, named in the legend.
        for v in ["workload.arrivals.rate=6", "workload.arrivals.rate=8"] {
            assert!(has_text(&svg, v), "{name}: legend {v}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["command"], "sweep");
    assert_eq!(json["sweep"]["points"].as_array().unwrap().len(), 4);
    assert_eq!(json["variants"].as_array().unwrap().len(), 4);
    assert_eq!(json["variants"][0]["runs"], 2);
}

#[test]
fn two_numeric_keys_draw_heat_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut args = vec![
        "sweep",
        "mmc",
        "--vary",
        "workload.arrivals.rate=6,8",
        "--vary",
        "fleet.tiers[0].count=9,10",
        "--out",
        "h",
        "--quiet",
        "--replications",
        "1",
    ];
    args.extend(SHORT);
    ok(d, &args);
    let dir = d.join("h");
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    for name in ["sweep_heatmap_latency_p99_ms", "sweep_heatmap_success_rate"] {
        assert_chart(
            &dir,
            &html,
            name,
            &["workload.arrivals.rate", "fleet.tiers[0].count"],
        );
    }
    // One replication: no error bars, and the page says so.
    assert!(html.contains("one replication: no intervals"));
}

#[test]
fn a_run_writes_results_json_listed_in_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut args = vec!["run", "mmc", "--replications", "2", "--out", "r", "--quiet"];
    args.extend(SHORT);
    ok(d, &args);
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("r/results.json")).unwrap()).unwrap();
    assert_eq!(json["command"], "run");
    assert_eq!(json["scenario"]["name"], "mmc");
    assert_eq!(json["scenario"]["set"][0], "duration=\"400s\"");
    assert_eq!(json["replications"], 2);
    let summary = fs::read_to_string(d.join("r/summary.csv")).unwrap();
    let p99 = json["runs"][1]["metrics"]["latency_p99_ms"]
        .as_f64()
        .unwrap();
    assert!(
        summary.contains(&format!("{p99:.3}")),
        "results.json reads summary.csv's {p99}"
    );
    assert!(json["variants"][0]["metrics"]["latency_p99_ms"]["ci95"].is_number());
    let manifest = fs::read_to_string(d.join("r/manifest.json")).unwrap();
    assert!(manifest.contains("\"results.json\""));
}

// ---- the browser ----

/// A headless Chromium (or Chrome) on PATH, unless `FLEETSIM_SKIP_BROWSER`
/// is set; `FLEETSIM_BROWSER` names one explicitly.
fn browser() -> Option<PathBuf> {
    if std::env::var_os("FLEETSIM_SKIP_BROWSER").is_some_and(|v| v != "0") {
        eprintln!("note: FLEETSIM_SKIP_BROWSER is set: the pages are not loaded in a browser");
        return None;
    }
    if let Some(b) = std::env::var_os("FLEETSIM_BROWSER") {
        return Some(PathBuf::from(b));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
        "headless_shell",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    eprintln!(
        "note: no chromium, chromium-browser or google-chrome on PATH: the pages are not loaded in a browser \
         (apt-get install chromium, or set FLEETSIM_BROWSER)"
    );
    None
}

/// Put in first in `<head>`: records script errors and resources that fail
/// to load (capture phase), then after the load event checks every `<img>`
/// (complete, natural width > 0) and loads every linked PNG and SVG chart
/// as an image, and writes the verdict into the DOM for `--dump-dom`.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__errors.push(t && t !== window ? 'resource ' + (t.src || t.href || t.tagName) : 'script ' + e.message);
}, true);
window.addEventListener('load', function () {
  var broken = [], pending = 0, n = 0;
  Array.prototype.forEach.call(document.images, function (i) {
    n++;
    if (!i.complete || i.naturalWidth === 0) broken.push(i.getAttribute('src'));
  });
  function done() {
    var out = document.createElement('pre');
    out.id = 'fleetsim-probe';
    out.textContent = 'PROBE images=' + n + ' svgs=' + document.querySelectorAll('svg').length +
      ' broken=' + JSON.stringify(broken) + ' errors=' + JSON.stringify(window.__errors) + ' END';
    document.body.appendChild(out);
  }
  var seen = {};
  var links = document.querySelectorAll('a[href$=".png"], a[href$=".svg"]');
  Array.prototype.forEach.call(links, function (a) {
    var href = a.getAttribute('href');
    if (seen[href]) return;
    seen[href] = true;
    pending++; n++;
    var i = new Image();
    i.onload = function () { if (i.naturalWidth === 0) broken.push(href); if (--pending === 0) done(); };
    i.onerror = function () { broken.push(href); if (--pending === 0) done(); };
    i.src = a.href;
  });
  if (pending === 0) done();
});
</script>"#;

/// Load `page` (a copy of it with [`PROBE`] first in `<head>`, beside it so
/// relative links resolve) in headless `browser`, killed after 60 s;
/// returns the probe's line.
fn probe(browser: &Path, page: &Path) -> String {
    let html = fs::read_to_string(page).unwrap();
    let probed = page.with_file_name(".probe.html");
    fs::write(
        &probed,
        html.replacen("<head>", &format!("<head>\n{PROBE}"), 1),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = page.with_file_name(".probe.dom");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!(
            "file://{}",
            probed.canonicalize().unwrap().display()
        ))
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("the browser starts");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            // The whole group: the browser and its renderers.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "{} did not finish loading {} in 60 s",
                browser.display(),
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = fs::read_to_string(&out).unwrap_or_default();
    let line = dom
        .split("<pre id=\"fleetsim-probe\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "{}: the probe did not report; the DOM starts {:?}",
                page.display(),
                &dom[..dom.len().min(300)]
            )
        })
        .to_string();
    let _ = fs::remove_file(&probed);
    let _ = fs::remove_file(&out);
    line
}

#[test]
fn every_page_loads_in_a_browser_without_broken_images_or_script_errors() {
    let Some(browser) = browser() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The probe can fail: a page with a missing image and a throwing script.
    fs::write(
        d.join("bad.html"),
        "<!DOCTYPE html><html><head><title>bad</title></head><body><img src=\"missing.png\"><script>nothing_here();</script></body></html>",
    )
    .unwrap();
    let bad = probe(&browser, &d.join("bad.html"));
    assert!(
        bad.contains("missing.png") && bad.contains("nothing_here"),
        "the probe sees a broken page: {bad}"
    );
    let mut run = vec!["run", "mmc", "--out", "run", "--quiet"];
    run.extend(SHORT);
    ok(d, &run);
    ok(d, &compare_args("cmp"));
    ok(d, &sweep_args("sw", &[]));
    for dir in ["run", "cmp", "sw"] {
        let line = probe(&browser, &d.join(dir).join("report.html"));
        assert!(
            line.contains("broken=[] errors=[]"),
            "{dir}/report.html in {}: {line}",
            browser.display()
        );
        let charts = fs::read_dir(d.join(dir).join("charts")).unwrap().count();
        assert!(
            line.contains(&format!("images={charts}")),
            "{dir}: every chart file is linked and loads: {line}"
        );
    }
}
