//! Counting one event into its bucket.

use std::hash::BuildHasher;

use chrono::{DateTime, Utc};

use super::{
    BatchOutcome, Combo, EntityInfo, Ingested, NONE, PairAdded, Store, context::ContextTable,
    intern::Interner,
};
use crate::event::{KmsEvent, Outcome, PackedEvent};

/// What the buckets count an event by.
struct Tallied<'e> {
    time: DateTime<Utc>,
    principal: &'e str,
    key: Option<&'e str>,
    event_name: &'e str,
    region: Option<&'e str>,
    source_ip: Option<&'e str>,
    outcome: Outcome,
}

/// The interned ids an event is counted by.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ids {
    pub principal: u32,
    pub key: u32,
    pub event_name: u32,
    pub region: u32,
    pub source_ip: u32,
}

/// `n` events alike in time, principal, key, event name, outcome, region
/// and source IP, as
/// an engine that counted them elsewhere returns them (see
/// [`Store::ingest_counted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedEvent {
    pub time: DateTime<Utc>,
    pub principal: String,
    /// The key's ARN; `None` for calls that name no key.
    pub key: Option<String>,
    pub event_name: String,
    pub outcome: Outcome,
    pub region: Option<String>,
    /// The caller's address, where the counting engine kept it (Athena's
    /// aggregate keeps it for denied calls only).
    pub source_ip: Option<String>,
    pub n: u32,
}

impl Store {
    /// Counts `event` in the bucket of its event time and keeps a copy in
    /// the recent-event ring (its record text only while it is among the
    /// newest `raw_capacity`). Expires old buckets first.
    pub fn ingest(&mut self, event: &KmsEvent<'_>, now: DateTime<Utc>) -> Ingested {
        let result = self.count(event, now);
        if result == Ingested::Added && self.ring.capacity() > 0 {
            self.ring.push(PackedEvent::pack(event));
        }
        result
    }

    /// Ingests a batch in order. Same result as calling [`Store::ingest`]
    /// for each event, but only the events that will survive in the ring
    /// are copied, and their record text only for those that will keep it:
    /// a replay of a day should not clone a million records to keep the
    /// last 100 k, nor copy 100 k records to keep the last 10 k.
    pub fn ingest_batch(&mut self, events: &[KmsEvent<'_>], now: DateTime<Utc>) -> BatchOutcome {
        let before = self.refused;
        let mut added = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if self.count(e, now) == Ingested::Added {
                added.push(i);
            }
        }
        self.keep_recent(&added, |i, keep_raw| {
            if keep_raw {
                PackedEvent::pack(&events[i])
            } else {
                // Never copy a record only to strip it on a later push.
                let mut e = events[i].clone();
                e.raw = None;
                PackedEvent::pack(&e)
            }
        });
        self.batch_outcome(before, &added)
    }

    /// Pushes the added events (by index) that will survive in the ring,
    /// packed by `pack(index, keep_raw)`.
    pub(super) fn keep_recent(
        &mut self,
        added: &[usize],
        pack: impl Fn(usize, bool) -> PackedEvent,
    ) {
        let keep = added.len().saturating_sub(self.ring.capacity());
        let survivors = &added[keep..];
        for (n, &i) in survivors.iter().enumerate() {
            let packed = pack(i, self.ring.keeps_raw(survivors.len() - 1 - n));
            self.ring.push(packed);
        }
    }

    /// What a batch did, from the refusals before it and what it added.
    pub(super) fn batch_outcome(&self, before: super::Refused, added: &[usize]) -> BatchOutcome {
        BatchOutcome {
            added: added.len() as u64,
            refused: super::Refused {
                duplicates: self.refused.duplicates - before.duplicates,
                too_old: self.refused.too_old - before.too_old,
                too_new: self.refused.too_new - before.too_new,
                not_selected: self.refused.not_selected - before.not_selected,
            },
        }
    }

    /// Counts `counted.n` events that share a time, principal, key, event
    /// name and outcome (rows of a query that counted them elsewhere, as
    /// Athena does): the buckets, summaries and per-principal and per-key
    /// facts change exactly as for `n` such events (with that region and
    /// source IP, and no encryption context). Nothing enters the ring of
    /// recent events, and no identity is remembered: whoever counted them
    /// left out the duplicates. Expires old buckets first.
    pub fn ingest_counted(&mut self, counted: &CountedEvent, now: DateTime<Utc>) -> Ingested {
        self.expire(now);
        if counted.n == 0 {
            return Ingested::Added;
        }
        if let Some(refused) = self.refuse(counted.time, now, u64::from(counted.n)) {
            return refused;
        }
        self.tally(
            &Tallied {
                time: counted.time,
                principal: &counted.principal,
                key: counted.key.as_deref(),
                event_name: &counted.event_name,
                region: counted.region.as_deref(),
                source_ip: counted.source_ip.as_deref(),
                outcome: counted.outcome,
            },
            counted.n,
        );
        Ingested::Added
    }

    /// Notes `n` distinct events `--who` did not select, counted
    /// elsewhere (by Athena): the header says how many were left out.
    pub fn note_not_selected(&mut self, n: u64) {
        self.refused.not_selected += n;
    }

    /// Whether an event at `time` is outside what the store holds at
    /// `now` (counted as `n` refusals).
    pub(super) fn refuse(
        &mut self,
        time: DateTime<Utc>,
        now: DateTime<Utc>,
        n: u64,
    ) -> Option<Ingested> {
        let index = self.bucket_index(time);
        if index < self.cutoff_index(now) {
            self.refused.too_old += n;
            return Some(Ingested::TooOld);
        }
        if index > self.bucket_index(now) + self.spans.future_buckets {
            self.refused.too_new += n;
            return Some(Ingested::TooNew);
        }
        None
    }

