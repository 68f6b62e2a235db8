//! The timeline strip: calls and denied calls across the whole range, the
//! window shaded and the cursor marked, so time travel shows where it is.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use super::theme::{Slot, Theme};
use super::widgets::{resample, spark};
use crate::app::App;

/// The column of time `t` in a strip of `width` over the timeline.
fn column(app: &App, t: DateTime<Utc>, width: usize) -> Option<usize> {
    let tl = &app.snapshot.timeline;
    let n = tl.calls.len();
    if n == 0 || width == 0 {
        return None;
    }
    let index = t.timestamp().div_euclid(tl.bucket_secs.max(1)) - tl.first_index;
    let i = usize::try_from(index.max(0)).ok()?.min(n - 1);
    Some(i * width / n)
}

/// `rows` lines (1 to 3): labels, calls, denied.
pub fn lines(app: &App, theme: &Theme, width: u16, rows: u16) -> Vec<Line<'static>> {
    let tl = &app.snapshot.timeline;
    let w = usize::from(width);
    let cursor = column(app, app.snapshot.time, w);
    let from = column(app, app.snapshot.from, w).unwrap_or(0);
    let paint = |text: String, slot: Slot| -> Line<'static> {
        let spans: Vec<Span<'static>> = text
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let mut style = theme.style(slot);
                if Some(i) == cursor {
                    style = theme
                        .style(Slot::Accent)
                        .add_modifier(ratatui::style::Modifier::REVERSED);
                } else if cursor.is_some_and(|cur| i >= from && i <= cur) {
                    style = style.patch(theme.style(Slot::Selection));
                }
                Span::styled(
                    if c == ' ' && Some(i) == cursor {
                        '│'
                    } else {
                        c
                    }
                    .to_string(),
                    style,
                )
            })
            .collect();
        Line::from(spans)
    };
    let calls = paint(format!("{:w$}", spark(&tl.calls, w)), Slot::Chart1);
    let mut out = Vec::new();
    if rows >= 3 {
        let start = DateTime::from_timestamp(tl.first_index * tl.bucket_secs, 0);
        let end = DateTime::from_timestamp(
            (tl.first_index + i64::try_from(tl.calls.len()).unwrap_or(0)) * tl.bucket_secs,
            0,
        );
        let fmt = |t: Option<DateTime<Utc>>| {
            t.map_or_else(String::new, |t| t.format("%m-%d %H:%M").to_string())
        };
        let left = fmt(start);
        let right = fmt(end);
        let mid = format!(
            " timeline · [ ] move by {} · {{ }} alerts · 0 end ",
            app.window.label()
        );
        let gap = w.saturating_sub(left.len() + right.len());
        let text = if gap > mid.chars().count() + 2 {
            let pad = gap - mid.chars().count();
            format!(
                "{left}{}{mid}{}{right}",
                " ".repeat(pad / 2),
                " ".repeat(pad - pad / 2)
            )
        } else {
            format!("{left:w$}")
        };
        out.push(Line::from(Span::styled(
            crate::text::for_terminal(&text, w),
            theme.style(Slot::Muted),
        )));
    }
    out.push(calls);
    if rows >= 2 {
        let denied = resample(&tl.denied, w);
        let text: String = denied
            .iter()
            .map(|&d| if d > 0 { '▪' } else { ' ' })
            .collect();
        out.push(paint(text, Slot::Crit));
    }
    out
}
