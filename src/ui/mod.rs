//! Drawing: the header, the timeline strip, the pane tabs, the panes (the
//! five grid panes at once on a big terminal, the focused one otherwise;
//! a pane outside the grid, such as Resources or Quota & cost, over the
//! whole body when
//! focused), drill screens and overlays. Reads the [`App`]'s snapshot and theme only;
//! never blocks, never panics at any size.

pub mod drill;
pub mod export;
pub mod header;
pub mod overlay;
pub mod panes;
pub mod theme;
pub mod timeline;
pub mod widgets;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::{Action, App, Hit, HitTarget, Overlay, Pane};
use theme::Slot;

/// Where a terminal this big shows all five panes at once.
const GRID_WIDTH: u16 = 160;
const GRID_HEIGHT: u16 = 40;

/// Draws the whole screen; returns where tabs and rows went, for
/// [`App::drawn`] (the mouse, and each list's scroll offset).
#[must_use]
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &theme::Theme) -> Vec<Hit> {
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.style(Slot::Background)), area);
    let height = area.height;
    let header_h = if height >= 8 {
        2
    } else {
        u16::from(height >= 3)
    };
    let timeline_h = match height {
        30.. => 3,
        20..30 => 2,
        12..20 => 1,
        _ => 0,
    };
    let tabs_h = u16::from(height >= 6);
    let footer_h = u16::from(height >= 4);
    let [header, tl, tabs, body, footer] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Length(timeline_h),
        Constraint::Length(tabs_h),
        Constraint::Min(0),
        Constraint::Length(footer_h),
    ])
    .areas(area);
    let mut hits = Vec::new();

    if header.height > 0 {
        let [a, b] = header::lines(app, theme, header.width);
        let lines = if header.height >= 2 {
            vec![a, b]
        } else {
            vec![b]
        };
        frame.render_widget(Paragraph::new(lines), header);
    }
    if tl.height > 0 {
        frame.render_widget(
            Paragraph::new(timeline::lines(app, theme, tl.width, tl.height)),
            tl,
        );
    }
    if tabs.height > 0 {
        draw_tabs(frame, tabs, app, theme, &mut hits);
    }
    if let Some(d) = app.drills.last() {
        drill::draw(frame, body, app, d, theme, &mut hits);
    } else if area.width >= GRID_WIDTH && area.height >= GRID_HEIGHT {
        if matches!(app.focus, Pane::Resources | Pane::Usage) {
            // Not a grid pane: it takes the whole body while focused.
            draw_pane(frame, body, app, theme, app.focus, &mut hits);
        } else {
            let rows = Layout::vertical([
                Constraint::Fill(3),
                Constraint::Fill(3),
                Constraint::Fill(3),
            ])
            .split(body);
            let [p, a] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(rows[0]);
            let [d, k] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(rows[1]);
            for (pane, r) in [
                (Pane::Principals, p),
                (Pane::Alerts, a),
                (Pane::Denied, d),
                (Pane::Keys, k),
                (Pane::Events, rows[2]),
            ] {
                draw_pane(frame, r, app, theme, pane, &mut hits);
            }
        }
    } else {
        draw_pane(frame, body, app, theme, app.focus, &mut hits);
    }
    if footer.height > 0 {
        draw_footer(frame, footer, app, theme);
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => overlay::help(frame, area, app, theme, *scroll),
        Some(Overlay::Json(j)) => {
            let r = Rect {
                y: body.y.saturating_sub(tabs_h + timeline_h),
                height: body.height + tabs_h + timeline_h,
                ..body
            };
            overlay::json(frame, r, j, theme);
        }
        Some(Overlay::Prompt(p)) => overlay::prompt(frame, footer, p, theme),
        None => {}
    }
    hits
}

fn draw_pane(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &theme::Theme,
    pane: Pane,
    hits: &mut Vec<Hit>,
) {
    let focused = pane == app.focus;
    if let Some(shown) = panes::draw(frame, area, app, theme, pane, focused) {
        hits.push(Hit {
            target: HitTarget::Rows {
                pane: Some(pane),
                section: None,
                first_row: shown.first_row,
                offset: shown.offset,
            },
            area,
        });
    }
}

fn draw_tabs(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &theme::Theme,
    hits: &mut Vec<Hit>,
) {
    let mut spans = Vec::new();
    let mut x = area.x;
    // " 1 Principals " apart by a space where they all fit, else
    // "1 Principals" (the seven fit in 80 columns that way, not the other).
    let full: usize = Pane::ALL
        .iter()
        .map(|p| p.title().chars().count() + 5)
        .sum();
    let roomy = full <= usize::from(area.width);
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let text = if roomy {
            format!(" {} {} ", i + 1, pane.title())
        } else {
            format!("{} {}", i + 1, pane.title())
        };
        let w = u16::try_from(text.chars().count()).unwrap_or(0);
        let style = if *pane == app.focus {
            theme
                .style(Slot::Selection)
                .patch(theme.style(Slot::Accent))
        } else {
            theme.style(Slot::Muted)
        };
        if x < area.x + area.width {
            hits.push(Hit {
                target: HitTarget::Tab(*pane),
                area: Rect {
                    x,
                    y: area.y,
                    width: w.min(area.x + area.width - x),
                    height: 1,
                },
            });
        }
        x = x.saturating_add(w + 1);
        spans.push(Span::styled(text, style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &theme::Theme) {
    let line = if let Some(s) = &app.status {
        let slot = if s.warning { Slot::Warn } else { Slot::Text };
        Line::from(Span::styled(
            format!(" {}", widgets::safe(&s.text, area.width.saturating_sub(1))),
            theme.style(slot),
        ))
    } else {
        let mut spans = Vec::new();
        for (action, label) in [
            (Action::Help, "help"),
            (Action::Filter, "filter"),
            (Action::Enter, "drill"),
            (Action::Back, "back"),
            (Action::CycleSort, "sort"),
            (Action::CycleWindow, "window"),
            (Action::TimeBack, "time"),
            (Action::Pause, "pause"),
            (Action::Export, "export"),
            (Action::Quit, "quit"),
        ] {
            if let Some(k) = app.keymap.key_for(action) {
                spans.push(Span::styled(format!(" {k}"), theme.style(Slot::Accent)));
                spans.push(Span::styled(format!(" {label} "), theme.style(Slot::Muted)));
            }
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
