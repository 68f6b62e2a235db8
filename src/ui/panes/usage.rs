//! Quota & cost: for the window at the cursor, each quota family's busiest
//! second per calling account and region against its quota (the share in
//! the danger colours as it nears 100 %), the principals behind the
//! selected row, and what the requests cost per principal and key — the
//! figures `kmstop report` gives for the same events. Not a grid pane: it
//! takes the whole body when focused.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{framed, partial, sorted};
use crate::aggregate::cost::PRICES_AS_OF;
use crate::aggregate::usage::QuotaRow;
use crate::app::athena::thousands;
use crate::app::sort_key::SortKey;
use crate::app::usage::{Driver, UsageAnswer, UsageTable};
use crate::app::{App, Pane};
use crate::ui::theme::{Slot, Theme};
use crate::ui::widgets::{
    CellText, Col, Cut, Shown, cell, col, count, fit, flex, ident, name, pad, safe, safe_end,
    safe_middle, styled, table, text_col,
};

/// Wide enough for every family's name: on a wide screen the numbers stay
/// beside their names.
const FAMILY_WIDTH: u16 = 26;

/// The quota rows' columns (the pane's list).
pub const COLUMNS: [Col; 10] = [
    text_col("account", 12, 0).sorts(SortKey::Name),
    text_col("region", 14, 1),
    flex("family", 18).up_to(FAMILY_WIDTH),
    col("quota/s", 12, 3),
    col("calls", 6, 4).sorts(SortKey::Calls),
    col("peak/s", 6, 0).sorts(SortKey::Peak),
    text_col("peak at", 14, 2),
    col("min avg/s", 9, 5),
    col("% quota", 8, 0).sorts(SortKey::QuotaShare),
    col("throttled", 9, 0).sorts(SortKey::Throttled),
];

const DRIVERS: [Col; 4] = [
    // Room for an assumed role's ARN; wider, and the numbers drift away.
    flex("principal", 16).up_to(96),
    col("calls", 7, 0),
    col("in peak s", 9, 0),
    col("throttled", 9, 1),
];

const BY_PRINCIPAL: [Col; 4] = [
    flex("principal", 14),
    text_col("billed acct", 12, 1),
    col("calls", 7, 0),
    col("est. USD", 10, 0),
];

const BY_KEY: [Col; 4] = [
    flex("key", 14),
    col("calls", 7, 0),
    col("other accts", 11, 1),
    col("est. USD", 10, 0),
];

/// The share of a quota in the theme's colours: calm below half, a
/// warning from half, danger from 80 %.
pub fn share_slot(r: &QuotaRow) -> Slot {
    match r.pct_of_quota {
        None => Slot::Muted,
        Some(p) if p.0 >= 80_000 => Slot::Crit,
        Some(p) if p.0 >= 50_000 => Slot::Warn,
        Some(_) => Slot::Ok,
    }
}

/// A second: its time of day on the view's day, else with its date.
fn second(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "–".to_owned(),
        Some(t) if t.date_naive() == now.date_naive() => t.format("%H:%M:%S").to_string(),
        Some(t) => t.format("%m-%d %H:%M:%S").to_string(),
    }
}

fn quota_cell(r: &QuotaRow, i: usize, now: DateTime<Utc>) -> CellText {
    match i {
        0 => cell(r.account.as_str()),
        1 => styled(r.region.as_str(), Slot::Muted),
        2 => cell(r.family),
        3 if r.quota.is_none() => styled("varies", Slot::Muted),
        3 if r.quota_overridden => styled(r.quota_text(), Slot::Accent),
        3 => cell(r.quota_text()),
        4 => cell(count(r.requests)),
        5 => cell(r.peak_per_second.to_string()),
        6 => styled(second(r.peak_second, now), Slot::Muted),
        7 => cell(r.peak_minute_avg.to_string()),
        8 => styled(r.pct_text(), share_slot(r)),
        _ if r.throttled > 0 => styled(r.throttled.to_string(), Slot::Crit),
        _ => cell("0"),
    }
}

fn driver_cells(d: &Driver) -> Vec<CellText> {
    vec![
        ident(&d.principal),
        cell(count(d.calls)),
        cell(count(d.at_peak)),
        if d.throttled > 0 {
            styled(count(d.throttled), Slot::Crit)
        } else {
            cell("0")
        },
    ]
}

