//! The sections of a report handed over to people (`--format md`,
//! `--format html`): which rows, in which order, cut where — decided once
//! here; each format only escapes and lays them out.

use chrono::{DateTime, Utc};

use super::{Report, TimeRange};
use crate::alert::AlertState;

/// How a cell is to be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Text from an event or a rule file: escape it for the format.
    Data,
    /// kmstop's own words, numbers and times.
    Own,
    /// kmstop's own word, to stand out (a firing alert).
    Loud,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub kind: CellKind,
}

pub(super) fn data(text: &str) -> Cell {
    Cell {
        text: text.to_owned(),
        kind: CellKind::Data,
    }
}

pub(super) fn own(text: &dyn std::fmt::Display) -> Cell {
    Cell {
        text: text.to_string(),
        kind: CellKind::Own,
    }
}

/// A time as the handed-over formats write it.
#[must_use]
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The sentences under a report's title, in kmstop's own words (no text
/// from an event): what was asked, set aside, missing, or not knowable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub asked: Option<String>,
    pub set_aside: String,
    /// Said loudly: the report lacks what could not be read.
    pub incomplete: Option<String>,
    pub not_known: Option<String>,
    /// `--who`: whose calls alone are counted, and how many others were
    /// left out. Holds the user's selector: escape it.
    pub who: Option<String>,
}

#[must_use]
pub fn summary(report: &Report, range: TimeRange) -> Summary {
    let s = &report.skipped;
    Summary {
        asked: (range.since.is_some() || range.until.is_some())
            .then(|| format!("Asked for: {} to {}.", time(range.since), time(range.until))),
        set_aside: format!(
            "Set aside: {} duplicates, {} conflicting copies, {} out of range, {} with an impossible time, {} malformed.",
            s.duplicates, s.conflicting_copies, s.out_of_range, s.implausible_time, s.malformed
        ),
        incomplete: (s.files_failed + s.regions_failed + s.prefixes_failed > 0).then(|| {
            format!(
                "{} file(s), {} region(s) and {} bucket folder(s) or log group(s) could not be read; their events are not in this report.",
                s.files_failed, s.regions_failed, s.prefixes_failed
            )
        }),
        not_known: (!s.not_known.is_empty())
            .then(|| format!("Not known to this source: {}.", s.not_known.join(", "))),
        who: report.who.as_ref().map(|w| {
            format!(
                "Only the calls of {}: {} other KMS event(s) in range are left out of every count.",
                w.selectors.join(" or "),
                w.other_events
            )
        }),
    }
}

/// One section: a title, its table (cut to `shown` of `total` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub title: &'static str,
    pub shown: usize,
    pub total: usize,
    pub headers: &'static [&'static str],
    /// How a cut table was chosen: "top" (busiest) or "first" (earliest).
    pub cut: &'static str,
    pub rows: Vec<Vec<Cell>>,
    /// What to say instead of an empty table, if anything.
    pub empty: Option<&'static str>,
}

impl Block {
    /// "Alerts", or "Alerts (top 20 of 31)" when cut.
    #[must_use]
    pub fn heading(&self) -> String {
        if self.shown < self.total {
            format!(
                "{} ({} {} of {})",
                self.title, self.cut, self.shown, self.total
            )
        } else {
            self.title.to_owned()
        }
    }
}

/// Alerts (with their evidence), denied callers, principals, keys and key
/// changes, each cut to `top` rows.
#[must_use]
pub fn blocks(report: &Report, top: usize) -> Vec<Block> {
    let mut blocks = vec![alerts(report, top)];
    blocks.extend(calls(report, top));
    blocks.extend([
        principals(report, top, true),
        principals(report, top, false),
        keys(report, top),
        resources(report, top),
        control_plane(report, top),
    ]);
    blocks.extend(super::usage_out::blocks(report, top));
    blocks
}

/// Who decrypted what.
fn resources(report: &Report, top: usize) -> Block {
    let rows: Vec<Vec<Cell>> = report
        .resources
        .iter()
        .take(top)
        .map(|r| {
            vec![
                own(&r.service),
                data(&r.resource),
                own(&if r.bucket_key { "bucket key" } else { "" }),
                own(&r.calls),
                own(&r.denied),
                own(&r.principals),
                own(&r.keys),
                own(&time(r.last_seen)),
                data(&r.callers_text()),
            ]
        })
        .collect();
    Block {
        title: "Resources (who decrypted what)",
        shown: rows.len(),
        total: report.resources.len(),
        headers: &[
            "service",
            "resource",
            "note",
            "calls",
            "denied",
            "principals",
            "keys",
            "last seen",
            "top callers",
        ],
        cut: "top",
        rows,
        empty: Some("No call named a resource in its encryption context."),
    }
}

