//! Pure functions of `(&Store, now)`: recent counts and rates, per-minute
//! series, window counts and encryption contexts, for the panes.
//!
//! Rates are **events per minute** everywhere; [`per_minute`] is the one
//! place a count over a window becomes a rate.

mod contexts;
pub mod cost;
pub mod quota;
mod rates;
pub mod resources;
mod series;
mod spans;
pub mod usage;
mod usage_sections;
mod window;

pub use contexts::{ContextRow, TopContexts, top_contexts};
pub use rates::{Rates, RecentCounts, RecentPlan, merge_recent, recent_counts};
pub use series::{SERIES_MINUTES, Series, series_many_both};
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

#[cfg(test)]
mod tests;
