//! The rows every pane shows at the cursor, built once per change (not
//! per frame: selection moves reuse them). Pure functions of the [`App`].
//!
//! "At the cursor" means: counts over the window ending at the view time,
//! 1/5/15-minute rates and sparklines ending at it, alerts as they were
//! then, events up to it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ranks::NameRanks;
use super::sort::{sort_alerts, sort_denied};
use super::tables::{add_sparks, denied_rows, event_refs, key_rows, principal_rows};
use super::{App, Pane};
use crate::aggregate::{RecentCounts, RecentPlan, WindowCounts, merge_recent, window_counts};
use crate::store::Store;

pub use super::drill::{ContextView, DrillView, build_drill};
pub use super::rows::{
    AlertRow, DeniedKind, DeniedRow, EventRef, EventRow, KeyRow, PrincipalRow, Series,
};

/// Rows listed at most in the Events pane and in drill-downs.
pub const MAX_EVENT_ROWS: usize = 2_000;
/// Events looked at at most to find them (a rare filter over a week).
pub const MAX_EVENT_SCAN: usize = 400_000;

/// Everything the rows depend on: the data's generation, the times, and
/// the view state itself (compared whole each refresh, so no change to
/// the view can forget to ask for new rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapKey {
    pub generation: u64,
    pub view: ViewKey,
    pub time: DateTime<Utc>,
    pub from: DateTime<Utc>,
}

/// The view state the rows are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewKey {
    pub sorts: Vec<super::SortState>,
    pub filters: Vec<Option<String>>,
    pub window: super::TimeWindow,
    /// Each open drill-down: its target, filter and section.
    pub drills: Vec<(super::DrillTarget, Option<String>, usize)>,
    /// Where the Principals and Keys selections are, coarsely: sparklines
    /// are built near the selection, so moving far needs new rows.
    pub spark_pages: [usize; 2],
    /// The Resources pane is in focus: its rows are built only then.
    pub resources: bool,
    /// The Quota & cost pane is in focus: its answer is counted only then.
    pub usage: bool,
}

