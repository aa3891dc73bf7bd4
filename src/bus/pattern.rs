//! Topic patterns: NATS subjects, so that a scenario's topics read the way
//! operators already write them (`tasks.compute`, `health.>`).
//!
//! A topic is a `.`-separated list of non-empty tokens made of letters,
//! digits, `_` and `-`. A pattern may also use two wildcards, each a whole
//! token: `*` matches exactly one token, `>` matches one or more trailing
//! tokens and may only be last (so `a.>` matches `a.b` and `a.b.c`, never
//! `a`). Source: NATS "Subject-Based Messaging" (wildcards `*` and `>`).
//!
//! Patterns are parsed once, at subscribe or retain time; matching walks the
//! topic with `split('.')` and never allocates, because it runs once per
//! subscription on every publish.

use thiserror::Error;

/// Why a topic or pattern was refused. Each message says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PatternError {
    #[error("empty topic: write dot-separated tokens such as `tasks.compute`")]
    Empty,
    #[error(
        "`{input}` has an empty token (a leading, trailing or double `.`): \
         tokens are non-empty, as in `tasks.compute`"
    )]
    EmptyToken { input: String },
    #[error(
        "`{input}`: token `{token}` is not allowed: tokens are letters, digits, `_` and `-`; \
         the wildcards `*` and `>` must be whole tokens (`tasks.*`, not `tasks.comp*`)"
    )]
    BadToken { input: String, token: String },
    #[error(
        "`{input}`: `>` matches all trailing tokens, so it may only be the last token (`tasks.>`)"
    )]
    TailNotLast { input: String },
    #[error("`{input}` is a pattern, not a topic: publish on a concrete topic without `*` or `>`")]
    Wildcard { input: String },
}

/// One token of a parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(Box<str>),
    /// `*`: exactly one token.
    One,
    /// `>`: one or more trailing tokens.
    Tail,
}

/// A parsed topic pattern. Parse once, match many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    tokens: Vec<Token>,
}

