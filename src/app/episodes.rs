//! Alert history for time travel. The engine only knows each alert as it
//! is now; the dashboard must show the alerts as they were at the cursor.
//! Every firing is an episode (first … resolved); the alerts at time `t`
//! are the episodes that began by `t`, firing unless resolved by `t`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::alert::{Alert, AlertChange, AlertState, Change, Engine, Severity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub group: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Matching events over the whole episode (not only up to the cursor).
    pub count: u64,
    pub resolved: Option<DateTime<Utc>>,
    pub acked: bool,
    pub silenced_until: Option<DateTime<Utc>>,
    pub samples: Vec<String>,
}

impl Episode {
    fn from_alert(a: &Alert) -> Self {
        Self {
            rule: a.rule.clone(),
            title: a.title.clone(),
            severity: a.severity,
            group: a.group.clone(),
            first: a.first,
            last: a.last,
            count: a.count,
            resolved: None,
            acked: a.acked,
            silenced_until: a.silenced_until,
            samples: a.sample_event_ids.clone(),
        }
    }

    fn refresh(&mut self, a: &Alert) {
        self.count = a.count;
        self.last = a.last;
        self.acked = a.acked;
        self.silenced_until = a.silenced_until;
        self.samples.clone_from(&a.sample_event_ids);
    }

    /// Firing at `t`: begun and not yet resolved.
    pub fn firing_at(&self, t: DateTime<Utc>) -> bool {
        self.first <= t && self.resolved.is_none_or(|r| r > t)
    }
}

/// Episodes kept at most; past it the oldest resolved ones go.
const MAX_EPISODES: usize = 20_000;

#[derive(Debug, Default)]
pub struct Episodes {
    list: Vec<Episode>,
    /// (rule, group) -> index of its open (firing) episode.
    open: HashMap<(String, String), usize>,
}

impl Episodes {
    /// Takes the engine's changes; `at` is the engine's time when they
    /// happened (a resolution carries the alert's last event, not when it
    /// resolved).
    pub fn record(&mut self, changes: &[AlertChange], at: Option<DateTime<Utc>>) {
        for c in changes {
            let key = (c.alert.rule.clone(), c.alert.group.clone());
            match c.change {
                Change::Fired => self.open_episode(key, &c.alert),
                Change::Resolved => {
                    if let Some(i) = self.open.remove(&key) {
                        let e = &mut self.list[i];
                        e.refresh(&c.alert);
                        e.resolved = Some(at.unwrap_or(c.alert.last).max(c.alert.last));
                    }
                }
            }
        }
        self.trim();
    }

    fn open_episode(&mut self, key: (String, String), alert: &Alert) {
        if let Some(&i) = self.open.get(&key) {
            self.list[i].refresh(alert);
            return;
        }
        self.open.insert(key, self.list.len());
        self.list.push(Episode::from_alert(alert));
    }

    /// Brings open episodes up to date with the engine (counts, acks,
    /// silences), and catches the changes a silence kept from reporting.
    pub fn sync(&mut self, engine: &Engine) {
        let now = engine.now();
        for a in engine.all_alerts() {
            let key = (a.rule.clone(), a.group.clone());
            match (a.state, self.open.get(&key).copied()) {
                (AlertState::Firing, Some(i)) => self.list[i].refresh(a),
                (AlertState::Firing, None) => self.open_episode(key, a),
                (AlertState::Resolved, Some(i)) => {
                    self.open.remove(&key);
                    let e = &mut self.list[i];
                    e.refresh(a);
                    e.resolved = Some(now.unwrap_or(a.last).max(a.last));
                }
                (AlertState::Resolved, None) => {}
            }
        }
        self.trim();
    }

    fn trim(&mut self) {
        if self.list.len() <= MAX_EPISODES {
            return;
        }
        let excess = self.list.len() - MAX_EPISODES;
        let mut dropped = 0;
        self.list.retain(|e| {
            let drop = dropped < excess && e.resolved.is_some();
            dropped += usize::from(drop);
            !drop
        });
        self.open = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.resolved.is_none())
            .map(|(i, e)| ((e.rule.clone(), e.group.clone()), i))
            .collect();
    }

    pub fn all(&self) -> &[Episode] {
        &self.list
    }

    /// Episodes begun by `t`.
    pub fn at(&self, t: DateTime<Utc>) -> impl Iterator<Item = &Episode> {
        self.list.iter().filter(move |e| e.first <= t)
    }

    /// The latest episode start before `t`, and the earliest after it.
    pub fn prev_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.list.iter().map(|e| e.first).filter(|&f| f < t).max()
    }

    pub fn next_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.list.iter().map(|e| e.first).filter(|&f| f > t).min()
    }

    pub fn firing_at(&self, t: DateTime<Utc>) -> usize {
        self.list.iter().filter(|e| e.firing_at(t)).count()
    }
}
