//! Discovery: the load balancer, the service registry (TTL leases), the
//! health monitor and the circuit breaker. Each is a sans-IO component:
//! `now` is an argument and randomness is passed in (docs/architecture.md). The
//! registry, health monitor and breaker are complete components with their
//! own tests; wiring them into the world comes with agent failure models.

pub mod balancer;
pub mod breaker;
pub mod health;
pub mod registry;
