//! The rows every pane shows at the cursor, built once per change (not
//! per frame: selection moves reuse them). Pure functions of the [`App`].
//!
//! "At the cursor" means: counts over the window ending at the view time,
//! 1/5/15-minute rates and sparklines ending at it, alerts as they were
//! then, events up to it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::episodes::Episode;
use super::log::{Entry, EventKey};
use super::ranks::NameRanks;
use super::sort::{sort_alerts, sort_denied, sort_events, sort_keys, sort_principals};
use super::{App, Filter, Pane};
use crate::aggregate::{
    RecentCounts, Window, WindowCounts, denied_ips_in, recent_counts, series_many_both,
    window_counts,
};
use crate::event::{KeyRef, Outcome};
use crate::inventory::KeyFacts;
use crate::store::{Dim, NONE, Name, Store};

pub use super::drill::{ContextView, DrillView, build_drill};

/// Rows listed at most in the Events pane and in drill-downs.
pub const MAX_EVENT_ROWS: usize = 2_000;
/// Events looked at at most to find them (a rare filter over a week).
pub const MAX_EVENT_SCAN: usize = 400_000;
/// Sparklines are computed for rows this close to the top or selection.
const SPARK_ROWS: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapKey {
    pub generation: u64,
    pub version: u64,
    pub time: DateTime<Utc>,
    pub from: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct PrincipalRow {
    pub id: u32,
    pub name: Name,
    /// The name's place among the principals' names: rows compare by it
    /// as by the name.
    pub rank: u32,
    /// Counts in the window.
    pub calls: u64,
    pub decrypt: u64,
    pub denied: u64,
    /// Calls per minute over 1, 5, 15 minutes before the view time.
    pub rates: [f64; 3],
    pub denied_share: Option<f64>,
    /// Keys used in retention.
    pub keys: u32,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Calls per minute over the hour before the view time.
    pub spark: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Default)]
pub struct KeyRow {
    pub arn: String,
    /// Alias, else key id.
    pub label: String,
    pub facts: Option<KeyFacts>,
    pub calls: u64,
    pub denied: u64,
    pub rates: [f64; 3],
    pub principals: u32,
    pub last_seen: Option<DateTime<Utc>>,
    pub deletion_days: Option<i64>,
    pub spark: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedKind {
    Principal,
    Key,
    SourceIp,
}

impl DeniedKind {
    pub fn label(self) -> &'static str {
        match self {
            DeniedKind::Principal => "principal",
            DeniedKind::Key => "key",
            DeniedKind::SourceIp => "source ip",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeniedRow {
    pub kind: DeniedKind,
    pub name: Name,
    pub label: Name,
    /// For principals and source IPs: the label's place among its kind's
    /// names (rows of one kind compare by it as by the label).
    pub rank: Option<u32>,
    pub count: u64,
    /// Denied calls per minute lately against the window's average.
    pub factor: Option<f64>,
}

/// Counts per bucket, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub bucket_secs: i64,
    pub first_index: i64,
    pub calls: Vec<u64>,
    pub denied: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Shared with the alert history: a row costs a reference count.
    pub episode: Arc<Episode>,
    /// Firing at the view time.
    pub firing: bool,
    /// The episode's place by (rule, group), and its rule's among the
    /// rules: rows compare by them as by those texts.
    pub name_rank: u32,
    pub rule_rank: u32,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub key: EventKey,
    pub time: DateTime<Utc>,
    pub name: String,
    pub principal: String,
    pub key_label: Option<String>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub source_ip: Option<String>,
    pub region: Option<String>,
    pub user_agent: Option<String>,
}

/// An event the Events pane lists: where it sits in the log. Its texts
/// are read from the log when its row is drawn: the pane shows a few dozen
/// of up to [`MAX_EVENT_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef {
    pub key: EventKey,
    pub time: DateTime<Utc>,
    pub outcome: Outcome,
}

impl EventRef {
    fn of(e: &Entry) -> Self {
        Self {
            key: e.key(),
            time: e.event.time(),
            outcome: e.event.outcome(),
        }
    }
}

impl EventRow {
    pub fn from_entry(e: &Entry) -> Self {
        let v = e.event.view();
        Self {
            key: e.key(),
            time: v.time,
            name: v.event_name.into_owned(),
            principal: v.principal.into_owned(),
            key_label: v.key.as_ref().map(|k| k.key_id().to_owned()),
            outcome: v.outcome,
            error: v.error_code.map(std::borrow::Cow::into_owned),
            source_ip: v.source_ip.map(std::borrow::Cow::into_owned),
            region: v.region.map(std::borrow::Cow::into_owned),
            user_agent: v.user_agent.map(std::borrow::Cow::into_owned),
        }
    }

