//! Everything the dashboard knows: the store, the alert engine fed in
//! event-time order, the time-ordered event log, key facts and the
//! sources' health. Owned by the app loop; sources hand it owned batches.
//!
//! # Feeding the engine in order
//!
//! The store takes events in any order, but the engine's windows want
//! event-time order. Events wait in a [`Replay`] buffer (the one `report`
//! uses) and leave oldest first once nothing older can still come:
//!
//! - when the live sources report how far they have read (`scanned_to`),
//!   the watermark is the earliest of those: every event up to it has
//!   been delivered, so it may go to the engine. Backfill (newest first)
//!   therefore reaches the engine in order once it is done;
//! - otherwise (files, or a source that has not said), an event leaves
//!   when it is `lateness` behind the newest one seen, as in `report`;
//! - the buffer is capped; past the cap the oldest leave early.
//!
//! The engine's clock only moves as far as the watermark, so an alert
//! is never resolved while older events that could extend it still wait.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::episodes::Episodes;
use super::log::{EventKey, EventLog};
use crate::alert::Replay;
use crate::alert::{AlertChange, Engine, EngineError, RuleSpec};
use crate::event::PackedEvent;
use crate::feed::{
    AthenaStatus, CallerIdentity, LiveTailStatus, RecordAt, RecordReader, ScanStats, SourceId,
    SourceMsg, SourceStatus, TrailStatus,
};
use crate::inventory::{Inventory, KeyFacts};
use crate::store::{Ingested, Store, StoreConfig};

/// Below this share of the expected events in, a recent rate is drawn as
/// still filling (an estimate).
pub const FILLING_BELOW: f64 = 0.99;

/// File mode's buckets: two weeks at one minute (a day stays at 10 s; a
/// year is held at one hour). Each bucket holds its own counts per
/// (principal, key, call, outcome): at 100 k buckets a 10-day corpus of
/// 3 M events stayed at 10 s and its buckets alone took ~110 MB.
pub const FILE_MAX_BUCKETS: usize = 20_160;

/// How the data is sized.
#[derive(Debug, Clone)]
pub struct DataConfig {
    pub store: StoreConfig,
    pub log_capacity: usize,
    pub raw_capacity: usize,
    /// How far behind the newest event one may still arrive.
    pub lateness: Duration,
    pub max_held: usize,
}

impl DataConfig {
    /// Live: a day at 10 s resolution, the default caps.
    pub fn live() -> Self {
        let store = StoreConfig {
            ring_capacity: 0,
            ..StoreConfig::default()
        };
        Self {
            store,
            log_capacity: 100_000,
            raw_capacity: 10_000,
            lateness: Duration::minutes(20),
            max_held: 200_000,
        }
    }

    /// Files: the whole range stays in the store, however long: buckets
    /// start 10 s wide and widen as the range grows past
    /// [`FILE_MAX_BUCKETS`] of them, so `all` counts what `report` counts.
    pub fn files() -> Self {
        let store = StoreConfig {
            bucket: Duration::seconds(10),
            max_buckets: Some(FILE_MAX_BUCKETS),
            // Nothing expires: "now" follows the newest event and the
            // range is held whole.
            retention: Duration::days(365 * 10_000),
            // Events of any order: the newest so far is "now".
            future_tolerance: Duration::days(36_500),
            ring_capacity: 0,
            ..StoreConfig::default()
        };
        Self {
            store,
            log_capacity: 400_000,
            raw_capacity: 20_000,
            lateness: Duration::minutes(120),
            max_held: 200_000,
        }
    }
}

impl DataConfig {
    /// Athena: buckets as wide as the aggregate's (`bucket_secs`), the
    /// whole window held; the event log holds what drill-downs bring.
    pub fn athena(bucket_secs: i64) -> Self {
        let files = Self::files();
        Self {
            store: StoreConfig {
                bucket: Duration::seconds(bucket_secs.max(1)),
                ..files.store
            },
            log_capacity: 100_000,
            ..files
        }
    }
}

/// Problems of reading files kept for the screen; older ones are dropped.
const MAX_PROBLEMS_KEPT: usize = 100;

/// Progress of reading log files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loading {
    /// Unknown while a bucket is still being listed.
    pub files_total: Option<usize>,
    pub files_done: usize,
    pub done: bool,
    pub stats: ScanStats,
    /// Problems met (file and reason), newest last, escaped when shown.
    pub problems: Vec<String>,
}

