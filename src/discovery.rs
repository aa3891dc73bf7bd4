//! Discovery: the load balancer (and, as the layer grows, the service
//! registry, health monitor and circuit breaker). Each is a sans-IO
//! component: `now` is an argument and randomness is passed in (DESIGN.md).

pub mod balancer;
pub mod breaker;
pub mod health;