    fn matches(&self, f: &Filter) -> bool {
        [
            Some(self.name.as_str()),
            Some(self.principal.as_str()),
            self.key_label.as_deref(),
            Some(self.outcome.as_str()),
            self.error.as_deref(),
            self.source_ip.as_deref(),
            self.region.as_deref(),
            self.user_agent.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|t| f.regex.is_match(t))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub key: Option<SnapKey>,
    pub time: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub principals: Vec<PrincipalRow>,
    /// Rows before the filter.
    pub principal_total: usize,
    pub keys: Vec<KeyRow>,
    pub key_total: usize,
    pub denied_rows: Vec<DeniedRow>,
    pub denied_total: usize,
    /// The window's counts per bucket (Denied chart).
    pub window_series: Series,
    pub alerts: Vec<AlertRow>,
    pub alert_total: usize,
    pub firing: usize,
    pub events: Vec<EventRef>,
    pub drill: Option<DrillView>,
    /// The whole range (timeline strip): reused while the data is unchanged.
    pub timeline: Arc<Series>,
    timeline_generation: Option<u64>,
    /// Names in order (for sorting): reused while no name came or went.
    ranks: Arc<NameRanks>,
    /// Calls per second over the minute before the view time.
    pub events_per_sec: f64,
}

/// The sort columns of each pane, in `s` order; the first is the default.
pub fn sort_columns(pane: Pane) -> &'static [&'static str] {
    match pane {
        Pane::Principals => &[
            "calls", "1m", "5m", "15m", "denied", "denied%", "keys", "first", "last", "name",
        ],
        Pane::Denied => &["count", "spike", "name"],
        Pane::Keys => &[
            "calls",
            "1m",
            "denied",
            "principals",
            "deletion",
            "last",
            "name",
        ],
        Pane::Alerts => &["state", "severity", "count", "first", "last", "rule"],
        Pane::Events => &["time", "principal", "event", "outcome"],
    }
}

/// The window's counts: per principal, key and source IP, and per bucket.
fn tally(store: &Store, from: DateTime<Utc>, to: DateTime<Utc>, whole: bool) -> WindowCounts {
    // A finite window of N minutes spans the N minutes' buckets ending
    // with the one holding the view time, as the rates do.
    let from_index = store.bucket_index(from) + i64::from(!whole);
    window_counts(store, from_index, store.bucket_index(to))
}

fn series_of(w: WindowCounts) -> Series {
    Series {
        bucket_secs: w.bucket_secs,
        first_index: w.first_index,
        calls: w.calls,
        denied: w.denied,
    }
}

/// Every bucket of the store, for the timeline strip.
fn whole_range(store: &Store) -> Series {
    let mut s = Series {
        bucket_secs: store.bucket_seconds(),
        first_index: store.buckets().next().map_or(0, |(i, _)| i),
        calls: Vec::with_capacity(store.bucket_count()),
        denied: Vec::with_capacity(store.bucket_count()),
    };
    for (_, b) in store.buckets() {
        s.calls.push(u64::from(b.total()));
        s.denied.push(u64::from(b.denied()));
    }
    s
}

/// Calls per minute over 1, 5 and 15 minutes of an id.
fn rates(r: Option<&RecentCounts>) -> [f64; 3] {
    r.map_or([0.0; 3], |r| {
        let c = r.call_rates();
        [c.m1, c.m5, c.m15]
    })
}

pub(super) fn key_label(arn: &str, facts: Option<&KeyFacts>) -> String {
    match facts {
        Some(f) if !f.aliases.is_empty() || f.key_id.is_some() => f.display_name().to_owned(),
        _ => KeyRef { arn: arn.into() }.key_id().to_owned(),
    }
}

pub(super) fn key_row(
    app: &App,
    arn: &str,
    acc: (u64, u64),
    rates: [f64; 3],
    id: Option<u32>,
) -> KeyRow {
    let store = &app.data.store;
    let facts = app.data.inventory.get(arn).cloned();
    let info = id.and_then(|id| store.entity(Dim::Key, id));
    KeyRow {
        arn: arn.to_owned(),
        label: key_label(arn, facts.as_ref()),
        deletion_days: facts
            .as_ref()
            .and_then(|f| f.days_until_deletion(app.view_time())),
        facts,
        calls: acc.0,
        denied: acc.1,
        rates,
        principals: info.map_or(0, |i| i.linked),
        last_seen: info.and_then(|i| i.last_seen),
        spark: None,
    }
}

pub(super) fn build(app: &App, key: SnapKey) -> Snapshot {
    let store = &app.data.store;
    let (t, from) = (key.time, key.from);
    let whole = app.window.duration().is_none();
    let tally = tally(store, from, t, whole);
    let ranks = if app.snapshot.ranks.fresh(store) {
        Arc::clone(&app.snapshot.ranks)
    } else {
        Arc::new(NameRanks::of(store))
    };
    let (p_by, k_by) = recent_counts(store, t);
    let window_minutes = ((t - from).num_seconds().max(60) / 60).max(1);
    let (mut principals, principal_total) = principal_rows(app, &tally, &p_by, &ranks);
    let (mut keys, key_total) = key_rows(app, &tally, &k_by);
    add_sparks(app, &mut principals, &mut keys, t);
    let denied_rows = denied_rows(app, &tally, (&p_by, &k_by), &ranks, window_minutes, t);
    let denied_total = denied_rows.len();
    let dpane = &app.panes[Pane::Denied.index()];
    let mut denied_rows = denied_rows;
    if let Some(f) = &dpane.filter {
        denied_rows.retain(|r| f.regex.is_match(&r.name) || f.regex.is_match(&r.label));
    }
    sort_denied(&mut denied_rows, dpane.sort);

    let apane = &app.panes[Pane::Alerts.index()];
    let episodes = &app.data.episodes;
    let mut alerts: Vec<AlertRow> = Vec::with_capacity(episodes.all().len());
    alerts.extend(
        episodes
            .all()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.first <= t)
            .map(|(i, e)| AlertRow {
                firing: e.firing_at(t),
                episode: Arc::clone(e),
                name_rank: episodes.name_rank(i),
                rule_rank: episodes.rule_rank(i),
            }),
    );
    let alert_total = alerts.len();
    let firing = alerts.iter().filter(|a| a.firing).count();
    if let Some(f) = &apane.filter {
        alerts.retain(|a| {
            let e = &a.episode;
            f.regex.is_match(&e.rule) || f.regex.is_match(&e.title) || f.regex.is_match(&e.group)
        });
    }
    sort_alerts(&mut alerts, apane.sort);

