//! One file per pane. Each draws its rows from the snapshot into the area
//! it is given, framed, and reports where its rows start (for the mouse).

pub mod alerts;
pub mod denied;
pub mod events;
pub mod keys;
pub mod principals;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::query::sort_columns;
use crate::app::{App, Filter, Pane};
use crate::ui::theme::Theme;

/// Draws `pane` framed in `area`; returns the first row's line.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    pane: Pane,
    focused: bool,
) -> Option<u16> {
    match pane {
        Pane::Principals => principals::draw(frame, area, app, theme, focused),
        Pane::Denied => denied::draw(frame, area, app, theme, focused),
        Pane::Keys => keys::draw(frame, area, app, theme, focused),
        Pane::Alerts => alerts::draw(frame, area, app, theme, focused),
        Pane::Events => events::draw(frame, area, app, theme, focused),
    }
}

/// The title's extra: rows shown of rows held, the filter, the window.
pub fn title_extra(shown: usize, total: usize, filter: Option<&Filter>, app: &App) -> String {
    let mut s = if shown == total {
        format!("{shown}")
    } else {
        format!("{shown}/{total}")
    };
    if let Some(f) = filter {
        s.push_str(" /");
        s.push_str(&crate::text::for_terminal(&f.text, 30));
        s.push('/');
    }
    s.push_str(" · ");
    s.push_str(app.window.label());
    s
}

/// The sorted column's header and direction, for the header marker.
pub fn sorted(app: &App, pane: Pane) -> Option<(&'static str, bool)> {
    let s = app.panes[pane.index()].sort;
    sort_columns(pane).get(s.column).map(|c| (*c, s.reversed))
}
