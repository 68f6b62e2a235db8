//! Store sizing: time resolution, retention and the caps that bound memory.

use chrono::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Width of a time bucket; rounded to whole seconds, at least one.
    pub bucket: Duration,
    /// How far behind `now` an event may be and still count. Applied at
    /// bucket granularity: an event counts while its bucket starts no
    /// earlier than the bucket holding `now - retention`.
    pub retention: Duration,
    /// How far ahead of `now` an event may be (clock skew); beyond it the
    /// event is refused, so one bad timestamp cannot pin memory for years.
    pub future_tolerance: Duration,
    /// Recent events kept for drill-down, with every parsed field.
    pub ring_capacity: usize,
    /// How many of the newest ring events also keep their original record
    /// text ([`KmsEvent::raw_json`]). Drill-down on an older ring event has
    /// every parsed field but not the record as it appeared in the source.
    /// The record is most of an event's size (~1.5 kB against a few hundred
    /// bytes of fields), so this bounds the ring's memory more than
    /// `ring_capacity` does.
    ///
    /// [`KmsEvent::raw_json`]: crate::event::KmsEvent::raw_json
    pub raw_capacity: usize,
    /// Values named per dimension before new ones fold into `(other)`; a
    /// value that turns out heavy after that is still named, within
    /// [`named_limit`](super::named_limit).
    pub max_principals: usize,
    pub max_keys: usize,
    pub max_source_ips: usize,
    pub max_regions: usize,
    pub max_event_names: usize,
    /// Distinct encryption-context values (across all principals and keys).
    pub max_contexts: usize,
    /// Distinct (context key, value) pairs counted per principal and per key.
    pub contexts_per_entity: usize,
    /// When set, the store never spans more buckets than this: as the range
    /// of event times grows it merges neighbouring buckets into wider ones
    /// (10 s, 1 min, 5 min, 15 min, 1 h, …), so a range of any length is
    /// held whole with exact totals (file mode). `None`: the width stays
    /// and old buckets leave with the retention.
    pub max_buckets: Option<usize>,
    /// `--who`: only the calls it selects are counted; the others are
    /// refused as [`Ingested::NotSelected`](super::Ingested::NotSelected)
    /// once, after de-duplication, so their count is of distinct events.
    pub who: crate::who::Who,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            bucket: Duration::seconds(10),
            retention: Duration::hours(24),
            future_tolerance: Duration::minutes(15),
            ring_capacity: 100_000,
            raw_capacity: 10_000,
            max_principals: 10_000,
            max_keys: 10_000,
            max_source_ips: 10_000,
            max_regions: 1_000,
            max_event_names: 1_000,
            max_contexts: 100_000,
            contexts_per_entity: 1_000,
            max_buckets: None,
            who: crate::who::Who::default(),
        }
    }
}

/// The config turned into bucket arithmetic.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spans {
    pub bucket_secs: i64,
    pub retention_buckets: i64,
    pub future_buckets: i64,
}

impl Spans {
    pub fn of(c: &StoreConfig) -> Self {
        let bucket_secs = c.bucket.num_seconds().max(1);
        let in_buckets = |d: Duration| d.num_seconds().max(0).div_euclid(bucket_secs);
        Self {
            bucket_secs,
            retention_buckets: in_buckets(c.retention).max(1),
            future_buckets: in_buckets(c.future_tolerance),
        }
    }
}
