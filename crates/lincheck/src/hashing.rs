//! Cheap hashing for the search's cache, which hashes a configuration on every step.
//!
//! The standard library's SipHash resists hash flooding, which a checker fed its own test
//! histories does not need, and it dominated the search's profile. The set of placed operations
//! is hashed incrementally (Zobrist): each operation has a fixed random key, and the set's hash
//! is the XOR of its members' keys, updated in O(1) when one is placed or removed.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A multiply-rotate hasher in the style of rustc's FxHasher: fast, not flood-resistant.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FastHasher`]s for standard collections.
pub(crate) type BuildFastHasher = BuildHasherDefault<FastHasher>;

/// Hashes one value with [`FastHasher`].
pub(crate) fn fast_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FastHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The Zobrist key of operation `i`: a fixed pseudo-random word (splitmix64 of `i`).
pub(crate) fn zobrist_key(i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_ones_differ() {
        assert_eq!(fast_hash(&vec![1i64, 2, 3]), fast_hash(&vec![1i64, 2, 3]));
        assert_ne!(fast_hash(&vec![1i64, 2, 3]), fast_hash(&vec![1i64, 3, 2]));
        assert_ne!(fast_hash("ab"), fast_hash("ba"));
    }

    #[test]
    fn zobrist_keys_are_distinct() {
        let keys: std::collections::HashSet<u64> = (0..10_000).map(zobrist_key).collect();
        assert_eq!(keys.len(), 10_000);
    }
}
