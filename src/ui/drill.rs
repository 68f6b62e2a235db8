//! A drill-down screen: the facts of what was opened, then its sections
//! (keys, encryption contexts, principals, events) stacked; Tab moves
//! between them, Enter goes deeper, Esc comes back.

use std::fmt::Write;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panes::{events, keys, principals};
use super::theme::{Slot, Theme};
use super::widgets::{block, cell, col, count, flex, safe, styled, table, text_col};
use crate::app::{App, Drill, Hit, HitTarget, Section};

// Facts, then one table per section kind: a flat sequence.
#[allow(clippy::too_many_lines)]
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    drill: &Drill,
    theme: &Theme,
    hits: &mut Vec<Hit>,
) {
    let Some(view) = &app.snapshot.drill else {
        return;
    };
    let crumbs: Vec<&str> = app
        .drills
        .iter()
        .map(|d| match d.target {
            crate::app::DrillTarget::Principal(_) => "principal",
            crate::app::DrillTarget::Key(_) => "key",
            crate::app::DrillTarget::Alert { .. } => "alert",
            crate::app::DrillTarget::SourceIp(_) => "source ip",
        })
        .collect();
    let mut extra = format!("{} · Esc back · Tab section", crumbs.join(" › "));
    if let Some(f) = &drill.filter {
        let _ = write!(extra, " · /{}/", safe(&f.text, 30));
    }
    let outer = block(app.focus.title(), &extra, false, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let verdict_h = view.verdict.as_ref().map_or(0, |v| 1 + v.evidence.len());
    let facts_h = u16::try_from(1 + view.facts.len().div_ceil(2) + verdict_h)
        .unwrap_or(1)
        .min(inner.height / if verdict_h > 0 { 2 } else { 3 });
    let [facts_area, rest] =
        Layout::vertical([Constraint::Length(facts_h), Constraint::Min(0)]).areas(inner);
    let mut lines = vec![Line::from(Span::styled(
        safe(&view.title, facts_area.width),
        theme.style(Slot::Accent),
    ))];
    for pair in view.facts.chunks(2) {
        let mut spans = Vec::new();
        for (k, v) in pair {
            spans.push(Span::styled(format!("{k}: "), theme.style(Slot::Muted)));
            spans.push(Span::styled(
                safe(v, facts_area.width / 2),
                theme.style(Slot::Text),
            ));
            spans.push(Span::raw("   "));
        }
        lines.push(Line::from(spans));
    }
    if let Some(v) = &view.verdict {
        lines.extend(verdict_lines(v, facts_area.width, theme));
    }
    frame.render_widget(Paragraph::new(lines), facts_area);

    let sections = drill.target.sections();
    let weights: Vec<Constraint> = sections
        .iter()
        .map(|s| match s {
            Section::Events => Constraint::Fill(3),
            _ => Constraint::Fill(2),
        })
        .collect();
    let areas = Layout::vertical(weights).split(rest);
    for (i, (section, a)) in sections.iter().zip(areas.iter()).enumerate() {
        let focused = i == drill.section;
        let list = &drill.lists[i.min(2)];
        let (n, note) = match section {
            Section::Keys => (view.keys.len(), String::new()),
            Section::Principals => (view.principals.len(), String::new()),
            Section::Contexts => (
                view.contexts.len(),
                if view.context_other > 0 {
                    format!(" · {} more", view.context_other)
                } else {
                    String::new()
                },
            ),
            Section::Events => (view.events.len(), String::new()),
        };
        let b = block(section.title(), &format!("{n}{note}"), focused, theme);
        let body = b.inner(*a);
        frame.render_widget(b, *a);
        let first = match section {
            Section::Keys => table(
                frame,
                body,
                theme,
                &keys::COLUMNS,
                None,
                n,
                list,
                focused,
                |r, c, w| keys::cell_of(&view.keys[r], c, w, app),
            ),
            Section::Principals => table(
                frame,
                body,
                theme,
                &principals::COLUMNS,
                None,
                n,
                list,
                focused,
                |r, c, w| principals::cell_of(&view.principals[r], c, w, app),
            ),
            Section::Contexts => {
                let cols = [
                    text_col("what", 15, 1),
                    text_col("context key", 24, 2),
                    flex("value", 16),
                    col("count", 7, 0),
                ];
                table(
                    frame,
                    body,
                    theme,
                    &cols,
                    None,
                    n,
                    list,
                    focused,
                    |r, c, _| {
                        let x = &view.contexts[r];
                        match c {
                            0 => styled(x.kind, slot_of_kind(x.kind)),
                            1 => styled(x.key.as_str(), Slot::Muted),
                            2 => cell(x.value.as_str()),
                            _ => cell(count(x.count)),
                        }
                    },
                )
            }
            Section::Events => {
                let rows = &view.events;
                let row_at = |i: usize| rows.get(i).cloned();
                events::rows(
                    frame,
                    body,
                    app,
                    theme,
                    rows.len(),
                    row_at,
                    list,
                    focused,
                    None,
                )
            }
        };
        if let Some(shown) = first {
            hits.push(Hit {
                target: HitTarget::Rows {
                    pane: None,
                    section: Some(i),
                    first_row: shown.first_row,
                    offset: shown.offset,
                },
                area: *a,
            });
        }
    }
}

fn slot_of_kind(kind: &str) -> Slot {
    if kind == "other" {
        Slot::Muted
    } else {
        Slot::Chart3
    }
}

/// "delete?" and the verdict, coloured by how safe it looks, then its
/// evidence one fact a line.
fn verdict_lines(v: &crate::deletion::Verdict, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    use crate::deletion::Safety;
    let slot = match v.safety {
        Safety::InUse => Slot::Crit,
        Safety::NotSafe => Slot::Warn,
        Safety::Unknown => Slot::Muted,
        Safety::NoUseSeen => Slot::Ok,
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("delete?: ", theme.style(Slot::Muted)),
        Span::styled(
            safe(&v.headline, width.saturating_sub(9)),
            theme.style(slot),
        ),
    ])];
    lines.extend(v.evidence.iter().map(|e| {
        Line::from(vec![
            Span::styled("  · ", theme.style(Slot::Muted)),
            Span::styled(safe(e, width.saturating_sub(4)), theme.style(Slot::Text)),
        ])
    }));
    lines
}
