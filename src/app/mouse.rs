//! The mouse: a click focuses and selects what was drawn under it (the
//! renderer records where it drew tabs and rows), the wheel scrolls it.

use super::update::{current_len, current_list, move_by};
use super::{App, Hit, HitTarget};

fn hit_at(app: &App, column: u16, row: u16) -> Option<Hit> {
    app.hits
        .iter()
        .rev()
        .find(|h| {
            let a = h.area;
            column >= a.x && column < a.x + a.width && row >= a.y && row < a.y + a.height
        })
        .copied()
}

pub(super) fn click(app: &mut App, column: u16, row: u16) {
    let Some(hit) = hit_at(app, column, row) else {
        return;
    };
    match hit.target {
        HitTarget::Tab(p) => {
            app.drills.clear();
            app.focus = p;
        }
        HitTarget::Rows {
            pane,
            section,
            first_row,
            offset,
        } => {
            if let Some(p) = pane {
                app.focus = p;
            }
            if let (Some(s), Some(d)) = (section, app.drills.last_mut()) {
                d.section = s;
            }
            if row < first_row {
                return;
            }
            let to = offset + usize::from(row - first_row);
            if to < current_len(app) {
                current_list(app).select(to);
            }
        }
    }
}

pub(super) fn wheel(app: &mut App, column: u16, row: u16, delta: isize) {
    if let Some(Hit {
        target: HitTarget::Rows { pane, section, .. },
        ..
    }) = hit_at(app, column, row)
    {
        if let Some(p) = pane {
            app.focus = p;
        }
        if let (Some(s), Some(d)) = (section, app.drills.last_mut()) {
            d.section = s;
        }
    }
    move_by(app, delta);
}
