//! The identities of the events counted in retention, for duplicates.
//!
//! Each identity hash is kept once, in the set of the hour (of event time)
//! its event belongs to; an hour's set is dropped whole once every second
//! of that hour has left retention. Nothing is evicted earlier, so a copy
//! of any event still in retention is caught. An identity whose bucket has
//! expired but whose hour has not is remembered a little longer, which is
//! harmless: the identity carries the event time, so a copy of it falls in
//! the same expired bucket and is refused as too old before this set is
//! asked. Per-bucket lists of hashes (to forget them bucket by bucket)
//! would cost another 8 bytes per event for no change in behaviour.

use std::collections::VecDeque;

use super::hash::{FastSet, FastState};

const HOUR_SECS: i64 = 3600;

#[derive(Debug)]
pub(super) struct Identities {
    /// One set per hour of event time; empty hours between allocate nothing.
    hours: VecDeque<FastSet<u64>>,
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
            self.hours.push_front(FastSet::with_hasher(self.hasher));
            self.base -= 1;
        }
        let i = usize::try_from(hour - self.base).unwrap_or(0);
        if i >= self.hours.len() {
            self.hours
                .resize_with(i + 1, || FastSet::with_hasher(self.hasher));
        }
        let inserted = self.hours[i].insert(hash);
        self.len += usize::from(inserted);
        inserted
    }

    /// Forgets the hours that end at or before `cutoff_secs`, the first
    /// second still in retention.
    pub fn expire(&mut self, cutoff_secs: i64) {
        while (self.base + 1) * HOUR_SECS <= cutoff_secs {
            let Some(set) = self.hours.pop_front() else {
                break;
            };
            self.len -= set.len();
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
}
