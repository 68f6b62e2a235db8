//! Row orders for each pane's sort columns ([`super::query::sort_columns`]):
//! numbers and times largest first, names A to Z, `S` reverses, and ties
//! fall back to the name so rows keep their places between frames.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::rows::{AlertRow, DeniedKind, DeniedRow, EventRow, KeyRow, PrincipalRow};
use super::sort_key::SortKey;
use super::{Pane, SortState};

/// Sorts by number keys: `key` gives a row's (index's) column value (as a number
/// whose order is the column's, largest-first columns included by
/// `desc`) and its tie-breaking rank, unique per row. Comparing two
/// integers instead of names and times through pointers is what makes
/// 20 k alerts or 10 k principals cheap to sort on every change.
fn sort_keyed<R>(rows: &mut [R], desc: bool, key: impl Fn(usize, &R) -> (u128, u32)) {
    let order = narrow_order(rows, desc, &key).unwrap_or_else(|| wide_order(rows, desc, &key));
    permute(rows, &order);
}

/// The order when every value fits in 64 bits, as counts, rates and
/// ranks do: value, rank and index packed in one `u128`, so the sort
/// compares and moves 16 bytes, not a 32-byte tuple field by field.
/// `None` at the first wider value (times, alerts' state).
fn narrow_order<R>(
    rows: &[R],
    desc: bool,
    key: impl Fn(usize, &R) -> (u128, u32),
) -> Option<Vec<u32>> {
    let mut keys = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let (v, tie) = key(i, r);
        let v = u64::try_from(v).ok()?;
        let v = if desc { !v } else { v };
        keys.push((u128::from(v) << 64) | (u128::from(tie) << 32) | i as u128);
    }
    // Ties are broken by a unique rank: unstable is stable here.
    keys.sort_unstable();
    Some(keys.iter().map(|&k| k as u32).collect())
}

fn wide_order<R>(rows: &[R], desc: bool, key: impl Fn(usize, &R) -> (u128, u32)) -> Vec<u32> {
    let mut keys: Vec<(u128, u32, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (v, tie) = key(i, r);
            (if desc { !v } else { v }, tie, i as u32)
        })
        .collect();
    keys.sort_unstable();
    keys.iter().map(|k| k.2).collect()
}

/// A time as a number in the same order (89 bits): year, day of the
/// year, second of the day, nanosecond. Cheap fields only: a Unix
/// timestamp costs a calendar computation per call.
fn time_key(t: DateTime<Utc>) -> u128 {
    let t = t.naive_utc();
    let year = t.year().cast_unsigned() ^ (1 << 31);
    let day = (u128::from(year) << 9) | u128::from(t.ordinal());
    let second = (day << 17) | u128::from(t.num_seconds_from_midnight());
    (second << 31) | u128::from(t.nanosecond())
}

/// `None` before any time, as `Option`'s order has it.
fn opt_time_key(t: Option<DateTime<Utc>>) -> u128 {
    t.map_or(0, |t| (1 << 89) | time_key(t))
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
    let key = s.key(Pane::Principals);
    // The name column sorts by the rank, which is the name's order.
    let desc = descending(s, key == SortKey::Name);
    sort_keyed(rows, desc, |_, r| {
        let v = match key {
            SortKey::Calls => u128::from(r.calls),
            SortKey::Rate1m => f64_key(r.rates[0]),
            SortKey::Rate5m => f64_key(r.rates[1]),
            SortKey::Rate15m => f64_key(r.rates[2]),
            SortKey::Denied => u128::from(r.denied),
            SortKey::DeniedShare => f64_key(r.denied_share.unwrap_or(-1.0)),
            SortKey::Keys => u128::from(r.keys),
            SortKey::First => opt_time_key(r.first),
            SortKey::Last => opt_time_key(r.last),
            _ => u128::from(r.rank),
        };
        (v, r.rank)
    });
}

