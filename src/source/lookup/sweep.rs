//! The historical sweep behind `report --source aws`: every KMS event of a
//! window in one account × region, paged to the end at the region's pace.
//! Its records then go through exactly the path log files take, so the
//! report is the one the same events would give from files.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};

use super::pacer::Pacer;
use super::poller::LookupApi;
use crate::aws::{AwsError, LookupWindow};

/// What one sweep read.
#[derive(Debug, Default)]
pub struct Swept {
    /// `(event time, record)`, oldest first.
    pub records: Vec<(DateTime<Utc>, String)>,
    pub requests: u64,
    pub throttles: u64,
    pub errors: u64,
}

/// Transient failures in a row after which the sweep gives up on a region
/// (a quarter of an hour of throttles or 5xx is not a blip).
const MAX_FAILURES_IN_A_ROW: u32 = 60;

/// Reads every event of `window`, newest first, retrying the same request
/// after transient failures. `progress` gets the events read so far and
/// the oldest time reached.
pub async fn sweep<A: LookupApi>(
    api: &A,
    pacer: &Arc<Pacer>,
    window: LookupWindow,
    mut progress: impl FnMut(u64, DateTime<Utc>),
) -> Result<Swept, AwsError> {
    let mut out = Swept::default();
    let mut ids: HashSet<String> = HashSet::new();
    let mut token: Option<String> = None;
    let mut failures = 0u32;
    loop {
        pacer.acquire().await;
        out.requests += 1;
        match api.lookup(window, token.clone()).await {
            Ok(page) => {
                failures = 0;
                for item in page.events {
                    let (Some(time), Some(record)) = (item.event_time, item.record) else {
                        continue;
                    };
                    if ids.insert(item.event_id) {
                        out.records.push((time, record));
                        progress(out.records.len() as u64, time);
                    }
                }
                match page.next_token {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            Err(e) if e.code.as_deref() == Some("InvalidNextTokenException") && failures < 3 => {
                // Read the window again from its newest page; ids merge.
                failures += 1;
                out.errors += 1;
                token = None;
            }
            Err(e) if e.kind.is_transient() && failures < MAX_FAILURES_IN_A_ROW => {
                failures += 1;
                if e.kind == crate::aws::ErrorKind::Throttled {
                    out.throttles += 1;
                } else {
                    out.errors += 1;
                }
                let pause = StdDuration::from_millis(250 * u64::from(failures.min(40)));
                tokio::time::sleep(pause).await;
            }
            Err(e) => return Err(e),
        }
    }
    out.records.sort_by_key(|(time, _)| *time);
    Ok(out)
}