/// Rows drawn as they are (no selection): a header, then each row.
fn plain_table(
    frame: &mut Frame<'_>,
    area: Rect,
    theme: &Theme,
    cols: &[Col],
    rows: impl Iterator<Item = Vec<CellText>>,
    empty: &str,
) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let layout = fit(cols, area.width);
    let line = |cells: Vec<(String, Slot, bool)>| {
        let mut spans = Vec::new();
        for (&(_, w), (text, slot, right)) in layout.iter().zip(cells) {
            spans.push(Span::styled(pad(&text, w, right), theme.style(slot)));
            spans.push(Span::raw(" "));
        }
        Line::from(spans)
    };
    let mut lines = vec![line(
        layout
            .iter()
            .map(|&(i, _)| (cols[i].header.to_owned(), Slot::Muted, cols[i].right))
            .collect(),
    )];
    for mut row in rows.take(usize::from(area.height - 1)) {
        let cells = layout
            .iter()
            .map(|&(i, w)| {
                let c = std::mem::replace(&mut row[i], cell(""));
                let text = match c.cut {
                    Cut::End => safe(&c.text, w),
                    Cut::Start => safe_end(&c.text, w),
                    Cut::Middle => safe_middle(&c.text, w),
                };
                (text, c.slot.unwrap_or(Slot::Text), cols[i].right)
            })
            .collect();
        lines.push(line(cells));
    }
    if lines.len() == 1 {
        lines.push(Line::from(Span::styled(
            safe(empty, area.width),
            theme.style(Slot::Muted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A line of kmstop's own words (and escaped event text), cut to `width`.
fn note(text: &str, slot: Slot, width: u16, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(safe(text, width), theme.style(slot)))
}

/// What the quota rows are measured against (what was set first: a
/// narrow screen cuts the end).
fn quota_heading(a: &UsageAnswer) -> String {
    if a.quota.overrides.is_empty() {
        "Request quotas: the busiest second per calling account, region and quota family, against the documented defaults".to_owned()
    } else {
        format!(
            "Request quotas: --quota {}, the documented defaults otherwise; the busiest second per calling account, region and quota family",
            a.quota.overrides.join(", ")
        )
    }
}

/// Who pays, what is left out, and the prices used: a line each, the
/// part that matters most first.
fn cost_lines(a: &UsageAnswer) -> Vec<(String, Slot)> {
    let c = &a.cost;
    let mut out = vec![(
        format!(
            "Estimated cost {} for {} requests, billed to the calling account (also for another account's key)",
            c.usd,
            thousands(c.requests)
        ),
        Slot::Accent,
    )];
    let mut prices = "Free tier (20,000 requests a month per account) not subtracted".to_owned();
    if !c.overrides.is_empty() {
        prices.push_str(" · --price ");
        prices.push_str(&c.overrides.join(", "));
    }
    prices.push_str(" · prices: ");
    prices.push_str(PRICES_AS_OF);
    out.push((prices, Slot::Muted));
    if c.unpriced_requests > 0 {
        out.push((
            format!(
                "{} GenerateDataKeyPair requests not priced: ECC and RSA pairs cost differently (--price GenerateDataKeyPair=USD)",
                thousands(c.unpriced_requests)
            ),
            Slot::Warn,
        ));
    }
    out
}

fn drivers_heading(row: Option<&QuotaRow>, now: DateTime<Utc>) -> String {
    match row {
        Some(r) => format!(
            "Behind {} in {} {}: peak {}/s at {}, principals by calls",
            r.family,
            r.account,
            r.region,
            r.peak_per_second,
            second(r.peak_second, now)
        ),
        None => "No quota family called in the window.".to_owned(),
    }
}

/// The window counted, and what the figures cover when not all of it.
fn top_lines(a: &UsageAnswer, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let last = a
        .until
        .checked_sub_signed(Duration::seconds(1))
        .unwrap_or(a.until);
    let mut top = vec![note(
        &format!(
            "{} to {} UTC",
            a.from.format("%Y-%m-%d %H:%M:%S"),
            last.format("%Y-%m-%d %H:%M:%S")
        ),
        Slot::Muted,
        width,
        theme,
    )];
    if let Some(text) = a.coverage.note() {
        top.push(note(&text, Slot::Warn, width, theme));
    }
    if let Some(text) = not_rated_line(a) {
        top.push(note(&text, Slot::Muted, width, theme));
    }
    top
}

/// The calls no quota rates, busiest operations first: counted, named,
/// not measured against anything.
fn not_rated_line(a: &UsageAnswer) -> Option<String> {
    let q = &a.quota;
    if !q.known || q.not_rated_requests == 0 {
        return None;
    }
    let names: Vec<String> = q
        .not_rated
        .iter()
        .take(4)
        .map(|r| format!("{} {}", r.operation, thousands(r.requests)))
        .collect();
    let more = if q.not_rated.len() > 4 { ", …" } else { "" };
    Some(format!(
        "Not rated (no documented quota, or unknown to kmstop): {} calls · {}{more}",
        thousands(q.not_rated_requests),
        names.join(", ")
    ))
}

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    theme: &Theme,
    focused: bool,
) -> Option<Shown> {
    let u: &UsageTable = &app.snapshot.usage;
    let a = &u.answer;
    let now = app.snapshot.time;
    let throttled: u64 = a.quota.rows.iter().map(|r| r.throttled).sum();
    let mut extra = if a.quota.known {
        format!(
            "{} calls · {} throttled · {}",
            thousands(a.events),
            thousands(throttled),
            app.window.label()
        )
    } else {
        format!("{} calls · {}", thousands(a.events), app.window.label())
    };
    extra.push_str(&partial(app));
    let inner = framed(frame, area, theme, Pane::Usage, &extra, focused);
    if inner.height == 0 || inner.width == 0 {
        return None;
    }
    let width = inner.width;
    let top = top_lines(a, width, theme);
    if !a.quota.known {
        frame.render_widget(Paragraph::new(top), inner);
        return None;
    }
    let h = inner.height;
    let selected = app.panes[Pane::Usage.index()].list.selected;
    let shown_row = u.row(selected.min(u.quota_rows.len().saturating_sub(1)));
    let drivers: &[Driver] = shown_row.map_or(&[], |(_, d)| d);
    let quota_h = u16::try_from(u.quota_rows.len() + 1)
        .unwrap_or(u16::MAX)
        .clamp(2, (h * 2 / 5).max(2));
    let drivers_h = u16::try_from(drivers.len() + 1)
        .unwrap_or(u16::MAX)
        .clamp(2, (h / 4).max(2));
    let cost: Vec<Line<'static>> = cost_lines(a)
        .into_iter()
        .map(|(text, slot)| note(&text, slot, width, theme))
        .collect();
    let cost_h = u16::try_from(cost.len()).unwrap_or(2);
    let top_h = u16::try_from(top.len()).unwrap_or(1);
    let [
        top_a,
        quota_title,
        quota_a,
        drivers_title,
        drivers_a,
        cost_title,
        cost_a,
    ] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Length(1),
        Constraint::Length(quota_h),
        Constraint::Length(1),
        Constraint::Length(drivers_h),
        Constraint::Length(cost_h),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(top), top_a);
    frame.render_widget(
        Paragraph::new(note(&quota_heading(a), Slot::Accent, width, theme)),
        quota_title,
    );
    let rows = &a.quota.rows;
    let shown = table(
        frame,
        quota_a,
        theme,
        &COLUMNS,
        sorted(app, Pane::Usage),
        u.quota_rows.len(),
        &app.panes[Pane::Usage.index()].list,
        focused,
        |row, i, _| quota_cell(&rows[u.quota_rows[row]], i, now),
    );
    frame.render_widget(
        Paragraph::new(note(
            &drivers_heading(shown_row.map(|(r, _)| r), now),
            Slot::Accent,
            width,
            theme,
        )),
        drivers_title,
    );
    plain_table(
        frame,
        drivers_a,
        theme,
        &DRIVERS,
        drivers.iter().map(driver_cells),
        "(no calls)",
    );
    frame.render_widget(Paragraph::new(cost), cost_title);
    draw_costs(frame, cost_a, app, theme);
    shown
}

/// Cost by principal and by key, side by side when there is room.
fn draw_costs(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let u = &app.snapshot.usage;
    let c = &u.answer.cost;
    let [left, right] = if area.width >= 100 {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area)
    };
    plain_table(
        frame,
        left,
        theme,
        &BY_PRINCIPAL,
        u.principals.iter().map(|&i| {
            let p = &c.principals[i];
            vec![
                ident(&p.principal),
                styled(p.account.as_str(), Slot::Muted),
                cell(count(p.requests)),
                cell(p.usd.to_string()),
            ]
        }),
        "(no calls)",
    );
    plain_table(
        frame,
        right,
        theme,
        &BY_KEY,
        u.keys.iter().zip(&u.key_labels).map(|(&i, label)| {
            let k = &c.keys[i];
            vec![
                name(label.as_str()),
                cell(count(k.requests)),
                cell(count(k.cross_account_requests)),
                cell(k.usd.to_string()),
            ]
        }),
        "(no key named)",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::quota::FAMILIES;

    #[test]
    fn every_family_name_fits_its_column() {
        for f in FAMILIES {
            assert!(f.name.len() <= usize::from(FAMILY_WIDTH), "{}", f.name);
        }
        let layout = fit(&COLUMNS, 200);
        assert_eq!(layout[2], (2, FAMILY_WIDTH), "{layout:?}");
        // Short of the cap, it takes every spare cell.
        let need: u16 = COLUMNS.iter().map(|c| c.width + 1).sum();
        assert_eq!(fit(&COLUMNS, need + 1)[2], (2, 19));
    }
}
