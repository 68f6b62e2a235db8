//! The identities of the events counted in retention, for duplicates.
//!
//! Each identity hash is kept once, in the hour (of event time) its event
//! belongs to; an hour is dropped whole once every second of that hour
//! has left retention. Nothing is evicted earlier, so a copy of any event
//! still in retention is caught. An identity whose bucket has expired but
//! whose hour has not is remembered a little longer, which is harmless:
//! the identity carries the event time, so a copy of it falls in the same
//! expired bucket and is refused as too old before this set is asked.
//! Per-bucket lists of hashes (to forget them bucket by bucket) would cost
//! another 8 bytes per event for no change in behaviour.
//!
//! # Sealed and fresh
//!
//! A file dashboard holds every identity of its range (3 M events over ten
//! days), and a hash set costs ~14 bytes an identity with its slack. So an
//! hour keeps most of its identities *sealed*: a sorted `Vec<u64>`, 8
//! bytes each, searched by interpolation (the hashes are uniform, so the
//! first guess lands within a few cache lines). Arrivals go to the hour's
//! small *fresh* hash set, which is sorted and merged into the sealed part
//! once it holds a sixteenth as many (and at least [`MIN_MERGE`]): each
//! identity is moved about 17 times over its life, a memory copy, and a
//! lookup asks both parts, so what is found is exactly what one set would
//! find.

use std::collections::VecDeque;

use super::hash::{FastSet, FastState};

const HOUR_SECS: i64 = 3600;
/// The fresh set of an hour is merged into its sealed part once it holds
/// this many identities and at least a [`SEALED_PER_FRESH`]th of the
/// sealed ones.
const MIN_MERGE: usize = 256;
const SEALED_PER_FRESH: usize = 16;

/// One hour's identities: each is in exactly one of the two parts.
#[derive(Debug)]
struct Hour {
    /// Sorted, no repeats.
    sealed: Vec<u64>,
    fresh: FastSet<u64>,
}

impl Hour {
    fn new(hasher: FastState) -> Self {
        Self {
            sealed: Vec::new(),
            fresh: FastSet::with_hasher(hasher),
        }
    }

    fn len(&self) -> usize {
        self.sealed.len() + self.fresh.len()
    }

    fn insert(&mut self, hash: u64) -> bool {
        if sorted_contains(&self.sealed, hash) || !self.fresh.insert(hash) {
            return false;
        }
        if self.fresh.len() >= MIN_MERGE.max(self.sealed.len() / SEALED_PER_FRESH) {
            self.merge();
        }
        true
    }

    /// Moves the fresh identities into the sealed part, which is
    /// allocated at its exact size (a full log cycles through hours, so
    /// slack would stay resident for nothing).
    fn merge(&mut self) {
        let hasher = *self.fresh.hasher();
        let mut fresh: Vec<u64> = std::mem::replace(&mut self.fresh, FastSet::with_hasher(hasher))
            .into_iter()
            .collect();
        fresh.sort_unstable();
        let mut merged = Vec::with_capacity(self.sealed.len() + fresh.len());
        let (mut a, mut b) = (self.sealed.iter().peekable(), fresh.iter().peekable());
        while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
            if x < y {
                merged.push(x);
                a.next();
            } else {
                merged.push(y);
                b.next();
            }
        }
        merged.extend(a);
        merged.extend(b);
        self.sealed = merged;
    }
}

/// Whether the sorted `sorted` holds `hash`. The first probe is where a
/// uniform hash would lie; from there the search widens by doubling to
/// the two entries around `hash`, then halves between them.
fn sorted_contains(sorted: &[u64], hash: u64) -> bool {
    let n = sorted.len();
    if n == 0 {
        return false;
    }
    let wide = u128::try_from(n).unwrap_or(u128::MAX);
    let guess = usize::try_from((u128::from(hash) * wide) >> 64)
        .unwrap_or(0)
        .min(n - 1);
    // The window [lo, hi) that must hold `hash` if anything does.
    let (mut lo, mut hi) = (guess, guess + 1);
    let mut step = 1;
    if sorted[guess] < hash {
        while hi < n && sorted[hi - 1] < hash {
            lo = hi;
            hi = (hi + step).min(n);
            step *= 2;
        }
    } else {
        while lo > 0 && sorted[lo] > hash {
            hi = lo + 1;
            lo = lo.saturating_sub(step);
            step *= 2;
        }
    }
    sorted[lo..hi].binary_search(&hash).is_ok()
}

#[derive(Debug)]
pub(super) struct Identities {
    /// One entry per hour of event time; empty hours between allocate
    /// nothing.
    hours: VecDeque<Hour>,
    /// Hour number (seconds since the epoch / 3600) of `hours[0]`.
    base: i64,
    len: usize,
    hasher: FastState,
}

impl Identities {
    pub fn new(hasher: FastState) -> Self {
        Self {
            hours: VecDeque::new(),
            base: 0,
            len: 0,
            hasher,
        }
    }

