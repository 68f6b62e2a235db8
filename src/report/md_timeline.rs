//! The Markdown report's timeline: the HTML page's bars
//! ([`super::timeline::Timeline::bars`] with [`BARS`]) as rows of
//! sparkline blocks in a fenced text block (calls, denied calls, alerts
//! where each first fired), a labelled time axis under each row, and a
//! table of the busiest intervals. Nothing from an event goes inside the
//! fence; the table's rule names are escaped.

use std::fmt::Write as _;

use super::Report;
use super::blocks::time;
use super::markdown::escape_markdown;
use super::timeline::{BARS, Bar, bar_of, width_words};

/// Bars per row: the page's bars in rows a ticket shows without scrolling.
pub const ROW: usize = 60;
/// The busiest intervals the table lists.
pub const BUSIEST: usize = 5;
/// Alert rules named per interval in the table.
const RULES_NAMED: usize = 3;
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const LABEL: usize = 8;

/// A count as a sparkline block: eighths of `peak`, rounded up, so any
/// call shows; a space for none.
fn level(n: u64, peak: u64) -> char {
    if n == 0 || peak == 0 {
        return ' ';
    }
    let eighth = (n.saturating_mul(8)).div_ceil(peak).clamp(1, 8);
    LEVELS[usize::try_from(eighth - 1).unwrap_or(7)]
}

/// An alert count as one character: the digit, `+` past 9.
fn count_char(n: u64) -> char {
    match n {
        0 => ' ',
        1..=9 => char::from_digit(u32::try_from(n).unwrap_or(9), 10).unwrap_or('+'),
        _ => '+',
    }
}

/// The rules whose alerts first fired in each bar.
fn alerts_by_bar<'r>(report: &'r Report, bars: &[Bar]) -> Vec<Vec<&'r str>> {
    let mut by = vec![Vec::new(); bars.len()];
    for alert in &report.alerts {
        if let Some(rules) = bar_of(bars, alert.first).and_then(|i| by.get_mut(i)) {
            rules.push(alert.rule.as_str());
        }
    }
    by
}

/// One row of the fenced block: its label, then one character a bar.
fn line(out: &mut String, label: &str, bars: impl Iterator<Item = char>) {
    let row = format!("{label:<LABEL$}{}", bars.collect::<String>());
    let _ = writeln!(out, "{}", row.trim_end());
}

/// Writes the Timeline section.
pub fn write_timeline(md: &mut String, report: &Report) {
    md.push_str("## Timeline\n\n");
    let bars = report.timeline.bars(BARS);
    if bars.is_empty() {
        md.push_str(if report.events > 0 {
            "The timeline is not known to this source: it returns counts, not times.\n\n"
        } else {
            "No event.\n\n"
        });
        return;
    }
    let peak = bars.iter().map(|b| b.events).max().unwrap_or(0);
    let alerts = alerts_by_bar(report, &bars);
    let _ = writeln!(
        md,
        "Calls, denied calls and alerts (where each first fired) per {}, from {} to {}. \
         `█` is {peak} calls (the busiest interval) and each lower block an eighth less, \
         denied calls on the same scale; alerts are counted in digits (`+` past 9).\n",
        width_words(&bars[0]),
        time(Some(bars[0].start)),
        time(bars.last().map(|b| b.end)),
    );
    md.push_str("```text\n");
    for (row, chunk) in bars.chunks(ROW).enumerate() {
        if row > 0 {
            md.push('\n');
        }
        let counts = &alerts[row * ROW..row * ROW + chunk.len()];
        line(md, "calls", chunk.iter().map(|b| level(b.events, peak)));
        line(md, "denied", chunk.iter().map(|b| level(b.denied, peak)));
        line(
            md,
            "alerts",
            counts.iter().map(|a| count_char(a.len() as u64)),
        );
        let ticks = if chunk.len() > 1 {
            format!("^{}^", " ".repeat(chunk.len() - 2))
        } else {
            "^".to_owned()
        };
        let _ = writeln!(md, "{:LABEL$}{ticks}", "");
        let (start, end) = (chunk[0].start, chunk[chunk.len() - 1].end);
        let _ = writeln!(
            md,
            "{:LABEL$}{} to {}",
            "",
            time(Some(start)),
            time(Some(end))
        );
    }
    md.push_str("```\n\n");
    busiest(md, &bars, &alerts);
}

/// The busiest intervals, ties to the earliest, in time order.
fn busiest(md: &mut String, bars: &[Bar], alerts: &[Vec<&str>]) {
    let mut order: Vec<usize> = (0..bars.len()).filter(|&i| bars[i].events > 0).collect();
    order.sort_by(|&a, &b| bars[b].events.cmp(&bars[a].events).then(a.cmp(&b)));
    order.truncate(BUSIEST);
    order.sort_unstable();
    let _ = writeln!(
        md,
        "Busiest intervals:\n\n| From | To | Calls | Denied | Alerts first fired |\n|---|---|---|---|---|"
    );
    for i in order {
        let bar = &bars[i];
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            time(Some(bar.start)),
            time(Some(bar.end)),
            bar.events,
            bar.denied,
            rules_text(&alerts[i])
        );
    }
    md.push('\n');
}

/// The rules of an interval's alerts, escaped: the first few by name
/// (each once), then how many more.
fn rules_text(rules: &[&str]) -> String {
    if rules.is_empty() {
        return "–".to_owned();
    }
    let mut distinct: Vec<&str> = Vec::new();
    for r in rules {
        if !distinct.contains(r) {
            distinct.push(r);
        }
    }
    let mut text: Vec<String> = distinct
        .iter()
        .take(RULES_NAMED)
        .map(|r| escape_markdown(r))
        .collect();
    if distinct.len() > RULES_NAMED {
        text.push(format!("and {} more", distinct.len() - RULES_NAMED));
    }
    format!("{} ({})", text.join(", "), rules.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_scale_to_the_peak_and_never_hide_a_call() {
        assert_eq!(level(0, 10), ' ');
        assert_eq!(level(1, 1_000), '▁');
        assert_eq!(level(1_000, 1_000), '█');
        assert_eq!(level(500, 1_000), '▄');
        assert_eq!(level(501, 1_000), '▅');
        assert_eq!(count_char(3), '3');
        assert_eq!(count_char(12), '+');
    }

    #[test]
    fn rules_are_escaped_named_once_and_counted() {
        assert_eq!(rules_text(&[]), "–");
        assert_eq!(
            rules_text(&["a|b", "a|b", "c", "d", "e"]),
            "a\\|b, c, d, and 1 more (5)"
        );
    }
}
