//! Integration tests: one binary, files by topic.

mod architecture;
mod bus;
mod calls;
mod calls_scale;
mod charts;
mod check;
mod cli;
mod compare;
mod control_plane_broker;
mod control_plane_dispatcher;
mod control_plane_fleet;
mod control_plane_health;
mod control_plane_tags;
mod determinism;
mod discovery;
mod distributions;
mod fit;
mod orchestration;
mod pubsub;
mod scenario_errors;
mod schema;
mod support;
mod sweep;
mod theory;
mod traces;
mod work;