    /// Records `hash` for an event at `secs` (event time, seconds since the
    /// epoch); true when it was not there yet.
    pub fn insert(&mut self, secs: i64, hash: u64) -> bool {
        let hour = secs.div_euclid(HOUR_SECS);
        if self.hours.is_empty() {
            self.base = hour;
        }
        while hour < self.base {
            self.hours.push_front(Hour::new(self.hasher));
            self.base -= 1;
        }
        let i = usize::try_from(hour - self.base).unwrap_or(0);
        if i >= self.hours.len() {
            self.hours.resize_with(i + 1, || Hour::new(self.hasher));
        }
        let inserted = self.hours[i].insert(hash);
        self.len += usize::from(inserted);
        inserted
    }

    /// Forgets the hours that end at or before `cutoff_secs`, the first
    /// second still in retention.
    pub fn expire(&mut self, cutoff_secs: i64) {
        while (self.base + 1) * HOUR_SECS <= cutoff_secs {
            let Some(hour) = self.hours.pop_front() else {
                break;
            };
            self.len -= hour.len();
            self.base += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kept_until_the_whole_hour_leaves_retention() {
        let mut s = Identities::new(FastState::random());
        let h = 500_000 * HOUR_SECS;
        assert!(s.insert(h + 10, 1));
        assert!(!s.insert(h + 10, 1));
        // Late and early hours around the first one.
        assert!(s.insert(h - 1, 2));
        assert!(s.insert(h + 2 * HOUR_SECS, 3));
        assert_eq!(s.len(), 3);
        s.expire(h - 1);
        assert_eq!(s.len(), 3);
        s.expire(h);
        assert_eq!(s.len(), 2);
        s.expire(h + HOUR_SECS - 1);
        assert_eq!(s.len(), 2);
        assert!(!s.insert(h + 10, 1));
        s.expire(h + HOUR_SECS);
        assert_eq!(s.len(), 1);
        s.expire(h + 10 * HOUR_SECS);
        assert_eq!(s.len(), 0);
        assert!(s.insert(h + 20 * HOUR_SECS, 1));
        assert_eq!(s.len(), 1);
    }

    /// Uniform 64-bit hashes, distinct for distinct seeds.
    fn hashes(seed: u64, n: usize) -> Vec<u64> {
        let state = FastState::random();
        (0..n)
            .map(|i| std::hash::BuildHasher::hash_one(&state, (seed, i)))
            .collect()
    }

    #[test]
    fn copies_are_found_on_both_sides_of_the_seal_in_any_order() {
        let h = 480_000 * HOUR_SECS;
        let all = hashes(7, 20_000);
        let mut s = Identities::new(FastState::random());
        for (i, &x) in all.iter().enumerate() {
            let secs = i64::try_from(i % 3600).expect("small");
            assert!(s.insert(h + secs, x), "{i} new");
        }
        let hour = &s.hours[0];
        // Most are sealed, and the last arrivals are still fresh: both
        // parts are asked below.
        assert!(hour.sealed.len() > 15_000, "{}", hour.sealed.len());
        assert!(!hour.fresh.is_empty());
        assert_eq!(s.len(), all.len());
        // Again, in another order (reversed, then every seventh first),
        // with new identities between the copies: every copy is refused,
        // every new one taken, across merges.
        let more = hashes(8, 20_000);
        let mut order: Vec<usize> = (0..all.len()).rev().collect();
        order.sort_by_key(|i| i % 7 != 0);
        for (n, &i) in order.iter().enumerate() {
            assert!(!s.insert(h + 5, all[i]), "copy {i} taken");
            assert!(s.insert(h + 6, more[n]), "new {n} refused");
        }
        assert_eq!(s.len(), 40_000);
        for &x in all.iter().chain(&more) {
            assert!(!s.insert(h, x));
        }
    }

    #[test]
    fn hashes_at_the_ends_of_the_range_are_found() {
        let mut s = Identities::new(FastState::random());
        let edges = [0, 1, 2, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
        let filler = hashes(9, 3 * MIN_MERGE);
        for &x in filler.iter().chain(&edges) {
            assert!(s.insert(0, x));
        }
        for &x in edges.iter().chain(&filler) {
            assert!(!s.insert(0, x), "{x}");
        }
    }

    proptest! {
        /// The search is exact whatever the values' spread (clustered,
        /// tiny, at the ends), not only on uniform hashes.
        #[test]
        fn the_sorted_search_agrees_with_a_binary_search(
            mut values in proptest::collection::vec(
                prop_oneof![any::<u64>(), 0..64u64, (u64::MAX - 64)..=u64::MAX],
                0..300,
            ),
            probes in proptest::collection::vec(
                prop_oneof![any::<u64>(), 0..64u64, (u64::MAX - 64)..=u64::MAX],
                0..50,
            ),
        ) {
            values.sort_unstable();
            values.dedup();
            for p in probes.iter().chain(&values) {
                prop_assert_eq!(sorted_contains(&values, *p), values.binary_search(p).is_ok());
            }
        }
    }
}
