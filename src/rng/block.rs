//! A named stream read from any position, one ChaCha8 block at a time.
//!
//! Why: an agent's availability stream is drawn from once per up or down
//! change, a few times a run, and a fleet of 100,000 agents cannot keep a
//! generator (over 300 bytes) per agent. Each agent keeps its stream's
//! position instead. Moving a `rand_chacha` generator there generates four
//! blocks (its buffer) for the one or two words a change draws, and setting
//! the stream up costs as much again: about 150 ns a change, and 14 ms of
//! setting up 100,000 agents. [`Cursor`] computes only the block the next
//! word is in.
//!
//! It reads the same words as [`crate::rng::Seed::stream_at`]: ChaCha with
//! eight rounds, the 256-bit key from the seed, a 64-bit block counter in
//! the state's words 12 and 13 and the 64-bit stream id in words 14 and 15
//! (Bernstein's original layout, as `rand_chacha` has it), and a `u64` is
//! two consecutive words, low first, across a block's end too (as
//! `rand_core`'s block generators give them). A test checks it against
//! `rand_chacha` at many streams and positions.

use crate::rng::Seed;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The key of a seed's streams, to open [`Cursor`]s with.
#[derive(Clone, Copy, Debug)]
pub struct Key([u32; 8]);

impl Key {
    /// The key every stream of `seed` has.
    pub fn of(seed: Seed) -> Key {
        let bytes = seed.key_bytes();
        let mut key = [0u32; 8];
        for (k, chunk) in key.iter_mut().zip(bytes.chunks_exact(4)) {
            *k = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
        Key(key)
    }

    /// Stream `id` (see [`crate::rng::stream_id`]) from its `word_pos`-th
    /// 32-bit word: the words `seed.stream_at(id, word_pos)` draws.
    pub fn cursor(&self, id: u64, word_pos: u64) -> Cursor {
        Cursor {
            key: *self,
            id,
            pos: word_pos,
            block: [0; 16],
            held: None,
        }
    }

    /// Block `counter` of stream `id`: 16 words.
    fn block(&self, id: u64, counter: u64) -> [u32; 16] {
        let k = self.0;
        let input = [
            SIGMA[0],
            SIGMA[1],
            SIGMA[2],
            SIGMA[3],
            k[0],
            k[1],
            k[2],
            k[3],
            k[4],
            k[5],
            k[6],
            k[7],
            counter as u32,
            (counter >> 32) as u32,
            id as u32,
            (id >> 32) as u32,
        ];
        let mut x = input;
        // Eight rounds: four of columns, four of diagonals, alternating.
        for _ in 0..4 {
            quarter(&mut x, 0, 4, 8, 12);
            quarter(&mut x, 1, 5, 9, 13);
            quarter(&mut x, 2, 6, 10, 14);
            quarter(&mut x, 3, 7, 11, 15);
            quarter(&mut x, 0, 5, 10, 15);
            quarter(&mut x, 1, 6, 11, 12);
            quarter(&mut x, 2, 7, 8, 13);
            quarter(&mut x, 3, 4, 9, 14);
        }
        for (out, inp) in x.iter_mut().zip(input) {
            *out = out.wrapping_add(inp);
        }
        x
    }
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// A stream read from a position: a random-number generator (`rand`'s
/// `Rng`) that computes each block as its first word is read.
#[derive(Clone, Debug)]
pub struct Cursor {
    key: Key,
    id: u64,
    /// The next word's position in the stream.
    pos: u64,
    /// The block `held` holds, if any.
    block: [u32; 16],
    held: Option<u64>,
}

impl Cursor {
    /// The next word's position: where to open the stream again to go on.
    pub fn word_pos(&self) -> u64 {
        self.pos
    }

    #[inline]
    fn next_word(&mut self) -> u32 {
        let counter = self.pos / 16;
        if self.held != Some(counter) {
            self.block = self.key.block(self.id, counter);
            self.held = Some(counter);
        }
        let w = self.block[(self.pos % 16) as usize];
        self.pos = self.pos.wrapping_add(1);
        w
    }
}

impl rand::TryRng for Cursor {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_word())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let lo = self.next_word();
        let hi = self.next_word();
        Ok((u64::from(hi) << 32) | u64::from(lo))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        // Whole words, low byte first; a last partial word is used up
        // (as `rand_core`'s block generators fill bytes).
        for chunk in dst.chunks_mut(4) {
            let w = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream_id;
    use rand::Rng;

    #[test]
    fn reads_what_rand_chacha_reads() {
        // Many streams and positions, across block and 4-block buffer
        // ends, with u32, u64 and byte draws mixed.
        for seed in [0u64, 1, 42, u64::MAX] {
            let key = Key::of(Seed(seed));
            for name in ["availability/agent-0", "availability/agent-99999", "x"] {
                let id = stream_id(name);
                for start in [0u64, 1, 14, 15, 16, 31, 63, 64, 65, 1_000_003] {
                    let mut want = Seed(seed).stream_at(id, u128::from(start));
                    let mut got = key.cursor(id, start);
                    for step in 0..150u32 {
                        match step % 5 {
                            0 | 3 => assert_eq!(got.next_u64(), want.next_u64()),
                            1 => assert_eq!(got.next_u32(), want.next_u32()),
                            2 => {
                                let (mut a, mut b) = ([0u8; 7], [0u8; 7]);
                                got.fill_bytes(&mut a);
                                want.fill_bytes(&mut b);
                                assert_eq!(a, b);
                            }
                            _ => {
                                assert_eq!(crate::rng::unit(&mut got), crate::rng::unit(&mut want))
                            }
                        }
                        let at = u64::try_from(want.get_word_pos()).unwrap();
                        assert_eq!(got.word_pos(), at, "seed {seed}, {name}, from {start}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_cursor_reopened_at_its_position_goes_on_alike() {
        let key = Key::of(Seed(7));
        let id = stream_id("availability/agent-3");
        let mut whole = key.cursor(id, 0);
        let all: Vec<u64> = (0..40).map(|_| whole.next_u64()).collect();
        let mut pos = 0;
        let mut pieces = Vec::new();
        for n in [1, 7, 8, 3, 21] {
            let mut c = key.cursor(id, pos);
            pieces.extend((0..n).map(|_| c.next_u64()));
            pos = c.word_pos();
        }
        assert_eq!(pieces, all);
    }
}
