//! "Who decrypted what" over held events: data calls (`Decrypt`,
//! `Encrypt`, `GenerateDataKey*`, `ReEncrypt`) grouped by the resource
//! their encryption context names, exactly as the report's `resources`
//! section groups them ([`crate::event::resource`]), for the events a
//! dashboard window holds.
//!
//! The store counts by principal, key, event name and outcome, not by
//! context, so these are counted from the events themselves. Reading each
//! event's context again for every window costs a cache miss per event,
//! most of a count over 300 000 of them; so whoever holds the events marks
//! each one once, when it arrives, with the resource it names reduced to a
//! [`ResourceMark`] (its service, and two independent keyed hashes of its
//! service and name, 120 bits). A count then reads marks only, and a
//! resource's name is read back from one of its events when its row is
//! shown.
//!
//! Two resources share a mark only if both hashes collide: for the 400 000
//! distinct names a log can hold, about one chance in 10^25.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};

use crate::event::resource::{Resource, is_data_call, resource_in, service_named, service_number};
use crate::event::{Outcome, PackedEvent};
use crate::store::{FastMap, FastSet, FastState};

/// The resource a held event's context names, when it is a data call
/// with a context.
pub fn resource_of_event(e: &PackedEvent) -> Option<Resource<'_>> {
    if !is_data_call(e.event_name()) {
        return None;
    }
    resource_in(e.context_pairs())
}

/// A resource reduced to a number by a [`Marker`]; [`ResourceMark::NONE`]
/// for an event that names none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceMark([u64; 2]);

impl std::hash::Hash for ResourceMark {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Already a keyed hash: one word of it is plenty for a table.
        state.write_u64(self.0[0]);
    }
}

impl ResourceMark {
    pub const NONE: Self = Self([0, 0]);

    pub fn is_none(self) -> bool {
        self == Self::NONE
    }

    /// The resource's service (`other` for none).
    pub fn service(self) -> &'static str {
        // The low byte is the service's number plus one.
        let n = (self.0[1] & 0xFF) as u8;
        service_named(n.wrapping_sub(1))
    }
}

/// Marks events with their resource; one per holder of events, so that
/// all its marks are comparable.
#[derive(Debug, Clone, Default)]
pub struct Marker {
    /// Two random seeds (each `FastState` is one).
    a: FastState,
    b: FastState,
}

impl Marker {
    /// The mark of the resource `e` names.
    pub fn mark(&self, e: &PackedEvent) -> ResourceMark {
        resource_of_event(e).map_or(ResourceMark::NONE, |r| self.mark_of(r.service, &r.name))
    }

    /// The mark of the resource `service` `name`.
    pub fn mark_of(&self, service: &str, name: &str) -> ResourceMark {
        // The service's number plus one in the low byte: never NONE.
        let n = u64::from(service_number(service)) + 1;
        ResourceMark([
            self.a.hash_one((service, name)),
            (self.b.hash_one((service, name)) & !0xFF) | n,
        ])
    }
}

/// One resource's data calls.
///
/// It refers to an event naming it by the place the caller gave that event
/// in [`ResourceTally::add`], not by a reference: counts outlive the
/// borrow they were counted under (a pane keeps them while the events
/// they were counted from are unchanged, and sorts them again).
#[derive(Debug, Clone, Copy)]
pub struct ResourceCount {
    pub mark: ResourceMark,
    /// Where an event that names it lies, to read its name from.
    pub sample: u32,
    pub calls: u64,
    pub denied: u64,
    /// Distinct principals and keys that called on it.
    pub principals: u32,
    pub keys: u32,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Its first principal's and key's numbers in the tally ([`NO_KEY`]
    /// until a call names a key): only later ones are looked up.
    first_principal: u32,
    first_key: u32,
}

/// A counted resource's service, name and whether it is an S3 Bucket
/// Key, read from `sample`, the event at its [`ResourceCount::sample`].
///
/// Only a marked event is counted, and only a data call with a context is
/// marked, so the call's name is not read again: a sort by name reads the
/// names of every resource of the window.
pub fn resource_of_sample(sample: &PackedEvent) -> Resource<'_> {
    resource_in(sample.context_pairs()).unwrap_or(Resource {
        service: "other",
        name: Cow::Borrowed(""),
        bucket_key: false,
    })
}

const NO_KEY: u32 = u32::MAX;

/// Data calls counted by resource, one marked event at a time.
///
/// Most resources are named once (an S3 object per call), so the common
/// path is one probe of a table of marks; a resource's first principal
/// and key are kept in its row, so only the second and later ones are
/// looked up in the sets of pairs met.
#[derive(Debug)]
pub struct ResourceTally<'e> {
    rows: Vec<ResourceCount>,
    index: FastMap<ResourceMark, u32>,
    principals: Numbers<'e>,
    keys: Numbers<'e>,
    /// Which resource met which principal and key, beyond its first.
    met_principal: FastSet<(u32, u32)>,
    met_key: FastSet<(u32, u32)>,
    /// Events looked at, data calls on a resource or not.
    pub events: u64,
}

