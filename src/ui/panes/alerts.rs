//! Alerts: what fired, loudest and firing first, as it stood at the
//! cursor; acknowledged and silenced ones stay listed, quieter.

use std::fmt::Write;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{framed_table, title_extra};
use crate::alert::Severity;
use crate::app::query::AlertRow;
use crate::app::sort_key::SortKey;
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    CellText, Col, Shown, cell, col, count, flex, ident, name, styled, text_col, time,
};

pub const COLUMNS: [Col; 7] = [
    text_col("state", 9, 0).sorts(SortKey::State),
    text_col("severity", 8, 2).sorts(SortKey::Severity),
    text_col("rule", 28, 1).sorts(SortKey::Name),
    flex("group", 12),
    col("count", 6, 3).sorts(SortKey::Count),
    text_col("first", 11, 5).sorts(SortKey::First),
    text_col("last", 11, 4).sorts(SortKey::Last),
];

pub fn severity_slot(s: Severity) -> Slot {
    match s {
        Severity::Critical | Severity::High => Slot::Crit,
        Severity::Medium => Slot::Warn,
        Severity::Low | Severity::Info => Slot::Muted,
    }
}

pub fn cell_of(a: &AlertRow, i: usize, app: &App) -> CellText {
    let e = &a.episode;
    let now = app.snapshot.time;
    let silenced = e.silenced_until.is_some_and(|u| u > now);
    match i {
        0 if silenced => styled("silenced", Slot::Muted),
        0 if a.firing && e.acked => styled("acked", Slot::Warn),
        0 if a.firing => styled("FIRING", Slot::Crit),
        0 => styled("resolved", Slot::Ok),
        1 => styled(
            e.severity.as_str(),
            if a.firing {
                severity_slot(e.severity)
            } else {
                Slot::Muted
            },
        ),
        // Rule ids share long prefixes: cut in the middle.
        2 => name(e.rule.as_str()),
        3 if e.group.is_empty() => cell(e.title.as_str()),
        3 => ident(&e.group),
        4 => cell(count(e.count)),
        5 => styled(time(Some(e.first), now), Slot::Muted),
        _ => styled(time(Some(e.last.min(now)), now), Slot::Muted),
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
    let state = &app.panes[Pane::Alerts.index()];
    let mut extra = title_extra(s.alerts.len(), s.alert_total, state.filter.as_ref(), app);
    let _ = write!(extra, " · {} firing", s.firing);
    if let (n @ 1.., through) = app.data.episodes.let_go() {
        let through = through.map_or_else(String::new, |t| {
            format!(", resolved by {}", t.format("%Y-%m-%d %H:%M"))
        });
        let _ = write!(extra, " · {n} older resolved not kept{through}");
    }
    if let Some(note) = athena_note(app) {
        let inner = super::framed(frame, area, theme, Pane::Alerts, &extra, focused);
        let note = ratatui::widgets::Paragraph::new(note)
            .style(theme.style(Slot::Muted))
            .wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(note, inner);
        return None;
    }
    framed_table(
        frame,
        area,
        app,
        theme,
        Pane::Alerts,
        &extra,
        focused,
        &COLUMNS,
        s.alerts.len(),
        |row, i, _| cell_of(&s.alerts[row], i, app),
    )
}

/// On Athena, what the pane says until the report's query has brought
/// its alerts: that it runs, or why it failed (`None`: show the alerts).
fn athena_note(app: &App) -> Option<String> {
    if !matches!(app.mode, crate::app::Mode::Athena(_)) {
        return None;
    }
    let status = app.data.athena.as_ref();
    if let Some(why) = status.and_then(|a| a.alerts_failed.as_deref()) {
        return Some(format!(
            "Athena: the alerts' query failed: {}",
            crate::text::for_terminal(why, 300)
        ));
    }
    match status.and_then(|a| a.alerts) {
        Some(_) => None,
        None => Some("Athena: the alert rules run in the report's pushed-down query…".to_owned()),
    }
}
