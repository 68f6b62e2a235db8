//! The dashboard on Athena (`--source athena://…`): the panes are counts
//! from one pushed-down aggregate, and a drill-down into a principal or a
//! key asks Athena for its events. Counts go to the store (not to the
//! event log, nor to the alert engine: a count is no event); the events a
//! drill-down brings go to the event log only (their counts are in). The
//! alerts are the report's: its pushed-down query runs beside the
//! aggregate, and its finished alerts become the Alerts pane's episodes
//! (the dashboard's own engine sees no event); a drill-down into an alert
//! asks Athena for its sample events.

use chrono::{DateTime, Utc};

use super::data::Data;
use super::{App, DrillTarget, Mode};
use crate::alert::{Alert, AlertChange, AlertState, Change};
use crate::feed::QueriedEvents;
use crate::store::{CountedEvent, Ingested};

/// A drill-down's query: running, answered, or failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queried {
    /// How many events matched (`None` while it runs).
    pub total: Option<u64>,
    /// How many it returned.
    pub shown: usize,
    pub failed: Option<String>,
}

impl Queried {
    /// What the drill-down says of its events.
    #[must_use]
    pub fn describe(&self) -> String {
        match (&self.failed, self.total) {
            (Some(why), _) => format!("Athena query failed: {why}"),
            (None, None) => "querying Athena…".to_owned(),
            (None, Some(total)) if total > self.shown as u64 => format!(
                "the newest {} of {} events, from Athena",
                thousands(self.shown as u64),
                thousands(total)
            ),
            (None, Some(total)) => format!("all {total} events, from Athena"),
        }
    }
}

/// `1,000`: a count with its thousands marked.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The text the event stream shows while it holds no event.
pub const COUNTS_ONLY: &str = "Athena source: counts only — press Enter on a principal, a key or an alert to query its events";

/// The name of a drill-down's query (`principal:…`, `key:…`,
/// `alert:RULE GROUP`), for the drill-downs Athena can answer.
#[must_use]
pub fn query_target(target: &DrillTarget) -> Option<String> {
    match target {
        DrillTarget::Principal(p) => Some(format!("principal:{p}")),
        DrillTarget::Key(k) => Some(format!("key:{k}")),
        DrillTarget::Alert { rule, group, .. } => Some(format!("alert:{rule} {group}")),
        DrillTarget::SourceIp(_) | DrillTarget::Resource { .. } => None,
    }
}

impl App {
    /// On Athena, the open drill-down's query to run: `None` when the
    /// source is not Athena, the drill-down is not one Athena answers, or
    /// it was asked already. Marks it asked.
    pub fn athena_drill(&mut self) -> Option<DrillTarget> {
        if !matches!(self.mode, Mode::Athena(_)) {
            return None;
        }
        let target = self.drills.last()?.target.clone();
        let name = query_target(&target)?;
        if self.data.queried.contains_key(&name) {
            return None;
        }
        self.data.queried.insert(name, Queried::default());
        self.data.generation += 1;
        Some(target)
    }
}

impl Data {
    /// Counts the aggregate's rows: the store as for the events they
    /// count, the dashboard's range and totals too.
    pub fn ingest_counted(&mut self, rows: &[CountedEvent]) {
        for row in rows {
            let now = self.last.map_or(row.time, |l| l.max(row.time));
            if self.store.ingest_counted(row, now) != Ingested::Added {
                self.refused += u64::from(row.n);
                continue;
            }
            self.first = Some(self.first.map_or(row.time, |f| f.min(row.time)));
            self.last = Some(now);
            self.events_seen += u64::from(row.n);
        }
        self.generation += 1;
    }

    /// A drill-down's events: into the event log (not the store: their
    /// counts are in already), each event once however many drill-downs
    /// brought it.
    pub fn add_queried(&mut self, q: QueriedEvents) {
        let mut fresh = Vec::new();
        let shown = q.events.len();
        for event in q.events {
            let identity = {
                let view = event.view();
                (view.event_id.to_string(), view.time)
            };
            if self.queried_events.insert(identity) {
                fresh.push((event, None));
            }
        }
        self.log.push_all(fresh);
        self.queried.insert(
            q.target,
            Queried {
                total: q.failed.is_none().then_some(q.total),
                shown,
                failed: q.failed,
            },
        );
        self.generation += 1;
    }

    /// The report's alerts, as its Athena query finished them: each an
    /// episode of the Alerts pane, firing or resolved (at its last event:
    /// the report keeps no resolution time).
    pub fn add_athena_alerts(&mut self, alerts: &[Alert]) {
        let mut changes = Vec::with_capacity(alerts.len() * 2);
        for alert in alerts {
            changes.push(AlertChange {
                change: Change::Fired,
                alert: alert.clone(),
            });
            if alert.state == AlertState::Resolved {
                changes.push(AlertChange {
                    change: Change::Resolved,
                    alert: alert.clone(),
                });
            }
        }
        self.episodes.record(&changes, None);
        // The engine holds no alert on Athena: this only ranks them.
        self.episodes.sync(&self.engine);
        self.generation += 1;
    }

    /// The window asked of Athena, once known.
    #[must_use]
    pub fn athena_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let a = self.athena.as_ref()?;
        Some((a.since?, a.until?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_with_thousands_marked() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        let q = Queried {
            total: Some(4_321),
            shown: 1_000,
            failed: None,
        };
        assert_eq!(
            q.describe(),
            "the newest 1,000 of 4,321 events, from Athena"
        );
    }
}
