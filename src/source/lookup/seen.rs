//! The event ids a poller has delivered, kept as long as a re-read could
//! return them again, so every event reaches consumers exactly once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Delivered {
    /// Event id → event time (Unix seconds).
    ids: HashMap<String, i64>,
}

impl Delivered {
    /// Records `id`; true when it is new.
    pub fn insert(&mut self, id: &str, time: DateTime<Utc>) -> bool {
        if self.ids.contains_key(id) {
            return false;
        }
        self.ids.insert(id.to_string(), time.timestamp());
        true
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// Forgets ids of events before `horizon`: no re-read reaches them.
    pub fn forget_before(&mut self, horizon: DateTime<Utc>) {
        let cut = horizon.timestamp();
        self.ids.retain(|_, t| *t >= cut);
    }

    /// Ids of events at exactly this second (a gap's edge).
    pub fn at_second(&self, time: DateTime<Utc>) -> Vec<String> {
        let t = time.timestamp();
        let mut ids: Vec<String> = self
            .ids
            .iter()
            .filter(|&(_, s)| *s == t)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
