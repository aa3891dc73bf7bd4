//! The message bus between the dispatcher, the control plane and the agents:
//! point-to-point messages with latency, loss and partitions, NATS-style
//! publish/subscribe with retention, and broadcast.

pub mod filter;
pub mod pattern;

pub use filter::{Filter, FilterError};
pub use pattern::{Pattern, PatternError, check_topic};

/// Message headers: a small key→value list kept sorted by key. Messages
/// carry a handful of headers, so a sorted `Vec` beats a map, and its order
/// is deterministic wherever it is printed or compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// These headers with `k` set to `v` (replacing an earlier value), so a
    /// message's headers can be written in one expression.
    pub fn with(mut self, k: &str, v: &str) -> Self {
        match self.0.binary_search_by(|(key, _)| key.as_str().cmp(k)) {
            Ok(i) => self.0[i].1 = v.to_owned(),
            Err(i) => self.0.insert(i, (k.to_owned(), v.to_owned())),
        }
        self
    }

    /// The value of `k`, if set.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(key, _)| key.as_str().cmp(k))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The headers in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_sorted_and_replace() {
        let h = Headers::new()
            .with("zone", "b")
            .with("app", "x")
            .with("mid", "m")
            .with("zone", "c");
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, [("app", "x"), ("mid", "m"), ("zone", "c")]);
        assert_eq!(h.get("zone"), Some("c"));
        assert_eq!(h.get("nope"), None);
        assert_eq!(h.len(), 3);
        assert!(Headers::new().is_empty());
        // Same headers in any insertion order are equal.
        assert_eq!(
            h,
            Headers::new()
                .with("mid", "m")
                .with("zone", "c")
                .with("app", "x")
        );
    }
}
