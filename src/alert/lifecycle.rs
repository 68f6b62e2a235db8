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
#[derive(Debug)]
pub struct Book {
    pub quiet: Duration,
    cap: usize,
    alerts: FxMap<Box<str>, Alert>,
}

/// One matching event, as the book records it.
pub struct Hit<'a> {
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
            alerts: FxMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn get_mut(&mut self, group: &str) -> Option<&mut Alert> {
        self.alerts.get_mut(group)
    }

    pub fn alerts_mut(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.alerts.values_mut()
    }

    /// Records a hit; returns the alert when it (re)fired.
    pub fn record(
        &mut self,
        spec: &RuleSpec,
        hit: &Hit<'_>,
        silences: &[Silence],
    ) -> Option<Alert> {
        if let Some(alert) = self.alerts.get_mut(hit.group) {
            return extend(alert, hit, silences);
        }
        let group = if self.alerts.len() < self.cap || self.evict_resolved() {
            hit.group
        } else {
            OTHER_GROUP
        };
        if let Some(alert) = self.alerts.get_mut(group) {
            return extend(alert, hit, silences);
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
        self.alerts.insert(group.into(), alert);
        fired
    }

    fn evict_resolved(&mut self) -> bool {
        let oldest = self
            .alerts
            .iter()
            .filter(|(_, a)| a.state == AlertState::Resolved)
            .min_by_key(|(_, a)| a.last)
            .map(|(k, _)| k.clone());
        oldest.is_some_and(|k| self.alerts.remove(&k).is_some())
    }

    /// Resolves firing alerts quiet since `now - quiet`; returns them
    /// (silenced ones excepted) and the next time one may be due.
    pub fn resolve_due(
        &mut self,
        now: DateTime<Utc>,
        out: &mut Vec<AlertChange>,
    ) -> Option<DateTime<Utc>> {
        let mut next: Option<DateTime<Utc>> = None;
        for alert in self.alerts.values_mut() {
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
