//! Read access for aggregates, drill-down and tests.

use chrono::{DateTime, Utc};

use super::{Bucket, Counts, Dim, EntityInfo, Folded, Name, Refused, Store, intern::Interner};
use crate::event::{KmsEvent, PackedEvent};

impl Store {
    fn interner(&self, dim: Dim) -> &Interner {
        match dim {
            Dim::Principal => &self.principals,
            Dim::Key => &self.keys,
            Dim::EventName => &self.event_names,
            Dim::Region => &self.regions,
            Dim::SourceIp => &self.source_ips,
        }
    }

    /// Distinct events counted in retention.
    pub fn total_events(&self) -> u64 {
        self.total
    }

    /// Identities remembered: those of the events in retention, plus those
    /// of expired buckets whose hour of event time is not over yet (a copy
    /// of one of those is refused as too old anyway).
    pub fn seen_len(&self) -> usize {
        self.seen.len()
    }

    pub fn refused(&self) -> Refused {
        self.refused
    }

    /// What `--who` selects (everyone when not given).
    pub fn who(&self) -> &crate::who::Who {
        &self.config.who
    }

    /// Principals named in retention.
    pub fn principal_count(&self) -> usize {
        self.principals.live()
    }

    /// Buckets held (including empty ones between the oldest and newest).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Buckets with their index, oldest first.
    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = (i64, &Bucket)> + ExactSizeIterator {
        let base = self.base;
        self.buckets
            .iter()
            .enumerate()
            .map(move |(i, b)| (base + super::to_i64(i), b))
    }

    /// Buckets whose index lies in `from..=to`, oldest first.
    pub fn buckets_in(
        &self,
        from: i64,
        to: i64,
    ) -> impl DoubleEndedIterator<Item = (i64, &Bucket)> {
        let len = super::to_i64(self.buckets.len());
        let lo = (from - self.base).clamp(0, len);
        let hi = (to - self.base + 1).clamp(lo, len);
        let base = self.base;
        let range = super::to_usize(lo)..super::to_usize(hi);
        self.buckets
            .range(range)
            .enumerate()
            .map(move |(i, b)| (base + lo + super::to_i64(i), b))
    }

