//! "Who decrypted what?": the Resources pane, a resource's drill-down and
//! a principal's resources, counted from the held event log by
//! [`crate::aggregate::resources`] (each held event is marked with its
//! resource when it arrives: a count reads the marks, not the contexts).
//!
//! # Why the event log
//!
//! The store counts by principal, key, event name and outcome per time
//! bucket; a resource lives only in the encryption context, which the
//! store keeps per principal and key over its whole retention, not per
//! bucket. Counting resources per bucket in the store would cost every
//! event of every mode a context lookup and a capped interner, for a pane
//! that is looked at now and then. The event log already holds the
//! window's events in time order, so the pane counts them when it is in
//! focus, and keeps the answer while nothing it depends on changes.
//!
//! # Exact, or said so
//!
//! The window is the other panes' (whole buckets, see [`window_range`]),
//! so a resource's calls add up with the Principals pane's. The log holds
//! a bounded number of events (400 000 in file mode, 100 000 live); when
//! it has let go of events of the window for room, the counts are those
//! of the events it still holds, and the pane says so ([`Coverage`]).
//! On Athena there is no context to count ([`Coverage::Unknown`]).
//!
//! # Cheap
//!
//! The table is built only while the pane is focused, and is shared with
//! the next snapshot while its key — the log's generation, the window's
//! ends, the sort and the filter — is unchanged: a redraw, a second of a
//! live clock inside one bucket, a source's status or a key inventory
//! cost nothing. The window's counts are kept while the pane is in focus,
//! so a new sort or filter sorts them again without counting again. At
//! most [`MAX_ROWS`] rows are kept, in the pane's sort; only their names
//! are read back from the events, unless the sort or the filter is by
//! name (then every name is, on each core).

use std::cmp::Ordering;
use std::collections::vec_deque::Iter;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::drill::DrillView;
use super::log::{Entry, EventLog};
use super::sort_key::SortKey;
use super::tables::{event_rows, key_row, rates};
use super::{App, Drill, Mode, Pane, SortState};
use crate::aggregate::resources::{
    ResourceCount, ResourceTally, resource_detail, resource_of_sample,
};
use crate::aggregate::{RateSpan, RecentCounts};
use crate::event::resource::Resource;
use crate::store::Dim;

/// Rows the pane keeps at most: the first in its sort (the title says how
/// many there are).
pub const MAX_ROWS: usize = 10_000;
/// Resources a principal's drill-down lists at most, busiest first.
pub const MAX_PRINCIPAL_ROWS: usize = 200;

/// One resource in the window.
#[derive(Debug, Clone)]
pub struct ResourceRow {
    pub service: &'static str,
    pub name: Arc<str>,
    /// S3 with a Bucket Key: the context names the bucket.
    pub bucket_key: bool,
    pub calls: u64,
    pub denied: u64,
    pub principals: u32,
    pub keys: u32,
    pub last: Option<DateTime<Utc>>,
}

impl ResourceRow {
    fn of((c, r): &Named<'_>) -> Self {
        Self {
            service: r.service,
            name: Arc::from(r.name.as_ref()),
            bucket_key: r.bucket_key,
            calls: c.calls,
            denied: c.denied,
            principals: c.principals,
            keys: c.keys,
            last: Some(c.last),
        }
    }
}

/// Counts with the resources they are of.
/// (Small, as a sort by name moves one for each resource of the window.)
type Named<'e> = (&'e ResourceCount, Resource<'e>);

/// Resources named on more than one thread from this many on: a sort by
/// name reads every resource's name from its event, scattered over the
/// log (~0.3 µs each, most of a sort of 200 000 resources).
const NAMED_IN_PARALLEL_FROM: usize = 20_000;

