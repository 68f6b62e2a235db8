//! Counts over any span of buckets: per principal, per key, denied calls
//! per source IP, and calls and denied calls per bucket.
//!
//! A scan costs one step per (principal, key, event name, outcome)
//! combination of each bucket it reads, or per principal and key of a
//! minute's summary where that is less. The store keeps every count over
//! the whole retention, so a span is read directly or as the whole minus
//! the buckets outside it, whichever reads fewer combinations: a window
//! of `all` at the end of the data reads nothing, a short window reads
//! its own buckets, and no window reads more than half of the store.

use super::spans::accumulate;
use crate::store::{Counts, Dim, Store};

/// Counts over the buckets `first_index..=last index`.
#[derive(Debug, Clone, Default)]
pub struct WindowCounts {
    /// By principal id (`Store::id_bound(Dim::Principal)` long).
    pub principals: Vec<Counts>,
    /// By key id.
    pub keys: Vec<Counts>,
    /// Denied calls by source IP id.
    pub denied_ips: Vec<u64>,
    pub bucket_secs: i64,
    pub first_index: i64,
    /// Calls and denied calls per bucket, oldest first.
    pub calls: Vec<u64>,
    pub denied: Vec<u64>,
}

/// Counts over the buckets whose index lies in `from..=to`.
pub fn window_counts(store: &Store, from: i64, to: i64) -> WindowCounts {
    let len = usize::try_from(to - from + 1).unwrap_or(0);
    let mut w = WindowCounts {
        principals: vec![Counts::default(); store.id_bound(Dim::Principal)],
        keys: vec![Counts::default(); store.id_bound(Dim::Key)],
        denied_ips: vec![0; store.id_bound(Dim::SourceIp)],
        bucket_secs: store.bucket_seconds(),
        first_index: from,
        calls: vec![0; len],
        denied: vec![0; len],
    };
    let mut inside = 0;
    for (index, b) in store.buckets_in(from, to) {
        let slot = usize::try_from(index - from).unwrap_or(0);
        w.calls[slot] = u64::from(b.total());
        w.denied[slot] = u64::from(b.denied());
        inside += b.combo_count();
    }
    let all: usize = store.buckets().map(|(_, b)| b.combo_count()).sum();
    let whole = inside > all - inside;
    if whole {
        for (slot, (_, c)) in w.principals.iter_mut().zip(store.totals(Dim::Principal)) {
            *slot = c;
        }
        for (slot, (_, c)) in w.keys.iter_mut().zip(store.totals(Dim::Key)) {
            *slot = c;
        }
        for (slot, &n) in w.denied_ips.iter_mut().zip(store.denied_ip_totals()) {
            *slot = n;
        }
        for (index, b) in store.buckets() {
            if index < from || index > to {
                w.add_denied_ips(b, false);
            }
        }
        let effect = |i: i64| [-i8::from(i < from || i > to), 0, 0];
        accumulate(
            store,
            (i64::MIN, i64::MAX),
            effect,
            &mut w.principals,
            &mut w.keys,
        );
    } else {
        for (_, b) in store.buckets_in(from, to) {
            w.add_denied_ips(b, true);
        }
        accumulate(
            store,
            (from, to),
            |_| [1, 0, 0],
            &mut w.principals,
            &mut w.keys,
        );
    }
    w
}

/// Denied calls by source IP id over the buckets `from..=to`, read
/// directly (meant for a few minutes of buckets).
pub fn denied_ips_in(store: &Store, from: i64, to: i64) -> Vec<u64> {
    let mut out = vec![0; store.id_bound(Dim::SourceIp)];
    for (_, b) in store.buckets_in(from, to) {
        for (ip, n) in b.denied_ips() {
            if let Some(slot) = out.get_mut(ip as usize) {
                *slot += u64::from(n);
            }
        }
    }
    out
}

impl WindowCounts {
    /// Adds (or takes away) one bucket's denied calls per source IP.
    fn add_denied_ips(&mut self, b: &crate::store::Bucket, add: bool) {
        for (ip, n) in b.denied_ips() {
            if let Some(slot) = self.denied_ips.get_mut(ip as usize) {
                let n = u64::from(n);
                *slot = if add {
                    *slot + n
                } else {
                    slot.saturating_sub(n)
                };
            }
        }
    }
}
