//! The most recent events in arrival order, owned, for drill-down.

use std::collections::VecDeque;

use crate::event::PackedEvent;

#[derive(Debug)]
pub struct Ring {
    /// Packed: one allocation per event, not one per field.
    events: VecDeque<PackedEvent>,
    capacity: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        Self {
            // Grows as events arrive: an idle store should not reserve
            // 100 k slots up front.
            events: VecDeque::new(),
            capacity,
        }
    }

    pub fn push(&mut self, event: PackedEvent) {
        if self.capacity == 0 {
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub fn capacity(&self) -> usize {
        self.capacity
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
        let mut r = Ring::new(2);
        for id in ["a", "b", "c"] {
            r.push(event(id));
        }
        let ids: Vec<_> = r
            .newest_first()
            .map(|e| e.view().event_id.to_string())
            .collect();
        assert_eq!(ids, ["c", "b"]);
        let mut none = Ring::new(0);
        none.push(event("a"));
        assert!(none.is_empty());
    }
}
