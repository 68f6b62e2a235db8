//! Per-principal and per-key rates over the 1/5/15-minute windows.

use chrono::{DateTime, Utc};

use super::spans::{Effect, accumulate};
use super::{RateSpan, Window, per_minute};
use crate::store::{Counts, Dim, Store};

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
/// (vectors indexed by id), from the last 15 minutes' minute summaries
/// and buckets.
pub fn recent_counts(store: &Store, now: DateTime<Utc>) -> (Vec<RecentCounts>, Vec<RecentCounts>) {
    let mut p_acc = vec![Acc::default(); store.id_bound(Dim::Principal)];
    let mut k_acc = vec![Acc::default(); store.id_bound(Dim::Key)];
    let secs = store.bucket_seconds();
    let current = store.bucket_index(now);
    let starts = Window::ALL.map(|w| current - w.buckets(secs) + 1);
    // When the 15 minutes hold most of the store (a burst), they are
    // cheaper read as the whole retention less what lies outside them.
    let inside: usize = store
        .buckets_in(starts[2], current)
        .map(|(_, b)| b.combo_count())
        .sum();
    let all: usize = store.buckets().map(|(_, b)| b.combo_count()).sum();
    let from_totals = inside > all - inside;
    if from_totals {
        for (acc, (_, c)) in p_acc.iter_mut().zip(store.totals(Dim::Principal)) {
            acc.set_outer(c);
        }
        for (acc, (_, c)) in k_acc.iter_mut().zip(store.totals(Dim::Key)) {
            acc.set_outer(c);
        }
    }
    let effect = |i: i64| -> Effect {
        if i < starts[2] || i > current {
            return [0, 0, -i8::from(from_totals)];
        }
        // Windows are nested: a bucket in the 1-minute window is in all three.
        [
            i8::from(i >= starts[0]),
            i8::from(i >= starts[1]),
            i8::from(!from_totals),
        ]
    };
    let span = if from_totals {
        (i64::MIN, i64::MAX)
    } else {
        (starts[2], current)
    };
    accumulate(store, span, effect, &mut p_acc, &mut k_acc);
    (p_acc, k_acc)
}

impl Acc {
    /// The 15-minute window starts from the whole retention's counts.
    fn set_outer(&mut self, c: Counts) {
        self.calls[2] = c.calls;
        self.decrypt[2] = c.decrypt;
        self.denied[2] = c.denied;
    }
}
