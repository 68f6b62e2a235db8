//! Wider buckets for a long range: a store given `max_buckets` (file mode)
//! keeps every event it is given, however far apart their times, by
//! merging neighbouring buckets into wider ones whenever the range would
//! need more buckets than that. Totals stay exact; only the resolution of
//! old and new time alike becomes coarser, and the store says how coarse.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::config::Spans;
use super::{Bucket, Store, to_i64, to_usize};

/// Bucket widths in seconds, each a multiple of the one before, so every
/// old bucket falls inside exactly one new one.
const WIDTHS: [i64; 11] = [
    1, 10, 60, 300, 900, 3_600, 21_600, 86_400, 604_800, 2_419_200, 31_449_600,
];

impl Store {
    /// Widens the buckets until the range from the oldest bucket to the
    /// newest, `t` included, fits in `max_buckets` (or the widest width is
    /// reached: 10 000 years of 52-week buckets still fit in memory).
    pub(super) fn fit(&mut self, t: DateTime<Utc>) {
        let Some(max) = self.config.max_buckets else {
            return;
        };
        let max = to_i64(max.max(2));
        while !self.buckets.is_empty() {
            let index = self.bucket_index(t);
            let last = self.base + to_i64(self.buckets.len()) - 1;
            let span = last.max(index) - self.base.min(index) + 1;
            if span <= max {
                return;
            }
            let secs = self.spans.bucket_secs;
            let Some(&wider) = WIDTHS.iter().find(|w| **w > secs && **w % secs == 0) else {
                return;
            };
            self.widen(wider);
        }
    }

    /// Merges the buckets into buckets `width` seconds wide.
    fn widen(&mut self, width: i64) {
        let factor = width / self.spans.bucket_secs;
        let old = std::mem::take(&mut self.buckets);
        let old_base = self.base;
        self.base = old_base.div_euclid(factor);
        let mut merged: VecDeque<Bucket> = VecDeque::new();
        for (i, bucket) in old.into_iter().enumerate() {
            let at = to_usize((old_base + to_i64(i)).div_euclid(factor) - self.base);
            while merged.len() <= at {
                merged.push_back(Bucket::new(self.hasher));
            }
            let again = merged[at].absorb(bucket);
            // A value both buckets mentioned was counted as referenced by
            // each; one bucket holds it now.
            for c in again.combos {
                self.principals.release(c.principal);
                self.keys.release(c.key);
                self.event_names.release(c.event_name);
            }
            for r in again.regions {
                self.regions.release(r);
            }
            for ip in again.source_ips {
                self.source_ips.release(ip);
            }
        }
        self.buckets = merged;
        for interner in [
            &mut self.principals,
            &mut self.keys,
            &mut self.event_names,
            &mut self.regions,
            &mut self.source_ips,
            &mut self.ctx_keys,
            &mut self.ctx_values,
        ] {
            interner.rescale_folded(factor);
        }
        self.config.bucket = chrono::Duration::seconds(width);
        self.spans = Spans::of(&self.config);
        // Minutes regroup differently at the new width: summed again.
        self.summaries = super::Summaries::new(width, self.hasher);
        if !self.buckets.is_empty() {
            let base = self.base;
            let newest = base + to_i64(self.buckets.len()) - 1;
            let buckets = (self.buckets.iter().enumerate()).map(|(i, b)| (base + to_i64(i), b));
            self.summaries
                .rebuild((base, newest), buckets, self.decrypt_name);
        }
        self.next_fold_sweep = i64::MIN;
        self.widened = true;
    }

    /// Whether buckets were widened past the configured width to hold a
    /// long range: rates and sparklines are then over the wider buckets.
    pub fn widened(&self) -> bool {
        self.widened
    }
}
