//! Things drawn over the panes: the key help (generated from the keymap),
//! an event's JSON (escaped, highlighted, scrollable), and prompts.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::theme::{Slot, Theme};
use super::widgets::{block, pad, safe};
use crate::app::{App, JsonView, Prompt, PromptKind};

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn help(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme, scroll: usize) {
    let entries = app.keymap.help();
    let h = u16::try_from(entries.len() + 2).unwrap_or(u16::MAX);
    let r = centred(area, 64, h);
    frame.render_widget(Clear, r);
    let b = block("Help", "any key closes", true, theme);
    let inner = b.inner(r);
    frame.render_widget(b, r);
    let key_w = 18;
    let lines: Vec<Line<'static>> = entries
        .iter()
        .skip(scroll)
        .map(|(keys, help)| {
            Line::from(vec![
                Span::styled(pad(keys, key_w, false), theme.style(Slot::Accent)),
                Span::raw(" "),
                Span::styled(
                    safe(help, inner.width.saturating_sub(key_w + 1)),
                    theme.style(Slot::Text),
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// One JSON line coloured by token: keys, strings, numbers and literals,
/// punctuation. The line is already escaped; this only splits it.
fn highlight(line: &str, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            let text: String = chars[start..i].iter().collect();
            // A string followed by a colon is a key.
            let rest = chars[i..].iter().find(|c| !c.is_whitespace());
            let slot = if rest == Some(&':') {
                Slot::Accent
            } else {
                Slot::Ok
            };
            spans.push(Span::styled(text, theme.style(slot)));
        } else if c.is_ascii_digit() || c == '-' || c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | '.' | '+'))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            spans.push(Span::styled(text, theme.style(Slot::Warn)));
        } else {
            let start = i;
            while i < chars.len()
                && !(chars[i] == '"' || chars[i].is_ascii_alphanumeric() || chars[i] == '-')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            spans.push(Span::styled(text, theme.style(Slot::Muted)));
        }
    }
    Line::from(spans)
}

pub fn json(frame: &mut Frame<'_>, area: Rect, j: &JsonView, theme: &Theme) {
    let r = Rect {
        x: area.x + 1.min(area.width),
        y: area.y,
        width: area.width.saturating_sub(2),
        height: area.height,
    };
    frame.render_widget(Clear, r);
    let extra = format!(
        "{}/{} · ↑↓ scroll · ←→ pan · Esc closes",
        j.scroll + 1,
        j.lines.len()
    );
    let b = block("Event", &extra, true, theme);
    let inner = b.inner(r);
    frame.render_widget(b, r);
    let mut lines = vec![Line::from(Span::styled(
        safe(&j.title, inner.width),
        theme.style(Slot::Text),
    ))];
    if let Some(note) = &j.note {
        lines.push(Line::from(Span::styled(
            safe(note, inner.width),
            theme.style(Slot::Warn),
        )));
    }
    let body = usize::from(inner.height).saturating_sub(lines.len());
    for l in j.lines.iter().skip(j.scroll).take(body) {
        let shown: String = l.chars().skip(j.hscroll).collect();
        lines.push(highlight(&safe(&shown, inner.width), theme));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The prompt, drawn on the footer line (cleared first: the key hints or
/// a message must not show through after the prompt's text).
pub fn prompt(frame: &mut Frame<'_>, area: Rect, p: &Prompt, theme: &Theme) {
    frame.render_widget(Clear, area);
    let label = match &p.kind {
        PromptKind::Filter => " filter (regex, empty clears): ".to_owned(),
        PromptKind::Silence { rule, .. } => format!(" silence {} for: ", safe(rule, 30)),
    };
    let mut spans = vec![
        Span::styled(label, theme.style(Slot::Accent)),
        Span::styled(safe(&p.input, area.width / 2), theme.style(Slot::Text)),
        Span::styled("█", theme.style(Slot::Accent)),
    ];
    if let Some(e) = &p.error {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            safe(e, area.width / 2),
            theme.style(Slot::Crit),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