    let events = event_refs(app, from, t);

    let timeline = match app.snapshot.timeline_generation {
        Some(g) if g == app.data.generation => Arc::clone(&app.snapshot.timeline),
        _ => Arc::new(whole_range(store)),
    };
    let last_minute: u64 = {
        let n = usize::try_from((60 / tally.bucket_secs.max(1)).max(1)).unwrap_or(1);
        tally.calls.iter().rev().take(n).sum()
    };
    #[allow(clippy::cast_precision_loss)]
    let events_per_sec = last_minute as f64 / 60.0;

    let mut snap = Snapshot {
        key: Some(key),
        time: t,
        from,
        principals,
        principal_total,
        keys,
        key_total,
        denied_rows,
        denied_total,
        window_series: series_of(tally),
        alerts,
        alert_total,
        firing,
        events,
        drill: None,
        timeline,
        timeline_generation: Some(app.data.generation),
        ranks,
        events_per_sec,
    };
    snap.drill = app.drills.last().map(|d| build_drill(app, d, t, from));
    snap
}

fn principal_rows(
    app: &App,
    tally: &WindowCounts,
    p_by: &[RecentCounts],
    ranks: &NameRanks,
) -> (Vec<PrincipalRow>, usize) {
    let store = &app.data.store;
    let mut principals: Vec<PrincipalRow> =
        Vec::with_capacity(tally.principals.iter().filter(|a| a.calls > 0).count());
    for (id, acc) in tally.principals.iter().enumerate() {
        if acc.calls == 0 {
            continue;
        }
        let id = id as u32;
        let info = store.entity(Dim::Principal, id);
        let calls = acc.calls;
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        principals.push(PrincipalRow {
            id,
            name: store.shared_name(Dim::Principal, id),
            rank: ranks.rank(Dim::Principal, id),
            calls,
            decrypt: acc.decrypt,
            denied: acc.denied,
            rates: rates(p_by.get(id as usize)),
            denied_share: Some(acc.denied as f64 / calls as f64),
            keys: info.map_or(0, |i| i.linked),
            first: info.and_then(|i| i.first_seen),
            last: info.and_then(|i| i.last_seen),
            spark: None,
        });
    }
    let total = principals.len();
    let pane = &app.panes[Pane::Principals.index()];
    if let Some(f) = &pane.filter {
        principals.retain(|r| f.regex.is_match(&r.name));
    }
    sort_principals(&mut principals, pane.sort);
    (principals, total)
}

