//! Header filters: a subscriber narrows a topic pattern to the messages whose
//! headers it cares about (`region=eu, priority=high|urgent, !canary`),
//! so agents need not receive and discard what is not theirs.
//!
//! A filter is a comma-separated list of conditions, all of which must hold:
//! `key=value`, `key=a|b|c` (one of), `key!=value` (also true when the key is
//! absent; `key!=a|b` is none of), `key` (present) and `!key` (absent).
//! Whitespace around tokens is ignored. The syntax follows Kubernetes
//! label selectors (`=`, `!=`, `key`, `!key`) with `|` for sets.
//!
//! Keys are letters, digits, `_`, `-`, `.`, `/` and `:`; values are any text
//! without `,`, `|`, `=` or `!` (those would make a condition ambiguous).

use thiserror::Error;

use super::Headers;

/// Why a filter was refused. Each message says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FilterError {
    #[error(
        "empty filter: give conditions such as `region=eu, !canary`, or no filter to take every message"
    )]
    Empty,
    #[error("condition {position} is empty: remove the extra `,`")]
    EmptyCondition { position: usize },
    #[error("`{condition}`: the key is empty; write `key=value`, `key!=value`, `key` or `!key`")]
    EmptyKey { condition: String },
    #[error(
        "`{condition}`: `{op}` needs a value after it (`region{op}eu`); to test presence write `key` or `!key`"
    )]
    MissingValue { condition: String, op: &'static str },
    #[error(
        "`{condition}`: empty alternative in `|`; write `key=a|b|c` with every value non-empty"
    )]
    EmptyAlternative { condition: String },
    #[error(
        "`{condition}`: key `{key}` is not allowed: keys are letters, digits, `_`, `-`, `.`, `/` and `:`"
    )]
    BadKey { condition: String, key: String },
    #[error("`{condition}`: value `{value}` may not contain `,`, `|`, `=` or `!`")]
    BadValue { condition: String, value: String },
}

/// One condition on the headers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    /// The key is present with one of these values.
    OneOf {
        key: String,
        values: Vec<String>,
    },
    /// The key is absent, or its value is none of these.
    NoneOf {
        key: String,
        values: Vec<String>,
    },
    Present(String),
    Absent(String),
}

impl Condition {
    fn holds(&self, h: &Headers) -> bool {
        match self {
            Condition::OneOf { key, values } => {
                h.get(key).is_some_and(|v| values.iter().any(|x| x == v))
            }
            Condition::NoneOf { key, values } => {
                h.get(key).is_none_or(|v| values.iter().all(|x| x != v))
            }
            Condition::Present(key) => h.get(key).is_some(),
            Condition::Absent(key) => h.get(key).is_none(),
        }
    }
}

/// A parsed header filter: every condition must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    conditions: Vec<Condition>,
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':'))
}

