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

use crate::store::FastMap;

/// Fewest texts held before a clean-up is worth its scan.
const MIN_CLEAN: usize = 1 << 16;

/// Numbers no text gets: the engine's own keys.
pub const RESERVED: u32 = 4;

/// Texts and their numbers.
#[derive(Debug, Default)]
pub struct Interner {
    // A seeded hash: the texts come from events.
    ids: FastMap<Box<str>, u32>,
    /// Numbers free for reuse (their texts were dropped).
    free: Vec<u32>,
    /// The next number never handed out.
    next: u32,
    /// Clean up when this many texts are held.
    clean_at: usize,
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
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.free.pop().unwrap_or_else(|| {
            let id = self.next;
            // More texts than numbers would take far more memory than any
            // machine has; the rules' caps keep the table far smaller.
            assert!(id < u32::MAX - RESERVED, "interner: numbers exhausted");
            self.next += 1;
            id
        });
        self.ids.insert(text.into(), id);
        id
    }

    /// Texts held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has grown enough since the last clean-up for one
    /// to be due.
    pub fn due(&self) -> bool {
        self.ids.len() >= self.clean_at
    }

    /// Keeps only the texts whose numbers `held` lists (sorted or not,
    /// repeats allowed); the others' numbers are free again.
    pub fn clean(&mut self, held: &mut Vec<u32>) {
        held.sort_unstable();
        held.dedup();
        let free = &mut self.free;
        self.ids.retain(|_, id| {
            let keep = held.binary_search(id).is_ok();
            if !keep {
                free.push(*id);
            }
            keep
        });
        self.clean_at = (2 * self.ids.len()).max(MIN_CLEAN);
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
    }
}