fn key_rows(app: &App, tally: &WindowCounts, k_by: &[RecentCounts]) -> (Vec<KeyRow>, usize) {
    let store = &app.data.store;
    let mut keys: Vec<KeyRow> = Vec::new();
    for (id, acc) in tally.keys.iter().enumerate() {
        let id = id as u32;
        if acc.calls == 0 || id == NONE || store.entity(Dim::Key, id).is_none() {
            continue;
        }
        let arn = store.name(Dim::Key, id);
        let r = rates(k_by.get(id as usize));
        keys.push(key_row(app, arn, (acc.calls, acc.denied), r, Some(id)));
    }
    // Live: the inventory's keys nobody used in the window are keys too.
    for f in app.data.inventory.iter() {
        let id = store.id(Dim::Key, &f.arn);
        if id.is_none_or(|id| tally.keys.get(id as usize).is_none_or(|a| a.calls == 0)) {
            keys.push(key_row(app, &f.arn, (0, 0), [0.0; 3], id));
        }
    }
    let total = keys.len();
    let pane = &app.panes[Pane::Keys.index()];
    if let Some(f) = &pane.filter {
        keys.retain(|r| f.regex.is_match(&r.arn) || f.regex.is_match(&r.label));
    }
    sort_keys(&mut keys, pane.sort);
    (keys, total)
}

/// Sparklines for the principal and key rows near the top and near the
/// selection, from one scan of the last hour.
fn add_sparks(app: &App, principals: &mut [PrincipalRow], keys: &mut [KeyRow], t: DateTime<Utc>) {
    let store = &app.data.store;
    let selected = |p: Pane| app.panes[p.index()].list.selected;
    let p_ids = spark_ids(principals, selected(Pane::Principals), |r| r.id);
    let k_ids: Vec<(usize, u32)> = spark_ids(keys, selected(Pane::Keys), |r| {
        store.id(Dim::Key, &r.arn).unwrap_or(u32::MAX)
    })
    .into_iter()
    .filter(|&(_, id)| id != u32::MAX)
    .collect();
    let just = |ids: &[(usize, u32)]| ids.iter().map(|&(_, id)| id).collect::<Vec<u32>>();
    let (p_sparks, k_sparks) = series_many_both(store, t, &just(&p_ids), &just(&k_ids));
    for ((row, _), s) in p_ids.iter().zip(p_sparks) {
        principals[*row].spark = Some(s.calls.to_vec());
    }
    for ((row, _), s) in k_ids.iter().zip(k_sparks) {
        keys[*row].spark = Some(s.calls.to_vec());
    }
}

/// (row index, id) of the rows near the top and near the selection.
fn spark_ids<R>(rows: &[R], selected: usize, id: impl Fn(&R) -> u32) -> Vec<(usize, u32)> {
    let near = selected.saturating_sub(SPARK_ROWS / 2)..(selected + SPARK_ROWS / 2);
    rows.iter()
        .enumerate()
        .filter(|(i, _)| *i < SPARK_ROWS || near.contains(i))
        .map(|(i, r)| (i, id(r)))
        .collect()
}

