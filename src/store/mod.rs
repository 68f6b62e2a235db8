//! The rolling store: time buckets of counts over a retention window, a ring
//! of recent events, and per-principal / per-key facts.
//!
//! Everything is a function of the events and the `now` passed in; nothing
//! here reads the clock. Memory is bounded by the retention (buckets and
//! the seen-set's hours expire with it), by the per-dimension caps (values
//! past a cap fold into `(other)`) and by the ring capacity.

mod bucket;
mod config;
mod context;
mod hash;
mod heavy;
mod ingest;
mod intern;
mod packed;
mod query;
mod ring;
mod seen;
mod summary;
mod widen;

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

pub use bucket::{Bucket, Combo};
pub use config::StoreConfig;
pub use context::ContextTable;
pub use hash::{FastMap, FastSet, FastState};
pub use heavy::named_limit;
pub use ingest::CountedEvent;
pub use intern::{Folded, NONE, NONE_LABEL, Name, OTHER, OTHER_LABEL};
pub use summary::{Summary, Tally};

use config::Spans;
use context::PairAdded;
use intern::Interner;
use ring::Ring;
use seen::Identities;
use summary::Summaries;

/// What [`Store::ingest`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ingested {
    Added,
    /// Same identity as an event already counted in retention.
    Duplicate,
    /// Older than the retention window.
    TooOld,
    /// Further ahead of `now` than the configured tolerance.
    TooNew,
    /// A distinct event that `--who` does not select.
    NotSelected,
}

/// A dimension the store counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Principal,
    Key,
    EventName,
    Region,
    SourceIp,
}

/// Calls, Decrypt calls and denied calls: the three counts every rate and
/// share is built from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub calls: u64,
    pub decrypt: u64,
    pub denied: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, n: u64, decrypt: bool, denied: bool) {
        self.calls += n;
        self.decrypt += if decrypt { n } else { 0 };
        self.denied += if denied { n } else { 0 };
    }

    fn sub(&mut self, n: u64, decrypt: bool, denied: bool) {
        self.calls -= n;
        self.decrypt -= if decrypt { n } else { 0 };
        self.denied -= if denied { n } else { 0 };
    }
}

/// What the store knows about one principal or key while it is in retention.
#[derive(Debug, Clone)]
pub struct EntityInfo {
    /// Earliest and latest event time since the entity (re)entered the
    /// store; not recomputed when old buckets expire.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Counts over the whole retention.
    pub totals: Counts,
    /// Keys this principal used, or principals that used this key, in
    /// retention (calls naming no key are not counted).
    pub linked: u32,
    pub contexts: ContextTable,
}

impl EntityInfo {
    fn new(hasher: FastState) -> Self {
        Self {
            first_seen: None,
            last_seen: None,
            totals: Counts::default(),
            linked: 0,
            contexts: ContextTable::new(hasher),
        }
    }

    fn saw(&mut self, t: DateTime<Utc>) {
        self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
        self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
    }
}

/// Cumulative refusals, for the status line and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    pub duplicates: u64,
    pub too_old: u64,
    pub too_new: u64,
    /// Distinct events `--who` left out.
    pub not_selected: u64,
}

/// Totals of one [`Store::ingest_batch`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub added: u64,
    pub refused: Refused,
}

#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    spans: Spans,
    hasher: FastState,
    buckets: VecDeque<Bucket>,
    /// Bucket index of `buckets[0]`.
    base: i64,
    /// The newest hour's buckets summed per minute, by principal and key.
    summaries: Summaries,
    /// Identity hashes of the events counted, by hour of event time.
    seen: Identities,
    principals: Interner,
    keys: Interner,
    event_names: Interner,
    regions: Interner,
    source_ips: Interner,
    ctx_keys: Interner,
    ctx_values: Interner,
    principal_info: Vec<EntityInfo>,
    key_info: Vec<EntityInfo>,
    /// (principal, key) -> calls in retention; feeds `EntityInfo::linked`.
    pairs: FastMap<(u32, u32), u64>,
    /// Denied calls per source IP id over the whole retention.
    denied_ip_totals: Vec<u64>,
    decrypt_name: u32,
    ring: Ring,
    total: u64,
    refused: Refused,
    next_fold_sweep: i64,
    widened: bool,
}

