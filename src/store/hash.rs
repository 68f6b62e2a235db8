//! A small seeded hasher for the store's hot maps.
//!
//! The standard library's `SipHash` is slow on ARN-sized strings, and the
//! store hashes five or more per event. This is foldhash's folded-multiply
//! hash, keyed per store from `RandomState` (and per process by foldhash),
//! so attacker-chosen strings (user agents, session names) cannot be
//! precomputed to collide.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Builds [`FastHasher`]s sharing one random seed: a hash computed with
/// one (an identity's, a folded value's) means the same in every map.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    seed: u64,
}

impl FastState {
    pub fn random() -> Self {
        Self {
            seed: RandomState::new().hash_one(0x6b6d_7374_6f70_u64),
        }
    }
}

impl Default for FastState {
    fn default() -> Self {
        Self::random()
    }
}

/// foldhash's: 16 bytes a round where this crate's own took 8, most of
/// the store's time on ARN-long principals and keys.
pub type FastHasher = foldhash::fast::FoldHasher<'static>;

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher::with_seed(self.seed, foldhash::SharedSeed::global_random())
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
