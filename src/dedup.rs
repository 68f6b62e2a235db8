//! Remembering which events were already counted, across reader threads,
//! exactly, at any volume.
//!
//! Copies of one record (a file synced twice, `.json` beside `.json.gz`,
//! overlapping downloads under other names) may arrive in any order and
//! any distance apart, so nothing is ever forgotten: a forgetting set
//! counted a day of logs with overlapping copies ~1.5× once it passed its
//! size. Each identity is held as an 84-bit keyed hash (80 bits stored, 4
//! more choose the shard) under keys drawn per run, so no one who writes
//! records can aim two different events at one hash and hide the second;
//! by chance two of a billion events share one with odds under 1 in
//! 10 million.
//!
//! Beside each identity sits a 32-bit fingerprint of what the report
//! counts of it (caller, key, outcome, address, region, account, user
//! agent), so a copy that disagrees with the one counted is told apart
//! from a plain copy: someone may have edited one of them. A slot is 14
//! bytes, 15 with the table's control byte (24 and 25 before): 63 MB
//! where three million events took 105 MB.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Mutex;

use crate::event::{EventIdentity, Substance};

const SHARDS: usize = 16;

/// A concurrent set of event identities.
pub struct SeenSet {
    shards: Vec<Mutex<HashMap<Id, [u8; 4], Passthrough>>>,
    keys: (RandomState, RandomState),
}

/// What a sighting of an event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// Its identity was not seen before: count it.
    First,
    /// A copy of a counted event, the same in everything counted.
    Copy,
    /// A copy that disagrees with the one counted (same identity, another
    /// caller, key, outcome, address, region, account or user agent).
    Conflict,
}

/// An identity's keyed hash as bytes, so a slot (with its fingerprint,
/// bytes too) packs into 14 bytes: the first eight are the map's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Id([u8; 10]);

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut low = [0; 8];
        low.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(low));
    }
}

/// The set's own hasher: its keys are already keyed hashes, so their low
/// bits serve as they are (hashing them again cost as much as the rest).
#[derive(Default, Clone, Copy)]
struct Passthrough;

impl BuildHasher for Passthrough {
    type Hasher = Low64;
    fn build_hasher(&self) -> Low64 {
        Low64(0)
    }
}

#[derive(Default)]
struct Low64(u64);

impl std::hash::Hasher for Low64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}

impl Default for SeenSet {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(Passthrough)))
                .collect(),
            keys: (RandomState::new(), RandomState::new()),
        }
    }
}

impl SeenSet {
    /// Records a sighting of the event `identity` with what it says.
    pub fn sighting(&self, identity: EventIdentity<'_>, substance: Substance<'_>) -> Sighting {
        let (first, second) = (
            self.keys.0.hash_one(identity),
            self.keys.1.hash_one(identity),
        );
        let mut bytes = [0; 10];
        bytes[..8].copy_from_slice(&first.to_le_bytes());
        bytes[8..].copy_from_slice(&second.to_le_bytes()[..2]);
        let id = Id(bytes);
        #[allow(clippy::cast_possible_truncation)] // a fingerprint: any 32 bits do
        let print = (self.keys.0.hash_one(substance) as u32).to_le_bytes();
        // The second hash's top bits pick the shard (its low ones are
        // stored); the map hashes by the first.
        let shard_index = usize::try_from(second >> 60).unwrap_or_default() % SHARDS;
        // A poisoned shard only means another reader panicked mid-insert;
        // the set itself is still consistent.
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match shard.entry(id) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(print);
                Sighting::First
            }
            std::collections::hash_map::Entry::Occupied(counted) if *counted.get() == print => {
                Sighting::Copy
            }
            std::collections::hash_map::Entry::Occupied(_) => Sighting::Conflict,
        }
    }

    /// Identities remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(event_id: &'a str, time: &'a str, name: &'a str) -> EventIdentity<'a> {
        EventIdentity {
            event_id,
            event_time: time,
            event_name: name,
            without_id: None,
        }
    }

    fn said(principal: &str) -> Substance<'_> {
        Substance {
            principal,
            key: "key/1",
            error_code: "",
            source_ip: "10.0.0.1",
            region: "us-east-1",
            account: "111122223333",
            user_agent: "cli",
        }
    }

    fn first(set: &SeenSet, identity: EventIdentity<'_>) -> bool {
        set.sighting(identity, said("role/a")) == Sighting::First
    }

    #[test]
    fn a_slot_is_fourteen_bytes() {
        assert_eq!(std::mem::size_of::<(Id, [u8; 4])>(), 14);
    }

    #[test]
    fn identity_is_id_time_and_name() {
        let set = SeenSet::default();
        assert!(first(&set, id("a", "2025-01-01T00:00:00Z", "Decrypt")));
        assert!(!first(&set, id("a", "2025-01-01T00:00:00Z", "Decrypt")));
        assert!(first(&set, id("a", "2025-01-01T00:00:01Z", "Decrypt")));
        assert!(first(&set, id("a", "2025-01-01T00:00:00Z", "Encrypt")));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn a_copy_that_disagrees_is_told_apart_from_a_plain_copy() {
        let set = SeenSet::default();
        let e = id("a", "2025-01-01T00:00:00Z", "Decrypt");
        assert_eq!(set.sighting(e, said("role/a")), Sighting::First);
        assert_eq!(set.sighting(e, said("role/a")), Sighting::Copy);
        assert_eq!(set.sighting(e, said("role/b")), Sighting::Conflict);
        let mut denied = said("role/a");
        denied.error_code = "AccessDenied";
        assert_eq!(set.sighting(e, denied), Sighting::Conflict);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn nothing_is_forgotten_however_far_apart_the_copies() {
        // A copy of the first event after a million others: still caught
        // (the old set forgot past 64 k identities and counted it again).
        let set = SeenSet::default();
        for i in 0..1_000_000_u32 {
            assert!(first(&set, id(&i.to_string(), "t", "Decrypt")));
        }
        assert!(!first(&set, id("0", "t", "Decrypt")));
        assert_eq!(set.len(), 1_000_000);
    }

    #[test]
    fn records_without_an_id_are_told_apart_by_the_rest() {
        let set = SeenSet::default();
        let mut denied = id("", "2025-01-01T00:00:00Z", "Decrypt");
        denied.without_id = Some(["role/a", "10.0.0.1", "key/1", "AccessDenied", "cli"]);
        let mut ok = denied;
        ok.without_id = Some(["role/a", "10.0.0.1", "key/1", "", "cli"]);
        assert!(first(&set, ok));
        assert!(first(&set, denied), "a denied call merged away");
        assert!(!first(&set, denied));
    }
}
