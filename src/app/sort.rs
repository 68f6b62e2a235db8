//! Row orders for each pane's sort columns ([`super::query::sort_columns`]):
//! numbers and times largest first, names A to Z, `S` reverses, and ties
//! fall back to the name so rows keep their places between frames.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::SortState;
use super::query::{AlertRow, DeniedRow, EventRow, KeyRow, PrincipalRow};

fn by_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Ordering {
    a.cmp(&b)
}

fn f(a: f64, b: f64) -> Ordering {
    a.total_cmp(&b)
}

/// Applies the sort: numbers and times largest first, names A→Z;
/// `S` reverses. Ties fall back to the name so rows do not jump around.
fn finish(o: Ordering, s: SortState, text_column: bool, name: Ordering) -> Ordering {
    let o = if text_column { o } else { o.reverse() };
    let o = if s.reversed { o.reverse() } else { o };
    o.then(name)
}

pub(super) fn sort_principals(rows: &mut [PrincipalRow], s: SortState) {
    rows.sort_by(|a, b| {
        let o = match s.column {
            0 => a.calls.cmp(&b.calls),
            1 => f(a.rates[0], b.rates[0]),
            2 => f(a.rates[1], b.rates[1]),
            3 => f(a.rates[2], b.rates[2]),
            4 => a.denied.cmp(&b.denied),
            5 => f(
                a.denied_share.unwrap_or(-1.0),
                b.denied_share.unwrap_or(-1.0),
            ),
            6 => a.keys.cmp(&b.keys),
            7 => by_time(a.first, b.first),
            8 => by_time(a.last, b.last),
            _ => a.name.cmp(&b.name),
        };
        finish(o, s, s.column >= 9, a.name.cmp(&b.name))
    });
}

pub(super) fn sort_keys(rows: &mut [KeyRow], s: SortState) {
    rows.sort_by(|a, b| {
        let o = match s.column {
            0 => a.calls.cmp(&b.calls),
            1 => f(a.rates[0], b.rates[0]),
            2 => a.denied.cmp(&b.denied),
            3 => a.principals.cmp(&b.principals),
            // Soonest deletion first; keys not scheduled last.
            4 => b
                .deletion_days
                .unwrap_or(i64::MAX)
                .cmp(&a.deletion_days.unwrap_or(i64::MAX)),
            5 => by_time(a.last_seen, b.last_seen),
            _ => a.label.cmp(&b.label),
        };
        finish(
            o,
            s,
            s.column >= 6,
            a.label.cmp(&b.label).then(a.arn.cmp(&b.arn)),
        )
    });
}

pub(super) fn sort_denied(rows: &mut [DeniedRow], s: SortState) {
    rows.sort_by(|a, b| {
        let o = match s.column {
            0 => a.count.cmp(&b.count),
            1 => f(a.factor.unwrap_or(0.0), b.factor.unwrap_or(0.0)),
            _ => a.label.cmp(&b.label),
        };
        finish(o, s, s.column >= 2, a.label.cmp(&b.label))
    });
}

pub(super) fn sort_alerts(rows: &mut [AlertRow], s: SortState) {
    rows.sort_by(|a, b| {
        let (x, y) = (&a.episode, &b.episode);
        let o = match s.column {
            0 => a
                .firing
                .cmp(&b.firing)
                .then(x.severity.cmp(&y.severity))
                .then(x.last.cmp(&y.last)),
            1 => x.severity.cmp(&y.severity),
            2 => x.count.cmp(&y.count),
            3 => x.first.cmp(&y.first),
            4 => x.last.cmp(&y.last),
            _ => x.rule.cmp(&y.rule),
        };
        finish(
            o,
            s,
            s.column >= 5,
            x.rule.cmp(&y.rule).then(x.group.cmp(&y.group)),
        )
    });
}

pub(super) fn sort_events(rows: &mut [EventRow], s: SortState) {
    rows.sort_by(|a, b| {
        let o = match s.column {
            0 => a.key.cmp(&b.key),
            1 => b.principal.cmp(&a.principal),
            2 => b.name.cmp(&a.name),
            _ => a.outcome.cmp(&b.outcome),
        };
        finish(o, s, false, b.key.cmp(&a.key))
    });
}