fn check_key(condition: &str, key: &str) -> Result<String, FilterError> {
    if key.is_empty() {
        Err(FilterError::EmptyKey {
            condition: condition.to_owned(),
        })
    } else if is_key(key) {
        Ok(key.to_owned())
    } else {
        Err(FilterError::BadKey {
            condition: condition.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// The `|`-separated values after `op`, each trimmed and non-empty.
fn values(condition: &str, op: &'static str, rest: &str) -> Result<Vec<String>, FilterError> {
    if rest.trim().is_empty() {
        return Err(FilterError::MissingValue {
            condition: condition.to_owned(),
            op,
        });
    }
    rest.split('|')
        .map(|v| {
            let v = v.trim();
            if v.is_empty() {
                Err(FilterError::EmptyAlternative {
                    condition: condition.to_owned(),
                })
            } else if v.contains(['=', '!', ',']) {
                Err(FilterError::BadValue {
                    condition: condition.to_owned(),
                    value: v.to_owned(),
                })
            } else {
                Ok(v.to_owned())
            }
        })
        .collect()
}

fn condition(c: &str) -> Result<Condition, FilterError> {
    if let Some((key, rest)) = c.split_once("!=") {
        let key = check_key(c, key.trim())?;
        let values = values(c, "!=", rest)?;
        Ok(Condition::NoneOf { key, values })
    } else if let Some((key, rest)) = c.split_once('=') {
        let key = check_key(c, key.trim())?;
        let values = values(c, "=", rest)?;
        Ok(Condition::OneOf { key, values })
    } else if let Some(key) = c.strip_prefix('!') {
        Ok(Condition::Absent(check_key(c, key.trim())?))
    } else {
        Ok(Condition::Present(check_key(c, c)?))
    }
}

impl Filter {
    /// Parse a comma-separated list of conditions.
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        if s.trim().is_empty() {
            return Err(FilterError::Empty);
        }
        let conditions = s
            .split(',')
            .enumerate()
            .map(|(i, c)| {
                let c = c.trim();
                if c.is_empty() {
                    Err(FilterError::EmptyCondition { position: i + 1 })
                } else {
                    condition(c)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { conditions })
    }

    /// Do the headers pass? Runs once per matching subscription on every
    /// publish, so it compares in place and never allocates.
    pub fn matches(&self, h: &Headers) -> bool {
        self.conditions.iter().all(|c| c.holds(h))
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Filter, FilterError> {
        Filter::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_matches() {
        let h = Headers::new()
            .with("region", "eu")
            .with("priority", "high")
            .with("tier", "premium");
        let none = Headers::new();
        // (filter, matches h, matches no headers)
        let table: &[(&str, bool, bool)] = &[
            ("region=eu", true, false),
            ("region=us", false, false),
            ("region!=us", true, true),
            ("region!=eu", false, true),
            ("region!=us|eu", false, true),
            ("region!=us|ap", true, true),
            ("priority=low|high", true, false),
            ("priority=low|normal", false, false),
            ("region", true, false),
            ("canary", false, false),
            ("!canary", true, true),
            ("!region", false, true),
            ("region=eu,priority=high", true, false),
            ("region=eu,priority=low", false, false),
            ("region=eu, !canary, tier", true, false),
            ("  region = eu ,  priority = low | high  ", true, false),
            ("! region", false, true),
            ("region != eu", false, true),
        ];
        for &(f, on_h, on_none) in table {
            let filter = Filter::parse(f).unwrap();
            assert_eq!(filter.matches(&h), on_h, "filter `{f}` on {h:?}");
            assert_eq!(filter.matches(&none), on_none, "filter `{f}` on no headers");
        }
    }

    #[test]
    fn parse_errors() {
        let table: Vec<(&str, FilterError)> = vec![
            ("", FilterError::Empty),
            ("   ", FilterError::Empty),
            ("a=1,,b", FilterError::EmptyCondition { position: 2 }),
            ("a=1,", FilterError::EmptyCondition { position: 2 }),
            (",a", FilterError::EmptyCondition { position: 1 }),
            (
                "=eu",
                FilterError::EmptyKey {
                    condition: "=eu".into(),
                },
            ),
            (
                "!=eu",
                FilterError::EmptyKey {
                    condition: "!=eu".into(),
                },
            ),
            (
                "!",
                FilterError::EmptyKey {
                    condition: "!".into(),
                },
            ),
            (
                "region=",
                FilterError::MissingValue {
                    condition: "region=".into(),
                    op: "=",
                },
            ),
            (
                "region= ",
                FilterError::MissingValue {
                    condition: "region=".into(),
                    op: "=",
                },
            ),
            (
                "region!=",
                FilterError::MissingValue {
                    condition: "region!=".into(),
                    op: "!=",
                },
            ),
            (
                "region=eu||us",
                FilterError::EmptyAlternative {
                    condition: "region=eu||us".into(),
                },
            ),
            (
                "region=eu|",
                FilterError::EmptyAlternative {
                    condition: "region=eu|".into(),
                },
            ),
            (
                "region==eu",
                FilterError::BadValue {
                    condition: "region==eu".into(),
                    value: "=eu".into(),
                },
            ),
            (
                "region=!eu",
                FilterError::BadValue {
                    condition: "region=!eu".into(),
                    value: "!eu".into(),
                },
            ),
            (
                "my key=1",
                FilterError::BadKey {
                    condition: "my key=1".into(),
                    key: "my key".into(),
                },
            ),
            (
                "a|b",
                FilterError::BadKey {
                    condition: "a|b".into(),
                    key: "a|b".into(),
                },
            ),
            (
                "!!a",
                FilterError::BadKey {
                    condition: "!!a".into(),
                    key: "!a".into(),
                },
            ),
        ];
        for (input, expected) in table {
            assert_eq!(Filter::parse(input), Err(expected), "filter `{input}`");
        }
    }

    #[test]
    fn messages_say_what_to_write() {
        let msg = Filter::parse("region=").unwrap_err().to_string();
        assert!(msg.contains("needs a value"), "{msg}");
        let msg = Filter::parse("=eu").unwrap_err().to_string();
        assert!(msg.contains("key is empty"), "{msg}");
        assert_eq!("region=eu".parse::<Filter>(), Filter::parse("region=eu"));
    }
}