pub struct Data {
    pub store: Store,
    pub(super) engine: Engine,
    replay: Replay<EventKey>,
    pub log: EventLog,
    pub inventory: Inventory,
    pub episodes: Episodes,
    pub sources: BTreeMap<SourceId, SourceStatus>,
    /// How each source's trail is read, where there is one.
    pub trails: BTreeMap<SourceId, TrailStatus>,
    /// How Live Tail of each source's trail log group goes, where it runs.
    pub live_tails: BTreeMap<SourceId, LiveTailStatus>,
    pub identities: Vec<CallerIdentity>,
    pub loading: Option<Loading>,
    rules: Vec<RuleSpec>,
    /// Bumped on every change a pane could show.
    pub generation: u64,
    /// Earliest and latest event time counted.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub events_seen: u64,
    pub refused: u64,
    /// File mode: event times no real event has are set aside, counted
    /// here (they would otherwise become "now"). Set from the clock.
    pub plausible: Option<crate::event::Plausible>,
    pub implausible: u64,
    /// Reads a record again from its file (set by whoever reads files).
    pub record_reader: Option<RecordReader>,
    /// `--source athena://…`: how its queries go, and its drill-downs'
    /// queries by target (see [`super::athena`]).
    pub athena: Option<AthenaStatus>,
    pub queried: BTreeMap<String, super::athena::Queried>,
    /// Events the drill-down queries brought, by identity (two drill-downs
    /// may both bring one).
    pub(super) queried_events: std::collections::HashSet<(String, DateTime<Utc>)>,
}

impl Data {
    pub fn new(config: &DataConfig, rules: Vec<RuleSpec>) -> Result<Self, EngineError> {
        let engine = Engine::new(rules.clone(), Inventory::default())?;
        Ok(Self {
            store: Store::new(config.store.clone()),
            engine,
            replay: Replay::new(config.lateness, config.max_held),
            log: EventLog::new(config.log_capacity, config.raw_capacity),
            inventory: Inventory::default(),
            episodes: Episodes::default(),
            sources: BTreeMap::new(),
            trails: BTreeMap::new(),
            live_tails: BTreeMap::new(),
            identities: Vec::new(),
            loading: None,
            rules: rules.into_iter().filter(|r| r.enabled).collect(),
            generation: 0,
            first: None,
            last: None,
            events_seen: 0,
            refused: 0,
            plausible: None,
            implausible: 0,
            record_reader: None,
            athena: None,
            queried: BTreeMap::new(),
            queried_events: std::collections::HashSet::new(),
        })
    }

    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Counts a batch. `now` is the wall clock live; `None` for files,
    /// where the newest event time stands in for it.
    pub fn ingest(&mut self, events: Vec<PackedEvent>, now: Option<DateTime<Utc>>) {
        self.ingest_located(events.into_iter().map(|e| (e, None)).collect(), now);
    }

    /// Counts a batch whose records may lie in files, to be read again
    /// from there when asked for.
    pub fn ingest_located(
        &mut self,
        mut events: Vec<(PackedEvent, Option<RecordAt>)>,
        now: Option<DateTime<Utc>>,
    ) {
        if let Some(p) = self.plausible {
            let before = events.len();
            events.retain(|(e, _)| p.contains(e.time()));
            self.implausible += (before - events.len()) as u64;
        }
        if events.is_empty() {
            return;
        }
        let newest = events.iter().map(|(e, _)| e.time()).max();
        let store_now = now.or(self.last.max(newest)).unwrap_or_default();
        let mut added = Vec::with_capacity(events.len());
        for (event, at) in events {
            match self.store.ingest_packed(&event, store_now) {
                Ingested::Added => {}
                Ingested::NotSelected => continue,
                _ => {
                    self.refused += 1;
                    continue;
                }
            }
            let time = event.time();
            self.first = Some(self.first.map_or(time, |f| f.min(time)));
            self.last = Some(self.last.map_or(time, |l| l.max(time)));
            self.events_seen += 1;
            added.push((event, at));
        }
        for key in self.log.push_all(added) {
            self.replay.push(key.time, key);
        }
        if now.is_some() {
            let cutoff = self.store.bucket_start(self.store.cutoff_index(store_now));
            self.log.expire(cutoff);
        }
        self.pump(false);
        self.generation += 1;
    }

    /// The share of the last minute's and the last 5 minutes' events that
    /// CloudTrail is expected to show by now (the least of the live
    /// sources'), while under [`FILLING_BELOW`]: a rate over those minutes
    /// is then still filling. `None`: complete, or no estimate yet.
    pub fn recent_filling(&self, now: DateTime<Utc>) -> [Option<f64>; 3] {
        // At `now`, not at the last poll: since it, newer events (nearly
        // none of them visible yet) have entered the last minute.
        let least = |span: i64| {
            self.sources
                .values()
                .filter(|s| !matches!(s.health, crate::feed::Health::Unavailable { .. }))
                .filter_map(|s| {
                    let share = s.share_in_at(span, now)?;
                    // The seconds the trail has read are whole, whatever
                    // LookupEvents has shown of them.
                    let trail_to = self.trails.get(&s.source).and_then(|t| t.read_to);
                    Some(with_trail(share, span, now, trail_to))
                })
                .reduce(f64::min)
                .filter(|s| *s < FILLING_BELOW)
        };
        [least(60), least(300), least(900)]
    }

