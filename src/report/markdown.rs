//! `--format md`: the report as Markdown, to paste into a ticket for
//! people without the tool. Every text from an event is escaped for
//! Markdown (no link, no HTML, no emphasis, no mention can come from data)
//! and for the reader's eye (control and bidirectional characters shown
//! as escapes); numbers and times are kmstop's own.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::blocks::{Block, CellKind, blocks, summary, time};
use super::{Report, TimeRange};
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

fn table(out: &mut String, block: &Block) {
    let _ = writeln!(out, "| {} |", block.headers.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        block.headers.iter().map(|_| "---|").collect::<String>()
    );
    for row in &block.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c.kind {
                CellKind::Data => escape_markdown(&c.text),
                CellKind::Own => c.text.clone(),
                CellKind::Loud => format!("**{}**", c.text),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// Writes the whole report as Markdown: a summary, the timeline
/// ([`super::md_timeline`]), then alerts (with their evidence event ids),
/// denied callers, principals, keys and key changes, each cut to `top`
/// rows with the cut said.
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
    let summary = summary(report, range);
    for line in summary.asked.iter().chain([&summary.set_aside]) {
        let _ = writeln!(md, "{line}");
    }
    if let Some(incomplete) = &summary.incomplete {
        let _ = writeln!(md, "\n**Incomplete:** {incomplete}");
    }
    if let Some(not_known) = &summary.not_known {
        let _ = writeln!(md, "\n{}", escape_markdown(not_known));
    }
    if let Some(who) = &summary.who {
        let _ = writeln!(md, "\n**Selection:** {}", escape_markdown(who));
    }
    md.push('\n');
    super::md_timeline::write_timeline(&mut md, report);
    for block in blocks(report, top) {
        let _ = writeln!(md, "## {}\n", block.heading());
        match block.empty {
            Some(empty) if block.rows.is_empty() => {
                let _ = writeln!(md, "{empty}\n");
            }
            _ => table(&mut md, &block),
        }
    }
    for note in super::usage_out::notes(report) {
        let _ = writeln!(md, "{}\n", escape_markdown(&note));
    }
    out.write_all(md.as_bytes())
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
