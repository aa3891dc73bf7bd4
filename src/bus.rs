//! The message bus between the dispatcher, the control plane and the agents:
//! point-to-point messages with latency, loss and partitions, NATS-style
//! publish/subscribe with retention, and broadcast.

pub mod pattern;

pub use pattern::{Pattern, PatternError, check_topic};
