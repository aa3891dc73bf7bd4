//! The JSON Schema of scenario files (`fleetsim schema`,
//! docs/scenario.schema.json) and the key reference (docs/scenario.md):
//! the shipped schema is what the binary prints, every shipped scenario
//! passes it, an unknown key fails both the schema and the parser, and
//! the reference names every key the schema (so the parser) accepts.

use std::collections::BTreeSet;

use fleetsim::scenario::{self, schema};
use serde_json::Value;

use crate::support::{fleetsim, root, text};

const REGENERATE: &str = "cargo run --release -- schema > docs/scenario.schema.json";

/// The shipped schema, compiled by an independent validator (boon).
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn shipped() -> Self {
        let text = std::fs::read_to_string(root().join("docs/scenario.schema.json"))
            .expect("docs/scenario.schema.json exists");
        let json: Value = serde_json::from_str(&text).expect("the shipped schema is JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource("scenario.schema.json", json)
            .expect("a resource");
        let index = compiler
            .compile("scenario.schema.json", &mut schemas)
            .unwrap_or_else(|e| panic!("the shipped schema does not compile: {e:#}"));
        Validator { schemas, index }
    }

    /// `Err` with the validator's explanation when `toml_text` fails.
    fn check(&self, toml_text: &str) -> Result<(), String> {
        let value: Value = toml::from_str(toml_text).map_err(|e| format!("not TOML: {e}"))?;
        self.schemas
            .validate(&value, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}

#[test]
fn shipped_schema_is_what_fleetsim_schema_prints() {
    let out = fleetsim(&root(), &["schema"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let shipped =
        std::fs::read_to_string(root().join("docs/scenario.schema.json")).unwrap_or_default();
    assert!(
        printed == shipped,
        "docs/scenario.schema.json is not what `fleetsim schema` prints; regenerate it with\n    {REGENERATE}"
    );
    assert_eq!(
        printed,
        schema::json(),
        "the binary prints the library's schema"
    );
}

/// Every scenario file under scenarios/ and scenarios/theory/, and every
/// built-in scenario's text, passes the schema (and loads).
#[test]
fn every_shipped_scenario_matches_the_schema() {
    let v = Validator::shipped();
    let mut checked = 0;
    for dir in ["scenarios", "scenarios/theory"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for path in files {
            let rel = path.strip_prefix(root()).unwrap().display().to_string();
            let toml_text = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = v.check(&toml_text) {
                panic!("{rel} fails the schema:\n{e}");
            }
            scenario::load_file(&path, &[]).unwrap_or_else(|e| panic!("{rel}: {e}"));
            checked += 1;
        }
    }
    for (name, toml_text) in scenario::BUILTIN {
        if let Err(e) = v.check(toml_text) {
            panic!("built-in {name} fails the schema:\n{e}");
        }
        checked += 1;
    }
    assert!(
        checked >= 16 + scenario::BUILTIN.len(),
        "only {checked} checked"
    );
}

/// The shared base scenario with a capability table, so that edits can
/// reach `capabilities.*` keys too.
fn base() -> String {
    format!(
        "{}\n[capabilities.compute]\ntimeout = \"1s\"\n",
        crate::support::BASE
    )
}

/// `text` with `old` replaced by `new` (which must occur).
fn edit(old: &str, new: &str) -> String {
    let base = base();
    assert!(base.contains(old), "{old:?} is not in the base scenario");
    base.replacen(old, new, 1)
}

#[test]
fn an_unknown_key_fails_both_the_schema_and_the_parser() {
    let v = Validator::shipped();
    let base = base();
    v.check(&base).expect("the base scenario passes");
    scenario::load_str("t.toml", "t", &base, &[]).expect("the base scenario loads");
    let cases = [
        // (misspelled key, the text)
        (
            "sed",
            edit("duration = \"10s\"", "duration = \"10s\"\nsed = 3"),
        ),
        ("cout", edit("count = 2", "cout = 2")),
        ("vaule", edit("value = \"5ms\"", "vaule = \"5ms\"")),
        ("rat", edit("rate = 10.0", "rat = 10.0")),
        ("timout", edit("timeout = \"1s\"", "timout = \"1s\"")),
        ("is_async", edit("count = 2", "count = 2\nis_async = true")),
    ];
    for (key, bad) in cases {
        let schema_says = v
            .check(&bad)
            .expect_err(&format!("the schema accepts `{key}`"));
        assert!(schema_says.contains(key), "{key}: {schema_says}");
        match scenario::load_str("t.toml", "t", &bad, &[]) {
            Ok(_) => panic!("the parser accepts `{key}`"),
            Err(e) => assert!(e.to_string().contains(key), "{key}: {e}"),
        }
    }
}

#[test]
fn duration_strings_are_checked_like_the_parser() {
    let v = Validator::shipped();
    for good in ["250ms", "1.5s", "2m", "1h", "10us", "1_000ns", "3min"] {
        let t = edit("value = \"5ms\"", &format!("value = \"{good}\""));
        v.check(&t).unwrap_or_else(|e| panic!("{good}: {e}"));
        scenario::load_str("t.toml", "t", &t, &[]).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in ["5", "5 ms", "ms", "5sec", "-5ms"] {
        let t = edit("value = \"5ms\"", &format!("value = \"{bad}\""));
        assert!(v.check(&t).is_err(), "the schema accepts {bad:?}");
        assert!(
            scenario::load_str("t.toml", "t", &t, &[]).is_err(),
            "the parser accepts {bad:?}"
        );
    }
    // A trace window's `start` and `end` may be times of day, not durations.
    let window = edit(
        "arrivals = { process = \"poisson\", rate = 10.0 }",
        "arrivals = { process = \"trace\", file = \"x.csv\", time_column = \"t\", start = \"09:01:00\", end = \"2023-11-16 09:02:00\" }",
    );
    v.check(&window)
        .expect("a trace window of times of day passes the schema");
}
/// The keys of `keys` that `doc` never names as `` `key` ``.
fn missing_from(doc: &str, keys: &BTreeSet<String>) -> Vec<String> {
    keys.iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .cloned()
        .collect()
}

#[test]
fn the_reference_names_every_key() {
    let keys = schema::keys(&schema::schema());
    assert!(keys.len() > 100, "the walk found only {keys:?}");
    let doc = std::fs::read_to_string(root().join("docs/scenario.md")).expect("docs/scenario.md");
    let missing = missing_from(&doc, &keys);
    assert!(
        missing.is_empty(),
        "docs/scenario.md does not name these keys of the schema (add a row `key` | type | default | meaning to its table): {missing:?}"
    );
}

/// The completeness check can fail: a fake reference with a row for every
/// key but one is caught, and so is a key mentioned without backticks.
#[test]
fn the_reference_check_catches_a_missing_key() {
    let keys = schema::keys(&schema::schema());
    let row = |k: &String| format!("| `{k}` | string | none | meaning |\n");
    let full: String = keys.iter().map(row).collect();
    assert!(missing_from(&full, &keys).is_empty());
    let without: String = keys
        .iter()
        .filter(|k| *k != "half_open_probes")
        .map(row)
        .collect();
    assert_eq!(missing_from(&without, &keys), ["half_open_probes"]);
    let bare = full.replace("`ttl`", "ttl");
    assert_eq!(missing_from(&bare, &keys), ["ttl"]);
}

#[test]
fn the_readme_points_at_the_schema_and_the_reference() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for needle in [
        "docs/scenario.md",
        "#:schema ./docs/scenario.schema.json",
        "evenBetterToml.schema.associations",
        "fleetsim schema > scenario.schema.json",
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle:?}");
    }
}
