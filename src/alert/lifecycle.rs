//! The alert lifecycle: one alert per (rule, group); `firing` while the
//! rule's condition keeps holding, `resolved` after the rule's quiet
//! period, `firing` again (new first, count and samples) if it holds once
//! more. Acks and silences are flags on the alert, never a reason to drop
//! it.

use chrono::{DateTime, Duration, Utc};

use super::spec::RuleSpec;
use super::state::{FxMap, OTHER_GROUP};
use super::{Alert, AlertState};

/// Sample event ids kept per alert.
pub const SAMPLES: usize = 5;

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// New, or firing again after it had resolved.
    Fired,
    /// Quiet for the rule's quiet period.
    Resolved,
}

/// A state change of one alert, with the alert as it is after the change.
/// Silenced alerts change without reporting it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertChange {
    pub change: Change,
    pub alert: Alert,
}

/// A silence: the whole rule, or one of its groups, until a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub rule: String,
    pub group: Option<String>,
    pub until: DateTime<Utc>,
}

impl Silence {
    fn covers(&self, rule: &str, group: &str) -> bool {
        self.rule == rule && self.group.as_deref().is_none_or(|g| g == group)
    }
}

/// The alerts of one rule, at most `cap` of them: when full, the oldest
/// resolved alert makes room, and failing that the new group joins the
/// `(other)` alert.
///
/// Alerts are found by their group's text, or by the engine's number for
/// that text (see [`super::intern`]) once an alert has been found by text:
/// most hits are on an alert that is already firing, and the number spares
/// writing and hashing the group's text.
#[derive(Debug)]
pub struct Book {
    pub quiet: Duration,
    cap: usize,
    /// Slots by group text. Alerts are visited in this map's order (when
    /// resolving, when making room), the order of the text-keyed map the
    /// book has always kept: the same operations on it give the same order.
    by_group: FxMap<Box<str>, usize>,
    /// Slots by the engine's number of the group.
    by_key: FxMap<u32, usize>,
    slots: Vec<Option<Held>>,
    free: Vec<usize>,
}

#[derive(Debug)]
struct Held {
    alert: Alert,
    /// The number the alert is found by, if it has one.
    key: Option<u32>,
}

/// One matching event, as the book records it.
pub struct Hit<'a> {
    /// The group's text; read only when the alert is not found by number.
    pub group: &'a str,
    pub time: DateTime<Utc>,
    pub event_id: &'a str,
    /// What the alert's count starts at when it fires (the events in the
    /// window for thresholds and spikes, one otherwise).
    pub initial_count: u64,
}

impl Book {
    pub fn new(quiet: Duration, cap: usize) -> Self {
        Self {
            quiet,
            cap: cap.max(1),
            by_group: FxMap::default(),
            by_key: FxMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_group.len()
    }

    fn held(&self, slot: usize) -> Option<&Held> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn held_mut(&mut self, slot: usize) -> Option<&mut Held> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.by_group
            .values()
            .filter_map(|&slot| self.held(slot).map(|h| &h.alert))
    }

    pub fn get_mut(&mut self, group: &str) -> Option<&mut Alert> {
        let slot = *self.by_group.get(group)?;
        self.held_mut(slot).map(|h| &mut h.alert)
    }

    pub fn alerts_mut(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.slots.iter_mut().flatten().map(|h| &mut h.alert)
    }

