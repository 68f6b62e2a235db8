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
    let plan = RecentPlan::new(store, now);
    plan.count(store, plan.span, true)
}

/// How the 1/5/15-minute counts at `now` are read: which buckets, with
/// what effect. A span can be counted in parts (one per core, a refresh
/// in a burst reads ~10^5 summary entries before any pane can start)
/// whose counts [`merge_recent`] adds up.
#[derive(Debug, Clone, Copy)]
pub struct RecentPlan {
    starts: [i64; 3],
    current: i64,
    /// The 15 minutes are the whole retention less what lies outside them.
    from_totals: bool,
    /// The buckets to read, clipped to the store's.
    pub span: (i64, i64),
}

impl RecentPlan {
    pub fn new(store: &Store, now: DateTime<Utc>) -> Self {
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
        let (lo, hi) = if from_totals {
            (i64::MIN, i64::MAX)
        } else {
            (starts[2], current)
        };
        let first = store.buckets().next().map_or(0, |(i, _)| i);
        let last = store.buckets().next_back().map_or(-1, |(i, _)| i);
        Self {
            starts,
            current,
            from_totals,
            span: (lo.max(first), hi.min(last)),
        }
    }

    /// The span in two parts of about equal work, cut between two
    /// summaries' minutes (a minute is read whole by one part); one part
    /// when it cannot be cut or holds fewer than `min_work` bucket
    /// combinations (the caller's measure of what a thread is worth).
    pub fn halves(&self, store: &Store, min_work: usize) -> Vec<(i64, i64)> {
        let (lo, hi) = self.span;
        let per = store.summary_span().max(1);
        let work = |from: i64, to: i64| -> usize {
            store
                .buckets_in(from, to)
                .map(|(_, b)| b.combo_count())
                .sum()
        };
        let all = work(lo, hi);
        if all < min_work {
            return vec![self.span];
        }
        let half = all / 2;
        let mut done = 0;
        for (i, b) in store.buckets_in(lo, hi) {
            done += b.combo_count();
            if done >= half {
                let cut = (i.div_euclid(per) + 1) * per;
                if cut > lo && cut <= hi {
                    return vec![(lo, cut - 1), (cut, hi)];
                }
                break;
            }
        }
        vec![self.span]
    }

    /// The counts of the buckets in `part` of the span; `first`: the part
    /// that also starts the 15 minutes from the retention's totals (one
    /// part only, else they are counted twice).
    pub fn count(
        &self,
        store: &Store,
        part: (i64, i64),
        first: bool,
    ) -> (Vec<RecentCounts>, Vec<RecentCounts>) {
        let mut p_acc = vec![Acc::default(); store.id_bound(Dim::Principal)];
        let mut k_acc = vec![Acc::default(); store.id_bound(Dim::Key)];
        let (starts, current, from_totals) = (self.starts, self.current, self.from_totals);
        if from_totals && first {
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
        accumulate(store, part, effect, &mut p_acc, &mut k_acc);
        (p_acc, k_acc)
    }
}

/// Adds the counts of another part of a plan's span: the sums wrap, as
/// each part's may, and are exact once every part is in.
pub fn merge_recent(into: &mut [RecentCounts], part: &[RecentCounts]) {
    for (a, b) in into.iter_mut().zip(part) {
        for w in 0..3 {
            a.calls[w] = a.calls[w].wrapping_add(b.calls[w]);
            a.decrypt[w] = a.decrypt[w].wrapping_add(b.decrypt[w]);
            a.denied[w] = a.denied[w].wrapping_add(b.denied[w]);
        }
    }
}

impl Acc {
    /// The 15-minute window starts from the whole retention's counts.
    fn set_outer(&mut self, c: Counts) {
        self.calls[2] = c.calls;
        self.decrypt[2] = c.decrypt;
        self.denied[2] = c.denied;
    }
}
