//! `--format md`: the report as Markdown, to paste into a ticket for
//! people without the tool. Every text from an event is escaped for
//! Markdown (no link, no HTML, no emphasis, no mention can come from data)
//! and for the reader's eye (control and bidirectional characters shown
//! as escapes); numbers and times are kmstop's own.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::{Report, TimeRange};
use crate::alert::AlertState;
use crate::text::escape_control;

/// A text from an event, safe in a Markdown paragraph or table cell.
#[must_use]
pub fn escape_markdown(text: &str) -> String {
    let visible = escape_control(text);
    let mut out = String::with_capacity(visible.len() + 8);
    for c in visible.chars() {
        // CommonMark lets any ASCII punctuation be escaped with a
        // backslash, and then it is only itself: no emphasis, link, code,
        // HTML, table pipe, heading or list can start from data.
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        headers.iter().map(|_| "---|").collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

/// Writes the whole report as Markdown: a summary, then alerts (with their
/// evidence event ids), denied callers, principals, keys and key changes,
/// each cut to `top` rows with the cut said.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_markdown(
    report: &Report,
    range: TimeRange,
    top: usize,
    mut out: impl Write,
) -> io::Result<()> {
    let mut md = String::new();
    let _ = writeln!(md, "# KMS activity report\n");
    let _ = writeln!(
        md,
        "**{}** KMS events, **{}** denied, **{}** errors, from {} to {}.",
        report.events,
        report.denied,
        report.errors,
        time(report.from),
        time(report.to)
    );
    if range.since.is_some() || range.until.is_some() {
        let _ = writeln!(
            md,
            "Asked for: {} to {}.",
            time(range.since),
            time(range.until)
        );
    }
    let s = &report.skipped;
    let _ = writeln!(
        md,
        "Set aside: {} duplicates, {} conflicting copies, {} out of range, {} with an impossible time, {} malformed.",
        s.duplicates, s.conflicting_copies, s.out_of_range, s.implausible_time, s.malformed
    );
    if s.files_failed + s.regions_failed + s.prefixes_failed > 0 {
        let _ = writeln!(
            md,
            "\n**Incomplete:** {} file(s), {} region(s) and {} bucket folder(s) or log group(s) could not be read; their events are not in this report.",
            s.files_failed, s.regions_failed, s.prefixes_failed
        );
    }
    if !s.not_known.is_empty() {
        let _ = writeln!(
            md,
            "\nNot known to this source: {}.",
            escape_markdown(&s.not_known.join(", "))
        );
    }
    md.push('\n');
    alerts(&mut md, report, top);
    principals(&mut md, report, top, true);
    principals(&mut md, report, top, false);
    keys(&mut md, report, top);
    control_plane(&mut md, report, top);
    out.write_all(md.as_bytes())
}

fn heading(md: &mut String, title: &str, shown: usize, total: usize) {
    if shown < total {
        let _ = writeln!(md, "## {title} (top {shown} of {total})\n");
    } else {
        let _ = writeln!(md, "## {title}\n");
    }
}

fn alerts(md: &mut String, report: &Report, top: usize) {
    heading(
        md,
        "Alerts",
        report.alerts.len().min(top),
        report.alerts.len(),
    );
    if report.alerts.is_empty() {
        md.push_str("No alert.\n\n");
        return;
    }
    let rows: Vec<Vec<String>> = report
        .alerts
        .iter()
        .take(top)
        .map(|a| {
            vec![
                a.severity.as_str().to_owned(),
                escape_markdown(&a.rule),
                escape_markdown(&a.group),
                match a.state {
                    AlertState::Firing => "**firing**".to_owned(),
                    AlertState::Resolved => "resolved".to_owned(),
                },
                a.count.to_string(),
                time(Some(a.first)),
                time(Some(a.last)),
                a.sample_event_ids
                    .iter()
                    .map(|id| escape_markdown(id))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        md,
        &[
            "severity",
            "rule",
            "group",
            "state",
            "events",
            "first",
            "last",
            "evidence (event ids)",
        ],
        &rows,
    );
}

fn principals(md: &mut String, report: &Report, top: usize, denied_only: bool) {
    let rows: Vec<_> = report
        .principals
        .iter()
        .filter(|p| !denied_only || p.denied > 0)
        .collect();
    let title = if denied_only {
        "Denied callers"
    } else {
        "Principals"
    };
    heading(md, title, rows.len().min(top), rows.len());
    let mut ordered = rows;
    if denied_only {
        ordered.sort_by(|a, b| {
            b.denied
                .cmp(&a.denied)
                .then_with(|| a.principal.cmp(&b.principal))
        });
    }
    let cells: Vec<Vec<String>> = ordered
        .iter()
        .take(top)
        .map(|p| {
            vec![
                escape_markdown(&p.principal),
                p.events.to_string(),
                p.decrypt.to_string(),
                p.denied.to_string(),
                p.keys.to_string(),
                time(p.first_seen),
                time(p.last_seen),
            ]
        })
        .collect();
    table(
        md,
        &[
            "principal",
            "events",
            "decrypt",
            "denied",
            "keys",
            "first seen",
            "last seen",
        ],
        &cells,
    );
}

fn keys(md: &mut String, report: &Report, top: usize) {
    heading(md, "Keys", report.keys.len().min(top), report.keys.len());
    let cells: Vec<Vec<String>> = report
        .keys
        .iter()
        .take(top)
        .map(|k| {
            vec![
                escape_markdown(&k.arn),
                k.events.to_string(),
                k.denied.to_string(),
                k.principals.to_string(),
            ]
        })
        .collect();
    table(md, &["key", "events", "denied", "principals"], &cells);
}

fn control_plane(md: &mut String, report: &Report, top: usize) {
    let rows = &report.control_plane;
    heading(md, "Key changes", rows.len().min(top), rows.len());
    // The newest changes matter most when the list is cut.
    let skip = rows.len().saturating_sub(top);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .skip(skip)
        .map(|c| {
            vec![
                time(Some(c.time)),
                escape_markdown(&c.event_name),
                escape_markdown(&c.principal),
                escape_markdown(c.key_arn.as_deref().or(c.alias.as_deref()).unwrap_or("–")),
                c.outcome.as_str().to_owned(),
                escape_markdown(c.error_code.as_deref().unwrap_or("")),
                escape_markdown(&c.event_id),
            ]
        })
        .collect();
    table(
        md,
        &[
            "time",
            "call",
            "principal",
            "key",
            "outcome",
            "error",
            "event id",
        ],
        &cells,
    );
}

#[cfg(test)]
mod tests {
    use super::escape_markdown;

    #[test]
    fn data_cannot_start_markup() {
        assert_eq!(escape_markdown("a|b"), "a\\|b");
        assert_eq!(
            escape_markdown("[x](http://e)"),
            "\\[x\\]\\(http\\:\\/\\/e\\)"
        );
        assert_eq!(escape_markdown("<img src=x>"), "\\<img src\\=x\\>");
        assert_eq!(
            escape_markdown("*a* _b_ `c` #d @e"),
            "\\*a\\* \\_b\\_ \\`c\\` \\#d \\@e"
        );
        assert_eq!(escape_markdown("x\ny\u{1b}[2J"), "x\\\\ny\\\\x1b\\[2J");
        assert_eq!(escape_markdown("role/App"), "role\\/App");
    }
}
