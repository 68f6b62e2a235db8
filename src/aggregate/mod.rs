//! Pure functions of `(&Store, now)`: rates, per-minute series, sorted
//! tops and encryption contexts, for the panes and the headless commands.
//!
//! Rates are **events per minute** everywhere; [`per_minute`] is the one
//! place a count over a window becomes a rate.

mod rates;
mod series;
mod top;
mod window;

use chrono::{DateTime, Utc};

use crate::store::{Dim, Store};

pub use rates::{EntityRow, Rates, RecentCounts, recent_counts, rows, rows_both};
pub use series::{SERIES_MINUTES, Series, series, series_many, series_many_both};
pub use top::{Column, ContextRow, Sort, TopContexts, sort_rows, top_contexts, top_n};
pub use window::{WindowCounts, denied_ips_in, window_counts};

/// The trailing windows rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    M1,
    M5,
    M15,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::M1, Window::M5, Window::M15];

    pub fn minutes(self) -> i64 {
        match self {
            Window::M1 => 1,
            Window::M5 => 5,
            Window::M15 => 15,
        }
    }

    /// How many buckets, ending with the one holding `now`, the window
    /// spans. The current bucket is partial, so a rate reads slightly low
    /// for at most one bucket width.
    pub fn buckets(self, bucket_seconds: i64) -> i64 {
        (self.minutes() * 60 + bucket_seconds - 1) / bucket_seconds
    }
}

/// The seconds of event time each window's buckets cover up to `now`: the
/// newest bucket is only part-way through, so a window of six 10 s buckets
/// holds 50–60 s of events, and dividing by a whole minute would read a
/// steady rate up to a sixth low. Buckets wider than the window (a long
/// file range, see `StoreConfig::max_buckets`) cover more than it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpan {
    pub seconds: [i64; 3],
}

impl RateSpan {
    pub fn of(store: &crate::store::Store, now: chrono::DateTime<chrono::Utc>) -> Self {
        let secs = store.bucket_seconds();
        let current = store.bucket_index(now);
        let until = now.timestamp() + 1;
        Self {
            seconds: Window::ALL.map(|w| {
                let first = current - w.buckets(secs) + 1;
                (until - first * secs).max(1)
            }),
        }
    }
}

/// `count` events over the `seconds` they were counted in, per minute.
#[allow(clippy::cast_precision_loss)] // counts and seconds stay far below 2^52
pub fn per_minute(count: u64, seconds: i64) -> f64 {
    count as f64 * 60.0 / seconds.max(1) as f64
}

/// What one refresh of every pane needs.
#[derive(Debug, Clone)]
pub struct Query {
    pub principal_sort: Sort,
    pub key_sort: Sort,
    /// Rows per table (and sparklines per table).
    pub top: usize,
    /// The entity whose contexts the detail pane shows.
    pub selected: Option<(Dim, u32)>,
    pub contexts: usize,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            principal_sort: Sort::desc(Column::Calls(Window::M1)),
            key_sort: Sort::desc(Column::Calls(Window::M1)),
            top: 50,
            selected: None,
            contexts: 20,
        }
    }
}

/// Every pane's data for one frame.
#[derive(Debug, Clone)]
pub struct Dashboard<'s> {
    pub principals: Vec<EntityRow<'s>>,
    pub keys: Vec<EntityRow<'s>>,
    /// Sparklines for `principals` and `keys`, row for row.
    pub principal_series: Vec<Series>,
    pub key_series: Vec<Series>,
    pub overall: Series,
    pub contexts: Option<TopContexts<'s>>,
    /// Distinct principals and keys in retention (the tables show `top`).
    pub principal_count: usize,
    pub key_count: usize,
    pub events_in_retention: u64,
}

/// Refreshes every pane: one scan of the last 15 minutes for both tables,
/// one of the last hour for all sparklines.
pub fn dashboard<'s>(store: &'s Store, now: DateTime<Utc>, q: &Query) -> Dashboard<'s> {
    let (principals, keys) = rows_both(store, now);
    let (principal_count, key_count) = (principals.len(), keys.len());
    let principals = top_n(principals, q.principal_sort, q.top);
    let keys = top_n(keys, q.key_sort, q.top);
    let p_ids: Vec<u32> = principals.iter().map(|r| r.id).collect();
    let k_ids: Vec<u32> = keys.iter().map(|r| r.id).collect();
    let principal_series = series_many(store, now, Dim::Principal, &p_ids);
    let key_series = series_many(store, now, Dim::Key, &k_ids);
    Dashboard {
        principals,
        keys,
        principal_series,
        key_series,
        overall: series(store, now, None),
        contexts: q
            .selected
            .and_then(|(dim, id)| top_contexts(store, dim, id, q.contexts)),
        principal_count,
        key_count,
        events_in_retention: store.total_events(),
    }
}

#[cfg(test)]
mod tests;