impl Default for ResourceTally<'_> {
    fn default() -> Self {
        let hasher = FastState::random();
        Self {
            rows: Vec::new(),
            index: FastMap::with_hasher(hasher),
            principals: Numbers::new(hasher),
            keys: Numbers::new(hasher),
            met_principal: FastSet::with_hasher(hasher),
            met_key: FastSet::with_hasher(hasher),
            events: 0,
        }
    }
}

/// Texts by number. Held events share the texts they repeat (one copy
/// per principal and key for the whole process), so a text is first
/// looked for by where it lies, in a small cache, before it is hashed.
#[derive(Debug)]
struct Numbers<'e> {
    ids: FastMap<&'e str, u32>,
    recent: Box<[(usize, usize, u32); 64]>,
}

impl<'e> Numbers<'e> {
    fn new(hasher: FastState) -> Self {
        Self {
            ids: FastMap::with_hasher(hasher),
            recent: Box::new([(0, 0, 0); 64]),
        }
    }

    /// `text`'s number, numbering it if new.
    fn of(&mut self, text: &'e str) -> u32 {
        // Texts borrowed for 'e cannot move: the same address and length
        // is the same text.
        let at = (text.as_ptr() as usize, text.len());
        let slot = &mut self.recent[(at.0 >> 3) % 64];
        if (slot.0, slot.1) == at && at.0 != 0 {
            return slot.2;
        }
        let next = u32::try_from(self.ids.len()).unwrap_or(NO_KEY - 1);
        let id = *self.ids.entry(text).or_insert(next);
        *slot = (at.0, at.1, id);
        id
    }
}

impl<'e> ResourceTally<'e> {
    /// A tally with room for `events` events' resources: most name one
    /// resource each, so growing one event at a time would move them all
    /// again and again.
    pub fn with_capacity(events: usize) -> Self {
        let mut t = Self::default();
        t.index.reserve(events);
        t
    }

    /// Counts `e`, marked `mark` (by the [`Marker`] of every event added),
    /// found at `place` (the caller's numbering: a resource's count keeps
    /// the place of its first event, see [`ResourceCount::sample`]).
    pub fn add(&mut self, e: &'e PackedEvent, mark: ResourceMark, place: u32) {
        self.events += 1;
        if mark.is_none() {
            return;
        }
        let principal = self.principals.of(e.principal());
        let key = e.key_arn().map_or(NO_KEY, |k| self.keys.of(k));
        let time = e.time();
        let denied = u64::from(e.outcome() == Outcome::Denied);
        let next = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        let at = match self.index.entry(mark) {
            Entry::Occupied(o) => *o.get(),
            Entry::Vacant(v) => {
                v.insert(next);
                self.rows.push(ResourceCount {
                    mark,
                    sample: place,
                    calls: 1,
                    denied,
                    principals: 1,
                    keys: u32::from(key != NO_KEY),
                    first: time,
                    last: time,
                    first_principal: principal,
                    first_key: key,
                });
                return;
            }
        };
        let row = &mut self.rows[at as usize];
        let new_principal =
            principal != row.first_principal && self.met_principal.insert((at, principal));
        let new_key = if key == NO_KEY || key == row.first_key {
            false
        } else if row.first_key == NO_KEY {
            row.first_key = key;
            true
        } else {
            self.met_key.insert((at, key))
        };
        row.calls += 1;
        row.denied += denied;
        row.principals += u32::from(new_principal);
        row.keys += u32::from(new_key);
        row.first = row.first.min(time);
        row.last = row.last.max(time);
    }

    /// The resources, in the order they were first named.
    pub fn finish(self) -> Vec<ResourceCount> {
        self.rows
    }
}

/// A principal or key that called on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party<'e> {
    pub name: &'e str,
    pub calls: u64,
    pub denied: u64,
    pub last: DateTime<Utc>,
}

/// Who called on one resource, and with which keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceDetail<'e> {
    pub bucket_key: bool,
    pub calls: u64,
    pub denied: u64,
    /// Busiest first, ties by name.
    pub callers: Vec<Party<'e>>,
    pub keys: Vec<Party<'e>>,
}

fn count_party<'e>(parties: &mut FastMap<&'e str, Party<'e>>, name: &'e str, e: &PackedEvent) {
    let p = parties.entry(name).or_insert(Party {
        name,
        calls: 0,
        denied: 0,
        last: e.time(),
    });
    p.calls += 1;
    p.denied += u64::from(e.outcome() == Outcome::Denied);
    p.last = p.last.max(e.time());
}

fn busiest<'e>(parties: FastMap<&'e str, Party<'e>>) -> Vec<Party<'e>> {
    let mut v: Vec<Party<'e>> = parties.into_values().collect();
    v.sort_unstable_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(b.name)));
    v
}

