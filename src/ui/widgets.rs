//! Building blocks the panes share: framed blocks, a table that builds
//! only its visible rows, and number, time and sparkline formatting.
//! Every string a cell shows goes through [`crate::text`] here.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::theme::{Slot, Theme};
use crate::app::ListState;
use crate::app::sort_key::SortKey;
use crate::text::for_terminal;

/// A table column: its header, width, and how soon it goes when space
/// runs out (higher goes first; 0 never goes). One flex column per table
/// takes what is left.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub header: &'static str,
    pub width: u16,
    pub drop: u8,
    pub right: bool,
    pub flex: bool,
    /// The widest a flex column grows: past it, spare cells stay blank at
    /// the row's end rather than pushing the numbers away from their names.
    pub max: u16,
    /// The sort this column shows (its header gets the ▼/▲ marker).
    pub sort: Option<SortKey>,
}

impl Col {
    /// The column shows the pane's sort by `key`.
    #[must_use]
    pub const fn sorts(self, key: SortKey) -> Self {
        Self {
            sort: Some(key),
            ..self
        }
    }

    /// A flex column that grows to `max` cells at most.
    #[must_use]
    pub const fn up_to(self, max: u16) -> Self {
        Self { max, ..self }
    }
}

pub const fn col(header: &'static str, width: u16, drop: u8) -> Col {
    Col {
        header,
        width,
        drop,
        right: true,
        flex: false,
        max: u16::MAX,
        sort: None,
    }
}

pub const fn text_col(header: &'static str, width: u16, drop: u8) -> Col {
    Col {
        header,
        width,
        drop,
        right: false,
        flex: false,
        max: u16::MAX,
        sort: None,
    }
}

pub const fn flex(header: &'static str, min: u16) -> Col {
    Col {
        header,
        width: min,
        drop: 0,
        right: false,
        flex: true,
        max: u16::MAX,
        sort: None,
    }
}

/// Which columns fit in `avail` cells, and their widths.
pub fn fit(cols: &[Col], avail: u16) -> Vec<(usize, u16)> {
    let mut kept: Vec<usize> = (0..cols.len()).collect();
    let need = |kept: &[usize]| -> u16 {
        kept.iter().map(|&i| cols[i].width).sum::<u16>() + u16::try_from(kept.len()).unwrap_or(0)
    };
    while need(&kept) > avail {
        let Some(worst) = kept
            .iter()
            .copied()
            .filter(|&i| cols[i].drop > 0)
            .max_by_key(|&i| (cols[i].drop, i))
        else {
            break;
        };
        kept.retain(|&i| i != worst);
    }
    let spare = avail.saturating_sub(need(&kept));
    kept.iter()
        .map(|&i| {
            let w = if cols[i].flex {
                cols[i]
                    .width
                    .saturating_add(spare)
                    .min(cols[i].max.max(cols[i].width))
            } else {
                cols[i].width
            };
            (i, w)
        })
        .collect()
}

/// A framed block; the focused one stands out.
pub fn block<'a>(title: &'a str, extra: &str, focused: bool, theme: &Theme) -> Block<'a> {
    let (border, title_style) = if focused {
        (theme.style(Slot::BorderFocused), theme.style(Slot::Accent))
    } else {
        (theme.style(Slot::Border), theme.style(Slot::Text))
    };
    let mut spans = vec![Span::styled(format!(" {title} "), title_style)];
    if !extra.is_empty() {
        spans.push(Span::styled(format!("{extra} "), theme.style(Slot::Muted)));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(border)
        .title(Line::from(spans))
}

/// Where a cell too long for its column is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Keep the start (`abc…`).
    End,
    /// Keep the end (`…xyz`): the end of an identifier tells rows apart.
    Start,
    /// Keep both ends (`abc…xyz`): names that share a long prefix, such as
    /// rule ids (`pending-deletion-key-in-use`, `…-inventory`).
    Middle,
}

/// One cell: its text (escaped by the caller's formatter) and meaning.
pub struct CellText {
    pub text: String,
    pub slot: Option<Slot>,
    pub cut: Cut,
}

pub fn cell(text: impl Into<String>) -> CellText {
    CellText {
        text: text.into(),
        slot: None,
        cut: Cut::End,
    }
}

pub fn styled(text: impl Into<String>, slot: Slot) -> CellText {
    CellText {
        text: text.into(),
        slot: Some(slot),
        cut: Cut::End,
    }
}

