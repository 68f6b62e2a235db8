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

/// The ids one account × region has delivered by any path — LookupEvents
/// or the trail — so each event reaches consumers once, whichever path
/// brings it first.
#[derive(Debug, Clone, Default)]
pub struct SharedDelivered(std::sync::Arc<std::sync::Mutex<Shared>>);

#[derive(Debug, Default)]
struct Shared {
    ids: Delivered,
    /// The trail still has to read events from here: their ids are kept
    /// past the LookupEvents re-read horizon (for at most [`TRAIL_HOLD`]).
    trail_floor: Option<DateTime<Utc>>,
}

/// The longest the ids are kept for a trail that has fallen behind: past
/// it, memory wins and a trail this late may repeat an event.
pub const TRAIL_HOLD: chrono::Duration = chrono::Duration::hours(6);

impl SharedDelivered {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts from a checkpoint's ids.
    pub fn restore(&self, ids: Delivered) {
        self.lock().ids = ids;
    }

    /// Records `id`; true when no path delivered it before.
    pub fn insert(&self, id: &str, time: DateTime<Utc>) -> bool {
        self.lock().ids.insert(id, time)
    }

    pub fn at_second(&self, time: DateTime<Utc>) -> Vec<String> {
        self.lock().ids.at_second(time)
    }

    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids as they are now, for a checkpoint.
    pub fn snapshot(&self) -> Delivered {
        self.lock().ids.clone()
    }

    /// Forgets ids of events before `horizon`, or before the trail's floor
    /// when the trail still has to read them.
    pub fn forget_before(&self, horizon: DateTime<Utc>) {
        let mut shared = self.lock();
        let cut = match shared.trail_floor {
            Some(floor) => horizon.min(floor.max(horizon - TRAIL_HOLD)),
            None => horizon,
        };
        shared.ids.forget_before(cut);
    }

    /// The trail has read every event before `floor` (`None`: there is
    /// no trail, or it gave up).
    pub fn set_trail_floor(&self, floor: Option<DateTime<Utc>>) {
        self.lock().trail_floor = floor;
    }
}

impl SharedDelivered {
    /// The oldest event time whose id is kept: before it, nothing is
    /// known of what was delivered.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        self.lock().ids.oldest()
    }
}

impl Delivered {
    fn oldest(&self) -> Option<DateTime<Utc>> {
        let t = self.ids.values().min()?;
        DateTime::from_timestamp(*t, 0)
    }
}
