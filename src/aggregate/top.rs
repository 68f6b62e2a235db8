//! Sorting tables by any column, and the top encryption contexts.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::{EntityRow, Window};
use crate::store::{Dim, Store};

/// A sortable column of the principal and key tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    Calls(Window),
    Decrypt(Window),
    Denied(Window),
    DeniedShare,
    /// Keys used (principals table) or principals (keys table).
    Linked,
    FirstSeen,
    LastSeen,
    /// Calls over the whole retention.
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Sort {
    pub fn asc(column: Column) -> Self {
        Self {
            column,
            descending: false,
        }
    }

    pub fn desc(column: Column) -> Self {
        Self {
            column,
            descending: true,
        }
    }

    /// Rows in this order; equal values fall back to the name, ascending
    /// whatever the direction, so rows do not swap places between frames.
    fn cmp(self, a: &EntityRow<'_>, b: &EntityRow<'_>) -> Ordering {
        let by_value = match self.column {
            Column::Name => Ordering::Equal,
            Column::Calls(w) => a.calls.get(w).total_cmp(&b.calls.get(w)),
            Column::Decrypt(w) => a.decrypt.get(w).total_cmp(&b.decrypt.get(w)),
            Column::Denied(w) => a.denied.get(w).total_cmp(&b.denied.get(w)),
            Column::DeniedShare => share(a).total_cmp(&share(b)),
            Column::Linked => a.linked.cmp(&b.linked),
            Column::FirstSeen => time(a.first_seen).cmp(&time(b.first_seen)),
            Column::LastSeen => time(a.last_seen).cmp(&time(b.last_seen)),
            Column::Total => a.total.calls.cmp(&b.total.calls),
        };
        let by_name = a.name.cmp(b.name).then(a.id.cmp(&b.id));
        if self.column == Column::Name {
            return if self.descending {
                by_name.reverse()
            } else {
                by_name
            };
        }
        let by_value = if self.descending {
            by_value.reverse()
        } else {
            by_value
        };
        by_value.then(by_name)
    }
}

/// Idle rows (no share) sort below any share, in both directions' "low" end.
fn share(r: &EntityRow<'_>) -> f64 {
    r.denied_share.unwrap_or(-1.0)
}

fn time(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(i64::MIN, |t| t.timestamp_micros())
}

pub fn sort_rows(rows: &mut [EntityRow<'_>], sort: Sort) {
    rows.sort_unstable_by(|a, b| sort.cmp(a, b));
}

/// The first `n` rows in `sort` order. Partitions before sorting, so a
/// 10 k-row table costs a linear pass plus sorting `n` rows.
pub fn top_n(mut rows: Vec<EntityRow<'_>>, sort: Sort, n: usize) -> Vec<EntityRow<'_>> {
    if n == 0 {
        return Vec::new();
    }
    if rows.len() > n {
        rows.select_nth_unstable_by(n - 1, |a, b| sort.cmp(a, b));
        rows.truncate(n);
    }
    sort_rows(&mut rows, sort);
    rows
}

/// One encryption-context pair and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRow<'s> {
    pub key: &'s str,
    pub value: &'s str,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopContexts<'s> {
    /// Most frequent first; ties by key then value.
    pub rows: Vec<ContextRow<'s>>,
    /// Pairs not in `rows`: those beyond `n` plus those the entity's table
    /// had no room for.
    pub other: u64,
}

/// The `n` most frequent context pairs of a principal or key.
pub fn top_contexts(store: &Store, dim: Dim, id: u32, n: usize) -> Option<TopContexts<'_>> {
    let info = store.entity(dim, id)?;
    let mut rows: Vec<ContextRow<'_>> = info
        .contexts
        .pairs()
        .map(|(pair, count)| {
            let (key, value) = store.context_pair(pair);
            ContextRow { key, value, count }
        })
        .collect();
    rows.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.key.cmp(b.key))
            .then(a.value.cmp(b.value))
    });
    let rest: u64 = rows.iter().skip(n).map(|r| r.count).sum();
    rows.truncate(n);
    Some(TopContexts {
        rows,
        other: rest + info.contexts.other(),
    })
}