impl ViewKey {
    pub fn of(app: &App) -> Self {
        let page = |p: Pane| app.panes[p.index()].list.selected / super::tables::SPARK_PAGE;
        Self {
            sorts: app.panes.iter().map(|p| p.sort).collect(),
            filters: app
                .panes
                .iter()
                .map(|p| p.filter.as_ref().map(|f| f.text.clone()))
                .collect(),
            window: app.window,
            drills: app
                .drills
                .iter()
                .map(|d| {
                    let filter = d.filter.as_ref().map(|f| f.text.clone());
                    (d.target.clone(), filter, d.section)
                })
                .collect(),
            spark_pages: [page(Pane::Principals), page(Pane::Keys)],
            resources: app.focus == Pane::Resources,
            usage: app.focus == Pane::Usage,
        }
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
    /// The window reaches back before events the log let go for room: the
    /// Events pane lists none up to this time.
    pub events_dropped_through: Option<DateTime<Utc>>,
    pub drill: Option<DrillView>,
    /// The Resources pane's rows: built while it is in focus, and shared
    /// from one snapshot to the next while nothing they count changed.
    pub resources: Arc<super::resources::ResourceTable>,
    /// The Quota & cost pane's answer: counted while it is in focus, and
    /// shared from one snapshot to the next while nothing it counts changed.
    pub usage: Arc<super::usage::UsageTable>,
    /// The whole range (timeline strip): reused while the data is unchanged.
    pub timeline: Arc<Series>,
    timeline_generation: Option<u64>,
    /// Names in order (for sorting): reused while no name came or went.
    ranks: Arc<NameRanks>,
    /// Calls per second over the minute before the view time.
    pub events_per_sec: f64,
    /// The drill-down `drill` is of: its depth and target.
    pub drill_of: Option<(usize, super::DrillTarget)>,
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

/// Bucket combinations below which the recent counts are read in one
/// part: a thread's start and a second set of counts to add up would cost
/// more than half the reading saves.
const RECENT_SPLIT_FROM: usize = 20_000;

type ByRecent = (Vec<RecentCounts>, Vec<RecentCounts>);

/// The 1/5/15-minute counts and the window's, which every pane waits on:
/// from `split_from` bucket combinations on (never without one), half the
/// recent counts on a thread of their own while the window's and the
/// other half are counted here.
fn counts(
    store: &Store,
    (from, t): (DateTime<Utc>, DateTime<Utc>),
    whole: bool,
    split_from: Option<usize>,
) -> (ByRecent, WindowCounts) {
    let plan = RecentPlan::new(store, t);
    let parts = plan.halves(store, split_from.unwrap_or(usize::MAX));
    let [first, second] = parts[..] else {
        return (
            plan.count(store, plan.span, true),
            tally(store, from, t, whole),
        );
    };
    std::thread::scope(|scope| {
        let early = scope.spawn(|| plan.count(store, first, true));
        let window = tally(store, from, t, whole);
        let late = plan.count(store, second, false);
        let mut by = joined(early);
        merge_recent(&mut by.0, &late.0);
        merge_recent(&mut by.1, &late.1);
        (by, window)
    })
}

/// A thread's answer; its panic is the caller's.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The alert episodes begun by `t`, filtered and sorted as the pane
/// shows them, with how many there are and how many fire at `t`.
fn alert_rows(app: &App, t: DateTime<Utc>) -> (Vec<AlertRow>, usize, usize) {
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
    (alerts, alert_total, firing)
}

/// Principals and alert episodes from which the Denied and Alerts panes'
/// rows are built on threads of their own: below, a thread's start costs
/// more than it saves.
const BUILT_BESIDE_FROM: usize = 2_000;

pub(super) fn build(app: &App, key: SnapKey) -> Snapshot {
    let busy = app.data.store.principal_count() + app.data.episodes.all().len();
    build_rows(app, key, busy >= BUILT_BESIDE_FROM)
}

/// The snapshot, with the Denied and Alerts panes' rows built on threads
/// of their own when `beside`.
fn build_rows(app: &App, key: SnapKey, beside: bool) -> Snapshot {
    let store = &app.data.store;
    let (t, from) = (key.time, key.from);
    let whole = app.window.duration().is_none();
    let split_from = beside.then_some(RECENT_SPLIT_FROM);
    let ((p_by, k_by), tally) = counts(store, (from, t), whole, split_from);
    let ranks = if app.snapshot.ranks.fresh(store) {
        Arc::clone(&app.snapshot.ranks)
    } else {
        Arc::new(NameRanks::of(store))
    };
    let window_minutes = ((t - from).num_seconds().max(60) / 60).max(1);
    let span = crate::aggregate::RateSpan::of(store, t);
    let by: (&[_], &[_]) = (&p_by, &k_by);
    // The Denied and Alerts panes' rows are built and sorted beside the
    // principals' and keys': sorts of ~10 k rows each are most of a
    // refresh.
    let denied = || {
        let mut rows = denied_rows(app, &tally, by, &ranks, window_minutes, t);
        let total = rows.len();
        let dpane = &app.panes[Pane::Denied.index()];
        if let Some(f) = &dpane.filter {
            rows.retain(|r| f.regex.is_match(&r.name) || f.regex.is_match(&r.label));
        }
        sort_denied(&mut rows, dpane.sort);
        (rows, total)
    };
    let listed = || {
        let (mut principals, principal_total) = principal_rows(app, &tally, &p_by, &ranks, &span);
        let (mut keys, key_total) = key_rows(app, &tally, &k_by, &span);
        let selected = |p: Pane| app.panes[p.index()].list.selected;
        add_sparks(
            app,
            &mut principals,
            &mut keys,
            (selected(Pane::Principals), selected(Pane::Keys)),
            t,
        );
        (principals, principal_total, keys, key_total)
    };
    let alerts = || alert_rows(app, t);
    let (
        (principals, principal_total, keys, key_total),
        (denied_rows, denied_total),
        (alerts, alert_total, firing),
    ) = if beside {
        std::thread::scope(|scope| {
            let denied = scope.spawn(denied);
            let alerts = scope.spawn(alerts);
            let listed = listed();
            (listed, joined(denied), joined(alerts))
        })
    } else {
        (listed(), denied(), alerts())
    };

    let events = event_refs(app, from, t);

    let timeline = match app.snapshot.timeline_generation {
        Some(g) if g == app.data.generation => Arc::clone(&app.snapshot.timeline),
        _ => Arc::new(whole_range(store)),
    };
    // The last minute's buckets (one wider bucket when a long file range
    // widened them), over the seconds they cover.
    let n = crate::aggregate::Window::M1.buckets(tally.bucket_secs.max(1));
    let last_minute: u64 = tally
        .calls
        .iter()
        .rev()
        .take(usize::try_from(n).unwrap_or(1))
        .sum();
    let events_per_sec = crate::aggregate::per_minute(last_minute, span.seconds[0]) / 60.0;

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
        events_dropped_through: app.data.log.dropped_through().filter(|d| *d >= from),
        drill: None,
        resources: super::resources::shown(app, from, t),
        usage: super::usage::shown(app, from, t),
        timeline,
        timeline_generation: Some(app.data.generation),
        ranks,
        events_per_sec,
        drill_of: app
            .drills
            .last()
            .map(|d| (app.drills.len(), d.target.clone())),
    };
    snap.drill = app
        .drills
        .last()
        .map(|d| build_drill(app, d, t, from, (&p_by, &k_by)));
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Data, DataConfig, Mode};
    use crate::event::{PackedEvent, Parsed, parse_record};

