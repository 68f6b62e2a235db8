//! Per-minute counts per principal and per key, for the newest hour.
//!
//! A bucket's combinations (principal × key × event name × outcome) are
//! what every count is read from, but a burst makes them many: with 1 M
//! events in 15 minutes, the rates and sparklines read every one of them
//! on each refresh. A minute holds fewer distinct principals than its
//! buckets hold combinations, and a sparkline asks a minute about one id
//! at a time, so the store also keeps, for each minute of the newest
//! hour, the sum of its buckets by principal and by key. A summary is
//! always the exact sum of the buckets of its minute that the store holds:
//! it is kept as events come and buckets go, and older minutes simply have
//! none (readers fall back to the buckets).
//!
//! Only buckets narrower than a minute that divide it are grouped (10 s
//! buckets: six to a minute); with buckets of a minute or wider there is
//! nothing to gain, and no summaries are kept.

use std::collections::VecDeque;

use super::bucket::Bucket;
use super::hash::{FastMap, FastState};

/// Minutes summarized, counting back from the newest bucket's: the
/// sparklines' hour, and a few minutes of slack.
const HORIZON: usize = 64;

/// Calls, Decrypt calls and denied calls of one id in one minute. A
/// minute holds at most 60 buckets' worth, each counted in `u32`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u32,
    pub decrypt: u32,
    pub denied: u32,
}

impl Tally {
    fn add(&mut self, n: u32, decrypt: bool, denied: bool) {
        self.calls += n;
        self.decrypt += if decrypt { n } else { 0 };
        self.denied += if denied { n } else { 0 };
    }

    /// Takes `n` away; true when nothing is left.
    fn sub(&mut self, n: u32, decrypt: bool, denied: bool) -> bool {
        self.calls -= n;
        self.decrypt -= if decrypt { n } else { 0 };
        self.denied -= if denied { n } else { 0 };
        self.calls == 0
    }
}

/// One minute's counts by principal id and by key id.
#[derive(Debug, Clone)]
pub struct Summary {
    principals: FastMap<u32, Tally>,
    keys: FastMap<u32, Tally>,
}

impl Summary {
    fn new(hasher: FastState) -> Self {
        Self {
            principals: FastMap::with_hasher(hasher),
            keys: FastMap::with_hasher(hasher),
        }
    }

    pub fn principals(&self) -> impl Iterator<Item = (u32, Tally)> + '_ {
        self.principals.iter().map(|(&id, &t)| (id, t))
    }

    pub fn keys(&self) -> impl Iterator<Item = (u32, Tally)> + '_ {
        self.keys.iter().map(|(&id, &t)| (id, t))
    }

    pub fn principal(&self, id: u32) -> Option<Tally> {
        self.principals.get(&id).copied()
    }

    pub fn key(&self, id: u32) -> Option<Tally> {
        self.keys.get(&id).copied()
    }

    /// Entries: what reading the whole summary costs.
    pub fn len(&self) -> usize {
        self.principals.len() + self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.principals.is_empty() && self.keys.is_empty()
    }
}

#[derive(Debug)]
pub(super) struct Summaries {
    /// Buckets per minute; 0 when no summaries are kept.
    per: i64,
    minutes: VecDeque<Summary>,
    /// Minute number (bucket index / `per`) of `minutes[0]`.
    base: i64,
    hasher: FastState,
}

impl Summaries {
    pub fn new(bucket_secs: i64, hasher: FastState) -> Self {
        let per = if bucket_secs < 60 && 60 % bucket_secs == 0 {
            60 / bucket_secs
        } else {
            0
        };
        Self {
            per,
            minutes: VecDeque::new(),
            base: 0,
            hasher,
        }
    }

    /// Buckets per summarized minute; 0 when none are kept.
    pub fn per(&self) -> i64 {
        self.per
    }

    fn at(&mut self, bucket: i64) -> Option<&mut Summary> {
        if self.per == 0 {
            return None;
        }
        let i = usize::try_from(bucket.div_euclid(self.per) - self.base).ok()?;
        self.minutes.get_mut(i)
    }

    pub fn get(&self, minute: i64) -> Option<&Summary> {
        if self.per == 0 {
            return None;
        }
        let i = usize::try_from(minute - self.base).ok()?;
        self.minutes.get(i)
    }

    /// The store holds only the (empty) bucket `first`: start afresh.
    pub fn reset(&mut self, first: i64) {
        self.minutes.clear();
        if self.per > 0 {
            self.base = first.div_euclid(self.per);
            self.minutes.push_back(Summary::new(self.hasher));
        }
    }

    /// The newest bucket is now `newest` (new buckets are empty): its
    /// minute and those before it get summaries, minutes past the horizon
    /// lose theirs.
    pub fn extend_to(&mut self, newest: i64) {
        if self.per == 0 {
            return;
        }
        let minute = newest.div_euclid(self.per);
        while self.base + super::to_i64(self.minutes.len()) <= minute {
            self.minutes.push_back(Summary::new(self.hasher));
            if self.minutes.len() > HORIZON {
                self.minutes.pop_front();
                self.base += 1;
            }
        }
    }

    pub fn add(&mut self, bucket: i64, combo: (u32, u32), n: u32, decrypt: bool, denied: bool) {
        if self.per == 0 {
            return;
        }
        let (principal, key) = combo;
        if let Some(s) = self.at(bucket) {
            s.principals
                .entry(principal)
                .or_default()
                .add(n, decrypt, denied);
            s.keys.entry(key).or_default().add(n, decrypt, denied);
        }
    }

    /// Bucket `index` leaves the store.
    pub fn remove(&mut self, index: i64, bucket: &Bucket, decrypt_name: u32) {
        if self.per == 0 {
            return;
        }
        let Some(s) = self.at(index) else {
            return;
        };
        for (c, n) in bucket.combos() {
            let (decrypt, denied) = (c.event_name == decrypt_name, c.is_denied());
            for (map, id) in [(&mut s.principals, c.principal), (&mut s.keys, c.key)] {
                if let Some(t) = map.get_mut(&id)
                    && t.sub(n, decrypt, denied)
                {
                    map.remove(&id);
                }
            }
        }
    }

    /// Minutes before the one holding bucket `first` have no buckets left.
    pub fn forget_before(&mut self, first: i64) {
        if self.per == 0 {
            return;
        }
        let minute = first.div_euclid(self.per);
        while self.base < minute && !self.minutes.is_empty() {
            self.minutes.pop_front();
            self.base += 1;
        }
    }

    /// Summarizes afresh the newest minutes of the store's buckets
    /// (`first..=newest`, all of them given oldest first), after they
    /// were widened.
    pub fn rebuild<'b>(
        &mut self,
        (first, newest): (i64, i64),
        buckets: impl Iterator<Item = (i64, &'b Bucket)>,
        decrypt_name: u32,
    ) {
        self.minutes.clear();
        if self.per == 0 {
            return;
        }
        let last = newest.div_euclid(self.per);
        self.base = (last - super::to_i64(HORIZON) + 1).max(first.div_euclid(self.per));
        for _ in self.base..=last {
            self.minutes.push_back(Summary::new(self.hasher));
        }
        for (index, b) in buckets {
            let Some(s) = self.at(index) else { continue };
            for (c, n) in b.combos() {
                let (decrypt, denied) = (c.event_name == decrypt_name, c.is_denied());
                s.principals
                    .entry(c.principal)
                    .or_default()
                    .add(n, decrypt, denied);
                s.keys.entry(c.key).or_default().add(n, decrypt, denied);
            }
        }
    }
}
