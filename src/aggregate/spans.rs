//! Counts per principal and per key over spans of buckets, read through
//! the store's minute summaries where that reads fewer entries than the
//! buckets' combinations.
//!
//! Each bucket has an *effect* on up to three windows: counted in (1),
//! not (0), or taken away from totals over the whole retention (-1). A
//! minute whose buckets mostly share one effect is read as its summary
//! with that effect, and the buckets with another one are corrected by
//! the difference. Sums wrap, so a correction may come before what it
//! corrects; the result is exact once everything is added.

use super::RecentCounts;
use crate::store::{Bucket, Counts, Store};

/// What a bucket adds to each window (the first only for one window).
pub(super) type Effect = [i8; 3];

const NOTHING: Effect = [0; 3];

/// Accumulated counts of one id over one or three windows.
pub(super) trait Windows {
    fn apply(&mut self, e: Effect, calls: u64, decrypt: u64, denied: u64);
}

/// `v += e * n`, wrapping: exact once all terms are in. Without a
/// branch: a refresh in a burst applies ~10^5 summary entries.
fn shift(v: &mut u64, e: i8, n: u64) {
    *v = v.wrapping_add(i64::from(e).cast_unsigned().wrapping_mul(n));
}

impl Windows for Counts {
    fn apply(&mut self, e: Effect, calls: u64, decrypt: u64, denied: u64) {
        shift(&mut self.calls, e[0], calls);
        shift(&mut self.decrypt, e[0], decrypt);
        shift(&mut self.denied, e[0], denied);
    }
}

impl Windows for RecentCounts {
    fn apply(&mut self, e: Effect, calls: u64, decrypt: u64, denied: u64) {
        for (w, &e) in e.iter().enumerate() {
            shift(&mut self.calls[w], e, calls);
            shift(&mut self.decrypt[w], e, decrypt);
            shift(&mut self.denied[w], e, denied);
        }
    }
}

/// Adds the buckets `lo..=hi`, each with `effect(index)`, to the
/// per-principal and per-key accumulators (indexed by id). Buckets
/// outside the span have no effect.
pub(super) fn accumulate<W: Windows>(
    store: &Store,
    (lo, hi): (i64, i64),
    effect: impl Fn(i64) -> Effect,
    p: &mut [W],
    k: &mut [W],
) {
    let (Some((first, _)), Some((last, _))) = (store.buckets().next(), store.buckets().next_back())
    else {
        return;
    };
    let (lo, hi) = (lo.max(first), hi.min(last));
    if lo > hi {
        return;
    }
    let effect = |i: i64| {
        if (lo..=hi).contains(&i) {
            effect(i)
        } else {
            NOTHING
        }
    };
    let decrypt = store.decrypt_name_id();
    let per = store.summary_span();
    if per == 0 {
        for (index, b) in store.buckets_in(lo, hi) {
            add_combos(b, effect(index), decrypt, p, k);
        }
        return;
    }
    let mut members: Vec<(Effect, &Bucket)> = Vec::with_capacity(usize::try_from(per).unwrap_or(0));
    for minute in lo.div_euclid(per)..=hi.div_euclid(per) {
        members.clear();
        members.extend(
            store
                .buckets_in(minute * per, minute * per + per - 1)
                .map(|(i, b)| (effect(i), b)),
        );
        let direct: usize = members
            .iter()
            .filter(|(e, _)| *e != NOTHING)
            .map(|(_, b)| b.combo_count())
            .sum();
        let summary = store.summary(minute).filter(|s| !s.is_empty());
        let plan = summary.and_then(|s| {
            let main = dominant(&members)?;
            let rest: usize = members
                .iter()
                .filter(|(e, _)| *e != main)
                .map(|(_, b)| b.combo_count())
                .sum();
            (s.len() + rest < direct).then_some((s, main))
        });
        let Some((s, main)) = plan else {
            for &(e, b) in &members {
                add_combos(b, e, decrypt, p, k);
            }
            continue;
        };
        apply_summary(s.principals(), main, p);
        apply_summary(s.keys(), main, k);
        for &(e, b) in &members {
            if e != main {
                let delta = [e[0] - main[0], e[1] - main[1], e[2] - main[2]];
                add_combos(b, delta, decrypt, p, k);
            }
        }
    }
}

/// The effect, other than none, that most of the minute's combinations
/// have.
fn dominant(members: &[(Effect, &Bucket)]) -> Option<Effect> {
    let mut weights: Vec<(Effect, usize)> = Vec::new();
    for &(e, b) in members {
        if e == NOTHING {
            continue;
        }
        match weights.iter_mut().find(|(w, _)| *w == e) {
            Some((_, n)) => *n += b.combo_count(),
            None => weights.push((e, b.combo_count())),
        }
    }
    weights.into_iter().max_by_key(|&(_, n)| n).map(|(e, _)| e)
}

fn apply_summary<W: Windows>(
    entries: impl Iterator<Item = (u32, crate::store::Tally)>,
    e: Effect,
    acc: &mut [W],
) {
    for (id, t) in entries {
        if let Some(a) = acc.get_mut(id as usize) {
            a.apply(
                e,
                u64::from(t.calls),
                u64::from(t.decrypt),
                u64::from(t.denied),
            );
        }
    }
}

fn add_combos<W: Windows>(
    bucket: &Bucket,
    e: Effect,
    decrypt_id: u32,
    principals: &mut [W],
    keys: &mut [W],
) {
    if e == NOTHING {
        return;
    }
    for (c, n) in bucket.combos() {
        let n = u64::from(n);
        let decrypt = if c.event_name == decrypt_id { n } else { 0 };
        let denied = if c.is_denied() { n } else { 0 };
        if let Some(a) = principals.get_mut(c.principal as usize) {
            a.apply(e, n, decrypt, denied);
        }
        if let Some(a) = keys.get_mut(c.key as usize) {
            a.apply(e, n, decrypt, denied);
        }
    }
}
