//! The JSON Schema of the scenario file, generated from the serde mirror in
//! [`super::raw`] (schemars derives it beside `Deserialize`, honouring the
//! serde attributes), so the schema cannot drift from the parser.
//!
//! Why: editors (taplo, "Even Better TOML") complete and check scenario
//! files against it. It describes the file only: `--set` overrides are
//! applied to the parsed TOML and then read by the same types.
//! `docs/scenario.schema.json` is this output, kept equal by a test.

use serde_json::Value;

use super::raw::RawScenario;

/// The schema as a JSON value (draft 2020-12). TOML has no null, so an
/// optional key is simply not required, never `"type": [..., "null"]`.
pub fn schema() -> Value {
    let mut schema = schemars::schema_for!(RawScenario).to_value();
    drop_null(&mut schema);
    schema
}

/// Remove what schemars adds for `Option`: `"null"` from a `type` list,
/// and the `{"type": "null"}` branch of an `anyOf` (leaving the single
/// `$ref` in place of the `anyOf`).
fn drop_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(branches)) = map.get_mut("anyOf") {
                branches.retain(|b| b.get("type").is_none_or(|t| t != "null"));
                if branches.len() == 1
                    && let Value::Object(only) = branches.remove(0)
                {
                    map.remove("anyOf");
                    map.extend(only);
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// The schema as pretty JSON ending in a newline: what `fleetsim schema`
/// prints and `docs/scenario.schema.json` holds.
pub fn json() -> String {
    let mut s =
        serde_json::to_string_pretty(&schema()).expect("a serde_json::Value always serializes");
    s.push('\n');
    s
}

/// Every key name the schema allows in a table: the `properties` names of
/// every object schema, found by walking the whole document (so `$defs`
/// and whatever refers to them are covered), sorted and deduplicated.
/// Names of map entries (`[capabilities.NAME]`, topic headers) are data,
/// not keys, and are not listed.
pub fn keys(schema: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    walk(schema, &mut out);
    out
}

fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "properties"
                    && let Value::Object(props) = child
                {
                    out.extend(props.keys().cloned());
                }
                walk(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
        _ => {}
    }
}

/// The names of the keys that take a duration string somewhere in the
/// file (a `pattern` on the value, its array items or one of its `anyOf`
/// branches), and of those whose value is an array somewhere: what the
/// error messages need to tell a number written for a duration, and
/// `[[a]]` written for a table. By name, like the messages that use them.
pub struct KeyKinds {
    pub durations: std::collections::BTreeSet<String>,
    pub arrays: std::collections::BTreeSet<String>,
}

/// [`KeyKinds`] of the scenario schema, computed once (only error
/// messages ask).
pub fn key_kinds() -> &'static KeyKinds {
    static KINDS: std::sync::OnceLock<KeyKinds> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        let mut kinds = KeyKinds {
            durations: Default::default(),
            arrays: Default::default(),
        };
        let root = schema();
        classify(&root, &root, &mut kinds);
        kinds
    })
}

fn classify(root: &Value, v: &Value, kinds: &mut KeyKinds) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    if takes_duration(root, prop) {
                        kinds.durations.insert(name.clone());
                    }
                    if prop.get("type").is_some_and(|t| t == "array") {
                        kinds.arrays.insert(name.clone());
                    }
                }
            }
            map.values().for_each(|child| classify(root, child, kinds));
        }
        Value::Array(items) => items.iter().for_each(|i| classify(root, i, kinds)),
        _ => {}
    }
}

/// Whether `prop` (or what its `$ref` names) is a duration string, an
/// array of them, or may be one.
fn takes_duration(root: &Value, prop: &Value) -> bool {
    let prop = match prop.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(prop),
        None => prop,
    };
    prop.get("pattern").is_some()
        || prop.get("items").is_some_and(|i| takes_duration(root, i))
        || prop
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(|x| takes_duration(root, x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds_find_durations_and_arrays_at_every_depth() {
        let k = key_kinds();
        // Top level, a tier (`mttr` is a duration or a table), a
        // distribution, arrays of durations, a nested $ref.
        for d in [
            "duration",
            "drain",
            "mttr",
            "mean",
            "p99",
            "means",
            "values",
            "every",
            "heartbeat",
            "bucket",
            "for",
            "pause",
            "cooldown",
            "open_for",
            "max_delay",
            "window",
        ] {
            assert!(k.durations.contains(d), "{d} not a duration key");
        }
        for d in ["count", "rate", "shape", "name", "tiers", "probs"] {
            assert!(!k.durations.contains(d), "{d} taken for a duration key");
        }
        for a in [
            "tiers",
            "calls",
            "faults",
            "autoscale",
            "topics",
            "subscriptions",
            "jobs",
            "streams",
            "stages",
            "changes",
            "means",
            "probs",
            "weights",
            "after",
            "tags",
        ] {
            assert!(k.arrays.contains(a), "{a} not an array key");
        }
        for a in ["workload", "fleet", "balancer", "arrivals", "service_time"] {
            assert!(!k.arrays.contains(a), "{a} taken for an array key");
        }
    }

    #[test]
    fn keys_walks_defs_and_renames() {
        let k = keys(&schema());
        // Top level, a $defs entry, serde renames, a nested $ref.
        for key in [
            "seed",
            "tiers",
            "async",
            "loop",
            "for",
            "otherwise",
            "min_per_s",
        ] {
            assert!(k.contains(key), "{key} missing from {k:?}");
        }
        for field in ["is_async", "looped", "for_"] {
            assert!(
                !k.contains(field),
                "the Rust name {field} leaked into the schema"
            );
        }
    }

    #[test]
    fn duration_strings_carry_the_pattern() {
        let s = json();
        assert!(s.contains(&serde_json::to_string(super::super::raw::DURATION).unwrap()));
    }
}
