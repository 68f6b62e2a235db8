//! A small seeded hasher for the store's hot maps.
//!
//! The standard library's `SipHash` is slow on ARN-sized strings, and the
//! store hashes five or more per event. This is a folded-multiply hash (the construction foldhash and wyhash use)
//! keyed per store from `RandomState`, so attacker-chosen strings (user
//! agents, session names) cannot be precomputed to collide.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Builds [`FastHasher`]s sharing one random seed.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    seed: u64,
}

impl FastState {
    pub fn random() -> Self {
        Self {
            seed: RandomState::new().hash_one(0x6b6d_7374_6f70_u64) | 1,
        }
    }
}

impl Default for FastState {
    fn default() -> Self {
        Self::random()
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher { acc: self.seed }
    }
}

#[derive(Debug, Clone)]
pub struct FastHasher {
    acc: u64,
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.acc = fold(self.acc ^ u64::from_le_bytes(w), MUL);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.acc = fold(self.acc ^ u64::from_le_bytes(w), MUL ^ rest.len() as u64);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.acc = fold(self.acc ^ i, MUL);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // One more round so the last word's bits reach the low bits that
        // hashbrown uses for its bucket index.
        fold(self.acc, MUL.rotate_left(17))
    }
}

pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
pub type FastSet<K> = std::collections::HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_inputs_hash_equal_and_lengths_matter() {
        let s = FastState::random();
        assert_eq!(s.hash_one("abc"), s.hash_one("abc"));
        assert_ne!(s.hash_one("abc"), s.hash_one("abd"));
        assert_ne!(s.hash_one(("a", "bc")), s.hash_one(("ab", "c")));
    }
}
