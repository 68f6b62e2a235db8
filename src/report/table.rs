//! `--format table`: the report for a person, fitted to the terminal.
//!
//! Columns holding data from events (principals, keys, names) wrap; the
//! numbers and times kmstop writes itself never do. When the terminal is
//! too narrow for every column, the least useful ones are left out rather
//! than squeezing the text columns to nothing.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};
use unicode_width::UnicodeWidthStr;

use super::{PrincipalRow, Report, Section};
use crate::alert::AlertState;
use crate::text::for_terminal;

/// How much to show, and in how many columns.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub width: u16,
    /// Rows per section.
    pub top: usize,
    /// Only this section, or all of them.
    pub section: Option<Section>,
}

/// Longest text a cell shows; JSON keeps the whole string.
const MAX_CELL: usize = 100;
/// The narrowest a wrapping column is allowed to get, padding included.
const MIN_WRAP: usize = 16;
/// Cell padding of the table style (one space each side).
const PADDING: usize = 2;

pub(super) fn cell(s: &str) -> String {
    for_terminal(s, MAX_CELL)
}

fn short_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Fit {
    /// Event data: wraps to share the width.
    Wrap,
    /// kmstop's own numbers, right-aligned, never wrapped.
    Number,
    /// kmstop's own short text (times, outcomes), never wrapped.
    Fixed,
}

pub(super) struct Column {
    header: &'static str,
    fit: Fit,
    /// 0: always shown; otherwise dropped first when the width is short,
    /// highest number first.
    drop_order: u8,
}

pub(super) const fn col(header: &'static str, fit: Fit, drop_order: u8) -> Column {
    Column {
        header,
        fit,
        drop_order,
    }
}

