//! Remembering which events were already counted, across reader threads,
//! in memory that does not grow with the length of the run.
//!
//! Copies of one record (a file synced twice, `.json` beside `.json.gz`,
//! overlapping downloads) carry the same `eventTime`, and they arrive close
//! together because inputs are read roughly in delivery order. So the set is
//! kept in hour buckets of event time, and once it holds more than 64 k
//! identities, the buckets more than six hours behind the newest event seen
//! are dropped. Below that size nothing is ever forgotten, whatever the
//! order of the input.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use crate::event::EventIdentity;

const SHARDS: usize = 16;
const BUCKET_SECONDS: i64 = 3600;

/// How far behind the newest event a copy may still arrive and be caught.
pub const DEFAULT_HORIZON_SECONDS: i64 = 6 * 3600;
/// A shard forgets nothing until it holds this many identities.
const SHARD_FLOOR: usize = 4 * 1024;

#[derive(Default)]
struct Shard {
    buckets: BTreeMap<i64, HashSet<u64>>,
    len: usize,
}

/// A concurrent set of event identities.
pub struct SeenSet {
    shards: Vec<Mutex<Shard>>,
    newest: AtomicI64,
    horizon: i64,
}

impl Default for SeenSet {
    fn default() -> Self {
        Self::with_horizon(DEFAULT_HORIZON_SECONDS)
    }
}

impl SeenSet {
    #[must_use]
    pub fn with_horizon(horizon_seconds: i64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            newest: AtomicI64::new(i64::MIN),
            horizon: horizon_seconds,
        }
    }

    /// Records `identity`; true when it had not been seen before.
    pub fn first_sighting(&self, identity: EventIdentity<'_>, time: DateTime<Utc>) -> bool {
        // 64 bits: a collision among the few hundred thousand identities
        // held at once is about one in 10^8 runs.
        let mut hasher = DefaultHasher::new();
        identity.hash(&mut hasher);
        let hash = hasher.finish();
        let seconds = time.timestamp();
        let newest = self
            .newest
            .fetch_max(seconds, Ordering::Relaxed)
            .max(seconds);
        let bucket = seconds.div_euclid(BUCKET_SECONDS);
        let shard_index = usize::try_from(hash % SHARDS as u64).unwrap_or_default();
        // A poisoned shard only means another reader panicked mid-insert;
        // the set itself is still consistent.
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.len > SHARD_FLOOR {
            let cutoff = (newest - self.horizon).div_euclid(BUCKET_SECONDS);
            while let Some(entry) = shard.buckets.first_entry() {
                if *entry.key() >= cutoff || *entry.key() == bucket {
                    break;
                }
                let dropped = entry.remove().len();
                shard.len -= dropped;
            }
        }
        let inserted = shard.buckets.entry(bucket).or_default().insert(hash);
        if inserted {
            shard.len += 1;
        }
        inserted
    }

    /// Identities currently remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len))
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
        }
    }

    #[test]
    fn identity_is_id_time_and_name() {
        let set = SeenSet::default();
        let t = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Decrypt"), t));
        assert!(!set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Decrypt"), t));
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:01Z", "Decrypt"), t));
        assert!(set.first_sighting(id("a", "2025-01-01T00:00:00Z", "Encrypt"), t));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn memory_stays_bounded_over_a_long_run() {
        let set = SeenSet::with_horizon(3600);
        let start = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        // Six days at ~28 events a second, all kept were nothing evicted.
        for i in 0..1_500_000_i64 {
            let time = start + chrono::Duration::seconds(i * 36 / 100);
            let event_id = i.to_string();
            assert!(set.first_sighting(id(&event_id, "t", "Decrypt"), time));
        }
        assert!(set.len() < SHARDS * SHARD_FLOOR + 20_000, "{}", set.len());
    }
}
