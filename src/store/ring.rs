//! The most recent events in arrival order, owned, for drill-down. Only
//! the newest `raw_capacity` keep their original record text.

use std::collections::VecDeque;

use crate::event::PackedEvent;

#[derive(Debug)]
pub struct Ring {
    /// Packed: one allocation per event, not one per field.
    events: VecDeque<PackedEvent>,
    capacity: usize,
    raw_capacity: usize,
}

impl Ring {
    pub fn new(capacity: usize, raw_capacity: usize) -> Self {
        Self {
            // Grows as events arrive: an idle store should not reserve
            // 100 k slots up front.
            events: VecDeque::new(),
            capacity,
            raw_capacity,
        }
    }

    /// Appends `event`, dropping the oldest past capacity and the record
    /// text of the one that just left the raw window.
    pub fn push(&mut self, event: PackedEvent) {
        if self.capacity == 0 {
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
        // One event leaves the window per push, so stripping that one keeps
        // every older event stripped too.
        if let Some(i) = self.events.len().checked_sub(self.raw_capacity + 1) {
            self.events[i].strip_raw();
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether an event pushed now, with `after` more pushed behind it,
    /// would still have its record text: callers use it to avoid copying
    /// records that would be stripped at once.
    pub fn keeps_raw(&self, after: usize) -> bool {
        after < self.raw_capacity
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Newest arrival first.
    pub fn newest_first(
        &self,
    ) -> impl DoubleEndedIterator<Item = &PackedEvent> + ExactSizeIterator {
        self.events.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    fn event(id: &str) -> PackedEvent {
        // `raw` is set by the parser: the record text itself.
        let raw = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z","eventID":"{id}"}}"#
        );
        match parse_record(&raw) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_the_newest_up_to_capacity() {
        let mut r = Ring::new(2, 2);
        for id in ["a", "b", "c"] {
            r.push(event(id));
        }
        let ids: Vec<_> = r
            .newest_first()
            .map(|e| e.view().event_id.to_string())
            .collect();
        assert_eq!(ids, ["c", "b"]);
        let mut none = Ring::new(0, 0);
        none.push(event("a"));
        assert!(none.is_empty());
    }

    #[test]
    fn only_the_newest_keep_their_record() {
        let mut r = Ring::new(4, 2);
        for id in ["a", "b", "c", "d", "e"] {
            r.push(event(id));
        }
        let raw: Vec<_> = r
            .newest_first()
            .map(|e| {
                let v = e.view();
                (v.event_id.to_string(), v.raw_json().is_some())
            })
            .collect();
        assert_eq!(
            raw,
            [
                ("e".into(), true),
                ("d".into(), true),
                ("c".into(), false),
                ("b".into(), false)
            ]
        );
        let mut none = Ring::new(2, 0);
        none.push(event("a"));
        assert_eq!(
            none.newest_first()
                .next()
                .map(|e| e.view().raw_json().is_some()),
            Some(false)
        );
    }
}