    /// The share of all sources' events of the last minute that is in:
    /// each source's share weighted by how many events it produces, so a
    /// lagging busy region and a quiet complete one add up to the share of
    /// their sum (the least share would inflate the sum's estimate). `None`
    /// when complete or unknown.
    // Rates and shares are small floats.
    #[allow(clippy::cast_precision_loss)]
    pub fn recent_filling_total(&self, now: DateTime<Utc>) -> Option<f64> {
        let mut weight = 0.0;
        let mut weighted = 0.0;
        for s in self.sources.values() {
            if matches!(s.health, crate::feed::Health::Unavailable { .. }) {
                continue;
            }
            let Some(share) = s.share_in_at(60, now) else {
                continue;
            };
            let trail_to = self.trails.get(&s.source).and_then(|t| t.read_to);
            let share = with_trail(share, 60, now, trail_to);
            // A source not yet measured counts as one event a second.
            let rate = if s.arrival_rate > 0.0 {
                s.arrival_rate
            } else {
                1.0
            };
            weight += rate;
            weighted += rate * share;
        }
        (weight > 0.0)
            .then(|| weighted / weight)
            .filter(|s| *s < FILLING_BELOW)
    }

    /// Where live counts stop being whole: `None` while every source
    /// keeps up; else the time after which some source's events are only
    /// partly in — where its trail has read to, or the start of time when
    /// LookupEvents lags and no trail completes it.
    pub fn partial_after(&self) -> Option<DateTime<Utc>> {
        self.sources
            .values()
            .filter(|s| s.coverage.is_some_and(|c| c < 1.0))
            .map(|s| {
                self.trails
                    .get(&s.source)
                    .filter(|t| {
                        !matches!(
                            t.health,
                            crate::feed::Health::Unavailable { .. }
                                | crate::feed::Health::Failing { .. }
                        )
                    })
                    .and_then(|t| t.read_to)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC)
            })
            .min()
    }

    /// The time up to which every live source has delivered, if they all
    /// said so.
    fn watermark(&self) -> Option<DateTime<Utc>> {
        crate::feed::watermark(self.sources.values())
    }

    /// Moves ready events from the replay buffer to the engine; `all`
    /// drains it (the end of the files).
    fn pump(&mut self, all: bool) {
        let mark = self.watermark();
        let mut changes: Vec<AlertChange> = Vec::new();
        loop {
            let next = if all {
                self.replay.pop_any()
            } else {
                self.replay.pop_next(mark)
            };
            let Some((_, key)) = next else { break };
            // An event the log already let go of is no longer shown, and
            // its alert effect is lost with it: the log outlives the
            // lateness window by far, so this is only the overflow case.
            if let Some(entry) = self.log.get(key) {
                let found = self.engine.observe(&entry.event.view());
                if !found.is_empty() {
                    self.episodes.record(&found, self.engine.now());
                    changes.extend(found);
                }
            }
        }
        self.episodes.sync(&self.engine);
    }

    /// The end of the files: every held event goes to the engine, which
    /// then resolves what was quiet by the last event.
    pub fn finish_files(&mut self) {
        self.pump(true);
        if let Some(end) = self.last {
            let changes = self.engine.tick(end);
            self.episodes.record(&changes, self.engine.now());
            self.episodes.sync(&self.engine);
        }
        if let Some(l) = &mut self.loading {
            l.done = true;
        }
        self.generation += 1;
    }

    /// Live: time passes. Alerts resolve up to the watermark only.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        let until = self.watermark().map_or(now, |m| m.min(now));
        let changes = self.engine.tick(until);
        if !changes.is_empty() {
            self.episodes.record(&changes, self.engine.now());
            self.episodes.sync(&self.engine);
            self.generation += 1;
        }
    }

    /// Takes one message from a source.
    pub fn apply(&mut self, update: SourceMsg, now: DateTime<Utc>) {
        match update {
            SourceMsg::Counted(rows) => {
                self.ingest_counted(&rows);
                return;
            }
            SourceMsg::LeftOut(n) => {
                self.store.note_not_selected(n);
                self.generation += 1;
                return;
            }
            SourceMsg::Athena(status) => self.athena = Some(status),
            SourceMsg::Queried(queried) => {
                self.add_queried(queried);
                return;
            }
            SourceMsg::Alerts(alerts) => {
                self.add_athena_alerts(&alerts);
                return;
            }
            SourceMsg::FileEvents(events) => {
                self.ingest_located(events, None);
                return;
            }
            SourceMsg::FilesRead { done, total } => {
                let loading = self.loading.get_or_insert_default();
                loading.files_done = done;
                loading.files_total = total;
            }
            SourceMsg::FileProblem(text) => {
                let problems = &mut self.loading.get_or_insert_default().problems;
                problems.push(text);
                if problems.len() > MAX_PROBLEMS_KEPT {
                    problems.remove(0);
                }
            }
            SourceMsg::FilesDone(stats) => {
                self.loading.get_or_insert_default().stats = stats;
                tracing::info!(
                    "read {} file(s), {} KMS event(s), {} failed",
                    stats.files_read,
                    stats.kms_records,
                    stats.files_failed
                );
                self.finish_files();
                return;
            }
            SourceMsg::Identity(id) => {
                self.identities
                    .retain(|i| i.profile != id.profile || i.account != id.account);
                self.identities.push(id);
            }
            SourceMsg::Events { events, .. } => {
                self.ingest(events, Some(now));
                return;
            }
            SourceMsg::Keys {
                source,
                keys,
                complete,
            } => self.set_keys(&source, keys, complete),
            // Everything before it is in the store: the dashboard's
            // pollers keep no checkpoints, but a save handed over is made.
            SourceMsg::Commit(commit) => {
                if let Err(e) = commit.run() {
                    tracing::warn!("{e}");
                }
            }
            SourceMsg::Trail(trail) => {
                self.trails.insert(trail.source.clone(), trail);
            }
            SourceMsg::LiveTail(tail) => {
                self.live_tails.insert(tail.source.clone(), tail);
            }
            // The JSON view's, answered by `App::apply`: nothing of the
            // data changes.
            SourceMsg::Record(_) => return,
            SourceMsg::Status(status) => {
                self.sources.insert(status.source.clone(), status);
                // A higher watermark may free held events.
                self.pump(false);
            }
        }
        self.generation += 1;
    }

    fn set_keys(&mut self, source: &SourceId, keys: Vec<KeyFacts>, complete: bool) {
        if complete {
            // A full inventory of the source replaces what it had.
            let in_source = |f: &KeyFacts| {
                f.account.as_deref() == Some(source.account.as_str())
                    && f.region.as_deref() == Some(source.region.as_str())
            };
            let kept: Vec<KeyFacts> = self
                .inventory
                .iter()
                .filter(|f| !in_source(f))
                .cloned()
                .collect();
            self.inventory = Inventory::new(kept);
        }
        for k in keys {
            self.inventory.update(k);
        }
        self.engine.set_inventory(self.inventory.clone());
    }

    pub fn ack(&mut self, rule: &str, group: &str) -> bool {
        let done = self.engine.ack(rule, group);
        self.episodes.sync(&self.engine);
        self.generation += 1;
        done
    }

    pub fn silence(&mut self, rule: &str, group: &str, until: DateTime<Utc>) {
        self.engine.silence(rule, Some(group), until);
        self.episodes.sync(&self.engine);
        self.generation += 1;
    }

    pub fn set_loading(&mut self, loading: Loading) {
        self.loading = Some(loading);
        self.generation += 1;
    }
}

