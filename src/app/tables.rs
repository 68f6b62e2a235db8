//! Each pane's rows from the window's counts: principals, keys, denied
//! principals / keys / source IPs, sparklines near the top and the
//! selection, and the events up to the cursor.

use chrono::{DateTime, Utc};

use super::log::Entry;
use super::query::{MAX_EVENT_ROWS, MAX_EVENT_SCAN};
use super::ranks::NameRanks;
use super::rows::{DeniedKind, DeniedRow, EventRef, EventRow, KeyRow, PrincipalRow};
use super::sort::{sort_events, sort_keys, sort_principals};
use super::sort_key::SortKey;
use super::{App, Filter, Pane};
use crate::aggregate::{
    RateSpan, RecentCounts, Window, WindowCounts, denied_ips_in, series_many_both,
};
use crate::event::KeyRef;
use crate::inventory::KeyFacts;
use crate::store::{Dim, NONE, OTHER};

/// Sparklines are computed for rows this close to the top or selection.
const SPARK_ROWS: usize = 120;
/// Selections within one such page of rows share their sparklines (each
/// selection's are built for rows within `SPARK_ROWS / 2` of it).
pub(super) const SPARK_PAGE: usize = SPARK_ROWS / 4;

/// Calls per minute over 1, 5 and 15 minutes of an id.
pub(super) fn rates(r: Option<&RecentCounts>, span: &RateSpan) -> [f64; 3] {
    r.map_or([0.0; 3], |r| {
        let c = r.call_rates(span);
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

pub(super) fn principal_rows(
    app: &App,
    tally: &WindowCounts,
    p_by: &[RecentCounts],
    ranks: &NameRanks,
    span: &RateSpan,
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
            rates: rates(p_by.get(id as usize), span),
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

pub(super) fn key_rows(
    app: &App,
    tally: &WindowCounts,
    k_by: &[RecentCounts],
    span: &RateSpan,
) -> (Vec<KeyRow>, usize) {
    let store = &app.data.store;
    let mut keys: Vec<KeyRow> = Vec::new();
    for (id, acc) in tally.keys.iter().enumerate() {
        let id = id as u32;
        if acc.calls == 0 || id == NONE || store.entity(Dim::Key, id).is_none() {
            continue;
        }
        let arn = store.name(Dim::Key, id);
        let r = rates(k_by.get(id as usize), span);
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
/// selection (`(principals, keys)` selected rows), from one scan of the
/// last hour.
pub(super) fn add_sparks(
    app: &App,
    principals: &mut [PrincipalRow],
    keys: &mut [KeyRow],
    (p_selected, k_selected): (usize, usize),
    t: DateTime<Utc>,
) {
    let store = &app.data.store;
    let p_ids = spark_ids(principals, p_selected, |r| r.id);
    let k_ids: Vec<(usize, u32)> = spark_ids(keys, k_selected, |r| {
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
pub(super) fn event_refs(app: &App, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<EventRef> {
    let pane = &app.panes[Pane::Events.index()];
    if pane.filter.is_none() && pane.sort.key(Pane::Events) == SortKey::Time {
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
    // A selector reads four fields of the held event: test it before
    // building a row, or one key's calls among 300 k cost a row each.
    let selector = filter.and_then(|f| f.selector.as_ref());
    app.data
        .log
        .newest_first(from, until)
        .take(MAX_EVENT_SCAN)
        .filter(|e| {
            selector.is_none_or(|s| {
                let named = if s.reads_resource() {
                    crate::aggregate::resources::resource_of_event(&e.event)
                } else {
                    None
                };
                s.matches_caller(&crate::who::Caller {
                    principal: e.event.principal(),
                    access_key_id: e.event.access_key_id(),
                    session_name: e.event.session_name(),
                    source_ip: e.event.source_ip(),
                    resource: named.as_ref().map(|r| (r.service, r.name.as_ref())),
                })
            })
        })
        .filter(|e| keep(e))
        .map(EventRow::from_entry)
        .filter(|r| filter.is_none_or(|f| r.matches(f)))
        .take(MAX_EVENT_ROWS)
        .collect()
}

pub(super) fn denied_rows(
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
    let span = RateSpan::of(store, t);
    let recent_rate = |r: Option<&RecentCounts>| {
        r.map_or(0.0, |r| {
            let d = r.denied_rates(&span);
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
                folded: id as u32 == OTHER,
            });
        }
    }
    for (id, acc) in tally.keys.iter().enumerate() {
        if acc.denied > 0 && id as u32 != NONE {
            let arn = store.shared_name(Dim::Key, id as u32);
            let facts = app.data.inventory.get(&arn);
            // The region tells a multi-Region key's rows apart.
            let region = facts
                .and_then(|f| f.region.as_deref())
                .or_else(|| arn.split(':').nth(3).filter(|r| !r.is_empty()));
            let label = match region {
                Some(region) => format!("{} ({region})", key_label(&arn, facts)),
                None => key_label(&arn, facts),
            };
            rows.push(DeniedRow {
                kind: DeniedKind::Key,
                label: label.into(),
                name: arn,
                rank: None,
                count: acc.denied,
                factor: factor(acc.denied, recent_rate(k_by.get(id))),
                folded: id as u32 == OTHER,
            });
        }
    }
    // Denied calls per source IP, in the window and lately.
    let current = store.bucket_index(t);
    let buckets = if recent_minutes == 5 {
        Window::M5
    } else {
        Window::M1
    }
    .buckets(store.bucket_seconds());
    let recent = denied_ips_in(store, current - buckets + 1, current);
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
                folded: id as u32 == OTHER,
            });
        }
    }
    rows
}
