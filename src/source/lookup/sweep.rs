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

/// A request that failed after this long ran into the SDK's attempt
/// timeout (30 s; the reader sends each request once, this loop retries):
/// the endpoint does not answer. Two in a row end the sweep of the region
/// — a minute of silence — instead of sixty, half an hour.
const NO_ANSWER_AFTER: StdDuration = StdDuration::from_secs(25);
const MAX_NO_ANSWERS_IN_A_ROW: u32 = 2;

/// Pages in a row that bring no event not seen before, after which the
/// pages are taken to go nowhere (a real trail ends its pages instead).
pub const MAX_PAGES_WITHOUT_PROGRESS: u32 = 50;

/// An endpoint whose pages loop or go nowhere: the region fails with this
/// rather than reading forever in silence.
fn stuck(message: String) -> AwsError {
    AwsError {
        kind: crate::aws::ErrorKind::Other,
        code: None,
        message,
    }
}

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
    let mut tokens: HashSet<String> = HashSet::new();
    let mut idle_pages = 0u32;
    let mut failures = 0u32;
    let mut no_answers = 0u32;
    loop {
        pacer.acquire().await;
        out.requests += 1;
        let sent = tokio::time::Instant::now();
        let answer = api.lookup(window, token.clone()).await;
        if answer.is_err() && sent.elapsed() >= NO_ANSWER_AFTER {
            no_answers += 1;
        } else {
            no_answers = 0;
        }
        match answer {
            Ok(page) => {
                failures = 0;
                let before = out.records.len();
                for item in page.events {
                    let (Some(time), Some(record)) = (item.event_time, item.record) else {
                        continue;
                    };
                    if ids.insert(item.event_id) {
                        out.records.push((time, record));
                        progress(out.records.len() as u64, time);
                    }
                }
                idle_pages = if out.records.len() > before {
                    0
                } else {
                    idle_pages + 1
                };
                match page.next_token {
                    Some(next) if !tokens.insert(next.clone()) => {
                        return Err(stuck(format!(
                            "LookupEvents gave a NextToken it had given before: its pages loop (stopped after {} requests)",
                            out.requests
                        )));
                    }
                    Some(_) if idle_pages >= MAX_PAGES_WITHOUT_PROGRESS => {
                        return Err(stuck(format!(
                            "LookupEvents sent {idle_pages} pages in a row with no new event: its pages go nowhere (stopped after {} requests)",
                            out.requests
                        )));
                    }
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            Err(e) if e.code.as_deref() == Some("InvalidNextTokenException") && failures < 3 => {
                // Read the window again from its newest page; ids merge.
                failures += 1;
                out.errors += 1;
                token = None;
                tokens.clear();
            }
            Err(e) if no_answers >= MAX_NO_ANSWERS_IN_A_ROW => {
                return Err(stuck(format!(
                    "LookupEvents did not answer {no_answers} requests in a row (each failed after {} s or more): {}",
                    NO_ANSWER_AFTER.as_secs(),
                    e.message
                )));
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::aws::{LookedUp, LookupPage};

    /// An endpoint whose every page hands out a token: `loop_after` pages
    /// of new tokens, then the first one again (`None`: new tokens
    /// forever, over empty pages).
    struct Endless {
        loop_after: Option<usize>,
        asked: std::sync::atomic::AtomicUsize,
    }

    impl LookupApi for Endless {
        async fn lookup(
            &self,
            _window: LookupWindow,
            _token: Option<String>,
        ) -> Result<LookupPage, AwsError> {
            let n = self
                .asked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let token = match self.loop_after {
                Some(k) if n >= k => "t-0".to_string(),
                _ => format!("t-{n}"),
            };
            let events = if n == 0 {
                vec![LookedUp {
                    event_id: "e-1".into(),
                    event_time: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
                    record: Some("{}".into()),
                }]
            } else {
                Vec::new()
            };
            Ok(LookupPage {
                events,
                next_token: Some(token),
            })
        }
    }

    fn window() -> LookupWindow {
        LookupWindow {
            start: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn pages_that_loop_or_go_nowhere_fail_the_region() {
        let pacer = Pacer::new(1000.0, 1000.0);
        let looping = Endless {
            loop_after: Some(3),
            asked: 0.into(),
        };
        let err = sweep(&looping, &pacer, window(), |_, _| {})
            .await
            .expect_err("a loop is an error");
        assert!(err.message.contains("loop"), "{}", err.message);
        let nowhere = Endless {
            loop_after: None,
            asked: 0.into(),
        };
        let err = sweep(&nowhere, &pacer, window(), |_, _| {})
            .await
            .expect_err("endless empty pages are an error");
        assert!(err.message.contains("go nowhere"), "{}", err.message);
        assert!(
            nowhere.asked.into_inner() <= MAX_PAGES_WITHOUT_PROGRESS as usize + 1,
            "stopped promptly"
        );
    }

    /// An endpoint that never answers: every request ends in the SDK's
    /// attempt timeout, 30 s later.
    struct Silent {
        asked: std::sync::atomic::AtomicUsize,
    }

    impl LookupApi for Silent {
        async fn lookup(
            &self,
            _window: LookupWindow,
            _token: Option<String>,
        ) -> Result<LookupPage, AwsError> {
            self.asked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(StdDuration::from_secs(30)).await;
            Err(AwsError::new(
                crate::aws::ErrorKind::Network,
                "operation timeout (all attempts including retries) occurred after 30s",
            ))
        }
    }

    /// Issue 12: a region that never answers ends its sweep after two
    /// timed-out requests (a minute), not sixty (half an hour).
    #[tokio::test(start_paused = true)]
    async fn an_endpoint_that_never_answers_fails_the_region() {
        let pacer = Pacer::new(1000.0, 1000.0);
        let silent = Silent { asked: 0.into() };
        let err = sweep(&silent, &pacer, window(), |_, _| {})
            .await
            .expect_err("silence is an error");
        assert!(err.message.contains("did not answer 2"), "{}", err.message);
        assert_eq!(silent.asked.into_inner(), 2);
    }
}