/// The share of the `span` seconds before `now` that is in, when the
/// trail has read every event up to `trail_to` and LookupEvents `share`
/// of the rest.
// Seconds are far below 2^52.
#[allow(clippy::cast_precision_loss)]
fn with_trail(share: f64, span: i64, now: DateTime<Utc>, trail_to: Option<DateTime<Utc>>) -> f64 {
    let Some(to) = trail_to else {
        return share;
    };
    let covered = (to - (now - chrono::Duration::seconds(span)))
        .num_seconds()
        .clamp(0, span);
    (covered as f64 + (span - covered) as f64 * share) / span.max(1) as f64
}

#[cfg(test)]
mod trail_share_tests {
    use super::with_trail;
    use chrono::{DateTime, Duration, Utc};

    #[test]
    fn seconds_the_trail_has_read_count_as_whole() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        // No trail: LookupEvents' share as it is.
        assert!((with_trail(0.2, 300, now, None) - 0.2).abs() < 1e-9);
        // The trail 6 minutes behind reads none of the last 5 minutes.
        let behind = Some(now - Duration::minutes(6));
        assert!((with_trail(0.2, 300, now, behind) - 0.2).abs() < 1e-9);
        // It has read the first 4 of the last 15 minutes: those are whole.
        let want = (240.0 + 660.0 * 0.2) / 900.0;
        let to = Some(now - Duration::minutes(11));
        assert!((with_trail(0.2, 900, now, to) - want).abs() < 1e-9);
        // Read to now: everything is in.
        assert!((with_trail(0.2, 60, now, Some(now)) - 1.0).abs() < 1e-9);
    }
}
