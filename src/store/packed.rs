//! Counting held events ([`PackedEvent`], what the dashboard keeps)
//! without a view: the texts the buckets count by are found by their
//! number in the process's shared table, through a vector per dimension
//! (see [`super::intern::Interner::intern_held`]), where the text would
//! cost a hash of an ARN and a comparison. Same counts, names, folding and
//! refusals as [`Store::ingest`] of the event's view.

use std::hash::BuildHasher;

use chrono::{DateTime, Utc};

use super::{BatchOutcome, Ingested, Store, ingest::Ids};
use crate::event::PackedEvent;

impl Store {
    /// [`Store::ingest`] of `event.view()`, without building the view.
    pub fn ingest_packed(&mut self, event: &PackedEvent, now: DateTime<Utc>) -> Ingested {
        let result = self.count_packed(event, now);
        if result == Ingested::Added && self.ring.capacity() > 0 {
            self.ring.push(PackedEvent::pack(&event.view()));
        }
        result
    }

    /// [`Store::ingest_batch`] of the events' views, without building a
    /// view of those that do not reach the ring.
    pub fn ingest_packed_batch(
        &mut self,
        events: &[PackedEvent],
        now: DateTime<Utc>,
    ) -> BatchOutcome {
        let before = self.refused;
        let mut added = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if self.count_packed(e, now) == Ingested::Added {
                added.push(i);
            }
        }
        self.keep_recent(&added, |i, keep_raw| {
            let mut e = events[i].view();
            if !keep_raw {
                e.raw = None;
            }
            PackedEvent::pack(&e)
        });
        self.batch_outcome(before, &added)
    }

    fn count_packed(&mut self, event: &PackedEvent, now: DateTime<Utc>) -> Ingested {
        self.expire(now);
        let time = event.time();
        if let Some(refused) = self.refuse(time, now, 1) {
            return refused;
        }
        let f = event.tally_fields();
        // As `count`: an identity without an event id names fields not
        // read in place, so that rare one is taken from a view.
        let id_hash = match f.identity() {
            Some(identity) => self.hasher.hash_one(identity),
            None => self.hasher.hash_one(event.view().identity()),
        };
        if !self.seen.insert(time.timestamp(), id_hash) {
            self.refused.duplicates += 1;
            return Ingested::Duplicate;
        }
        if !self.config.who.is_everyone() && !self.config.who.matches(&event.view()) {
            self.refused.not_selected += 1;
            return Ingested::NotSelected;
        }
        self.fit(time);
        let index = self.bucket_index(time);
        let ids = Ids {
            principal: self.principals.intern_held(f.principal, index),
            key: self.keys.intern_held_opt(f.key, index),
            event_name: self.event_names.intern_held(f.event_name, index),
            region: self.regions.intern_held_opt(f.region, index),
            source_ip: self.source_ips.intern_held_opt(f.source_ip, index),
        };
        self.tally_ids(time, event.outcome(), ids, index, 1);
        if event.context_len() > 0 {
            self.count_contexts(event.context_pairs(), ids.principal, ids.key, index);
        }
        Ingested::Added
    }
}

#[cfg(test)]
#[path = "packed_tests.rs"]
mod tests;