/// `counts` with their resources, read from their samples: places in
/// `log` from `first` on.
fn named<'e>(log: &'e EventLog, first: usize, counts: &[&'e ResourceCount]) -> Vec<Named<'e>> {
    let name = |c: &&'e ResourceCount| {
        let sample = log.at(first + c.sample as usize)?;
        Some((*c, resource_of_sample(&sample.event)))
    };
    let threads = super::threads::threads_for(counts.len(), NAMED_IN_PARALLEL_FROM);
    if threads == 1 {
        return counts.iter().filter_map(name).collect();
    }
    let parts: Vec<_> = counts.chunks(counts.len().div_ceil(threads)).collect();
    super::threads::on_threads(parts, |part| {
        part.iter().filter_map(name).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// A window's counts, kept while the log and the window are unchanged: a
/// new sort or filter sorts them again instead of counting again.
#[derive(Debug)]
struct Counted {
    log: u64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    /// The log's place of the window's first event: the counts' samples
    /// are places from there.
    first: usize,
    counts: Vec<ResourceCount>,
    events: u64,
}

impl Counted {
    fn of(app: &App, from: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        let log = &app.data.log;
        let events = held(app, from, until);
        let mut tally = ResourceTally::with_capacity(events.len());
        for (place, e) in (0u32..).zip(events) {
            tally.add(&e.event, e.mark, place);
        }
        Self {
            log: log.generation(),
            from,
            until,
            first: log.range_start(from),
            events: tally.events,
            counts: tally.finish(),
        }
    }

    fn is_of(&self, app: &App, from: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        (self.log, self.from, self.until) == (app.data.log.generation(), from, until)
    }
}

/// A principal that called on a resource.
#[derive(Debug, Clone)]
pub struct CallerRow {
    pub name: String,
    pub calls: u64,
    pub denied: u64,
    pub last: Option<DateTime<Utc>>,
}

/// What counts from the held events cover (the Resources and the Quota &
/// cost panes').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coverage {
    /// Every event of the window.
    #[default]
    Whole,
    /// The log let go of events of the window for room: the counts are
    /// of the `events` it holds, all of those after `after`.
    Since { events: u64, after: DateTime<Utc> },
    /// Nothing can be counted, and why.
    Unknown(&'static str),
}

impl Coverage {
    /// What to say on screen; `None` when the counts are whole.
    pub fn note(self) -> Option<String> {
        match self {
            Coverage::Whole => None,
            Coverage::Since { events, after } => Some(format!(
                "from the {} held events since {}",
                super::athena::thousands(events),
                after.format("%Y-%m-%d %H:%M:%S")
            )),
            Coverage::Unknown(why) => Some(why.to_owned()),
        }
    }
}

/// What a table was built from: while it is unchanged, the table is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableKey {
    log: u64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    sort: SortState,
    filter: Option<String>,
}

/// The Resources pane's rows.
#[derive(Debug, Clone, Default)]
pub struct ResourceTable {
    key: Option<TableKey>,
    /// The first [`MAX_ROWS`] that pass the filter, in the pane's sort.
    pub rows: Vec<ResourceRow>,
    /// Distinct resources in the window, before the filter.
    pub total: usize,
    /// Those that pass the filter.
    pub matched: usize,
    pub coverage: Coverage,
    /// What the rows were sorted from, while the pane is in focus.
    counted: Option<Arc<Counted>>,
}

const ATHENA: &str = "not known on Athena: its counts carry no encryption context";

/// The window as the panes count it: whole buckets, from the one after
/// `from`'s (a finite window; all of them for the whole range) to the one
/// holding `t`, as `[start, end)`.
pub(super) fn window_range(
    app: &App,
    from: DateTime<Utc>,
    t: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let store = &app.data.store;
    let first = store.bucket_index(from) + i64::from(app.window.duration().is_some());
    (
        store.bucket_start(first),
        store.bucket_start(store.bucket_index(t) + 1),
    )
}

/// Whether the held events from `start` on are every event counted.
pub(super) fn coverage(app: &App, start: DateTime<Utc>, events: u64) -> Coverage {
    if matches!(app.mode, Mode::Athena(_)) {
        return Coverage::Unknown(ATHENA);
    }
    match app.data.log.dropped_through() {
        Some(after) if after >= start => Coverage::Since { events, after },
        _ => Coverage::Whole,
    }
}

fn held(app: &App, start: DateTime<Utc>, end: DateTime<Utc>) -> Iter<'_, Entry> {
    app.data.log.range(start, end)
}

/// The pane's rows for the window `[from, t]` while it is in focus, else
/// the last ones (not drawn, and built again when it is).
pub(super) fn shown(app: &App, from: DateTime<Utc>, t: DateTime<Utc>) -> Arc<ResourceTable> {
    let previous = &app.snapshot.resources;
    if app.focus == Pane::Resources {
        table(app, from, t, previous)
    } else if previous.counted.is_some() {
        // The counts are a score of bytes per resource: let them go with
        // the focus (the key goes too, so the table is built again).
        Arc::new(ResourceTable {
            key: None,
            counted: None,
            ..(**previous).clone()
        })
    } else {
        Arc::clone(previous)
    }
}

/// The pane's rows for the window `[from, t]`: `previous` itself when
/// nothing it was built from changed.
fn table(
    app: &App,
    from: DateTime<Utc>,
    t: DateTime<Utc>,
    previous: &Arc<ResourceTable>,
) -> Arc<ResourceTable> {
    let (start, until) = window_range(app, from, t);
    let pane = &app.panes[Pane::Resources.index()];
    let key = TableKey {
        log: app.data.log.generation(),
        from: start,
        until,
        sort: pane.sort,
        filter: pane.filter.as_ref().map(|f| f.text.clone()),
    };
    if previous.key.as_ref() == Some(&key) {
        return Arc::clone(previous);
    }
    if matches!(app.mode, Mode::Athena(_)) {
        return Arc::new(ResourceTable {
            key: Some(key),
            coverage: Coverage::Unknown(ATHENA),
            ..ResourceTable::default()
        });
    }
    let counted = match &previous.counted {
        Some(c) if c.is_of(app, start, until) => Arc::clone(c),
        _ => Arc::new(Counted::of(app, start, until)),
    };
    let counts = &counted.counts;
    let log = &app.data.log;
    let total = counts.len();
    let sort = pane.sort;
    let by_name = sort.key(Pane::Resources) == SortKey::Name;
    let mut rows = if pane.filter.is_none() && !by_name && counts.len() > MAX_ROWS {
        // Sorted by a number or the service: the first rows are found by
        // their marks and counts alone, and only their names are read.
        named(log, counted.first, &first_by_count(counts, sort, MAX_ROWS))
    } else {
        named(log, counted.first, &counts.iter().collect::<Vec<_>>())
    };
    if let Some(f) = &pane.filter {
        rows.retain(|(_, r)| f.regex.is_match(&r.name) || f.regex.is_match(r.service));
    }
    let matched = if pane.filter.is_none() {
        total
    } else {
        rows.len()
    };
    let order = order(sort);
    if rows.len() > MAX_ROWS {
        rows.select_nth_unstable_by(MAX_ROWS - 1, &order);
        rows.truncate(MAX_ROWS);
    }
    rows.sort_unstable_by(&order);
    let rows = rows.iter().map(ResourceRow::of).collect();
    Arc::new(ResourceTable {
        key: Some(key),
        rows,
        total,
        matched,
        coverage: coverage(app, start, counted.events),
        counted: Some(Arc::clone(&counted)),
    })
}

/// The first `n` of `counts` in the pane's sort, when it is by a number
/// or by service: by the column alone (ties by the first call, then the
/// mark), so no name is read.
fn first_by_count(counts: &[ResourceCount], s: SortState, n: usize) -> Vec<&ResourceCount> {
    let mut counts: Vec<&ResourceCount> = counts.iter().collect();
    let key = s.key(Pane::Resources);
    let cmp = |a: &&ResourceCount, b: &&ResourceCount| {
        let o = match key {
            SortKey::Denied => b.denied.cmp(&a.denied),
            SortKey::Principals => b.principals.cmp(&a.principals),
            SortKey::Keys => b.keys.cmp(&a.keys),
            SortKey::Last => b.last.cmp(&a.last),
            SortKey::Service => {
                (a.mark.service().cmp(b.mark.service())).then(b.calls.cmp(&a.calls))
            }
            _ => b.calls.cmp(&a.calls),
        };
        let o = if s.reversed { o.reverse() } else { o };
        o.then(a.first.cmp(&b.first)).then(a.mark.cmp(&b.mark))
    };
    if counts.len() > n {
        counts.select_nth_unstable_by(n - 1, cmp);
        counts.truncate(n);
    }
    counts
}

/// The pane's order for `s`: numbers and times largest first, names A to
/// Z, `S` reverses; ties by name then service, so rows keep their places
/// (compared only on a tie: names lie in the events, far apart).
fn order(s: SortState) -> impl Fn(&Named<'_>, &Named<'_>) -> Ordering {
    let key = s.key(Pane::Resources);
    move |(a, ra), (b, rb)| {
        let by_name = || ra.name.cmp(&rb.name).then(ra.service.cmp(rb.service));
        let o = match key {
            SortKey::Calls => a.calls.cmp(&b.calls),
            SortKey::Denied => a.denied.cmp(&b.denied),
            SortKey::Principals => a.principals.cmp(&b.principals),
            SortKey::Keys => a.keys.cmp(&b.keys),
            SortKey::Last => a.last.cmp(&b.last),
            // A service's resources together, busiest first.
            SortKey::Service => ra.service.cmp(rb.service).then(b.calls.cmp(&a.calls)),
            _ => by_name(),
        };
        let text = matches!(key, SortKey::Service | SortKey::Name);
        let o = if text { o } else { o.reverse() };
        let o = if s.reversed { o.reverse() } else { o };
        o.then_with(by_name)
    }
}

/// The resources `name`'s data calls named in the window, busiest first
/// ([`MAX_PRINCIPAL_ROWS`] of them), the calls on the others, and what
/// the counts cover.
pub(super) fn of_principal(
    app: &App,
    name: &str,
    from: DateTime<Utc>,
    t: DateTime<Utc>,
) -> (Vec<ResourceRow>, u64, Coverage) {
    let (start, until) = window_range(app, from, t);
    if matches!(app.mode, Mode::Athena(_)) {
        return (Vec::new(), 0, Coverage::Unknown(ATHENA));
    }
    let mut tally = ResourceTally::default();
    let mut events = 0;
    for (place, e) in (0u32..).zip(held(app, start, until)) {
        events += 1;
        if !e.mark.is_none() && e.event.principal() == name {
            tally.add(&e.event, e.mark, place);
        }
    }
    let counts = tally.finish();
    let all: u64 = counts.iter().map(|c| c.calls).sum();
    let kept = first_by_count(&counts, SortState::default(), MAX_PRINCIPAL_ROWS);
    let other = all - kept.iter().map(|c| c.calls).sum::<u64>();
    let log = &app.data.log;
    let mut rows = named(log, log.range_start(start), &kept);
    rows.sort_unstable_by(order(SortState::default()));
    let rows = rows.iter().map(ResourceRow::of).collect();
    (rows, other, coverage(app, start, events))
}

/// A resource's drill-down: who called on it (with the calls, refusals and
/// last call of each), with which keys, and its events.
pub(super) fn drill(
    app: &App,
    (service, name): (&'static str, &str),
    t: DateTime<Utc>,
    from: DateTime<Utc>,
    d: &Drill,
    k_by: &[RecentCounts],
) -> DrillView {
    let store = &app.data.store;
    let (start, until) = window_range(app, from, t);
    let target = app.data.log.mark_of(service, name);
    let mut view = DrillView {
        title: format!("Resource {name}"),
        events: event_rows(app, from, t, d.filter.as_ref(), |e| e.mark == target),
        ..DrillView::default()
    };
    view.facts.push(("service".into(), service.to_owned()));
    if matches!(app.mode, Mode::Athena(_)) {
        view.facts.push(("note".into(), ATHENA.to_owned()));
        return view;
    }
    let mut events = 0;
    let detail = resource_detail(
        held(app, start, until).map(|e| {
            events += 1;
            (&e.event, e.mark)
        }),
        target,
    );
    if detail.bucket_key {
        view.facts.push((
            "bucket key".into(),
            "yes: the context names the bucket, one data key serves many objects".into(),
        ));
    }
    view.facts.push(("calls".into(), detail.calls.to_string()));
    view.facts
        .push(("denied".into(), detail.denied.to_string()));
    if let Some(note) = coverage(app, start, events).note() {
        view.facts.push(("counts".into(), note));
    }
    view.callers = detail
        .callers
        .iter()
        .map(|p| CallerRow {
            name: p.name.to_owned(),
            calls: p.calls,
            denied: p.denied,
            last: Some(p.last),
        })
        .collect();
    let span = RateSpan::of(store, t);
    view.keys = detail
        .keys
        .iter()
        .map(|p| {
            let id = store.id(Dim::Key, p.name);
            let r = rates(id.and_then(|id| k_by.get(id as usize)), &span);
            key_row(app, p.name, (p.calls, p.denied), r, id)
        })
        .collect();
    view
}
