//! Counting events into a report, one tally per reader thread, merged at
//! the end. Memory grows with distinct principals and keys (and the rare
//! control-plane events), never with the number of events.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::alerts::Interest;
use super::timeline::Timeline;
use super::who::CallLog;
use super::{ControlPlaneRow, KeyRow, PrincipalRow, Report, Skipped, earliest, latest, sort_rows};
use crate::dedup::{SeenSet, Sighting};
use crate::event::{KmsEvent, Outcome, PackedEvent};
use crate::source::files::{Consumer, ScanStats};
use crate::who::Who;

/// The events a report covers: `since <= time <= until`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

#[derive(Default)]
struct PrincipalTally {
    events: u64,
    decrypt: u64,
    denied: u64,
    keys: HashSet<Box<str>>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct KeyTally {
    events: u64,
    denied: u64,
    principals: HashSet<Box<str>>,
}

/// Sends one input's events (by its index) to the alert engine's thread.
pub type FileSender = std::sync::mpsc::SyncSender<(usize, Vec<PackedEvent>)>;

/// One reader thread's counts.
pub struct Tally<'d> {
    seen: &'d SeenSet,
    range: TimeRange,
    plausible: crate::event::Plausible,
    /// Which events the alert engine wants.
    interest: &'d Interest,
    /// The way to the alert engine's thread.
    to_alerts: FileSender,
    /// This file's events for the alert engine, handed over at its end.
    for_alerts: Vec<PackedEvent>,
    events: u64,
    denied: u64,
    errors: u64,
    duplicates: u64,
    conflicting_copies: u64,
    out_of_range: u64,
    implausible_time: u64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    principals: HashMap<Box<str>, PrincipalTally>,
    keys: HashMap<Box<str>, KeyTally>,
    event_names: HashMap<Box<str>, u64>,
    control_plane: Vec<ControlPlaneRow>,
    timeline: Timeline,
    resources: super::resources::ResourceTally,
    /// `--who`: only the calls it selects are counted.
    who: &'d Who,
    calls: CallLog,
    /// Requests per second and their price (the quota and cost sections).
    pub(super) usage: super::UsageTally,
}

