//! Row orders for each pane's sort columns ([`super::query::sort_columns`]):
//! numbers and times largest first, names A to Z, `S` reverses, and ties
//! fall back to the name so rows keep their places between frames.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::SortState;
use super::query::{AlertRow, DeniedRow, EventRow, KeyRow, PrincipalRow};

/// Sorts big rows by sorting their indices (stably), then moving each
/// row once: a 10 k-row table moves 40 kB of indices while it sorts,
/// not 2 MB of rows.
fn sort_indirect<R>(rows: &mut [R], cmp: impl Fn(&R, &R) -> Ordering) {
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    order.sort_by(|&a, &b| cmp(&rows[a as usize], &rows[b as usize]));
    permute(rows, &order);
}

/// Sorts by number keys: `key` gives a row's column value (as a number
/// whose order is the column's, largest-first columns included by
/// `desc`) and its tie-breaking rank, unique per row. Comparing two
/// integers instead of names and times through pointers is what makes
/// 20 k alerts or 10 k principals cheap to sort on every change.
fn sort_keyed<R>(rows: &mut [R], desc: bool, key: impl Fn(&R) -> (u128, u32)) {
    let mut keys: Vec<(u128, u32, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (v, tie) = key(r);
            (if desc { !v } else { v }, tie, i as u32)
        })
        .collect();
    // Ties are broken by a unique rank: unstable is stable here.
    keys.sort_unstable();
    let order: Vec<u32> = keys.iter().map(|k| k.2).collect();
    permute(rows, &order);
}

/// A time as a number in the same order (96 bits).
fn time_key(t: DateTime<Utc>) -> u128 {
    let secs = t.timestamp().cast_unsigned() ^ (1 << 63);
    (u128::from(secs) << 32) | u128::from(t.timestamp_subsec_nanos())
}

/// `None` before any time, as `Option`'s order has it.
fn opt_time_key(t: Option<DateTime<Utc>>) -> u128 {
    t.map_or(0, |t| (1 << 96) | time_key(t))
}

/// An `f64` as a number in `total_cmp`'s order.
fn f64_key(x: f64) -> u128 {
    let b = x.to_bits();
    u128::from(if b >> 63 == 1 { !b } else { b | (1 << 63) })
}

/// Whether a column is shown largest first after `S`: numbers and times
/// are, names are not.
fn descending(s: SortState, text_column: bool) -> bool {
    !text_column ^ s.reversed
}

/// Puts `rows[order[i]]` at `i`, in place: each cycle of the
/// permutation is followed with swaps.
fn permute<R>(rows: &mut [R], order: &[u32]) {
    let mut done = vec![false; rows.len()];
    for start in 0..rows.len() {
        if done[start] {
            continue;
        }
        done[start] = true;
        let mut at = start;
        loop {
            let from = order[at] as usize;
            if from == start {
                break;
            }
            rows.swap(at, from);
            done[from] = true;
            at = from;
        }
    }
}

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
    // The name column sorts by the rank, which is the name's order.
    let desc = descending(s, s.column >= 9);
    sort_keyed(rows, desc, |r| {
        let v = match s.column {
            0 => u128::from(r.calls),
            1 => f64_key(r.rates[0]),
            2 => f64_key(r.rates[1]),
            3 => f64_key(r.rates[2]),
            4 => u128::from(r.denied),
            5 => f64_key(r.denied_share.unwrap_or(-1.0)),
            6 => u128::from(r.keys),
            7 => opt_time_key(r.first),
            8 => opt_time_key(r.last),
            _ => u128::from(r.rank),
        };
        (v, r.rank)
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
    // Rows of one kind with ranks compare by them: as their labels would.
    let by_label = |a: &DeniedRow, b: &DeniedRow| match (a.rank, b.rank) {
        (Some(x), Some(y)) if a.kind == b.kind => x.cmp(&y),
        _ => a.label.cmp(&b.label),
    };
    sort_indirect(rows, |a, b| {
        let o = match s.column {
            0 => a.count.cmp(&b.count),
            1 => f(a.factor.unwrap_or(0.0), b.factor.unwrap_or(0.0)),
            _ => by_label(a, b),
        };
        finish(o, s, s.column >= 2, by_label(a, b))
    });
}

pub(super) fn sort_alerts(rows: &mut [AlertRow], s: SortState) {
    let desc = descending(s, s.column >= 5);
    sort_keyed(rows, desc, |a| {
        let e = &a.episode;
        let v = match s.column {
            // Firing first, then the loudest, then the latest.
            0 => (u128::from(a.firing) << 99) | ((e.severity as u128) << 96) | time_key(e.last),
            1 => e.severity as u128,
            2 => u128::from(e.count),
            3 => time_key(e.first),
            4 => time_key(e.last),
            _ => u128::from(a.rule_rank),
        };
        (v, a.name_rank)
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The order the principal table had before it sorted by numbers:
    /// the column, then the name.
    fn reference(rows: &mut [PrincipalRow], s: SortState) {
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

    #[test]
    fn number_keys_sort_as_the_columns_and_names_do() {
        let t0 = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        let mut x: u64 = 7;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) % m
        };
        let mut rows: Vec<PrincipalRow> = (0..300_u32)
            .map(|i| {
                let calls = next(5);
                #[allow(clippy::cast_precision_loss)]
                PrincipalRow {
                    id: i,
                    name: format!("p{:03}", (i * 7) % 300).into(),
                    calls,
                    denied: next(3),
                    rates: [next(4) as f64 / 2.0, -(next(2) as f64), 0.0],
                    denied_share: (calls > 0).then(|| next(3) as f64 / 3.0),
                    keys: next(3) as u32,
                    first: (next(3) > 0)
                        .then(|| t0 + chrono::Duration::seconds(next(4).cast_signed())),
                    last: Some(t0 - chrono::Duration::nanoseconds(next(3).cast_signed())),
                    ..PrincipalRow::default()
                }
            })
            .collect();
        // Ranks as `NameRanks` gives them: the names' order.
        let mut by_name: Vec<usize> = (0..rows.len()).collect();
        by_name.sort_by(|&a, &b| rows[a].name.cmp(&rows[b].name));
        for (rank, &i) in by_name.iter().enumerate() {
            rows[i].rank = rank as u32;
        }
        for column in 0..10 {
            for reversed in [false, true] {
                let s = SortState { column, reversed };
                let (mut got, mut want) = (rows.clone(), rows.clone());
                sort_principals(&mut got, s);
                reference(&mut want, s);
                let ids = |r: &[PrincipalRow]| r.iter().map(|r| r.id).collect::<Vec<_>>();
                assert_eq!(
                    ids(&got),
                    ids(&want),
                    "column {column}, reversed {reversed}"
                );
            }
        }
    }

    #[test]
    fn permute_moves_each_row_to_its_place() {
        let mut rows = vec!['a', 'b', 'c', 'd', 'e'];
        permute(&mut rows, &[3, 0, 4, 1, 2]);
        assert_eq!(rows, ['d', 'a', 'e', 'b', 'c']);
    }
}
