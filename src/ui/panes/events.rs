//! Events: the stream up to the cursor, newest first, filterable; Enter
//! opens one as JSON.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{framed, sorted, title_extra};
use crate::app::query::EventRow;
use crate::app::sort_key::SortKey;
use crate::app::{App, ListState, Pane};
use crate::event::Outcome;
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{CellText, Col, Shown, cell, flex, ident, styled, table, text_col, time};

pub const COLUMNS: [Col; 8] = [
    text_col("time", 11, 0).sorts(SortKey::Time),
    text_col("event", 20, 1).sorts(SortKey::Event),
    flex("principal", 16).sorts(SortKey::Principal),
    text_col("key", 12, 3),
    text_col("outcome", 14, 2).sorts(SortKey::Outcome),
    text_col("source ip", 15, 4),
    text_col("region", 12, 6),
    text_col("user agent", 24, 5),
];

pub fn cell_of(e: &EventRow, i: usize, app: &App) -> CellText {
    match i {
        0 => styled(time(Some(e.time), app.snapshot.time), Slot::Muted),
        1 => cell(e.name.as_str()),
        2 => ident(&e.principal),
        3 => styled(e.key_label.as_deref().unwrap_or("–"), Slot::Muted),
        4 => match e.outcome {
            Outcome::Success => styled("ok", Slot::Ok),
            Outcome::Denied => styled(e.error.as_deref().unwrap_or("denied"), Slot::Crit),
            Outcome::Error => styled(e.error.as_deref().unwrap_or("error"), Slot::Warn),
        },
        5 => cell(e.source_ip.as_deref().unwrap_or("–")),
        6 => styled(e.region.as_deref().unwrap_or("–"), Slot::Muted),
        _ => styled(e.user_agent.as_deref().unwrap_or("–"), Slot::Muted),
    }
}

/// An events table (the pane's, or a drill-down's section) of `len`
/// rows; `row_at` gives a row's texts, asked only for the visible rows.
#[allow(clippy::too_many_arguments)]
pub fn rows(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    len: usize,
    row_at: impl Fn(usize) -> Option<EventRow>,
    list: &ListState,
    focused: bool,
    sort: Option<(SortKey, bool)>,
) -> Option<Shown> {
    // The table asks for a row's cells one after the other.
    let mut memo: Option<(usize, Option<EventRow>)> = None;
    table(
        frame,
        area,
        theme,
        &COLUMNS,
        sort,
        len,
        list,
        focused,
        |row, i, _| {
            if memo.as_ref().is_none_or(|(r, _)| *r != row) {
                memo = Some((row, row_at(row)));
            }
            match memo.as_ref().and_then(|(_, e)| e.as_ref()) {
                Some(e) => cell_of(e, i, app),
                None => styled("–", Slot::Muted),
            }
        },
    )
}

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    focused: bool,
) -> Option<Shown> {
    let s = &app.snapshot;
    let state = &app.panes[Pane::Events.index()];
    let shown = s.events.len();
    let mut extra = title_extra(shown, shown, state.filter.as_ref(), app);
    if shown >= crate::app::query::MAX_EVENT_ROWS {
        extra.push_str(" · newest shown");
    }
    if let Some(t) = s.events_dropped_through {
        // Held events are capped: an older window has counts, not events.
        extra.push_str(" · none held to ");
        extra.push_str(&t.format("%m-%d %H:%M").to_string());
    }
    let athena = matches!(app.mode, crate::app::Mode::Athena(_));
    if athena {
        // Athena brings counts; events only for a drill-down asked.
        extra.push_str(" · drill-down events only");
    }
    let inner = framed(frame, area, theme, Pane::Events, &extra, focused);
    if athena && app.data.log.is_empty() {
        let note = ratatui::widgets::Paragraph::new(crate::app::athena::COUNTS_ONLY)
            .style(theme.style(Slot::Muted))
            .wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(note, inner);
        return None;
    }
    rows(
        frame,
        inner,
        app,
        theme,
        s.events.len(),
        |i| {
            let e = app.data.log.get(s.events.get(i)?.key)?;
            Some(EventRow::from_entry(e))
        },
        &state.list,
        focused,
        sorted(app, Pane::Events),
    )
}