/// A name whose ends both matter: cut in the middle when too wide.
pub fn name(text: impl Into<String>) -> CellText {
    CellText {
        text: text.into(),
        slot: None,
        cut: Cut::Middle,
    }
}

/// An identifier (principal, group text): ARN boilerplate dropped, cut
/// from the left when too wide.
pub fn ident(text: &str) -> CellText {
    let mut short = text.to_owned();
    for prefix in ["arn:aws:iam::", "arn:aws:sts::", "arn:aws:kms:"] {
        short = short.replace(prefix, "");
    }
    CellText {
        text: short,
        slot: None,
        cut: Cut::Start,
    }
}

/// Escaped and cut to `width` columns, keeping the end.
pub fn safe_end(s: &str, width: u16) -> String {
    let escaped = crate::text::escape_control(s);
    let w = usize::from(width);
    let total = unicode_width::UnicodeWidthStr::width(escaped.as_ref());
    if total <= w {
        return escaped.into_owned();
    }
    let mut used = 0;
    let mut start = escaped.len();
    for (i, c) in escaped.char_indices().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        used += cw;
        start = i;
    }
    format!("…{}", &escaped[start..])
}

/// Escaped and cut to `width` columns in the middle, keeping both ends.
pub fn safe_middle(s: &str, width: u16) -> String {
    let escaped = crate::text::escape_control(s);
    let w = usize::from(width);
    let total = unicode_width::UnicodeWidthStr::width(escaped.as_ref());
    if total <= w || w < 3 {
        return safe(s, width);
    }
    // The end gets the smaller half: the start names the family.
    let tail = (w - 1) / 2;
    let head = w - 1 - tail;
    let start = crate::text::truncate_width(&escaped, head + 1);
    let start = start.strip_suffix('…').unwrap_or(&start);
    let end = safe_end(&escaped, u16::try_from(tail + 1).unwrap_or(u16::MAX));
    format!("{start}{end}")
}

/// Text from an event or a file: escaped, cut to `width`.
pub fn safe(s: &str, width: u16) -> String {
    for_terminal(s, usize::from(width))
}

/// Where a table's rows went: the screen line of its first row and the
/// row shown there (the scroll offset), for the mouse and the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub first_row: u16,
    pub offset: usize,
}

/// Renders `len` rows of which only the visible ones are built, scrolled
/// from the list's last offset just enough to show its selection; where
/// they went, if any row fits.
#[allow(clippy::too_many_arguments)]
pub fn table(
    frame: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    cols: &[Col],
    sorted: Option<(SortKey, bool)>,
    len: usize,
    list: &ListState,
    focused: bool,
    mut cell_of: impl FnMut(usize, usize, u16) -> CellText,
) -> Option<Shown> {
    if area.height == 0 || area.width == 0 {
        return None;
    }
    let layout = fit(cols, area.width);
    // Header.
    let mut spans = Vec::new();
    for &(i, w) in &layout {
        let mut h = cols[i].header.to_owned();
        let mut style = theme.style(Slot::Muted);
        if let Some((key, reversed)) = sorted
            && cols[i].sort == Some(key)
        {
            h.push(if reversed { '▲' } else { '▼' });
            style = theme.style(Slot::Accent);
        }
        spans.push(Span::styled(pad(&h, w, cols[i].right), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)),
        Rect { height: 1, ..area },
    );
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let visible = usize::from(body.height);
    if visible == 0 {
        return None;
    }
    if len == 0 {
        frame.render_widget(
            Paragraph::new(Span::styled(
                safe("(nothing here)", body.width),
                theme.style(Slot::Muted),
            )),
            body,
        );
        return Some(Shown {
            first_row: body.y,
            offset: 0,
        });
    }
    let selected = list.selected.min(len - 1);
    let mut offset = list.offset.min(len - 1);
    if selected < offset {
        offset = selected;
    } else if selected >= offset + visible {
        offset = selected + 1 - visible;
    }
    let mut lines = Vec::with_capacity(visible);
    for row in offset..len.min(offset + visible) {
        let is_sel = row == selected;
        let mut spans = Vec::new();
        for &(i, w) in &layout {
            let c = cell_of(row, i, w);
            let style = c
                .slot
                .map_or_else(|| theme.style(Slot::Text), |s| theme.style(s));
            let text = match c.cut {
                Cut::End => safe(&c.text, w),
                Cut::Start => safe_end(&c.text, w),
                Cut::Middle => safe_middle(&c.text, w),
            };
            spans.push(Span::styled(pad(&text, w, cols[i].right), style));
            spans.push(Span::raw(" "));
        }
        let mut line = Line::from(spans);
        if is_sel {
            line = line.patch_style(if focused {
                theme.style(Slot::Selection)
            } else {
                Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED)
            });
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), body);
    Some(Shown {
        first_row: body.y,
        offset,
    })
}

