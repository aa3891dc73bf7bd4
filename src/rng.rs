//! Randomness: a root [`Seed`], named ChaCha streams derived from it, and the
//! samplers that scenarios name: the distributions of [`Dist`] (in
//! `rng/dist.rs`, with the incomplete gamma function in `rng/gamma.rs`)
//! and weighted choice.
//!
//! Why named streams: every consumer of randomness (`"arrivals"`,
//! `"work"`, `"lb/random"`, ...) draws from its own stream, so adding a draw
//! in one place never shifts the numbers seen in another, and two strategies
//! compared on one seed see the same tasks (common random numbers). A stream
//! is ChaCha8 keyed by the root seed (expanded with SplitMix64) with the
//! ChaCha stream id set to the 64-bit FNV-1a hash of the name; all of it is
//! written out here, so a stream's numbers stay the same across versions of
//! this code that keep its name.
//!
//! Floats come from the top 53 bits of a `u64` and transcendental functions
//! from `libm` (a pure-Rust port of musl's), not the platform's C library,
//! so the same seed gives the same bits on every machine.
//!
//! Sources: ChaCha (Bernstein 2008, `rand_chacha`); SplitMix64 (Steele, Lea &
//! Flood 2014); the inverse normal CDF of Acklam (2003) with one Halley step;
//! lognormal from median and p99 via `sigma = ln(p99/median) / z(0.99)`.

pub mod block;
pub mod dist;
pub mod gamma;
pub mod ln;
mod residual;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use dist::{Dist, Empirical, Phase, Quantile};

/// The root seed of a run. Streams and replication seeds derive from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seed(pub u64);

/// A named random stream (ChaCha8).
pub type Stream = ChaCha8Rng;

impl Seed {
    /// The stream called `name`. The same seed and name always give the same
    /// numbers.
    pub fn stream(self, name: &str) -> Stream {
        self.stream_at(stream_id(name), 0)
    }

    /// The stream [`Seed::stream`] gives for a name whose [`stream_id`] is
    /// `id`, after its first `word_pos` 32-bit words
    /// (`Stream::get_word_pos`): the same draws from there on. A
    /// stream drawn from rarely can be kept as that position (24 bytes)
    /// instead of as a generator (over 300), and read from there with
    /// [`block::Key::cursor`], which computes only the block it reads.
    pub fn stream_at(self, id: u64, word_pos: u128) -> Stream {
        let mut rng = ChaCha8Rng::from_seed(self.key_bytes());
        rng.set_stream(id);
        if word_pos != 0 {
            rng.set_word_pos(word_pos);
        }
        rng
    }

    /// The ChaCha key of this seed's streams: the root seed expanded by
    /// SplitMix64, four `u64`s little-endian.
    pub fn key_bytes(self) -> [u8; 32] {
        let mut state = self.0;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        key
    }

    /// The seed of replication `r`: replication 0 is the root seed itself, so
    /// a single run and the first replication agree.
    pub fn replication(self, r: u32) -> Seed {
        if r == 0 {
            return self;
        }
        let mut state = self.0 ^ fnv1a64(format!("replication/{r}").as_bytes());
        Seed(splitmix64(&mut state))
    }
}

/// SplitMix64: a good 64-bit mixer, used to expand seeds.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream number of the stream named `name` (see [`Seed::stream`]).
pub fn stream_id(name: &str) -> u64 {
    fnv1a64(name.as_bytes())
}

/// 64-bit FNV-1a: a stable hash of a stream name.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_on(0xcbf2_9ce4_8422_2325, bytes)
}