pub(super) fn sort_keys(rows: &mut [KeyRow], s: SortState) {
    let key = s.key(Pane::Keys);
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::Calls => a.calls.cmp(&b.calls),
            SortKey::Rate1m => f(a.rates[0], b.rates[0]),
            SortKey::Denied => a.denied.cmp(&b.denied),
            SortKey::Principals => a.principals.cmp(&b.principals),
            // Soonest deletion first; keys not scheduled last.
            SortKey::Deletion => b
                .deletion_days
                .unwrap_or(i64::MAX)
                .cmp(&a.deletion_days.unwrap_or(i64::MAX)),
            SortKey::Last => by_time(a.last_seen, b.last_seen),
            _ => a.label.cmp(&b.label),
        };
        finish(
            o,
            s,
            key == SortKey::Name,
            a.label.cmp(&b.label).then(a.arn.cmp(&b.arn)),
        )
    });
}

pub(super) fn sort_denied(rows: &mut [DeniedRow], s: SortState) {
    let key = s.key(Pane::Denied);
    let label = label_ranks(rows);
    let desc = descending(s, key == SortKey::Name);
    sort_keyed(rows, desc, |i, r| {
        let (tie, same_label) = label[i];
        let v = match key {
            SortKey::Count => u128::from(r.count),
            SortKey::Spike => f64_key(r.factor.unwrap_or(0.0)),
            // Equal labels stay in row order, also reversed.
            _ => u128::from(same_label),
        };
        (v, tie)
    });
    // Stable: the folded rows keep their order among themselves.
    rows.sort_by_key(|r| r.folded);
}

/// Each denied row's place by label, ties in row order (the rows come
/// by kind: principals, keys, source IPs): each kind is put in label
/// order (principals and source IPs by their name ranks, which every
/// such row has), then the kinds are merged by label. With each place,
/// the place of the first row with the same label.
fn label_ranks(rows: &[DeniedRow]) -> Vec<(u32, u32)> {
    let kinds = [DeniedKind::Principal, DeniedKind::Key, DeniedKind::SourceIp];
    let lists: Vec<Vec<u32>> = kinds
        .iter()
        .map(|&k| {
            let of_kind = (0..rows.len() as u32).filter(|&i| rows[i as usize].kind == k);
            if k == DeniedKind::Key {
                // Few, and labelled by alias: by text.
                let mut l: Vec<u32> = of_kind.collect();
                l.sort_by(|&a, &b| rows[a as usize].label.cmp(&rows[b as usize].label));
                l
            } else {
                // Unique names, ranked: by rank, as numbers.
                let mut l: Vec<u64> = of_kind
                    .map(|i| {
                        (u64::from(rows[i as usize].rank.unwrap_or(u32::MAX)) << 32) | u64::from(i)
                    })
                    .collect();
                l.sort_unstable();
                l.into_iter().map(|x| x as u32).collect()
            }
        })
        .collect();
    let mut at = [0; 3];
    let mut rank = vec![(0, 0); rows.len()];
    let mut prev: Option<(&str, u32)> = None;
    for place in 0..rows.len() as u32 {
        // The smallest label at the head of a list; the earlier kind on a tie.
        let mut best: Option<usize> = None;
        for k in 0..3 {
            let Some(&i) = lists[k].get(at[k]) else {
                continue;
            };
            let better =
                best.is_none_or(|b| rows[i as usize].label < rows[lists[b][at[b]] as usize].label);
            if better {
                best = Some(k);
            }
        }
        let Some(k) = best else { break };
        let i = lists[k][at[k]] as usize;
        let label = rows[i].label.as_str();
        let first = match prev {
            Some((p, first)) if p == label => first,
            _ => place,
        };
        prev = Some((label, first));
        rank[i] = (place, first);
        at[k] += 1;
    }
    rank
}

pub(super) fn sort_alerts(rows: &mut [AlertRow], s: SortState) {
    let key = s.key(Pane::Alerts);
    let desc = descending(s, key == SortKey::Name);
    let when = |a: &AlertRow| {
        if key == SortKey::First {
            a.episode.first
        } else {
            a.episode.last
        }
    };
    // The state leaves 60 bits for the time.
    let bits = if key == SortKey::State { 60 } else { 64 };
    let near = NearTimes::of(rows.iter().map(when), bits);
    let time = |t| near.map_or_else(|| time_key(t), |n| u128::from(n.key(t)));
    sort_keyed(rows, desc, |_, a| {
        let e = &a.episode;
        let v = match key {
            // Firing first, then the loudest, then the latest.
            SortKey::State => {
                let shift = if near.is_some() { 60 } else { 96 };
                (u128::from(a.firing) << (shift + 3))
                    | ((e.severity as u128) << shift)
                    | time(e.last)
            }
            SortKey::Severity => e.severity as u128,
            SortKey::Count => u128::from(e.count),
            SortKey::First | SortKey::Last => time(when(a)),
            _ => u128::from(a.rule_rank),
        };
        (v, a.name_rank)
    });
}

