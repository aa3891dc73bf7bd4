//! Round robin: each eligible backend in turn, starting from the first: the
//! first eligible backend at or after the cursor, cyclically, then the cursor
//! moves just past it. O(1) when the backend under the cursor is eligible,
//! else O(log n), found by descending [`Loads`]' tree (whose ineligible
//! leaves hold a sentinel).

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
        let i = loads.next_eligible(self.next % loads.len())?;
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

    #[test]
    fn skips_the_ineligible_and_resumes_past_the_last_pick() {
        use super::super::{Balancer, Strategy};
        let mut b = Balancer::new(Strategy::RoundRobin, &[1.0; 5]);
        let mut rng = Seed(0).stream("t");
        assert_eq!(b.pick(Instant::ZERO, &mut rng), Some(0));
        b.set_eligible(1, false);
        b.set_eligible(3, false);
        let got: Vec<_> = (0..5)
            .map(|_| b.pick(Instant::ZERO, &mut rng).unwrap())
            .collect();
        assert_eq!(got, vec![2, 4, 0, 2, 4]);
        b.set_eligible(4, false);
        b.set_eligible(1, true);
        let got: Vec<_> = (0..4)
            .map(|_| b.pick(Instant::ZERO, &mut rng).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![0, 1, 2, 0],
            "from the cursor, wrapping past the end"
        );
    }
}
