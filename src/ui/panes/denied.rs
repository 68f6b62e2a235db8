//! Denied: refused calls over the window as a chart with spikes marked,
//! and who / which keys / which source IPs are refused most, with how far
//! above the window's average they are now (the spike factor).

use std::fmt::Write;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{framed, sorted, title_extra};
use crate::app::sort_key::SortKey;
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    Col, Shown, cell, col, count, flex, ident, resample, styled, table, text_col,
};

pub const COLUMNS: [Col; 4] = [
    text_col("kind", 9, 2),
    flex("name", 16).sorts(SortKey::Name),
    col("count", 7, 0).sorts(SortKey::Count),
    col("spike", 7, 1).sorts(SortKey::Spike),
];

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A column is a spike when it is at least three times the window's
/// average column and at least 3 calls: a burst, not noise.
pub fn spikes(cols: &[u64]) -> Vec<bool> {
    let n = u64::try_from(cols.len().max(1)).unwrap_or(1);
    let mean = cols.iter().sum::<u64>().div_ceil(n);
    cols.iter()
        .map(|&v| v >= 3 && v >= 3 * mean.max(1))
        .collect()
}

/// The chart: `height` lines of bars (the last line marks spikes).
fn chart(app: &App, width: u16, height: u16, theme: &Theme) -> Vec<Line<'static>> {
    let s = &app.snapshot.window_series;
    let w = usize::from(width);
    let cols = resample(&s.denied, w);
    let spike = spikes(&cols);
    let max = cols.iter().copied().max().unwrap_or(0);
    let bar_lines = usize::from(height.saturating_sub(1)).max(1);
    let levels = u64::try_from(bar_lines * 8).unwrap_or(8);
    let mut lines = Vec::new();
    for line in (0..bar_lines).rev() {
        let base = u64::try_from(line * 8).unwrap_or(0);
        let spans: Vec<Span<'static>> = cols
            .iter()
            .zip(&spike)
            .map(|(&v, &sp)| {
                let level = if max == 0 {
                    0
                } else {
                    (v * levels).div_ceil(max)
                };
                let ch = if level <= base {
                    ' '
                } else {
                    BARS[usize::try_from((level - base).min(8) - 1).unwrap_or(7)]
                };
                let slot = if sp { Slot::Crit } else { Slot::Warn };
                Span::styled(ch.to_string(), theme.style(slot))
            })
            .collect();
        lines.push(Line::from(spans));
    }
    if height > 1 {
        let marks: String = spike.iter().map(|&sp| if sp { '▲' } else { ' ' }).collect();
        lines.push(Line::from(Span::styled(marks, theme.style(Slot::Crit))));
    }
    lines
}

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    focused: bool,
) -> Option<Shown> {
    let s = &app.snapshot;
    let state = &app.panes[Pane::Denied.index()];
    let denied: u64 = s.window_series.denied.iter().sum();
    let calls: u64 = s.window_series.calls.iter().sum();
    #[allow(clippy::cast_precision_loss)]
    let share = if calls > 0 {
        denied as f64 * 100.0 / calls as f64
    } else {
        0.0
    };
    let mut extra = title_extra(
        s.denied_rows.len(),
        s.denied_total,
        state.filter.as_ref(),
        app,
    );
    let _ = write!(
        extra,
        " · {} of {} calls ({share:.1}%)",
        count(denied),
        count(calls)
    );
    let inner = framed(frame, area, theme, Pane::Denied, &extra, focused);
    // The chart takes about a third, at least 3 lines when there is room.
    let chart_h = if inner.height >= 8 {
        (inner.height / 3).clamp(3, 12)
    } else {
        0
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(chart_h), Constraint::Min(0)]).areas(inner);
    if chart_h > 0 {
        frame.render_widget(
            Paragraph::new(chart(app, top.width, top.height, theme)),
            top,
        );
    }
    table(
        frame,
        bottom,
        theme,
        &COLUMNS,
        sorted(app, Pane::Denied),
        s.denied_rows.len(),
        &state.list,
        focused,
        |row, i, _| {
            let r = &s.denied_rows[row];
            match i {
                0 => styled(r.kind.label(), Slot::Muted),
                1 => ident(&r.label),
                2 => styled(count(r.count), Slot::Warn),
                _ => match r.factor {
                    Some(f) if f >= 3.0 => styled(format!("×{f:.1}"), Slot::Crit),
                    Some(f) if f >= 0.05 => cell(format!("×{f:.1}")),
                    Some(_) => styled("quiet", Slot::Muted),
                    None => styled("–", Slot::Muted),
                },
            }
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn spikes_stand_out_from_the_average() {
        assert_eq!(
            super::spikes(&[1, 1, 1, 30, 1]),
            [false, false, false, true, false]
        );
        assert_eq!(super::spikes(&[2, 2, 2]), [false, false, false]);
        assert!(super::spikes(&[]).is_empty());
    }
}
