//! Putting events back into event-time order for the alert engine — the
//! one buffer the dashboard, `tail` and `report` all replay through.
//!
//! Log files arrive roughly in delivery order and are read on several
//! threads, so events reach the report a little out of order: a file holds
//! the last few minutes, a late file holds calls up to an hour or more old.
//! Windows and spikes need event-time order, so events wait here until
//! nothing older can still arrive (the newest time seen minus `lateness`),
//! then leave oldest first. Memory is bounded by the lateness window, not
//! by the length of the run, and by a cap on the events held: past it the
//! oldest leave early, so a very busy account costs a little ordering
//! precision rather than unbounded memory.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{DateTime, Duration, Utc};

/// Events held until their time is safely behind the newest seen.
pub struct Replay<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    lateness: Duration,
    max_held: usize,
    /// Below this many, nothing leaves before the end: a run this small is
    /// replayed in exact time order whatever order its files came in.
    min_held: usize,
    newest: Option<DateTime<Utc>>,
    /// The newest time already released: an item older than it came too
    /// late to take its place.
    released: Option<DateTime<Utc>>,
    late: u64,
    sequence: u64,
}

struct Entry<T> {
    time: DateTime<Utc>,
    /// Orders equal times by what the item is (see `push_tied`)...
    tie: u64,
    /// ...then by arrival.
    sequence: u64,
    item: T,
}

impl<T> Entry<T> {
    fn key(&self) -> (DateTime<Utc>, u64, u64) {
        (self.time, self.tie, self.sequence)
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl<T> Replay<T> {
    #[must_use]
    pub fn new(lateness: Duration, max_held: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            lateness,
            max_held: max_held.max(1),
            min_held: 0,
            newest: None,
            released: None,
            late: 0,
            sequence: 0,
        }
    }

    /// Holds up to `n` items whatever their times (at most the cap).
    #[must_use]
    pub fn holding(mut self, n: usize) -> Self {
        self.min_held = n.min(self.max_held);
        self
    }

    pub fn push(&mut self, time: DateTime<Utc>, item: T) {
        self.push_tied(time, 0, item);
    }

    /// Pushes with `order` ordering it among items of the same time, so
    /// they leave in an order that does not depend on arrival.
    pub fn push_tied(&mut self, time: DateTime<Utc>, order: u64, item: T) {
        self.newest = self.newest.max(Some(time));
        if self.released.is_some_and(|r| time < r) {
            self.late += 1;
        }
        self.sequence += 1;
        self.heap.push(Reverse(Entry {
            time,
            tie: order,
            sequence: self.sequence,
            item,
        }));
    }

    /// The next item whose time is at least `lateness` behind the newest,
    /// or the oldest when more than the cap are held.
    pub fn pop_ready(&mut self) -> Option<(DateTime<Utc>, T)> {
        let horizon = self.newest? - self.lateness;
        let held = self.heap.len();
        if held <= self.min_held || (self.heap.peek()?.0.time > horizon && held <= self.max_held) {
            return None;
        }
        self.pop_any()
    }

    /// Items that arrived older than one already released: they were
    /// replayed out of time order.
    #[must_use]
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The next item if its time is at or before `until`: for a consumer
    /// that knows from elsewhere (a source's watermark) that nothing older
    /// can still arrive.
    pub fn pop_until(&mut self, until: DateTime<Utc>) -> Option<(DateTime<Utc>, T)> {
        if self.heap.peek()?.0.time > until {
            return None;
        }
        self.pop_any()
    }

    /// The next item that may go to the engine: up to the sources'
    /// watermark when they gave one (nothing older can still arrive), else
    /// (and also) once it is `lateness` behind the newest.
    pub fn pop_next(&mut self, watermark: Option<DateTime<Utc>>) -> Option<(DateTime<Utc>, T)> {
        watermark
            .and_then(|m| self.pop_until(m))
            .or_else(|| self.pop_ready())
    }

    /// The next item regardless of time: for the end of the input.
    pub fn pop_any(&mut self) -> Option<(DateTime<Utc>, T)> {
        let Reverse(e) = self.heap.pop()?;
        self.released = self.released.max(Some(e.time));
        Some((e.time, e.item))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
            + Duration::minutes(minute)
    }

    #[test]
    fn releases_in_time_order_once_safely_behind() {
        let mut r = Replay::new(Duration::minutes(30), 100);
        for (minute, name) in [(10, "b"), (5, "a"), (40, "d"), (12, "c")] {
            r.push(at(minute), name);
        }
        let mut out = Vec::new();
        while let Some((_, name)) = r.pop_ready() {
            out.push(name);
        }
        // Newest is 40, so everything up to minute 10 may go.
        assert_eq!(out, ["a", "b"]);
        while let Some((_, name)) = r.pop_any() {
            out.push(name);
        }
        assert_eq!(out, ["a", "b", "c", "d"]);
    }

    #[test]
    fn the_cap_releases_the_oldest_early() {
        let mut r = Replay::new(Duration::hours(2), 2);
        for (minute, name) in [(3, "c"), (1, "a"), (2, "b")] {
            r.push(at(minute), name);
        }
        // Nothing is two hours behind, but three exceed the cap of two.
        assert_eq!(r.pop_ready().map(|(_, n)| n), Some("a"));
        assert_eq!(r.pop_ready(), None);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_small_run_is_held_whole_and_counts_what_came_late() {
        let mut r = Replay::new(Duration::minutes(1), 100).holding(3);
        for (minute, name) in [(50, "c"), (1, "a"), (40, "b")] {
            r.push(at(minute), name);
        }
        // Minute 1 is far behind minute 50, but three are held whole.
        assert_eq!(r.pop_ready(), None);
        r.push(at(60), "d");
        assert_eq!(r.pop_ready().map(|(_, n)| n), Some("a"));
        assert_eq!(r.late(), 0);
        r.push(at(0), "too late");
        assert_eq!(r.late(), 1);
    }

    #[test]
    fn ties_leave_by_their_key_not_by_arrival() {
        let mut r = Replay::new(Duration::zero(), 100);
        r.push_tied(at(1), 9, "nine");
        r.push_tied(at(1), 2, "two");
        let out: Vec<_> = std::iter::from_fn(|| r.pop_any().map(|(_, n)| n)).collect();
        assert_eq!(out, ["two", "nine"]);
    }

    #[test]
    fn equal_times_keep_arrival_order() {
        let mut r = Replay::new(Duration::zero(), 100);
        for name in ["x", "y", "z"] {
            r.push(at(1), name);
        }
        let out: Vec<_> = std::iter::from_fn(|| r.pop_any().map(|(_, n)| n)).collect();
        assert_eq!(out, ["x", "y", "z"]);
    }
}
