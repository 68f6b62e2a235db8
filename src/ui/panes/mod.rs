//! One file per pane. Each draws its rows from the snapshot into the area
//! it is given, framed, and reports where its rows start (for the mouse).

pub mod alerts;
pub mod denied;
pub mod events;
pub mod keys;
pub mod principals;
pub mod resources;
pub mod usage;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::sort_key::SortKey;
use crate::app::{App, Filter, Pane};
use crate::ui::theme::Theme;
use crate::ui::widgets::{CellText, Col, Shown, table};

/// Draws `pane` framed in `area`; where its rows went.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    pane: Pane,
    focused: bool,
) -> Option<Shown> {
    match pane {
        Pane::Principals => principals::draw(frame, area, app, theme, focused),
        Pane::Denied => denied::draw(frame, area, app, theme, focused),
        Pane::Keys => keys::draw(frame, area, app, theme, focused),
        Pane::Alerts => alerts::draw(frame, area, app, theme, focused),
        Pane::Events => events::draw(frame, area, app, theme, focused),
        Pane::Resources => resources::draw(frame, area, app, theme, focused),
        Pane::Usage => usage::draw(frame, area, app, theme, focused),
    }
}

/// Draws `pane`'s frame (its title, then `extra`) and returns the area
/// inside it.
pub fn framed(
    frame: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    pane: Pane,
    extra: &str,
    focused: bool,
) -> Rect {
    let block = crate::ui::widgets::block(pane.title(), extra, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A pane that is one table: its frame, then `len` rows of `cols` in the
/// pane's sort and scroll state; where its rows went.
#[allow(clippy::too_many_arguments)]
pub fn framed_table(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    pane: Pane,
    extra: &str,
    focused: bool,
    cols: &[Col],
    len: usize,
    cell_of: impl FnMut(usize, usize, u16) -> CellText,
) -> Option<Shown> {
    let inner = framed(frame, area, theme, pane, extra, focused);
    let list = &app.panes[pane.index()].list;
    table(
        frame,
        inner,
        theme,
        cols,
        sorted(app, pane),
        len,
        list,
        focused,
        cell_of,
    )
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
    s.push_str(&partial(app));
    s
}

/// Said in every live pane's title while LookupEvents cannot keep up:
/// from when its counts are only partly in (where the trail has read to),
/// so a sampled count never passes for a whole one.
fn partial(app: &App) -> String {
    if app.mode != crate::app::Mode::Live || app.cursor.is_some() {
        return String::new();
    }
    let Some(after) = app.data.partial_after() else {
        return String::new();
    };
    let start = app
        .window
        .duration()
        .map_or(DateTime::<Utc>::MIN_UTC, |d| app.now - d);
    if after <= start {
        " · partial (LookupEvents lags)".to_owned()
    } else if after < app.now {
        format!(" · partial after {}", after.format("%H:%M"))
    } else {
        String::new()
    }
}

/// The pane's sort and direction, for the header marker.
pub fn sorted(app: &App, pane: Pane) -> Option<(SortKey, bool)> {
    let s = app.panes[pane.index()].sort;
    Some((s.key(pane), s.reversed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::sort_key::sort_keys;
    use crate::ui::widgets::Col;

    /// Each sort a pane cycles through is shown by exactly one of its
    /// columns, and no column claims a sort the pane does not have.
    #[test]
    fn every_sort_has_its_column() {
        let panes: [(Pane, &[Col]); 7] = [
            (Pane::Principals, &principals::COLUMNS),
            (Pane::Denied, &denied::COLUMNS),
            (Pane::Keys, &keys::COLUMNS),
            (Pane::Alerts, &alerts::COLUMNS),
            (Pane::Events, &events::COLUMNS),
            (Pane::Resources, &resources::COLUMNS),
            (Pane::Usage, &usage::COLUMNS),
        ];
        for (pane, cols) in panes {
            for key in sort_keys(pane) {
                let shown = cols.iter().filter(|c| c.sort == Some(*key)).count();
                assert_eq!(shown, 1, "{pane:?} sorted by {key:?}");
            }
            for col in cols {
                if let Some(key) = col.sort {
                    assert!(sort_keys(pane).contains(&key), "{pane:?}: {}", col.header);
                }
            }
        }
    }
}
