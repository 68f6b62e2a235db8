//! Keys: what each key is (alias, state, rotation, deletion countdown in
//! the danger colour) and how it is used. In file mode only the events
//! are known, so the inventory columns say "?".

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{framed_table, title_extra};
use crate::app::query::KeyRow;
use crate::app::sort_key::SortKey;
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    CellText, Col, Shown, cell, col, count, flex, rate_cell, spark, styled, text_col, time,
};

/// The region tells apart the rows of a multi-Region key, which share
/// their key id and often their alias.
pub const COLUMNS: [Col; 11] = [
    flex("key", 20).sorts(SortKey::Name),
    text_col("region", 14, 4),
    text_col("state", 10, 2),
    text_col("rotation", 12, 5),
    col("deletion", 8, 1).sorts(SortKey::Deletion),
    text_col("last", 11, 7).sorts(SortKey::Last),
    col("calls", 7, 0).sorts(SortKey::Calls),
    col("1m", 6, 6).sorts(SortKey::Rate1m),
    col("denied", 6, 3).sorts(SortKey::Denied),
    col("principals", 10, 8).sorts(SortKey::Principals),
    text_col("last hour", 16, 9),
];

/// The key's region: the inventory's, else the ARN's.
pub fn key_region(r: &KeyRow) -> Option<&str> {
    r.facts
        .as_ref()
        .and_then(|f| f.region.as_deref())
        .or_else(|| r.arn.split(':').nth(3).filter(|s| !s.is_empty()))
}

fn rotation(r: &KeyRow) -> CellText {
    let Some(f) = &r.facts else {
        return styled("?", Slot::Muted);
    };
    match f.rotation_enabled {
        Some(true) => {
            let period = f
                .rotation_period_days
                .map_or(String::new(), |d| format!(" {d}d"));
            let next = f
                .next_rotation
                .map_or(String::new(), |n| format!(" →{}", n.format("%m-%d")));
            styled(format!("on{period}{next}"), Slot::Ok)
        }
        Some(false) => styled("off", Slot::Warn),
        None => styled(
            f.unreadable
                .get("rotation_enabled")
                .map_or("?", String::as_str),
            Slot::Muted,
        ),
    }
}

pub fn cell_of(r: &KeyRow, i: usize, w: u16, app: &App) -> CellText {
    let now = app.snapshot.time;
    match i {
        0 => cell(r.label.as_str()),
        1 => match key_region(r) {
            Some(region) => styled(region, Slot::Muted),
            None => styled("?", Slot::Muted),
        },
        2 => match r.facts.as_ref().and_then(|f| f.state.as_deref()) {
            Some("Enabled") => styled("Enabled", Slot::Ok),
            Some("PendingDeletion") => styled("PendingDel", Slot::Crit),
            Some(s) => styled(s, Slot::Warn),
            None => styled("?", Slot::Muted),
        },
        3 => rotation(r),
        4 => match r.deletion_days {
            Some(d) => styled(format!("{d}d"), Slot::Crit),
            None if r.facts.is_some() => styled("–", Slot::Muted),
            None => styled("?", Slot::Muted),
        },
        5 => {
            let kms = r.facts.as_ref().and_then(|f| f.last_used);
            styled(time(r.last_seen.max(kms), now), Slot::Muted)
        }
        6 => cell(count(r.calls)),
        7 => rate_cell(r.rates[0], app.filling()[0]),
        8 if r.denied > 0 => styled(count(r.denied), Slot::Warn),
        8 => cell("0"),
        9 => cell(r.principals.to_string()),
        _ => styled(
            r.spark
                .as_deref()
                .map(|s| spark(s, usize::from(w)))
                .unwrap_or_default(),
            Slot::Chart1,
        ),
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
    let state = &app.panes[Pane::Keys.index()];
    let mut extra = title_extra(s.keys.len(), s.key_total, state.filter.as_ref(), app);
    if app.data.inventory.is_empty() {
        extra.push_str(" · seen in events (no inventory)");
    }
    framed_table(
        frame,
        area,
        app,
        theme,
        Pane::Keys,
        &extra,
        focused,
        &COLUMNS,
        s.keys.len(),
        |row, i, w| cell_of(&s.keys[row], i, w, app),
    )
}
