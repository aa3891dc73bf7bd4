//! Least connections: the eligible backend with the fewest requests in
//! flight, the lowest index on ties. O(1) per pick: [`Loads`] keeps an argmin
//! tree over packed `(load, index)` words in which ineligible backends hold a
//! sentinel (O(log n) per dispatch, completion or eligibility change).

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

    #[test]
    fn skips_the_ineligible_however_idle() {
        let mut b = Balancer::new(Strategy::LeastConnections, &[1.0; 3]);
        let mut rng = Seed(0).stream("t");
        let t = Instant::ZERO;
        b.on_dispatch(t, 1);
        b.on_dispatch(t, 2);
        b.set_eligible(0, false);
        assert_eq!(b.pick(t, &mut rng), Some(1));
        // Its load still counts while it is out, and when it is back.
        b.on_dispatch(t, 0);
        b.on_dispatch(t, 0);
        b.set_eligible(0, true);
        assert_eq!(b.inflight(0), 2);
        assert_eq!(b.pick(t, &mut rng), Some(1));
        b.on_complete(t, 0, Duration::ZERO);
        b.on_complete(t, 0, Duration::ZERO);
        assert_eq!(b.pick(t, &mut rng), Some(0));
    }
}