    fn count(&mut self, event: &KmsEvent<'_>, now: DateTime<Utc>) -> Ingested {
        self.expire(now);
        if let Some(refused) = self.refuse(event.time, now, 1) {
            return refused;
        }
        // 64 bits, as in `dedup`: hashes only meet others of the same hour
        // of event time, and a collision among ~10^5 of them is about one
        // in 10^9 hours; it costs one event.
        let id_hash = self.hasher.hash_one(event.identity());
        if !self.seen.insert(event.time.timestamp(), id_hash) {
            self.refused.duplicates += 1;
            return Ingested::Duplicate;
        }
        if !self.config.who.matches(event) {
            self.refused.not_selected += 1;
            return Ingested::NotSelected;
        }
        let (principal, key, index) = self.tally(
            &Tallied {
                time: event.time,
                principal: &event.principal,
                key: event.key.as_ref().map(|k| k.arn.as_ref()),
                event_name: &event.event_name,
                region: event.region.as_deref(),
                source_ip: event.source_ip.as_deref(),
                outcome: event.outcome,
            },
            1,
        );
        let pairs = event
            .encryption_context
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()));
        self.count_contexts(pairs, principal, key, index);
        Ingested::Added
    }

    /// Counts `n` events alike in everything the buckets count by; returns
    /// the principal's and key's ids and the bucket index.
    fn tally(&mut self, e: &Tallied<'_>, n: u32) -> (u32, u32, i64) {
        // A long range widens the buckets; the index follows.
        self.fit(e.time);
        let index = self.bucket_index(e.time);
        let ids = Ids {
            principal: self.principals.intern(e.principal, index),
            key: self.keys.intern_opt(e.key, index),
            event_name: self.event_names.intern(e.event_name, index),
            region: self.regions.intern_opt(e.region, index),
            source_ip: self.source_ips.intern_opt(e.source_ip, index),
        };
        self.tally_ids(e.time, e.outcome, ids, index, n);
        (ids.principal, ids.key, index)
    }

    /// Counts `n` events alike, their texts interned as `ids`, in bucket
    /// `index` (already fitted).
    pub(super) fn tally_ids(
        &mut self,
        time: DateTime<Utc>,
        outcome: Outcome,
        ids: Ids,
        index: i64,
        n: u32,
    ) {
        let Ids {
            principal,
            key,
            event_name,
            region,
            source_ip,
        } = ids;
        let combo = Combo {
            principal,
            key,
            event_name,
            outcome,
        };
        let new = self.slot(index).add(combo, region, source_ip, n);
        let (decrypt, denied) = (event_name == self.decrypt_name, outcome == Outcome::Denied);
        self.summaries
            .add(index, (principal, key), n, decrypt, denied);
        if new.combo {
            self.principals.retain(principal);
            self.keys.retain(key);
            self.event_names.retain(event_name);
        }
        if new.region {
            self.regions.retain(region);
        }
        if new.source_ip {
            self.source_ips.retain(source_ip);
        }
        let wide = u64::from(n);
        self.total += wide;

        grow(&mut self.principal_info, &self.principals, self.hasher);
        grow(&mut self.key_info, &self.keys, self.hasher);
        if key != NONE {
            let pair = self.pairs.entry((principal, key)).or_insert(0);
            *pair += wide;
            if *pair == wide {
                self.principal_info[principal as usize].linked += 1;
                self.key_info[key as usize].linked += 1;
            }
        }
        if denied {
            let i = source_ip as usize;
            if self.denied_ip_totals.len() <= i {
                self.denied_ip_totals
                    .resize(self.source_ips.id_bound().max(i + 1), 0);
            }
            self.denied_ip_totals[i] += wide;
        }
        for info in [
            &mut self.principal_info[principal as usize],
            &mut self.key_info[key as usize],
        ] {
            info.saw(time);
            info.totals.add(wide, decrypt, denied);
        }
    }

    /// Counts an event's encryption-context pairs for its principal and key.
    pub(super) fn count_contexts<'p>(
        &mut self,
        pairs: impl Iterator<Item = (&'p str, &'p str)>,
        principal: u32,
        key: u32,
        index: i64,
    ) {
        let cap = self.config.contexts_per_entity;
        for (k, v) in pairs {
            let pair = (
                self.ctx_keys.intern(k, index),
                self.ctx_values.intern(v, index),
            );
            let principal_table = &mut self.principal_info[principal as usize].contexts;
            add_pair(
                principal_table,
                pair,
                cap,
                &mut self.ctx_keys,
                &mut self.ctx_values,
            );
            if key != NONE {
                let key_table = &mut self.key_info[key as usize].contexts;
                add_pair(
                    key_table,
                    pair,
                    cap,
                    &mut self.ctx_keys,
                    &mut self.ctx_values,
                );
            }
            // Interned for tables that were all full: give the slot back.
            self.ctx_keys.free_if_unreferenced(pair.0);
            self.ctx_values.free_if_unreferenced(pair.1);
        }
    }
}

fn add_pair(
    table: &mut ContextTable,
    pair: (u32, u32),
    cap: usize,
    keys: &mut Interner,
    values: &mut Interner,
) {
    if table.add(pair, cap) == PairAdded::New {
        keys.retain(pair.0);
        values.retain(pair.1);
    }
}

/// Per-id vectors follow the interner's id range.
fn grow(infos: &mut Vec<EntityInfo>, interner: &Interner, hasher: super::FastState) {
    if infos.len() < interner.id_bound() {
        infos.resize_with(interner.id_bound(), || EntityInfo::new(hasher));
    }
}
