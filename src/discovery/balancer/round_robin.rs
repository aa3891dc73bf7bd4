//! Round robin: each backend in turn, starting from the first.

use super::{Loads, Pick};
use crate::rng::Stream;
use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    pub fn new(_n: usize) -> Self {
        RoundRobin { next: 0 }
    }
}

impl Pick for RoundRobin {
    #[inline]
    fn pick(&mut self, _now: Instant, loads: &Loads, _rng: &mut Stream) -> Option<usize> {
        let i = self.next % loads.len();
        self.next = i + 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn cycles_in_order() {
        let mut rr = RoundRobin::new(3);
        let loads = Loads::new(3);
        let mut rng = Seed(0).stream("t");
        let got: Vec<_> = (0..7)
            .map(|_| rr.pick(Instant::ZERO, &loads, &mut rng).unwrap())
            .collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
    }
}