    /// Counts per principal or key id over the whole retention (the sum of
    /// every bucket), kept as events come and buckets go.
    pub fn totals(&self, dim: Dim) -> impl Iterator<Item = (u32, Counts)> + '_ {
        let infos = match dim {
            Dim::Principal => &self.principal_info[..],
            Dim::Key => &self.key_info[..],
            _ => &[],
        };
        infos
            .iter()
            .enumerate()
            .map(|(id, info)| (id as u32, info.totals))
    }

    /// Denied calls per source IP id over the whole retention; ids past
    /// the end have none.
    pub fn denied_ip_totals(&self) -> &[u64] {
        &self.denied_ip_totals
    }

    /// The id of `name` in `dim`, if it has one of its own (not folded).
    pub fn id(&self, dim: Dim, name: &str) -> Option<u32> {
        self.interner(dim).get(name)
    }

    /// The name of `id` in `dim`: `(other)` and `(none)` for the reserved ids.
    pub fn name(&self, dim: Dim, id: u32) -> &str {
        self.interner(dim).name(id).unwrap_or(super::OTHER_LABEL)
    }

    /// The name of `id` in `dim`, shared (no copy of the text).
    pub fn shared_name(&self, dim: Dim, id: u32) -> Name {
        self.interner(dim)
            .shared(id)
            .unwrap_or_else(|| self.interner(dim).shared(super::OTHER).unwrap_or_default())
    }

    /// Ids in use in `dim`, including the reserved `(other)` and `(none)`.
    pub fn live_ids(&self, dim: Dim) -> impl Iterator<Item = u32> + '_ {
        self.interner(dim).live_ids()
    }

    /// Distinct named values in `dim` (not counting `(other)`/`(none)`).
    pub fn cardinality(&self, dim: Dim) -> usize {
        self.interner(dim).live()
    }

    /// Changes whenever a name of `dim` came or went (caches of anything
    /// derived from the names key on it).
    pub fn names_version(&self, dim: Dim) -> u64 {
        self.interner(dim).version()
    }

    /// One past the largest id in `dim`: size per-id vectors with it.
    pub fn id_bound(&self, dim: Dim) -> usize {
        self.interner(dim).id_bound()
    }

    /// What `dim`'s `(other)` entry holds.
    pub fn folded(&self, dim: Dim) -> Folded {
        self.interner(dim).folded()
    }

    /// Buckets per minute summary ([`Store::summary`]); 0 when the
    /// buckets are not grouped in minutes (a minute or wider).
    pub fn summary_span(&self) -> i64 {
        self.summaries.per()
    }

    /// The counts of minute `minute` (bucket index / [`Store::summary_span`])
    /// by principal and by key: the exact sum of the minute's buckets held,
    /// kept for the newest hour only.
    pub fn summary(&self, minute: i64) -> Option<&super::Summary> {
        self.summaries.get(minute)
    }

    pub fn decrypt_name_id(&self) -> u32 {
        self.decrypt_name
    }

    /// Facts about a principal or key id; `None` for other dimensions.
    pub fn entity(&self, dim: Dim, id: u32) -> Option<&EntityInfo> {
        let infos = match dim {
            Dim::Principal => &self.principal_info,
            Dim::Key => &self.key_info,
            _ => return None,
        };
        infos
            .get(id as usize)
            .filter(|_| self.interner(dim).is_live(id))
    }

    /// A context pair's key and value text.
    pub fn context_pair(&self, pair: (u32, u32)) -> (&str, &str) {
        (
            self.ctx_keys.name(pair.0).unwrap_or(super::OTHER_LABEL),
            self.ctx_values.name(pair.1).unwrap_or(super::OTHER_LABEL),
        )
    }

    /// Counts per id of `dim` over the whole retention, by scanning every
    /// bucket: for tests and one-off reports, not per frame.
    pub fn counts_by(&self, dim: Dim) -> Vec<u64> {
        let mut out = vec![0; self.id_bound(dim)];
        for b in &self.buckets {
            match dim {
                Dim::Region => b
                    .regions()
                    .for_each(|(id, n)| out[id as usize] += u64::from(n)),
                Dim::SourceIp => b
                    .source_ips()
                    .for_each(|(id, n)| out[id as usize] += u64::from(n)),
                _ => {
                    for (c, n) in b.combos() {
                        let id = match dim {
                            Dim::Principal => c.principal,
                            Dim::Key => c.key,
                            _ => c.event_name,
                        };
                        out[id as usize] += u64::from(n);
                    }
                }
            }
        }
        out
    }

    /// Recent events, newest arrival first (`.view()` reads one).
    pub fn recent(&self) -> impl Iterator<Item = &PackedEvent> {
        self.ring.newest_first()
    }

    pub fn recent_len(&self) -> usize {
        self.ring.len()
    }

    pub fn recent_matching<'s>(
        &'s self,
        mut pred: impl FnMut(&KmsEvent<'_>) -> bool + 's,
    ) -> impl Iterator<Item = &'s PackedEvent> {
        self.ring.newest_first().filter(move |e| pred(&e.view()))
    }

    pub fn recent_by_principal<'s>(
        &'s self,
        principal: &'s str,
    ) -> impl Iterator<Item = &'s PackedEvent> {
        self.recent_matching(move |e| e.principal == principal)
    }

    /// Recent events on the key with ARN `key_arn`.
    pub fn recent_by_key<'s>(&'s self, key_arn: &'s str) -> impl Iterator<Item = &'s PackedEvent> {
        self.recent_matching(move |e| e.key.as_ref().is_some_and(|k| k.arn == key_arn))
    }

    /// The newest event time seen in retention, if any.
    pub fn newest_bucket_start(&self) -> Option<DateTime<Utc>> {
        self.buckets()
            .rev()
            .find(|(_, b)| !b.is_empty())
            .map(|(i, _)| self.bucket_start(i))
    }
}
