//! Alert history for time travel. The engine only knows each alert as it
//! is now; the dashboard must show the alerts as they were at the cursor.
//! Every firing is an episode (first … resolved); the alerts at time `t`
//! are the episodes that began by `t`, firing unless resolved by `t`.

use std::collections::HashMap;
use std::sync::Arc;

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

    /// True when `refresh` would change something.
    fn stale(&self, a: &Alert) -> bool {
        self.count != a.count
            || self.last != a.last
            || self.acked != a.acked
            || self.silenced_until != a.silenced_until
            || self.samples != a.sample_event_ids
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

/// Episodes kept; past it (and the slack) the oldest resolved ones go.
const MAX_EPISODES: usize = 20_000;
/// How far past [`MAX_EPISODES`] the list may grow before a trim: a trim
/// rebuilds every index, so trimming at every new episode made a busy
/// file load quadratic (a fifth of a 3 M-event load).
const TRIM_SLACK: usize = MAX_EPISODES / 10;

#[derive(Debug, Default)]
pub struct Episodes {
    /// Shared with the snapshot's rows; changed copy-on-write.
    list: Vec<Arc<Episode>>,
    /// (rule, group) -> index of its open (firing) episode.
    open: HashMap<(String, String), usize>,
    /// Indices of `list` by (rule, group), then by start: kept as episodes
    /// come and go, so sorting 20 k alerts compares numbers, not texts.
    by_name: Vec<u32>,
    /// By index of `list`: its place in `by_name`, and the place of its
    /// rule among the distinct rules in name order.
    name_rank: Vec<u32>,
    rule_rank: Vec<u32>,
    ranked: bool,
    /// Resolved episodes trimmed away, and the latest resolution among
    /// them: the Alerts pane says it no longer lists them.
    let_go: u64,
    let_go_through: Option<DateTime<Utc>>,
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
                        let e = Arc::make_mut(&mut self.list[i]);
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
            Arc::make_mut(&mut self.list[i]).refresh(alert);
            return;
        }
        let e = Episode::from_alert(alert);
        let i = self.list.len() as u32;
        let at = self.by_name.partition_point(|&j| {
            let o = &self.list[j as usize];
            (o.rule.as_str(), o.group.as_str()) <= (e.rule.as_str(), e.group.as_str())
        });
        self.by_name.insert(at, i);
        self.ranked = false;
        self.open.insert(key, self.list.len());
        self.list.push(Arc::new(e));
    }

    /// Brings open episodes up to date with the engine (counts, acks,
    /// silences), and catches the changes a silence kept from reporting.
    pub fn sync(&mut self, engine: &Engine) {
        let now = engine.now();
        for a in engine.all_alerts() {
            let key = (a.rule.clone(), a.group.clone());
            match (a.state, self.open.get(&key).copied()) {
                (AlertState::Firing, Some(i)) => {
                    if self.list[i].stale(a) {
                        Arc::make_mut(&mut self.list[i]).refresh(a);
                    }
                }
                (AlertState::Firing, None) => self.open_episode(key, a),
                (AlertState::Resolved, Some(i)) => {
                    self.open.remove(&key);
                    let e = Arc::make_mut(&mut self.list[i]);
                    e.refresh(a);
                    e.resolved = Some(now.unwrap_or(a.last).max(a.last));
                }
                (AlertState::Resolved, None) => {}
            }
        }
        self.trim();
        self.rank();
    }

    fn trim(&mut self) {
        if self.list.len() <= MAX_EPISODES + TRIM_SLACK {
            return;
        }
        let excess = self.list.len() - MAX_EPISODES;
        let mut dropped = 0;
        // Old index -> new index (u32::MAX: dropped).
        let mut moved = Vec::with_capacity(self.list.len());
        let mut kept = 0;
        for e in &self.list {
            let drop = dropped < excess && e.resolved.is_some();
            dropped += usize::from(drop);
            if drop {
                self.let_go += 1;
                self.let_go_through = self.let_go_through.max(e.resolved);
            }
            moved.push(if drop { u32::MAX } else { kept });
            kept += u32::from(!drop);
        }
        let mut i = 0;
        self.list.retain(|_| {
            i += 1;
            moved[i - 1] != u32::MAX
        });
        self.by_name = self
            .by_name
            .iter()
            .map(|&j| moved[j as usize])
            .filter(|&j| j != u32::MAX)
            .collect();
        self.ranked = false;
        self.open = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.resolved.is_none())
            .map(|(i, e)| ((e.rule.clone(), e.group.clone()), i))
            .collect();
    }

    /// Brings the ranks up to date after changes: the end of `sync`,
    /// which follows every batch of `record`s.
    fn rank(&mut self) {
        if self.ranked {
            return;
        }
        self.name_rank = vec![0; self.list.len()];
        self.rule_rank = vec![0; self.list.len()];
        let mut rule = 0;
        let mut prev: Option<&str> = None;
        for (place, &i) in self.by_name.iter().enumerate() {
            let r = self.list[i as usize].rule.as_str();
            if prev.is_some_and(|p| p != r) {
                rule += 1;
            }
            prev = Some(r);
            self.name_rank[i as usize] = place as u32;
            self.rule_rank[i as usize] = rule;
        }
        self.ranked = true;
    }

    /// Where episode `i` of [`Episodes::all`] comes by (rule, group):
    /// sorting by it is sorting by the texts.
    pub fn name_rank(&self, i: usize) -> u32 {
        self.name_rank.get(i).copied().unwrap_or(u32::MAX)
    }

    /// Where the rule of episode `i` comes among the rules by name.
    pub fn rule_rank(&self, i: usize) -> u32 {
        self.rule_rank.get(i).copied().unwrap_or(u32::MAX)
    }

    /// How many resolved episodes were let go for room, and the latest
    /// resolution among them.
    pub fn let_go(&self) -> (u64, Option<DateTime<Utc>>) {
        (self.let_go, self.let_go_through)
    }

    pub fn all(&self) -> &[Arc<Episode>] {
        &self.list
    }

    /// Episodes begun by `t`.
    pub fn at(&self, t: DateTime<Utc>) -> impl Iterator<Item = &Arc<Episode>> {
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn change(change: Change, rule: &str, group: &str, minute: u32) -> AlertChange {
        let t = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, minute, 0)
            .single()
            .expect("time");
        AlertChange {
            change,
            alert: Alert {
                rule: rule.into(),
                title: rule.into(),
                severity: Severity::High,
                group: group.into(),
                state: AlertState::Firing,
                count: 1,
                first: t,
                last: t,
                sample_event_ids: Vec::new(),
                acked: false,
                silenced_until: None,
                references: Vec::new(),
            },
        }
    }

    /// The ranks order the episodes as their (rule, group) texts do, then
    /// by when they began; the rule rank as the rule alone.
    fn assert_ranked(e: &Episodes) {
        let all = e.all();
        let mut by_text: Vec<usize> = (0..all.len()).collect();
        by_text.sort_by(|&a, &b| {
            (&all[a].rule, &all[a].group, a).cmp(&(&all[b].rule, &all[b].group, b))
        });
        let by_rank: Vec<usize> = {
            let mut v: Vec<usize> = (0..all.len()).collect();
            v.sort_by_key(|&i| e.name_rank(i));
            v
        };
        assert_eq!(by_rank, by_text);
        for a in 0..all.len() {
            for b in 0..all.len() {
                assert_eq!(
                    e.rule_rank(a).cmp(&e.rule_rank(b)),
                    all[a].rule.cmp(&all[b].rule)
                );
            }
        }
    }

    #[test]
    fn ranks_follow_the_texts_as_episodes_come_and_go() {
        let mut e = Episodes::default();
        let mut minute = 0;
        for (rule, group) in [("b", "y"), ("a", "z"), ("b", "x"), ("a", "a"), ("c", "")] {
            minute += 1;
            e.record(&[change(Change::Fired, rule, group, minute)], None);
        }
        e.record(&[change(Change::Resolved, "b", "y", 9)], None);
        // The same alert firing again is a new episode, after the first.
        e.record(&[change(Change::Fired, "b", "y", 10)], None);
        e.rank();
        assert_eq!(e.all().len(), 6);
        assert_ranked(&e);
    }

    #[test]
    fn ranks_survive_the_trim() {
        let mut e = Episodes::default();
        for i in 0..MAX_EPISODES + 3 {
            let group = format!("g{:05}", (i * 7919) % (MAX_EPISODES + 3));
            e.record(&[change(Change::Fired, "r", &group, 0)], None);
            if i % 2 == 0 {
                e.record(&[change(Change::Resolved, "r", &group, 1)], None);
            }
        }
        // Within the slack nothing goes; past it the list is trimmed back
        // to the cap, oldest resolved first, and the count says so.
        e.rank();
        assert_eq!(e.all().len(), MAX_EPISODES + 3);
        assert_eq!(e.let_go().0, 0);
        // The first past the slack trims.
        for i in 0..TRIM_SLACK - 2 {
            let group = format!("h{i:05}");
            e.record(&[change(Change::Fired, "r", &group, 2)], None);
        }
        e.rank();
        assert_eq!(e.all().len(), MAX_EPISODES);
        assert_eq!(e.let_go().0, (TRIM_SLACK + 1) as u64);
        assert!(e.let_go().1.is_some());
        // The whole order (the pairwise check above is quadratic).
        let all = e.all();
        let mut by_rank: Vec<usize> = (0..all.len()).collect();
        by_rank.sort_by_key(|&i| e.name_rank(i));
        assert!(
            by_rank
                .windows(2)
                .all(|w| (&all[w[0]].group, w[0]) < (&all[w[1]].group, w[1]))
        );
    }
}
