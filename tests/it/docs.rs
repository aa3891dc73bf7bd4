//! The documentation's references resolve: nothing cites a design file
//! that is not in the repository, and every `docs/…` path that README.md
//! and docs/*.md name exists.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::root;

/// Every file under `dir` (recursively) with one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, exts, out);
        } else if path
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
}

#[test]
fn no_file_cites_a_missing_design_document() {
    // Spelled in two halves so this file does not match itself.
    let needle = concat!("DESIGN", ".md");
    let root = root();
    let mut all = vec![root.join("README.md")];
    for dir in ["src", "tests", "docs"] {
        files(&root.join(dir), &["rs", "md", "toml", "json"], &mut all);
    }
    assert!(all.len() > 50, "the walk found only {} files", all.len());
    let mut hits = Vec::new();
    for path in &all {
        let text = fs::read_to_string(path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains(needle) {
                hits.push(format!("{}:{}: {line}", path.display(), i + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "{needle} is not in the repository; point at docs/outputs.md, docs/determinism.md, \
         docs/architecture.md or docs/scenario.md instead:\n{}",
        hits.join("\n")
    );
}

/// The `docs/<file>` paths a text names (README style), and the targets of
/// its relative markdown links `](file.md)` / `](file.md#anchor)` (docs
/// style, relative to `docs/`).
fn doc_targets(text: &str, in_docs: bool) -> Vec<String> {
    let mut out = Vec::new();
    let is_name = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    for (i, _) in text.match_indices("docs/") {
        if i > 0 && is_name(text[..i].chars().next_back().unwrap()) {
            continue; // part of a longer path, e.g. a URL's path
        }
        let name: String = text[i..].chars().take_while(|&c| is_name(c)).collect();
        let name = name.trim_end_matches('.').to_string();
        if name.len() > "docs/".len() {
            out.push(name);
        }
    }
    if in_docs {
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..]
                .chars()
                .take_while(|&c| c != ')' && c != '#')
                .collect();
            if !target.is_empty() && !target.contains("://") && !target.starts_with('/') {
                out.push(format!("docs/{target}"));
            }
        }
    }
    out
}

#[test]
fn every_docs_path_in_the_readme_and_docs_exists() {
    let root = root();
    let mut sources = vec![(root.join("README.md"), false)];
    let mut docs = Vec::new();
    files(&root.join("docs"), &["md"], &mut docs);
    sources.extend(docs.into_iter().map(|p| (p, true)));
    let mut missing = Vec::new();
    let mut seen = 0;
    for (path, in_docs) in &sources {
        let text = fs::read_to_string(path).unwrap();
        for target in doc_targets(&text, *in_docs) {
            seen += 1;
            // `docs/../README.md` style links are resolved, not taken literally.
            let resolved = Path::new(&target)
                .components()
                .fold(PathBuf::new(), |mut acc, c| {
                    match c {
                        std::path::Component::ParentDir => {
                            acc.pop();
                        }
                        c => acc.push(c),
                    }
                    acc
                });
            if !root.join(&resolved).exists() {
                missing.push(format!("{}: {target}", path.display()));
            }
        }
    }
    assert!(
        seen >= 4,
        "found only {seen} docs links: the scan is broken"
    );
    assert!(
        missing.is_empty(),
        "links to missing files:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_link_scan_finds_what_it_should() {
    let readme = "see docs/outputs.md. and [x](docs/determinism.md#seeds), not a/docs/x.md";
    assert_eq!(
        doc_targets(readme, false),
        ["docs/outputs.md", "docs/determinism.md"]
    );
    let page = "[map](architecture.md#layers) and [web](https://example.org/a.md)";
    assert_eq!(doc_targets(page, true), ["docs/architecture.md"]);
}