    /// Calls of many principals, a share of them denied, some from one
    /// address often enough for the built-in rules to fire.
    fn event(i: u32) -> PackedEvent {
        let error = if i.is_multiple_of(3) {
            r#","errorCode":"AccessDenied""#
        } else {
            ""
        };
        let raw = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:{m:02}:{s:02}Z","eventID":"e{i}","awsRegion":"us-east-1","recipientAccountId":"111122223333","sourceIPAddress":"10.0.{ip}.1","userIdentity":{{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/u{p}"}},"resources":[{{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k{k}"}}]{error}}}"#,
            m = i / 200 % 60,
            s = i % 60,
            ip = i % 7,
            p = i % 2_600,
            k = i % 9,
        );
        match parse_record(&raw) {
            Ok(Parsed::Kms(e)) => PackedEvent::pack(&e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recent_counts_read_in_halves_are_read_whole() {
        let data = Data::new(&DataConfig::files(), crate::alert::builtin::rules()).expect("rules");
        let start = DateTime::<Utc>::from_timestamp(1_735_700_000, 0).expect("t");
        let mut app = App::new(data, Mode::Files(vec!["t".into()]), start);
        app.data.ingest((0..8_000).map(event).collect(), None);
        app.data.finish_files();
        let store = &app.data.store;
        let t = store
            .buckets()
            .next_back()
            .map(|(i, _)| i)
            .expect("buckets");
        let t = DateTime::<Utc>::from_timestamp(t * store.bucket_seconds(), 0).expect("t");
        let range = (t - chrono::Duration::minutes(15), t);
        let plan = RecentPlan::new(store, t);
        assert_eq!(plan.halves(store, 0).len(), 2);
        let (halves, window) = counts(store, range, false, Some(0));
        let (whole, window_whole) = counts(store, range, false, None);
        assert_eq!(halves, whole);
        assert_eq!(window.calls, window_whole.calls);
        assert!(whole.0.iter().any(|c| c.calls[2] > 0));
    }

    #[test]
    fn rows_built_beside_are_the_rows_built_in_turn() {
        let data = Data::new(&DataConfig::files(), crate::alert::builtin::rules()).expect("rules");
        let start = DateTime::<Utc>::from_timestamp(1_735_700_000, 0).expect("t");
        let mut app = App::new(data, Mode::Files(vec!["t".into()]), start);
        app.data.ingest((0..8_000).map(event).collect(), None);
        app.data.finish_files();
        app.refresh();
        let key = app.snapshot.key.clone().expect("built");
        let (turn, beside) = (
            build_rows(&app, key.clone(), false),
            build_rows(&app, key, true),
        );
        let principals = |s: &Snapshot| -> Vec<(String, u64, u64)> {
            s.principals
                .iter()
                .map(|r| (r.name.to_string(), r.calls, r.denied))
                .collect()
        };
        let denied = |s: &Snapshot| -> Vec<(String, u64)> {
            s.denied_rows
                .iter()
                .map(|r| (r.label.to_string(), r.count))
                .collect()
        };
        let alerts = |s: &Snapshot| -> Vec<(String, String, bool)> {
            s.alerts
                .iter()
                .map(|a| (a.episode.rule.clone(), a.episode.group.clone(), a.firing))
                .collect()
        };
        assert!(
            turn.principals.len() > BUILT_BESIDE_FROM,
            "{}",
            turn.principals.len()
        );
        assert!(turn.denied_rows.len() > 100 && !turn.alerts.is_empty());
        assert_eq!(principals(&beside), principals(&turn));
        assert_eq!(denied(&beside), denied(&turn));
        assert_eq!(alerts(&beside), alerts(&turn));
        assert_eq!(
            (
                beside.principal_total,
                beside.denied_total,
                beside.alert_total,
                beside.firing
            ),
            (
                turn.principal_total,
                turn.denied_total,
                turn.alert_total,
                turn.firing
            )
        );
    }
}
