//! Least connections: the backend with the fewest requests in flight, the
//! lowest index on ties. O(1) per pick: [`Loads`] keeps an argmin tree.

use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
pub struct LeastConnections;

impl Pick for LeastConnections {
    #[inline]
    fn pick(&mut self, _now: Instant, loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        loads.argmin()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Balancer, Strategy};
    use crate::rng::Seed;
    use crate::time::{Duration, Instant};

    #[test]
    fn fills_the_idle_backends_first() {
        let mut b = Balancer::new(Strategy::LeastConnections, &[1.0; 3]);
        let mut rng = Seed(0).stream("t");
        let t = Instant::ZERO;
        let mut got = Vec::new();
        for _ in 0..4 {
            let i = b.pick(t, &mut rng).unwrap();
            b.on_dispatch(t, i);
            got.push(i);
        }
        assert_eq!(got, vec![0, 1, 2, 0]);
        b.on_complete(t, 2, Duration::ZERO);
        assert_eq!(b.pick(t, &mut rng), Some(2));
    }
}
