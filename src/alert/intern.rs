//! Numbers for the texts rule state is keyed by (principals, keys,
//! networks, groups), so that a rule's maps hash and compare four bytes
//! instead of a hundred-byte ARN, and an event's text is hashed once for
//! every rule rather than once per rule.
//!
//! A number stands for one text for as long as any rule holds it. The
//! table is bounded by what the rules hold: when it has grown to twice
//! what was held at the last clean-up, the engine lists every number its
//! rules still hold ([`Interner::clean`]) and the others are dropped and
//! their numbers reused. Nothing a rule decides depends on which number a
//! text gets, only on two texts getting the same number exactly when they
//! are equal, so a clean-up changes no verdict.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::store::FastState;

/// Fewest texts held before a clean-up is worth its scan.
const MIN_CLEAN: usize = 1 << 16;

/// Numbers no text gets: the engine's own keys.
pub const RESERVED: u32 = 4;

/// Texts and their numbers.
///
/// The texts sit in a list by number, and the table holds only the
/// numbers (4 bytes a slot, found by their texts' hashes): a map from
/// each text to its number took 24 bytes a slot, 20 MB at its peak over
/// a corpus whose rules held 240,000 texts.
#[derive(Debug, Default)]
pub struct Interner {
    /// Each number's text; `None` while the number is free.
    texts: Vec<Option<Box<str>>>,
    /// The held texts' numbers. A seeded hash: the texts come from events.
    table: HashTable<u32>,
    hasher: FastState,
    /// Numbers free for reuse (their texts were dropped).
    free: Vec<u32>,
    /// Clean up when this many texts are held.
    clean_at: usize,
}

/// The text numbered `id` in `texts`.
fn text_of(texts: &[Option<Box<str>>], id: u32) -> &str {
    texts
        .get(id as usize)
        .and_then(Option::as_deref)
        .unwrap_or_default()
}

impl Interner {
    pub fn new() -> Self {
        Self {
            clean_at: MIN_CLEAN,
            ..Self::default()
        }
    }

    /// The number of `text`, given it one if it has none.
    pub fn id(&mut self, text: &str) -> u32 {
        let Self {
            texts,
            table,
            hasher,
            free,
            ..
        } = self;
        let hash = hasher.hash_one(text);
        if let Some(&id) = table.find(hash, |&id| text_of(texts, id) == text) {
            return id;
        }
        let id = if let Some(id) = free.pop() {
            if let Some(slot) = texts.get_mut(id as usize) {
                *slot = Some(text.into());
            }
            id
        } else {
            let id = u32::try_from(texts.len()).unwrap_or(u32::MAX);
            // More texts than numbers would take far more memory than any
            // machine has; the rules' caps keep the table far smaller.
            assert!(id < u32::MAX - RESERVED, "interner: numbers exhausted");
            texts.push(Some(text.into()));
            id
        };
        table.insert_unique(hash, id, |&id| hasher.hash_one(text_of(texts, id)));
        id
    }

    /// Texts held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table has grown enough since the last clean-up for one
    /// to be due.
    pub fn due(&self) -> bool {
        self.table.len() >= self.clean_at
    }

    /// Keeps only the texts whose numbers `held` lists (sorted or not,
    /// repeats allowed); the others' numbers are free again.
    pub fn clean(&mut self, held: &mut Vec<u32>) {
        held.sort_unstable();
        held.dedup();
        let Self {
            texts, table, free, ..
        } = self;
        table.retain(|id| {
            let keep = held.binary_search(id).is_ok();
            if !keep {
                if let Some(slot) = texts.get_mut(*id as usize) {
                    *slot = None;
                }
                free.push(*id);
            }
            keep
        });
        self.clean_at = (2 * self.table.len()).max(MIN_CLEAN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_a_number_and_cleaning_keeps_held_ones() {
        let mut interner = Interner::new();
        let a = interner.id("a");
        let b = interner.id("b");
        assert_ne!(a, b);
        assert_eq!(interner.id("a"), a);
        interner.clean(&mut vec![b]);
        assert_eq!(interner.len(), 1);
        assert_eq!(interner.id("b"), b, "held: same number");
        let c = interner.id("c");
        assert_eq!(c, a, "a's number is free again");
        let again = interner.id("a");
        assert!(again != b && again != c, "a new number for a dropped text");
        assert_eq!(interner.len(), 3);
        // Many texts, through growth and a clean-up: each keeps its number.
        let ids: Vec<u32> = (0..5_000).map(|i| interner.id(&format!("t{i}"))).collect();
        let mut held: Vec<u32> = ids.iter().copied().step_by(2).collect();
        interner.clean(&mut held);
        for (i, &id) in ids.iter().enumerate().step_by(2) {
            assert_eq!(interner.id(&format!("t{i}")), id);
        }
        assert_eq!(interner.len(), 2_500);
    }
}