pub(super) fn entry<'m, V: Default>(map: &'m mut HashMap<Box<str>, V>, key: &str) -> &'m mut V {
    // Look up by &str first: the common case allocates nothing.
    if !map.contains_key(key) {
        map.insert(key.into(), V::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

impl<'d> Tally<'d> {
    #[must_use]
    pub fn new(
        seen: &'d SeenSet,
        range: TimeRange,
        plausible: crate::event::Plausible,
        interest: &'d Interest,
        who: &'d Who,
        to_alerts: FileSender,
    ) -> Self {
        Self {
            seen,
            range,
            plausible,
            interest,
            to_alerts,
            for_alerts: Vec::new(),
            events: 0,
            denied: 0,
            errors: 0,
            duplicates: 0,
            conflicting_copies: 0,
            out_of_range: 0,
            implausible_time: 0,
            from: None,
            to: None,
            principals: HashMap::new(),
            keys: HashMap::new(),
            event_names: HashMap::new(),
            control_plane: Vec::new(),
            timeline: Timeline::default(),
            who,
            calls: CallLog::default(),
            resources: super::resources::ResourceTally::default(),
            usage: super::UsageTally::default(),
        }
    }

    fn count(&mut self, e: &KmsEvent<'_>) {
        let time = Some(e.time);
        self.events += 1;
        self.denied += u64::from(e.outcome == Outcome::Denied);
        self.errors += u64::from(e.outcome == Outcome::Error);
        self.from = earliest(self.from, time);
        self.to = latest(self.to, time);
        self.timeline.add(e.time, e.outcome == Outcome::Denied);
        *entry(&mut self.event_names, &e.event_name) += 1;

        let p = entry(&mut self.principals, &e.principal);
        p.events += 1;
        p.decrypt += u64::from(e.is_decrypt());
        p.denied += u64::from(e.outcome == Outcome::Denied);
        p.first = earliest(p.first, time);
        p.last = latest(p.last, time);
        if let Some(key) = &e.key {
            if !p.keys.contains(key.arn.as_ref()) {
                p.keys.insert(key.arn.as_ref().into());
            }
            let k = entry(&mut self.keys, &key.arn);
            k.events += 1;
            k.denied += u64::from(e.outcome == Outcome::Denied);
            if !k.principals.contains(e.principal.as_ref()) {
                k.principals.insert(e.principal.as_ref().into());
            }
        }
        if e.is_control_plane() {
            self.control_plane.push(ControlPlaneRow::from_event(e));
        }
        self.resources.add(e);
        self.usage.count(e);
    }

    /// Folds another thread's tally into this one.
    pub fn merge(&mut self, other: Tally<'_>) {
        self.events += other.events;
        self.denied += other.denied;
        self.errors += other.errors;
        self.duplicates += other.duplicates;
        self.conflicting_copies += other.conflicting_copies;
        self.out_of_range += other.out_of_range;
        self.implausible_time += other.implausible_time;
        self.from = earliest(self.from, other.from);
        self.to = latest(self.to, other.to);
        self.timeline.merge(other.timeline);
        for (name, n) in other.event_names {
            *self.event_names.entry(name).or_default() += n;
        }
        for (name, o) in other.principals {
            let p = self.principals.entry(name).or_default();
            p.events += o.events;
            p.decrypt += o.decrypt;
            p.denied += o.denied;
            p.keys.extend(o.keys);
            p.first = earliest(p.first, o.first);
            p.last = latest(p.last, o.last);
        }
        for (arn, o) in other.keys {
            let k = self.keys.entry(arn).or_default();
            k.events += o.events;
            k.denied += o.denied;
            k.principals.extend(o.principals);
        }
        self.control_plane.extend(other.control_plane);
        self.calls.merge(other.calls);
        self.resources.merge(other.resources);
        self.usage.merge(other.usage);
    }

    /// The finished report, rows in the contract's order (the quota and
    /// cost sections at the documented quotas and prices:
    /// [`Tally::finish_with`] applies the user's).
    #[must_use]
    pub fn finish(self, scan: &ScanStats) -> Report {
        self.finish_with(scan, &super::UsageSettings::default())
    }

    /// The finished report, quotas and prices as `usage` sets them.
    #[must_use]
    pub fn finish_with(self, scan: &ScanStats, usage: &super::UsageSettings) -> Report {
        let principals: Vec<PrincipalRow> = self
            .principals
            .into_iter()
            .map(|(name, p)| PrincipalRow {
                principal: name.into(),
                events: p.events,
                decrypt: p.decrypt,
                denied: p.denied,
                keys: p.keys.len() as u64,
                first_seen: p.first,
                last_seen: p.last,
            })
            .collect();
        let keys: Vec<KeyRow> = self
            .keys
            .into_iter()
            .map(|(arn, k)| KeyRow::new(arn.into(), k.events, k.denied, k.principals.len() as u64))
            .collect();
        let control_plane = self.control_plane;
        let who = (!self.who.is_everyone()).then(|| self.calls.finish(self.who.labels()));
        let (resources, resources_other) = self.resources.finish();
        let mut report = Report {
            events: self.events,
            denied: self.denied,
            errors: self.errors,
            from: self.from,
            to: self.to,
            principals,
            keys,
            event_names: self
                .event_names
                .into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect(),
            control_plane,
            timeline: self.timeline,
            skipped: Skipped {
                non_kms: scan.non_kms,
                malformed: scan.malformed,
                files_failed: scan.files_failed,
                duplicates: self.duplicates,
                conflicting_copies: self.conflicting_copies,
                out_of_range: self.out_of_range,
                implausible_time: self.implausible_time,
                not_log_files: scan.not_log_files,
                digest_files: scan.digest_files,
                // Known to the caller, which swept the regions and listed the buckets.
                regions_failed: 0,
                prefixes_failed: 0,
                not_known: &[],
            },
            files_read: scan.files_read,
            alerts: Vec::new(),
            alerts_out_of_order: 0,
            who,
            resources,
            resources_other,
            quota: self.usage.quota(usage),
            cost: self.usage.cost(usage),
        };
        sort_rows(&mut report);
        report
    }
}

impl Consumer for Tally<'_> {
    fn wants_raw(&self) -> bool {
        false
    }

    fn end_file(&mut self, index: usize) {
        // The engine thread only stops after the readers; a send can fail
        // only if it died, and then there are no alerts to make.
        let _ = self
            .to_alerts
            .send((index, std::mem::take(&mut self.for_alerts)));
    }

    fn consume(&mut self, event: KmsEvent<'_>) {
        if !self.plausible.contains(event.time) {
            self.implausible_time += 1;
        } else if !self.range.contains(event.time) {
            self.out_of_range += 1;
        } else {
            match self.seen.sighting(event.identity(), event.substance()) {
                Sighting::First if !self.who.matches(&event) => self.calls.other_events += 1,
                Sighting::First => {
                    if !self.who.is_everyone() {
                        self.calls.add(&event);
                    }
                    self.count(&event);
                    if self.interest.wants(&event) {
                        self.for_alerts.push(PackedEvent::pack(&event));
                    }
                }
                Sighting::Copy => self.duplicates += 1,
                Sighting::Conflict => self.conflicting_copies += 1,
            }
        }
    }
}
