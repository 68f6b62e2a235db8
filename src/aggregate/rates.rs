//! Per-principal and per-key rates over the 1/5/15-minute windows.

use chrono::{DateTime, Utc};

use super::{RateSpan, Window, per_minute};
use crate::store::{Dim, Store};

/// Events per minute over each window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub m1: f64,
    pub m5: f64,
    pub m15: f64,
}

impl Rates {
    fn from_counts(c: &[u64; 3], span: &RateSpan) -> Self {
        Self {
            m1: per_minute(c[0], span.seconds[0]),
            m5: per_minute(c[1], span.seconds[1]),
            m15: per_minute(c[2], span.seconds[2]),
        }
    }
}

/// Calls, Decrypt, denied per window (1, 5, 15 minutes), for one id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentCounts {
    pub calls: [u64; 3],
    pub decrypt: [u64; 3],
    pub denied: [u64; 3],
}

type Acc = RecentCounts;

impl RecentCounts {
    /// Calls per minute over each window.
    pub fn call_rates(&self, span: &RateSpan) -> Rates {
        Rates::from_counts(&self.calls, span)
    }

    /// Denied calls per minute over each window.
    pub fn denied_rates(&self, span: &RateSpan) -> Rates {
        Rates::from_counts(&self.denied, span)
    }
}

/// The 1/5/15-minute counts of every principal id and every key id
/// (vectors indexed by id), from one scan of the last 15 minutes' buckets.
pub fn recent_counts(store: &Store, now: DateTime<Utc>) -> (Vec<RecentCounts>, Vec<RecentCounts>) {
    let mut p_acc = vec![Acc::default(); store.id_bound(Dim::Principal)];
    let mut k_acc = vec![Acc::default(); store.id_bound(Dim::Key)];
    let secs = store.bucket_seconds();
    let current = store.bucket_index(now);
    let starts = Window::ALL.map(|w| current - w.buckets(secs) + 1);
    let decrypt_id = store.decrypt_name_id();
    for (index, bucket) in store.buckets_in(starts[2], current) {
        // Windows are nested: a bucket in the 1-minute window is in all
        // three, so it counts in the windows from the first that holds it.
        let from = starts.iter().filter(|&&s| index < s).count();
        for (c, n) in bucket.combos() {
            let (n, decrypt, denied) = (u64::from(n), c.event_name == decrypt_id, c.is_denied());
            p_acc[c.principal as usize].add_from(from, n, decrypt, denied);
            k_acc[c.key as usize].add_from(from, n, decrypt, denied);
        }
    }
    (p_acc, k_acc)
}

impl Acc {
    /// Adds to windows `from..3` (index 0 is the shortest window).
    fn add_from(&mut self, from: usize, n: u64, decrypt: bool, denied: bool) {
        for w in from..3 {
            self.calls[w] += n;
            if decrypt {
                self.decrypt[w] += n;
            }
            if denied {
                self.denied[w] += n;
            }
        }
    }
}
