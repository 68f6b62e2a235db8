//! The events the dashboard can list and open, in event-time order.
//!
//! The store's own ring keeps events in arrival order, which is the wrong
//! order for time travel: live backfill arrives newest first and log files
//! arrive by delivery. This log keeps them sorted by event time, so the
//! Events pane at any cursor is a binary search plus a walk backwards.
//! The dashboard runs its store with no ring, so events are held once.
//!
//! Memory is bounded like the ring's: at most `capacity` events (the
//! oldest by event time leave first), and only the `raw_capacity` most
//! recently *arrived* keep their original record text.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::aggregate::resources::{Marker, ResourceMark};
use crate::event::{PackedEvent, Parsed};
use crate::feed::{RecordAt, RecordReader};

/// An event's place in the log: its time and arrival number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub time: DateTime<Utc>,
    pub seq: u64,
}

#[derive(Debug)]
pub struct Entry {
    pub seq: u64,
    pub event: PackedEvent,
    /// Where its record lies, when the record is not held but can be read
    /// again.
    pub at: Option<RecordAt>,
    /// The resource its encryption context names, if it is a data call
    /// (see [`EventLog::mark_of`]): read once, when it arrives.
    pub mark: ResourceMark,
}

impl Entry {
    /// The event's original record: held, or read again from its local
    /// file with `reader` and checked to be the same event (same id and
    /// time).
    ///
    /// # Errors
    /// Why the record cannot be shown: not held and nowhere to read it
    /// from, the file unreadable, or changed since it was read.
    pub fn record(&self, reader: Option<RecordReader>) -> Result<String, String> {
        if let Some(raw) = self.event.record() {
            return Ok(raw.into_owned());
        }
        // A record in S3 is asked for, not read here (see `refetch`).
        let local = self.at.as_ref().filter(|at| !at.in_s3());
        let (Some(at), Some(read)) = (local, reader) else {
            return Err("raw record no longer in memory".to_owned());
        };
        let file = &at.file;
        let text = read(at).map_err(|e| format!("{file}: {e}"))?;
        if is_record_of(&text, &self.event) {
            Ok(text)
        } else {
            Err(format!("{file} changed since it was read"))
        }
    }

    pub fn key(&self) -> EventKey {
        EventKey {
            time: self.event.time(),
            seq: self.seq,
        }
    }
}

/// Whether `text`, read again from wherever it lies, is the record of
/// `event`: a KMS record with the same id and time (what lies there may
/// have changed since, or be another event altogether).
pub fn is_record_of(text: &str, event: &PackedEvent) -> bool {
    let v = event.view();
    matches!(
        crate::event::parse_record(text),
        Ok(Parsed::Kms(e)) if e.event_id == v.event_id && e.time == v.time
    )
}

#[derive(Debug)]
pub struct EventLog {
    events: VecDeque<Entry>,
    /// Keys of the events that may still hold their record, oldest
    /// arrival first.
    with_raw: VecDeque<EventKey>,
    capacity: usize,
    raw_capacity: usize,
    next_seq: u64,
    /// The newest event time let go for room (not by retention): the log
    /// no longer holds every event up to it.
    dropped_through: Option<DateTime<Utc>>,
    /// Bumped whenever an event comes or goes: what is counted from the
    /// held events is current while it is unchanged.
    generation: u64,
    marker: Marker,
    deflater: Deflater,
}

/// Deflates the records the log keeps: five times as many fit in the
/// same memory (a live dashboard keeps its newest 10 000).
struct Deflater(libdeflater::Compressor);

impl Default for Deflater {
    fn default() -> Self {
        // The fastest level that deflates (0 only stores): a record
        // deflates in microseconds, to about a fifth, barely less at the
        // slowest.
        Self(libdeflater::Compressor::new(
            libdeflater::CompressionLvl::new(1).unwrap_or_default(),
        ))
    }
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deflater")
    }
}

