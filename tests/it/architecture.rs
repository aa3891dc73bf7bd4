//! The layering of `src/`, checked from the code's own imports.
//!
//! Every file under `src/` belongs to a top-level module (`src/world.rs` and
//! `src/world/*` to `world`). A module depends on another when any of its
//! files names `crate::other` (in a `use`, a grouped `use crate::{..}` or a
//! path in the code). The layers below say which way dependencies may go; a
//! module may use modules of its own layer or lower ones, and the
//! dependency graph must have no cycle, within a layer too. The same table is
//! drawn in `docs/architecture.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A new top-level module must be placed here.
const LAYERS: &[(&str, &[&str])] = &[
    ("foundations", &["time", "rng", "hist", "text"]),
    (
        "components",
        &[
            "orchestration",
            "discovery",
            "bus",
            "fleet",
            "workload",
            "faults",
        ],
    ),
    ("engine", &["engine"]),
    ("configuration", &["scenario"]),
    ("results", &["metrics", "stats", "results", "fit"]),
    ("world", &["world"]),
    ("reports", &["report"]),
    ("harness", &["harness"]),
    ("command line", &["cli"]),
];

/// Rules stated on their own, beyond the layer order: (from, to, why).
const NEVER: &[(&str, &str, &str)] = &[
    ("engine", "world", "the engine is generic over its events"),
    ("report", "harness", "reports are pure functions of results"),
    ("world", "cli", "the world knows no command line"),
    ("world", "report", "a run produces results, not files"),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None`: the crate root files).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The top-level modules a file's code names, comments left out.
fn dependencies(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut deps = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c, d::{e, f}}`: the first segment of each item
            // at the top level of the braces.
            let mut depth = 0;
            let mut at_item_start = true;
            for (j, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[j..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_item_start = true,
                    c if at_item_start && (c.is_alphanumeric() || c == '_') => {
                        let ident: String = group[j..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        deps.insert(ident);
                        at_item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                deps.insert(ident);
            }
        }
    }
    deps
}

/// module → the other top-level modules it depends on.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = fs::read_to_string(&file).expect("a readable source file");
        let entry = graph.entry(module.clone()).or_default();
        for dep in dependencies(&text) {
            if dep != module {
                entry.insert(dep);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first, in name order).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    visit(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn grouped_and_plain_imports_are_both_seen() {
    let text = "use crate::time::Instant;\n\
                use crate::{bus::{self, Bus}, fleet,\n    metrics::Cause};\n\
                // crate::harness in a comment does not count\n\
                let x = crate::rng::unit(&mut r);\n";
    let deps: Vec<String> = dependencies(text).into_iter().collect();
    assert_eq!(deps, ["bus", "fleet", "metrics", "rng", "time"]);
}

#[test]
fn cycle_detection_finds_a_planted_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycle_from(&g, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(cycle_from(&g, "d"), None);
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = graph()
        .into_keys()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules with no layer in tests/it/architecture.rs (and docs/architecture.md): {unplaced:?}"
    );
}

#[test]
fn no_module_imports_a_higher_layer() {
    let mut wrong = Vec::new();
    for (module, deps) in graph() {
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for dep in deps {
            if let Some(theirs) = layer_of(&dep)
                && theirs > own
            {
                wrong.push(format!(
                    "{module} ({}) imports {dep} ({})",
                    LAYERS[own].0, LAYERS[theirs].0
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_never_rules_hold() {
    let g = graph();
    for (from, to, why) in NEVER {
        assert!(
            !g.get(*from).is_some_and(|d| d.contains(*to)),
            "{from} imports {to}, but {why}"
        );
    }
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    let cycles: Vec<String> = g
        .keys()
        .filter_map(|m| cycle_from(&g, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