/// Renders `rows` under `columns`, leaving out optional columns until the
/// rest fits in `width`.
pub(super) fn render(
    out: &mut impl Write,
    width: u16,
    columns: &[Column],
    rows: &[Vec<String>],
) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, " (none)");
    }
    let natural = |i: usize| {
        rows.iter()
            .map(|r| r[i].width())
            .chain([columns[i].header.width()])
            .max()
            .unwrap_or(0)
            + PADDING
    };
    let needed = |keep: &[usize]| -> usize {
        keep.iter()
            .map(|&i| match columns[i].fit {
                Fit::Wrap => natural(i).min(MIN_WRAP),
                Fit::Number | Fit::Fixed => natural(i),
            })
            .sum()
    };
    let mut keep: Vec<usize> = (0..columns.len()).collect();
    while needed(&keep) > usize::from(width) {
        let Some(pos) = keep
            .iter()
            .enumerate()
            .filter(|(_, i)| columns[**i].drop_order > 0)
            .max_by_key(|(_, i)| columns[**i].drop_order)
            .map(|(pos, _)| pos)
        else {
            break;
        };
        keep.remove(pos);
    }
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(keep.iter().map(|&i| columns[i].header).collect::<Vec<_>>());
    for row in rows {
        t.add_row(keep.iter().map(|&i| row[i].clone()).collect::<Vec<_>>());
    }
    for (pos, &i) in keep.iter().enumerate() {
        let Some(column) = t.column_mut(pos) else {
            continue;
        };
        match columns[i].fit {
            Fit::Wrap => {}
            Fit::Number => {
                column.set_cell_alignment(CellAlignment::Right);
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
            Fit::Fixed => {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
    }
    writeln!(out, "{t}")
}

/// The principal rows of a section: all of them, or the refused ones with
/// the most refused first.
pub(super) fn rows_for(report: &Report, section: Section) -> Vec<&PrincipalRow> {
    let mut rows: Vec<&PrincipalRow> = report.principals.iter().collect();
    if section == Section::Denied {
        rows.retain(|p| p.denied > 0);
        rows.sort_by(|a, b| {
            b.denied
                .cmp(&a.denied)
                .then_with(|| a.principal.cmp(&b.principal))
        });
    }
    rows
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let share = part as f64 * 100.0 / whole as f64;
    format!("{share:.1}%")
}

fn heading(out: &mut impl Write, title: &str, shown: usize, total: usize) -> io::Result<()> {
    if shown < total {
        writeln!(out, "\n{title} (top {shown} of {total})")
    } else {
        writeln!(out, "\n{title} ({total})")
    }
}

/// Writes the report as text tables.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_table(report: &Report, opts: TableOptions, mut out: impl Write) -> io::Result<()> {
    let s = &report.skipped;
    let summary = if s.not_known.is_empty() {
        local_summary(report)
    } else {
        pushed_down_summary(report)
    };
    writeln!(out, "{}", textwrap::fill(&summary, usize::from(opts.width)))?;
    if let Some(who) = &report.who {
        let line = format!(
            "ONLY the calls of {}: {} other KMS event(s) in range left out of every count below.",
            cell(&who.selectors.join(" or ")),
            who.other_events
        );
        writeln!(out, "{}", textwrap::fill(&line, usize::from(opts.width)))?;
    }
    let calls = report.who.as_ref().map(|_| Section::Calls);
    let sections = match opts.section {
        Some(only) => vec![only],
        None => [Section::Alerts]
            .into_iter()
            .chain(calls)
            .chain([
                Section::Principals,
                Section::Keys,
                Section::Denied,
                Section::Resources,
                Section::ControlPlane,
            ])
            .collect(),
    };
    sections.into_iter().try_for_each(|section| match section {
        Section::Principals | Section::Denied => write_principals(report, section, opts, &mut out),
        Section::Keys => write_keys(report, opts, &mut out),
        Section::ControlPlane => write_control_plane(report, opts, &mut out),
        Section::EventNames => write_event_names(report, opts, &mut out),
        Section::Alerts => write_alerts(report, opts, &mut out),
        Section::Calls => write_calls(report, opts, &mut out),
        Section::Resources => write_resources(report, opts, &mut out),
        Section::Quota => super::usage_out::write_quota_table(report, opts, &mut out),
        Section::Cost => super::usage_out::write_cost_table(report, opts, &mut out),
    })
}

/// A report pushed down to a query engine counts no files and cannot see
/// what its reader dropped: say so rather than print zeros.
fn pushed_down_summary(report: &Report) -> String {
    let s = &report.skipped;
    format!(
        "{} KMS events, {} denied, {} errors, from {} to {}, counted by the query engine. Skipped {} \
         duplicates, {} out of range, {} with an impossible time, {} malformed. Not known to this \
         source: files, non-KMS records, records its reader could not read, and which of two \
         disagreeing copies came first (skipped.not_known).{}",
        report.events,
        report.denied,
        report.errors,
        short_time(report.from),
        short_time(report.to),
        s.duplicates,
        s.out_of_range,
        s.implausible_time,
        s.malformed,
        incomplete(s),
    )
}

fn local_summary(report: &Report) -> String {
    let s = &report.skipped;
    format!(
        "{} KMS events, {} denied, {} errors, from {} to {}. Read {} files; skipped {} non-KMS \
         records, {} duplicates, {} conflicting copies, {} out of range, {} with an impossible time, {} malformed, {} \
         failed files, {} non-log files, {} digest files.{}",
        report.events,
        report.denied,
        report.errors,
        short_time(report.from),
        short_time(report.to),
        report.files_read,
        s.non_kms,
        s.duplicates,
        s.conflicting_copies,
        s.out_of_range,
        s.implausible_time,
        s.malformed,
        s.files_failed,
        s.not_log_files,
        s.digest_files,
        incomplete(s),
    )
}

fn write_principals(
    report: &Report,
    section: Section,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    const COLUMNS: [Column; 8] = [
        col("principal", Fit::Wrap, 0),
        col("events", Fit::Number, 0),
        col("decrypt", Fit::Number, 0),
        col("denied", Fit::Number, 0),
        col("denied %", Fit::Number, 2),
        col("keys", Fit::Number, 0),
        col("first seen", Fit::Fixed, 3),
        col("last seen", Fit::Fixed, 1),
    ];
    let rows = rows_for(report, section);
    let title = if section == Section::Denied {
        "DENIED ATTEMPTS"
    } else {
        "TOP PRINCIPALS"
    };
    heading(out, title, rows.len().min(opts.top), rows.len())?;
    let cells: Vec<Vec<String>> = rows
        .into_iter()
        .take(opts.top)
        .map(|p| {
            vec![
                cell(&p.principal),
                p.events.to_string(),
                p.decrypt.to_string(),
                p.denied.to_string(),
                percent(p.denied, p.events),
                p.keys.to_string(),
                short_time(p.first_seen),
                short_time(p.last_seen),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

fn write_keys(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    const COLUMNS: [Column; 6] = [
        col("key", Fit::Wrap, 0),
        col("account", Fit::Wrap, 2),
        col("region", Fit::Wrap, 1),
        col("events", Fit::Number, 0),
        col("denied", Fit::Number, 0),
        col("principals", Fit::Number, 0),
    ];
    let keys = &report.keys;
    heading(out, "TOP KEYS", keys.len().min(opts.top), keys.len())?;
    let cells: Vec<Vec<String>> = keys
        .iter()
        .take(opts.top)
        .map(|k| {
            // arn:partition:kms:region:account:key/id
            let field = |n: usize| cell(k.arn.split(':').nth(n).unwrap_or("-"));
            vec![
                cell(&k.key),
                field(4),
                field(3),
                k.events.to_string(),
                k.denied.to_string(),
                k.principals.to_string(),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

fn write_control_plane(
    report: &Report,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    const COLUMNS: [Column; 6] = [
        col("time", Fit::Fixed, 0),
        col("event", Fit::Wrap, 0),
        col("principal", Fit::Wrap, 0),
        col("key", Fit::Wrap, 0),
        col("outcome", Fit::Fixed, 0),
        col("error", Fit::Wrap, 1),
    ];
    let rows = &report.control_plane;
    // The newest changes matter most when the list is cut.
    let skip = rows.len().saturating_sub(opts.top);
    if skip > 0 {
        writeln!(
            out,
            "\nCONTROL-PLANE CHANGES (latest {} of {}, oldest first)",
            opts.top,
            rows.len()
        )?;
    } else {
        writeln!(out, "\nCONTROL-PLANE CHANGES ({})", rows.len())?;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .skip(skip)
        .map(|c| {
            let key = c.key.as_deref().or(c.alias.as_deref()).unwrap_or("-");
            vec![
                short_time(Some(c.time)),
                cell(&c.event_name),
                cell(&c.principal),
                cell(key),
                c.outcome.to_string(),
                cell(c.error_code.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

fn write_event_names(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    const COLUMNS: [Column; 2] = [
        col("event name", Fit::Wrap, 0),
        col("events", Fit::Number, 0),
    ];
    let names = &report.event_names;
    heading(out, "EVENT NAMES", names.len(), names.len())?;
    let cells: Vec<Vec<String>> = names
        .iter()
        .map(|(name, n)| vec![cell(name), n.to_string()])
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

fn write_alerts(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    const COLUMNS: [Column; 7] = [
        col("severity", Fit::Fixed, 0),
        col("state", Fit::Fixed, 0),
        col("rule", Fit::Fixed, 0),
        col("group", Fit::Wrap, 0),
        col("count", Fit::Number, 0),
        col("first", Fit::Fixed, 2),
        col("last", Fit::Fixed, 1),
    ];
    // Rule ids are words people search for: give them their width before
    // the group, which wraps.
    let alerts = &report.alerts;
    let firing = alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    writeln!(
        out,
        "\nALERTS ({} firing, {} resolved{})",
        firing,
        alerts.len() - firing,
        if alerts.len() > opts.top {
            format!(", top {}", opts.top)
        } else {
            String::new()
        }
    )?;
    let cells: Vec<Vec<String>> = alerts
        .iter()
        .take(opts.top)
        .map(|a| {
            vec![
                a.severity.to_string(),
                match a.state {
                    AlertState::Firing => "FIRING".to_owned(),
                    AlertState::Resolved => "resolved".to_owned(),
                },
                cell(&a.rule),
                cell(&a.group),
                a.count.to_string(),
                short_time(Some(a.first)),
                short_time(Some(a.last)),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

/// The selected calls in time order, the earliest `top` when cut.
fn write_calls(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    const COLUMNS: [Column; 9] = [
        col("time", Fit::Fixed, 0),
        col("event", Fit::Wrap, 0),
        col("outcome", Fit::Fixed, 0),
        col("key", Fit::Wrap, 0),
        col("key account", Fit::Wrap, 3),
        col("region", Fit::Wrap, 2),
        col("source", Fit::Wrap, 1),
        col("principal", Fit::Wrap, 4),
        col("event id", Fit::Wrap, 5),
    ];
    let Some(who) = &report.who else {
        return writeln!(
            out,
            "\nCALLS: no selection (use --who or --access-key to list one credential's calls)"
        );
    };
    let total = who.calls.len() as u64 + who.calls_not_listed;
    let shown = who.calls.len().min(opts.top);
    if (shown as u64) < total {
        writeln!(
            out,
            "\nCALLS (first {shown} of {total}, in time order; --top N or --format csv --section calls for more)"
        )?;
    } else {
        writeln!(out, "\nCALLS ({total}, in time order)")?;
    }
    let cells: Vec<Vec<String>> = who
        .calls
        .iter()
        .take(opts.top)
        .map(|c| {
            let outcome = match &c.error_code {
                Some(code) => format!("{} {}", c.outcome, cell(code)),
                None => c.outcome.to_string(),
            };
            let opt = |t: &Option<String>| cell(t.as_deref().unwrap_or("-"));
            vec![
                short_time(Some(c.time)),
                cell(&c.event_name),
                outcome,
                opt(&c.key),
                opt(&c.key_account),
                opt(&c.region),
                opt(&c.source_ip),
                cell(&c.principal),
                cell(&c.event_id),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)
}

/// Who decrypted what: data calls by the resource their context names.
fn write_resources(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    const COLUMNS: [Column; 8] = [
        col("service", Fit::Fixed, 0),
        col("resource", Fit::Wrap, 0),
        col("calls", Fit::Number, 0),
        col("denied", Fit::Number, 0),
        col("principals", Fit::Number, 0),
        col("keys", Fit::Number, 2),
        col("last seen", Fit::Fixed, 1),
        col("top callers", Fit::Wrap, 0),
    ];
    let rows = &report.resources;
    heading(
        out,
        "RESOURCES (who decrypted what)",
        rows.len().min(opts.top),
        rows.len(),
    )?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .take(opts.top)
        .map(|r| {
            let name = if r.bucket_key {
                format!("{} (bucket key)", cell(&r.resource))
            } else {
                cell(&r.resource)
            };
            vec![
                cell(&r.service),
                name,
                r.calls.to_string(),
                r.denied.to_string(),
                r.principals.to_string(),
                r.keys.to_string(),
                short_time(r.last_seen),
                cell(&r.callers_text()),
            ]
        })
        .collect();
    render(out, opts.width, &COLUMNS, &cells)?;
    if report.resources_other > 0 {
        writeln!(
            out,
            " {} call(s) on other resources are not listed: past 10,000 the list holds the busiest of a sample of 40,000 resources chosen by a hash of their names (the same for any read order)",
            report.resources_other
        )?;
    }
    Ok(())
}

/// What the report leaves out for a failure: never silent.
fn incomplete(s: &crate::report::Skipped) -> String {
    let regions = (s.regions_failed > 0).then(|| {
        format!(
            " INCOMPLETE: {} region(s) failed: their events from the time named on stderr on are left out.",
            s.regions_failed
        )
    });
    let prefixes = (s.prefixes_failed > 0).then(|| {
        format!(
            " INCOMPLETE: {} S3 bucket(s), folder(s) or log group(s) could not be read and are left out (named on stderr).",
            s.prefixes_failed
        )
    });
    regions.into_iter().chain(prefixes).collect()
}