/// Times packed in `bits` bits in their order, when they lie close
/// enough together: the seconds since the earliest, then the nanosecond
/// (31 bits: a leap second's run past 10^9) unless every time is a whole
/// second, as CloudTrail's are. So 20 k alerts sort by state or time as
/// 64-bit numbers.
#[derive(Debug, Clone, Copy)]
struct NearTimes {
    base: i64,
    nanos: bool,
}

impl NearTimes {
    fn of(times: impl Iterator<Item = DateTime<Utc>>, bits: u32) -> Option<Self> {
        let (lo, hi, nanos) = times.fold((i64::MAX, i64::MIN, false), |(lo, hi, n), t| {
            let s = t.timestamp();
            (lo.min(s), hi.max(s), n || t.nanosecond() != 0)
        });
        let second_bits = if nanos { bits - 31 } else { bits };
        let span = hi.checked_sub(lo)?.cast_unsigned();
        (lo <= hi && span.checked_shr(second_bits).unwrap_or(0) == 0)
            .then_some(Self { base: lo, nanos })
    }

    fn key(self, t: DateTime<Utc>) -> u64 {
        let seconds = (t.timestamp() - self.base).cast_unsigned();
        if self.nanos {
            (seconds << 31) | u64::from(t.nanosecond())
        } else {
            seconds
        }
    }
}