    /// The numbers alerts are found by, for the interner's clean-up.
    pub fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_key.keys().copied()
    }

    /// Records a hit on the alert numbered `key`, if one has that number
    /// (else [`Book::record`] with the group's text); returns whether one
    /// had it, and the alert when it fired again.
    pub fn record_by_key(
        &mut self,
        key: u32,
        hit: &Hit<'_>,
        silences: &[Silence],
    ) -> (bool, Option<Alert>) {
        let Some(&slot) = self.by_key.get(&key) else {
            return (false, None);
        };
        (true, self.extend_slot(slot, hit, silences))
    }

    /// Records a hit; returns the alert when it (re)fired. `key`, when
    /// given, is the engine's number for `hit.group`, one number per text.
    pub fn record(
        &mut self,
        spec: &RuleSpec,
        key: Option<u32>,
        hit: &Hit<'_>,
        silences: &[Silence],
    ) -> Option<Alert> {
        if let Some(&slot) = self.by_group.get(hit.group) {
            self.number(slot, key);
            return self.extend_slot(slot, hit, silences);
        }
        let group = if self.by_group.len() < self.cap || self.evict_resolved() {
            hit.group
        } else {
            OTHER_GROUP
        };
        if let Some(&slot) = self.by_group.get(group) {
            // Only `(other)` can be reached by another group's text.
            return self.extend_slot(slot, hit, silences);
        }
        let mut alert = Alert {
            rule: spec.id.clone(),
            title: spec.title.clone(),
            severity: spec.severity,
            group: group.to_owned(),
            state: AlertState::Firing,
            count: hit.initial_count.max(1),
            first: hit.time,
            last: hit.time,
            sample_event_ids: vec![hit.event_id.to_owned()],
            acked: false,
            silenced_until: None,
            references: spec.references.clone(),
        };
        alert.silenced_until = silenced_until(silences, &alert.rule, &alert.group, hit.time);
        let fired = alert.silenced_until.is_none().then(|| alert.clone());
        let held = Held { alert, key: None };
        let slot = if let Some(slot) = self.free.pop() {
            self.slots[slot] = Some(held);
            slot
        } else {
            self.slots.push(Some(held));
            self.slots.len() - 1
        };
        self.by_group.insert(group.into(), slot);
        if group == hit.group {
            self.number(slot, key);
        }
        fired
    }

    /// Lets the alert in `slot` be found by `key` from now on.
    fn number(&mut self, slot: usize, key: Option<u32>) {
        let Some(key) = key else { return };
        if let Some(held) = self.held_mut(slot)
            && held.key.is_none()
        {
            held.key = Some(key);
            self.by_key.insert(key, slot);
        }
    }

    fn extend_slot(&mut self, slot: usize, hit: &Hit<'_>, silences: &[Silence]) -> Option<Alert> {
        let held = self.held_mut(slot)?;
        extend(&mut held.alert, hit, silences)
    }

    fn evict_resolved(&mut self) -> bool {
        let oldest = self
            .by_group
            .iter()
            .filter_map(|(k, &slot)| self.held(slot).map(|h| (k, slot, &h.alert)))
            .filter(|(_, _, a)| a.state == AlertState::Resolved)
            .min_by_key(|(_, _, a)| a.last)
            .map(|(k, slot, _)| (k.clone(), slot));
        let Some((group, slot)) = oldest else {
            return false;
        };
        self.by_group.remove(&group);
        if let Some(held) = self.slots[slot].take()
            && let Some(key) = held.key
        {
            self.by_key.remove(&key);
        }
        self.free.push(slot);
        true
    }

    /// Resolves firing alerts quiet since `now - quiet`; returns them
    /// (silenced ones excepted) and the next time one may be due.
    pub fn resolve_due(
        &mut self,
        now: DateTime<Utc>,
        out: &mut Vec<AlertChange>,
    ) -> Option<DateTime<Utc>> {
        let mut next: Option<DateTime<Utc>> = None;
        for &slot in self.by_group.values() {
            let Some(Some(held)) = self.slots.get_mut(slot) else {
                continue;
            };
            let alert = &mut held.alert;
            if alert.state != AlertState::Firing {
                continue;
            }
            let due = alert.last + self.quiet;
            if due <= now {
                alert.state = AlertState::Resolved;
                if alert.silenced_until.is_none_or(|u| u <= now) {
                    out.push(AlertChange {
                        change: Change::Resolved,
                        alert: alert.clone(),
                    });
                }
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        next
    }
}

fn extend(alert: &mut Alert, hit: &Hit<'_>, silences: &[Silence]) -> Option<Alert> {
    match alert.state {
        AlertState::Firing => {
            alert.count += 1;
            alert.first = alert.first.min(hit.time);
            alert.last = alert.last.max(hit.time);
            if alert.sample_event_ids.len() < SAMPLES {
                alert.sample_event_ids.push(hit.event_id.to_owned());
            }
            None
        }
        AlertState::Resolved => {
            alert.state = AlertState::Firing;
            alert.count = hit.initial_count.max(1);
            alert.first = hit.time;
            alert.last = hit.time;
            alert.sample_event_ids.clear();
            alert.sample_event_ids.push(hit.event_id.to_owned());
            alert.acked = false;
            alert.silenced_until = silenced_until(silences, &alert.rule, &alert.group, hit.time);
            alert.silenced_until.is_none().then(|| alert.clone())
        }
    }
}

/// The latest end of the silences covering this alert at `now`.
pub fn silenced_until(
    silences: &[Silence],
    rule: &str,
    group: &str,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    silences
        .iter()
        .filter(|s| s.until > now && s.covers(rule, group))
        .map(|s| s.until)
        .max()
}