impl EventLog {
    pub fn new(capacity: usize, raw_capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            with_raw: VecDeque::new(),
            capacity: capacity.max(1),
            raw_capacity,
            next_seq: 0,
            dropped_through: None,
            generation: 0,
            marker: Marker::default(),
            deflater: Deflater::default(),
        }
    }

    /// Inserts in time order (after events of the same time); returns its key.
    pub fn push(&mut self, event: PackedEvent, at: Option<RecordAt>) -> EventKey {
        let keys = self.push_all(vec![(event, at)]);
        keys[0]
    }

    /// Inserts a batch in time order, each after the events of its time
    /// already held, as one `push` after another would; returns the keys
    /// in the batch's order.
    ///
    /// A file's events land among the last minutes' events of the files
    /// read beside it: inserting them one by one moved those minutes'
    /// entries once per event (a fifth of the file dashboard's loading).
    /// The batch is sorted and merged with the held events from its
    /// oldest one on, moving each once.
    pub fn push_all(&mut self, batch: Vec<(PackedEvent, Option<RecordAt>)>) -> Vec<EventKey> {
        let mut entries: Vec<Entry> = batch
            .into_iter()
            .map(|(mut event, at)| {
                let seq = self.next_seq;
                self.next_seq += 1;
                if self.raw_capacity == 0 {
                    event.strip_raw();
                } else if !event.has_raw() {
                    // Packed on a reader thread (a record, when held, is
                    // copied or deflated here below).
                    event.rehome();
                }
                let mark = self.marker.mark(&event);
                Entry {
                    seq,
                    event,
                    at,
                    mark,
                }
            })
            .collect();
        if !entries.is_empty() {
            self.generation += 1;
        }
        let keys: Vec<EventKey> = entries.iter().map(Entry::key).collect();
        let with_raw: Vec<EventKey> = entries
            .iter()
            .filter(|e| e.event.has_raw())
            .map(Entry::key)
            .collect();
        entries.sort_unstable_by_key(Entry::key);
        self.reserve(entries.len());
        if let Some(oldest) = entries.first().map(Entry::key) {
            let from = self.events.partition_point(|e| e.key() < oldest);
            let mut held = self
                .events
                .drain(from..)
                .collect::<Vec<_>>()
                .into_iter()
                .peekable();
            let mut new = entries.into_iter().peekable();
            while let (Some(a), Some(b)) = (held.peek(), new.peek()) {
                let next = if a.key() < b.key() {
                    held.next()
                } else {
                    new.next()
                };
                self.events.extend(next);
            }
            self.events.extend(held);
            self.events.extend(new);
        }
        let fresh = with_raw.len();
        self.with_raw.extend(with_raw);
        while self.with_raw.len() > self.raw_capacity {
            if let Some(old) = self.with_raw.pop_front()
                && let Some(i) = self.position(old)
            {
                self.events[i].event.strip_raw();
            }
        }
        // This batch's records that stay (the newest arrivals, last in
        // the queue), deflated once.
        let kept = fresh.min(self.with_raw.len());
        for at in self.with_raw.len() - kept..self.with_raw.len() {
            if let Some(i) = self.position(self.with_raw[at]) {
                self.events[i].event.deflate_raw(&mut self.deflater.0);
            }
        }
        while self.events.len() > self.capacity {
            if let Some(gone) = self.events.pop_front() {
                self.dropped_through = self.dropped_through.max(Some(gone.event.time()));
            }
        }
        keys
    }

    /// Room for `more` events. Growth doubles as usual but stops at the
    /// capacity (and this batch over it): a full log cycles through its
    /// whole buffer, so the half a plain doubling leaves unused past the
    /// capacity would end up resident for nothing (10 MB at 400 k events).
    fn reserve(&mut self, more: usize) {
        let needed = self.events.len() + more;
        if needed > self.events.capacity() {
            let target = (self.events.capacity() * 2)
                .max(needed)
                .min(self.capacity.max(needed));
            self.events.reserve_exact(target - self.events.len());
        }
    }

    /// Up to when events were let go to stay within the capacity: the
    /// Events pane cannot list them, and says so.
    pub fn dropped_through(&self) -> Option<DateTime<Utc>> {
        self.dropped_through
    }

    /// Drops events older than `cutoff` (retention).
    pub fn expire(&mut self, cutoff: DateTime<Utc>) {
        while self.events.front().is_some_and(|e| e.event.time() < cutoff) {
            self.events.pop_front();
            self.generation += 1;
        }
    }

    /// The mark the entries naming the resource `service` `name` carry.
    pub fn mark_of(&self, service: &str, name: &str) -> ResourceMark {
        self.marker.mark_of(service, name)
    }

    /// Changes with every event that comes or goes.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Events at or after `from` and before `until`, oldest first.
    pub fn range(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> std::collections::vec_deque::Iter<'_, Entry> {
        let start = self.range_start(from);
        let end = self.range_start(until);
        self.events.range(start..end.max(start))
    }

    /// [`Self::range`] cut into at most `parts` runs of about equal
    /// length, in time order: what is counted on several threads.
    pub fn range_parts(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        parts: usize,
    ) -> Vec<std::collections::vec_deque::Iter<'_, Entry>> {
        let start = self.range_start(from);
        let end = self.range_start(until).max(start);
        let step = (end - start).div_ceil(parts.max(1)).max(1);
        (start..end)
            .step_by(step)
            .map(|at| self.events.range(at..(at + step).min(end)))
            .collect()
    }

    /// Where [`Self::range`] from `from` starts: with [`Self::at`], what
    /// is counted over a range can refer to its events by their places
    /// (valid while [`Self::generation`] is unchanged).
    pub fn range_start(&self, from: DateTime<Utc>) -> usize {
        self.events.partition_point(|e| e.event.time() < from)
    }

    /// The event at `place` (see [`Self::range_start`]).
    pub fn at(&self, place: usize) -> Option<&Entry> {
        self.events.get(place)
    }

    fn position(&self, key: EventKey) -> Option<usize> {
        self.events.binary_search_by(|e| e.key().cmp(&key)).ok()
    }

    pub fn get(&self, key: EventKey) -> Option<&Entry> {
        self.position(key).map(|i| &self.events[i])
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Events at or before `until` and at or after `from`, newest first.
    pub fn newest_first(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Iterator<Item = &Entry> {
        let end = self.events.partition_point(|e| e.event.time() <= until);
        self.events
            .range(..end)
            .rev()
            .take_while(move |e| e.event.time() >= from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};
    use chrono::TimeZone;

    fn event(id: &str, second: u32) -> PackedEvent {
        let raw = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:{second:02}Z","eventID":"{id}"}}"#
        );
        match parse_record(&raw) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    fn ids(log: &EventLog) -> Vec<String> {
        let from = Utc.timestamp_opt(0, 0).single().expect("epoch");
        let until = Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .expect("t");
        log.newest_first(from, until)
            .map(|e| e.event.view().event_id.into_owned())
            .collect()
    }

    #[test]
    fn a_batch_lands_as_its_events_pushed_one_by_one_would() {
        // Batches overlapping the held events, with ties and out of order.
        let batches: [&[(&str, u32)]; 4] = [
            &[("a", 10), ("b", 30), ("c", 20)],
            &[("d", 20), ("e", 5), ("f", 30), ("g", 40)],
            &[],
            &[("h", 40), ("i", 1), ("j", 20), ("k", 59)],
        ];
        let mut one_by_one = EventLog::new(9, 2);
        let mut merged = EventLog::new(9, 2);
        for batch in batches {
            let keys: Vec<EventKey> = batch
                .iter()
                .map(|&(id, s)| one_by_one.push(event(id, s), None))
                .collect();
            let all = batch.iter().map(|&(id, s)| (event(id, s), None)).collect();
            assert_eq!(merged.push_all(all), keys);
        }
        assert_eq!(ids(&merged), ids(&one_by_one));
        assert_eq!(merged.dropped_through(), one_by_one.dropped_through());
        let raw = |log: &EventLog| {
            let all = log.events.iter();
            all.map(|e| e.event.has_raw()).collect::<Vec<_>>()
        };
        assert_eq!(raw(&merged), raw(&one_by_one));
        assert_eq!(raw(&merged).iter().filter(|r| **r).count(), 2);
    }

    #[test]
    fn keeps_time_order_whatever_the_arrival() {
        let mut log = EventLog::new(10, 10);
        for (id, s) in [("c", 30), ("a", 10), ("b", 20), ("b2", 20)] {
            log.push(event(id, s), None);
        }
        assert_eq!(ids(&log), ["c", "b2", "b", "a"]);
    }

    #[test]
    fn capacity_drops_the_oldest_and_raw_follows_arrival() {
        let mut log = EventLog::new(3, 2);
        let k_old = log.push(event("x", 50), None);
        for (id, s) in [("a", 10), ("b", 20), ("c", 30)] {
            log.push(event(id, s), None);
        }
        // "a" (oldest time) left; "x" arrived first so lost its record.
        assert_eq!(ids(&log), ["x", "c", "b"]);
        assert!(!log.get(k_old).is_some_and(|e| e.event.has_raw()));
        let raw: Vec<bool> = {
            let from = Utc.timestamp_opt(0, 0).single().expect("epoch");
            let until = Utc
                .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
                .single()
                .expect("t");
            log.newest_first(from, until)
                .map(|e| e.event.has_raw())
                .collect()
        };
        assert_eq!(raw, [false, true, true]);
    }

    #[test]
    fn a_range_in_parts_is_the_range_in_order() {
        let mut log = EventLog::new(100, 0);
        log.push_all(
            (0..23)
                .map(|i| (event(&format!("e{i}"), i), None))
                .collect(),
        );
        let at = |s: u32| {
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, s)
                .single()
                .expect("t")
        };
        let whole: Vec<u64> = log.range(at(3), at(20)).map(|e| e.seq).collect();
        assert_eq!(whole.len(), 17);
        for parts in 1..=20 {
            let cut = log.range_parts(at(3), at(20), parts);
            assert!(
                cut.len() <= parts && !cut.is_empty(),
                "{parts}: {}",
                cut.len()
            );
            let joined: Vec<u64> = cut.into_iter().flatten().map(|e| e.seq).collect();
            assert_eq!(joined, whole, "{parts} parts");
        }
        assert!(log.range_parts(at(20), at(3), 4).is_empty());
    }

    #[test]
    fn the_newest_records_are_kept_deflated_and_read_back_as_they_came() {
        let mut log = EventLog::new(10, 2);
        let keys = log.push_all((0..4).map(|i| (event(&format!("e{i}"), i), None)).collect());
        for (i, key) in keys.iter().enumerate() {
            let entry = log.get(*key).expect("held");
            let record = entry.record(None);
            if i < 2 {
                assert_eq!(record, Err("raw record no longer in memory".to_owned()));
            } else {
                let text = record.expect("kept");
                assert!(text.contains(&format!(r#""eventID":"e{i}""#)), "{text}");
                assert_eq!(entry.event.view().raw_json(), None, "held deflated");
            }
        }
    }
}