pub(super) fn sort_events(rows: &mut [EventRow], s: SortState) {
    let key = s.key(Pane::Events);
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::Outcome => a.outcome.cmp(&b.outcome),
            SortKey::Principal => b.principal.cmp(&a.principal),
            SortKey::Event => b.name.cmp(&a.name),
            _ => a.key.cmp(&b.key),
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
    fn denied_rows_sort_as_their_counts_and_labels_do() {
        let mut x: u64 = 11;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) % m
        };
        let kinds = [DeniedKind::Principal, DeniedKind::Key, DeniedKind::SourceIp];
        let mut rows: Vec<DeniedRow> = (0..200_u64)
            .map(|i| {
                let kind = kinds[(next(3)) as usize];
                // Labels repeat across kinds, and across keys (aliases).
                let label = format!(
                    "l{:02}",
                    if kind == DeniedKind::Key {
                        i % 7
                    } else {
                        i % 90
                    }
                );
                #[allow(clippy::cast_precision_loss)]
                DeniedRow {
                    kind,
                    name: format!("n{i}").into(),
                    label: label.as_str().into(),
                    rank: None,
                    count: next(4),
                    factor: (next(3) > 0).then(|| next(5) as f64),
                    folded: false,
                }
            })
            .collect();
        // Built as the pane builds them: principals, keys, then IPs.
        rows.sort_by_key(|r| kinds.iter().position(|&k| k == r.kind));
        // Principals and IPs: unique labels within the kind, ranked.
        for k in [DeniedKind::Principal, DeniedKind::SourceIp] {
            let mut seen = std::collections::HashSet::new();
            rows.retain(|r| r.kind != k || seen.insert(r.label.to_string()));
            let mut idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].kind == k).collect();
            idx.sort_by(|&a, &b| rows[a].label.cmp(&rows[b].label));
            for (rank, i) in idx.into_iter().enumerate() {
                rows[i].rank = Some(rank as u32 * 3 + 1);
            }
        }
        for column in 0..3 {
            for reversed in [false, true] {
                let s = SortState { column, reversed };
                let (mut got, mut want) = (rows.clone(), rows.clone());
                sort_denied(&mut got, s);
                want.sort_by(|a, b| {
                    let o = match s.column {
                        0 => a.count.cmp(&b.count),
                        1 => f(a.factor.unwrap_or(0.0), b.factor.unwrap_or(0.0)),
                        _ => a.label.cmp(&b.label),
                    };
                    finish(o, s, s.column >= 2, a.label.cmp(&b.label))
                });
                let names =
                    |r: &[DeniedRow]| r.iter().map(|r| r.name.to_string()).collect::<Vec<_>>();
                assert_eq!(
                    names(&got),
                    names(&want),
                    "column {column}, reversed {reversed}"
                );
            }
        }
    }

    #[test]
    fn time_keys_order_as_times() {
        let t = Utc
            .with_ymd_and_hms(2024, 12, 31, 23, 59, 59)
            .single()
            .expect("time");
        let times = [
            t - chrono::Duration::days(800),
            t,
            t + chrono::Duration::nanoseconds(1),
            t + chrono::Duration::seconds(1),
            t + chrono::Duration::days(1),
        ];
        for w in times.windows(2) {
            assert!(time_key(w[0]) < time_key(w[1]), "{w:?}");
        }
        assert!(opt_time_key(None) < opt_time_key(Some(times[0])));
    }

    /// Alerts sort by state and times as they did with the 100-bit keys,
    /// whether their times lie close together (64-bit keys) or not.
    #[test]
    fn alerts_sort_as_the_wide_keys_do_near_and_far() {
        use crate::alert::Severity;
        use crate::app::episodes::Episode;
        let t0 = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        let mut x: u64 = 11;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) % m
        };
        let severities = [
            Severity::Info,
            Severity::Low,
            Severity::High,
            Severity::Critical,
        ];
        // Close together, one 2^34 s away, and that with whole seconds.
        for (far, whole) in [(false, false), (true, false), (true, true)] {
            let rows: Vec<AlertRow> = (0..400_u32)
                .map(|i| {
                    let secs = next(50).cast_signed() + if far && i == 7 { 1 << 34 } else { 0 };
                    let at = |extra: u64| {
                        let extra = if whole { 0 } else { extra.cast_signed() };
                        t0 + chrono::Duration::seconds(secs) + chrono::Duration::nanoseconds(extra)
                    };
                    AlertRow {
                        episode: std::sync::Arc::new(Episode {
                            rule: format!("r{}", i % 9),
                            title: String::new(),
                            severity: severities[usize::try_from(next(4)).expect("small")],
                            group: format!("g{i}"),
                            first: at(next(3)),
                            last: at(next(3) + 5),
                            count: next(5),
                            resolved: None,
                            acked: false,
                            silenced_until: None,
                            samples: Vec::new(),
                        }),
                        firing: next(2) == 1,
                        name_rank: i,
                        rule_rank: i % 9,
                    }
                })
                .collect();
            for key in [SortKey::State, SortKey::First, SortKey::Last] {
                let column = super::super::sort_key::sort_keys(Pane::Alerts)
                    .iter()
                    .position(|&c| c == key)
                    .expect("column");
                for reversed in [false, true] {
                    let s = SortState { column, reversed };
                    let mut got = rows.clone();
                    sort_alerts(&mut got, s);
                    let mut want = rows.clone();
                    let desc = descending(s, false);
                    wide_sort(&mut want, desc, |a| match key {
                        SortKey::State => {
                            (u128::from(a.firing) << 99)
                                | ((a.episode.severity as u128) << 96)
                                | time_key(a.episode.last)
                        }
                        SortKey::First => time_key(a.episode.first),
                        _ => time_key(a.episode.last),
                    });
                    let ranks = |r: &[AlertRow]| r.iter().map(|a| a.name_rank).collect::<Vec<_>>();
                    assert_eq!(
                        ranks(&got),
                        ranks(&want),
                        "{key:?} reversed {reversed} far {far}"
                    );
                }
            }
            // Fractional times 2^34 s apart take the 100-bit keys.
            let times = rows.iter().map(|a| a.episode.last);
            assert_eq!(NearTimes::of(times, 60).is_none(), far && !whole);
        }
    }

    fn wide_sort(rows: &mut [AlertRow], desc: bool, v: impl Fn(&AlertRow) -> u128) {
        let order = wide_order(rows, desc, |_, a| (v(a), a.name_rank));
        permute(rows, &order);
    }

    #[test]
    fn permute_moves_each_row_to_its_place() {
        let mut rows = vec!['a', 'b', 'c', 'd', 'e'];
        permute(&mut rows, &[3, 0, 4, 1, 2]);
        assert_eq!(rows, ['d', 'a', 'e', 'b', 'c']);
    }
}
