//! `--format html`: the report as one self-contained page to hand over —
//! inline CSS and SVG, no script, and a content security policy that
//! forbids every fetch, so opening it reaches no network. Every text from
//! an event is escaped for HTML and for the reader's eye (control and
//! bidirectional characters shown as escapes).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::blocks::{Block, CellKind, blocks, summary, time};
use super::timeline::{BARS, width_words};
use super::{Report, TimeRange};
use crate::text::escape_control;

/// A text from an event, safe in HTML text and in a quoted attribute.
#[must_use]
pub fn escape_html(text: &str) -> String {
    let visible = escape_control(text);
    let mut out = String::with_capacity(visible.len() + 8);
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #1b1f24; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; }
.meta, .legend { color: #57606a; }
.warn { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.5em 0.8em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 0.25em 0.6em; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td.d { overflow-wrap: anywhere; }
td.o { white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.loud { color: #cf222e; font-weight: bold; }
svg { width: 100%; height: auto; background: #f6f8fa; }
.calls { fill: #8c959f; } .denied { fill: #cf222e; } .alert { fill: #9a6700; }
svg text { font: 11px system-ui, sans-serif; fill: #57606a; }
";

/// A count as a float; counts here are far below 2^32.
fn float(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 160.0;

/// Writes the whole report as one HTML page: a summary, the timeline of
/// calls, denied calls and alerts, then the same sections as
/// `--format md`, each cut to `top` rows with the cut said.
///
/// # Errors
/// Only errors of the underlying writer.
pub fn write_html(
    report: &Report,
    range: TimeRange,
    top: usize,
    mut out: impl Write,
) -> io::Result<()> {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>KMS activity report, {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        time(report.from),
        time(report.to)
    );
    heading(&mut page, report, range);
    timeline(&mut page, report);
    for block in blocks(report, top) {
        section(&mut page, &block);
    }
    for note in super::usage_out::notes(report) {
        let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape_html(&note));
    }
    let _ = writeln!(
        page,
        "<p class=\"meta\">Made by kmstop {}.</p>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    out.write_all(page.as_bytes())
}

fn heading(page: &mut String, report: &Report, range: TimeRange) {
    let _ = writeln!(
        page,
        "<h1>KMS activity report</h1>\n<p><strong>{}</strong> KMS events, <strong>{}</strong> denied, \
         <strong>{}</strong> errors, from {} to {}.</p>",
        report.events,
        report.denied,
        report.errors,
        time(report.from),
        time(report.to)
    );
    let summary = summary(report, range);
    for line in summary.asked.iter().chain([&summary.set_aside]) {
        let _ = writeln!(page, "<p class=\"meta\">{line}</p>");
    }
    if let Some(incomplete) = &summary.incomplete {
        let _ = writeln!(
            page,
            "<p class=\"warn\"><strong>Incomplete:</strong> {incomplete}</p>"
        );
    }
    if let Some(not_known) = &summary.not_known {
        let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape_html(not_known));
    }
    if let Some(who) = &summary.who {
        let _ = writeln!(
            page,
            "<p class=\"warn\"><strong>Selection:</strong> {}</p>",
            escape_html(who)
        );
    }
}

fn timeline(page: &mut String, report: &Report) {
    page.push_str("<h2>Timeline</h2>\n");
    let bars = report.timeline.bars(BARS);
    if bars.is_empty() {
        page.push_str(if report.events > 0 {
            "<p>The timeline is not known to this source: it returns counts, not times.</p>\n"
        } else {
            "<p>No event.</p>\n"
        });
        return;
    }
    let (first, last) = (bars[0].start, bars[bars.len() - 1].end);
    let peak = bars.iter().map(|b| b.events).max().unwrap_or(1).max(1);
    let step = WIDTH / float(bars.len() as u64);
    let scale = |n: u64| HEIGHT * float(n) / float(peak);
    let _ = writeln!(
        page,
        "<svg viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"Calls per interval\">",
        HEIGHT + 40.0
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = step * float(i as u64);
        for (class, n) in [("calls", bar.events), ("denied", bar.denied)] {
            if n > 0 {
                let h = scale(n);
                let _ = writeln!(
                    page,
                    "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{} to {}: {} calls, {} denied</title></rect>",
                    HEIGHT - h + 20.0,
                    (step - 1.0).max(0.5),
                    time(Some(bar.start)),
                    time(Some(bar.end)),
                    bar.events,
                    bar.denied
                );
            }
        }
    }
    let span = (last - first).num_seconds().max(1);
    for alert in &report.alerts {
        let offset = (alert.first - first).num_seconds().clamp(0, span);
        let x = WIDTH * float(offset.unsigned_abs()) / float(span.unsigned_abs());
        let _ = writeln!(
            page,
            "<path class=\"alert\" d=\"M{x:.1} 16 l-5 -10 h10 z\"><title>{}: {} ({})</title></path>",
            escape_html(&alert.rule),
            escape_html(&alert.group),
            time(Some(alert.first))
        );
    }
    let _ = writeln!(
        page,
        "<text x=\"0\" y=\"{:.0}\">{}</text><text x=\"{WIDTH}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>\
         <text x=\"4\" y=\"32\">{peak} calls</text>\n</svg>",
        HEIGHT + 36.0,
        time(Some(first)),
        HEIGHT + 36.0,
        time(Some(last))
    );
    let _ = writeln!(
        page,
        "<p class=\"legend\">Calls (grey) and denied calls (red) per {}; \
         each ▼ is an alert where it first fired.</p>",
        width_words(&bars[0])
    );
}

fn section(page: &mut String, block: &Block) {
    let _ = writeln!(page, "<h2>{}</h2>", escape_html(&block.heading()));
    if let Some(empty) = block.empty.filter(|_| block.rows.is_empty()) {
        let _ = writeln!(page, "<p>{empty}</p>");
        return;
    }
    page.push_str("<table>\n<thead><tr>");
    for h in block.headers {
        let _ = write!(page, "<th>{h}</th>");
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    if block.rows.is_empty() {
        // An empty body is a table with nothing to say: say "none".
        let _ = writeln!(
            page,
            "<tr><td class=\"o\" colspan=\"{}\">none</td></tr>",
            block.headers.len().max(1)
        );
    }
    for row in &block.rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = match cell.kind {
                CellKind::Data => write!(page, "<td class=\"d\">{}</td>", escape_html(&cell.text)),
                CellKind::Own if cell.text.bytes().all(|b| b.is_ascii_digit()) => {
                    write!(page, "<td class=\"o n\">{}</td>", cell.text)
                }
                CellKind::Own => write!(page, "<td class=\"o\">{}</td>", escape_html(&cell.text)),
                CellKind::Loud => write!(page, "<td class=\"o loud\">{}</td>", cell.text),
            };
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn data_cannot_start_markup() {
        assert_eq!(
            escape_html("<img src=x onerror='a'>&\"\u{1b}[2J"),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;\\x1b[2J"
        );
    }
}
