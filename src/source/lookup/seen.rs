//! The event ids a poller has delivered, kept as long as a re-read could
//! return them again, so every event reaches consumers exactly once.
//!
//! With the trail beside LookupEvents that is every event of the trail's
//! relist horizon (15 minutes: over two million ids on an account making
//! 2,500 calls a second), so an id is kept in 16 bytes where it can be:
//! CloudTrail's event ids are UUIDs, held as their bytes; anything else
//! (a forged or odd id) is kept as text, exactly.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Default, Clone)]
pub struct Delivered {
    /// Event id → event time (Unix seconds), for the ids in the canonical
    /// lower-case UUID form, which the bytes give back exactly.
    uuids: HashMap<[u8; 16], i64>,
    /// The same for every other id.
    others: HashMap<Box<str>, i64>,
    /// The cut of the last sweep: sweeping is a pass over every id, so it
    /// waits until the cut has moved [`SWEEP_STEP`] (ids are kept that much
    /// longer, which only makes a repeat less likely).
    swept_to: i64,
}

/// Seconds the forgetting horizon moves between two sweeps.
const SWEEP_STEP: i64 = 30;

/// The id's bytes when `id` is a UUID written as CloudTrail writes them
/// (so that writing the bytes back gives `id` again, letter for letter).
fn canonical_uuid(id: &str) -> Option<[u8; 16]> {
    if id.len() != uuid::fmt::Hyphenated::LENGTH {
        return None;
    }
    let parsed = Uuid::try_parse(id).ok()?;
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    (parsed.hyphenated().encode_lower(&mut text) == id).then(|| parsed.into_bytes())
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    Uuid::from_bytes(*bytes).hyphenated().to_string()
}

impl Delivered {
    /// Records `id`; true when it is new.
    pub fn insert(&mut self, id: &str, time: DateTime<Utc>) -> bool {
        let t = time.timestamp();
        match canonical_uuid(id) {
            Some(bytes) => match self.uuids.entry(bytes) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(t);
                    true
                }
            },
            None if self.others.contains_key(id) => false,
            None => {
                self.others.insert(id.into(), t);
                true
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        match canonical_uuid(id) {
            Some(bytes) => self.uuids.contains_key(&bytes),
            None => self.others.contains_key(id),
        }
    }

    /// Forgets ids of events before `horizon`: no re-read reaches them.
    pub fn forget_before(&mut self, horizon: DateTime<Utc>) {
        let cut = horizon.timestamp();
        if cut < self.swept_to.saturating_add(SWEEP_STEP) {
            return;
        }
        self.swept_to = cut;
        self.uuids.retain(|_, t| *t >= cut);
        self.others.retain(|_, t| *t >= cut);
    }

    /// Ids of events at exactly this second (a gap's edge).
    pub fn at_second(&self, time: DateTime<Utc>) -> Vec<String> {
        let t = time.timestamp();
        let mut ids: Vec<String> = self
            .uuids
            .iter()
            .filter(|&(_, s)| *s == t)
            .map(|(id, _)| uuid_text(id))
            .chain(
                self.others
                    .iter()
                    .filter(|&(_, s)| *s == t)
                    .map(|(id, _)| id.to_string()),
            )
            .collect();
        ids.sort();
        ids
    }

    pub fn len(&self) -> usize {
        self.uuids.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn oldest(&self) -> Option<DateTime<Utc>> {
        let t = self.uuids.values().chain(self.others.values()).min()?;
        DateTime::from_timestamp(*t, 0)
    }
}

/// Saved as it always was, a map of id text to event second, so
/// checkpoints of earlier versions load.
impl Serialize for Delivered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Ids<'a>(&'a Delivered);
        impl Serialize for Ids<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(
                    self.0
                        .uuids
                        .iter()
                        .map(|(id, t)| (uuid_text(id), *t))
                        .chain(self.0.others.iter().map(|(id, t)| (id.to_string(), *t))),
                )
            }
        }
        let mut out = serializer.serialize_struct("Delivered", 1)?;
        out.serialize_field("ids", &Ids(self))?;
        out.end()
    }
}

impl<'de> Deserialize<'de> for Delivered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Saved {
            ids: HashMap<String, i64>,
        }
        let saved = Saved::deserialize(deserializer)?;
        let mut delivered = Delivered::default();
        for (id, t) in saved.ids {
            match canonical_uuid(&id) {
                Some(bytes) => {
                    delivered.uuids.insert(bytes, t);
                }
                None => {
                    delivered.others.insert(id.into_boxed_str(), t);
                }
            }
        }
        Ok(delivered)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(second, 0).expect("time")
    }

    const UUID: &str = "0e6a2b0c-8d3e-4c1f-9a53-2f1d6b7c8e90";

    #[test]
    fn every_id_is_kept_exactly_whatever_its_form() {
        let mut d = Delivered::default();
        let upper = UUID.to_uppercase();
        for id in [UUID, upper.as_str(), "not-a-uuid", "", "\u{202e}x"] {
            assert!(d.insert(id, at(100)), "{id:?} new");
            assert!(!d.insert(id, at(100)), "{id:?} again");
            assert!(d.contains(id));
        }
        assert_eq!(d.len(), 5);
        assert_eq!(d.uuids.len(), 1, "only the canonical UUID is held as bytes");
        let mut want = vec![
            UUID.to_string(),
            upper,
            "not-a-uuid".into(),
            String::new(),
            "\u{202e}x".into(),
        ];
        want.sort();
        assert_eq!(d.at_second(at(100)), want);
        assert!(d.at_second(at(101)).is_empty());
    }

    #[test]
    fn forgetting_goes_by_event_time() {
        let mut d = Delivered::default();
        d.insert(UUID, at(100));
        d.insert("other", at(200));
        d.forget_before(at(150));
        assert!(!d.contains(UUID));
        assert!(d.contains("other"));
        assert_eq!(d.oldest(), Some(at(200)));
        // The next sweep waits until the horizon has moved on.
        d.insert("late", at(160));
        d.forget_before(at(150 + SWEEP_STEP - 1));
        assert!(d.contains("late"), "swept again before the step");
        d.forget_before(at(150 + SWEEP_STEP));
        assert!(!d.contains("late"));
        assert!(d.contains("other"));
    }

    #[test]
    fn saved_as_a_map_of_id_text_and_loaded_back() {
        let mut d = Delivered::default();
        d.insert(UUID, at(100));
        d.insert("odd id", at(200));
        let text = serde_json::to_string(&d).expect("saves");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"ids": {UUID: 100, "odd id": 200}})
        );
        let back: Delivered = serde_json::from_str(&text).expect("loads");
        assert!(back.contains(UUID) && back.contains("odd id"));
        assert_eq!(back.uuids.len(), 1);
    }
}
