//! Word hashes: every word of every message is hashed once, while it is
//! normalised, and that hash serves the normalisation lookup and the word
//! model (whose word pairs combine two word hashes instead of reading the
//! bytes again).
//!
//! FNV-1a, hand-written (ten lines, not worth a dependency): the keys are
//! short words from the agency's own pack, where std's SipHash costs more
//! than the lookup and its flooding resistance buys nothing.

pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes`, continuing from `h`.
pub fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A word's hash.
pub fn word(w: &str) -> u64 {
    fnv(FNV_START, w.as_bytes())
}

/// The hash of two words in a row, from theirs: order matters, and it is
/// mixed so that it does not meet a single word's hash.
pub fn pair(first: u64, second: u64) -> u64 {
    (first.rotate_left(23) ^ second ^ 0x5bd1_e995_0000_0001).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A `HashMap` hasher for keys that are these hashes already.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prehashed;

#[derive(Debug, Clone, Copy, Default)]
pub struct PrehashedHasher(u64);

impl std::hash::BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(self.0 ^ FNV_START, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A `HashMap` hasher for short strings: FNV-1a.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}