/// A token of a concrete topic: letters, digits, `_`, `-`, not empty.
fn is_topic_token(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Pattern {
    /// Parse a pattern; a concrete topic is a valid pattern that matches only
    /// itself.
    pub fn parse(s: &str) -> Result<Pattern, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        // Empty tokens first: a stray dot is the likeliest typo.
        if s.split('.').any(str::is_empty) {
            return Err(PatternError::EmptyToken {
                input: s.to_owned(),
            });
        }
        let mut tokens = Vec::new();
        let count = s.split('.').count();
        for (i, t) in s.split('.').enumerate() {
            let token = match t {
                "*" => Token::One,
                ">" if i + 1 == count => Token::Tail,
                ">" => {
                    return Err(PatternError::TailNotLast {
                        input: s.to_owned(),
                    });
                }
                t if is_topic_token(t) => Token::Literal(t.into()),
                t => {
                    return Err(PatternError::BadToken {
                        input: s.to_owned(),
                        token: t.to_owned(),
                    });
                }
            };
            tokens.push(token);
        }
        Ok(Pattern {
            text: s.into(),
            tokens,
        })
    }

    /// Does `topic` match? An invalid topic (empty token, bad character,
    /// wildcard) matches nothing, so a wildcard can never stand in for an
    /// empty token.
    pub fn matches(&self, topic: &str) -> bool {
        let mut parts = topic.split('.');
        for token in &self.tokens {
            match token {
                Token::Tail => {
                    // One or more further tokens, all valid.
                    let mut n = 0usize;
                    for p in parts.by_ref() {
                        if !is_topic_token(p) {
                            return false;
                        }
                        n += 1;
                    }
                    return n > 0;
                }
                Token::One => match parts.next() {
                    Some(p) if is_topic_token(p) => {}
                    _ => return false,
                },
                // A literal is a valid token, so equality implies validity.
                Token::Literal(l) => match parts.next() {
                    Some(p) if p == &**l => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }

    /// True if the pattern has no wildcard, i.e. it names one topic.
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Literal(_)))
    }

    /// The pattern as written, for messages and reports.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Check that `topic` is a concrete topic one can publish on: valid tokens
/// and no wildcard (a message goes to one topic; subscribers hold patterns).
/// Runs on every publish, so it checks in place and allocates only to
/// report an error.
pub fn check_topic(topic: &str) -> Result<(), PatternError> {
    if topic.is_empty() {
        return Err(PatternError::Empty);
    }
    if topic.split('.').any(str::is_empty) {
        return Err(PatternError::EmptyToken {
            input: topic.to_owned(),
        });
    }
    for t in topic.split('.') {
        if t == "*" || t == ">" {
            return Err(PatternError::Wildcard {
                input: topic.to_owned(),
            });
        }
        if !is_topic_token(t) {
            return Err(PatternError::BadToken {
                input: topic.to_owned(),
                token: t.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_matches() {
        // (pattern, topic, matches)
        let table: &[(&str, &str, bool)] = &[
            // exact
            ("tasks.compute", "tasks.compute", true),
            ("tasks.compute", "tasks.io", false),
            ("tasks.compute", "tasks", false),
            ("tasks.compute", "tasks.compute.x", false),
            ("health.agent-17", "health.agent-17", true),
            ("a_b", "a_b", true),
            // `*` in the middle
            ("health.*.up", "health.agent-1.up", true),
            ("health.*.up", "health.agent-1.down", false),
            ("health.*.up", "health.up", false),
            // `*` does not match two tokens
            ("health.*.up", "health.a.b.up", false),
            // `*` at the end
            ("tasks.*", "tasks.compute", true),
            ("tasks.*", "tasks", false),
            ("tasks.*", "tasks.compute.gpu", false),
            ("*", "tasks", true),
            ("*", "tasks.compute", false),
            ("*.*", "a.b", true),
            // `>`: one or several tokens, never zero
            ("a.>", "a.b", true),
            ("a.>", "a.b.c", true),
            ("a.>", "a.b.c.d", true),
            ("a.>", "a", false),
            ("a.>", "b.c", false),
            (">", "a", true),
            (">", "a.b.c", true),
            ("*.>", "a", false),
            ("*.>", "a.b", true),
            ("a.*.>", "a.b.c", true),
            ("a.*.>", "a.b", false),
            // invalid topics match nothing, even under wildcards
            ("a.*.c", "a..c", false),
            ("a.>", "a.", false),
            ("a.>", "a.b..c", false),
            ("*", "", false),
            (">", "", false),
            ("a.*", "a.*", false),
            ("a.*", "a.>", false),
            ("a.>", "a.b c", false),
        ];
        for &(pattern, topic, expected) in table {
            let p = Pattern::parse(pattern).unwrap();
            assert_eq!(
                p.matches(topic),
                expected,
                "pattern `{pattern}` on topic `{topic}`"
            );
        }
    }

    #[test]
    fn literal_and_display() {
        let p = Pattern::parse("tasks.compute").unwrap();
        assert!(p.is_literal());
        assert_eq!(p.to_string(), "tasks.compute");
        assert_eq!(p.as_str(), "tasks.compute");
        assert!(!Pattern::parse("tasks.*").unwrap().is_literal());
        assert!(!Pattern::parse("tasks.>").unwrap().is_literal());
    }

    #[test]
    fn every_error() {
        let empty_token = |s: &str| PatternError::EmptyToken { input: s.into() };
        let bad = |s: &str, t: &str| PatternError::BadToken {
            input: s.into(),
            token: t.into(),
        };
        let table: Vec<(&str, PatternError)> = vec![
            ("", PatternError::Empty),
            (".", empty_token(".")),
            ("a..b", empty_token("a..b")),
            (".a", empty_token(".a")),
            ("a.", empty_token("a.")),
            ("a.>.", empty_token("a.>.")),
            ("ta*", bad("ta*", "ta*")),
            ("tasks.comp*", bad("tasks.comp*", "comp*")),
            ("a.>b", bad("a.>b", ">b")),
            ("a.**", bad("a.**", "**")),
            ("a b", bad("a b", "a b")),
            ("a.é", bad("a.é", "é")),
            ("a/b", bad("a/b", "a/b")),
            (
                "a.>.b",
                PatternError::TailNotLast {
                    input: "a.>.b".into(),
                },
            ),
            (
                ">.>",
                PatternError::TailNotLast {
                    input: ">.>".into(),
                },
            ),
        ];
        for (input, expected) in table {
            assert_eq!(Pattern::parse(input), Err(expected), "pattern `{input}`");
        }
    }

    #[test]
    fn topics_are_literal_patterns() {
        assert_eq!(check_topic("tasks.compute"), Ok(()));
        assert_eq!(check_topic("health.agent-17"), Ok(()));
        assert_eq!(
            check_topic("tasks.*"),
            Err(PatternError::Wildcard {
                input: "tasks.*".into()
            })
        );
        assert_eq!(
            check_topic(">"),
            Err(PatternError::Wildcard { input: ">".into() })
        );
        assert_eq!(check_topic(""), Err(PatternError::Empty));
        assert!(matches!(
            check_topic("a..b"),
            Err(PatternError::EmptyToken { .. })
        ));
        assert_eq!(
            check_topic("a.>.b"),
            Err(PatternError::Wildcard {
                input: "a.>.b".into()
            })
        );
        assert_eq!(
            check_topic("ta*"),
            Err(PatternError::BadToken {
                input: "ta*".into(),
                token: "ta*".into()
            })
        );
    }

    #[test]
    fn messages_say_what_is_allowed() {
        let msg = Pattern::parse("ta*").unwrap_err().to_string();
        assert!(msg.contains("letters, digits"), "{msg}");
        assert!(msg.contains("whole tokens"), "{msg}");
        let msg = Pattern::parse("a.>.b").unwrap_err().to_string();
        assert!(msg.contains("last token"), "{msg}");
    }
}
