//! Remembering which events were already counted, across reader threads,
//! exactly, at any volume.
//!
//! Copies of one record (a file synced twice, `.json` beside `.json.gz`,
//! overlapping downloads under other names) may arrive in any order and
//! any distance apart, so nothing is ever forgotten: a forgetting set
//! counted a day of logs with overlapping copies ~1.5× once it passed its
//! size. Each identity is held as a 128-bit keyed hash — 16 bytes, about
//! 40 MB for a million events with the table's overhead — under keys drawn
//! per run, so no one who writes records can aim two different events at
//! one hash and hide the second.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::event::EventIdentity;

const SHARDS: usize = 16;

/// A concurrent set of event identities.
pub struct SeenSet {
    shards: Vec<Mutex<HashSet<u128, Passthrough>>>,
    keys: (RandomState, RandomState),
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

    #[allow(clippy::cast_possible_truncation)] // the low half, on purpose
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

impl Default for SeenSet {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashSet::with_hasher(Passthrough)))
                .collect(),
            keys: (RandomState::new(), RandomState::new()),
        }
    }
}

impl SeenSet {
    /// Records `identity`; true when it had not been seen before. The
    /// time is the event's, which the identity already holds as written.
    pub fn first_sighting(&self, identity: EventIdentity<'_>, _time: DateTime<Utc>) -> bool {
        let hash = (u128::from(self.keys.0.hash_one(identity)) << 64)
            | u128::from(self.keys.1.hash_one(identity));
        // The top bits pick the shard; the set uses the low ones.
        let shard_index = usize::try_from(hash >> 124).unwrap_or_default() % SHARDS;
        // A poisoned shard only means another reader panicked mid-insert;
        // the set itself is still consistent.
        self.shards[shard_index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(hash)
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
    use chrono::TimeZone;

    fn id<'a>(event_id: &'a str, time: &'a str, name: &'a str) -> EventIdentity<'a> {
        EventIdentity {
            event_id,
            event_time: time,
            event_name: name,
            without_id: None,
        }
    }

    fn t() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn identity_is_id_time_and_name() {
        let set = SeenSet::default();
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Decrypt"), t()));
        assert!(!set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Decrypt"), t()));
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:01Z", "Decrypt"), t()));
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Encrypt"), t()));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn nothing_is_forgotten_however_far_apart_the_copies() {
        // A copy of the first event after a million others: still caught
        // (the old set forgot past 64 k identities and counted it again).
        let set = SeenSet::default();
        for i in 0..1_000_000_u32 {
            assert!(set.first_sighting(id(&i.to_string(), "t", "Decrypt"), t()));
        }
        assert!(!set.first_sighting(id("0", "t", "Decrypt"), t()));
        assert_eq!(set.len(), 1_000_000);
    }

    #[test]
    fn records_without_an_id_are_told_apart_by_the_rest() {
        let set = SeenSet::default();
        let mut denied = id("", "2025-01-01T00:00:00Z", "Decrypt");
        denied.without_id = Some(["role/a", "10.0.0.1", "key/1", "AccessDenied", "cli"]);
        let mut ok = denied;
        ok.without_id = Some(["role/a", "10.0.0.1", "key/1", "", "cli"]);
        assert!(set.first_sighting(ok, t()));
        assert!(set.first_sighting(denied, t()), "a denied call merged away");
        assert!(!set.first_sighting(denied, t()));
    }
}
