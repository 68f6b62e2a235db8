//! The heaviest values past an interner's cap (a space-saving sketch).
//!
//! An interner names the first values it meets up to its cap; the rest fold
//! into `(other)`. Without this, whoever fills the cap first — a flood of
//! forged source IPs, say — decides which values are named, and the one
//! address that makes most of the denied calls afterwards hides inside
//! `(other)`. The sketch follows the folded values' frequencies in bounded
//! space (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent
//! and top-k elements in data streams", 2005): every value with more than
//! 1/`SLOTS` of the folded sightings is in it, and its count is known to
//! within the slot's error. Such a value earns a name of its own.

use super::hash::FastMap;

/// How many values a dimension capped at `cap` may name in all: the cap,
/// plus an eighth of it (at least one, at most 256) for heavy values
/// met after the cap filled.
pub fn named_limit(cap: usize) -> usize {
    cap + (cap / 8).clamp(1, 256)
}
/// Counters kept: values with over 1/64 of the folded sightings are caught.
const SLOTS: usize = 64;
/// Sightings a value must have, beyond doubt, before it is named: one-off
/// values in a flood never qualify.
const PROMOTE_AFTER: u64 = 16;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    count: u64,
    /// How much of `count` may belong to the values this slot held before.
    error: u64,
}

#[derive(Debug, Default)]
pub(super) struct HeavyFolded {
    slots: Vec<Slot>,
    by_hash: FastMap<u64, usize>,
    /// Folded sightings counted (decayed with the counts).
    total: u64,
}

impl HeavyFolded {
    /// Counts one sighting of the folded value with hash `hash`; true when
    /// it is now, beyond doubt, heavy enough to be named: seen at least
    /// [`PROMOTE_AFTER`] times and more than its share of a full sketch.
    pub fn sighting(&mut self, hash: u64) -> bool {
        self.total += 1;
        let index = if let Some(&i) = self.by_hash.get(&hash) {
            self.slots[i].count += 1;
            i
        } else if self.slots.len() < SLOTS {
            self.slots.push(Slot {
                hash,
                count: 1,
                error: 0,
            });
            self.by_hash.insert(hash, self.slots.len() - 1);
            self.slots.len() - 1
        } else {
            // Replace the smallest: the newcomer inherits its count as error.
            let (i, min) = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.count)
                .map(|(i, s)| (i, *s))
                .unwrap_or_default();
            self.by_hash.remove(&min.hash);
            self.by_hash.insert(hash, i);
            self.slots[i] = Slot {
                hash,
                count: min.count + 1,
                error: min.count,
            };
            i
        };
        let sure = self.slots[index].count - self.slots[index].error;
        sure >= PROMOTE_AFTER && sure * SLOTS as u64 > self.total
    }

    /// The value was named: it is no longer folded.
    pub fn forget(&mut self, hash: u64) {
        if let Some(i) = self.by_hash.remove(&hash) {
            self.total -= self.slots[i].count - self.slots[i].error;
            self.slots.swap_remove(i);
            if let Some(moved) = self.slots.get(i) {
                self.by_hash.insert(moved.hash, i);
            }
        }
    }

    /// Halves every count, so old floods weigh less than what happens now;
    /// called as old buckets leave retention.
    pub fn decay(&mut self) {
        self.total /= 2;
        for s in &mut self.slots {
            s.count /= 2;
            s.error /= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heavy_value_in_a_flood_of_one_offs_is_caught() {
        let mut h = HeavyFolded::default();
        // One in ten sightings is the heavy value 7; the rest are new.
        let caught_at = (0..10_000u64).find(|i| {
            let hash = if i % 10 == 0 { 7 } else { 1_000 + i };
            let heavy = h.sighting(hash);
            assert!(!heavy || hash == 7, "{hash} named");
            heavy
        });
        let at = caught_at.expect("the heavy value is caught");
        assert!(at < 1_000, "caught after {at} sightings");
    }

    #[test]
    fn one_offs_never_qualify() {
        let mut h = HeavyFolded::default();
        assert!((0..100_000u64).all(|i| !h.sighting(i)));
    }

    #[test]
    fn a_forgotten_value_starts_again() {
        let mut h = HeavyFolded::default();
        assert!((0..PROMOTE_AFTER).any(|_| h.sighting(1)));
        h.forget(1);
        assert!(!h.sighting(1));
        assert_eq!(h.total, 1);
    }
}