/// The data calls among marked `events` on the resource marked `target`,
/// by caller and by key.
pub fn resource_detail<'e>(
    events: impl Iterator<Item = (&'e PackedEvent, ResourceMark)>,
    target: ResourceMark,
) -> ResourceDetail<'e> {
    let hasher = FastState::random();
    let mut callers = FastMap::with_hasher(hasher);
    let mut keys = FastMap::with_hasher(hasher);
    let mut detail = ResourceDetail::default();
    for (e, mark) in events {
        if mark != target || target.is_none() {
            continue;
        }
        if detail.calls == 0 {
            detail.bucket_key = resource_of_event(e).is_some_and(|r| r.bucket_key);
        }
        detail.calls += 1;
        detail.denied += u64::from(e.outcome() == Outcome::Denied);
        count_party(&mut callers, e.principal(), e);
        if let Some(k) = e.key_arn() {
            count_party(&mut keys, k, e);
        }
    }
    detail.callers = busiest(callers);
    detail.keys = busiest(keys);
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};
    use serde_json::json;

    fn event(i: u32, name: &str, principal: &str, context: &serde_json::Value) -> PackedEvent {
        let record = json!({
            "eventSource": "kms.amazonaws.com", "eventName": name,
            "eventTime": format!("2025-01-01T00:00:{i:02}Z"), "eventID": format!("e{i}"),
            "userIdentity": {"type": "IAMUser", "arn": principal},
            "errorCode": if i.is_multiple_of(3) { json!("AccessDenied") } else { json!(null) },
            "requestParameters": {"keyId": format!("arn:aws:kms:us-east-1:1:key/k{}", i % 2),
                "encryptionContext": context},
        });
        match parse_record(&record.to_string()) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn data_calls_are_counted_by_the_resource_they_name() {
        let secret = "arn:aws:secretsmanager:us-east-1:1:secret:s";
        let bucket = json!({"aws:s3:arn": "arn:aws:s3:::b"});
        let events = [
            event(
                1,
                "Decrypt",
                "arn:aws:iam::1:user/a",
                &json!({"SecretARN": secret}),
            ),
            event(
                2,
                "Decrypt",
                "arn:aws:iam::1:user/b",
                &json!({"SecretARN": secret}),
            ),
            event(
                3,
                "GenerateDataKey",
                "arn:aws:iam::1:user/a",
                &json!({"SecretARN": secret}),
            ),
            event(4, "Decrypt", "arn:aws:iam::1:user/a", &bucket),
            // Not a data call, and a data call without a context.
            event(
                5,
                "DescribeKey",
                "arn:aws:iam::1:user/a",
                &json!({"SecretARN": secret}),
            ),
            event(6, "Decrypt", "arn:aws:iam::1:user/a", &json!({})),
        ];
        let marker = Marker::default();
        let marks: Vec<ResourceMark> = events.iter().map(|e| marker.mark(e)).collect();
        assert!(marks[4].is_none() && marks[5].is_none());
        assert_eq!(marks[0], marker.mark_of("secretsmanager", secret));
        assert_eq!(marks[0].service(), "secretsmanager");
        assert_eq!(marks[3].service(), "s3");
        let mut tally = ResourceTally::default();
        for (place, (e, m)) in (0u32..).zip(events.iter().zip(&marks)) {
            tally.add(e, *m, place);
        }
        assert_eq!(tally.events, 6);
        let rows = tally.finish();
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let s = &rows[0];
        let named = |c: &ResourceCount| resource_of_sample(&events[c.sample as usize]);
        assert_eq!(
            (named(s).service, s.calls, s.denied),
            ("secretsmanager", 3, 1)
        );
        assert_eq!(named(s).name, secret);
        assert_eq!((s.principals, s.keys), (2, 2));
        assert_eq!(s.last - s.first, chrono::Duration::seconds(2));
        assert_eq!(rows[1].sample, 3, "the first event naming it");
        let b = named(&rows[1]);
        assert_eq!((b.service, b.bucket_key, rows[1].calls), ("s3", true, 1));

        let pairs = || events.iter().zip(marks.iter().copied());
        let d = resource_detail(pairs(), marker.mark_of("secretsmanager", secret));
        assert_eq!((d.calls, d.denied, d.bucket_key), (3, 1, false));
        let callers: Vec<(&str, u64)> = d.callers.iter().map(|p| (p.name, p.calls)).collect();
        assert_eq!(
            callers,
            [("arn:aws:iam::1:user/a", 2), ("arn:aws:iam::1:user/b", 1)]
        );
        assert_eq!(d.keys.len(), 2);
        let none = resource_detail(pairs(), marker.mark_of("secretsmanager", "other"));
        assert_eq!(none.calls, 0);
        // Another marker's marks are other numbers.
        assert_ne!(Marker::default().mark(&events[0]), marks[0]);
    }
}
