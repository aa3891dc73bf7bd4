//! The whole text of the errors for ten common scenario mistakes: the
//! `file:line:col: key.path: message` line, the source line with a caret
//! under the span (rustc's layout), and a "did you mean" help where a name
//! is a near miss. Each goes through the library and through
//! `fleetsim validate`, which must exit with 2 and print the same text.

use std::path::Path;

use fleetsim::scenario::{self, Override, ScenarioError};

use super::support::{fleetsim, text};

use crate::support::BASE;

/// BASE with `from` replaced by `to` (which must occur).
fn base_with(from: &str, to: &str) -> Vec<u8> {
    assert!(BASE.contains(from), "{from:?} is not in BASE");
    BASE.replacen(from, to, 1).into_bytes()
}

/// `bytes` as `bad.toml` gives exactly `expected`, from the library and
/// from `fleetsim validate bad.toml` (exit code 2, then the tally line).
fn assert_error(bytes: &[u8], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bytes).unwrap();

    let err = match scenario::load_file(&path, &[]) {
        Ok(_) => panic!("expected an error for:\n{}", String::from_utf8_lossy(bytes)),
        Err(e) => e,
    };
    assert!(matches!(err, ScenarioError::Invalid(_)), "{err}");
    let prefix = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
    let got = err.to_string().replace(&prefix, "");
    assert_eq!(got, expected, "library text:\n{got}");

    let out = fleetsim(dir.path(), &["validate", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("{expected}\n1 of 1 scenario(s) invalid\n")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_misspelled_key_suggests_the_real_one() {
    assert_error(
        &base_with("service_time", "service_tme"),
        "bad.toml:7:1: fleet.tiers[0].service_tme: unknown field `service_tme`, expected one of \
`name`, `count`, `weight`, `concurrency`, `service_time`, `error_rate`, `capabilities`, `tags`, \
`uptime`, `mttr`, `calls`, `async`, `finish_time`
 --> bad.toml:7:1
  |
7 | service_tme = { dist = \"constant\", value = \"5ms\" }
  | ^^^^^^^^^^^
  |
  = help: did you mean `service_time`?",
    );
}

#[test]
fn a_misspelled_strategy_suggests_the_real_one() {
    let mut bytes = BASE.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n[balancer]\nstrategy = \"p2cc\"\n");
    assert_error(
        &bytes,
        "bad.toml:14:12: balancer.strategy: unknown strategy `p2cc`; one of round_robin, \
least_connections, weighted, random, weighted_random, p2c, peak_ewma
  --> bad.toml:14:12
   |
14 | strategy = \"p2cc\"
   |            ^^^^^^
   |
   = help: did you mean `p2c`?",
    );
}

#[test]
fn a_duration_without_a_unit_asks_for_one() {
    assert_error(
        &base_with("\"5ms\"", "\"5\""),
        "bad.toml:7:45: fleet.tiers[0].service_time.value: `5` has no unit; add one of ns, us, ms, \
s, m, h (e.g. \"5ms\")
 --> bad.toml:7:45
  |
7 | service_time = { dist = \"constant\", value = \"5\" }
  |                                             ^^^",
    );
}

#[test]
fn a_number_for_a_duration_asks_for_a_string_with_a_unit() {
    assert_error(
        &base_with("duration = \"10s\"", "duration = 60"),
        "bad.toml:2:12: duration: is the number 60; a duration is a string with a unit, e.g. \
\"60s\" or \"60ms\"
 --> bad.toml:2:12
  |
2 | duration = 60
  |            ^^",
    );
}

#[test]
fn a_single_table_for_an_array_of_tables_asks_for_double_brackets() {
    assert_error(
        &base_with("[[fleet.tiers]]", "[fleet.tiers]"),
        "bad.toml:4:1: fleet.tiers: `[fleet.tiers]` is a single table, but `fleet.tiers` is an \
array of tables: write `[[fleet.tiers]]` (double brackets) above each entry
 --> bad.toml:4:1
  |
4 | [fleet.tiers]
  | ^^^^^^^^^^^^^",
    );
}

#[test]
fn an_unclosed_inline_table_points_where_it_began() {
    assert_error(
        &base_with("value = \"5ms\" }", "value = \"5ms\""),
        "bad.toml:8:1: missing comma between key-value pairs, expected `,`
 --> bad.toml:8:1
  |
7 | service_time = { dist = \"constant\", value = \"5ms\"
  |                - this inline table starts here; is its `}` missing?
8 | capabilities = [\"compute\"]
  | ^",
    );
}

#[test]
fn a_wrong_type_names_the_expected_one() {
    assert_error(
        &base_with("count = 2", "count = \"two\""),
        "bad.toml:6:9: fleet.tiers[0].count: invalid type: string \"two\", expected a whole number \
from 0 to 4294967295
 --> bad.toml:6:9
  |
6 | count = \"two\"
  |         ^^^^^",
    );
}

#[test]
fn an_out_of_range_value_says_what_is_allowed() {
    assert_error(
        &base_with("rate = 10.0", "rate = -3.0"),
        "bad.toml:11:42: workload.arrivals.rate: is -3; a rate must be a number greater than 0 \
(tasks per second)
  --> bad.toml:11:42
   |
11 | arrivals = { process = \"poisson\", rate = -3.0 }
   |                                          ^^^^",
    );
}

#[test]
fn an_unknown_fault_kind_suggests_the_real_one() {
    let mut bytes = BASE.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"\n[[faults]]\nkind = \"crsh\"\nat = \"1s\"\ntarget = { tier = \"a\", fraction = 0.5 }\n",
    );
    assert_error(
        &bytes,
        "bad.toml:14:8: faults[0].kind: unknown fault kind `crsh`; one of crash, recover, slow, \
partition, dispatcher_down, broker_down, drain, join, rolling_restart
  --> bad.toml:14:8
   |
14 | kind = \"crsh\"
   |        ^^^^^^
   |
   = help: did you mean `crash`?",
    );
}

#[test]
fn invalid_utf8_names_the_byte_its_offset_and_line() {
    let mut bytes = BASE.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xE9\n");
    assert_eq!(BASE.len() + 5, 213);
    assert_error(
        &bytes,
        "bad.toml:12:6: the file is not UTF-8: byte 0xE9 at offset 213 is not valid UTF-8
  --> bad.toml:12:6
   |
12 | # caf\u{FFFD}
   |      ^
   |
   = help: save the file as UTF-8",
    );
}

/// A `--set` argument is shown instead of a file line, the caret under its
/// value; a path that cannot be set has the caret under the path.
#[test]
fn a_set_argument_is_shown_with_the_caret_under_the_value() {
    let set = |s: &str| -> Vec<Override> { vec![s.parse().unwrap()] };
    let err = scenario::load_str("t.toml", "t", BASE, &set("balancer.strategy=p2cc")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml (--set balancer.strategy=p2cc): balancer.strategy: unknown strategy `p2cc`; one \
of round_robin, least_connections, weighted, random, weighted_random, p2c, peak_ewma
  |
  | --set balancer.strategy=p2cc
  |                         ^^^^
  |
  = help: did you mean `p2c`?"
    );
    let err = scenario::load_str("t.toml", "t", BASE, &set("name.x=1")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml (--set name.x=1): name.x: `name` is string, not a table
  |
  | --set name.x=1
  |       ^^^^^^"
    );

    // The binary prints the same under `error:` and exits with 2.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.toml"), BASE).unwrap();
    let out = fleetsim(
        dir.path(),
        &["run", "ok.toml", "--set", "balancer.strategy=p2cc"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(
            "error: ok.toml (--set balancer.strategy=p2cc): balancer.strategy: unknown strategy"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("  = help: did you mean `p2c`?"));
    assert!(!dir.path().join("reports").exists());
}

/// `[[workload]]` for the table `[workload]`, and problems after one
/// another with a blank line after each excerpt.
#[test]
fn a_table_written_as_an_array_and_several_problems() {
    let text = BASE.replace("[workload]", "[[workload]]");
    let err = scenario::load_str("t.toml", "t", &text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml:10:1: workload: `[[workload]]` makes an array of tables, but `workload` is one \
table: write `[workload]`
  --> t.toml:10:1
   |
10 | [[workload]]
   | ^^^^^^^^^^^^"
    );

    let text = BASE
        .replace("count = 2", "count = 0")
        .replace("\"poisson\"", "\"poison\"");
    let err = scenario::load_str("t.toml", "t", &text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml:4:1: fleet.tiers: every tier has count = 0; the fleet needs at least one agent
 --> t.toml:4:1
  |
4 | [[fleet.tiers]]
  | ^^^^^^^^^^^^^^^

t.toml:11:24: workload.arrivals.process: unknown arrival process `poison`; one of poisson, \
constant, bursts, ramp, diurnal, trace
  --> t.toml:11:24
   |
11 | arrivals = { process = \"poison\", rate = 10.0 }
   |                        ^^^^^^^^
   |
   = help: did you mean `poisson`?"
    );
}

#[test]
fn a_missing_file_is_still_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = scenario::load_file(Path::new(&dir.path().join("none.toml")), &[]).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }), "{err}");
}

/// An array or a multi-line string left open: the error is where the
/// parser gave up, the excerpt also marks where it was opened.
#[test]
fn unclosed_arrays_and_strings_point_where_they_began() {
    let text = BASE.replace("[\"compute\"]", "[\"compute\",");
    let err = scenario::load_str("t.toml", "t", &text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml:11:1: missing comma between array elements, expected `,`
  --> t.toml:11:1
   |
 8 | capabilities = [\"compute\",
   |                - this array starts here; is its `]` missing?
...
11 | arrivals = { process = \"poisson\", rate = 10.0 }
   | ^"
    );
    let text = BASE.replace("name = \"base\"", "description = \"\"\"an open string");
    let err = scenario::load_str("t.toml", "t", &text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml:11:48: invalid multi-line basic string, expected `\"`
  --> t.toml:11:48
   |
 1 | description = \"\"\"an open string
   |               - this string starts here; is its closing quote missing?
...
11 | arrivals = { process = \"poisson\", rate = 10.0 }
   |                                                ^"
    );
}

/// A `--vary` value that is a near miss gets the help line too.
#[test]
fn a_vary_value_gets_the_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.toml"), BASE).unwrap();
    let out = fleetsim(
        dir.path(),
        &[
            "sweep",
            "ok.toml",
            "--vary",
            "balancer.strategy=p2c,rond_robin",
            "--replications",
            "1",
            "--out",
            "o",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: ok.toml (--vary balancer.strategy=rond_robin): balancer.strategy: unknown \
strategy `rond_robin`; one of round_robin, least_connections, weighted, random, \
weighted_random, p2c, peak_ewma\n  = help: did you mean `round_robin`?\n"
    );
}
