//! Encryption-context pairs counted per principal and per key: what was
//! decrypted (`aws:s3:arn`, `SecretARN`, `aws:dynamodb:tableName`, …).
//!
//! Keys and values are interned once for the whole store (values have a cap
//! like any dimension); each entity keeps at most `cap` distinct pairs and
//! counts the rest in `other`, so `sum(pairs) + other` is exactly the
//! number of pairs seen.

use super::hash::{FastMap, FastState};

/// What [`ContextTable::add`] did with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairAdded {
    /// First sighting: the table now holds a reference on the pair's ids.
    New,
    Existing,
    /// The table was full; the pair was counted in `other`.
    Full,
}

#[derive(Debug, Clone)]
pub struct ContextTable {
    pairs: FastMap<(u32, u32), u64>,
    other: u64,
}

impl ContextTable {
    pub fn new(hasher: FastState) -> Self {
        Self {
            pairs: FastMap::with_hasher(hasher),
            other: 0,
        }
    }

    /// Counts one pair.
    pub fn add(&mut self, pair: (u32, u32), cap: usize) -> PairAdded {
        if let Some(n) = self.pairs.get_mut(&pair) {
            *n += 1;
            return PairAdded::Existing;
        }
        if self.pairs.len() >= cap {
            self.other += 1;
            return PairAdded::Full;
        }
        self.pairs.insert(pair, 1);
        PairAdded::New
    }

    pub fn pairs(&self) -> impl Iterator<Item = ((u32, u32), u64)> + '_ {
        self.pairs.iter().map(|(&p, &n)| (p, n))
    }

    pub fn other(&self) -> u64 {
        self.other
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.other == 0
    }

    /// Empties the table, handing back the pairs so their ids can be released.
    pub fn take_pairs(&mut self) -> Vec<(u32, u32)> {
        self.other = 0;
        self.pairs.drain().map(|(p, _)| p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_counts_the_rest_as_other() {
        let mut t = ContextTable::new(FastState::random());
        assert_eq!(t.add((1, 2), 2), PairAdded::New);
        assert_eq!(t.add((1, 2), 2), PairAdded::Existing);
        assert_eq!(t.add((1, 3), 2), PairAdded::New);
        assert_eq!(t.add((1, 4), 2), PairAdded::Full);
        assert_eq!(t.other(), 1);
        let total: u64 = t.pairs().map(|(_, n)| n).sum::<u64>() + t.other();
        assert_eq!(total, 4);
    }
}
