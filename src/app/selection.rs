//! The selection follows its row. Rows re-sort as data arrives (a busier
//! principal moves up), so a selection kept as a bare index would land on
//! another row under the cursor, and Enter would open that one. Before the
//! rows are rebuilt each list remembers which row it is on; after, it is
//! on that row again, wherever the row went. A list reset to a position
//! (a new filter) takes the position instead. A list on its first row stays
//! on the first row, as `top` does: it shows whatever is on top now (the
//! busiest principal, the loudest firing alert, the newest event) instead of
//! holding on to the row that was on top when it was opened — an untouched
//! pane scrolled away from its own top would hide a new incident.

use chrono::{DateTime, Utc};

use super::log::EventKey;
use super::query::{DeniedKind, Snapshot};
use super::{App, DrillTarget, MAX_SECTIONS, Pane, Section};

/// What a row is, whatever its place.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RowId {
    /// A principal's name or a key's ARN.
    Name(String),
    Denied(DeniedKind, String),
    Alert {
        rule: String,
        group: String,
        first: DateTime<Utc>,
    },
    Event(EventKey),
    Context(String, String),
    Resource(&'static str, String),
    /// A quota row: account, region, family.
    Quota(String, String, &'static str),
}

/// The rows the lists were on before a rebuild.
pub(super) struct Remembered {
    panes: [Option<RowId>; Pane::ALL.len()],
    /// The top drill-down's sections, when the snapshot is of it.
    drill: [Option<RowId>; MAX_SECTIONS],
}

fn pane_row(s: &Snapshot, pane: Pane, i: usize) -> Option<RowId> {
    match pane {
        Pane::Principals => s.principals.get(i).map(|r| RowId::Name(r.name.to_string())),
        Pane::Keys => s.keys.get(i).map(|r| RowId::Name(r.arn.clone())),
        Pane::Denied => s
            .denied_rows
            .get(i)
            .map(|r| RowId::Denied(r.kind, r.name.to_string())),
        Pane::Alerts => s.alerts.get(i).map(|a| RowId::Alert {
            rule: a.episode.rule.clone(),
            group: a.episode.group.clone(),
            first: a.episode.first,
        }),
        Pane::Events => s.events.get(i).map(|e| RowId::Event(e.key)),
        Pane::Resources => s
            .resources
            .rows
            .get(i)
            .map(|r| RowId::Resource(r.service, r.name.to_string())),
        Pane::Usage => s
            .usage
            .row(i)
            .map(|(r, _)| RowId::Quota(r.account.clone(), r.region.clone(), r.family)),
    }
}

fn pane_find(s: &Snapshot, pane: Pane, id: &RowId) -> Option<usize> {
    match (pane, id) {
        (Pane::Principals, RowId::Name(n)) => s.principals.iter().position(|r| &*r.name == n),
        (Pane::Keys, RowId::Name(n)) => s.keys.iter().position(|r| &r.arn == n),
        (Pane::Denied, RowId::Denied(kind, n)) => s
            .denied_rows
            .iter()
            .position(|r| r.kind == *kind && &*r.name == n),
        (Pane::Alerts, RowId::Alert { rule, group, first }) => s.alerts.iter().position(|a| {
            let e = &a.episode;
            e.first == *first && &e.rule == rule && &e.group == group
        }),
        (Pane::Events, RowId::Event(k)) => s.events.iter().position(|e| e.key == *k),
        (Pane::Resources, RowId::Resource(service, name)) => s
            .resources
            .rows
            .iter()
            .position(|r| r.service == *service && &*r.name == name),
        (Pane::Usage, RowId::Quota(account, region, family)) => (0..s.usage.quota_rows.len())
            .position(|i| {
                s.usage.row(i).is_some_and(|(r, _)| {
                    &r.account == account && &r.region == region && r.family == *family
                })
            }),
        _ => None,
    }
}

fn drill_row(s: &Snapshot, section: Section, i: usize) -> Option<RowId> {
    let v = s.drill.as_ref()?;
    match section {
        Section::Keys => v.keys.get(i).map(|r| RowId::Name(r.arn.clone())),
        Section::Principals => v.principals.get(i).map(|r| RowId::Name(r.name.to_string())),
        Section::Contexts => v
            .contexts
            .get(i)
            .map(|c| RowId::Context(c.key.clone(), c.value.clone())),
        Section::Events => v.events.get(i).map(|e| RowId::Event(e.key)),
        Section::Callers => v.callers.get(i).map(|r| RowId::Name(r.name.clone())),
        Section::Resources => v
            .resources
            .get(i)
            .map(|r| RowId::Resource(r.service, r.name.to_string())),
    }
}

fn drill_find(s: &Snapshot, section: Section, id: &RowId) -> Option<usize> {
    let v = s.drill.as_ref()?;
    match (section, id) {
        (Section::Keys, RowId::Name(n)) => v.keys.iter().position(|r| &r.arn == n),
        (Section::Principals, RowId::Name(n)) => v.principals.iter().position(|r| &*r.name == n),
        (Section::Contexts, RowId::Context(k, val)) => v
            .contexts
            .iter()
            .position(|c| &c.key == k && &c.value == val),
        (Section::Events, RowId::Event(key)) => v.events.iter().position(|e| e.key == *key),
        (Section::Callers, RowId::Name(n)) => v.callers.iter().position(|r| &r.name == n),
        (Section::Resources, RowId::Resource(service, name)) => v
            .resources
            .iter()
            .position(|r| r.service == *service && &*r.name == name),
        _ => None,
    }
}

/// The top drill-down, and whether the snapshot's drill view is of it.
fn top_drill(app: &App) -> Option<(&DrillTarget, &'static [Section])> {
    let d = app.drills.last()?;
    (app.snapshot.drill_of.as_ref() == Some(&(app.drills.len(), d.target.clone())))
        .then(|| (&d.target, d.target.sections()))
}

/// Which row each list is on now.
pub(super) fn remember(app: &App) -> Remembered {
    let s = &app.snapshot;
    let panes = Pane::ALL.map(|p| {
        let list = &app.panes[p.index()].list;
        if list.reset || list.selected == 0 {
            None
        } else {
            pane_row(s, p, list.selected)
        }
    });
    let mut drill: [Option<RowId>; MAX_SECTIONS] = Default::default();
    if let (Some((_, sections)), Some(d)) = (top_drill(app), app.drills.last()) {
        for (i, section) in sections.iter().enumerate().take(MAX_SECTIONS) {
            let list = &d.lists[i];
            if !list.reset && list.selected != 0 {
                drill[i] = drill_row(s, *section, list.selected);
            }
        }
    }
    Remembered { panes, drill }
}

/// Puts each list back on the row it remembered, in the new rows; a row
/// that is gone leaves the list where it was.
pub(super) fn follow(app: &mut App, remembered: &Remembered) {
    for p in Pane::ALL {
        let found = remembered.panes[p.index()]
            .as_ref()
            .and_then(|id| pane_find(&app.snapshot, p, id));
        let list = &mut app.panes[p.index()].list;
        if let Some(i) = found {
            list.selected = i;
        }
        list.reset = false;
    }
    let Some(d) = app.drills.last() else {
        return;
    };
    let sections = d.target.sections();
    let found: Vec<Option<usize>> = sections
        .iter()
        .enumerate()
        .take(MAX_SECTIONS)
        .map(|(i, section)| {
            remembered.drill[i]
                .as_ref()
                .and_then(|id| drill_find(&app.snapshot, *section, id))
        })
        .collect();
    if let Some(d) = app.drills.last_mut() {
        for (i, list) in d.lists.iter_mut().enumerate() {
            if let Some(Some(at)) = found.get(i) {
                list.selected = *at;
            }
            list.reset = false;
        }
    }
}