/// `s` (already safe) padded or cut to exactly `w` columns.
pub fn pad(s: &str, w: u16, right: bool) -> String {
    let s = crate::text::truncate_width(s, usize::from(w));
    let used = unicode_width::UnicodeWidthStr::width(s.as_ref());
    let fill = " ".repeat(usize::from(w).saturating_sub(used));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.2M".
#[allow(clippy::cast_precision_loss)]
pub fn count(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A per-minute rate: "–" when zero.
/// A rate cell. Over minutes CloudTrail is still filling (`share` of
/// their events in) it is an estimate — what is in over the share — and
/// reads `~12`, dimmed: a count that will still rise never passes for a
/// slow-down, nor an estimate for a count.
pub fn rate_cell(r: f64, share: Option<f64>) -> CellText {
    match share {
        Some(s) => styled(format!("~{}", rate(r / s.max(0.05))), Slot::Muted),
        None => cell(rate(r)),
    }
}

pub fn rate(r: f64) -> String {
    if r <= 0.0 {
        "–".to_owned()
    } else if r < 10.0 {
        format!("{r:.1}")
    } else if r < 10_000.0 {
        format!("{r:.0}")
    } else {
        format!("{:.0}k", r / 1e3)
    }
}

/// A time relative to the view: "HH:MM:SS" on the same day, "MM-DD HH:MM" otherwise.
pub fn time(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "–".to_owned(),
        Some(t) if t.date_naive() == now.date_naive() => t.format("%H:%M:%S").to_string(),
        Some(t) => t.format("%m-%d %H:%M").to_string(),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Sums `values` into `n` columns (the last column takes the remainder).
pub fn resample(values: &[u64], n: usize) -> Vec<u64> {
    if n == 0 || values.is_empty() {
        return vec![0; n];
    }
    let mut out = vec![0; n];
    for (i, v) in values.iter().enumerate() {
        out[i * n / values.len()] += v;
    }
    out
}

/// A sparkline of `values` scaled to their maximum; blank for zero.
pub fn spark(values: &[u64], width: usize) -> String {
    let cols = resample(values, width);
    let max = cols.iter().copied().max().unwrap_or(0);
    cols.iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                ' '
            } else {
                let i = usize::try_from((v * 7).div_ceil(max)).unwrap_or(7).min(7);
                BARS[i]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_and_flex_takes_the_rest() {
        let cols = [
            flex("name", 10),
            col("a", 5, 2),
            col("b", 5, 1),
            col("c", 5, 3),
        ];
        let f = fit(&cols, 40);
        assert_eq!(f.len(), 4);
        assert_eq!(f[0], (0, 40 - 15 - 4));
        let f = fit(&cols, 20);
        assert_eq!(f.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 2]);
        // Too narrow for anything: the flex column stays.
        assert_eq!(fit(&cols, 3).len(), 1);
    }

    #[test]
    fn numbers_and_sparks() {
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(2_500_000), "2.5M");
        assert_eq!(rate(0.0), "–");
        assert_eq!(rate(2.25), "2.2");
        assert_eq!(spark(&[0, 1, 2, 4], 4), " ▃▅█");
        assert_eq!(resample(&[1, 1, 1, 1, 1], 2), [3, 2]);
        assert_eq!(pad("ab", 4, true), "  ab");
        assert_eq!(pad("abcdef", 4, false), "abc…");
        assert_eq!(safe_end("arn-abcdef", 4), "…def");
        assert_eq!(safe_end("a\u{1b}]0;x", 20), "a\\x1b]0;x");
        assert_eq!(ident("arn:aws:iam::1:role/r").text, "1:role/r");
        assert_eq!(safe_middle("short", 8), "short");
        assert_eq!(safe_middle("abcdefghij", 7), "abc…hij");
        assert_eq!(safe_middle("abcdefghij", 8), "abcd…hij");
        let a = safe_middle("pending-deletion-key-in-use", 20);
        let b = safe_middle("pending-deletion-key-in-use-inventory", 20);
        assert_ne!(a, b);
        assert_eq!(b, "pending-de…inventory");
        assert_eq!(unicode_width::UnicodeWidthStr::width(b.as_str()), 20);
    }
}
