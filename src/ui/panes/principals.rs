//! Principals: who calls KMS and how fast, with their last hour as a
//! sparkline, the share of their calls that were refused, and how many
//! keys they use.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{framed_table, title_extra};
use crate::app::query::PrincipalRow;
use crate::app::sort_key::SortKey;
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    CellText, Col, Shown, cell, col, count, flex, ident, rate_cell, spark, styled, text_col, time,
};

pub const COLUMNS: [Col; 11] = [
    flex("principal", 16).sorts(SortKey::Name),
    col("calls", 7, 0).sorts(SortKey::Calls),
    col("1m", 6, 3).sorts(SortKey::Rate1m),
    col("5m", 6, 4).sorts(SortKey::Rate5m),
    col("15m", 6, 2).sorts(SortKey::Rate15m),
    text_col("last hour", 20, 6),
    col("denied", 6, 1).sorts(SortKey::Denied),
    col("denied%", 7, 5).sorts(SortKey::DeniedShare),
    col("keys", 5, 7).sorts(SortKey::Keys),
    text_col("first", 11, 9).sorts(SortKey::First),
    text_col("last", 11, 8).sorts(SortKey::Last),
];

pub fn cell_of(r: &PrincipalRow, i: usize, w: u16, app: &App) -> CellText {
    let now = app.snapshot.time;
    match i {
        0 => ident(&r.name),
        1 => cell(count(r.calls)),
        2 => rate_cell(r.rates[0], app.filling()[0]),
        3 => rate_cell(r.rates[1], app.filling()[1]),
        4 => rate_cell(r.rates[2], app.filling()[2]),
        5 => styled(
            r.spark
                .as_deref()
                .map(|s| spark(s, usize::from(w)))
                .unwrap_or_default(),
            Slot::Chart1,
        ),
        6 if r.denied > 0 => styled(count(r.denied), Slot::Warn),
        6 => cell("0"),
        7 => match r.denied_share {
            Some(s) if s >= 0.5 => styled(format!("{:.0}%", s * 100.0), Slot::Crit),
            Some(s) if s > 0.0 => styled(format!("{:.1}%", s * 100.0), Slot::Warn),
            _ => styled("–", Slot::Muted),
        },
        8 => cell(r.keys.to_string()),
        9 => styled(time(r.first, now), Slot::Muted),
        _ => styled(time(r.last, now), Slot::Muted),
    }
}

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    focused: bool,
) -> Option<Shown> {
    let s = &app.snapshot;
    let state = &app.panes[Pane::Principals.index()];
    let extra = title_extra(
        s.principals.len(),
        s.principal_total,
        state.filter.as_ref(),
        app,
    );
    framed_table(
        frame,
        area,
        app,
        theme,
        Pane::Principals,
        &extra,
        focused,
        &COLUMNS,
        s.principals.len(),
        |row, i, w| cell_of(&s.principals[row], i, w, app),
    )
}
