//! `--format table`: the report for a person, fitted to the terminal.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};

use super::{PrincipalRow, Report, Section};
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

fn cell(s: &str) -> String {
    for_terminal(s, MAX_CELL)
}

fn short_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
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

fn new_table(width: u16, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(header.to_vec());
    t
}

/// Numbers align right; they and times never wrap, so the text columns
/// (principals, ARNs) get the rest of the width.
fn align_numbers(t: &mut Table, numbers: &[usize], fixed: &[usize]) {
    for &i in numbers {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    for &i in numbers.iter().chain(fixed) {
        if let Some(column) = t.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

fn print_table(out: &mut impl Write, t: &Table) -> io::Result<()> {
    if t.row_count() == 0 {
        writeln!(out, " (none)")
    } else {
        writeln!(out, "{t}")
    }
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
    let show = |s: Section| opts.section.is_none_or(|only| only == s);
    writeln!(
        out,
        "{} KMS events, {} denied, {} errors, from {} to {}",
        report.events,
        report.denied,
        report.errors,
        short_time(report.from),
        short_time(report.to)
    )?;
    let s = &report.skipped;
    writeln!(
        out,
        "read {} files; skipped {} non-KMS records, {} duplicates, {} out of range, {} malformed, \
         {} failed files, {} non-log files, {} digest files",
        report.files_read,
        s.non_kms,
        s.duplicates,
        s.out_of_range,
        s.malformed,
        s.files_failed,
        s.not_log_files,
        s.digest_files
    )?;
    for section in [
        Section::Principals,
        Section::Keys,
        Section::Denied,
        Section::ControlPlane,
    ] {
        if show(section) {
            write_section(report, section, opts, &mut out)?;
        }
    }
    if opts.section == Some(Section::EventNames) {
        write_section(report, Section::EventNames, opts, &mut out)?;
    }
    Ok(())
}

fn write_section(
    report: &Report,
    section: Section,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    match section {
        Section::Principals | Section::Denied => write_principals(report, section, opts, out),
        Section::Keys => write_keys(report, opts, out),
        Section::ControlPlane => write_control_plane(report, opts, out),
        Section::EventNames => write_event_names(report, opts, out),
    }
}

fn write_principals(
    report: &Report,
    section: Section,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    let rows = rows_for(report, section);
    let title = if section == Section::Denied {
        "DENIED ATTEMPTS"
    } else {
        "TOP PRINCIPALS"
    };
    heading(out, title, rows.len().min(opts.top), rows.len())?;
    let mut t = new_table(
        opts.width,
        &[
            "principal",
            "events",
            "decrypt",
            "denied",
            "denied %",
            "keys",
            "first seen",
            "last seen",
        ],
    );
    for p in rows.into_iter().take(opts.top) {
        t.add_row(vec![
            cell(&p.principal),
            p.events.to_string(),
            p.decrypt.to_string(),
            p.denied.to_string(),
            percent(p.denied, p.events),
            p.keys.to_string(),
            short_time(p.first_seen),
            short_time(p.last_seen),
        ]);
    }
    align_numbers(&mut t, &[1, 2, 3, 4, 5], &[6, 7]);
    print_table(out, &t)
}

fn write_keys(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    let keys = &report.keys;
    heading(out, "TOP KEYS", keys.len().min(opts.top), keys.len())?;
    let mut t = new_table(
        opts.width,
        &["key", "account", "region", "events", "denied", "principals"],
    );
    for k in keys.iter().take(opts.top) {
        // arn:partition:kms:region:account:key/id
        let field = |n: usize| cell(k.arn.split(':').nth(n).unwrap_or("-"));
        t.add_row(vec![
            cell(&k.key),
            field(4),
            field(3),
            k.events.to_string(),
            k.denied.to_string(),
            k.principals.to_string(),
        ]);
    }
    align_numbers(&mut t, &[3, 4, 5], &[0, 1, 2]);
    print_table(out, &t)
}

fn write_control_plane(
    report: &Report,
    opts: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
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
    let mut t = new_table(
        opts.width,
        &["time", "event", "principal", "key", "outcome", "error"],
    );
    for c in rows.iter().skip(skip) {
        let key = c.key.as_deref().or(c.alias.as_deref()).unwrap_or("-");
        t.add_row(vec![
            short_time(Some(c.time)),
            cell(&c.event_name),
            cell(&c.principal),
            cell(key),
            c.outcome.to_string(),
            cell(c.error_code.as_deref().unwrap_or("")),
        ]);
    }
    align_numbers(&mut t, &[], &[0, 1, 4]);
    print_table(out, &t)
}

fn write_event_names(report: &Report, opts: TableOptions, out: &mut impl Write) -> io::Result<()> {
    let names = &report.event_names;
    heading(out, "EVENT NAMES", names.len(), names.len())?;
    let mut t = new_table(opts.width, &["event name", "events"]);
    for (name, n) in names {
        t.add_row(vec![cell(name), n.to_string()]);
    }
    align_numbers(&mut t, &[1], &[]);
    print_table(out, &t)
}