/// The Events pane's rows: filtered and sorted as it asks.
fn event_refs(app: &App, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<EventRef> {
    let pane = &app.panes[Pane::Events.index()];
    if pane.filter.is_none() && pane.sort.column == 0 {
        // Newest first is the log's order backwards: no texts needed.
        let mut refs: Vec<EventRef> = app
            .data
            .log
            .newest_first(from, until)
            .take(MAX_EVENT_ROWS)
            .map(EventRef::of)
            .collect();
        if pane.sort.reversed {
            refs.reverse();
        }
        return refs;
    }
    let mut rows = event_rows(app, from, until, pane.filter.as_ref(), |_| true);
    sort_events(&mut rows, pane.sort);
    rows.iter()
        .map(|r| EventRef {
            key: r.key,
            time: r.time,
            outcome: r.outcome,
        })
        .collect()
}

/// Events in `[from, until]`, newest first, that pass the filter and `keep`.
pub(super) fn event_rows(
    app: &App,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    filter: Option<&Filter>,
    keep: impl Fn(&Entry) -> bool,
) -> Vec<EventRow> {
    app.data
        .log
        .newest_first(from, until)
        .take(MAX_EVENT_SCAN)
        .filter(|e| keep(e))
        .map(EventRow::from_entry)
        .filter(|r| filter.is_none_or(|f| r.matches(f)))
        .take(MAX_EVENT_ROWS)
        .collect()
}

fn denied_rows(
    app: &App,
    tally: &WindowCounts,
    (p_by, k_by): (&[RecentCounts], &[RecentCounts]),
    ranks: &NameRanks,
    window_minutes: i64,
    t: DateTime<Utc>,
) -> Vec<DeniedRow> {
    let store = &app.data.store;
    // "Lately": the last 5 minutes, or the last minute of a short window.
    let recent_minutes: i64 = if window_minutes > 5 { 5 } else { 1 };
    #[allow(clippy::cast_precision_loss)]
    let factor = |count: u64, recent: f64| -> Option<f64> {
        let base = count as f64 / window_minutes as f64;
        (base > 0.0).then(|| recent / base)
    };
    let recent_rate = |r: Option<&RecentCounts>| {
        r.map_or(0.0, |r| {
            let d = r.denied_rates();
            if recent_minutes == 5 { d.m5 } else { d.m1 }
        })
    };
    let denied = |c: &[crate::store::Counts]| c.iter().filter(|a| a.denied > 0).count();
    let mut rows = Vec::with_capacity(
        denied(&tally.principals)
            + denied(&tally.keys)
            + tally.denied_ips.iter().filter(|&&n| n > 0).count(),
    );
    for (id, acc) in tally.principals.iter().enumerate() {
        if acc.denied > 0 {
            let name = store.shared_name(Dim::Principal, id as u32);
            rows.push(DeniedRow {
                kind: DeniedKind::Principal,
                label: name.clone(),
                name,
                rank: Some(ranks.rank(Dim::Principal, id as u32)),
                count: acc.denied,
                factor: factor(acc.denied, recent_rate(p_by.get(id))),
            });
        }
    }
    for (id, acc) in tally.keys.iter().enumerate() {
        if acc.denied > 0 && id as u32 != NONE {
            let arn = store.shared_name(Dim::Key, id as u32);
            rows.push(DeniedRow {
                kind: DeniedKind::Key,
                label: key_label(&arn, app.data.inventory.get(&arn)).into(),
                name: arn,
                rank: None,
                count: acc.denied,
                factor: factor(acc.denied, recent_rate(k_by.get(id))),
            });
        }
    }
    // Denied calls per source IP, in the window and lately.
    let current = store.bucket_index(t);
    let span = if recent_minutes == 5 {
        Window::M5
    } else {
        Window::M1
    }
    .buckets(store.bucket_seconds());
    let recent = denied_ips_in(store, current - span + 1, current);
    for (id, &count) in tally.denied_ips.iter().enumerate() {
        if count > 0 {
            let ip = store.shared_name(Dim::SourceIp, id as u32);
            #[allow(clippy::cast_precision_loss)]
            let rate = recent.get(id).copied().unwrap_or(0) as f64 / recent_minutes as f64;
            rows.push(DeniedRow {
                kind: DeniedKind::SourceIp,
                label: ip.clone(),
                name: ip,
                rank: Some(ranks.rank(Dim::SourceIp, id as u32)),
                count,
                factor: factor(count, rate),
            });
        }
    }
    rows
}
