//! Per-minute counts of the last hour, for sparklines.

use chrono::{DateTime, Utc};

use crate::store::{Bucket, Dim, Store, Summary, Tally};

pub const SERIES_MINUTES: usize = 60;
const MINUTES: i64 = 60;

/// Calls and denied calls per minute; index 0 is the oldest minute, the
/// last index the minute holding `now` (still filling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub calls: [u64; SERIES_MINUTES],
    pub denied: [u64; SERIES_MINUTES],
}

impl Default for Series {
    fn default() -> Self {
        Self {
            calls: [0; SERIES_MINUTES],
            denied: [0; SERIES_MINUTES],
        }
    }
}

/// Buckets of the last hour with the series slot each one falls in.
fn last_hour(store: &Store, now: DateTime<Utc>) -> impl Iterator<Item = (usize, &Bucket)> {
    let now_minute = now.timestamp().div_euclid(60);
    let first_minute = now_minute - MINUTES + 1;
    let secs = store.bucket_seconds();
    let from = (first_minute * 60).div_euclid(secs);
    let to = store.bucket_index(now);
    store.buckets_in(from, to).filter_map(move |(index, b)| {
        // A bucket that straddles a minute boundary (widths that do not
        // divide 60) is charged to the minute it starts in.
        let minute = (index * secs).div_euclid(60);
        let slot = usize::try_from(minute - first_minute).ok()?;
        (slot < SERIES_MINUTES).then_some((slot, b))
    })
}

/// Series for several principals and several keys from one pass over
/// the last hour: a minute's summary is asked about each id where it
/// holds every bucket of the minute up to `now`, the buckets' combinations
/// are read otherwise.
pub fn series_many_both(
    store: &Store,
    now: DateTime<Utc>,
    principals: &[u32],
    keys: &[u32],
) -> (Vec<Series>, Vec<Series>) {
    let rows_of = |dim: Dim, ids: &[u32]| {
        let mut row_of = vec![u32::MAX; store.id_bound(dim)];
        for (row, &id) in ids.iter().enumerate() {
            if let Some(r) = row_of.get_mut(id as usize) {
                *r = row as u32;
            }
        }
        row_of
    };
    let (p_row, k_row) = (rows_of(Dim::Principal, principals), rows_of(Dim::Key, keys));
    let mut p_out = vec![Series::default(); principals.len()];
    let mut k_out = vec![Series::default(); keys.len()];
    let per = store.summary_span();
    let to = store.bucket_index(now);
    let mut summarized = [false; SERIES_MINUTES];
    if per > 0 {
        let first_minute = now.timestamp().div_euclid(60) - MINUTES + 1;
        let minutes = first_minute..first_minute + MINUTES;
        for ((slot, done), minute) in summarized.iter_mut().enumerate().zip(minutes) {
            let Some(s) = store.summary(minute) else {
                continue;
            };
            // Buckets of the minute after `now` must hold nothing.
            if store
                .buckets_in(to + 1, minute * per + per - 1)
                .any(|(_, b)| !b.is_empty())
            {
                continue;
            }
            *done = true;
            for (out, row_of, ids, get) in [
                (
                    &mut p_out,
                    &p_row,
                    principals,
                    Summary::principal as fn(&Summary, u32) -> Option<Tally>,
                ),
                (&mut k_out, &k_row, keys, Summary::key),
            ] {
                for (row, &id) in ids.iter().enumerate() {
                    // As the scan: an id listed twice fills its last row.
                    if row_of.get(id as usize) != Some(&(row as u32)) {
                        continue;
                    }
                    if let Some(t) = get(s, id) {
                        out[row].calls[slot] += u64::from(t.calls);
                        out[row].denied[slot] += u64::from(t.denied);
                    }
                }
            }
        }
    }
    for (slot, b) in last_hour(store, now) {
        if summarized[slot] {
            continue;
        }
        for (c, n) in b.combos() {
            let denied = c.is_denied();
            for (out, row_of, id) in [
                (&mut p_out, &p_row, c.principal),
                (&mut k_out, &k_row, c.key),
            ] {
                let row = row_of.get(id as usize).copied().unwrap_or(u32::MAX);
                if let Some(s) = out.get_mut(row as usize) {
                    s.calls[slot] += u64::from(n);
                    if denied {
                        s.denied[slot] += u64::from(n);
                    }
                }
            }
        }
    }
    (p_out, k_out)
}