/// `--who`'s calls, earliest first: the credential's timeline.
fn calls(report: &Report, top: usize) -> Option<Block> {
    let who = report.who.as_ref()?;
    let opt = |t: &Option<String>| data(t.as_deref().unwrap_or("–"));
    let rows = who
        .calls
        .iter()
        .take(top)
        .map(|c| {
            vec![
                own(&time(Some(c.time))),
                data(&c.event_name),
                own(&c.outcome.as_str()),
                opt(&c.error_code),
                opt(&c.key_arn),
                opt(&c.region),
                opt(&c.source_ip),
                data(&c.principal),
                data(&c.event_id),
            ]
        })
        .collect::<Vec<_>>();
    let total = who.calls.len() + usize::try_from(who.calls_not_listed).unwrap_or(usize::MAX);
    Some(Block {
        title: "Calls of the selection",
        shown: rows.len(),
        total,
        headers: &[
            "time",
            "call",
            "outcome",
            "error",
            "key",
            "region",
            "source",
            "principal",
            "event id",
        ],
        cut: "first",
        rows,
        empty: Some("No call matched the selection."),
    })
}

fn alerts(report: &Report, top: usize) -> Block {
    let rows = report
        .alerts
        .iter()
        .take(top)
        .map(|a| {
            vec![
                own(&a.severity.as_str()),
                data(&a.rule),
                data(&a.group),
                match a.state {
                    AlertState::Firing => Cell {
                        text: "firing".into(),
                        kind: CellKind::Loud,
                    },
                    AlertState::Resolved => own(&"resolved"),
                },
                own(&a.count),
                own(&time(Some(a.first))),
                own(&time(Some(a.last))),
                data(&a.sample_event_ids.join(", ")),
            ]
        })
        .collect::<Vec<_>>();
    Block {
        title: "Alerts",
        shown: rows.len(),
        total: report.alerts.len(),
        headers: &[
            "severity",
            "rule",
            "group",
            "state",
            "events",
            "first",
            "last",
            "evidence (event ids)",
        ],
        cut: "top",
        rows,
        empty: Some("No alert."),
    }
}

fn principals(report: &Report, top: usize, denied_only: bool) -> Block {
    let mut chosen: Vec<_> = report
        .principals
        .iter()
        .filter(|p| !denied_only || p.denied > 0)
        .collect();
    if denied_only {
        chosen.sort_by(|a, b| {
            b.denied
                .cmp(&a.denied)
                .then_with(|| a.principal.cmp(&b.principal))
        });
    }
    let rows: Vec<Vec<Cell>> = chosen
        .iter()
        .take(top)
        .map(|p| {
            vec![
                data(&p.principal),
                own(&p.events),
                own(&p.decrypt),
                own(&p.denied),
                own(&p.keys),
                own(&time(p.first_seen)),
                own(&time(p.last_seen)),
            ]
        })
        .collect();
    Block {
        title: if denied_only {
            "Denied callers"
        } else {
            "Principals"
        },
        shown: rows.len(),
        total: chosen.len(),
        headers: &[
            "principal",
            "events",
            "decrypt",
            "denied",
            "keys",
            "first seen",
            "last seen",
        ],
        cut: "top",
        rows,
        empty: None,
    }
}

fn keys(report: &Report, top: usize) -> Block {
    let rows: Vec<Vec<Cell>> = report
        .keys
        .iter()
        .take(top)
        .map(|k| {
            vec![
                data(&k.arn),
                own(&k.events),
                own(&k.denied),
                own(&k.principals),
            ]
        })
        .collect();
    Block {
        title: "Keys",
        shown: rows.len(),
        total: report.keys.len(),
        headers: &["key", "events", "denied", "principals"],
        cut: "top",
        rows,
        empty: None,
    }
}

fn control_plane(report: &Report, top: usize) -> Block {
    let all = &report.control_plane;
    // The newest changes matter most when the list is cut.
    let skip = all.len().saturating_sub(top);
    let rows: Vec<Vec<Cell>> = all
        .iter()
        .skip(skip)
        .map(|c| {
            vec![
                own(&time(Some(c.time))),
                data(&c.event_name),
                data(&c.principal),
                data(c.key_arn.as_deref().or(c.alias.as_deref()).unwrap_or("–")),
                own(&c.outcome.as_str()),
                data(c.error_code.as_deref().unwrap_or("")),
                data(&c.event_id),
            ]
        })
        .collect();
    Block {
        title: "Key changes",
        shown: rows.len(),
        total: all.len(),
        headers: &[
            "time",
            "call",
            "principal",
            "key",
            "outcome",
            "error",
            "event id",
        ],
        cut: "top",
        rows,
        empty: None,
    }
}