impl Store {
    pub fn new(config: StoreConfig) -> Self {
        let hasher = FastState::random();
        let spans = Spans::of(&config);
        let mut event_names = Interner::new(config.max_event_names.max(1), hasher);
        // Interned up front and never released, so "is this a Decrypt" is
        // an id comparison for the store's whole life.
        let decrypt_name = event_names.intern("Decrypt", 0);
        event_names.retain(decrypt_name);
        Self {
            spans,
            hasher,
            buckets: VecDeque::new(),
            base: 0,
            summaries: Summaries::new(spans.bucket_secs, hasher),
            seen: Identities::new(hasher),
            principals: Interner::new(config.max_principals, hasher),
            keys: Interner::new(config.max_keys, hasher),
            event_names,
            regions: Interner::new(config.max_regions, hasher),
            source_ips: Interner::new(config.max_source_ips, hasher),
            ctx_keys: Interner::new(config.max_contexts, hasher),
            ctx_values: Interner::new(config.max_contexts, hasher),
            principal_info: Vec::new(),
            key_info: Vec::new(),
            pairs: FastMap::with_hasher(hasher),
            denied_ip_totals: Vec::new(),
            decrypt_name,
            ring: Ring::new(config.ring_capacity, config.raw_capacity),
            total: 0,
            refused: Refused::default(),
            next_fold_sweep: i64::MIN,
            widened: false,
            config,
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The bucket index holding time `t`.
    pub fn bucket_index(&self, t: DateTime<Utc>) -> i64 {
        t.timestamp().div_euclid(self.spans.bucket_secs)
    }

    pub fn bucket_start(&self, index: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(index * self.spans.bucket_secs, 0).unwrap_or_default()
    }

    pub fn bucket_seconds(&self) -> i64 {
        self.spans.bucket_secs
    }

    /// The oldest bucket index still inside retention at `now`.
    pub fn cutoff_index(&self, now: DateTime<Utc>) -> i64 {
        self.bucket_index(now) - self.spans.retention_buckets
    }

    /// Drops the buckets that left retention, and the identities of every
    /// hour of event time that left it whole.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        let cutoff = self.cutoff_index(now);
        while self.base < cutoff {
            let Some(bucket) = self.buckets.pop_front() else {
                break;
            };
            self.summaries.remove(self.base, &bucket, self.decrypt_name);
            self.base += 1;
            self.drop_bucket(bucket);
        }
        self.summaries.forget_before(self.base);
        self.seen.expire(cutoff * self.spans.bucket_secs);
        if cutoff >= self.next_fold_sweep {
            for i in [
                &mut self.principals,
                &mut self.keys,
                &mut self.event_names,
                &mut self.regions,
                &mut self.source_ips,
                &mut self.ctx_keys,
                &mut self.ctx_values,
            ] {
                i.sweep_folded(cutoff);
            }
            // Sweeping is O(tracked values); every 1/32 of the retention
            // keeps the folded counts within ~3 % of the window.
            self.next_fold_sweep = cutoff + (self.spans.retention_buckets / 32).max(1);
        }
    }

    fn slot(&mut self, index: i64) -> &mut Bucket {
        if self.buckets.is_empty() {
            self.base = index;
            self.summaries.reset(index);
        }
        while index < self.base {
            self.buckets.push_front(Bucket::new(self.hasher));
            self.base -= 1;
        }
        if index >= self.base + to_i64(self.buckets.len()) {
            while index >= self.base + to_i64(self.buckets.len()) {
                self.buckets.push_back(Bucket::new(self.hasher));
            }
            self.summaries.extend_to(index);
        }
        &mut self.buckets[to_usize(index - self.base)]
    }

    fn drop_bucket(&mut self, bucket: Bucket) {
        self.total -= u64::from(bucket.total);
        for (c, n) in bucket.combos {
            let n = u64::from(n);
            let (decrypt, denied) = (c.event_name == self.decrypt_name, c.is_denied());
            self.principal_info[c.principal as usize]
                .totals
                .sub(n, decrypt, denied);
            self.key_info[c.key as usize].totals.sub(n, decrypt, denied);
            if c.key != NONE {
                self.unpair(c.principal, c.key, n);
            }
            if self.principals.release(c.principal) {
                let info = std::mem::replace(
                    &mut self.principal_info[c.principal as usize],
                    EntityInfo::new(self.hasher),
                );
                self.release_contexts(info.contexts);
            }
            if self.keys.release(c.key) {
                let info = std::mem::replace(
                    &mut self.key_info[c.key as usize],
                    EntityInfo::new(self.hasher),
                );
                self.release_contexts(info.contexts);
            }
            self.event_names.release(c.event_name);
        }
        for (r, _) in bucket.regions {
            self.regions.release(r);
        }
        for (ip, n) in bucket.denied_ips {
            self.denied_ip_totals[ip as usize] -= u64::from(n);
        }
        for (ip, _) in bucket.source_ips {
            self.source_ips.release(ip);
        }
    }

    fn unpair(&mut self, principal: u32, key: u32, n: u64) {
        let std::collections::hash_map::Entry::Occupied(mut e) = self.pairs.entry((principal, key))
        else {
            return;
        };
        *e.get_mut() -= n;
        if *e.get() == 0 {
            e.remove();
            self.principal_info[principal as usize].linked -= 1;
            self.key_info[key as usize].linked -= 1;
        }
    }

    fn release_contexts(&mut self, mut table: ContextTable) {
        for (k, v) in table.take_pairs() {
            self.ctx_keys.release(k);
            self.ctx_values.release(v);
        }
    }
}

/// Bucket positions: lengths fit in i64 and offsets are never negative
/// where these are used, so the fallbacks are unreachable.
fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests;
