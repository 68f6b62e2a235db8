//! A drill-down screen: the facts of what was opened, then its sections
//! (keys, encryption contexts, resources, principals, callers, events)
//! stacked; Tab moves
//! between them, Enter goes deeper, Esc comes back.

use std::fmt::Write;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panes::{events, keys, principals, resources};
use super::theme::{Slot, Theme};
use super::widgets::{
    block, cell, col, count, flex, ident, name, safe, styled, table, text_col, time,
};
use crate::app::{App, Drill, Hit, HitTarget, MAX_SECTIONS, Section};

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
            crate::app::DrillTarget::Resource { .. } => "resource",
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
        let list = &drill.lists[i.min(MAX_SECTIONS - 1)];
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
            Section::Callers => (view.callers.len(), String::new()),
            Section::Resources => {
                let mut note = String::new();
                if view.resource_other > 0 {
                    let _ = write!(note, " · {} more call(s)", view.resource_other);
                }
                note.push_str(&coverage_note(view));
                (view.resources.len(), note)
            }
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
            Section::Callers => {
                let cols = [
                    flex("principal", 16),
                    col("calls", 7, 0),
                    col("denied", 6, 1),
                    text_col("last", 11, 2),
                ];
                let now = app.snapshot.time;
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
                        let x = &view.callers[r];
                        match c {
                            0 => ident(&x.name),
                            1 => cell(count(x.calls)),
                            2 if x.denied > 0 => styled(count(x.denied), Slot::Warn),
                            2 => cell("0"),
                            _ => styled(time(x.last, now), Slot::Muted),
                        }
                    },
                )
            }
            Section::Resources => {
                let cols = [
                    text_col("service", 14, 2),
                    flex("resource", 16),
                    col("calls", 7, 0),
                    col("denied", 6, 1),
                    col("keys", 5, 3),
                    text_col("last", 11, 4),
                ];
                let now = app.snapshot.time;
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
                        let x = &view.resources[r];
                        match c {
                            0 => resources::service(x.service),
                            1 if x.bucket_key => name(format!("{} (bucket key)", x.name)),
                            1 => name(&*x.name),
                            2 => cell(count(x.calls)),
                            3 if x.denied > 0 => styled(count(x.denied), Slot::Warn),
                            3 => cell("0"),
                            4 => cell(x.keys.to_string()),
                            _ => styled(time(x.last, now), Slot::Muted),
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

/// What a section's resource counts cover, when not every event.
fn coverage_note(view: &crate::app::query::DrillView) -> String {
    view.resource_coverage
        .note()
        .map_or_else(String::new, |n| format!(" · {n}"))
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