/// [`fnv1a64`] of a name that starts with the bytes whose hash is `h`
/// and goes on with `bytes`: names that share a prefix (a fleet's
/// `availability/agent-N`) hash it once.
pub fn fnv1a64_on(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A uniform float in `[0, 1)` from the top 53 bits of one `u64`.
#[inline]
pub fn unit(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The `k`-th of a family of uniform draws in `[0, 1)` named by one
/// `u64` (SplitMix64 of `seed + k·γ`): a task draws its seed once and each
/// attempt reads its own draw, so attempt `k` of a task sees the same draw
/// whatever happened to other tasks.
#[inline]
pub fn unit_at(seed: u64, k: u32) -> f64 {
    let mut state = seed.wrapping_add(u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (splitmix64(&mut state) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `[0, n)` (Lemire's multiply-shift with rejection, so
/// it is unbiased). `n` must be positive.
#[inline]
pub fn below(rng: &mut impl Rng, n: u64) -> u64 {
    assert!(n > 0, "below(0) has no values");
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// The standard normal quantile z(0.99).
pub const Z99: f64 = 2.326_347_874_040_841;

/// The standard normal quantile function (inverse CDF), accurate to about
/// 1e-15 relative after one Halley refinement of Acklam's approximation.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = libm::sqrt(-2.0 * libm::log1p(-p));
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step against the exact CDF.
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * libm::sqrt(2.0 * std::f64::consts::PI) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

/// Weighted choice among a fixed set of options by cumulative weights.
#[derive(Clone, Debug)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// `None` if no weight is positive, or any is negative or not finite.
    pub fn new(weights: &[f64]) -> Option<Weighted> {
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return None;
        }
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        (total > 0.0).then_some(Weighted { cumulative })
    }

    /// The one option [`Self::pick_at`] can return, if only one raises
    /// the running total (a single positive weight, say): it is returned
    /// for every `q` in `[0, 1)`, so there is nothing to draw. (The
    /// cumulative weights are 0 before it and `total` from it on, and
    /// `q · total < total` in floating point: the exact product is at most
    /// `total · (1 − 2⁻⁵³)`, which rounds below `total`.)
    pub fn certain(&self) -> Option<usize> {
        let mut before = 0.0;
        let mut positive = self.cumulative.iter().enumerate().filter(|&(_, &c)| {
            let grows = c > before;
            before = c;
            grows
        });
        let (i, _) = positive.next()?;
        positive.next().is_none().then_some(i)
    }

    /// The option at quantile `q` in `[0, 1)`.
    pub fn pick_at(&self, q: f64) -> usize {
        let total = *self.cumulative.last().expect("weights are not empty");
        let x = q * total;
        // The first index whose cumulative weight exceeds x; skips zero weights.
        let i = self.cumulative.partition_point(|&c| c <= x);
        i.min(self.cumulative.len() - 1)
    }

    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        self.pick_at(unit(rng))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_goes_on_from_its_prefix() {
        for (prefix, rest) in [
            ("availability/agent-", "0"),
            ("", "x"),
            ("a/b", "12345"),
            ("q", ""),
        ] {
            let whole = format!("{prefix}{rest}");
            assert_eq!(
                fnv1a64_on(fnv1a64(prefix.as_bytes()), rest.as_bytes()),
                fnv1a64(whole.as_bytes())
            );
        }
        assert_eq!(
            stream_id("availability/agent-7"),
            fnv1a64_on(fnv1a64(b"availability/agent-"), b"7")
        );
    }

    use super::*;

    /// A stream opened at a word position draws what the stream itself
    /// draws from there, whatever mix of 32- and 64-bit draws came before
    /// (`rng::block` reads streams the same way and is tested against it).
    #[test]
    fn a_stream_opened_at_a_position_draws_what_the_stream_draws() {
        let seed = Seed(23);
        for (k, id) in [7u64, 0, u64::MAX, 12345].into_iter().enumerate() {
            let mut whole = seed.stream_at(id, 0);
            for _ in 0..70 {
                if k % 2 == 0 {
                    whole.next_u32();
                } else {
                    unit(&mut whole);
                }
                let pos = whole.get_word_pos();
                let mut opened = seed.stream_at(id, pos);
                let mut copy = whole.clone();
                for _ in 0..20 {
                    assert_eq!(opened.next_u32(), copy.next_u32(), "stream {id} at {pos}");
                }
            }
        }
    }

    #[test]
    fn a_stream_resumes_at_its_word_position() {
        let seed = Seed(11);
        let mut whole = seed.stream("availability/agent-7");
        for k in 0..200u32 {
            let pos = whole.get_word_pos();
            let mut resumed = seed.stream_at(stream_id("availability/agent-7"), pos);
            assert_eq!(
                resumed.next_u64(),
                whole.clone().next_u64(),
                "at word {pos}"
            );
            if k % 3 == 0 {
                whole.next_u32();
            } else {
                unit(&mut whole);
            }
        }
    }

    #[test]
    fn streams_are_stable_and_independent() {
        let seed = Seed(42);
        let a: Vec<u64> = (0..4).map(|_| seed.stream("arrivals").next_u64()).collect();
        // Same name, same numbers.
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = seed.stream("arrivals");
        let mut y = seed.stream("work");
        let mut z = Seed(43).stream("arrivals");
        let (vx, vy, vz) = (x.next_u64(), y.next_u64(), z.next_u64());
        assert_ne!(vx, vy);
        assert_ne!(vx, vz);
        // FNV-1a's published test vectors: stream ids must never change.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn replication_zero_is_the_root() {
        assert_eq!(Seed(7).replication(0), Seed(7));
        assert_ne!(Seed(7).replication(1), Seed(7));
        assert_ne!(Seed(7).replication(1), Seed(7).replication(2));
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut rng = Seed(1).stream("t");
        let mut seen = [0u32; 7];
        for _ in 0..70_000 {
            seen[below(&mut rng, 7) as usize] += 1;
        }
        for c in seen {
            assert!((9_000..11_000).contains(&c), "{seen:?}");
        }
    }

    #[test]
    fn unit_is_in_range_with_the_right_mean() {
        let mut rng = Seed(2).stream("t");
        let n = 200_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = unit(&mut rng);
            assert!((0.0..1.0).contains(&u));
            sum += u;
        }
        // sd of the mean = sqrt(1/12/n) ~ 0.00065; 5 sd.
        assert!((sum / n as f64 - 0.5).abs() < 0.0033);
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!((normal_quantile(0.5)).abs() < 1e-15);
        assert!((normal_quantile(0.99) - Z99).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-11);
        assert!((normal_quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-9);
    }

    #[test]
    fn exponential_samples_have_the_right_mean() {
        use crate::time::Duration;
        let e = Dist::Exponential {
            mean: Duration::from_millis(1),
        };
        let mut rng = Seed(3).stream("t");
        let n = 400_000;
        let sum: f64 = (0..n).map(|_| e.sample(&mut rng).as_nanos() as f64).sum();
        // sd of the mean = mean / sqrt(n) = 0.16%; allow 5 sd.
        let rel = (sum / n as f64 - 1e6).abs() / 1e6;
        assert!(rel < 0.008, "relative error {rel}");
    }

    #[test]
    fn weighted_choice_follows_the_weights_and_skips_zeros() {
        let w = Weighted::new(&[0.0, 1.0, 0.0, 3.0]).unwrap();
        assert_eq!(w.pick_at(0.0), 1);
        assert_eq!(w.pick_at(0.2499), 1);
        assert_eq!(w.pick_at(0.25), 3);
        assert_eq!(w.pick_at(0.9999), 3);
        assert!(Weighted::new(&[0.0, 0.0]).is_none());
        assert!(Weighted::new(&[-1.0, 2.0]).is_none());
        let mut rng = Seed(4).stream("t");
        let n = 100_000;
        let threes = (0..n).filter(|_| w.sample(&mut rng) == 3).count();
        assert!((threes as f64 / n as f64 - 0.75).abs() < 0.01);
    }

    /// One positive weight: `certain` names it, and `pick_at` gives it at
    /// every quantile, up to the largest `unit` can return, whatever the
    /// total (powers of two and not, tiny and huge).
    #[test]
    fn a_single_positive_weight_is_certain() {
        let top = 1.0 - f64::EPSILON / 2.0; // (2⁵³ − 1) / 2⁵³
        let mut rng = Seed(9).stream("t");
        for total in [1.0, 0.3, 3.0, 7.0, 1e-300, 1e300, 0.1 + 0.2] {
            for at in 0..4 {
                let mut weights = [0.0; 4];
                weights[at] = total;
                let w = Weighted::new(&weights).unwrap();
                assert_eq!(w.certain(), Some(at), "{weights:?}");
                for q in [0.0, 0.5, top]
                    .into_iter()
                    .chain((0..1000).map(|_| unit(&mut rng)))
                {
                    assert_eq!(w.pick_at(q), at, "{weights:?} at {q}");
                }
            }
        }
        assert_eq!(
            Weighted::new(&[0.0, 1.0, 0.0, 3.0]).unwrap().certain(),
            None
        );
        // A weight too small to raise the running total is never picked.
        let w = Weighted::new(&[1.0, 1e-300]).unwrap();
        assert_eq!(w.certain(), Some(0));
        assert_eq!(w.pick_at(top), 0);
    }
}
