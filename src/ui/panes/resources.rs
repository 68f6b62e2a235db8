//! Resources: who decrypted what. One row per resource an encryption
//! context named in the window (a secret, an S3 object or a bucket with a
//! Bucket Key, a table, a trail…), with its data calls, refusals, and how
//! many principals and keys touched it. Drawn over the whole body: it is
//! not one of the grid's panes.

use std::fmt::Write;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{framed_table, title_extra};
use crate::app::resources::{MAX_ROWS, ResourceRow};
use crate::app::sort_key::SortKey;
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    CellText, Col, Shown, cell, col, count, flex, name, styled, text_col, time,
};

pub const COLUMNS: [Col; 8] = [
    text_col("service", 14, 2).sorts(SortKey::Service),
    flex("resource", 24).sorts(SortKey::Name),
    text_col("bucket key", 10, 4),
    col("calls", 7, 0).sorts(SortKey::Calls),
    col("denied", 6, 1).sorts(SortKey::Denied),
    col("principals", 10, 3).sorts(SortKey::Principals),
    col("keys", 5, 5).sorts(SortKey::Keys),
    text_col("last", 11, 6).sorts(SortKey::Last),
];

/// A service's name, muted when the context named no service kmstop
/// knows (its first pair stands for the resource then).
pub fn service(s: &'static str) -> CellText {
    if s == "other" {
        styled(s, Slot::Muted)
    } else {
        styled(s, Slot::Chart3)
    }
}

pub fn cell_of(r: &ResourceRow, i: usize, app: &App) -> CellText {
    let now = app.snapshot.time;
    match i {
        0 => service(r.service),
        1 => name(&*r.name),
        2 if r.bucket_key => styled("bucket key", Slot::Accent),
        2 => cell(""),
        3 => cell(count(r.calls)),
        4 if r.denied > 0 => styled(count(r.denied), Slot::Warn),
        4 => cell("0"),
        5 => cell(r.principals.to_string()),
        6 => cell(r.keys.to_string()),
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
    let table = &app.snapshot.resources;
    let state = &app.panes[Pane::Resources.index()];
    let mut extra = title_extra(table.rows.len(), table.total, state.filter.as_ref(), app);
    if table.matched > table.rows.len() {
        if state.filter.is_some() {
            let _ = write!(extra, " · first {MAX_ROWS} of {} matching", table.matched);
        } else {
            let _ = write!(extra, " · the first {MAX_ROWS} in this order");
        }
    }
    if let Some(note) = table.coverage.note() {
        let _ = write!(extra, " · {note}");
    }
    framed_table(
        frame,
        area,
        app,
        theme,
        Pane::Resources,
        &extra,
        focused,
        &COLUMNS,
        table.rows.len(),
        |row, i, _| cell_of(&table.rows[row], i, app),
    )
}
